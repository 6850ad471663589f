//! File layout, encoding and decoding.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "INFCPLAN"
//!      8     2  format major version (a reader refuses any other major)
//!     10     2  format minor version (a reader takes any minor of its major)
//!     12     4  section count
//!     16     8  required CPU features (bitmask, see `cpu_features`)
//!     24     8  checksum: xxh64 of the file without this field and without the `CONSTS`
//!               section's bytes (see [`checksum`])
//!     32     8  header length = offset of the first section (multiple of 64)
//!     40     4  producer string length
//!     44     4  reserved (0)
//!     48     …  producer string (UTF-8), zero-padded to 8
//!      …  24·n  section table: n × (kind u32, flags u32, offset u64, len u64)
//!      …        zero padding to a multiple of 64, then the sections, each starting 64-aligned
//! ```
//!
//! Sections: `META` (inputs, outputs), `STEPS` (count, then per step: name string + tag byte +
//! fields), `MEMORY` (arena size, statistics, offset map), `CONST_HASH` (xxh64 of the constants)
//! and `CONSTS` (the raw constants blob; every constant 64-byte aligned inside it, and the section
//! itself 64-aligned in the file so an mmap of the file hands out aligned weights), each exactly
//! once. All integers little-endian.
//!
//! Compatibility: a section whose flags have [`section::OPTIONAL`] set may be unknown to a reader,
//! which skips it (bounds still checked, bytes still under the checksum); an unknown section
//! without the flag, or another major version, is refused with a message saying to recompile.
//! A new minor version may add section kinds: optional ones for what a reader may ignore,
//! required ones for what it must honour, written only by plans that use the feature, so a plan
//! that does not is still read by every reader of its major.
//!
//! Room for what comes next, reserved now so that it lands as 5.x minors (see ARCHITECTURE.md):
//! - (landed in 5.2) range plans: a required [`section::SYMBOLS`] holding the plan's symbols with
//!   their ranges, dim expressions and the fields they patch (`symbols.rs`); STEPS and META hold
//!   the plan at its max shape; (landed in 5.4) a required [`section::ARENA`] beside it makes the
//!   arena per shape (`shape_arena.rs`), STEPS and META then holding the plan at a nominal shape;
//! - several programs sharing the constants (prefill and decode): a required
//!   [`section::PROGRAMS`], META and STEPS being program 0;
//! - persistent state regions that outlive a run (a KV cache): a required [`section::STATE`]
//!   and tensor references with region code 2 (refused by this build).
//!
//! Load cost: the checksum covers everything but the constants, so decoding reads O(steps) bytes
//! and never touches a weight page; the constants are checked against `CONST_HASH` only when
//! [`DecodeOptions::verify_weights`] is set (`infc verify`, `infc run --verify`, [`decode`]).

use crate::shape_arena::ShapeArena;
use crate::step::Step;
use crate::symbols::RangeTable;
use crate::types::{cpu_features, IoDesc, MemoryEntry, MemoryPlan};
use crate::validate::validate;
use crate::wire::{wire_struct, Reader, Wire, Writer};
use crate::PlanError;
use xxhash_rust::xxh64::{xxh64, Xxh64};

pub const MAGIC: &[u8; 8] = b"INFCPLAN";
/// Major version this build writes and reads. 5: versions split major/minor, checksum without
/// the constants, `CONST_HASH`, section flags.
pub const FORMAT_MAJOR: u16 = 5;
/// Minor version this build writes (it reads every minor of [`FORMAT_MAJOR`]). 1: unary Sin
/// and Cos (`UnaryKind` 16 and 17). 2: range plans (section `SYMBOLS`, written only by them).
/// 3: the CumSum and RmsNorm steps (tags 20 and 21). 4: per-shape arenas of range plans
/// (section `ARENA`, written only by them).
pub const FORMAT_MINOR: u16 = 4;
const FIXED_HEADER: usize = 48;
const SECTION_ENTRY: usize = 24;
const MAX_PRODUCER: usize = 1024;
/// Most section table entries a reader walks (known sections plus room for optional ones).
const MAX_SECTIONS: usize = 64;

