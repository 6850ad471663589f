//! Fuzz target `plan_run`: structure-aware: a checksum-valid plan generated from the bytes (random steps of every kind) -> decode, validate, load and run.
//! The body is `infc_conformance::fuzz_entry::plan_run`, which `cargo test` replays over
//! `fuzz/regressions/plan_run/` and `fuzz/seeds/plan_run/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| infc_conformance::fuzz_entry::plan_run(data));
