//! Range plans: one plan for every shape within the symbols' ranges (`--shape batch=1..16
//! --shape sequence=1..512`), one program whose shape-dependent fields are polynomials in the
//! symbols ([`infc_plan::RangeTable`]).
//!
//! How: the model is optimised and lowered at the max shape, whose memory layout (arena offsets,
//! planned for the max shape, valid for every smaller one) and constants every other shape then
//! adopts ([`infc_compile::Reference`]). It is lowered again at a grid of sample shapes (the three
//! largest sizes of 2 or more per symbol; a short range is completed above its max, lowered only
//! to be read); the step lists must agree in everything but their numeric fields, and each numeric
//! field that varies is interpolated exactly by a polynomial over the grid ([`fit`](mod@fit)). The plan is
//! then lowered at verification shapes (each symbol at its smallest size of 2 or more and at its
//! midpoint) and must equal the polynomials evaluated there, field for field; a model whose lowering is not polynomial in its dims (a block size that depends on the
//! sequence length, a constant built from it) is refused with the step and shape at fault, and
//! compiles with fixed shapes instead.

mod arena;
pub mod fit;
mod spec;

pub use spec::{Ranges, SymbolRange, DEFAULT_MAX, TIED_DEFAULT_MAX};

use crate::error::{Error, Result};
use crate::int8::Int8Decision;
use crate::options::CompileOptions;
use crate::pipeline::{optimise_at, require_bound, Optimised};
use fit::{fit, grid_point};
use infc_ir::Graph;
use infc_passes::OptLevel;
use infc_plan::{
    numeric_values, skeleton, DimExpr, Patch, PatchTarget, Plan, RangeTable, ShapeArena, Symbol,
    Term, Wire, UNBOUNDED,
};
use std::collections::HashMap;
use std::sync::Arc;

/// The smallest size the samples and checks use: 2 where the range allows. At a dim of 1 the
/// passes see broadcasts as equal shapes and masks as causal triangles and specialise the graph
/// (a 1×1 mask is causal, an embedding add of `[1,1,d]` a same-shape skip connection); what a
/// plan computes for the general shape is still right there, so a range plan is lowered for the
/// general shape and evaluated at 1.
fn generic_min(s: &SymbolRange) -> u64 {
    s.min.max(2).min(s.max)
}

/// Sample sizes of one symbol: the three largest of `generic_min..=max`, completed above the max
/// when the range holds fewer (`1..=2` samples 2, 3 and 4; a sample beyond the max is lowered only
/// to read its fields, see `infc_compile::CompileOptions::beyond_reference`).
fn samples(s: &SymbolRange) -> Vec<u64> {
    let lo = generic_min(s);
    let from = s.max.saturating_sub(2).max(lo);
    let mut v: Vec<u64> = (from..=s.max).collect();
    while v.len() < 3 {
        v.push(v[v.len() - 1] + 1);
    }
    v
}

/// Verification sizes of one symbol: `generic_min` and the midpoint, where not samples.
fn checks(s: &SymbolRange) -> Vec<u64> {
    let taken = samples(s);
    let lo = generic_min(s);
    let mid = lo + (s.max - lo) / 2;
    let mut v: Vec<u64> = [lo, mid]
        .into_iter()
        .filter(|x| !taken.contains(x))
        .collect();
    v.dedup();
    v
}

/// What one shape lowered to.
struct Lowered {
    plan: Plan,
    layout: infc_compile::Layout,
    optimised: Optimised,
}

/// Compiles one shape of the range.
struct Sampler<'a> {
    g: &'a Graph,
    level: OptLevel,
    opts: &'a CompileOptions,
    ranges: &'a Ranges,
    what: String,
}

