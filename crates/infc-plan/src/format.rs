//! File layout, encoding and decoding.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "INFCPLAN"
//!      8     4  format version (u32 LE)
//!     12     4  section count
//!     16     8  required CPU features (bitmask, see `cpu_features`)
//!     24     8  checksum: xxh64(file[32..], seed = xxh64(file[0..24], 0))
//!     32     8  header length = offset of the first section (multiple of 64)
//!     40     4  producer string length
//!     44     4  reserved (0)
//!     48     …  producer string (UTF-8), zero-padded to 8
//!      …  24·n  section table: n × (kind u32, reserved u32, offset u64, len u64)
//!      …        zero padding to a multiple of 64, then the sections, each starting 64-aligned
//! ```
//!
//! Sections (each exactly once): `META` (inputs, outputs), `STEPS` (count, then per step: name
//! string + tag byte + fields), `MEMORY` (arena size, statistics, offset map) and `CONSTS` (the raw
//! constants blob; every constant 64-byte aligned inside it, and the section itself 64-aligned in
//! the file so an mmap of the file hands out aligned weights). All integers little-endian.

use crate::hash::xxh64;
use crate::step::Step;
use crate::types::{cpu_features, IoDesc, MemoryEntry, MemoryPlan};
use crate::validate::validate;
use crate::wire::{wire_struct, Reader, Wire, Writer};
use crate::PlanError;

pub const MAGIC: &[u8; 8] = b"INFCPLAN";
pub const FORMAT_VERSION: u32 = 4;
const FIXED_HEADER: usize = 48;
const SECTION_ENTRY: usize = 24;
const MAX_PRODUCER: usize = 1024;

/// Section kinds.
pub mod section {
    pub const META: u32 = 1;
    pub const STEPS: u32 = 2;
    pub const MEMORY: u32 = 3;
    pub const CONSTS: u32 = 4;
    pub fn name(kind: u32) -> &'static str {
        match kind {
            META => "meta",
            STEPS => "steps",
            MEMORY => "memory",
            CONSTS => "constants",
            _ => "unknown",
        }
    }
}

wire_struct!(IoDesc {
    name,
    dtype,
    shape,
    at
});
wire_struct!(MemoryEntry {
    name,
    offset,
    size,
    first_step,
    last_step
});
wire_struct!(MemoryPlan {
    arena_bytes,
    intermediates_bytes,
    lower_bound_bytes,
    entries
});

/// Everything in a plan except the constants blob.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanBody {
    /// Who wrote the plan (e.g. `infc 0.1.0`).
    pub producer: String,
    /// `cpu_features` bits the plan cannot run without.
    pub required_features: u64,
    pub inputs: Vec<IoDesc>,
    pub outputs: Vec<IoDesc>,
    pub steps: Vec<Step>,
    /// One label per step (the IR node it came from), for errors and profiles.
    pub step_names: Vec<String>,
    pub memory: MemoryPlan,
}

/// A complete plan: body plus owned constants blob.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub body: PlanBody,
    pub consts: Vec<u8>,
}

/// How strictly to decode. `verify_checksum: false` exists so tests (and fuzzing) can reach the
/// structural validators behind the checksum; real loads always verify.
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    pub verify_checksum: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            verify_checksum: true,
        }
    }
}

fn section_bytes(body: &PlanBody) -> [Vec<u8>; 3] {
    let mut meta = Writer::new();
    body.inputs.put(&mut meta);
    body.outputs.put(&mut meta);
    let mut steps = Writer::new();
    steps.u32(body.steps.len() as u32);
    for (i, s) in body.steps.iter().enumerate() {
        body.step_names
            .get(i)
            .cloned()
            .unwrap_or_default()
            .put(&mut steps);
        s.put(&mut steps);
    }
    let mut memory = Writer::new();
    body.memory.put(&mut memory);
    [meta.buf, steps.buf, memory.buf]
}

/// Checksum of a whole file image (bytes 24..32 — the checksum itself — excluded).
pub fn checksum(file: &[u8]) -> u64 {
    let head = &file[..24.min(file.len())];
    let tail = if file.len() > 32 {
        &file[32..]
    } else {
        &[][..]
    };
    xxh64(tail, xxh64(head, 0))
}

