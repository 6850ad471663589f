//! Attribute sanity and cheap rank/shape rules per op: conv/pool window lengths against the input
//! rank, axes in range, `perm` a permutation, broadcast compatibility, same-shape elementwise ops,
//! matmul inner dims, split sizes. Dims are compared with [`super::dims_conflict`].

use super::{dims_conflict, NodeCx};
use crate::{ConvAttrs, Dim, Epilogue, Op, PoolAttrs, TensorType};

fn rank_in(cx: &NodeCx, i: usize) -> usize {
    cx.ty_in(i).rank()
}

/// `axis` lies in `-rank..rank`; returns it normalised.
fn axis_in(axis: i64, rank: usize, what: &str) -> Result<usize, String> {
    let r = rank as i64;
    if axis < -r || axis >= r {
        return Err(format!("{what} {axis} is out of range for rank {rank}"));
    }
    Ok(if axis < 0 {
        (axis + r) as usize
    } else {
        axis as usize
    })
}

/// Normalised, distinct axes.
fn axes_in(axes: &[i64], rank: usize, what: &str) -> Result<Vec<usize>, String> {
    let mut seen = Vec::with_capacity(axes.len());
    for &a in axes {
        let n = axis_in(a, rank, what)?;
        if seen.contains(&n) {
            return Err(format!("{what} {a} is repeated"));
        }
        seen.push(n);
    }
    Ok(seen)
}

fn expect_rank(desc: String, ty: &TensorType, want: usize) -> Result<(), String> {
    if ty.rank() != want {
        return Err(format!(
            "{desc} has rank {} ({ty}), expected {want}",
            ty.rank()
        ));
    }
    Ok(())
}

fn out_rank(cx: &NodeCx, i: usize, want: usize) -> Result<(), String> {
    expect_rank(cx.out_desc(i), cx.ty_out(i), want)
}

/// `found` dim `axis` of `desc` does not contradict `want`.
fn dim_matches(desc: &str, ty: &TensorType, axis: usize, want: &Dim) -> Result<(), String> {
    match ty.shape.dims().get(axis) {
        Some(d) if dims_conflict(d, want) => {
            Err(format!("{desc} dim {axis} is {d}, expected {want}"))
        }
        _ => Ok(()),
    }
}

/// `b` (described by `b_desc`) has the shape of `a`: same rank, no conflicting dim.
fn shapes_agree(a_desc: &str, a: &TensorType, b_desc: &str, b: &TensorType) -> Result<(), String> {
    if a.rank() != b.rank() {
        return Err(format!(
            "{b_desc} is {b} but {a_desc} is {a} (rank differs)"
        ));
    }
    for (axis, (da, db)) in a.shape.dims().iter().zip(b.shape.dims()).enumerate() {
        if dims_conflict(da, db) {
            return Err(format!("{b_desc} is {b} but {a_desc} is {a} (dim {axis})"));
        }
    }
    Ok(())
}

/// Output `o` has the shape of input `i`.
fn same_shape(cx: &NodeCx, i: usize, o: usize) -> Result<(), String> {
    shapes_agree(&cx.in_desc(i), cx.ty_in(i), &cx.out_desc(o), cx.ty_out(o))
}

