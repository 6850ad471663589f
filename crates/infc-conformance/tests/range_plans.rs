//! Range plans against the reference interpreter: each fixture compiled once (`-O3`, FP32 and
//! INT8) with `batch=1..3` and `sequence=1..64`, then run by one session at every (batch,
//! sequence) of that grid with seeded inputs — padded rows on either side, fully padded rows,
//! sequence length 1 — and compared with the reference interpreter on the unoptimised graph bound
//! at that shape. ResNet fixtures run at batch 1..3.

use infc::ir::Tensor;
use infc::passes::OptLevel;
use infc::{CompileOptions, Int8Options, Session};
use infc_conformance::plan::{optimise_model, options, run_session};
use infc_conformance::{compare, fixtures_dir};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn reference(model: &std::path::Path, inputs: &[(String, Tensor)]) -> Vec<Tensor> {
    let g = optimise_model(model, inputs, &options(OptLevel::O0)).unwrap();
    let feed: Vec<_> = inputs
        .iter()
        .map(|(n, t)| (infc::reference::InputKey::Name(n.clone()), t.clone()))
        .collect();
    infc::reference::run_graph(&g, &feed).unwrap()
}

/// `input_ids` and an `attention_mask` whose rows are padded on the right, on the left, fully,
/// or not at all, chosen by the seed.
fn text_inputs(rng: &mut Lcg, b: usize, s: usize) -> Vec<(String, Tensor)> {
    let ids: Vec<i64> = (0..b * s).map(|_| rng.below(100) as i64).collect();
    let mut mask = vec![0i64; b * s];
    for row in 0..b {
        let keep = match rng.below(4) {
            0 => s,
            1 => 0,
            _ => rng.below(s as u64 + 1) as usize,
        };
        let left = rng.below(2) == 0;
        for j in 0..keep {
            let col = if left { s - 1 - j } else { j };
            mask[row * s + col] = 1;
        }
    }
    vec![
        (
            "input_ids".into(),
            Tensor::from_vec(vec![b, s], ids).unwrap(),
        ),
        (
            "attention_mask".into(),
            Tensor::from_vec(vec![b, s], mask).unwrap(),
        ),
    ]
}

/// `pixel_values` of `b` seeded 3×32×32 images in [-1, 1).
fn image_inputs(rng: &mut Lcg, b: usize) -> Vec<(String, Tensor)> {
    let x: Vec<f32> = (0..b * 3 * 32 * 32)
        .map(|_| rng.below(2000) as f32 / 1000.0 - 1.0)
        .collect();
    vec![(
        "pixel_values".to_string(),
        Tensor::from_vec(vec![b, 3, 32, 32], x).unwrap(),
    )]
}

fn compile(model: &std::path::Path, shapes: &[&str], int8: bool) -> Session {
    let opts = CompileOptions {
        shapes: shapes.iter().map(|s| s.to_string()).collect(),
        int8: int8.then(Int8Options::default),
        ..CompileOptions::default()
    };
    let plan = infc::compile(model, &opts)
        .unwrap_or_else(|e| panic!("{}: {}", model.display(), infc::full_message(&e)));
    assert!(
        plan.body.range.is_some(),
        "{}: not a range plan",
        model.display()
    );
    Session::from_bytes(&plan.encode()).unwrap()
}

/// INT8 outputs are held to the quantization's tolerance, FP32 to the project's.
fn check(what: &str, got: &[Tensor], want: &[Tensor], int8: bool) {
    for (g, w) in got.iter().zip(want) {
        if int8 {
            let (g32, w32) = (g.to_f64_vec().unwrap(), w.to_f64_vec().unwrap());
            assert_eq!(g.shape, w.shape, "{what}");
            let scale = w32.iter().fold(0f64, |m, x| m.max(x.abs())).max(1.0);
            let err = g32
                .iter()
                .zip(&w32)
                .filter(|(a, b)| !(a.is_nan() && b.is_nan()))
                .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                err <= 0.1 * scale,
                "{what}: max error {err} (scale {scale})"
            );
        } else if let Err(e) = compare(what, g, w) {
            panic!("{e}");
        }
    }
}

const TEXT: [&str; 8] = [
    "distilbert_ts14",
    "distilbert_ts17",
    "distilbert_dynamo18",
    "distilbert_sdpa_dynamo18",
    "gpt2_ts14",
    "gpt2_ts17",
    "gpt2_sdpa_ts17",
    "gpt2_dynamo18",
];

fn text_fixture(name: &str, int8: bool, seqs: &[usize]) {
    let model = fixtures_dir().join(name).join("model.onnx");
    let session = compile(&model, &["batch=1..3", "sequence=1..64"], int8);
    let mut rng = Lcg(0x5eed ^ name.len() as u64);
    for b in 1..=3 {
        for &s in seqs {
            let inputs = text_inputs(&mut rng, b, s);
            let got = run_session(&session, &inputs)
                .unwrap_or_else(|e| panic!("{name} at batch={b}, sequence={s}: {e}"));
            let want = reference(&model, &inputs);
            check(
                &format!("{name} at batch={b}, sequence={s}"),
                &got,
                &want,
                int8,
            );
        }
    }
}

