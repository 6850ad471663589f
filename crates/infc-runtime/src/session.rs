//! [`Session`]: a loaded, validated plan ready to run.
//!
//! Loading maps the file (or copies given bytes into 64-byte aligned memory), decodes and validates
//! it, checks the required CPU features and the constants' alignment, resolves the ISA once
//! ([`SessionOptions::isa`], else `INFC_ISA`, else the best detected) and runs per-step load-time
//! checks (kernel weight layouts, supported dtypes).
//!
//! Concurrency: a `Session` is `Send + Sync`. Each run takes an arena from a pool behind a `Mutex`
//! (allocating a new one only when every pooled arena is in use) and returns it afterwards, so
//! several threads can run one session at once and a single-threaded caller allocates its arena
//! once. [`Session::run_into`] performs no heap allocation after the first call (errors aside);
//! [`Session::run`] allocates only the returned output tensors.

use crate::budget::{Budget, PlanLoad};
use crate::control::{Counters, RunOptions, RunStats, SessionStats, Stop};
use crate::exec::{prepare, run_steps, step_error};
use crate::inputs::{check_inputs, InputNames};
use crate::mem::Mem;
use crate::shapes::{Instance, RangeState};
use crate::storage::{AlignedBuf, PlanBytes};
use crate::tensor::{DType, InputKey, Tensor, TensorView};
use crate::threading::{Exec, Spin};
use crate::RuntimeError;
use infc_kernels::int8::Int8Isa;
use infc_kernels::Isa;
use infc_plan::{cpu_features, decode_borrowed, DecodeOptions, IoDesc, PlanBody};
use std::ops::Range;
use std::path::Path;
use std::sync::Mutex;

/// Load-time options.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Force an instruction-set path (capped to what the CPU supports). `None`: `INFC_ISA` if set,
    /// else the best path the CPU has.
    pub isa: Option<Isa>,
    /// Most bytes the session may hold (the plan copy, one arena and the outputs of
    /// [`Session::run`]), checked at load before any of it is allocated. `None`: physical memory.
    pub max_memory: Option<u64>,
    /// Map the plan file (default) or copy it into memory ([`Session::load_with`] only).
    pub load: PlanLoad,
    /// Also hash the constants against the plan's weights hash (reads every weight byte; a load
    /// otherwise reads only the header, steps and memory plan, which the checksum covers).
    pub verify_weights: bool,
    /// Intra-op threads of a run. `None`: the caller's current rayon pool (the global pool
    /// unless the caller runs inside an `install`). `Some(1)`: each run stays on its caller's
    /// thread with every kernel serial, so concurrent callers each use their own thread.
    /// `Some(n)`: a pool of `n` threads owned by the session and shared by its runs.
    pub threads: Option<usize>,
    /// A thread pool supplied by the host; runs execute in it (takes precedence over
    /// `threads`).
    pub pool: Option<std::sync::Arc<rayon::ThreadPool>>,
    /// Whether a run's helper threads spin between its parallel regions (default: while a run
    /// is in flight).
    pub spin: Spin,
}

/// What a run does with its outputs once the steps are done (on the caller's thread).
pub(crate) enum Sink<'s, 'b> {
    /// Copy them into the caller's buffers (plan order, exact byte lengths).
    Copy(&'s mut [&'b mut [u8]]),
    /// Lend them to the callback as views of the arena (or the plan's constants).
    Lend(&'s mut dyn FnMut(&[TensorView<'_>])),
}

/// Most outputs whose views [`Session::run_with`] keeps on the stack.
const LENT_ON_STACK: usize = 64;

/// Adapts the `FnOnce` of [`Session::run_with`] to the `FnMut` a [`Sink::Lend`] holds.
pub(crate) struct Lend<F, R> {
    f: Option<F>,
    out: Option<R>,
}

