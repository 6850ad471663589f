//! Every example program runs on the committed fixtures and prints what it promises.

mod common;

use common::run;

#[test]
fn gpt2_score_prints_five_tokens() {
    let out = run(env!("CARGO_BIN_EXE_gpt2_score"), &["--ids", "1,2,3"]);
    assert!(out.contains("next token after [1, 2, 3]"), "{out}");
    assert_eq!(out.matches("log p = ").count(), 5, "{out}");
    let int8 = run(
        env!("CARGO_BIN_EXE_gpt2_score"),
        &["--ids", "1,2,3", "--int8", "1"],
    );
    assert_eq!(int8.matches("log p = ").count(), 5, "{int8}");
}

#[test]
fn threaded_requests_agree() {
    let out = run(
        env!("CARGO_BIN_EXE_threaded_requests"),
        &["--requests", "3"],
    );
    for t in ["1 thread(s)", "2 thread(s)", "4 thread(s)"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(t))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(line.ends_with("outputs identical: true"), "{line}");
    }
}
