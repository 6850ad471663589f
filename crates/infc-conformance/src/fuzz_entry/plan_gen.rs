//! Structure-aware plan generation for the `plan_run` fuzz target: the fuzzer's bytes choose one
//! to four steps of any kind with random fields (mostly small dims, sometimes 0, 1 or huge ones;
//! mostly consistent strides, window sizes and packed-weight lengths, sometimes not), buffers
//! chained between steps through a bump allocator, inputs and outputs taken from the ranges the
//! steps read and write, region sizes that just cover what the steps touch, and a valid header,
//! section table and checksum (the plan is built as a [`Plan`] and encoded). The validator and
//! the kernels both see plans that are well-formed on the outside.

use super::MAX_BYTES;
use arbitrary::Unstructured;
use infc::plan_format::{
    step_accesses, Activation, DType, IoDesc, MemoryEntry, MemoryPlan, PackedRef, Plan, PlanBody,
    Region, Step, TensorRef, Window2d,
};
use infc::{Int8Isa, Isa};

/// Where reads that are not an earlier step's output live in the arena (slots of 16 KiB).
const INPUT_ZONE: u64 = 1 << 20;
const SLOT: u64 = 16 << 10;
/// Offsets of constant slots (a few KiB apart, so small constants rarely overlap).
const CONST_SLOT: u64 = 4 << 10;

/// A generated plan with the choices of how to run it.
pub struct Case {
    pub plan: Plan,
    pub isa: Isa,
    pub int8_isa: Int8Isa,
    /// Bytes the inputs are filled with (cycled); empty: zeros.
    fill: Vec<u8>,
}

impl Case {
    /// `len` bytes of input data.
    pub fn input_bytes(&self, len: usize) -> Vec<u8> {
        if self.fill.is_empty() {
            return vec![0; len];
        }
        self.fill.iter().copied().cycle().take(len).collect()
    }
}

/// The fuzzer's bytes as a source of plan fields.
pub struct Gen<'a> {
    u: Unstructured<'a>,
    /// Next free arena offset of the bump allocator.
    cursor: u64,
    /// Offsets earlier steps wrote, for later steps to read.
    pool: Vec<u64>,
}

