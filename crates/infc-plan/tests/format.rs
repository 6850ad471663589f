//! Plan format tests: round trip, corrupted files (truncation, byte flips with and without a valid
//! checksum, wrong version, hostile offsets) must give errors, never panics.

use infc_plan::*;

fn sample_plan() -> Plan {
    let mut consts = vec![0u8; 256];
    for (i, b) in consts.iter_mut().enumerate() {
        *b = i as u8;
    }
    let steps = vec![
        Step::MatMul(MatMulStep {
            batch_shape: vec![],
            a_batch_strides: vec![],
            b_batch_strides: vec![],
            m: 2,
            n: 4,
            k: 4,
            a: TensorRef::arena(0),
            trans_a: false,
            b: MatB::Packed(PackedRef {
                offset: 64,
                bytes: 64,
            }),
            alpha: 1.0,
            bias: Some(Bias {
                at: TensorRef::konst(0),
                kind: BiasKind::Row,
                beta: 1.0,
            }),
            residual: None,
            act: Activation::Relu,
            y: TensorRef::arena(64),
        }),
        Step::Unary(UnaryStep {
            op: UnaryKind::Tanh,
            dtype: DType::F32,
            len: 8,
            x: TensorRef::arena(64),
            y: TensorRef::arena(64),
        }),
        Step::Binary(BinaryStep {
            op: BinaryKind::Add,
            dtype: DType::F32,
            shape: vec![2, 4],
            a: TensorRef::arena(64),
            a_strides: vec![4, 1],
            b: TensorRef::konst(128),
            b_strides: vec![0, 1],
            y: TensorRef::arena(0),
        }),
        Step::Copy(CopyStep {
            dtype: DType::F32,
            shape: vec![4, 2],
            src: TensorRef::arena(0),
            src_strides: vec![1, 4],
            dst: TensorRef::arena(128),
            dst_strides: vec![2, 1],
        }),
        Step::Softmax(SoftmaxStep {
            outer: 4,
            axis: 2,
            inner: 1,
            x: TensorRef::arena(128),
            y: TensorRef::arena(192),
        }),
    ];
    let body = PlanBody {
        producer: "infc test".into(),
        required_features: 0,
        inputs: vec![IoDesc {
            name: "x".into(),
            dtype: DType::F32,
            shape: vec![2, 4],
            at: TensorRef::arena(0),
        }],
        outputs: vec![IoDesc {
            name: "y".into(),
            dtype: DType::F32,
            shape: vec![4, 2],
            at: TensorRef::arena(192),
        }],
        step_names: (0..steps.len()).map(|i| format!("node{i}")).collect(),
        steps,
        memory: MemoryPlan {
            arena_bytes: 256,
            intermediates_bytes: 320,
            lower_bound_bytes: 192,
            entries: vec![MemoryEntry {
                name: "x".into(),
                offset: 0,
                size: 64,
                first_step: 0,
                last_step: 0,
            }],
        },
        provenance: Vec::new(),
        range: None,
    };
    Plan { body, consts }
}

#[test]
fn round_trip() {
    let plan = sample_plan();
    let bytes = plan.encode();
    assert_eq!(&bytes[..8], MAGIC);
    let back = decode(&bytes).unwrap();
    assert_eq!(back, plan);
    let (body, consts) = decode_borrowed(&bytes, DecodeOptions::default()).unwrap();
    assert_eq!(body, plan.body);
    assert_eq!(consts, &plan.consts[..]);
    // The constants section is 64-byte aligned within the file.
    let off = consts.as_ptr() as usize - bytes.as_ptr() as usize;
    assert_eq!(off % 64, 0);
    let mut out = Vec::new();
    plan.write_to(&mut out).unwrap();
    assert_eq!(out, bytes);
}

#[test]
fn truncation_anywhere_is_an_error() {
    let bytes = sample_plan().encode();
    for cut in 0..bytes.len() {
        assert!(decode(&bytes[..cut]).is_err(), "truncated at {cut} decoded");
        // Even with the checksum fixed up, structure checks must catch it.
        let mut t = bytes[..cut].to_vec();
        rewrite_checksum(&mut t);
        assert!(
            decode(&t).is_err(),
            "truncated at {cut} with fixed checksum decoded"
        );
    }
}

#[test]
fn every_flipped_byte_is_caught_by_the_checksum() {
    let bytes = sample_plan().encode();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        assert!(decode(&b).is_err(), "flip at {i} decoded");
    }
}

#[test]
fn flipped_bytes_behind_a_valid_checksum_never_panic() {
    let bytes = sample_plan().encode();
    let mut rejected = 0;
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            rewrite_checksum(&mut b);
            if decode(&b).is_err() {
                rejected += 1;
            }
            // Unchecked-checksum decoding of the unfixed image reaches the same validators.
            let mut c = bytes.clone();
            c[i] ^= mask;
            let _ = decode_borrowed(
                &c,
                DecodeOptions {
                    verify_checksum: false,
                    verify_weights: true,
                },
            );
        }
    }
    // Padding and float payloads may flip harmlessly; structure bytes must not.
    assert!(
        rejected > bytes.len() / 2,
        "only {rejected} of {} corruptions rejected",
        bytes.len() * 3
    );
}

