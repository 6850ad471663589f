//! Validation of `QuantNchwcConv` steps: a well-formed step round-trips; wrong weight or scratch
//! sizes, scratch outside the arena, unsupported activations, a plain input with too many
//! channels, bad geometry and misaligned packed weights are each rejected with a message naming
//! the problem.

use infc_plan::*;

/// A 1-image 3×3 pad-1 conv, 20 → 40 channels on a 6×5 blocked input.
fn step() -> QuantNchwcConvStep {
    let mut s = QuantNchwcConvStep {
        n: 1,
        c_in: 20,
        h: 6,
        w: 5,
        c_out: 40,
        input_blocked: true,
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
            bytes: 0,
        },
        residual: Some(TensorRef::arena(4096)),
        act: Activation::Relu,
        y: TensorRef::arena(12288),
        scratch: TensorRef::arena(20480),
    };
    s.weights.bytes = s.weights_bytes().unwrap();
    s
}

fn plan(s: QuantNchwcConvStep) -> Plan {
    let consts = vec![0u8; s.weights_bytes().unwrap() as usize + 64];
    let body = PlanBody {
        producer: "infc test".into(),
        required_features: 0,
        inputs: vec![IoDesc {
            name: "x".into(),
            dtype: DType::F32,
            shape: vec![1, 2, 6, 5, 16],
            at: TensorRef::arena(0),
        }],
        outputs: vec![IoDesc {
            name: "y".into(),
            dtype: DType::F32,
            shape: vec![1, 3, 6, 5, 16],
            at: TensorRef::arena(12288),
        }],
        step_names: vec!["qconv".into()],
        steps: vec![Step::QuantNchwcConv(s)],
        memory: MemoryPlan {
            arena_bytes: 1 << 15,
            intermediates_bytes: 0,
            lower_bound_bytes: 0,
            entries: vec![],
        },
        provenance: Vec::new(),
        range: None,
    };
    Plan { body, consts }
}

fn err_of(s: QuantNchwcConvStep) -> String {
    decode(&plan(s).encode()).unwrap_err().to_string()
}

#[test]
fn sizes_follow_the_kernel_layout() {
    let s = step();
    // 2 input blocks × 9 taps × 16 lanes = 288 per channel; 3 output blocks.
    assert_eq!(s.weights_bytes(), Some(3 * 288 * 16 + 3 * 16 * 12));
    assert_eq!(s.scratch_bytes(), Some(2 * 8 * 7 * 16));
    let plain = QuantNchwcConvStep {
        input_blocked: false,
        c_in: 3,
        ..step()
    };
    assert_eq!(plain.kernel_params().unwrap().lanes(), 4);
    assert_eq!(plain.scratch_bytes(), Some(8 * 7 * 4));
    // A hostile plain c_in (found by the plan_run fuzzer): sizes overflow, no panic.
    let huge = QuantNchwcConvStep {
        c_in: u64::MAX,
        ..plain
    };
    assert_eq!(huge.kernel_params().unwrap().lanes(), usize::MAX);
    assert_eq!(huge.weights_bytes(), None);
    assert_eq!(huge.scratch_bytes(), None);
}

#[test]
fn a_valid_step_round_trips() {
    let p = plan(step());
    assert_eq!(decode(&p.encode()).unwrap(), p);
}

#[test]
fn bad_steps_are_named() {
    let mut s = step();
    s.weights.bytes -= 64;
    assert!(err_of(s).contains("quantized weights have"), "weights");
    let mut s = step();
    s.scratch = TensorRef::arena((1 << 15) - 64);
    let e = err_of(s);
    assert!(e.contains("scratch"), "{e}");
    let mut s = step();
    s.scratch = TensorRef::konst(0);
    let e = err_of(s);
    assert!(e.contains("scratch"), "{e}");
    let mut s = step();
    s.act = Activation::GeluErf;
    let e = err_of(s);
    assert!(e.contains("only none or relu"), "{e}");
    let mut s = step();
    s.input_blocked = false;
    let e = err_of(s);
    assert!(e.contains("plain input with 20 channels"), "{e}");
    let mut s = step();
    s.oh = 7;
    let e = err_of(s);
    assert!(e.contains("conv output size 7"), "{e}");
    let mut s = step();
    s.weights.offset = 8;
    let e = err_of(s);
    assert!(e.contains("not 64-byte aligned"), "{e}");
}