impl<'a> Gen<'a> {
    pub fn new(data: &'a [u8]) -> Gen<'a> {
        Gen {
            u: Unstructured::new(data),
            cursor: 0,
            pool: Vec::new(),
        }
    }

    pub fn byte(&mut self) -> u8 {
        self.u.arbitrary().unwrap_or(0)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.u.int_in_range(0..=n - 1).unwrap_or(0)
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A dimension: mostly 0..8, sometimes up to 64, rarely a huge or overflowing value.
    pub fn dim(&mut self) -> u64 {
        const EDGE: [u64; 8] = [
            1 << 16,
            1 << 31,
            1 << 32,
            (1 << 32) + 1,
            1 << 40,
            1 << 62,
            u64::MAX / 2,
            u64::MAX,
        ];
        let b = self.byte();
        match b {
            0..=199 => (b % 8) as u64,
            200..=243 => 8 + (b % 57) as u64,
            _ => EDGE[(b % 8) as usize],
        }
    }

    /// A dimension of at least 1 (mostly).
    pub fn pos(&mut self) -> u64 {
        match self.dim() {
            0 if !self.one_in(8) => 1,
            d => d,
        }
    }

    pub fn f32(&mut self) -> f32 {
        const EDGE: [f32; 12] = [
            0.0,
            1.0,
            -1.0,
            0.5,
            1e-5,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN,
            f32::MAX,
            f32::MIN_POSITIVE,
            -0.0,
        ];
        let b = self.byte();
        if b < 240 {
            EDGE[(b % 12) as usize]
        } else {
            f32::from_bits(self.u.arbitrary().unwrap_or(0))
        }
    }

    pub fn u64(&mut self) -> u64 {
        self.u.arbitrary().unwrap_or(0)
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    pub fn dtype(&mut self) -> DType {
        self.pick(&DType::ALL)
    }

    /// Mostly f32, sometimes any type.
    pub fn fdtype(&mut self) -> DType {
        if self.one_in(4) {
            self.dtype()
        } else {
            DType::F32
        }
    }

    pub fn act(&mut self) -> Activation {
        self.pick(Activation::ALL)
    }

    /// A byte offset that is sometimes misaligned or outside any region.
    fn wild_offset(&mut self) -> u64 {
        match self.byte() {
            0..=127 => self.below(1 << 16),
            128..=191 => self.below(1 << 10) * 64,
            192..=223 => u64::MAX - self.below(64),
            _ => 1 << (32 + self.below(31)),
        }
    }

    /// A buffer read by a step: an earlier step's output, an input-zone slot, a constant slot, or
    /// rarely a wild offset.
    pub fn inp(&mut self) -> TensorRef {
        let b = self.byte();
        match b {
            0..=119 if !self.pool.is_empty() => {
                let i = self.below(self.pool.len() as u64) as usize;
                TensorRef::arena(self.pool[i])
            }
            0..=179 => TensorRef::arena(INPUT_ZONE + self.below(16) * SLOT),
            180..=239 => TensorRef::konst(self.below(16) * CONST_SLOT),
            240..=247 => TensorRef::konst(self.wild_offset()),
            _ => TensorRef::arena(self.wild_offset()),
        }
    }

    pub fn opt_inp(&mut self) -> Option<TensorRef> {
        self.bool().then(|| self.inp())
    }

    /// A buffer of `bytes` written by a step: mostly fresh arena space (later steps may read it),
    /// sometimes any buffer (in place, overlapping, constant or wild).
    pub fn out(&mut self, bytes: Option<u64>) -> TensorRef {
        if self.one_in(8) {
            return self.inp();
        }
        let at = self.cursor;
        let len = bytes.unwrap_or(MAX_BYTES).min(MAX_BYTES);
        self.cursor = (self.cursor + len)
            .next_multiple_of(64)
            .min(INPUT_ZONE << 8);
        self.pool.push(at);
        TensorRef::arena(at)
    }

    /// Weights of `want` bytes (when known) in the constants.
    pub fn packed(&mut self, want: Option<u64>) -> PackedRef {
        let offset = if self.one_in(16) {
            self.wild_offset()
        } else {
            self.below(16) * CONST_SLOT
        };
        let bytes = match want {
            Some(w) if !self.one_in(16) => w,
            _ => self.dim().wrapping_mul(64),
        };
        PackedRef { offset, bytes }
    }

    /// A shape of rank `0..=max_rank`.
    pub fn shape(&mut self, max_rank: u64) -> Vec<u64> {
        let rank = self.below(max_rank + 1);
        (0..rank).map(|_| self.dim()).collect()
    }

    /// Element strides over `shape`: contiguous, broadcast on some axes, or random.
    pub fn strides(&mut self, shape: &[u64]) -> Vec<u64> {
        let contiguous = infc::plan_format::contiguous_strides(shape);
        match self.below(8) {
            0..=3 => contiguous,
            4..=5 => contiguous
                .iter()
                .map(|&s| if self.bool() { 0 } else { s })
                .collect(),
            6 => shape.iter().map(|_| self.dim()).collect(),
            _ => (0..self.below(4)).map(|_| self.dim()).collect(),
        }
    }

    /// Signed element strides over `shape`: contiguous, reversed axes, or random.
    pub fn istrides(&mut self, shape: &[u64]) -> Vec<i64> {
        let contiguous = infc::plan_format::contiguous_strides(shape);
        match self.below(8) {
            0..=3 => contiguous.iter().map(|&s| s as i64).collect(),
            4..=5 => contiguous
                .iter()
                .map(|&s| {
                    if self.bool() {
                        (s as i64).wrapping_neg()
                    } else {
                        s as i64
                    }
                })
                .collect(),
            _ => shape
                .iter()
                .map(|_| {
                    let s = self.dim() as i64;
                    if self.bool() {
                        s.wrapping_neg()
                    } else {
                        s
                    }
                })
                .collect(),
        }
    }

    /// A 2-D window over `[h, w]`: kernel, strides, pads (top, left, bottom, right), dilations,
    /// and the output size (mostly the one the geometry gives).
    pub fn window(&mut self, h: u64, w: u64) -> Window {
        let axis = |g: &mut Self| {
            let k = if g.one_in(8) { g.dim() } else { 1 + g.below(3) };
            let s = if g.one_in(8) { g.dim() } else { 1 + g.below(2) };
            let d = if g.one_in(8) { g.dim() } else { 1 + g.below(2) };
            let p = if g.one_in(8) { g.dim() } else { g.below(2) };
            let q = if g.one_in(8) { g.dim() } else { g.below(2) };
            (k, s, d, p, q)
        };
        let (kh, sh, dh, pt, pb) = axis(self);
        let (kw, sw, dw, pl, pr) = axis(self);
        let window = Window2d {
            kernel: [kh, kw],
            strides: [sh, sw],
            pads: [pt, pl, pb, pr],
            dilations: [dh, dw],
        };
        let size = |g: &mut Self, o: Option<u64>| match o {
            Some(o) if !g.one_in(16) => o,
            _ => g.dim(),
        };
        let oh = window.out_len(0, h, false);
        let ow = window.out_len(1, w, false);
        Window {
            window,
            oh: size(self, oh),
            ow: size(self, ow),
        }
    }
}

/// The geometry of a conv or pooling step: its window and output size.
pub struct Window {
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
}

/// Bytes of `n` elements of `esize` bytes (`None` on overflow).
pub fn nbytes(esize: usize, dims: &[u64]) -> Option<u64> {
    dims.iter().try_fold(esize as u64, |a, &d| a.checked_mul(d))
}

/// Build the plan and the run choices from the fuzzer's bytes.
pub fn generate(data: &[u8]) -> Case {
    let mut g = Gen::new(data);
    let isa = g.pick(&Isa::ALL).capped();
    let int8_isa = g.pick(&Int8Isa::ALL).capped();
    let n_steps = 1 + g.below(4);
    let steps: Vec<Step> = (0..n_steps).map(|_| super::steps::step(&mut g)).collect();
    let (mut arena, mut consts) = (0u64, 0u64);
    let (mut reads, mut writes) = (Vec::new(), Vec::new());
    for (i, s) in steps.iter().enumerate() {
        let Ok(acc) = step_accesses(i, s, MAX_BYTES, MAX_BYTES) else {
            continue;
        };
        for a in acc {
            match (a.region, a.write) {
                (Region::Const, _) => consts = consts.max(a.end),
                (Region::Arena, w) => {
                    arena = arena.max(a.end);
                    if w { &mut writes } else { &mut reads }.push((a.start, a.end));
                }
            }
        }
    }
    let arena = match g.below(16) {
        0 => arena.saturating_sub(1 + g.below(64)),
        1 => arena + g.below(4096),
        _ => arena.next_multiple_of(64),
    };
    let consts_len = consts.next_multiple_of(64) as usize;
    let inputs = io(&mut g, "in", &reads);
    let mut outputs = io(&mut g, "out", &writes);
    if g.one_in(16) {
        outputs.push(IoDesc {
            name: "const_out".into(),
            dtype: g.dtype(),
            shape: vec![g.dim()],
            at: g.inp(),
        });
    }
    let mut entries = Vec::new();
    if g.one_in(8) {
        entries.push(MemoryEntry {
            name: "t".into(),
            offset: g.wild_offset(),
            size: g.dim(),
            first_step: g.below(4) as u32,
            last_step: g.below(4) as u32,
        });
    }
    let mode = g.below(4);
    let rest: Vec<u8> = g.u.take_rest().to_vec();
    let fill = match mode {
        0 => Vec::new(),
        1 if !rest.is_empty() => rest,
        2 => [0i64, 1, 2, 3, -1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        _ => [1.0f32, -2.0, 0.5, 3.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    };
    let consts = if fill.is_empty() {
        vec![0; consts_len]
    } else {
        fill.iter().copied().cycle().take(consts_len).collect()
    };
    let plan = Plan {
        body: PlanBody {
            producer: "infc fuzz".into(),
            required_features: 0,
            inputs,
            outputs,
            step_names: (0..steps.len()).map(|i| format!("s{i}")).collect(),
            steps,
            memory: MemoryPlan {
                arena_bytes: arena,
                intermediates_bytes: arena,
                lower_bound_bytes: arena,
                entries,
            },
            provenance: Vec::new(),
            range: None,
        },
        consts,
    };
    Case {
        plan,
        isa,
        int8_isa,
        fill,
    }
}

/// Up to three graph inputs or outputs over byte ranges the steps touch (as u8, or as f32 when
/// aligned).
fn io(g: &mut Gen, prefix: &str, ranges: &[(u64, u64)]) -> Vec<IoDesc> {
    if ranges.is_empty() {
        return Vec::new();
    }
    let n = g.below(4);
    (0..n)
        .map(|i| {
            // Outputs favour the last write (the last step's result).
            let (start, end) = if prefix == "out" && i == 0 {
                ranges[ranges.len() - 1]
            } else {
                g.pick(ranges)
            };
            let len = end - start;
            let (dtype, shape) = if len % 4 == 0 && start % 4 == 0 && g.bool() {
                (DType::F32, vec![len / 4])
            } else {
                (DType::U8, vec![len])
            };
            IoDesc {
                name: format!("{prefix}{i}"),
                dtype,
                shape,
                at: TensorRef::arena(start),
            }
        })
        .collect()
}