/// Numpy broadcasting of `inputs` into output 0: input dims must be compatible, and the output dim
/// must agree with the broadcast result where that result is determined.
fn broadcast(cx: &NodeCx, inputs: &[usize]) -> Result<(), String> {
    let rank = inputs.iter().map(|&i| rank_in(cx, i)).max().unwrap_or(0);
    out_rank(cx, 0, rank)?;
    let out = cx.ty_out(0);
    for pos in 0..rank {
        // (input index, dim) of every input that has this position, right-aligned.
        let dims: Vec<(usize, &Dim)> = inputs
            .iter()
            .filter_map(|&i| {
                let r = rank_in(cx, i);
                (pos + r >= rank).then(|| (i, &cx.ty_in(i).shape.dims()[pos + r - rank]))
            })
            .collect();
        let mut known: Option<(usize, usize)> = None;
        for &(i, d) in &dims {
            if let Dim::Known(n) = *d {
                if n == 1 {
                    continue;
                }
                match known {
                    Some((j, m)) if m != n => {
                        return Err(format!(
                            "{} ({}) and {} ({}) do not broadcast: dim {n} vs {m}",
                            cx.in_desc(i),
                            cx.ty_in(i),
                            cx.in_desc(j),
                            cx.ty_in(j)
                        ))
                    }
                    _ => known = Some((i, n)),
                }
            }
        }
        let expected = match known {
            Some((_, n)) => Some(Dim::Known(n)),
            None => {
                let syms: Vec<&Dim> = dims
                    .iter()
                    .map(|&(_, d)| d)
                    .filter(|d| !d.is_known())
                    .collect();
                match syms.split_first() {
                    None => Some(Dim::Known(1)),
                    Some((first, rest)) if rest.iter().all(|d| d == first) => {
                        Some((*first).clone())
                    }
                    Some(_) => None,
                }
            }
        };
        if let Some(want) = expected {
            dim_matches(&cx.out_desc(0), out, pos, &want)?;
        }
    }
    Ok(())
}

/// Window attributes (`kernel`, `strides`, `pads`, `dilations`) agree in length, are non-zero,
/// and match the rank of input 0 (N, C, spatial…); output 0 has the same rank.
fn window(
    cx: &NodeCx,
    kernel: &[usize],
    strides: &[usize],
    pads: &[usize],
    dilations: &[usize],
) -> Result<(), String> {
    let k = kernel.len();
    for (name, len) in [("strides", strides.len()), ("dilations", dilations.len())] {
        if len != k {
            return Err(format!(
                "`{name}` has length {len} but `kernel` has length {k}"
            ));
        }
    }
    if pads.len() != 2 * k {
        return Err(format!(
            "`pads` has length {}, expected {} (begin and end per spatial axis)",
            pads.len(),
            2 * k
        ));
    }
    for (name, vals) in [
        ("kernel", kernel),
        ("strides", strides),
        ("dilations", dilations),
    ] {
        if vals.contains(&0) {
            return Err(format!("`{name}` contains 0"));
        }
    }
    if rank_in(cx, 0) != k + 2 {
        return Err(format!(
            "{} has rank {} but `kernel` has {k} spatial dims (rank {} expected)",
            cx.in_desc(0),
            rank_in(cx, 0),
            k + 2
        ));
    }
    out_rank(cx, 0, k + 2)
}

/// Conv rules on x (input 0), w (input 1) and y (output 0); bias/extras are checked by the caller.
fn conv(cx: &NodeCx, c: &ConvAttrs) -> Result<(), String> {
    window(cx, &c.kernel, &c.strides, &c.pads, &c.dilations)?;
    if c.group == 0 {
        return Err("`group` is 0".into());
    }
    let k = c.kernel.len();
    let (x, w, y) = (cx.ty_in(0), cx.ty_in(1), cx.ty_out(0));
    expect_rank(cx.in_desc(1), w, k + 2)?;
    for (i, &kd) in c.kernel.iter().enumerate() {
        dim_matches(&cx.in_desc(1), w, 2 + i, &Dim::Known(kd))?;
    }
    let wd = w.shape.dims();
    if let (Some(cin), Some(wc)) = (x.shape.dims()[1].known(), wd[1].known()) {
        if cin != wc * c.group {
            return Err(format!(
                "{} has {cin} channels but weight {w} × group {} takes {}",
                cx.in_desc(0),
                c.group,
                wc * c.group
            ));
        }
    }
    dim_matches(&cx.out_desc(0), y, 1, &wd[0])?;
    dim_matches(&cx.out_desc(0), y, 0, &x.shape.dims()[0])
}

/// A bias vector (input `i`) of `len` elements.
fn bias(cx: &NodeCx, i: usize, len: &Dim) -> Result<(), String> {
    expect_rank(cx.in_desc(i), cx.ty_in(i), 1)?;
    dim_matches(&cx.in_desc(i), cx.ty_in(i), 0, len)
}

