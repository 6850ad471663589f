//! Fuzz target: decoding arbitrary bytes must return `Ok` or `Err`, never panic. Inputs are tried
//! both as-is and with their checksum rewritten, so the structural validators behind the checksum
//! are fuzzed too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = infc_plan::decode(data);
    let mut fixed = data.to_vec();
    infc_plan::rewrite_checksum(&mut fixed);
    if let Ok(plan) = infc_plan::decode(&fixed) {
        // A plan that decodes must re-encode to bytes that decode and re-encode identically
        // (compared as bytes: float payloads may be NaN).
        let bytes = plan.encode();
        let again = infc_plan::decode(&bytes).expect("re-encoded plan decodes");
        assert_eq!(again.encode(), bytes);
    }
});
