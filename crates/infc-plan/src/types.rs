//! Plain data types shared by every section: element types, buffer references (arena or constant
//! blob plus a byte offset), graph input/output descriptors, the memory plan with its `Display`
//! report, and the CPU feature bits a plan may require.

use std::fmt;

/// Element type of a plan tensor. The discriminant is the on-disk code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DType {
    F32 = 1,
    F16 = 2,
    I64 = 3,
    I32 = 4,
    I8 = 5,
    U8 = 6,
    Bool = 7,
}

impl DType {
    pub const ALL: [DType; 7] = [
        DType::F32,
        DType::F16,
        DType::I64,
        DType::I32,
        DType::I8,
        DType::U8,
        DType::Bool,
    ];

    pub fn from_code(code: u8) -> Option<DType> {
        DType::ALL.into_iter().find(|d| *d as u8 == code)
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F16 => 2,
            DType::I64 => 8,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::I64 => "i64",
            DType::I32 => "i32",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::Bool => "bool",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which memory a [`TensorRef`] points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Region {
    /// The per-run scratch arena (`MemoryPlan::arena_bytes` long, 64-byte aligned).
    Arena = 0,
    /// The read-only constants blob of the plan file (64-byte aligned in the file).
    Const = 1,
}

impl Region {
    pub fn name(self) -> &'static str {
        match self {
            Region::Arena => "arena",
            Region::Const => "constants",
        }
    }
}

/// A buffer: region plus byte offset of its first element. Lengths come from the step's shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorRef {
    pub region: Region,
    pub offset: u64,
}

impl TensorRef {
    pub fn arena(offset: u64) -> TensorRef {
        TensorRef {
            region: Region::Arena,
            offset,
        }
    }
    pub fn konst(offset: u64) -> TensorRef {
        TensorRef {
            region: Region::Const,
            offset,
        }
    }
}

impl fmt::Display for TensorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.region.name(), self.offset)
    }
}

/// A graph input or output: source name, type, and where its bytes live. Inputs always live in the
/// arena (the runtime copies caller data in); outputs may also be constants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoDesc {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<u64>,
    pub at: TensorRef,
}

impl IoDesc {
    /// Byte length, `None` on overflow.
    pub fn byte_len(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(self.dtype.size() as u64, |a, &d| a.checked_mul(d))
    }
}

/// One buffer of the offset map (`infc explain --memory`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryEntry {
    /// Tensor name (the IR value that owns the buffer; aliases and in-place results share it).
    pub name: String,
    pub offset: u64,
    pub size: u64,
    /// First and last step index at which the buffer is live (inclusive).
    pub first_step: u32,
    pub last_step: u32,
}

/// Static memory plan: arena size and the statistics the compiler reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryPlan {
    pub arena_bytes: u64,
    /// Sum of the (64-byte rounded) sizes of every arena buffer: what a plan without reuse would need.
    pub intermediates_bytes: u64,
    /// Maximum over steps of the bytes live at once: no assignment can use less.
    pub lower_bound_bytes: u64,
    pub entries: Vec<MemoryEntry>,
}

impl fmt::Display for MemoryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "arena_bytes {}", self.arena_bytes)?;
        writeln!(f, "intermediates_bytes {}", self.intermediates_bytes)?;
        writeln!(f, "lower_bound_bytes {}", self.lower_bound_bytes)?;
        writeln!(
            f,
            "{:<40} {:>12} {:>12} {:>6} {:>6}",
            "tensor", "offset", "size", "first", "last"
        )?;
        for e in &self.entries {
            writeln!(
                f,
                "{:<40} {:>12} {:>12} {:>6} {:>6}",
                e.name, e.offset, e.size, e.first_step, e.last_step
            )?;
        }
        Ok(())
    }
}

/// CPU feature bits for `required_features`: a plan that needs e.g. AVX-512 VNNI (an int8 plan
/// without a portable fallback) says so and the runtime refuses to load it elsewhere.
pub mod cpu_features {
    pub const AVX2: u64 = 1 << 0;
    pub const FMA: u64 = 1 << 1;
    pub const AVX512F: u64 = 1 << 2;
    pub const AVX512VNNI: u64 = 1 << 3;
    pub const AMX: u64 = 1 << 4;
    /// Every bit this build knows; others are rejected at decode.
    pub const KNOWN: u64 = AVX2 | FMA | AVX512F | AVX512VNNI | AMX;

    /// Names of the set bits, for error messages.
    pub fn names(bits: u64) -> Vec<&'static str> {
        let all = [
            (AVX2, "avx2"),
            (FMA, "fma"),
            (AVX512F, "avx512f"),
            (AVX512VNNI, "avx512vnni"),
            (AMX, "amx"),
        ];
        all.iter()
            .filter(|(b, _)| bits & b != 0)
            .map(|(_, n)| *n)
            .collect()
    }
}
