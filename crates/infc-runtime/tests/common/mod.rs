//! A small hand-built plan (no compiler needed): `y = softmax(relu(x·W + b))`, plus a transposed
//! copy of `x`, with `W` prepacked by the kernel crate.

#![allow(dead_code)]

use infc_plan::*;

pub const M: u64 = 4;
pub const K: u64 = 8;
pub const N: u64 = 16;

pub fn weights() -> (Vec<f32>, Vec<f32>) {
    let w: Vec<f32> = (0..K * N)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0)
        .collect();
    let b: Vec<f32> = (0..N).map(|i| i as f32 / 16.0 - 0.5).collect();
    (w, b)
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn plan() -> Plan {
    let (w, b) = weights();
    let mut packed = vec![0f32; infc_kernels::packed_b_len(K as usize, N as usize)];
    infc_kernels::pack_b(K as usize, N as usize, &w, N as usize, false, &mut packed).unwrap();
    let mut consts = f32_bytes(&b);
    consts.resize(64, 0);
    let packed_at = consts.len() as u64;
    consts.extend(f32_bytes(&packed));
    let (x_at, h_at, y_at, t_at) = (0u64, 128, 384, 640);
    let steps = vec![
        Step::MatMul(MatMulStep {
            batch_shape: vec![],
            a_batch_strides: vec![],
            b_batch_strides: vec![],
            m: M,
            n: N,
            k: K,
            a: TensorRef::arena(x_at),
            trans_a: false,
            b: MatB::Packed(PackedRef {
                offset: packed_at,
                bytes: packed.len() as u64 * 4,
            }),
            alpha: 1.0,
            bias: Some(Bias {
                at: TensorRef::konst(0),
                kind: BiasKind::Row,
                beta: 1.0,
            }),
            residual: None,
            act: Activation::None,
            y: TensorRef::arena(h_at),
        }),
        Step::Unary(UnaryStep {
            op: UnaryKind::Relu,
            dtype: DType::F32,
            len: M * N,
            x: TensorRef::arena(h_at),
            y: TensorRef::arena(h_at),
        }),
        Step::Softmax(SoftmaxStep {
            outer: M,
            axis: N,
            inner: 1,
            x: TensorRef::arena(h_at),
            y: TensorRef::arena(y_at),
        }),
        Step::Copy(CopyStep {
            dtype: DType::F32,
            shape: vec![K, M],
            src: TensorRef::arena(x_at),
            src_strides: vec![1, K as i64],
            dst: TensorRef::arena(t_at),
            dst_strides: vec![M as i64, 1],
        }),
    ];
    let body = PlanBody {
        producer: "runtime test".into(),
        required_features: 0,
        inputs: vec![IoDesc {
            name: "x".into(),
            dtype: DType::F32,
            shape: vec![M, K],
            at: TensorRef::arena(x_at),
        }],
        outputs: vec![
            IoDesc {
                name: "y".into(),
                dtype: DType::F32,
                shape: vec![M, N],
                at: TensorRef::arena(y_at),
            },
            IoDesc {
                name: "xt".into(),
                dtype: DType::F32,
                shape: vec![K, M],
                at: TensorRef::arena(t_at),
            },
        ],
        step_names: vec![
            "mm".into(),
            "relu".into(),
            "softmax".into(),
            "transpose".into(),
        ],
        steps,
        memory: MemoryPlan {
            arena_bytes: 768,
            intermediates_bytes: 768,
            lower_bound_bytes: 768,
            entries: vec![],
        },
        provenance: Vec::new(),
        range: None,
    };
    Plan { body, consts }
}

pub fn input() -> Vec<f32> {
    (0..M * K).map(|i| (i as f32 * 0.37).sin()).collect()
}

/// Expected outputs computed naively.
pub fn expected(x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (w, b) = weights();
    let (m, k, n) = (M as usize, K as usize, N as usize);
    let mut y = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = b[j];
            for t in 0..k {
                acc += x[i * k + t] * w[t * n + j];
            }
            y[i * n + j] = acc.max(0.0);
        }
        let row = &mut y[i * n..(i + 1) * n];
        let mx = row.iter().cloned().fold(f32::MIN, f32::max);
        let s: f32 = row.iter().map(|v| (v - mx).exp()).sum();
        row.iter_mut().for_each(|v| *v = (*v - mx).exp() / s);
    }
    let mut t = vec![0f32; k * m];
    for i in 0..m {
        for j in 0..k {
            t[j * m + i] = x[i * k + j];
        }
    }
    (y, t)
}