/// Extra inputs of a fused epilogue, from input 2 on: a bias of `bias_len`, a residual of the
/// output's shape.
fn epilogue(cx: &NodeCx, stages: &[Epilogue], bias_len: &Dim) -> Result<(), String> {
    let mut next = 2;
    for stage in stages {
        match stage {
            Epilogue::Bias => bias(cx, next, bias_len)?,
            Epilogue::Residual => shapes_agree(
                &cx.out_desc(0),
                cx.ty_out(0),
                &cx.in_desc(next),
                cx.ty_in(next),
            )?,
            Epilogue::Relu | Epilogue::GeluErf | Epilogue::GeluTanh => continue,
        }
        next += 1;
    }
    Ok(())
}

fn skip_layer_norm(cx: &NodeCx) -> Result<(), String> {
    let x = cx.ty_in(0);
    if x.rank() == 0 {
        return Err(format!("{} must have rank ≥ 1", cx.in_desc(0)));
    }
    shapes_agree(&cx.in_desc(0), x, &cx.in_desc(1), cx.ty_in(1))?;
    let last = &x.shape.dims()[x.rank() - 1];
    bias(cx, 2, last)?;
    bias(cx, 3, last)?;
    same_shape(cx, 0, 0)?;
    same_shape(cx, 0, 1)
}

fn attention(cx: &NodeCx, num_heads: usize) -> Result<(), String> {
    if num_heads == 0 {
        return Err("`num_heads` is 0".into());
    }
    for i in 0..3 {
        expect_rank(cx.in_desc(i), cx.ty_in(i), 3)?;
    }
    let (q, k, v) = (cx.ty_in(0), cx.ty_in(1), cx.ty_in(2));
    if let Some(hidden) = q.shape.dims()[2].known() {
        if hidden % num_heads != 0 {
            return Err(format!(
                "{} hidden size {hidden} is not a multiple of `num_heads` {num_heads}",
                cx.in_desc(0)
            ));
        }
    }
    for (i, t) in [(1, k), (2, v)] {
        dim_matches(&cx.in_desc(i), t, 0, &q.shape.dims()[0])?;
        dim_matches(&cx.in_desc(i), t, 2, &q.shape.dims()[2])?;
    }
    dim_matches(&cx.in_desc(2), v, 1, &k.shape.dims()[1])?;
    if cx.n_in() == 4 && cx.ty_in(3).rank() > 4 {
        return Err(format!(
            "{} has rank {}, expected ≤ 4",
            cx.in_desc(3),
            cx.ty_in(3).rank()
        ));
    }
    same_shape(cx, 0, 0)
}

fn pool(cx: &NodeCx, p: &PoolAttrs) -> Result<(), String> {
    window(cx, &p.kernel, &p.strides, &p.pads, &p.dilations)?;
    let (x, y) = (cx.ty_in(0), cx.ty_out(0));
    dim_matches(&cx.out_desc(0), y, 0, &x.shape.dims()[0])?;
    dim_matches(&cx.out_desc(0), y, 1, &x.shape.dims()[1])
}

/// MatMul inner dims; `trans_a`/`trans_b` read that operand with its last two axes swapped.
fn matmul(cx: &NodeCx, trans_a: bool, trans_b: bool) -> Result<(), String> {
    let (a, b) = (cx.ty_in(0), cx.ty_in(1));
    if a.rank() == 0 || b.rank() == 0 {
        return Err(format!("MatMul inputs must have rank ≥ 1, got {a} and {b}"));
    }
    for (i, t, trans) in [(0, a, trans_a), (1, b, trans_b)] {
        if trans && t.rank() < 2 {
            return Err(format!(
                "{} is read transposed, so it needs rank ≥ 2, got {t}",
                cx.in_desc(i)
            ));
        }
    }
    let ka = &a.shape.dims()[a.rank() - 1 - usize::from(trans_a)];
    let kb = &b.shape.dims()[if trans_b {
        b.rank() - 1
    } else if b.rank() >= 2 {
        b.rank() - 2
    } else {
        0
    }];
    if dims_conflict(ka, kb) {
        return Err(format!(
            "inner dims differ: {} is {a}, {} is {b}",
            cx.in_desc(0),
            cx.in_desc(1)
        ));
    }
    Ok(())
}

