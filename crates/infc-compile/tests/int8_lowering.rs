//! INT8 lowering on small graphs: quantized MatMul (bias + residual + relu epilogue, per row and
//! per tensor) and Conv (grouped 3×3 strided padded through im2col; 1×1 through the direct NHWC
//! path) against the reference interpreter on every integer path; a LayerNorm absorbed by the
//! matmul it feeds (and kept when something else reads it); and load-time rejection of hostile
//! quantized steps (wrong weight size, scratch overlapping the output, a −128 weight, a
//! LayerNorm scale outside the plan).

mod common;

use common::{rand_f32, B};
use infc_compile::{compile, CompileOptions, Plan};
use infc_ir::{marks, ConvAttrs, DType, Epilogue, Graph, Op, Precision, Realize, Tensor};
use infc_plan::Step;
use infc_runtime::{Int8Isa, Session, TensorView};

/// `g` with the nodes `pick` chooses marked as the `--int8` passes mark them (matmuls
/// `@int8_per_row` or `@int8`, convs `@int8`), then every absorbable LayerNorm `@in_reader`.
fn marked(g: &Graph, pick: impl Fn(usize) -> bool, per_row: bool) -> Graph {
    let mut g = g.clone();
    for (i, node) in g.nodes.iter_mut().enumerate() {
        if !pick(i) {
            continue;
        }
        if marks::is_int8_matmul(&node.op) {
            node.precision = if per_row {
                Precision::Int8PerRow
            } else {
                Precision::Int8
            };
        } else if marks::is_int8_conv(&node.op) {
            node.precision = Precision::Int8;
        }
    }
    let uses = g.uses();
    let absorbed: Vec<usize> = (0..g.nodes.len())
        .filter(|&i| marks::absorbable_layer_norm(&g, i, &uses).is_some())
        .collect();
    for i in absorbed {
        g.nodes[i].realize = Realize::InReader;
    }
    infc_ir::verify(&g).expect("legal marks");
    g
}

/// Every matmul and conv of `g` marked INT8.
fn int8_all(g: &Graph, per_row: bool) -> Graph {
    marked(g, |_| true, per_row)
}

