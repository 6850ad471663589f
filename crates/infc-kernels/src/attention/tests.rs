use super::*;
use crate::gemm::tests::rand_vec;

/// Straightforward attention with the graph's semantics: logits in f32 as the unfused graph
/// rounds them (`s + mask`, hidden keys `fill` or `fill + mask`), softmax and `· v` in f64, a
/// row whose softmax is NaN zeroed under `zero_nan_rows`.
fn reference(
    s: &AttentionShape,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    mask: Option<AttentionMask<'_>>,
) -> Vec<f32> {
    let (b, h, sq, sk, d) = (s.batch, s.heads, s.sq, s.sk, s.d);
    let hd = h * d;
    let mut y = vec![0f32; b * sq * hd];
    let shift = sk as i64 - sq as i64;
    for bi in 0..b {
        for hi in 0..h {
            for i in 0..sq {
                let mut row: Vec<f64> = (0..sk)
                    .map(|j| {
                        let mut acc = 0f64;
                        for c in 0..d {
                            acc += q[(bi * sq + i) * hd + hi * d + c] as f64
                                * k[(bi * sk + j) * hd + hi * d + c] as f64;
                        }
                        let m = mask.map_or(0.0, |m| {
                            let st = m.strides;
                            m.data[bi * st[0] + hi * st[1] + i * st[2] + j * st[3]]
                        });
                        let hidden = s.causal && j as i64 > i as i64 + shift;
                        let x = match (hidden, s.mask_hidden) {
                            (false, _) => (acc * s.scale as f64) as f32 + m,
                            (true, true) => s.hidden_fill + m,
                            (true, false) => s.hidden_fill,
                        };
                        x as f64
                    })
                    .collect();
                let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                row.iter_mut().for_each(|x| *x = (*x - mx).exp());
                let sum: f64 = row.iter().sum();
                if sum.is_nan() && s.zero_nan_rows {
                    row.iter_mut().for_each(|x| *x = 0.0);
                }
                for c in 0..d {
                    let acc: f64 = (0..sk)
                        .map(|j| row[j] / sum * v[(bi * sk + j) * hd + hi * d + c] as f64)
                        .sum();
                    y[(bi * sq + i) * hd + hi * d + c] = if sum.is_nan() && s.zero_nan_rows {
                        0.0
                    } else {
                        acc as f32
                    };
                }
            }
        }
    }
    y
}

/// Which `[batch, 1, 1, sk]` padding mask a case uses.
#[derive(Clone, Copy, Debug, PartialEq)]
enum MaskKind {
    None,
    /// Hides the last two keys of batch 0 with `f32::MIN`.
    RightPad,
    /// Hides the first two keys of batch 0 with this fill: under a causal mask the first rows then
    /// see no key at all (left padding).
    LeftPad(f32),
}

/// The bf16 kernels this machine can run: the portable one always, `vdpbf16ps` where present.
fn bf16_kernels() -> Vec<Bf16Kernel> {
    let mut k = vec![Bf16Kernel::Portable];
    k.extend(Bf16Kernel::detect(Isa::best()));
    k
}

/// `v` rounded to bf16 (nearest even), back in f32.
fn rounded(v: &[f32]) -> Vec<f32> {
    v.iter()
        .map(|&x| half::bf16::from_f32(x).to_f32())
        .collect()
}

fn check(s: AttentionShape, kind: MaskKind) {
    let mask_data: Vec<f32> = (0..s.batch * s.sk)
        .map(|i| match kind {
            MaskKind::RightPad if i < s.sk && i + 2 >= s.sk && s.sk > 2 => f32::MIN,
            MaskKind::LeftPad(fill) if i < 2.min(s.sk - 1) => fill,
            _ => 0.0,
        })
        .collect();
    let mask = (kind != MaskKind::None).then_some(AttentionMask {
        data: &mask_data,
        strides: [s.sk, 0, 0, 1],
    });
    check_mask(s, mask, &format!("{kind:?}"));
}

/// `got` equals `want` within `tol(want)`, NaN exactly where `want` is NaN.
fn assert_matches(got: &[f32], want: &[f32], tol: impl Fn(f32) -> f32, what: &dyn Fn() -> String) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else {
            (g - w).abs() <= tol(*w)
        };
        assert!(ok, "{} at {i}: {g} vs {w}", what());
    }
}

