//! sentence_embeddings on the committed tiny BERT and tokenizer: the embeddings it saves match
//! PyTorch's (committed by `examples/data/make_minilm.py`), the printed similarity matrix is
//! theirs, and a bad tokenizer path fails with a message naming it.

mod common;

use common::{read_npy_f32, repo, run, run_failing};

const EXE: &str = env!("CARGO_BIN_EXE_sentence_embeddings");

/// The rows of the printed `sim <i>: ...` matrix.
fn similarities(out: &str) -> Vec<Vec<f32>> {
    out.lines()
        .filter_map(|l| l.strip_prefix("sim ")?.split_once(": "))
        .map(|(_, row)| row.split_whitespace().map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn embeddings_match_pytorch() {
    let saved = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sentence_embeddings.npy");
    let out = run(EXE, &["--save-embeddings", saved.to_str().unwrap()]);
    assert!(
        out.contains("6 sentences (16 tokens with padding), 32-dim"),
        "{out}"
    );
    assert!(out.contains("[5] Un café crème, s'il vous plaît!"), "{out}");
    let (shape, got) = read_npy_f32(&saved);
    let (want_shape, want) =
        read_npy_f32(&repo("examples/data/minilm_tiny/expected_embeddings.npy"));
    assert_eq!(
        (shape.as_slice(), want_shape.as_slice()),
        (&[6, 32][..], &[6, 32][..])
    );
    for (i, (g, w)) in got.chunks(32).zip(want.chunks(32)).enumerate() {
        let dot: f32 = g.iter().zip(w).map(|(a, b)| a * b).sum();
        let max = g
            .iter()
            .zip(w)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            dot > 0.99999 && max < 1e-4,
            "sentence {i}: cosine {dot}, max |diff| {max}"
        );
    }
    let sim = similarities(&out);
    assert_eq!(sim.len(), 6, "{out}");
    for (i, row) in sim.iter().enumerate() {
        for (j, &s) in row.iter().enumerate() {
            let w: f32 = want[i * 32..][..32]
                .iter()
                .zip(&want[j * 32..][..32])
                .map(|(a, b)| a * b)
                .sum();
            assert!((s - w).abs() < 1e-5, "sim[{i}][{j}] = {s}, PyTorch {w}");
        }
    }
}

#[test]
fn sentences_from_arguments() {
    let out = run(EXE, &["A man is eating food.", "A man is riding a horse."]);
    assert!(out.contains("2 sentences (9 tokens with padding)"), "{out}");
    let sim = similarities(&out);
    assert_eq!(sim.len(), 2);
    assert!(
        (sim[0][0] - 1.0).abs() < 1e-5 && (sim[0][1] - sim[1][0]).abs() < 1e-6,
        "{out}"
    );
    // Padding to 9 tokens instead of 16 changes nothing: PyTorch's sentences 0 and 3.
    let (_, want) = read_npy_f32(&repo("examples/data/minilm_tiny/expected_embeddings.npy"));
    let w: f32 = want[..32]
        .iter()
        .zip(&want[3 * 32..][..32])
        .map(|(a, b)| a * b)
        .sum();
    assert!((sim[0][1] - w).abs() < 1e-5, "{} vs {w}", sim[0][1]);
}

#[test]
fn missing_tokenizer_is_named() {
    let err = run_failing(EXE, &["--tokenizer", "no/such/tokenizer.json"]);
    assert!(err.contains("no/such/tokenizer.json"), "{err}");
}
