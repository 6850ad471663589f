//! Validation of `Attention` steps: a step reading q/k/v as column ranges of one fused QKV buffer
//! round-trips; row strides below `heads·d`, strided reads that run past the arena, and hostile
//! stride values are rejected with a message naming the problem.

use infc_plan::*;

/// batch 2, 3 heads of 4, seq 5: q/k/v are the three 12-column ranges of a `[2, 5, 36]` buffer.
fn step() -> AttentionStep {
    AttentionStep {
        batch: 2,
        heads: 3,
        sq: 5,
        sk: 5,
        d: 4,
        scale: 0.5,
        causal: true,
        hidden_fill: f32::NEG_INFINITY,
        mask_hidden: true,
        zero_nan_rows: true,
        bf16: false,
        q: TensorRef::arena(0),
        k: TensorRef::arena(12 * 4),
        v: TensorRef::arena(24 * 4),
        qkv_row_strides: [36; 3],
        mask: None,
        mask_strides: [0; 4],
        y: TensorRef::arena(2 * 5 * 36 * 4),
        scratch: TensorRef::arena(4096),
    }
}

fn plan(s: AttentionStep) -> Plan {
    let scratch = s.scratch_floats().unwrap() * 4;
    let body = PlanBody {
        producer: "infc test".into(),
        required_features: 0,
        inputs: vec![IoDesc {
            name: "qkv".into(),
            dtype: DType::F32,
            shape: vec![2, 5, 36],
            at: TensorRef::arena(0),
        }],
        outputs: vec![IoDesc {
            name: "y".into(),
            dtype: DType::F32,
            shape: vec![2, 5, 12],
            at: TensorRef::arena(2 * 5 * 36 * 4),
        }],
        step_names: vec!["attn".into()],
        steps: vec![Step::Attention(s)],
        memory: MemoryPlan {
            arena_bytes: 4096 + scratch,
            intermediates_bytes: 0,
            lower_bound_bytes: 0,
            entries: vec![],
        },
        provenance: Vec::new(),
        range: None,
    };
    Plan {
        body,
        consts: vec![],
    }
}

fn err_of(s: AttentionStep) -> String {
    decode(&plan(s).encode()).unwrap_err().to_string()
}

#[test]
fn fused_qkv_views_round_trip() {
    let p = plan(step());
    let back = decode(&p.encode()).expect("valid plan");
    assert_eq!(back.body.steps, p.body.steps);
}

#[test]
fn row_strides_below_the_row_are_rejected() {
    let mut s = step();
    s.qkv_row_strides = [36, 11, 36];
    let err = err_of(s);
    assert!(err.contains("row strides") && err.contains("12"), "{err}");
}

#[test]
fn strided_reads_past_the_arena_are_rejected() {
    // v's last row would end past the arena: 9 rows × 4000 floats.
    let mut s = step();
    s.qkv_row_strides = [36, 36, 4000];
    let err = err_of(s);
    assert!(err.contains("v"), "{err}");
    // A stride that overflows the extent computation is an error too, not a panic.
    let mut s = step();
    s.qkv_row_strides = [u64::MAX / 2, 36, 36];
    let err = err_of(s);
    assert!(err.contains("q"), "{err}");
}
