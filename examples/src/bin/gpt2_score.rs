//! Next-token scoring with a GPT-2 export: compile it for one sequence, run it on token ids,
//! print the five most likely next tokens (ids and log-probabilities) after the last position.
//!
//! ```sh
//! cargo run -p infc-examples --bin gpt2_score -- models/fixtures/gpt2_ts17/model.onnx --ids 464,2068,7586,21831
//! ```

use infc::{compile, CompileOptions, DType, InputKey, Session, TensorView};
use infc_examples::{f32s, flag, log_softmax, positional, repo_path, top_k};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = positional(&args)
        .map(Into::into)
        .unwrap_or_else(|| repo_path("models/fixtures/gpt2_ts17/model.onnx"));
    let ids: Vec<i64> = flag(&args, "--ids")
        .unwrap_or_else(|| "464,2068,7586,21831".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let n = ids.len();
    let opts = CompileOptions {
        shapes: vec!["batch=1".into(), format!("sequence={n}")],
        int8: flag(&args, "--int8").map(|_| infc::Int8Options::default()),
        ..CompileOptions::default()
    };
    let plan = compile(&model, &opts)?;
    let session = Session::from_bytes(&plan.encode())?;
    let ids_bytes: Vec<u8> = ids.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mask: Vec<u8> = (0..n).flat_map(|_| 1i64.to_le_bytes()).collect();
    let shape = [1, n];
    let mut inputs = vec![(
        InputKey::Name("input_ids"),
        TensorView::new(DType::I64, &shape, &ids_bytes),
    )];
    if session.inputs().iter().any(|d| d.name == "attention_mask") {
        inputs.push((
            InputKey::Name("attention_mask"),
            TensorView::new(DType::I64, &shape, &mask),
        ));
    }
    let out = session.run(&inputs)?;
    let logits = f32s(&out[0].data);
    let vocab = out[0].shape[2];
    let last = &logits[(n - 1) * vocab..n * vocab];
    let lp = log_softmax(last);
    println!("next token after {ids:?} (vocabulary {vocab}):");
    for (id, _) in top_k(last, 5) {
        println!("  token {id:>6}  log p = {:.4}", lp[id]);
    }
    Ok(())
}