/// Section kinds and flags.
pub mod section {
    pub const META: u32 = 1;
    pub const STEPS: u32 = 2;
    pub const MEMORY: u32 = 3;
    pub const CONSTS: u32 = 4;
    pub const CONST_HASH: u32 = 5;
    /// Optional: the plan's provenance (`PlanBody::provenance`).
    pub const PROVENANCE: u32 = 6;
    /// Range plans (5.2): the plan's symbols (name, min, max), a table of dim expressions over
    /// them and the numeric fields each patches ([`crate::RangeTable`]). Required, written only
    /// by range plans.
    pub const SYMBOLS: u32 = 7;
    /// Reserved (generation): programs after the first (name, inputs, outputs, steps), sharing
    /// the plan's constants, state and arena: a decode program beside the prefill one. META and
    /// STEPS are program 0.
    pub const PROGRAMS: u32 = 8;
    /// Reserved (generation): persistent state regions (name, dtype, dims, bytes) that outlive a
    /// run, such as a KV cache, addressed by [`crate::Region`] code 2.
    pub const STATE: u32 = 9;
    /// Range plans with a per-shape arena (5.4): every arena buffer's size as an expression and
    /// live interval, and the offset fields each buffer holds ([`crate::ShapeArena`]); STEPS,
    /// META and MEMORY hold the plan at the table's nominal shape. Required, written only with
    /// [`SYMBOLS`].
    pub const ARENA: u32 = 10;
    /// Every section this build requires, in the order it writes them.
    pub const REQUIRED: [u32; 5] = [META, STEPS, MEMORY, CONST_HASH, CONSTS];
    /// Flag bit: a reader that does not know the section's kind may skip it.
    pub const OPTIONAL: u32 = 1;
    /// Reserved bit of a u64 dim, stride or size field (no 5.x field may exceed `MAX_ELEMENTS`,
    /// so it is free); refused with its own message. Range plans patch fields through the
    /// [`SYMBOLS`] table instead, which also reaches signed strides.
    pub const SYMBOLIC_DIM: u64 = 1 << 63;

    /// The section kinds this build reads (the rest are skipped when optional, else refused).
    pub fn known(kind: u32) -> bool {
        REQUIRED.contains(&kind) || kind == PROVENANCE || kind == SYMBOLS || kind == ARENA
    }

    pub fn name(kind: u32) -> &'static str {
        match kind {
            META => "meta",
            STEPS => "steps",
            MEMORY => "memory",
            CONSTS => "constants",
            CONST_HASH => "constants hash",
            PROVENANCE => "provenance",
            SYMBOLS => "symbols",
            ARENA => "arena",
            PROGRAMS => "programs",
            STATE => "state",
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
    /// Where the plan came from, as `(key, value)` pairs in the order written (the CLI writes
    /// source, source_bytes, source_xxh64, flags, target). Stored in the optional
    /// `PROVENANCE` section; informative only, never read by a run.
    pub provenance: Vec<(String, String)>,
    /// A range plan's symbols, expressions and patches (section `SYMBOLS`); `None` for a plan
    /// of one shape. The rest of the body is the plan at the max shape.
    pub range: Option<RangeTable>,
}

/// A complete plan: body plus owned constants blob.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub body: PlanBody,
    pub consts: Vec<u8>,
}

/// How strictly to decode. `verify_checksum: false` exists so tests (and fuzzing) can reach the
/// structural validators behind the checksum; real loads always verify it. `verify_weights` also
/// hashes the constants (the whole file's size in reads) against the `CONST_HASH` section.
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    pub verify_checksum: bool,
    pub verify_weights: bool,
}

impl Default for DecodeOptions {
    /// Checksum verified, weights not (O(steps) load).
    fn default() -> Self {
        DecodeOptions {
            verify_checksum: true,
            verify_weights: false,
        }
    }
}

/// One section table entry as read.
#[derive(Clone, Copy, Debug)]
struct Entry {
    kind: u32,
    offset: u64,
    end: u64,
}

fn provenance_bytes(pairs: &[(String, String)]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(pairs.len() as u32);
    for (k, v) in pairs {
        k.put(&mut w);
        v.put(&mut w);
    }
    w.buf
}