#[test]
fn text_range_plans_match_the_reference_at_every_shape() {
    let seqs: Vec<usize> = (1..=64).collect();
    for name in TEXT {
        text_fixture(name, false, &seqs);
    }
}

#[test]
fn int8_text_range_plans_match_the_reference() {
    let seqs = [1, 2, 3, 7, 16, 31, 64];
    for name in TEXT {
        text_fixture(name, true, &seqs);
    }
}

#[test]
fn resnet_range_plans_match_the_reference_at_every_batch() {
    for name in [
        "resnet_ts14",
        "resnet_ts14_bn",
        "resnet_ts17",
        "resnet_dynamo18",
    ] {
        let model = fixtures_dir().join(name).join("model.onnx");
        for int8 in [false, true] {
            let session = compile(&model, &["pixel_values=1..3x3x32x32"], int8);
            let mut rng = Lcg(7);
            for b in 1..=3usize {
                let inputs = image_inputs(&mut rng, b);
                let got = run_session(&session, &inputs).unwrap();
                let want = reference(&model, &inputs);
                check(
                    &format!("{name} at batch={b} int8={int8}"),
                    &got,
                    &want,
                    int8,
                );
            }
        }
    }
}

#[test]
fn shapes_outside_the_range_or_inconsistent_are_errors_naming_the_dim() {
    let model = fixtures_dir().join("distilbert_ts17").join("model.onnx");
    let session = compile(&model, &["batch=1..3", "sequence=1..64"], false);
    let mut rng = Lcg(1);
    let err = run_session(&session, &text_inputs(&mut rng, 4, 8)).unwrap_err();
    assert!(
        err.contains("'batch'") && err.contains("outside the plan's range 1..=3"),
        "{err}"
    );
    let mut inputs = text_inputs(&mut rng, 2, 8);
    inputs[1] = (
        "attention_mask".into(),
        Tensor::from_vec(vec![2, 9], vec![1i64; 18]).unwrap(),
    );
    let err = run_session(&session, &inputs).unwrap_err();
    assert!(
        err.contains("attention_mask") && err.contains("input 'input_ids' gives 'sequence' = 8"),
        "{err}"
    );
}

#[test]
fn short_ranges_sample_beyond_their_max_and_still_match() {
    // batch 1..=2 and sequence 1..=3 hold fewer than three sizes of 2 or more: the fit samples
    // above the max (lowered only to be read) and the plan runs at every shape of the range.
    let model = fixtures_dir().join("gpt2_ts17").join("model.onnx");
    let session = compile(&model, &["batch=1..2", "sequence=1..3"], false);
    let mut rng = Lcg(3);
    for b in 1..=2 {
        for s in 1..=3 {
            let inputs = text_inputs(&mut rng, b, s);
            let got = run_session(&session, &inputs).unwrap();
            check(
                &format!("batch={b}, sequence={s}"),
                &got,
                &reference(&model, &inputs),
                false,
            );
        }
    }
}

/// Every range plan of these fixtures plans its arena per shape.
#[test]
fn range_plans_plan_their_arena_per_shape() {
    for name in TEXT {
        let model = fixtures_dir().join(name).join("model.onnx");
        for int8 in [false, true] {
            let s = compile(&model, &["batch=1..3", "sequence=1..64"], int8);
            assert!(
                s.range().unwrap().arena.is_some(),
                "{name} int8={int8}: shared arena"
            );
        }
    }
}

#[test]
fn unbound_dims_are_run_time_dims_with_the_arena_sized_per_shape() {
    // ResNet's batch and the text models' batch, with no --shape: the plan is stored at the
    // default bound (8) and runs beyond it, each new larger shape growing the arena once.
    let model = fixtures_dir().join("resnet_ts17").join("model.onnx");
    for int8 in [false, true] {
        let session = compile(&model, &[], int8);
        let t = session.range().unwrap();
        assert_eq!(t.symbols[0].range_text(), "1..", "int8={int8}");
        let mut rng = Lcg(11);
        for b in [1usize, 9, 23, 9] {
            let inputs = image_inputs(&mut rng, b);
            let got = run_session(&session, &inputs).unwrap();
            check(
                &format!("resnet_ts17 at batch={b} int8={int8}"),
                &got,
                &reference(&model, &inputs),
                int8,
            );
        }
        // Batch 1, 9 and 23 each needed a larger arena than any before; 9 again did not.
        assert_eq!(session.stats().arenas, 3, "int8={int8}");
    }
    for name in ["distilbert_ts17", "gpt2_dynamo18"] {
        let model = fixtures_dir().join(name).join("model.onnx");
        let session = compile(&model, &[], false);
        let t = session.range().unwrap();
        let batch = t.symbols.iter().find(|s| s.name == "batch").unwrap();
        assert_eq!(batch.range_text(), "1..", "{name}");
        let mut rng = Lcg(5);
        for (b, s) in [(11usize, 5usize), (1, 8), (30, 1)] {
            let inputs = text_inputs(&mut rng, b, s);
            let got = run_session(&session, &inputs)
                .unwrap_or_else(|e| panic!("{name} at batch={b}, sequence={s}: {e}"));
            check(
                &format!("{name} at batch={b}, sequence={s}"),
                &got,
                &reference(&model, &inputs),
                false,
            );
        }
    }
}