fn transpose(cx: &NodeCx, perm: &[usize]) -> Result<(), String> {
    let r = rank_in(cx, 0);
    let mut seen = vec![false; perm.len()];
    for &p in perm {
        if p >= perm.len() || std::mem::replace(&mut seen[p], true) {
            return Err(format!("`perm` {perm:?} is not a permutation"));
        }
    }
    if perm.len() != r {
        return Err(format!(
            "`perm` has length {} but {} has rank {r}",
            perm.len(),
            cx.in_desc(0)
        ));
    }
    out_rank(cx, 0, r)?;
    let x = cx.ty_in(0);
    for (axis, &p) in perm.iter().enumerate() {
        dim_matches(&cx.out_desc(0), cx.ty_out(0), axis, &x.shape.dims()[p])?;
    }
    Ok(())
}

fn split(cx: &NodeCx, axis: i64, splits: &[usize]) -> Result<(), String> {
    let x = cx.ty_in(0);
    let a = axis_in(axis, x.rank(), "`axis`")?;
    if let Some(n) = x.shape.dims()[a].known() {
        let total: usize = splits.iter().sum();
        if total != n {
            return Err(format!(
                "`splits` {splits:?} sum to {total} but {} has {n} along axis {a}",
                cx.in_desc(0)
            ));
        }
    }
    for (o, &s) in splits.iter().enumerate() {
        out_rank(cx, o, x.rank())?;
        dim_matches(&cx.out_desc(o), cx.ty_out(o), a, &Dim::Known(s))?;
    }
    Ok(())
}

fn concat(cx: &NodeCx, axis: i64) -> Result<(), String> {
    let r = rank_in(cx, 0);
    let a = axis_in(axis, r, "`axis`")?;
    for i in 1..cx.n_in() {
        if rank_in(cx, i) != r {
            return Err(format!(
                "{} ({}) and {} ({}) differ in rank",
                cx.in_desc(i),
                cx.ty_in(i),
                cx.in_desc(0),
                cx.ty_in(0)
            ));
        }
    }
    out_rank(cx, 0, r)?;
    for d in (0..r).filter(|&d| d != a) {
        for i in 0..cx.n_in() {
            dim_matches(
                &cx.in_desc(i),
                cx.ty_in(i),
                d,
                &cx.ty_out(0).shape.dims()[d],
            )?;
        }
    }
    Ok(())
}

fn reduce(cx: &NodeCx, axes: &Option<Vec<i64>>, keepdims: bool) -> Result<(), String> {
    let r = rank_in(cx, 0);
    match axes {
        Some(axes) if !axes.is_empty() => {
            let n = axes_in(axes, r, "`axes` entry")?.len();
            out_rank(cx, 0, if keepdims { r } else { r - n })
        }
        _ if keepdims => out_rank(cx, 0, r),
        _ => Ok(()),
    }
}

fn gather_nd(cx: &NodeCx, batch_dims: usize) -> Result<(), String> {
    let (data, idx) = (cx.ty_in(0), cx.ty_in(1));
    if idx.rank() == 0 {
        return Err(format!("{} must have rank ≥ 1", cx.in_desc(1)));
    }
    if batch_dims >= data.rank().min(idx.rank()) {
        return Err(format!(
            "`batch_dims` {batch_dims} must be less than the ranks of data and indices"
        ));
    }
    if let Some(last) = idx.shape.dims()[idx.rank() - 1].known() {
        if batch_dims + last > data.rank() {
            return Err(format!("indices address {last} dims after {batch_dims} batch dims but data {data} has rank {}", data.rank()));
        }
        out_rank(cx, 0, idx.rank() + data.rank() - last - 1 - batch_dims)?;
    }
    Ok(())
}

fn shape_op(cx: &NodeCx, start: i64, end: Option<i64>) -> Result<(), String> {
    out_rank(cx, 0, 1)?;
    let r = rank_in(cx, 0) as i64;
    let clamp = |v: i64| {
        if v < 0 {
            (v + r).clamp(0, r)
        } else {
            v.clamp(0, r)
        }
    };
    let len = (clamp(end.unwrap_or(r)) - clamp(start)).max(0) as usize;
    dim_matches(&cx.out_desc(0), cx.ty_out(0), 0, &Dim::Known(len))
}

