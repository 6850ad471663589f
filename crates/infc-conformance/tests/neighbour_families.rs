//! Issue 24: the families users try next, from their default export (`models/export_neighbours.py`,
//! `models/neighbours/<name>/`). BertModel's default export (no `token_type_ids` input) builds the
//! token-type ids with a GatherElements over a buffer, which folds away once the shapes are bound:
//! RobertaModel's derives its position ids with a CumSum over `input_ids != padding_idx` (a
//! run-time kernel) and gathers its all-zero token-type buffer with them (folded: every index reads
//! a zero). Each compiles at `-O0` and `-O3`, fixed and as a range plan, and matches onnxruntime's
//! output (the second row padded) on every ISA path. Wav2Vec2's feature extractor opens with a
//! GroupNorm, exported as an InstanceNormalization (decomposed at import). A Llama-style decoder
//! and torchvision's ViT compile and match too (not yet fused: see issue 24's notes).

use infc::ir::{Bytes, Tensor};
use infc::{CompileOptions, InputKey, Session, SessionOptions, TensorView};
use infc_conformance::plan::{ir_dtype, isas_under_test, runtime_dtype};
use infc_conformance::{compare, read_npy};
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/neighbours")
        .join(name)
}

const TEXT: &[&str] = &["input_ids", "attention_mask"];
const HIDDEN: &str = "last_hidden_state";
const TEXT_SHAPES: &[(u8, &[&str])] = &[
    (0, &["batch=2", "sequence=8"]),
    (3, &["batch=2", "sequence=8"]),
    (3, &["batch=1..3", "sequence=1..64"]),
];

#[test]
fn bert_default_export_matches_onnxruntime() {
    default_export_matches_onnxruntime("bert_ts17", TEXT, HIDDEN, TEXT_SHAPES);
}

#[test]
fn roberta_default_export_matches_onnxruntime() {
    default_export_matches_onnxruntime("roberta_ts17", TEXT, HIDDEN, TEXT_SHAPES);
}

/// The sample count stays fixed in the range plan: the convolutions' output lengths are floor
/// divisions of it, which a range plan (polynomial fields) cannot express.
#[test]
fn wav2vec2_default_export_matches_onnxruntime() {
    default_export_matches_onnxruntime(
        "wav2vec2_ts17",
        &["input_values"],
        HIDDEN,
        &[
            (0, &["batch=2", "samples=400"]),
            (3, &["batch=2", "samples=400"]),
            (3, &["batch=1..3", "samples=400"]),
        ],
    );
}

/// Llama-style decoder (RMSNorm, rotary embeddings, SiLU-gated MLP, grouped-query attention,
/// sdpa's causal mask). Fixed shapes only: its causal mask is built as a `[sequence, sequence]`
/// constant once bound, which a range plan cannot store (only prefix-shaped constants).
#[test]
fn llama_default_export_matches_onnxruntime() {
    default_export_matches_onnxruntime(
        "llama_ts17",
        TEXT,
        HIDDEN,
        &[
            (0, &["batch=2", "sequence=8"]),
            (3, &["batch=2", "sequence=8"]),
        ],
    );
}

/// torchvision's VisionTransformer (a Mod of the batch size in its class-token concat folds).
#[test]
fn vit_default_export_matches_onnxruntime() {
    default_export_matches_onnxruntime(
        "vit_ts17",
        &["pixel_values"],
        "logits",
        &[(0, &["batch=2"]), (3, &["batch=2"]), (3, &["batch=1..3"])],
    );
}