/// Recompute and store the checksum of a file image (test and tooling hook).
pub fn rewrite_checksum(file: &mut [u8]) {
    if file.len() >= 32 {
        let c = checksum(file);
        file[24..32].copy_from_slice(&c.to_le_bytes());
    }
}

impl Plan {
    /// Serialize to the file layout described in the module docs.
    pub fn encode(&self) -> Vec<u8> {
        let [meta, steps, memory] = section_bytes(&self.body);
        let producer = self.body.producer.as_bytes();
        let producer = &producer[..producer.len().min(MAX_PRODUCER)];
        let sections: [(u32, &[u8]); 4] = [
            (section::META, &meta),
            (section::STEPS, &steps),
            (section::MEMORY, &memory),
            (section::CONSTS, &self.consts),
        ];
        let table_at = (FIXED_HEADER + producer.len()).next_multiple_of(8);
        let header_len = (table_at + SECTION_ENTRY * sections.len()).next_multiple_of(64);
        let mut offsets = Vec::with_capacity(sections.len());
        let mut at = header_len;
        for (_, s) in &sections {
            offsets.push(at);
            at = (at + s.len()).next_multiple_of(64);
        }
        let mut w = Writer {
            buf: Vec::with_capacity(at),
        };
        w.bytes(MAGIC);
        w.u32(FORMAT_VERSION);
        w.u32(sections.len() as u32);
        w.u64(self.body.required_features);
        w.u64(0);
        w.u64(header_len as u64);
        w.u32(producer.len() as u32);
        w.u32(0);
        w.bytes(producer);
        w.pad_to(8);
        for ((kind, s), off) in sections.iter().zip(&offsets) {
            w.u32(*kind);
            w.u32(0);
            w.u64(*off as u64);
            w.u64(s.len() as u64);
        }
        w.pad_to(64);
        for (_, s) in &sections {
            w.bytes(s);
            w.pad_to(64);
        }
        rewrite_checksum(&mut w.buf);
        w.buf
    }

    /// Encode and write to `out`.
    pub fn write_to(&self, out: &mut impl std::io::Write) -> Result<(), PlanError> {
        out.write_all(&self.encode())
            .map_err(|e| PlanError::Write(e.to_string()))
    }
}

/// Decode and fully validate a plan, copying the constants blob.
pub fn decode(bytes: &[u8]) -> Result<Plan, PlanError> {
    let (body, consts) = decode_borrowed(bytes, DecodeOptions::default())?;
    Ok(Plan {
        body,
        consts: consts.to_vec(),
    })
}