fn read_provenance(bytes: &[u8]) -> Result<Vec<(String, String)>, PlanError> {
    let mut r = Reader::new(bytes, "provenance");
    let n = r.count(8)?;
    let mut pairs = Vec::with_capacity(crate::wire::preallocation(n));
    for _ in 0..n {
        pairs.push((String::get(&mut r)?, String::get(&mut r)?));
    }
    r.finish()?;
    Ok(pairs)
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

/// The header fields every reader needs before the section table.
struct Header {
    major: u16,
    minor: u16,
    n_sections: usize,
    required_features: u64,
    stored_checksum: u64,
    header_len: u64,
    producer_len: usize,
}

fn read_header(bytes: &[u8]) -> Result<Header, PlanError> {
    let mut h = Reader::new(&bytes[8..FIXED_HEADER], "header");
    let major = h.u16()?;
    let minor = h.u16()?;
    let n_sections = h.u32()? as usize;
    let required_features = h.u64()?;
    let stored_checksum = h.u64()?;
    let header_len = h.u64()?;
    let producer_len = h.u32()? as usize;
    let _reserved = h.u32()?;
    Ok(Header {
        major,
        minor,
        n_sections,
        required_features,
        stored_checksum,
        header_len,
        producer_len,
    })
}

/// xxh64 of the file without the checksum field (bytes 24..32) and without the bytes of the first
/// `CONSTS` entry: header, table, every other section and all padding. `entries` and
/// `header_len` must lie within `file`.
fn checksum_of(file: &[u8], entries: &[Entry]) -> u64 {
    let mut h = Xxh64::new(0);
    h.update(&file[..24]);
    match entries.iter().find(|e| e.kind == section::CONSTS) {
        Some(c) => {
            h.update(&file[32..c.offset as usize]);
            h.update(&file[c.end as usize..]);
        }
        None => h.update(&file[32..]),
    }
    h.digest()
}

/// Checksum of a file image (bytes 24..32, the checksum itself, excluded): everything but the
/// constants section's bytes. An image whose header or table does not parse is
/// hashed whole (after the checksum field), so this never fails; [`decode_borrowed`] refuses such
/// an image on its structure anyway.
pub fn checksum(file: &[u8]) -> u64 {
    let whole = |file: &[u8]| {
        let mut h = Xxh64::new(0);
        h.update(&file[..24.min(file.len())]);
        h.update(file.get(32..).unwrap_or(&[]));
        h.digest()
    };
    if file.len() < FIXED_HEADER {
        return whole(file);
    }
    match read_header(file).and_then(|h| section_table(file, &h)) {
        Ok((_, entries)) => checksum_of(file, &entries),
        Err(_) => whole(file),
    }
}

/// Recompute and store the checksum of a file image (test and tooling hook).
pub fn rewrite_checksum(file: &mut [u8]) {
    if file.len() >= 32 {
        let c = checksum(file);
        file[24..32].copy_from_slice(&c.to_le_bytes());
    }
}

/// Read and bounds-check the section table: the header length, and each entry inside the file,
/// 64-aligned, after the header; no two overlap. Kinds are not checked here.
fn section_table(bytes: &[u8], h: &Header) -> Result<(usize, Vec<Entry>), PlanError> {
    let file_len = bytes.len() as u64;
    if h.producer_len > MAX_PRODUCER {
        return Err(PlanError::Section(format!(
            "producer string length {} exceeds {MAX_PRODUCER}",
            h.producer_len
        )));
    }
    if h.n_sections > MAX_SECTIONS {
        return Err(PlanError::Section(format!(
            "{} sections, more than the {MAX_SECTIONS} a plan may have",
            h.n_sections
        )));
    }
    let table_at = (FIXED_HEADER + h.producer_len).next_multiple_of(8);
    let table_end = table_at + h.n_sections * SECTION_ENTRY;
    truncated_unless("section table", table_at, table_end, bytes.len())?;
    let header_len = h.header_len;
    if !header_len.is_multiple_of(64) || header_len < table_end as u64 || header_len > file_len {
        return Err(PlanError::Section(format!(
            "header length {header_len} is not a multiple of 64 in {table_end}..={file_len}"
        )));
    }
    let mut t = Reader::new(&bytes[table_at..table_end], "section table");
    let mut entries = Vec::with_capacity(h.n_sections);
    for i in 0..h.n_sections {
        let kind = t.u32()?;
        let flags = t.u32()?;
        let offset = t.u64()?;
        let len = t.u64()?;
        let name = match section::name(kind) {
            "unknown" => format!("entry {i} (kind {kind})"),
            n => n.to_string(),
        };
        if flags & !section::OPTIONAL != 0 {
            return Err(PlanError::Section(format!(
                "section {name}: unknown flags {flags:#x}"
            )));
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
        if !offset.is_multiple_of(64) {
            return Err(PlanError::Section(format!(
                "section {name} starts at {offset}, not 64-byte aligned"
            )));
        }
        if !section::known(kind) && flags & section::OPTIONAL == 0 {
            let what = match section::name(kind) {
                "unknown" => String::new(),
                n => format!(" ({n}, reserved for a later {FORMAT_MAJOR}.x)"),
            };
            return Err(PlanError::Section(format!(
                "section kind {kind}{what} is required by this plan but unknown to this infc (plan \
                 format {}.{}, this infc reads {FORMAT_MAJOR}.x up to {FORMAT_MAJOR}.{FORMAT_MINOR}): \
                 use a newer infc or recompile the model with this one",
                h.major, h.minor
            )));
        }
        entries.push(Entry { kind, offset, end });
    }
    let mut by_offset: Vec<&Entry> = entries.iter().collect();
    by_offset.sort_unstable_by_key(|e| (e.offset, e.end));
    for w in by_offset.windows(2) {
        if w[0].end > w[1].offset {
            return Err(PlanError::Section(format!(
                "sections {} and {} overlap",
                section::name(w[0].kind),
                section::name(w[1].kind)
            )));
        }
    }
    Ok((header_len as usize, entries))
}

fn truncated_unless(what: &str, start: usize, end: usize, len: usize) -> Result<(), PlanError> {
    if end > len {
        return Err(PlanError::Truncated {
            what: what.into(),
            start: start as u64,
            end: end as u64,
            len: len as u64,
        });
    }
    Ok(())
}

impl Plan {
    /// Serialize to the file layout described in the module docs.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with_sections(&[])
    }

    /// Encode and write to `path` (created, or truncated and rewritten).
    pub fn write(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        std::fs::write(path, self.encode())
    }

    /// [`Plan::encode`] plus extra sections `(kind, flags, bytes)` after the required ones (for
    /// tests of readers facing sections they do not know).
    #[doc(hidden)]
    pub fn encode_with_sections(&self, extra: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let [meta, steps, memory] = section_bytes(&self.body);
        let const_hash = xxh64(&self.consts, 0).to_le_bytes();
        let provenance = provenance_bytes(&self.body.provenance);
        let producer = self.body.producer.as_bytes();
        let producer = &producer[..producer.len().min(MAX_PRODUCER)];
        let mut sections: Vec<(u32, u32, &[u8])> = vec![
            (section::META, 0, &meta),
            (section::STEPS, 0, &steps),
            (section::MEMORY, 0, &memory),
            (section::CONST_HASH, 0, &const_hash),
            (section::CONSTS, 0, &self.consts),
            (section::PROVENANCE, section::OPTIONAL, &provenance),
        ];
        let symbols = self.body.range.as_ref().map(RangeTable::to_bytes);
        if let Some(b) = &symbols {
            sections.push((section::SYMBOLS, 0, b));
        }
        let arena = self
            .body
            .range
            .as_ref()
            .and_then(|r| r.arena.as_ref())
            .map(ShapeArena::to_bytes);
        if let Some(b) = &arena {
            sections.push((section::ARENA, 0, b));
        }
        sections.extend_from_slice(extra);
        let table_at = (FIXED_HEADER + producer.len()).next_multiple_of(8);
        let header_len = (table_at + SECTION_ENTRY * sections.len()).next_multiple_of(64);
        let mut offsets = Vec::with_capacity(sections.len());
        let mut at = header_len;
        for (_, _, s) in &sections {
            offsets.push(at);
            at = (at + s.len()).next_multiple_of(64);
        }
        let mut w = Writer {
            buf: Vec::with_capacity(at),
            numeric: None,
        };
        w.bytes(MAGIC);
        w.u16(FORMAT_MAJOR);
        w.u16(FORMAT_MINOR);
        w.u32(sections.len() as u32);
        w.u64(self.body.required_features);
        w.u64(0);
        w.u64(header_len as u64);
        w.u32(producer.len() as u32);
        w.u32(0);
        w.bytes(producer);
        w.pad_to(8);
        for ((kind, flags, s), off) in sections.iter().zip(&offsets) {
            w.u32(*kind);
            w.u32(*flags);
            w.u64(*off as u64);
            w.u64(s.len() as u64);
        }
        w.pad_to(64);
        // Padding between sections only: the file ends with the last section's last byte, so
        // a truncated file always cuts a section.
        for (i, (_, _, s)) in sections.iter().enumerate() {
            if i > 0 {
                w.pad_to(64);
            }
            w.bytes(s);
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

/// Decode and fully validate a plan, weights hash included, copying the constants blob.
pub fn decode(bytes: &[u8]) -> Result<Plan, PlanError> {
    let opts = DecodeOptions {
        verify_weights: true,
        ..DecodeOptions::default()
    };
    let (body, consts) = decode_borrowed(bytes, opts)?;
    Ok(Plan {
        body,
        consts: consts.to_vec(),
    })
}

/// Decode and fully validate a plan; the constants blob is returned as a slice of `bytes` (no copy,
/// and not read unless `opts.verify_weights`).
pub fn decode_borrowed(bytes: &[u8], opts: DecodeOptions) -> Result<(PlanBody, &[u8]), PlanError> {
    truncated_unless("magic", 0, 8, bytes.len())?;
    if &bytes[..8] != MAGIC {
        return Err(PlanError::BadMagic {
            found: bytes[..8].to_vec(),
        });
    }
    truncated_unless("header", 8, FIXED_HEADER, bytes.len())?;
    let h = read_header(bytes)?;
    if h.major != FORMAT_MAJOR {
        return Err(PlanError::UnsupportedVersion {
            found: format!("{}.{}", h.major, h.minor),
            supported: format!("{FORMAT_MAJOR}.x (writes {FORMAT_MAJOR}.{FORMAT_MINOR})"),
        });
    }
    let (_, entries) = section_table(bytes, &h)?;
    if opts.verify_checksum {
        let computed = checksum_of(bytes, &entries);
        if computed != h.stored_checksum {
            return Err(PlanError::Checksum {
                stored: h.stored_checksum,
                computed,
            });
        }
    }
    let required_features = h.required_features;
    if required_features & !cpu_features::KNOWN != 0 {
        return Err(PlanError::Section(format!(
            "unknown required CPU feature bits {required_features:#x}"
        )));
    }
    truncated_unless(
        "producer string",
        FIXED_HEADER,
        FIXED_HEADER + h.producer_len,
        bytes.len(),
    )?;
    let producer = String::from_utf8(bytes[FIXED_HEADER..FIXED_HEADER + h.producer_len].to_vec())
        .map_err(|_| PlanError::Section("producer string is not UTF-8".into()))?;
    let mut found: [Option<Entry>; 5] = [None; 5];
    let mut provenance: Option<Vec<(String, String)>> = None;
    let mut symbols: Option<&[u8]> = None;
    let mut arena: Option<&[u8]> = None;
    for e in &entries {
        if e.kind == section::ARENA {
            if arena.is_some() {
                return Err(PlanError::Section("section arena appears twice".into()));
            }
            arena = Some(&bytes[e.offset as usize..e.end as usize]);
            continue;
        }
        if e.kind == section::SYMBOLS {
            if symbols.is_some() {
                return Err(PlanError::Section("section symbols appears twice".into()));
            }
            symbols = Some(&bytes[e.offset as usize..e.end as usize]);
            continue;
        }
        if e.kind == section::PROVENANCE {
            if provenance.is_some() {
                return Err(PlanError::Section(
                    "section provenance appears twice".into(),
                ));
            }
            // Informative and optional: a provenance this reader cannot parse (a later minor may
            // extend it) reads as empty rather than making the plan unloadable.
            let section = &bytes[e.offset as usize..e.end as usize];
            provenance = Some(read_provenance(section).unwrap_or_default());
            continue;
        }
        let Some(slot) = section::REQUIRED.iter().position(|&k| k == e.kind) else {
            continue; // an optional section this build does not know
        };
        if found[slot].is_some() {
            return Err(PlanError::Section(format!(
                "section {} appears twice",
                section::name(e.kind)
            )));
        }
        found[slot] = Some(*e);
    }
    let mut sections: [&[u8]; 5] = [&[]; 5];
    for (slot, f) in found.iter().enumerate() {
        let e = f.ok_or_else(|| {
            PlanError::Section(format!(
                "section {} missing",
                section::name(section::REQUIRED[slot])
            ))
        })?;
        sections[slot] = &bytes[e.offset as usize..e.end as usize];
    }
    let [meta, steps, memory, const_hash, consts] = sections;
    let slice = |slot: usize| [meta, steps, memory][slot];
    let mut r = Reader::new(const_hash, "constants hash");
    let stored_weights = r.u64()?;
    r.finish()?;
    if opts.verify_weights {
        let computed = xxh64(consts, 0);
        if computed != stored_weights {
            return Err(PlanError::WeightsHash {
                stored: stored_weights,
                computed,
            });
        }
    }

    let body = decode_body(
        producer,
        required_features,
        provenance,
        [slice(0), slice(1), slice(2)],
    )
    .and_then(|mut body| {
        validate(&body, consts.len() as u64)?;
        if arena.is_some() && symbols.is_none() {
            return Err(PlanError::Section(
                "section arena without section symbols".into(),
            ));
        }
        if let Some(bytes) = symbols {
            let mut table = RangeTable::from_bytes(bytes)?;
            table.arena = arena.map(ShapeArena::from_bytes).transpose()?;
            table.check(&body)?;
            table.check_against(&body)?;
            body.range = Some(table);
        }
        Ok(body)
    });
    match body {
        Ok(body) => Ok((body, consts)),
        // A later minor's plan may use enum values or step kinds this reader lacks.
        Err(cause) if h.minor > FORMAT_MINOR => Err(PlanError::Newer {
            plan: format!("{}.{}", h.major, h.minor),
            reader: format!("{FORMAT_MAJOR}.{FORMAT_MINOR}"),
            cause: Box::new(cause),
        }),
        Err(e) => Err(e),
    }
}

/// The META, STEPS and MEMORY sections decoded into a body (not validated).
fn decode_body(
    producer: String,
    required_features: u64,
    provenance: Option<Vec<(String, String)>>,
    [meta, steps, memory]: [&[u8]; 3],
) -> Result<PlanBody, PlanError> {
    let mut r = Reader::new(meta, "meta");
    let inputs = Vec::<IoDesc>::get(&mut r)?;
    let outputs = Vec::<IoDesc>::get(&mut r)?;
    r.finish()?;

    let mut r = Reader::new(steps, "steps");
    let n_steps = r.count(4 + Step::MIN_BYTES)?;
    let mut steps = Vec::with_capacity(crate::wire::preallocation(n_steps));
    let mut step_names = Vec::with_capacity(crate::wire::preallocation(n_steps));
    for _ in 0..n_steps {
        step_names.push(String::get(&mut r)?);
        steps.push(Step::get(&mut r)?);
    }
    r.finish()?;

    let mut r = Reader::new(memory, "memory");
    let memory = MemoryPlan::get(&mut r)?;
    r.finish()?;

    Ok(PlanBody {
        producer,
        required_features,
        inputs,
        outputs,
        steps,
        step_names,
        memory,
        provenance: provenance.unwrap_or_default(),
        range: None,
    })
}
