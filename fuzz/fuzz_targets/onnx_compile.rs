//! Fuzz target `onnx_compile`: ONNX bytes -> import -> bind symbolic dims -> -O3 -> compile -> encode; the plan must decode.
//! The body is `infc_conformance::fuzz_entry::onnx_compile`, which `cargo test` replays over
//! `fuzz/regressions/onnx_compile/` and `fuzz/seeds/onnx_compile/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| infc_conformance::fuzz_entry::onnx_compile(data));
