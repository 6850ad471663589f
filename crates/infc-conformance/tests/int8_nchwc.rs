//! `-O3 --int8` on the ResNet fixtures: the layout pass blocks the conv stack, the quantization
//! pass selects the blocked convs, and the plan runs them as `QuantNchwcConv` — no NCHW
//! `QuantConv`, no f32 conv, and only the reorders at the ends of the blocked region. Run with
//! every integer-kernel path this CPU has (forced), each output must keep cosine similarity
//! ≥ 0.99 with the f32 -O3 plan and with onnxruntime's committed output, and the integer paths
//! must agree with each other to the last bit (the kernel's epilogue is the same f32 operations
//! on every path).

use infc::ir::{Graph, Tensor};
use infc::passes::OptLevel;
use infc::{Int8Isa, Isa, Plan, Session, SessionOptions};
use infc_conformance::plan::{lower, options, quantize, run_plan, run_session};
use infc_conformance::{all_fixtures, cosine, Fixture};

const MIN_COSINE: f64 = 0.99;

fn resnets() -> Vec<Fixture> {
    let f: Vec<_> = all_fixtures()
        .into_iter()
        .filter(|f| f.meta.family == "resnet")
        .collect();
    assert!(f.len() >= 4, "found {} resnet fixtures", f.len());
    f
}

fn at_o3(f: &Fixture) -> Graph {
    f.optimised(&options(OptLevel::O3))
        .unwrap_or_else(|e| panic!("{}: {e}", f.name))
}

fn int8_plan(g: &Graph) -> (Plan, usize) {
    let mut g = g.clone();
    let n = quantize(&mut g, true, false).expect("int8 passes");
    (lower(&g).expect("int8 compile"), n)
}

fn run_int8(plan: &Plan, int8: Int8Isa, inputs: &[(String, Tensor)]) -> Vec<Tensor> {
    let session = Session::from_bytes_with(
        &plan.encode(),
        SessionOptions {
            isa: Some(Isa::detect()),
            ..Default::default()
        },
    )
    .expect("load")
    .with_int8_isa(int8);
    run_session(&session, inputs).expect("run")
}

#[test]
fn o3_int8_runs_resnets_blocked_and_keeps_cosine_099_on_every_path() {
    for f in resnets() {
        let g = at_o3(&f);
        let fp32 = lower(&g).expect("f32 compile");
        let want_fp32 = run_plan(&fp32, Isa::detect(), &f.inputs).expect("f32 run");
        let (plan, layers) = int8_plan(&g);
        let kinds: Vec<&str> = plan.body.steps.iter().map(|s| s.kind()).collect();
        let blocked = kinds.iter().filter(|&&k| k == "QuantNchwcConv").count();
        let quant = kinds.iter().filter(|k| k.starts_with("Quant")).count();
        assert!(
            blocked > 0 && quant == layers,
            "{}: {layers} layers, {kinds:?}",
            f.name
        );
        for bad in ["QuantConv", "Conv", "NchwcConv", "Pool"] {
            assert!(!kinds.contains(&bad), "{}: has {bad}: {kinds:?}", f.name);
        }
        let reorders = kinds.iter().filter(|&&k| k == "Reorder").count();
        assert!(reorders <= 2, "{}: {reorders} reorders: {kinds:?}", f.name);
        let mut first: Option<Vec<Tensor>> = None;
        for isa in Int8Isa::supported() {
            let outs = run_int8(&plan, isa, &f.inputs);
            for (i, got) in outs.iter().enumerate() {
                let (name, ort) = &f.expected[i];
                let c_fp32 = cosine(got, &want_fp32[i]).unwrap();
                let c_ort = cosine(got, ort).unwrap();
                println!(
                    "{} {isa} {name}: cosine vs f32 {c_fp32:.5}, vs onnxruntime {c_ort:.5} ({layers} layers)",
                    f.name
                );
                assert!(
                    c_fp32 >= MIN_COSINE && c_ort >= MIN_COSINE,
                    "{} {isa} {name}: cosine {c_fp32} / {c_ort}",
                    f.name
                );
            }
            match &first {
                None => first = Some(outs),
                Some(base) => {
                    for (a, b) in outs.iter().zip(base) {
                        assert!(
                            a.bytes().unwrap() == b.bytes().unwrap(),
                            "{} {isa}: output differs from the first path",
                            f.name
                        );
                    }
                }
            }
        }
    }
}