/// Every ISA path and every bf16 kernel against [`reference`] for one shape and mask.
fn check_mask(s: AttentionShape, mask: Option<AttentionMask<'_>>, label: &str) {
    let hd = s.heads * s.d;
    let q = rand_vec(s.batch * s.sq * hd, 1);
    let k = rand_vec(s.batch * s.sk * hd, 2);
    let v = rand_vec(s.batch * s.sk * hd, 3);
    let want = reference(&s, &q, &k, &v, mask);
    for isa in Isa::supported() {
        let mut y = vec![f32::NAN; want.len()];
        let mut scratch = vec![f32::NAN; attention_scratch_len(&s).unwrap()];
        attention(isa, &s, &q, &k, &v, mask, &mut y, &mut scratch).unwrap();
        assert_matches(&y, &want, |w| 1e-4 * w.abs().max(1.0), &|| {
            format!("{isa} {s:?} mask {label}")
        });
    }
    // bf16: exact products of the rounded q, k, v; the probabilities' rounding (relative 2⁻⁹
    // each) moves an output by at most 2⁻⁹·max|v| (|v| ≤ 1 here), plus f32 sums.
    let bs = AttentionShape { bf16: true, ..s };
    let want = reference(&bs, &rounded(&q), &rounded(&k), &rounded(&v), mask);
    for kern in bf16_kernels() {
        let mut y = vec![f32::NAN; want.len()];
        let mut scratch = vec![f32::NAN; attention_scratch_len(&bs).unwrap()];
        run(
            Isa::best(),
            Some(kern),
            &bs,
            &q,
            &k,
            &v,
            mask,
            &mut y,
            &mut scratch,
        )
        .unwrap();
        assert_matches(&y, &want, |_| 2.5e-3, &|| {
            format!("bf16 {kern:?} {s:?} mask {label}")
        });
    }
}

