//! Fuzz target `npy_read`: the CLI's .npy reader on raw bytes.
//! The body is `infc_conformance::fuzz_entry::npy_read`, which `cargo test` replays over
//! `fuzz/regressions/npy_read/` and `fuzz/seeds/npy_read/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| infc_conformance::fuzz_entry::npy_read(data));