fn run(plan: &Plan, isa: Int8Isa, inputs: &[Tensor]) -> Result<Vec<Vec<f32>>, String> {
    let s = Session::from_bytes(&plan.encode())
        .map_err(|e| e.to_string())?
        .with_int8_isa(isa);
    let views: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                i.into(),
                TensorView::new(infc_runtime::DType::F32, &t.shape, t.bytes().unwrap()),
            )
        })
        .collect();
    let outs = s.run(&views).map_err(|e| e.to_string())?;
    Ok(outs
        .iter()
        .map(|o| {
            o.data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
        .collect())
}

/// Quantized outputs within 3% (of the largest reference magnitude) of the reference, every path.
fn check_close(g: &Graph, inputs: &[Tensor]) {
    let named: Vec<_> = g
        .inputs
        .iter()
        .zip(inputs)
        .map(|(&v, t)| (g.value(v).name.as_str().into(), t.clone()))
        .collect();
    let want = infc_reference::run_graph(g, &named).expect("reference runs");
    for per_row in [true, false] {
        let plan = compile(&int8_all(g, per_row), &CompileOptions::default()).expect("compiles");
        let quant_steps = plan
            .body
            .steps
            .iter()
            .filter(|s| matches!(s, Step::QuantMatMul(_) | Step::QuantConv(_)))
            .count();
        assert_eq!(
            quant_steps,
            g.nodes.len(),
            "every node lowers to a quantized step"
        );
        for isa in Int8Isa::supported() {
            let got = run(&plan, isa, inputs).expect("runs");
            for (w, gv) in want.iter().zip(&got) {
                let wv = w.to_f64_vec().unwrap();
                let scale = wv.iter().fold(0f64, |m, v| m.max(v.abs()));
                let worst = wv
                    .iter()
                    .zip(gv)
                    .map(|(a, &b)| (a - b as f64).abs())
                    .fold(0f64, f64::max);
                assert!(
                    worst <= 0.03 * scale,
                    "{} per_row={per_row}: max err {worst} vs scale {scale}",
                    isa.name()
                );
            }
        }
    }
}

fn matmul_graph() -> (Graph, Vec<Tensor>) {
    let mut b = B::new();
    let x = b.input("x", DType::F32, &[2, 3, 40]);
    let r = b.input("r", DType::F32, &[2, 3, 24]);
    let w = b.f32c(&[40, 24], 7);
    let bias = b.f32c(&[24], 8);
    let op = Op::FusedMatMul {
        epilogue: vec![Epilogue::Bias, Epilogue::Residual, Epilogue::Relu],
        trans_a: false,
        trans_b: false,
    };
    let y = b.one(op, &[x, w, bias, r]);
    b.output(y);
    let inputs = vec![
        Tensor::from_vec(vec![2, 3, 40], rand_f32(240, 1)).unwrap(),
        Tensor::from_vec(vec![2, 3, 24], rand_f32(144, 2)).unwrap(),
    ];
    (b.g, inputs)
}

#[test]
fn quantized_matmul_with_epilogue_matches_reference() {
    let (g, inputs) = matmul_graph();
    check_close(&g, &inputs);
}

#[test]
fn quantized_convs_match_reference() {
    let mut b = B::new();
    let x = b.input("x", DType::F32, &[2, 6, 9, 9]);
    let w = b.f32c(&[8, 3, 3, 3], 3);
    let bias = b.f32c(&[8], 4);
    let attrs = ConvAttrs {
        kernel: vec![3, 3],
        strides: vec![2, 2],
        pads: vec![1, 1, 1, 1],
        dilations: vec![1, 1],
        group: 2,
    };
    let op = Op::FusedConv {
        attrs,
        epilogue: vec![Epilogue::Bias, Epilogue::Relu],
    };
    let y = b.one(op, &[x, w, bias]);
    let w1 = b.f32c(&[5, 8, 1, 1], 5);
    let pointwise = ConvAttrs {
        kernel: vec![1, 1],
        strides: vec![1, 1],
        pads: vec![0, 0, 0, 0],
        dilations: vec![1, 1],
        group: 1,
    };
    let z = b.one(Op::Conv(pointwise), &[y, w1]);
    b.output(z);
    let inputs = vec![Tensor::from_vec(vec![2, 6, 9, 9], rand_f32(972, 9)).unwrap()];
    check_close(&b.g, &inputs);
}

/// `bf16_attention` marks the attention steps of an INT8 plan `bf16` (and only then); the plan
/// runs within bf16 error of the reference (exactly the f32 path on CPUs without AVX512-BF16).
#[test]
fn int8_plans_mark_attention_bf16() {
    let mut b = B::new();
    let dims = [2, 6, 16];
    let (q, k, v) = (
        b.input("q", DType::F32, &dims),
        b.input("k", DType::F32, &dims),
        b.input("v", DType::F32, &dims),
    );
    let attention = Op::Attention {
        num_heads: 2,
        scale: 0.25.into(),
        causal: true,
        masking: infc_ir::AttentionMasking::default(),
    };
    let y = b.one(attention, &[q, k, v]);
    b.output(y);
    let inputs: Vec<Tensor> = (0..3)
        .map(|i| Tensor::from_vec(dims.to_vec(), rand_f32(192, 10 + i)).unwrap())
        .collect();
    let named: Vec<_> = ["q", "k", "v"]
        .iter()
        .zip(&inputs)
        .map(|(n, t)| ((*n).into(), t.clone()))
        .collect();
    let want = infc_reference::run_graph(&b.g, &named).expect("reference runs");
    let want = want[0].to_f64_vec().unwrap();
    for bf16 in [false, true] {
        let mut g = b.g.clone();
        if bf16 {
            g.nodes[0].precision = Precision::Bf16;
        }
        let plan = compile(&g, &CompileOptions::default()).expect("compiles");
        let flags: Vec<bool> = plan
            .body
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Attention(a) => Some(a.bf16),
                _ => None,
            })
            .collect();
        assert_eq!(flags, vec![bf16]);
        let got = run(&plan, Int8Isa::detect(), &inputs).expect("runs");
        let worst = want
            .iter()
            .zip(&got[0])
            .map(|(a, &g)| (a - g as f64).abs())
            .fold(0f64, f64::max);
        assert!(
            worst <= if bf16 { 1e-2 } else { 1e-5 },
            "bf16 {bf16}: {worst}"
        );
    }
    let f32_plan = compile(&b.g, &CompileOptions::default()).expect("compiles");
    assert!(f32_plan
        .body
        .steps
        .iter()
        .all(|s| !matches!(s, Step::Attention(a) if a.bf16)));
}

/// `x → LayerNorm → MatMul(+bias)`; with `expose`, the LayerNorm output is a graph output too.
fn layer_norm_matmul_graph(expose: bool) -> (Graph, Vec<Tensor>) {
    let mut b = B::new();
    let x = b.input("x", DType::F32, &[2, 5, 48]);
    let (scale, lbias) = (b.f32c(&[48], 21), b.f32c(&[48], 22));
    let ln = Op::LayerNorm {
        axis: -1,
        epsilon: 1e-5.into(),
    };
    let n = b.one(ln, &[x, scale, lbias]);
    let (w, bias) = (b.f32c(&[48, 20], 23), b.f32c(&[20], 24));
    let op = Op::FusedMatMul {
        epilogue: vec![Epilogue::Bias],
        trans_a: false,
        trans_b: false,
    };
    let y = b.one(op, &[n, w, bias]);
    b.output(y);
    if expose {
        b.output(n);
    }
    let xs: Vec<f32> = rand_f32(480, 25).iter().map(|v| 4.0 * v + 1.0).collect();
    (b.g, vec![Tensor::from_vec(vec![2, 5, 48], xs).unwrap()])
}