pub(super) fn check(cx: &NodeCx) -> Result<(), String> {
    match &cx.node.op {
        Op::Unary(_)
        | Op::Cast { .. }
        | Op::Identity
        | Op::Dropout
        | Op::Clip
        | Op::BatchNorm { .. } => same_shape(cx, 0, 0),
        Op::Binary(_) => broadcast(cx, &[0, 1]),
        Op::Where => broadcast(cx, &[0, 1, 2]),
        Op::Conv(c) => {
            conv(cx, c)?;
            match cx.n_in() {
                3 => bias(cx, 2, &cx.ty_in(1).shape.dims()[0]),
                _ => Ok(()),
            }
        }
        Op::MaxPool(p) => pool(cx, p),
        Op::AveragePool { attrs, .. } => pool(cx, attrs),
        Op::GlobalAveragePool => {
            let r = rank_in(cx, 0);
            if r < 3 {
                return Err(format!(
                    "{} has rank {r}, expected ≥ 3 (N, C, spatial…)",
                    cx.in_desc(0)
                ));
            }
            out_rank(cx, 0, r)?;
            (2..r).try_for_each(|d| dim_matches(&cx.out_desc(0), cx.ty_out(0), d, &Dim::Known(1)))
        }
        Op::Gemm { .. } => {
            expect_rank(cx.in_desc(0), cx.ty_in(0), 2)?;
            expect_rank(cx.in_desc(1), cx.ty_in(1), 2)?;
            out_rank(cx, 0, 2)
        }
        Op::MatMul => matmul(cx, false, false),
        Op::Softmax { axis } => {
            axis_in(*axis, rank_in(cx, 0), "`axis`")?;
            same_shape(cx, 0, 0)
        }
        Op::LayerNorm { axis, .. } => {
            axis_in(*axis, rank_in(cx, 0), "`axis`")?;
            same_shape(cx, 0, 0)
        }
        Op::Reduce { axes, keepdims, .. } => reduce(cx, axes, *keepdims),
        Op::Reshape { .. } => {
            expect_rank(cx.in_desc(1), cx.ty_in(1), 1)?;
            match (cx.ty_in(0).shape.numel(), cx.ty_out(0).shape.numel()) {
                (Some(a), Some(b)) if a != b => Err(format!(
                    "{} ({}) has {a} elements but {} ({}) has {b}",
                    cx.in_desc(0),
                    cx.ty_in(0),
                    cx.out_desc(0),
                    cx.ty_out(0)
                )),
                _ => Ok(()),
            }
        }
        Op::Flatten { axis } => {
            let r = rank_in(cx, 0);
            if *axis < -(r as i64) || *axis > r as i64 {
                return Err(format!("`axis` {axis} is out of range for rank {r}"));
            }
            out_rank(cx, 0, 2)
        }
        Op::Transpose { perm } => transpose(cx, perm),
        Op::Concat { axis } => concat(cx, *axis),
        Op::Split { axis, splits } => split(cx, *axis, splits),
        Op::Slice => {
            for i in 1..5 {
                if rank_in(cx, i) > 1 {
                    return Err(format!("{} must be 1-D, is {}", cx.in_desc(i), cx.ty_in(i)));
                }
            }
            out_rank(cx, 0, rank_in(cx, 0))
        }
        Op::Gather { axis } => {
            let r = rank_in(cx, 0);
            axis_in(*axis, r, "`axis`")?;
            out_rank(cx, 0, r - 1 + rank_in(cx, 1))
        }
        Op::GatherND { batch_dims } => gather_nd(cx, *batch_dims),
        Op::GatherElements { axis } => {
            let r = rank_in(cx, 0);
            axis_in(*axis, r, "`axis`")?;
            if rank_in(cx, 1) != r {
                return Err(format!("{} must have the data's rank {r}", cx.in_desc(1)));
            }
            out_rank(cx, 0, r)
        }
        Op::Unsqueeze { axes } => {
            let r = rank_in(cx, 0) + axes.len();
            axes_in(axes, r, "`axes` entry")?;
            out_rank(cx, 0, r)
        }
        Op::Squeeze { axes } => match axes {
            Some(axes) => {
                let r = rank_in(cx, 0);
                for a in axes_in(axes, r, "`axes` entry")? {
                    dim_matches(&cx.in_desc(0), cx.ty_in(0), a, &Dim::Known(1))?;
                }
                out_rank(cx, 0, r - axes.len())
            }
            None => Ok(()),
        },
        Op::Shape { start, end } => shape_op(cx, *start, *end),
        Op::Range => {
            for i in 0..3 {
                expect_rank(cx.in_desc(i), cx.ty_in(i), 0)?;
            }
            out_rank(cx, 0, 1)
        }
        Op::Expand => {
            let s = cx.ty_in(1);
            expect_rank(cx.in_desc(1), s, 1)?;
            if let Some(n) = s.shape.dims()[0].known() {
                out_rank(cx, 0, n.max(rank_in(cx, 0)))?;
            }
            Ok(())
        }
        Op::ConstantOfShape { .. } => {
            let s = cx.ty_in(0);
            expect_rank(cx.in_desc(0), s, 1)?;
            match s.shape.dims()[0].known() {
                Some(n) => out_rank(cx, 0, n),
                None => Ok(()),
            }
        }
        Op::Trilu { .. } => {
            if rank_in(cx, 0) < 2 {
                return Err(format!(
                    "{} has rank {}, expected ≥ 2",
                    cx.in_desc(0),
                    rank_in(cx, 0)
                ));
            }
            same_shape(cx, 0, 0)
        }
        Op::CumSum { .. } => {
            if rank_in(cx, 0) == 0 {
                return Err(format!("{} must have rank ≥ 1", cx.in_desc(0)));
            }
            if rank_in(cx, 1) != 0 {
                return Err(format!("{} (the axis) must be a scalar", cx.in_desc(1)));
            }
            same_shape(cx, 0, 0)
        }
        Op::Gelu { .. } => same_shape(cx, 0, 0),
        Op::FusedConv {
            attrs,
            epilogue: stages,
        } => {
            conv(cx, attrs)?;
            epilogue(cx, stages, &cx.ty_in(1).shape.dims()[0])
        }
        Op::FusedMatMul {
            epilogue: stages,
            trans_a,
            trans_b,
        } => {
            matmul(cx, *trans_a, *trans_b)?;
            let b = cx.ty_in(1);
            let n_axis = b.rank() - 1 - usize::from(*trans_b);
            epilogue(cx, stages, &b.shape.dims()[n_axis])
        }
        Op::SkipLayerNorm { .. } => skip_layer_norm(cx),
        Op::RmsNorm { .. } => {
            let r = rank_in(cx, 0);
            if r == 0 {
                return Err(format!("{} must have rank ≥ 1", cx.in_desc(0)));
            }
            let c = cx.ty_in(0).shape.dims()[r - 1].clone();
            if cx.ty_in(1).shape.dims() != std::slice::from_ref(&c) {
                return Err(format!(
                    "{} ({}) must be [{c}], the input's last dim",
                    cx.in_desc(1),
                    cx.ty_in(1)
                ));
            }
            same_shape(cx, 0, 0)
        }
        Op::Attention { num_heads, .. } => attention(cx, *num_heads),
        Op::Reorder {
            to_blocked, block, ..
        } => {
            let (rin, rout) = if *to_blocked { (4, 5) } else { (5, 4) };
            expect_rank(cx.in_desc(0), cx.ty_in(0), rin)?;
            out_rank(cx, 0, rout)?;
            let (desc, ty) = if *to_blocked {
                (cx.out_desc(0), cx.ty_out(0))
            } else {
                (cx.in_desc(0), cx.ty_in(0))
            };
            dim_matches(&desc, ty, 4, &Dim::Known(*block))
        }
        Op::NchwcConv { block, .. } => {
            out_rank(cx, 0, 5)?;
            dim_matches(&cx.out_desc(0), cx.ty_out(0), 4, &Dim::Known(*block))
        }
        Op::NchwcMaxPool(_) => {
            expect_rank(cx.in_desc(0), cx.ty_in(0), 5)?;
            out_rank(cx, 0, 5)
        }
    }
}
