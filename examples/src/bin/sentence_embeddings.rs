//! Sentence embeddings with a BERT-family encoder (all-MiniLM-L6-v2 style): tokenize with a
//! `tokenizer.json`, pad to the longest sentence, compile the encoder for that batch and length,
//! run it, mean-pool the last hidden state over the attention mask, L2-normalise, and print the
//! cosine similarity matrix.
//!
//! ```sh
//! cargo run -p infc-examples --bin sentence_embeddings            # the tiny committed fixture
//! cargo run --release -p infc-examples --bin sentence_embeddings -- \
//!     --model /work/minilm-onnx/model.onnx --tokenizer /work/minilm-onnx/tokenizer.json \
//!     "A man is eating food." "A man is riding a horse."
//! ```
//!
//! Sentences are the positional arguments, else the lines of `--sentences FILE` (default
//! `examples/data/sentences.txt`). The model's dims must be named `batch` and `sequence`
//! (`examples/data/make_minilm.py` exports the real model so). `--save-embeddings OUT.npy` writes
//! the `[sentences, dim]` f32 embeddings.

use infc::{compile, CompileOptions, DType, InputKey, Session, TensorView};
use infc_examples::pooling::{cosine_matrix, mean_pool_normalize};
use infc_examples::{f32s, flag, positionals, repo_path, write_npy_f32};
use std::path::PathBuf;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = |name: &str, default: &str| -> PathBuf {
        flag(&args, name).map_or_else(|| repo_path(default), Into::into)
    };
    let model = path("--model", "examples/data/minilm_tiny/model.onnx");
    let tokenizer = path("--tokenizer", "examples/data/minilm_tiny/tokenizer.json");
    let mut sentences = positionals(&args);
    if sentences.is_empty() {
        let file = path("--sentences", "examples/data/sentences.txt");
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        sentences = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(Into::into)
            .collect();
    }
    if sentences.is_empty() {
        return Err("no sentences given".into());
    }

    let mut tok =
        Tokenizer::from_file(&tokenizer).map_err(|e| format!("{}: {e}", tokenizer.display()))?;
    // Pad to the longest sentence of this batch (a tokenizer.json may pad to a fixed length).
    let padding = match tok.get_padding() {
        Some(p) => p.clone(),
        None => PaddingParams {
            pad_id: tok.token_to_id("[PAD]").unwrap_or(0),
            ..PaddingParams::default()
        },
    };
    tok.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..padding
    }));
    let enc = tok
        .encode_batch(sentences.iter().map(String::as_str).collect(), true)
        .map_err(|e| format!("{}: {e}", tokenizer.display()))?;
    let (n, len) = (enc.len(), enc[0].get_ids().len());
    let column = |f: fn(&tokenizers::Encoding) -> &[u32]| -> Vec<i64> {
        enc.iter()
            .flat_map(|e| f(e).iter().map(|&v| i64::from(v)))
            .collect()
    };
    let (ids, mask, types) = (
        column(tokenizers::Encoding::get_ids),
        column(tokenizers::Encoding::get_attention_mask),
        column(tokenizers::Encoding::get_type_ids),
    );

    let opts = CompileOptions {
        shapes: vec![format!("batch={n}"), format!("sequence={len}")],
        ..CompileOptions::default()
    };
    let session = Session::from_bytes(&compile(&model, &opts)?.encode())?;
    let shape = [n, len];
    let bytes = |v: &[i64]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let (ids_b, mask_b, types_b) = (bytes(&ids), bytes(&mask), bytes(&types));
    let mut inputs = Vec::new();
    for d in session.inputs() {
        let data = match d.name.as_str() {
            "input_ids" => &ids_b,
            "attention_mask" => &mask_b,
            "token_type_ids" => &types_b,
            other => return Err(format!("{}: unexpected input '{other}' (an encoder takes input_ids, attention_mask and token_type_ids)", model.display()).into()),
        };
        inputs.push((
            InputKey::Name(&d.name),
            TensorView::new(DType::I64, &shape, data),
        ));
    }
    let out = session.run(&inputs)?;
    let dim = match out[0].shape[..] {
        [b, s, d] if b == n && s == len => d,
        _ => {
            return Err(format!(
                "{}: first output is {:?}, not [{n}, {len}, hidden]",
                model.display(),
                out[0].shape
            )
            .into())
        }
    };
    let emb = mean_pool_normalize(&f32s(&out[0].data), &mask, n, len, dim)
        .ok_or("hidden state and attention mask sizes disagree")?;

    if let Some(p) = flag(&args, "--save-embeddings") {
        let flat: Vec<f32> = emb.iter().flatten().copied().collect();
        write_npy_f32(p.as_ref(), &[n, dim], &flat).map_err(|e| format!("{p}: {e}"))?;
    }
    println!("{n} sentences ({len} tokens with padding), {dim}-dim embeddings:");
    for (i, s) in sentences.iter().enumerate() {
        println!("  [{i}] {s}");
    }
    println!("cosine similarity:");
    for (i, row) in cosine_matrix(&emb).iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:9.6}")).collect();
        println!("sim {i}: {}", cells.join(" "));
    }
    Ok(())
}
