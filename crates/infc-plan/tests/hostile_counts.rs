//! A count read from a plan never sizes an allocation by itself: a step costs 248 bytes in memory
//! and 9 in the file (name length, tag, frame length), so reserving the count let a sparse 90 MB
//! steps section of zeros ask for 2.5 GB at once (a 1.8 GB sparse plan aborted `infc run` asking
//! for 49.6 GB). Decoders reserve at most `MAX_PREALLOCATION` items and grow as items decode.

use infc_plan::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Records the largest single allocation (this test binary only).
struct Largest;
static LARGEST: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        // SAFETY: forwards the caller's layout to the system allocator unchanged.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from `System.alloc` with this layout (above).
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Largest = Largest;

/// A 5.x file from raw sections (kind, bytes), laid out one after another.
fn build(sections: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let table_at = 48usize;
    let header_len = (table_at + 24 * sections.len()).next_multiple_of(64);
    let mut offsets = vec![];
    let mut at = header_len;
    for (_, s) in sections {
        offsets.push(at);
        at = (at + s.len()).next_multiple_of(64);
    }
    let mut f = vec![0u8; at];
    f[..8].copy_from_slice(MAGIC);
    f[8..10].copy_from_slice(&FORMAT_MAJOR.to_le_bytes());
    f[12..16].copy_from_slice(&(sections.len() as u32).to_le_bytes());
    f[32..40].copy_from_slice(&(header_len as u64).to_le_bytes());
    for (i, ((kind, s), off)) in sections.iter().zip(&offsets).enumerate() {
        let e = table_at + 24 * i;
        f[e..e + 4].copy_from_slice(&kind.to_le_bytes());
        f[e + 8..e + 16].copy_from_slice(&(*off as u64).to_le_bytes());
        f[e + 16..e + 24].copy_from_slice(&(s.len() as u64).to_le_bytes());
        f[*off..*off + s.len()].copy_from_slice(s);
    }
    rewrite_checksum(&mut f);
    f
}

#[test]
fn a_huge_step_count_reserves_no_more_than_the_file_holds() {
    let n: u32 = 2_000_000; // 18 MB of zero "steps"
    let mut steps = n.to_le_bytes().to_vec();
    steps.resize(4 + 9 * n as usize, 0);
    let f = build(&[
        (section::META, vec![0; 8]),
        (section::STEPS, steps),
        (section::MEMORY, vec![0; 28]),
        (
            section::CONST_HASH,
            0xef46_db37_51d8_e999u64.to_le_bytes().to_vec(),
        ),
        (section::CONSTS, vec![]),
    ]);
    LARGEST.store(0, Ordering::Relaxed);
    let err = decode_borrowed(&f, DecodeOptions::default()).unwrap_err();
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= f.len(),
        "decode of a {} byte file made a {largest} byte allocation ({err})",
        f.len()
    );
}