impl<F: FnOnce(&[TensorView<'_>]) -> R, R> Lend<F, R> {
    pub(crate) fn new(f: F) -> Lend<F, R> {
        Lend {
            f: Some(f),
            out: None,
        }
    }

    pub(crate) fn call(&mut self, views: &[TensorView<'_>]) {
        if let Some(f) = self.f.take() {
            self.out = Some(f(views));
        }
    }

    /// The callback's result (an error if the run never reached it, which `run_into_with`
    /// reports first).
    pub(crate) fn result(self) -> Result<R, RuntimeError> {
        self.out.ok_or_else(|| RuntimeError::Output {
            name: "*".into(),
            msg: "the run ended before lending its outputs".into(),
        })
    }
}

/// The plan a run executes: the session's own (one-shape plans, or a range plan at its nominal
/// shape: the max shape, or with a per-shape arena the shape it was stored at) or a range plan's
/// instance at the inputs' shape.
pub(crate) enum Shaped<'s> {
    Own(&'s PlanBody, &'s [Vec<usize>]),
    At(std::sync::Arc<Instance>),
}

impl Shaped<'_> {
    pub(crate) fn body(&self) -> &PlanBody {
        match self {
            Shaped::Own(b, _) => b,
            Shaped::At(i) => &i.body,
        }
    }
    fn output_shapes(&self) -> &[Vec<usize>] {
        match self {
            Shaped::Own(_, s) => s,
            Shaped::At(i) => &i.output_shapes,
        }
    }
}

/// A run loop over a plan's steps (see [`Session::run_into_with`]).
pub(crate) type StepLoop<'a> =
    &'a mut (dyn FnMut(&PlanBody, &mut Mem<'_>, &Stop<'_>) -> Result<(), RuntimeError> + Send);

pub struct Session {
    bytes: PlanBytes,
    consts: Range<usize>,
    body: PlanBody,
    isa: Isa,
    /// Path of the integer kernels (`INFC_INT8_ISA` if set, else the best; see [`Session::with_int8_isa`]).
    int8_isa: Int8Isa,
    arenas: Mutex<Vec<Arena>>,
    /// Input index by name, for the input check of a run.
    input_names: InputNames,
    /// The memory budget the session was loaded with.
    budget: Budget,
    /// Shape of each output in `usize` (for the views [`Session::run_with`] lends).
    output_shapes: Vec<Vec<usize>>,
    /// A range plan's symbols and the shapes instantiated so far (`None`: one shape).
    range: Option<RangeState>,
    /// The largest arena allocated so far (a range plan's grows with its shapes).
    largest_arena: std::sync::atomic::AtomicU64,
    /// Set once the GEMM packing buffers of every worker of the pool were reserved (first run).
    pack_buffers_reserved: std::sync::atomic::AtomicBool,
    /// Where runs execute.
    exec: Exec,
    spin: Spin,
    counters: Counters,
}

/// One run's memory, pooled between runs: the arena and, for a session that runs on its callers'
/// threads, the GEMM packing buffers lent to the caller's thread for the run (so a new caller
/// thread's first run allocates nothing).
struct Arena {
    bytes: AlignedBuf,
    pack: infc_kernels::PackBuffers,
}

/// The file's `len` bytes in 64-byte aligned memory, allocated fallibly; an error if the file is
/// shorter or longer than `len` by the time it is read (it changed under us).
fn read_whole(mut file: std::fs::File, len: u64) -> std::io::Result<AlignedBuf> {
    use std::io::{Error, ErrorKind, Read};
    let len = usize::try_from(len).map_err(|_| Error::other("larger than the address space"))?;
    let mut buf = AlignedBuf::try_zeroed(len).map_err(|_| {
        Error::new(
            ErrorKind::OutOfMemory,
            format!("cannot allocate {len} bytes"),
        )
    })?;
    file.read_exact(buf.bytes_mut())?;
    let mut probe = [0u8; 1];
    if file.read(&mut probe)? != 0 {
        return Err(Error::other("the file grew while it was read"));
    }
    Ok(buf)
}

fn cpu_feature_bits() -> u64 {
    let mut bits = 0;
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") {
            bits |= cpu_features::AVX2;
        }
        if is_x86_feature_detected!("fma") {
            bits |= cpu_features::FMA;
        }
        if is_x86_feature_detected!("avx512f") {
            bits |= cpu_features::AVX512F;
        }
        if is_x86_feature_detected!("avx512vnni") {
            bits |= cpu_features::AVX512VNNI;
        }
    }
    bits
}