/// Decode and fully validate a plan; the constants blob is returned as a slice of `bytes` (no copy).
pub fn decode_borrowed(bytes: &[u8], opts: DecodeOptions) -> Result<(PlanBody, &[u8]), PlanError> {
    let file_len = bytes.len() as u64;
    let need = |what: &str, start: usize, end: usize| -> Result<(), PlanError> {
        if end > bytes.len() {
            return Err(PlanError::Truncated {
                what: what.into(),
                start: start as u64,
                end: end as u64,
                len: file_len,
            });
        }
        Ok(())
    };
    need("magic", 0, 8)?;
    if &bytes[..8] != MAGIC {
        return Err(PlanError::BadMagic {
            found: bytes[..8].to_vec(),
        });
    }
    need("header", 8, FIXED_HEADER)?;
    let mut h = Reader::new(&bytes[8..FIXED_HEADER], "header");
    let version = h.u32()?;
    if version != FORMAT_VERSION {
        return Err(PlanError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let n_sections = h.u32()? as usize;
    let required_features = h.u64()?;
    let stored = h.u64()?;
    let header_len = h.u64()?;
    let producer_len = h.u32()? as usize;
    let _reserved = h.u32()?;
    if opts.verify_checksum {
        let computed = checksum(bytes);
        if computed != stored {
            return Err(PlanError::Checksum { stored, computed });
        }
    }
    if required_features & !cpu_features::KNOWN != 0 {
        return Err(PlanError::Section(format!(
            "unknown required CPU feature bits {required_features:#x}"
        )));
    }
    if producer_len > MAX_PRODUCER {
        return Err(PlanError::Section(format!(
            "producer string length {producer_len} exceeds {MAX_PRODUCER}"
        )));
    }
    if n_sections != 4 {
        return Err(PlanError::Section(format!(
            "expected 4 sections, header says {n_sections}"
        )));
    }
    need("producer string", FIXED_HEADER, FIXED_HEADER + producer_len)?;
    let producer = String::from_utf8(bytes[FIXED_HEADER..FIXED_HEADER + producer_len].to_vec())
        .map_err(|_| PlanError::Section("producer string is not UTF-8".into()))?;
    let table_at = (FIXED_HEADER + producer_len).next_multiple_of(8);
    let table_end = table_at + n_sections * SECTION_ENTRY;
    need("section table", table_at, table_end)?;
    if header_len % 64 != 0 || header_len < table_end as u64 || header_len > file_len {
        return Err(PlanError::Section(format!(
            "header length {header_len} is not a multiple of 64 in {table_end}..={file_len}"
        )));
    }
    let mut t = Reader::new(&bytes[table_at..table_end], "section table");
    let mut found: [Option<(u64, u64)>; 4] = [None; 4];
    for i in 0..n_sections {
        let kind = t.u32()?;
        let _reserved = t.u32()?;
        let offset = t.u64()?;
        let len = t.u64()?;
        let slot = match kind {
            section::META..=section::CONSTS => (kind - 1) as usize,
            _ => {
                return Err(PlanError::Section(format!(
                    "entry {i}: unknown section kind {kind}"
                )))
            }
        };
        let name = section::name(kind);
        if found[slot].is_some() {
            return Err(PlanError::Section(format!("section {name} appears twice")));
        }
        let end = offset.checked_add(len).ok_or_else(|| {
            PlanError::Section(format!("section {name}: offset {offset}+{len} overflows"))
        })?;
        if offset < header_len || end > file_len {
            return Err(PlanError::Truncated {
                what: format!("section {name}"),
                start: offset,
                end,
                len: file_len,
            });
        }
        if offset % 64 != 0 {
            return Err(PlanError::Section(format!(
                "section {name} starts at {offset}, not 64-byte aligned"
            )));
        }
        found[slot] = Some((offset, end));
    }
    let mut ranges: Vec<(u64, u64, u32)> = Vec::with_capacity(4);
    for (i, f) in found.iter().enumerate() {
        let (s, e) = f.ok_or_else(|| {
            PlanError::Section(format!("section {} missing", section::name(i as u32 + 1)))
        })?;
        ranges.push((s, e, i as u32 + 1));
    }
    ranges.sort_unstable();
    for w in ranges.windows(2) {
        if w[0].1 > w[1].0 {
            return Err(PlanError::Section(format!(
                "sections {} and {} overlap",
                section::name(w[0].2),
                section::name(w[1].2)
            )));
        }
    }
    let slice = |slot: usize| {
        let (s, e) = found[slot].expect("checked above");
        &bytes[s as usize..e as usize]
    };

    let mut r = Reader::new(slice(0), "meta");
    let inputs = Vec::<IoDesc>::get(&mut r)?;
    let outputs = Vec::<IoDesc>::get(&mut r)?;
    r.finish()?;

    let mut r = Reader::new(slice(1), "steps");
    let n_steps = r.count(5)?;
    let mut steps = Vec::with_capacity(n_steps);
    let mut step_names = Vec::with_capacity(n_steps);
    for _ in 0..n_steps {
        step_names.push(String::get(&mut r)?);
        steps.push(Step::get(&mut r)?);
    }
    r.finish()?;

    let mut r = Reader::new(slice(2), "memory");
    let memory = MemoryPlan::get(&mut r)?;
    r.finish()?;

    let consts = slice(3);
    let body = PlanBody {
        producer,
        required_features,
        inputs,
        outputs,
        steps,
        step_names,
        memory,
    };
    validate(&body, consts.len() as u64)?;
    Ok((body, consts))
}