/// Random padding masks (left, right, middle, fully padded rows, random bits) with every fill
/// the exporters write (`f32::MIN`, `−∞`, `−1e30`, `−1e4`), as `[B,1,1,Sk]` rows, full
/// `[B,1,Sq,Sk]` masks and a key-broadcast `[B,1,Sq,1]` one (the strided path), under every
/// masking rule, causal or not: every ISA path and bf16 kernel equals the graph's semantics,
/// NaN exactly where the graph has NaN.
#[test]
fn padded_masks_under_every_rule_match_the_graph() {
    let mut seed = 17u64;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n.max(1)
    };
    let fills = [f32::MIN, f32::NEG_INFINITY, -1e30, -1e4];
    for case in 0..48 {
        let (batch, heads) = (1 + next(3), 1 + next(3));
        let sk = 1 + next(40);
        let sq = if next(4) == 0 { 1 + next(sk) } else { sk };
        let d = [1, 3, 8, 16, 33][next(5)];
        let causal = next(3) != 0;
        let fill = fills[next(4)];
        let s = AttentionShape {
            hidden_fill: fills[next(3)],
            mask_hidden: next(2) == 0,
            zero_nan_rows: next(2) == 0,
            ..shape(batch, heads, sq, sk, d, causal)
        };
        // Keep flags per (batch, key): 0 left, 1 right, 2 middle, 3 all padding, 4 random, 5 none.
        let keep: Vec<bool> = (0..batch)
            .flat_map(|_| {
                let (kind, cut) = (next(6), next(sk + 1));
                let bits: Vec<usize> = (0..sk).map(|_| next(2)).collect();
                (0..sk)
                    .map(|j| match kind {
                        0 => j >= cut,
                        1 => j < cut,
                        2 => !(cut / 2..cut).contains(&j),
                        3 => false,
                        4 => bits[j] == 1,
                        _ => true,
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let value = |k: bool| if k { 0.0 } else { fill };
        let rows: Vec<f32> = keep.iter().map(|&k| value(k)).collect();
        check_mask(
            s,
            Some(AttentionMask {
                data: &rows,
                strides: [sk, 0, 0, 1],
            }),
            &format!("case {case}: [B,1,1,Sk] fill {fill}"),
        );
        let full: Vec<f32> = (0..batch * sq * sk)
            .map(|x| value(keep[x / (sq * sk) * sk + x % sk] && next(8) != 0))
            .collect();
        check_mask(
            s,
            Some(AttentionMask {
                data: &full,
                strides: [sq * sk, 0, sk, 1],
            }),
            &format!("case {case}: [B,1,Sq,Sk] fill {fill}"),
        );
        let per_query: Vec<f32> = (0..batch * sq).map(|_| value(next(3) != 0)).collect();
        check_mask(
            s,
            Some(AttentionMask {
                data: &per_query,
                strides: [sq, 0, 1, 0],
            }),
            &format!("case {case}: [B,1,Sq,1] fill {fill}"),
        );
    }
}

/// `bf16: true` runs `vdpbf16ps` where the CPU has it (bit-equal to forcing that kernel), and the
/// f32 path under an ISA cap below AVX-512 or on CPUs without it.
#[test]
fn bf16_flag_picks_the_kernel() {
    let s = AttentionShape {
        bf16: true,
        ..shape(1, 2, 20, 20, 16, false)
    };
    let hd = s.heads * s.d;
    let (q, k, v) = (
        rand_vec(20 * hd, 4),
        rand_vec(20 * hd, 5),
        rand_vec(20 * hd, 6),
    );
    let go = |isa: Isa, kern: Option<Option<Bf16Kernel>>| {
        let mut y = vec![0.0; 20 * hd];
        let mut scratch = vec![0.0; attention_scratch_len(&s).unwrap()];
        match kern {
            None => attention(isa, &s, &q, &k, &v, None, &mut y, &mut scratch).unwrap(),
            Some(kern) => run(isa, kern, &s, &q, &k, &v, None, &mut y, &mut scratch).unwrap(),
        }
        y
    };
    for isa in Isa::supported() {
        let want = go(isa, Some(Bf16Kernel::detect(isa)));
        assert_eq!(go(isa, None), want, "{isa}");
        if Bf16Kernel::detect(isa).is_some() {
            assert_ne!(want, go(isa, Some(None)), "bf16 and f32 agree to the bit");
        }
    }
}

/// A head dimension above the packer's 128-value chunk, odd key and query counts.
#[test]
fn bf16_long_heads_and_odd_sizes() {
    check(shape(1, 2, 5, 7, 131, false), MaskKind::RightPad);
    check(shape(2, 1, 13, 33, 130, true), MaskKind::None);
}

fn shape(
    batch: usize,
    heads: usize,
    sq: usize,
    sk: usize,
    d: usize,
    causal: bool,
) -> AttentionShape {
    AttentionShape {
        batch,
        heads,
        sq,
        sk,
        d,
        scale: 1.0 / (d as f32).sqrt(),
        causal,
        hidden_fill: f32::MIN,
        mask_hidden: false,
        zero_nan_rows: false,
        row_strides: [heads * d; 3],
        bf16: false,
    }
}

#[test]
fn attention_matches_reference_every_isa() {
    let kinds = [
        MaskKind::None,
        MaskKind::RightPad,
        MaskKind::LeftPad(f32::MIN),
        MaskKind::LeftPad(f32::NEG_INFINITY),
    ];
    for causal in [false, true] {
        for kind in kinds {
            if kind == MaskKind::LeftPad(f32::NEG_INFINITY) && !causal {
                continue; // rows of only −∞ are NaN by definition
            }
            check(shape(1, 2, 7, 7, 8, causal), kind);
            check(shape(2, 3, 30, 30, 16, causal), kind);
            check(shape(1, 2, 64, 64, 64, causal), kind);
            // Fewer queries than keys (a decode step with past keys).
            check(shape(2, 2, 3, 20, 5, causal), kind);
            // More queries than keys: under a causal mask the first rows see no key at all.
            check(shape(1, 1, 9, 4, 3, causal), kind);
            // More sequences than tasks wanted: causal sequences are still cut into blocks.
            check(shape(9, 2, 40, 40, 8, causal), kind);
        }
    }
}

/// A causal sequence is cut into several query blocks whatever the batch (one block per
/// sequence would compute every score of the square, not the triangle), and large batches cut
/// it as batch 1 does.
#[test]
fn causal_sequences_are_cut_into_blocks_at_every_batch() {
    let one = 128usize.div_ceil(rows_per_task(1, 128, true));
    for batch in [1, 4, 8, 16, 64] {
        let blocks = 128usize.div_ceil(rows_per_task(batch, 128, true));
        assert!(
            blocks >= CAUSAL_BLOCKS_MIN / 2,
            "batch {batch}: {blocks} blocks"
        );
        assert!(blocks >= one.min(CAUSAL_BLOCKS_MIN / 2), "batch {batch}");
    }
    // Without a causal mask every row costs the same: large batches keep whole sequences.
    assert_eq!(rows_per_task(64, 128, false), 128);
}

/// q, k and v as column ranges `[q | k | v | pad]` of one `[batch, seq, 3·hd + 5]` buffer (a fused
/// QKV projection) give exactly the result of dense copies.
#[test]
fn fused_qkv_rows_match_dense_copies() {
    for causal in [false, true] {
        let dense = shape(2, 3, 10, 10, 8, causal);
        let hd = 24;
        let ld = 3 * hd + 5;
        let fused = rand_vec(2 * 10 * ld, 7);
        let column = |c0: usize| -> Vec<f32> {
            fused
                .chunks_exact(ld)
                .flat_map(|row| row[c0..c0 + hd].to_vec())
                .collect()
        };
        let (q, k, v) = (column(0), column(hd), column(2 * hd));
        let strided = AttentionShape {
            row_strides: [ld; 3],
            ..dense
        };
        for isa in Isa::supported() {
            let mut scratch = vec![0.0; attention_scratch_len(&dense).unwrap()];
            let mut want = vec![0.0; 2 * 10 * hd];
            attention(isa, &dense, &q, &k, &v, None, &mut want, &mut scratch).unwrap();
            let mut got = vec![f32::NAN; want.len()];
            let (fq, fk, fv) = (&fused[..], &fused[hd..], &fused[2 * hd..]);
            attention(isa, &strided, fq, fk, fv, None, &mut got, &mut scratch).unwrap();
            assert_eq!(got, want, "{isa} causal {causal}");
            // One float short of the last v row is an error naming v.
            let short = &fused[2 * hd..fused.len() - 5 - 1];
            let err = attention(isa, &strided, fq, fk, short, None, &mut got, &mut scratch);
            assert!(err.unwrap_err().to_string().contains("attention v"));
        }
    }
    let mut bad = shape(1, 2, 4, 4, 8, false);
    bad.row_strides[1] = 15;
    let buf = vec![0.0; 64];
    let mut scratch = vec![0.0; attention_scratch_len(&bad).unwrap()];
    let err = attention(
        Isa::best(),
        &bad,
        &buf,
        &buf,
        &buf,
        None,
        &mut vec![0.0; 64],
        &mut scratch,
    );
    assert!(err.unwrap_err().to_string().contains("row strides"));
}

#[test]
fn fully_hidden_rows_are_uniform() {
    let s = shape(1, 1, 3, 2, 1, true);
    let (q, k) = (vec![1.0; 3], vec![1.0; 2]);
    let v = vec![2.0, 4.0];
    let mut y = vec![0.0; 3];
    let mut scratch = vec![0.0; attention_scratch_len(&s).unwrap()];
    attention(Isa::best(), &s, &q, &k, &v, None, &mut y, &mut scratch).unwrap();
    // Row 0 sees no key: uniform over both (3.0). Row 1 sees key 0, row 2 both.
    assert_eq!(y, vec![3.0, 2.0, 3.0]);
}

#[test]
fn short_buffers_are_named() {
    let s = shape(1, 2, 4, 4, 8, false);
    let buf = vec![0.0; 64];
    let mut y = vec![0.0; 64];
    let mut scratch = vec![0.0; attention_scratch_len(&s).unwrap() - 1];
    let err = attention(
        Isa::best(),
        &s,
        &buf,
        &buf,
        &buf,
        None,
        &mut y,
        &mut scratch,
    )
    .unwrap_err();
    assert!(err.to_string().contains("attention scratch"), "{err}");
    let mut scratch = vec![0.0; attention_scratch_len(&s).unwrap()];
    let err = attention(
        Isa::best(),
        &s,
        &buf[..63],
        &buf,
        &buf,
        None,
        &mut y,
        &mut scratch,
    )
    .unwrap_err();
    assert!(err.to_string().contains("attention q"), "{err}");
    let mask = AttentionMask {
        data: &buf[..3],
        strides: [0, 0, 0, 1],
    };
    let err = attention(
        Isa::best(),
        &s,
        &buf,
        &buf,
        &buf,
        Some(mask),
        &mut y,
        &mut scratch,
    )
    .unwrap_err();
    assert!(err.to_string().contains("attention mask"), "{err}");
}

/// No keys (a zero-length key sequence): the scores are empty and `P·V` has depth 0, so the
/// output is zero as in the unfused graph (it was an error the validator did not know about).
#[test]
fn no_keys_give_zeros() {
    for causal in [false, true] {
        check(shape(2, 2, 3, 0, 4, causal), MaskKind::None);
        let s = shape(1, 1, 2, 0, 3, causal);
        let mut y = vec![9.0; 6];
        let mut scratch = vec![0.0; attention_scratch_len(&s).unwrap()];
        attention(
            Isa::Portable,
            &s,
            &[1.0; 6],
            &[],
            &[],
            None,
            &mut y,
            &mut scratch,
        )
        .unwrap();
        assert_eq!(y, [0.0; 6]);
    }
}