/// Under per-row INT8 the matmul absorbs the LayerNorm (no LayerNorm step, `pre_norm` set, the
/// normalised tensor gets no buffer) and gives the bits of the plan that keeps the LayerNorm
/// step wherever the two run the same vector code; per tensor, or when the LayerNorm output is
/// also read elsewhere, the LayerNorm stays a step.
#[test]
fn layer_norm_feeding_a_quantized_matmul_is_absorbed() {
    let kinds = |p: &Plan| -> Vec<&'static str> { p.body.steps.iter().map(|s| s.kind()).collect() };
    let (g, inputs) = layer_norm_matmul_graph(false);
    let ln_node = g
        .nodes
        .iter()
        .position(|n| matches!(n.op, Op::LayerNorm { .. }));
    let mm_node = g
        .nodes
        .iter()
        .position(|n| matches!(n.op, Op::FusedMatMul { .. }));
    let only_matmul = |g: &Graph, per_row| {
        let g = marked(g, |i| Some(i) == mm_node, per_row);
        compile(&g, &CompileOptions::default()).expect("compiles")
    };
    let fused = only_matmul(&g, true);
    assert_eq!(kinds(&fused), ["QuantMatMul"]);
    let Step::QuantMatMul(step) = &fused.body.steps[0] else {
        unreachable!()
    };
    let pn = step.pre_norm.as_ref().expect("pre_norm set");
    assert!(pn.bias.is_some() && (pn.epsilon - 1e-5).abs() < 1e-12);
    let per_tensor = only_matmul(&g, false);
    assert_eq!(kinds(&per_tensor), ["LayerNorm", "QuantMatMul"]);

    let (g2, _) = layer_norm_matmul_graph(true);
    let kept = only_matmul(&g2, true);
    assert_eq!(kinds(&kept), ["LayerNorm", "QuantMatMul"]);
    assert!(ln_node.is_some());

    let named = vec![("x".into(), inputs[0].clone())];
    let want = infc_reference::run_graph(&g, &named).expect("reference runs");
    let want = want[0].to_f64_vec().unwrap();
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    let f32_isa = infc_runtime::Isa::detect();
    for isa in Int8Isa::supported() {
        let got = run(&fused, isa, &inputs).expect("runs");
        let worst = want
            .iter()
            .zip(&got[0])
            .map(|(a, &b)| (a - b as f64).abs())
            .fold(0f64, f64::max);
        assert!(worst <= 0.03 * scale, "{}: {worst} vs {scale}", isa.name());
        use infc_runtime::Isa as F;
        let same_code = matches!(
            (isa, f32_isa),
            (Int8Isa::Avx512Vnni | Int8Isa::Amx, F::Avx512)
                | (Int8Isa::Avx2 | Int8Isa::AvxVnni, F::Avx2Fma)
                | (Int8Isa::Portable, F::Portable)
        );
        if same_code {
            let unfused = run(&kept, isa, &inputs).expect("runs");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got[0]), bits(&unfused[0]), "{}", isa.name());
        }
    }
}

fn load_err(plan: &Plan) -> String {
    match Session::from_bytes(&plan.encode()) {
        Ok(_) => "loaded".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn hostile_quantized_steps_are_rejected_at_load() {
    let (g, _) = matmul_graph();
    let plan = compile(&int8_all(&g, true), &CompileOptions::default()).expect("compiles");
    let Step::QuantMatMul(step) = plan.body.steps[0].clone() else {
        panic!("expected a QuantMatMul, got {:?}", plan.body.steps[0]);
    };

    let mut short = plan.clone();
    if let Step::QuantMatMul(s) = &mut short.body.steps[0] {
        s.weights.bytes -= 64;
    }
    let e = load_err(&short);
    assert!(e.contains("quantized weights"), "{e}");

    let mut overlap = plan.clone();
    if let Step::QuantMatMul(s) = &mut overlap.body.steps[0] {
        s.scratch = s.y;
    }
    let e = load_err(&overlap);
    assert!(e.contains("overlaps"), "{e}");

    let mut bad_value = plan.clone();
    bad_value.consts[step.weights.offset as usize] = 0x80;
    let e = load_err(&bad_value);
    assert!(e.contains("-128"), "{e}");

    let (g, _) = layer_norm_matmul_graph(false);
    let mm_node = g
        .nodes
        .iter()
        .position(|n| matches!(n.op, Op::FusedMatMul { .. }));
    let g = marked(&g, |i| Some(i) == mm_node, true);
    let fused = compile(&g, &CompileOptions::default()).expect("compiles");
    let mut far_scale = fused.clone();
    if let Step::QuantMatMul(s) = &mut far_scale.body.steps[0] {
        if let Some(pn) = &mut s.pre_norm {
            pn.scale.offset = u64::MAX - 8;
        }
    }
    let e = load_err(&far_scale);
    assert!(e.contains("layer norm scale"), "{e}");
    let mut per_tensor = fused.clone();
    if let Step::QuantMatMul(s) = &mut per_tensor.body.steps[0] {
        s.per_row = false;
    }
    let e = load_err(&per_tensor);
    assert!(e.contains("per-row"), "{e}");
}
