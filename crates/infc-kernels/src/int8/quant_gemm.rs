//! Per-row dynamic quantization of f32 activations fused with the integer product, in one
//! parallel region (`crate::claim`): the threads first quantize row chunks of `x` into the u8
//! operand, wait until every row is done, then claim the GEMM's units. One fork per matmul
//! instead of one for the quantization and one for the product, and no thread idles at a join
//! between them. The result is bit-identical to [`super::quantize_rows_u8`] followed by
//! [`super::gemm_u8s8_f32`].
//!
//! With a [`RowNorm`] the rows of `x` are LayerNorm-ed on the fly while they are quantized (a
//! pre-LayerNorm transformer's `LayerNorm → MatMul`): the same bits as [`crate::layer_norm`] on
//! the matching vector code followed by the above, without storing the normalised f32 rows or
//! a region of their own.

use super::driver::{self, Output, Split, Units};
use super::quantize::{check_io, quantize_row_from, RowSource};
use super::{check_operands, AQuant, Int8Isa, PackedB8Ref, QParams};
use crate::claim::{self, Phase, SharedMut};
use crate::error::{check_len, Result};
use crate::gemm::{check_c, Epilogue};
use crate::layernorm::RowNorm;

/// Rows quantized per claimed unit.
const QUANT_ROWS: usize = 8;

