//! Fuzz target `plan_decode`: raw plan bytes (as-is and with the checksum rewritten) -> decode + validate -> re-encode round trip -> session load.
//! The body is `infc_conformance::fuzz_entry::plan_decode`, which `cargo test` replays over
//! `fuzz/regressions/plan_decode/` and `fuzz/seeds/plan_decode/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| infc_conformance::fuzz_entry::plan_decode(data));