impl Sampler<'_> {
    fn lower(
        &self,
        values: &[u64],
        beyond: bool,
        int8: Option<&Int8Decision>,
        reference: Option<Arc<infc_compile::Reference>>,
        offsets: Option<Arc<infc_compile::memory::Assignment>>,
        after_pass: &mut dyn FnMut(&'static str, &Graph, bool),
    ) -> Result<Lowered> {
        let at = self.show(values);
        let bindings = self.ranges.bindings_at(values);
        let optimised = optimise_at(
            self.g.clone(),
            self.level,
            self.opts,
            &bindings,
            int8,
            after_pass,
        )
        .map_err(|e| self.context(&at, e))?;
        require_bound(&optimised.graph)?;
        let copts = infc_compile::CompileOptions {
            reference,
            beyond_reference: beyond,
            offsets,
            ..infc_compile::CompileOptions::default()
        };
        let (plan, layout) = infc_compile::compile_with_layout(&optimised.graph, &copts)
            .map_err(|e| Error::compile(format!("{} at {at}", self.what), e))?;
        Ok(Lowered {
            plan,
            layout,
            optimised,
        })
    }

    fn show(&self, values: &[u64]) -> String {
        self.ranges
            .symbols
            .iter()
            .zip(values)
            .map(|(s, v)| format!("{}={v}", s.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn context(&self, at: &str, e: Error) -> Error {
        match e {
            Error::Pass(p) => Error::Options(format!("range plan, at {at}: {p}")),
            other => other,
        }
    }
}

/// The fitted template: expressions (deduplicated) and patches.
#[derive(Default)]
struct Fitter {
    exprs: Vec<DimExpr>,
    index: HashMap<String, u32>,
    patches: Vec<Patch>,
}

impl Fitter {
    /// The index of `expr` in the table, added on first use.
    fn intern(&mut self, expr: DimExpr) -> u32 {
        let key = format!("{expr:?}");
        let next = self.exprs.len() as u32;
        let e = *self.index.entry(key).or_insert(next);
        if e == next {
            self.exprs.push(expr);
        }
        e
    }

    /// Fit every varying numeric field of item `index` of `target` over the grid.
    fn item<T: Wire>(
        &mut self,
        axes: &[Vec<u64>],
        target: PatchTarget,
        index: usize,
        items: &[&T],
        describe: &dyn Fn() -> String,
    ) -> Result<()> {
        let skel = skeleton(items[0]);
        if let Some(p) = items.iter().position(|it| skeleton(*it) != skel) {
            let at = grid_point(p, axes);
            return Err(Error::Options(format!(
                "range plan: {} is not the same kind of step at {at:?} as at the max shape; compile with fixed shapes",
                describe()
            )));
        }
        let values: Vec<Vec<i128>> = items.iter().map(|it| numeric_values(*it)).collect();
        for f in 0..values[0].len() {
            let ys: Vec<i128> = values.iter().map(|v| v[f]).collect();
            if ys.iter().all(|&y| y == ys[0]) {
                continue;
            }
            let expr = fit(axes, &ys).ok_or_else(|| {
                Error::Options(format!(
                    "range plan: field {f} of {} takes values {ys:?} on the sample grid, beyond what a dim expression holds",
                    describe()
                ))
            })?;
            let e = self.intern(expr);
            self.patches.push(Patch {
                target,
                index: index as u32,
                field: f as u32,
                expr: e,
            });
        }
        Ok(())
    }
}

/// What [`compile_range`] made beside the plan.
pub(crate) struct RangeCompiled {
    pub plan: Plan,
    pub optimised: Optimised,
    /// What the compile could not do as asked, for the user: why the plan keeps the max shape's
    /// arena for every shape, why an unbound dim keeps its default bound.
    pub notes: Vec<String>,
    /// Symbols no flag bounds that keep their default bound because a constant grows with them
    /// (a position table sliced by the sequence length).
    pub tied: Vec<String>,
    /// Symbols that became run-time dims.
    pub run_time: Vec<String>,
}

/// Compile `g` (imported) for every shape of `ranges`; `after_pass` sees the max shape's passes.
/// Symbols no flag bounds become run-time dims when far shapes agree with the plan (`far_check`),
/// or without the check when named in `proven` (a compile of the same model at a smaller default
/// bound of the other symbols already showed it: the far shapes at a large bound would fold
/// constants of gigabytes).
pub(crate) fn compile_range(
    what: &str,
    g: &Graph,
    level: OptLevel,
    opts: &CompileOptions,
    ranges: &Ranges,
    proven: &[String],
    mut after_pass: impl FnMut(&'static str, &Graph, bool),
) -> Result<RangeCompiled> {
    let sampler = Sampler {
        g,
        level,
        opts,
        ranges,
        what: what.to_string(),
    };
    let max = ranges.max_values();
    let first = sampler.lower(&max, false, None, None, None, &mut after_pass)?;
    let int8 = first.optimised.int8.clone();
    let Lowered {
        plan: Plan {
            body: max_body,
            consts,
        },
        layout,
        optimised,
    } = first;
    let reference = Arc::new(infc_compile::Reference { layout, consts });
    let mut quiet = |_: &'static str, _: &Graph, _: bool| {};
    let max_sizes: Vec<u64> = reference
        .layout
        .items
        .iter()
        .map(|(_, it)| it.size)
        .collect();

    // The grid, row-major; the max shape is one of its points.
    let axes: Vec<Vec<u64>> = ranges.symbols.iter().map(samples).collect();
    let n_points: usize = axes.iter().map(Vec::len).product();
    let mut bodies = Vec::with_capacity(n_points);
    let mut sizes = Vec::with_capacity(n_points);
    for p in 0..n_points {
        let values = grid_point(p, &axes);
        if values == max {
            bodies.push(max_body.clone());
            sizes.push(max_sizes.clone());
            continue;
        }
        let beyond = values.iter().zip(&max).any(|(v, m)| v > m);
        let l = sampler.lower(
            &values,
            beyond,
            int8.as_ref(),
            Some(reference.clone()),
            None,
            &mut quiet,
        )?;
        same_constants(&sampler, &values, &l.plan, &reference.consts)?;
        same_frame(&sampler, &values, &l.plan.body, &max_body)?;
        bodies.push(l.plan.body);
        sizes.push(l.layout.items.iter().map(|(_, it)| it.size).collect());
    }

    let mut fitter = Fitter::default();
    for i in 0..max_body.steps.len() {
        let items: Vec<_> = bodies.iter().map(|b| &b.steps[i]).collect();
        let describe = || {
            format!(
                "step {i} ({} '{}')",
                max_body.steps[i].kind(),
                max_body.step_names[i]
            )
        };
        fitter.item(&axes, PatchTarget::Step, i, &items, &describe)?;
    }
    for (target, n) in [
        (PatchTarget::Input, max_body.inputs.len()),
        (PatchTarget::Output, max_body.outputs.len()),
    ] {
        for i in 0..n {
            let items: Vec<_> = bodies
                .iter()
                .map(|b| match target {
                    PatchTarget::Input => &b.inputs[i],
                    _ => &b.outputs[i],
                })
                .collect();
            let name = items[0].name.clone();
            fitter.item(&axes, target, i, &items, &|| format!("{target:?} '{name}'"))?;
        }
    }
    drop(bodies);
    let shape_arena = per_shape_arena(
        &sampler,
        &mut fitter,
        &axes,
        &sizes,
        &reference,
        &max_body,
        int8.as_ref(),
    )?;
    let mut patches = fitter.patches;
    patches.sort_unstable();
    let mut table = RangeTable {
        symbols: ranges
            .symbols
            .iter()
            .map(|s| Symbol {
                name: s.name.clone(),
                min: s.min,
                max: s.max,
            })
            .collect(),
        exprs: fitter.exprs,
        patches,
        arena: None,
    };
    let mut shared_arena = None;
    let mut notes = Vec::new();
    let mut tied = Vec::new();
    let mut run_time = Vec::new();
    match shape_arena {
        Ok(a) => {
            table.arena = Some(ShapeArena {
                nominal: max.clone(),
                ..a
            })
        }
        Err(why) => shared_arena = Some(why),
    }
    let mut bounded = vec![false; max_body.memory.entries.len()];
    let check = |table: &RangeTable, bounded: &[bool]| {
        table
            .check(&max_body)
            .and_then(|()| table.check_against(&max_body))
            .map_err(|e| Error::Options(format!("range plan: {e}")))?;
        verify(
            &sampler,
            ranges,
            table,
            &max,
            &max_body,
            &reference,
            int8.as_ref(),
            bounded,
        )
    };
    // A buffer whose size the expressions get wrong at a verification shape (a size rounded to
    // whole panels, say) is given its max-shape size instead, which bounds it at every shape of
    // the range as it bounds it in the shared arena; if that does not settle it in two rounds, or
    // the per-shape arena fails otherwise, the plan keeps the shared arena (an optimisation
    // lost, never a wrong plan).
    let mut rounds = 0;
    loop {
        let why = match check(&table, &bounded) {
            Ok(wrong) if wrong.is_empty() || table.arena.is_none() => break,
            Ok(wrong) if rounds < 2 => {
                rounds += 1;
                if let Some(arena) = table.arena.as_mut() {
                    for k in wrong {
                        bounded[k] = true;
                        arena.buffers[k].size = table.exprs.len() as u32;
                        table.exprs.push(DimExpr {
                            den: 1,
                            terms: vec![Term {
                                coef: max_body.memory.entries[k].size as i64,
                                exps: vec![0; ranges.symbols.len()],
                            }],
                        });
                    }
                }
                continue;
            }
            Ok(wrong) => format!(
                "the size of buffer '{}' is no expression of the dims",
                max_body.memory.entries[wrong[0]].name
            ),
            Err(e) if table.arena.is_none() => return Err(e),
            Err(e) => e.to_string(),
        };
        table.arena = None;
        shared_arena = Some(why);
    }
    if let Some(why) = &shared_arena {
        notes.push(format!("the max shape's arena serves every shape ({why})"));
    }

    // A symbolic dim no flag bounds becomes a run-time dim when the plan holds at far shapes.
    if table.arena.is_some() && !bounded.contains(&true) {
        let mut far = Vec::new();
        for (u, s) in ranges.symbols.iter().enumerate() {
            if !s.defaulted {
                continue;
            }
            if proven.contains(&s.name) {
                far.push(u);
                continue;
            }
            match far_check(&sampler, &table, &[u], &max_body, &reference, int8.as_ref()) {
                Ok(()) => far.push(u),
                Err(FarFailure { constant, why }) => {
                    if constant {
                        tied.push(s.name.clone());
                    }
                    notes.push(format!(
                        "{} keeps the bound 1..={} (unbounded it fails: {why})",
                        s.name, s.max
                    ))
                }
            }
        }
        if far.len() > 1 {
            if let Err(FarFailure { why, .. }) =
                far_check(&sampler, &table, &far, &max_body, &reference, int8.as_ref())
            {
                notes.push(format!(
                    "the unbound dims keep their bounds (together they fail: {why})"
                ));
                far.clear();
            }
        }
        for u in far {
            table.symbols[u].max = UNBOUNDED;
            run_time.push(ranges.symbols[u].name.clone());
        }
    }

    let consts = Arc::try_unwrap(reference)
        .map(|r| r.consts)
        .map_err(|_| Error::Options("range plan: internal error: reference still shared".into()))?;
    let mut body = max_body;
    body.range = Some(table);
    Ok(RangeCompiled {
        plan: Plan { body, consts },
        optimised,
        notes,
        tied,
        run_time,
    })
}

/// Why a far shape fails: `constant` when a constant grows with the dim there.
struct FarFailure {
    constant: bool,
    why: String,
}

impl From<String> for FarFailure {
    fn from(why: String) -> FarFailure {
        FarFailure {
            constant: false,
            why,
        }
    }
}

/// Lower the plan with the symbols `far` at far sizes (beyond the nominal shape, which is only
/// sampled up to its default bound) and check that it is the table instantiated there: field for
/// field at the arena planned there, every buffer's size exact, no constant longer than at the
/// nominal shape, and the plan valid.
fn far_check(
    sampler: &Sampler<'_>,
    table: &RangeTable,
    far: &[usize],
    max_body: &infc_plan::PlanBody,
    reference: &Arc<infc_compile::Reference>,
    int8: Option<&Int8Decision>,
) -> std::result::Result<(), FarFailure> {
    let nominal = table.nominal_values();
    let mut quiet = |_: &'static str, _: &Graph, _: bool| {};
    for scale in [(3, 5), (16, 3)] {
        let mut values = nominal.clone();
        for &u in far {
            values[u] = nominal[u] * scale.0 + scale.1;
        }
        let Some(arena) = &table.arena else {
            return Err(String::from("no per-shape arena").into());
        };
        let planned = arena::planned(arena, table, &values)?;
        let l = sampler
            .lower(
                &values,
                true,
                int8,
                Some(reference.clone()),
                Some(Arc::new(planned)),
                &mut quiet,
            )
            .map_err(|e| e.to_string())?;
        let at = sampler.show(&values);
        for (root, &(_, len)) in &l.layout.consts {
            if reference.layout.consts.get(root).map(|c| c.1) != Some(len) {
                let name = l
                    .optimised
                    .graph
                    .values
                    .get(infc_ir::ValueId::from_index(*root))
                    .map_or("?", |v| v.name.as_str());
                return Err(FarFailure {
                    constant: true,
                    why: format!(
                        "at {at} constant '{name}' is {len} bytes, {} at the nominal shape",
                        reference.layout.consts.get(root).map_or(0, |c| c.1)
                    ),
                });
            }
        }
        same_constants(sampler, &values, &l.plan, &reference.consts).map_err(|e| e.to_string())?;
        same_frame(sampler, &values, &l.plan.body, max_body).map_err(|e| e.to_string())?;
        infc_plan::validate(&l.plan.body, reference.consts.len() as u64)
            .map_err(|e| format!("at {at}: {e}"))?;
        let predicted = table
            .instantiate(max_body, &values)
            .map_err(|e| format!("at {at}: {e}"))?;
        agree(sampler, &values, &predicted, &l.plan.body).map_err(|e| e.to_string())?;
        if predicted.memory != l.plan.body.memory {
            return Err(format!("at {at} a buffer's size is not its expression").into());
        }
        infc_plan::check_confined(&predicted, reference.consts.len() as u64)
            .map_err(|e| format!("at {at}: {e}"))?;
    }
    Ok(())
}

/// The per-shape arena table (nominal shape left to the caller), or why the plan keeps the max
/// shape's arena.
fn per_shape_arena(
    sampler: &Sampler<'_>,
    fitter: &mut Fitter,
    axes: &[Vec<u64>],
    sizes: &[Vec<u64>],
    reference: &Arc<infc_compile::Reference>,
    max_body: &infc_plan::PlanBody,
    int8: Option<&Int8Decision>,
) -> Result<std::result::Result<ShapeArena, String>> {
    if sampler.opts.shared_arena {
        return Ok(Err("asked for with --shared-arena".into()));
    }
    let buffers = match arena::fit_buffers(fitter, axes, sizes, &reference.layout.items) {
        Ok(b) => b,
        Err(why) => return Ok(Err(why)),
    };
    if let Err(e) = infc_plan::check_confined(max_body, reference.consts.len() as u64) {
        return Ok(Err(e.to_string()));
    }
    // Two perturbations, buffers moved in opposite orders: a field both attribute to the same
    // buffer holds an offset into it (one that is a difference of two offsets, or an offset in
    // other units, moves differently in the two).
    let max = sampler.ranges.max_values();
    let mut found = Vec::new();
    for reverse in [false, true] {
        let Some(moved) = arena::perturbed(&reference.layout.assignment, reverse) else {
            return Ok(Err("too many arena buffers".into()));
        };
        let mut quiet = |_: &'static str, _: &Graph, _: bool| {};
        let l = sampler.lower(
            &max,
            true,
            int8,
            Some(reference.clone()),
            Some(Arc::new(moved)),
            &mut quiet,
        )?;
        match arena::rebases(max_body, &l.plan.body, buffers.len(), reverse) {
            Ok(r) => found.push(r),
            Err(why) => return Ok(Err(why)),
        }
    }
    if found[0] != found[1] {
        return Ok(Err(
            "a field moves with the memory layout unlike an offset into one buffer".into(),
        ));
    }
    let rebases = found.swap_remove(0);
    Ok(Ok(ShapeArena {
        nominal: Vec::new(),
        buffers,
        rebases,
    }))
}

/// Lower the verification shapes (each symbol at its smallest size of 2 or more and at its
/// midpoint) and check that `table` instantiated there gives the same plan, lowered at the arena
/// the run time would plan there with a per-shape arena. Returns the buffers whose size
/// expression is wrong there (smaller than the buffer, or not exact where `bounded` does not
/// allow a larger one).
#[allow(clippy::too_many_arguments)]
fn verify(
    sampler: &Sampler<'_>,
    ranges: &Ranges,
    table: &RangeTable,
    max: &[u64],
    max_body: &infc_plan::PlanBody,
    reference: &Arc<infc_compile::Reference>,
    int8: Option<&Int8Decision>,
    bounded: &[bool],
) -> Result<Vec<usize>> {
    let mut mispredicted = Vec::new();
    let mut quiet = |_: &'static str, _: &Graph, _: bool| {};
    let check_axes: Vec<Vec<u64>> = ranges
        .symbols
        .iter()
        .map(|s| {
            let c = checks(s);
            if c.is_empty() {
                vec![s.max]
            } else {
                c
            }
        })
        .collect();
    for p in 0..check_axes.iter().map(Vec::len).product() {
        let values = grid_point(p, &check_axes);
        if values == max {
            continue;
        }
        let offsets = match &table.arena {
            None => None,
            Some(a) => Some(Arc::new(arena::planned(a, table, &values).map_err(
                |e| Error::Options(format!("range plan at {}: {e}", sampler.show(&values))),
            )?)),
        };
        let l = sampler.lower(
            &values,
            false,
            int8,
            Some(reference.clone()),
            offsets,
            &mut quiet,
        )?;
        same_constants(sampler, &values, &l.plan, &reference.consts)?;
        same_frame(sampler, &values, &l.plan.body, max_body)?;
        let predicted = table
            .instantiate(max_body, &values)
            .map_err(|e| Error::Options(format!("range plan at {}: {e}", sampler.show(&values))))?;
        agree(sampler, &values, &predicted, &l.plan.body)?;
        if table.arena.is_some() {
            infc_plan::check_confined(&predicted, reference.consts.len() as u64).map_err(|e| {
                Error::Options(format!("range plan at {}: {e}", sampler.show(&values)))
            })?;
            // Offsets and statistics came from the planned arena; the sizes are lowering's own.
            let (planned, lowered) = (&predicted.memory.entries, &l.plan.body.memory.entries);
            for (k, (p, l)) in planned.iter().zip(lowered).enumerate() {
                if p.size < l.size || (p.size != l.size && !bounded[k]) {
                    mispredicted.push(k);
                }
            }
        }
    }
    mispredicted.sort_unstable();
    mispredicted.dedup();
    Ok(mispredicted)
}

fn same_constants(s: &Sampler<'_>, values: &[u64], plan: &Plan, consts: &[u8]) -> Result<()> {
    if plan.consts != consts {
        return Err(Error::Options(format!(
            "range plan: the constants at {} differ from those at the max shape (a weight packed by shape?); compile with fixed shapes",
            s.show(values)
        )));
    }
    Ok(())
}

/// Same step count, names and memory plan as the max shape.
fn same_frame(
    s: &Sampler<'_>,
    values: &[u64],
    b: &infc_plan::PlanBody,
    max: &infc_plan::PlanBody,
) -> Result<()> {
    if b.steps.len() != max.steps.len() || b.step_names != max.step_names {
        let first = b
            .step_names
            .iter()
            .zip(&max.step_names)
            .position(|(a, m)| a != m)
            .unwrap_or(b.steps.len().min(max.steps.len()));
        return Err(Error::Options(format!(
            "range plan: at {} the model lowers to {} steps, at the max shape to {} (first difference at step {first}: '{}' vs '{}'); compile with fixed shapes or a narrower range",
            s.show(values),
            b.steps.len(),
            max.steps.len(),
            b.step_names.get(first).map_or("-", String::as_str),
            max.step_names.get(first).map_or("-", String::as_str),
        )));
    }
    if b.inputs.len() != max.inputs.len() || b.outputs.len() != max.outputs.len() {
        return Err(Error::Options(format!(
            "range plan: at {} the plan's inputs or outputs differ from the max shape's",
            s.show(values)
        )));
    }
    Ok(())
}

/// The template instantiated at `values` equals what lowering there gave.
fn agree(
    s: &Sampler<'_>,
    values: &[u64],
    predicted: &infc_plan::PlanBody,
    lowered: &infc_plan::PlanBody,
) -> Result<()> {
    for (i, (p, l)) in predicted.steps.iter().zip(&lowered.steps).enumerate() {
        if skeleton(p) != skeleton(l) || numeric_values(p) != numeric_values(l) {
            return Err(Error::Options(format!(
                "range plan: at {} step {i} ({} '{}') lowers to fields {:?}, the range's expressions give {:?}: its lowering is not polynomial in the dims; compile with fixed shapes or a narrower range",
                s.show(values),
                l.kind(),
                lowered.step_names[i],
                numeric_values(l),
                numeric_values(p),
            )));
        }
    }
    if predicted.inputs != lowered.inputs || predicted.outputs != lowered.outputs {
        return Err(Error::Options(format!(
            "range plan: at {} the inputs' or outputs' shapes are not the range's expressions",
            s.show(values)
        )));
    }
    Ok(())
}