/// `C = act(deq(quant_rows(norm(x)) · B) + …)`: quantizes each row of the `m × k` matrix `x`
/// (row stride `ldx`), LayerNorm-ed first when `norm` is given (its vectors have `k` elements),
/// to u8 with its own [`QParams`] into `a` (row stride `lda ≥ round_up(k, 4)`) and `params`
/// (`≥ m`), then multiplies as [`super::gemm_u8s8_f32`] with the epilogue `epi`.
#[allow(clippy::too_many_arguments)]
pub fn quantize_rows_gemm_u8s8_f32(
    isa: Int8Isa,
    m: usize,
    n: usize,
    k: usize,
    x: &[f32],
    ldx: usize,
    norm: Option<RowNorm<'_>>,
    a: &mut [u8],
    lda: usize,
    params: &mut [QParams],
    b: &PackedB8Ref<'_>,
    c: &mut [f32],
    ldc: usize,
    epi: &Epilogue<'_>,
) -> Result<()> {
    check_io("quantize_rows_gemm", x.len(), m, k, ldx, a.len(), lda)?;
    check_operands(m, n, k, a, lda, b)?;
    check_len("quantize params", params.len(), m)?;
    if let Some(nm) = &norm {
        check_len("layer norm scale", nm.scale.len(), k)?;
        if let Some(b) = nm.bias {
            check_len("layer norm bias", b.len(), k)?;
        }
    }
    check_c(m, n, c.len(), ldc)?;
    epi.check(m, n)?;
    if m == 0 || n == 0 {
        return Ok(());
    }
    let isa = isa.capped();
    // An empty row has nothing to normalise.
    let norm = norm.filter(|_| k > 0);
    // Row `i` of `x` (normalised when asked) quantized into `row`.
    let quantize_row = |i: usize, row: &mut [u8]| {
        quantize_row_from(
            isa,
            RowSource::new(isa, &x[i * ldx..i * ldx + k], norm),
            row,
        )
    };
    if !driver::parallel(m, n, k) {
        if norm.is_none() {
            super::quantize_rows_u8(isa, x, m, k, ldx, a, lda, params)?;
        } else {
            for (i, p) in params.iter_mut().enumerate().take(m) {
                *p = quantize_row(i, &mut a[i * lda..i * lda + k]);
            }
        }
        let out = Output::Dequant {
            c: c.as_mut_ptr(),
            ldc,
            a_params: AQuant::PerRow(params),
            epi,
        };
        driver::run(isa, m, n, k, a, lda, b, out);
        return Ok(());
    }
    let units = Units::new(isa, m, n, k);
    let (a_len, a_ptr) = (a.len(), SharedMut(a.as_mut_ptr()));
    let p_ptr = SharedMut(params.as_mut_ptr());
    let c_ptr = SharedMut(c.as_mut_ptr());
    let threads = claim::region_threads(units.count().max(m.div_ceil(QUANT_ROWS)));
    let quant = Phase::new(m.div_ceil(QUANT_ROWS), threads);
    let gemm = Phase::new(units.count(), threads);
    let body = |part: usize| {
        quant.work(part, |u| {
            for i in u * QUANT_ROWS..((u + 1) * QUANT_ROWS).min(m) {
                // SAFETY: row `i` of `a` (`k ≤ lda` bytes from `i·lda`, inside `a` per
                // `check_io`) and `params[i]` belong to this unit alone, and nothing reads them
                // before the phase ends.
                let (row, p) = unsafe {
                    (
                        std::slice::from_raw_parts_mut(a_ptr.get().add(i * lda), k),
                        &mut *p_ptr.get().add(i),
                    )
                };
                *p = quantize_row(i, row);
            }
        });
        quant.wait();
        // SAFETY: every row was written and the quantize phase is over (its writes are ordered
        // before this point by `wait`), so `a` and `params` are only read from here on.
        let (a, params) = unsafe {
            (
                std::slice::from_raw_parts(a_ptr.get() as *const u8, a_len),
                std::slice::from_raw_parts(p_ptr.get() as *const QParams, m),
            )
        };
        let out = Output::Dequant {
            c: c_ptr.get(),
            ldc,
            a_params: AQuant::PerRow(params),
            epi,
        };
        let split = Split {
            units,
            k,
            a,
            lda,
            b,
            out,
        };
        gemm.work(part, |u| split.run_unit(u));
    };
    claim::region(threads, body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{
        a_row_len, gemm_u8s8_f32, quantize_pack_b_s8, quantize_rows_u8, QuantizedA,
    };
    use super::*;
    use crate::gemm::{Activation, Bias};

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 250.0 - 2.0)
            .collect()
    }

    /// Same bits (u8 operand, parameters, output) as quantizing then multiplying, on every path,
    /// serial and parallel shapes, in pools of 1–3 threads, with padded strides and a full
    /// epilogue.
    #[test]
    fn fused_matches_quantize_then_gemm_bit_for_bit() {
        for &(m, n, k) in &[(37, 200, 70), (128, 96, 200), (1, 700, 64), (300, 64, 130)] {
            let (ldx, lda) = (k + 3, a_row_len(k) + 4);
            let x = values(m * ldx, 1);
            let w = values(k * n, 2);
            let bias = values(n, 3);
            let res = values(m * n, 4);
            let packed = quantize_pack_b_s8(k, n, &w, n, false).unwrap();
            let epi = Epilogue {
                bias: Some(Bias::PerColumn(&bias)),
                residual: Some((&res, n)),
                activation: Activation::GeluErf,
                ..Epilogue::default()
            };
            for isa in Int8Isa::supported() {
                let mut qa = vec![7u8; m * lda];
                let mut params = vec![QParams::from_range(0.0, 0.0); m];
                quantize_rows_u8(isa, &x, m, k, ldx, &mut qa, lda, &mut params).unwrap();
                let mut want = vec![0f32; m * n];
                let a = QuantizedA {
                    data: &qa,
                    ld: lda,
                    params: AQuant::PerRow(&params),
                };
                gemm_u8s8_f32(isa, m, n, k, &a, &packed.as_ref(), &mut want, n, &epi).unwrap();
                for threads in 1..=3 {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let mut qa2 = vec![7u8; m * lda];
                    let mut params2 = vec![QParams::from_range(0.0, 0.0); m];
                    let mut c = vec![0f32; m * n];
                    pool.install(|| {
                        quantize_rows_gemm_u8s8_f32(
                            isa,
                            m,
                            n,
                            k,
                            &x,
                            ldx,
                            None,
                            &mut qa2,
                            lda,
                            &mut params2,
                            &packed.as_ref(),
                            &mut c,
                            n,
                            &epi,
                        )
                    })
                    .unwrap();
                    let what = format!("{isa} {m}x{n}x{k} on {threads} thread(s)");
                    assert_eq!(qa2, qa, "{what}: u8 operand");
                    assert_eq!(params2, params, "{what}: parameters");
                    let same = c.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{what}: output");
                }
            }
        }
    }

    /// With a LayerNorm: the same bits as `layer_norm` on the matching vector code, then the
    /// plain fused product; every path, with and without a LayerNorm bias, serial and parallel
    /// shapes, 1–3 threads.
    #[test]
    fn normalised_rows_match_layer_norm_then_product_bit_for_bit() {
        use crate::layer_norm;
        for &(m, n, k) in &[(5, 40, 37), (128, 96, 200), (64, 48, 768)] {
            let ldx = k + 5;
            let lda = a_row_len(k);
            let x: Vec<f32> = values(m * ldx, 11).iter().map(|v| v * 3.0 + 0.7).collect();
            let w = values(k * n, 12);
            let scale: Vec<f32> = values(k, 13).iter().map(|v| v + 1.5).collect();
            let lbias = values(k, 14);
            let packed = quantize_pack_b_s8(k, n, &w, n, false).unwrap();
            let epi = Epilogue::default();
            for isa in Int8Isa::supported() {
                let lisa = isa.vector_code().f32_isa();
                for with_bias in [false, true] {
                    let b = with_bias.then_some(&lbias[..]);
                    let mut y = vec![0f32; m * k];
                    for i in 0..m {
                        let row = &x[i * ldx..i * ldx + k];
                        let out = &mut y[i * k..(i + 1) * k];
                        layer_norm(lisa, row, &scale, b, 1e-5, 1, k, out).unwrap();
                    }
                    let run = |src: &[f32], ld: usize, norm: Option<RowNorm<'_>>, threads| {
                        let pool = rayon::ThreadPoolBuilder::new()
                            .num_threads(threads)
                            .build()
                            .unwrap();
                        let mut qa = vec![7u8; m * lda];
                        let mut params = vec![QParams::from_range(0.0, 0.0); m];
                        let mut c = vec![0f32; m * n];
                        pool.install(|| {
                            quantize_rows_gemm_u8s8_f32(
                                isa,
                                m,
                                n,
                                k,
                                src,
                                ld,
                                norm,
                                &mut qa,
                                lda,
                                &mut params,
                                &packed.as_ref(),
                                &mut c,
                                n,
                                &epi,
                            )
                        })
                        .unwrap();
                        (
                            qa,
                            params,
                            c.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        )
                    };
                    let want = run(&y, k, None, 1);
                    let norm = RowNorm {
                        scale: &scale,
                        bias: b,
                        epsilon: 1e-5,
                    };
                    for threads in 1..=3 {
                        let got = run(&x, ldx, Some(norm), threads);
                        let what =
                            format!("{isa} {m}x{n}x{k} bias {with_bias}, {threads} thread(s)");
                        assert!(got == want, "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn short_buffers_are_named() {
        let (m, n, k) = (4, 16, 8);
        let x = values(m * k, 1);
        let packed = quantize_pack_b_s8(k, n, &values(k * n, 2), n, false).unwrap();
        let run = |x: &[f32], params_len: usize| {
            let mut qa = vec![0u8; m * k];
            let mut c = vec![0f32; m * n];
            let mut params = vec![QParams::from_range(0.0, 0.0); params_len];
            let (b, epi) = (packed.as_ref(), Epilogue::default());
            let isa = Int8Isa::Portable;
            quantize_rows_gemm_u8s8_f32(
                isa,
                m,
                n,
                k,
                x,
                k,
                None,
                &mut qa,
                k,
                &mut params,
                &b,
                &mut c,
                n,
                &epi,
            )
            .unwrap_err()
            .to_string()
        };
        let e = run(&x, m - 1);
        assert!(e.contains("quantize params"), "{e}");
        let e = run(&x[1..], m);
        assert!(e.contains("quantize input"), "{e}");
        let mut qa = vec![0u8; m * k];
        let mut c = vec![0f32; m * n];
        let mut params = vec![QParams::from_range(0.0, 0.0); m];
        let short = [1f32; 3];
        let norm = RowNorm {
            scale: &short,
            bias: None,
            epsilon: 1e-5,
        };
        let (b, epi) = (packed.as_ref(), Epilogue::default());
        let e = quantize_rows_gemm_u8s8_f32(
            Int8Isa::Portable,
            m,
            n,
            k,
            &x,
            k,
            Some(norm),
            &mut qa,
            k,
            &mut params,
            &b,
            &mut c,
            n,
            &epi,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("layer norm scale"), "{e}");
    }
}