pub(crate) fn dims_str(dtype: infc_plan::DType, shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("{dtype}[{}]", dims.join(","))
}

pub(crate) fn io_str(io: &IoDesc) -> String {
    let dims: Vec<String> = io.shape.iter().map(|d| d.to_string()).collect();
    format!("{}[{}]", io.dtype, dims.join(","))
}

fn check_output_buffers(body: &PlanBody, outputs: &[&mut [u8]]) -> Result<(), RuntimeError> {
    if outputs.len() != body.outputs.len() {
        return Err(RuntimeError::Output {
            name: "*".into(),
            msg: format!(
                "{} output buffers given, the plan has {} outputs",
                outputs.len(),
                body.outputs.len()
            ),
        });
    }
    for (o, buf) in body.outputs.iter().zip(outputs.iter()) {
        let want = o.byte_len().unwrap_or(0) as usize;
        if buf.len() != want {
            return Err(RuntimeError::Output {
                name: o.name.clone(),
                msg: format!(
                    "buffer of {} bytes given, {} needs {want}",
                    buf.len(),
                    io_str(o)
                ),
            });
        }
    }
    Ok(())
}

impl Session {
    /// Map and load a plan file.
    pub fn load(path: impl AsRef<Path>) -> Result<Session, RuntimeError> {
        Session::load_with(path, SessionOptions::default())
    }