fn default_export_matches_onnxruntime(
    name: &str,
    input_names: &[&str],
    output: &str,
    configs: &[(u8, &[&str])],
) {
    let d = dir(name);
    let inputs: Vec<(&str, Tensor)> = input_names
        .iter()
        .map(|n| (*n, read_npy(&d.join(format!("input_{n}.npy"))).unwrap()))
        .collect();
    let want = read_npy(&d.join(format!("output_{output}.npy"))).unwrap();
    let bytes: Vec<&[u8]> = inputs.iter().map(|(_, t)| t.bytes().unwrap()).collect();
    let views: Vec<_> = inputs
        .iter()
        .zip(&bytes)
        .map(|((n, t), b)| {
            (
                InputKey::Name(n),
                TensorView::new(runtime_dtype(t.dtype), &t.shape, b),
            )
        })
        .collect();
    for &(level, shapes) in configs {
        let opts = CompileOptions {
            opt_level: level,
            shapes: shapes.iter().map(|s| s.to_string()).collect(),
            ..CompileOptions::default()
        };
        let plan = infc::compile(d.join("model.onnx"), &opts)
            .unwrap_or_else(|e| panic!("{name} -O{level} {shapes:?}: {}", infc::full_message(&e)));
        for isa in isas_under_test() {
            let session = Session::from_bytes_with(
                &plan.encode(),
                SessionOptions {
                    isa: Some(isa),
                    ..Default::default()
                },
            )
            .unwrap();
            let out = session.run(&views).unwrap().remove(0);
            let got = Tensor::from_bytes(ir_dtype(out.dtype), out.shape, Bytes::from_vec(out.data))
                .unwrap();
            compare(&format!("{name} -O{level} {shapes:?} {isa:?}"), &got, &want)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// The fused Llama plan (-O3: RMSNorm fused) against the reference interpreter on the unfused
/// graph, at shapes and masks the fixture does not have: sequence 1, batch 3, left padding, a row
/// that is padding from its second token, odd lengths.
#[test]
fn llama_o3_matches_the_unfused_graph_on_padded_and_odd_shapes() {
    use infc_conformance::plan::{optimise_model, options, run_plan};
    let model = dir("llama_ts17").join("model.onnx");
    // (batch, sequence, padded rows as (row, count)).
    type Case = (usize, usize, &'static [(usize, usize)]);
    let cases: [Case; 4] = [
        (1, 1, &[]),
        (3, 5, &[(0, 2), (2, 4)]), // row 0 left-padded by 2, row 2 padded after its first token
        (2, 7, &[(1, 3)]),
        (1, 9, &[(0, 4)]),
    ];
    for (batch, seq, padded) in cases {
        let ids: Vec<i64> = (0..batch * seq)
            .map(|i| (i * 37 % 251) as i64 + 2)
            .collect();
        let mut mask = vec![1i64; batch * seq];
        for &(row, n) in padded {
            if row == 2 {
                // Padding after the first token.
                mask[row * seq + 1..(row + 1) * seq].fill(0);
            } else {
                // Left padding.
                mask[row * seq..row * seq + n].fill(0);
            }
        }
        let inputs = vec![
            (
                "input_ids".to_string(),
                Tensor::from_vec(vec![batch, seq], ids).unwrap(),
            ),
            (
                "attention_mask".to_string(),
                Tensor::from_vec(vec![batch, seq], mask).unwrap(),
            ),
        ];
        let unfused =
            optimise_model(&model, &inputs, &options(infc::passes::OptLevel::O0)).unwrap();
        let ref_inputs: Vec<_> = inputs
            .iter()
            .map(|(n, t)| (n.as_str().into(), t.clone()))
            .collect();
        let want = infc::reference::run_graph(&unfused, &ref_inputs)
            .unwrap()
            .remove(0);
        let fused = optimise_model(&model, &inputs, &options(infc::passes::OptLevel::O3)).unwrap();
        assert!(
            fused.nodes.iter().any(|n| n.op.name() == "RmsNorm"),
            "RMSNorm did not fuse"
        );
        let plan = infc::lower(&fused).unwrap();
        for isa in isas_under_test() {
            let got = run_plan(&plan, isa, &inputs).unwrap().remove(0);
            compare(&format!("llama {batch}x{seq} {isa:?}"), &got, &want)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