#[test]
fn another_major_version_is_refused_naming_both() {
    let mut bytes = sample_plan().encode();
    // A v4 plan: the u32 version 4 reads as major 4, minor 0.
    bytes[8..12].copy_from_slice(&4u32.to_le_bytes());
    rewrite_checksum(&mut bytes);
    assert_eq!(
        decode(&bytes).unwrap_err().to_string(),
        format!(
            "plan format 4.0 cannot be read by this infc (it reads format 5.x (writes 5.{FORMAT_MINOR})): \
             recompile the model with this infc"
        )
    );
}

#[test]
fn provenance_round_trips_in_its_optional_section() {
    let mut plan = sample_plan();
    plan.body.provenance = vec![
        ("source".into(), "model.onnx".into()),
        ("flags".into(), "-O3 --int8".into()),
    ];
    let bytes = plan.encode();
    assert_eq!(decode(&bytes).unwrap(), plan);
    assert_ne!(bytes, sample_plan().encode());
}

#[test]
fn a_later_minor_version_loads() {
    let mut bytes = sample_plan().encode();
    bytes[10..12].copy_from_slice(&7u16.to_le_bytes());
    rewrite_checksum(&mut bytes);
    assert_eq!(decode(&bytes).unwrap().body, sample_plan().body);
}

/// The plan with one more section (kind 99, `flags`) after the others.
fn with_extra_section(flags: u32) -> Vec<u8> {
    sample_plan().encode_with_sections(&[(99, flags, b"a future section")])
}

#[test]
fn an_unknown_optional_section_is_skipped_and_a_required_one_refused() {
    let optional = with_extra_section(section::OPTIONAL);
    assert_eq!(decode(&optional).unwrap(), sample_plan());
    // Its bytes are under the checksum.
    let mut flipped = optional.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(decode(&flipped)
        .unwrap_err()
        .to_string()
        .starts_with("checksum mismatch"));
    let err = decode(&with_extra_section(0)).unwrap_err().to_string();
    assert!(
        err.contains("section kind 99 is required by this plan but unknown to this infc"),
        "{err}"
    );
}

#[test]
fn decoding_reads_no_weight_unless_asked() {
    let plan = sample_plan();
    let mut bytes = plan.encode();
    let (_, consts) = decode_borrowed(&bytes, DecodeOptions::default()).unwrap();
    let at = consts.as_ptr() as usize - bytes.as_ptr() as usize;
    bytes[at] ^= 0xff;
    // The checksum leaves the constants out: a load does not read them...
    decode_borrowed(&bytes, DecodeOptions::default()).unwrap();
    // ...and the weights hash catches the corruption when asked (decode always asks).
    let err = decode(&bytes).unwrap_err().to_string();
    assert!(err.starts_with("constants hash mismatch"), "{err}");
}

#[test]
fn bad_magic_and_checksum_are_named() {
    let mut bytes = sample_plan().encode();
    bytes[0] = b'X';
    assert!(decode(&bytes)
        .unwrap_err()
        .to_string()
        .starts_with("not a plan file: bad magic"));
    let mut bytes = sample_plan().encode();
    // The first byte of the first section (meta).
    let first = u64::from_le_bytes(bytes[32..40].try_into().unwrap()) as usize;
    bytes[first] ^= 1;
    assert!(decode(&bytes)
        .unwrap_err()
        .to_string()
        .starts_with("checksum mismatch"));
}

#[test]
fn offset_past_the_arena_is_named() {
    let mut plan = sample_plan();
    if let Step::MatMul(m) = &mut plan.body.steps[0] {
        m.y = TensorRef::arena(240);
    }
    let err = decode(&plan.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "step 0 (MatMul): y 240+32 exceeds arena of 256 bytes"
    );
}

#[test]
fn packed_weights_past_the_constants_are_named() {
    let mut plan = sample_plan();
    if let Step::MatMul(m) = &mut plan.body.steps[0] {
        m.b = MatB::Packed(PackedRef {
            offset: 192,
            bytes: 128,
        });
    }
    let err = decode(&plan.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "step 0 (MatMul): b 192+128 exceeds constants of 256 bytes"
    );
}

#[test]
fn overlapping_output_is_rejected_but_exact_in_place_is_fine() {
    let mut plan = sample_plan();
    if let Step::Softmax(s) = &mut plan.body.steps[4] {
        s.y = TensorRef::arena(144);
    }
    let err = decode(&plan.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "step 4 (Softmax): y 144..176 overlaps x 128..160"
    );
    // Step 1 (Tanh) is in place and valid; a shifted in-place update is not.
    let mut plan = sample_plan();
    if let Step::Unary(u) = &mut plan.body.steps[1] {
        u.y = TensorRef::arena(68);
    }
    let err = decode(&plan.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "step 1 (Unary): y 68..100 overlaps x 64..96"
    );
}