    pub fn load_with(
        path: impl AsRef<Path>,
        opts: SessionOptions,
    ) -> Result<Session, RuntimeError> {
        let path = path.as_ref();
        let io = |e: std::io::Error| RuntimeError::Io {
            path: path.display().to_string(),
            msg: e.to_string(),
        };
        // Refuse FIFOs, devices and directories before opening: opening a FIFO blocks until a
        // writer appears. The open file is checked again below (it may have been swapped).
        let not_regular = || RuntimeError::Io {
            path: path.display().to_string(),
            msg: "not a regular file".into(),
        };
        if !std::fs::metadata(path).map_err(io)?.is_file() {
            return Err(not_regular());
        }
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(not_regular());
        }
        let bytes = match opts.load {
            // SAFETY: the mapping is read-only and private to this process; the plan is validated
            // before use. A file truncated or overwritten in place while mapped raises SIGBUS on
            // access (see `PlanLoad::Map`); `PlanLoad::Copy` is the option that rules it out.
            PlanLoad::Map => PlanBytes::Mapped(unsafe { memmap2::Mmap::map(&file) }.map_err(io)?),
            PlanLoad::Copy => {
                let budget = Budget::resolve(opts.max_memory);
                budget.check(0, meta.len(), "the plan copy")?;
                PlanBytes::Owned(read_whole(file, meta.len()).map_err(io)?)
            }
        };
        Session::new(bytes, opts)
    }

    /// Load from bytes (copied into 64-byte aligned memory).
    pub fn from_bytes(bytes: &[u8]) -> Result<Session, RuntimeError> {
        Session::from_bytes_with(bytes, SessionOptions::default())
    }

    pub fn from_bytes_with(bytes: &[u8], opts: SessionOptions) -> Result<Session, RuntimeError> {
        Budget::resolve(opts.max_memory).check(0, bytes.len() as u64, "the plan copy")?;
        Session::new(PlanBytes::Owned(AlignedBuf::copy_of(bytes)?), opts)
    }

    /// Bytes this session holds or will hold for one run: its copy of the plan (none when mapped)
    /// plus one arena. Callers that allocate beside it (inputs, outputs) add theirs to this.
    pub fn resident_bytes(&self) -> u64 {
        let copy = match &self.bytes {
            PlanBytes::Mapped(_) => 0,
            PlanBytes::Owned(b) => b.bytes().len() as u64,
        };
        let arena = self.body.memory.arena_bytes.max(
            self.largest_arena
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        copy.saturating_add(arena)
    }

    /// Check that `bytes` more (named `what`) fit in the session's memory budget beside
    /// [`Session::resident_bytes`], before the caller allocates them.
    pub fn check_memory(&self, what: &str, bytes: u64) -> Result<(), RuntimeError> {
        self.budget.check(self.resident_bytes(), bytes, what)
    }

    fn new(bytes: PlanBytes, opts: SessionOptions) -> Result<Session, RuntimeError> {
        let data = bytes.bytes();
        let decode_opts = DecodeOptions {
            verify_weights: opts.verify_weights,
            ..DecodeOptions::default()
        };
        let (body, consts) = decode_borrowed(data, decode_opts)?;
        let start = consts.as_ptr() as usize - data.as_ptr() as usize;
        if !(consts.as_ptr() as usize).is_multiple_of(64) {
            return Err(RuntimeError::Misaligned(consts.as_ptr() as usize));
        }
        let consts = start..start + consts.len();
        let missing = body.required_features & !cpu_feature_bits();
        if missing != 0 {
            return Err(RuntimeError::CpuFeatures {
                needed: cpu_features::names(missing),
            });
        }
        let isa = match opts.isa {
            Some(i) => i.capped(),
            None => match Isa::from_env() {
                Ok(Some(i)) => i.capped(),
                Ok(None) => Isa::detect(),
                Err(e) => return Err(RuntimeError::Isa(e.to_string())),
            },
        };
        let int8_isa = match Int8Isa::from_env() {
            Ok(Some(i)) => i.capped(),
            Ok(None) => Int8Isa::detect(),
            Err(e) => return Err(RuntimeError::Isa(e.to_string())),
        };
        for (i, step) in body.steps.iter().enumerate() {
            prepare(step, &data[consts.clone()]).map_err(|msg| step_error(&body, i, msg))?;
        }
        usize::try_from(body.memory.arena_bytes)
            .map_err(|_| RuntimeError::Alloc(body.memory.arena_bytes))?;
        let budget = Budget::resolve(opts.max_memory);
        let copy = match &bytes {
            PlanBytes::Mapped(_) => 0,
            PlanBytes::Owned(b) => b.bytes().len() as u64,
        };
        budget.check(copy, body.memory.arena_bytes, "the arena")?;
        let outputs_bytes = body.outputs.iter().fold(0u64, |t, o| {
            t.saturating_add(o.byte_len().unwrap_or(u64::MAX))
        });
        budget.check(
            copy.saturating_add(body.memory.arena_bytes),
            outputs_bytes,
            "the outputs",
        )?;
        let output_shapes = body
            .outputs
            .iter()
            .map(|o| o.shape.iter().map(|&d| d as usize).collect())
            .collect();
        let input_names = InputNames::new(&body);
        let exec = Exec::new(opts.threads, opts.pool)?;
        let range = body
            .range
            .clone()
            .map(|table| RangeState::new(table, &body));
        Ok(Session {
            range,
            exec,
            spin: opts.spin,
            counters: Counters::default(),
            bytes,
            consts,
            output_shapes,
            body,
            isa,
            int8_isa,
            arenas: Mutex::new(Vec::with_capacity(4)),
            input_names,
            budget,
            pack_buffers_reserved: std::sync::atomic::AtomicBool::new(false),
            largest_arena: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Force the integer-kernel path of quantized steps (capped to what the CPU supports).
    pub fn with_int8_isa(mut self, isa: Int8Isa) -> Session {
        self.int8_isa = isa.capped();
        self
    }

    /// The path quantized steps use.
    pub fn int8_isa(&self) -> Int8Isa {
        self.int8_isa
    }

    /// The ISA every kernel call uses.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    pub fn inputs(&self) -> &[IoDesc] {
        &self.body.inputs
    }

    pub fn outputs(&self) -> &[IoDesc] {
        &self.body.outputs
    }

    /// The decoded plan (steps, memory plan, names).
    pub fn plan(&self) -> &PlanBody {
        &self.body
    }

    /// Run and return owned outputs (in plan order).
    pub fn run(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
    ) -> Result<Vec<Tensor>, RuntimeError> {
        self.run_opts(inputs, &RunOptions::default())
            .map(|(outs, _)| outs)
    }

    /// A range plan's symbols, ranges and expressions (`None` for a plan of one shape).
    pub fn range(&self) -> Option<&infc_plan::RangeTable> {
        self.range.as_ref().map(RangeState::table)
    }

    /// The plan at the shape `inputs` give (see [`Shaped`]).
    pub(crate) fn shaped(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
    ) -> Result<Shaped<'_>, RuntimeError> {
        let Some(range) = &self.range else {
            return Ok(Shaped::Own(&self.body, &self.output_shapes));
        };
        let key = range.values(inputs, &|k| self.input_index(k), &|i| {
            self.body.inputs[i].name.clone()
        })?;
        if range.is_nominal(&key) {
            return Ok(Shaped::Own(&self.body, &self.output_shapes));
        }
        let consts = &self.bytes.bytes()[self.consts.clone()];
        let copy = match &self.bytes {
            PlanBytes::Mapped(_) => 0,
            PlanBytes::Owned(b) => b.bytes().len() as u64,
        };
        range
            .instance(&key, &self.body, consts, &|arena, outputs, at| {
                self.budget
                    .check(copy, arena, &format!("the arena at {at}"))?;
                self.budget.check(
                    copy.saturating_add(arena),
                    outputs,
                    &format!("the outputs at {at}"),
                )
            })
            .map(Shaped::At)
    }

    /// The plan's outputs at the shape `inputs` give (for a range plan, they depend on it).
    pub fn outputs_for(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
    ) -> Result<Vec<IoDesc>, RuntimeError> {
        Ok(self.shaped(inputs)?.body().outputs.clone())
    }

    /// Zeroed output tensors of the plan's shapes (allocated fallibly).
    fn output_tensors(&self, shaped: &Shaped<'_>) -> Result<Vec<Tensor>, RuntimeError> {
        shaped
            .body()
            .outputs
            .iter()
            .map(|o| {
                let len = o.byte_len().unwrap_or(0) as usize;
                let mut data = Vec::new();
                data.try_reserve_exact(len)
                    .map_err(|_| RuntimeError::Output {
                        name: o.name.clone(),
                        msg: format!("cannot allocate its {len} bytes"),
                    })?;
                data.resize(len, 0u8);
                Ok(Tensor {
                    name: o.name.clone(),
                    dtype: o.dtype,
                    shape: o.shape.iter().map(|&d| d as usize).collect(),
                    data,
                })
            })
            .collect()
    }

    /// Run writing each output into the caller's buffer (plan order, exact byte length). Inputs
    /// are matched by name or index; each plan input must be given exactly once.
    pub fn run_into(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        outputs: &mut [&mut [u8]],
    ) -> Result<(), RuntimeError> {
        self.run_plain(inputs, Sink::Copy(outputs), &RunOptions::default())
            .map(|_| ())
    }

    /// [`Session::run_into`] with per-run options (cancellation, timeout), returning what the
    /// run did.
    pub fn run_into_opts(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        outputs: &mut [&mut [u8]],
        opts: &RunOptions,
    ) -> Result<RunStats, RuntimeError> {
        self.run_plain(inputs, Sink::Copy(outputs), opts)
    }

    /// [`Session::run`] with per-run options (cancellation, timeout), returning what the run
    /// did beside the outputs.
    pub fn run_opts(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        opts: &RunOptions,
    ) -> Result<(Vec<Tensor>, RunStats), RuntimeError> {
        // One shape resolution serves both the outputs' allocation and the run.
        let start = std::time::Instant::now();
        let shaped = self.shaped(inputs)?;
        let mut outs = self.output_tensors(&shaped)?;
        let stats = {
            let mut slots: Vec<&mut [u8]> =
                outs.iter_mut().map(|t| t.data.as_mut_slice()).collect();
            let (isa, int8) = (self.isa, self.int8_isa);
            self.run_shaped(
                start,
                Ok(shaped),
                inputs,
                Sink::Copy(&mut slots),
                opts,
                &mut |body, mem, stop| run_steps(body, isa, int8, mem, stop),
            )?
        };
        Ok((outs, stats))
    }

    /// Counters since load: runs completed and failed, arenas allocated, busy time.
    pub fn stats(&self) -> SessionStats {
        self.counters.snapshot()
    }

    /// Threads one run splits its work over (see [`SessionOptions::threads`]).
    pub fn threads(&self) -> usize {
        self.exec.threads()
    }

    /// Run and lend the outputs (plan order) to `f` as views of the session's memory, where the
    /// steps wrote them: no copy. The views are valid until `f` returns; later runs reuse the
    /// memory. `f` runs on the calling thread.
    pub fn run_with<R>(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        f: impl FnOnce(&[TensorView<'_>]) -> R,
    ) -> Result<R, RuntimeError> {
        let mut lend = Lend::new(f);
        let opts = RunOptions::default();
        self.run_plain(inputs, Sink::Lend(&mut |v| lend.call(v)), &opts)?;
        lend.result()
    }

    /// A run with the plain (untimed) step loop.
    fn run_plain(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        sink: Sink<'_, '_>,
        opts: &RunOptions,
    ) -> Result<RunStats, RuntimeError> {
        let (isa, int8) = (self.isa, self.int8_isa);
        self.run_into_with(inputs, sink, opts, &mut |body, mem, stop| {
            run_steps(body, isa, int8, mem, stop)
        })
    }

    /// [`Session::run_into`] / [`Session::run_with`] with the step loop supplied by the caller
    /// (the plain loop, or the timed one of `profile.rs`): input checks, arena, input copies and
    /// the outputs' copies or views stay here.
    pub(crate) fn run_into_with(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        sink: Sink<'_, '_>,
        opts: &RunOptions,
        step_loop: StepLoop<'_>,
    ) -> Result<RunStats, RuntimeError> {
        let start = std::time::Instant::now();
        let shaped = self.shaped(inputs);
        self.run_shaped(start, shaped, inputs, sink, opts, step_loop)
    }

    /// A run at a resolved shape (or the error resolving it), counted in the session's stats.
    fn run_shaped(
        &self,
        start: std::time::Instant,
        shaped: Result<Shaped<'_>, RuntimeError>,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        sink: Sink<'_, '_>,
        opts: &RunOptions,
        step_loop: StepLoop<'_>,
    ) -> Result<RunStats, RuntimeError> {
        let result = shaped.and_then(|shaped| {
            let steps = shaped.body().steps.len();
            let arena_bytes = shaped.body().memory.arena_bytes;
            self.run_checked(&shaped, inputs, sink, &Stop::new(opts, start), step_loop)
                .map(|new_arena| (new_arena, steps, arena_bytes))
        });
        let wall = start.elapsed();
        self.counters.record(result.is_ok(), wall);
        result.map(|(new_arena, steps, arena_bytes)| RunStats {
            wall,
            steps,
            arena_bytes,
            new_arena,
        })
    }

    /// A run after its options were resolved: whether it allocated a new arena.
    fn run_checked(
        &self,
        shaped: &Shaped<'_>,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        sink: Sink<'_, '_>,
        stop: &Stop<'_>,
        step_loop: StepLoop<'_>,
    ) -> Result<bool, RuntimeError> {
        let body = shaped.body();
        check_inputs(body, &self.input_names, inputs)?;
        if let Sink::Copy(outputs) = &sink {
            check_output_buffers(body, outputs)?;
        }
        stop.check(0)?;
        if !self
            .pack_buffers_reserved
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            self.exec.reserve_pack_buffers();
        }
        let (arena, new_arena) = self.take_arena(body.memory.arena_bytes)?;
        let Arena {
            bytes: mut arena,
            mut pack,
        } = arena;
        // With `Spin::WhileRunning` the step loop runs on a pool worker with the pool's other
        // workers spinning beside it as its team, so each step's parallel region starts on
        // helpers that are already awake, and the caller blocks once per run instead of once per
        // region (a one-thread pool, or `threads: Some(1)`, runs it on the caller).
        let run = || self.run_in(body, arena.bytes_mut(), inputs, stop, step_loop);
        let result = self
            .exec
            .run(self.spin, &mut pack, run)
            .and_then(|()| self.finish(shaped, arena.bytes(), sink));
        self.arenas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arena { bytes: arena, pack });
        result.map(|()| new_arena)
    }

    /// The bytes of output `i` after a run (in the arena or, for a constant output, the plan).
    fn output_bytes<'a>(
        &'a self,
        body: &PlanBody,
        arena: &'a [u8],
        i: usize,
    ) -> Result<&'a [u8], RuntimeError> {
        let o = &body.outputs[i];
        let (at, len) = (o.at.offset as usize, o.byte_len().unwrap_or(0) as usize);
        let src = match o.at.region {
            infc_plan::Region::Arena => arena.get(at..at + len),
            infc_plan::Region::Const => self.bytes.bytes()[self.consts.clone()].get(at..at + len),
        };
        src.ok_or_else(|| RuntimeError::Output {
            name: o.name.clone(),
            msg: "lies outside its region".into(),
        })
    }

    /// Copies the outputs into the caller's buffers, or lends views of them.
    fn finish(
        &self,
        shaped: &Shaped<'_>,
        arena: &[u8],
        sink: Sink<'_, '_>,
    ) -> Result<(), RuntimeError> {
        let body = shaped.body();
        match sink {
            Sink::Copy(bufs) => {
                for (i, buf) in bufs.iter_mut().enumerate() {
                    buf.copy_from_slice(self.output_bytes(body, arena, i)?);
                }
            }
            Sink::Lend(f) => {
                let view = |i: usize| -> Result<TensorView<'_>, RuntimeError> {
                    let o = &body.outputs[i];
                    let data = self.output_bytes(body, arena, i)?;
                    Ok(TensorView::new(o.dtype, &shaped.output_shapes()[i], data))
                };
                let n = body.outputs.len();
                // Views on the stack for up to `LENT_ON_STACK` outputs: no allocation per run.
                if n <= LENT_ON_STACK {
                    let mut views = [TensorView::new(DType::F32, &[], &[]); LENT_ON_STACK];
                    for (i, v) in views.iter_mut().take(n).enumerate() {
                        *v = view(i)?;
                    }
                    f(&views[..n]);
                } else {
                    let views = (0..n).map(view).collect::<Result<Vec<_>, _>>()?;
                    f(&views);
                }
            }
        }
        Ok(())
    }

    /// A free arena of at least `bytes` from the pool, or a new one (`true`). A range plan's
    /// arena depends on the shape: a pooled arena too small for this one is replaced (its
    /// packing buffers kept), so once the largest shape has run, no run allocates.
    fn take_arena(&self, bytes: u64) -> Result<(Arena, bool), RuntimeError> {
        let len = usize::try_from(bytes).map_err(|_| RuntimeError::Alloc(bytes))?;
        let pooled = self.arenas.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(a) if a.bytes.bytes().len() >= len => Ok((a, false)),
            Some(Arena { bytes: old, pack }) => {
                drop(old);
                let bytes = AlignedBuf::try_zeroed(len)?;
                self.counters.new_arena();
                self.largest_arena
                    .fetch_max(len as u64, std::sync::atomic::Ordering::Relaxed);
                Ok((Arena { bytes, pack }, true))
            }
            None => {
                self.largest_arena
                    .fetch_max(len as u64, std::sync::atomic::Ordering::Relaxed);
                let bytes = AlignedBuf::try_zeroed(len)?;
                let pack = self.exec.pack_buffers_for_an_arena();
                self.counters.new_arena();
                Ok((Arena { bytes, pack }, true))
            }
        }
    }

    fn run_in(
        &self,
        body: &PlanBody,
        arena: &mut [u8],
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        stop: &Stop<'_>,
        step_loop: StepLoop<'_>,
    ) -> Result<(), RuntimeError> {
        for (key, view) in inputs {
            let i = self.input_index(key).unwrap_or(0);
            let desc = &body.inputs[i];
            let at = desc.at.offset as usize;
            let dst =
                arena
                    .get_mut(at..at + view.data.len())
                    .ok_or_else(|| RuntimeError::Input {
                        name: desc.name.clone(),
                        msg: "lies outside the arena".into(),
                    })?;
            dst.copy_from_slice(view.data);
        }
        let consts = &self.bytes.bytes()[self.consts.clone()];
        let mut mem = Mem { arena, consts };
        step_loop(body, &mut mem, stop)
    }

    fn input_index(&self, key: &InputKey<'_>) -> Option<usize> {
        self.input_names.index(&self.body, key)
    }
}