#[test]
fn overflowing_shapes_are_errors() {
    let mut plan = sample_plan();
    if let Step::Binary(b) = &mut plan.body.steps[2] {
        b.shape = vec![u64::MAX / 2, 4];
        b.a_strides = vec![0, 0];
        b.b_strides = vec![0, 0];
    }
    let err = decode(&plan.encode()).unwrap_err();
    assert!(
        err.to_string().starts_with("step 2 (Binary): shape"),
        "{err}"
    );
}

#[test]
fn misaligned_elements_and_const_writes_are_errors() {
    let mut plan = sample_plan();
    if let Step::Unary(u) = &mut plan.body.steps[1] {
        u.x = TensorRef::arena(2);
    }
    assert_eq!(
        decode(&plan.encode()).unwrap_err().to_string(),
        "step 1 (Unary): x offset 2 is not aligned to its 4-byte elements"
    );
    let mut plan = sample_plan();
    if let Step::Unary(u) = &mut plan.body.steps[1] {
        u.y = TensorRef::konst(0);
    }
    assert_eq!(
        decode(&plan.encode()).unwrap_err().to_string(),
        "step 1 (Unary): y writes into the constants region"
    );
}

#[test]
fn io_descriptors_are_checked() {
    let mut plan = sample_plan();
    plan.body.inputs[0].at = TensorRef::arena(240);
    assert_eq!(
        decode(&plan.encode()).unwrap_err().to_string(),
        "input 'x': 240+32 exceeds arena of 256 bytes"
    );
    let mut plan = sample_plan();
    plan.body.outputs.push(plan.body.outputs[0].clone());
    assert_eq!(
        decode(&plan.encode()).unwrap_err().to_string(),
        "output 'y': name appears twice"
    );
}

#[test]
fn conv_geometry_is_checked() {
    let mut plan = sample_plan();
    plan.consts.resize(4096, 0);
    plan.body.memory.arena_bytes = 1 << 16;
    plan.body.steps = vec![Step::Conv(ConvStep {
        n: 1,
        c_in: 2,
        h: 5,
        w: 5,
        c_out: 4,
        group: 1,
        window: Window2d {
            kernel: [3, 3],
            strides: [1, 1],
            pads: [1, 1, 1, 1],
            dilations: [1, 1],
        },
        oh: 6,
        ow: 5,
        x: TensorRef::arena(0),
        weights: PackedRef {
            offset: 0,
            bytes: 4 * 2 * 9 * 4,
        },
        bias: None,
        residual: None,
        act: Activation::None,
        y: TensorRef::arena(1024),
    })];
    plan.body.step_names = vec!["conv".into()];
    let err = decode(&plan.encode()).unwrap_err().to_string();
    assert!(
        err.starts_with("step 0 (Conv): conv output size 6 on spatial axis 0"),
        "{err}"
    );
    if let Step::Conv(c) = &mut plan.body.steps[0] {
        c.oh = 5;
    }
    decode(&plan.encode()).unwrap();
}

#[test]
fn memory_report_display() {
    let text = sample_plan().body.memory.to_string();
    assert!(
        text.starts_with("arena_bytes 256\nintermediates_bytes 320\nlower_bound_bytes 192\n"),
        "{text}"
    );
    assert!(text.contains("x "));
}

/// Byte offset of the first step's tag (after its name "node0") in an encoded sample plan.
fn first_step_tag(bytes: &[u8]) -> usize {
    let name = bytes
        .windows(5)
        .position(|w| w == b"node0")
        .expect("step name");
    name + 5
}

#[test]
fn each_step_is_framed_by_its_length() {
    let bytes = sample_plan().encode();
    let at = first_step_tag(&bytes);
    let len = u32::from_le_bytes(bytes[at + 1..at + 5].try_into().unwrap());
    // One byte more than the fields: the frame must be filled exactly.
    let mut longer = bytes.clone();
    longer[at + 1..at + 5].copy_from_slice(&(len + 1).to_le_bytes());
    rewrite_checksum(&mut longer);
    let err = decode(&longer).unwrap_err().to_string();
    assert!(err.contains("MatMul step: 1 bytes of its"), "{err}");
    let mut shorter = bytes.clone();
    shorter[at + 1..at + 5].copy_from_slice(&(len - 1).to_le_bytes());
    rewrite_checksum(&mut shorter);
    assert!(decode(&shorter).is_err());
    let mut unknown = bytes.clone();
    unknown[at] = 99;
    rewrite_checksum(&mut unknown);
    let err = decode(&unknown).unwrap_err().to_string();
    assert!(err.contains("unknown step tag 99"), "{err}");
}
