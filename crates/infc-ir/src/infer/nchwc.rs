//! Inference for the channel-blocked (NCHWc) ops made by the -O3 layout pass: `Reorder`,
//! `NchwcConv`, `NchwcMaxPool`. A blocked tensor is f32[N, ceil(C/c), H, W, c]; these rules check
//! the block dim against the op's block and the block count against the real channel count.

use super::{nn, unify_dim, Cx};
use crate::{ConvAttrs, DType, Dim, Epilogue, IrError, PoolAttrs, TensorType};

fn check_block(cx: &Cx, block: usize) -> Result<(), IrError> {
    if block == 0 {
        return Err(cx.err("block is 0"));
    }
    Ok(())
}

/// `[N, CB, H, W]` of a blocked f32 input `i` whose last dim must be `block`.
fn blocked_input(cx: &Cx, i: usize, block: usize) -> Result<Vec<Dim>, IrError> {
    let x = cx.ty(i);
    cx.expect_dtype(i, DType::F32)?;
    if x.rank() != 5 || unify_dim(&x.shape.0[4], &Dim::Known(block)).is_none() {
        return Err(cx.err(format!(
            "input {i} {x} is not blocked as [N, C/{block}, H, W, {block}]"
        )));
    }
    Ok(x.shape.0[..4].to_vec())
}

/// Number of blocks holding `channels` (symbolic stays a fresh dim).
fn blocks_of(cx: &Cx, channels: &Dim, block: usize, pos: usize) -> Dim {
    match channels {
        Dim::Known(c) => Dim::Known(c.div_ceil(block)),
        Dim::Sym(_) => cx.fresh(pos),
    }
}

fn check_blocks(
    cx: &Cx,
    what: &str,
    cb: &Dim,
    channels: usize,
    block: usize,
) -> Result<(), IrError> {
    if let Dim::Known(n) = cb {
        if *n != channels.div_ceil(block) {
            return Err(cx.err(format!(
                "{what} has {n} blocks of {block}, but {channels} channels need {}",
                channels.div_ceil(block)
            )));
        }
    }
    Ok(())
}

pub(super) fn reorder(
    cx: &Cx,
    to_blocked: bool,
    block: usize,
    channels: usize,
) -> Result<Vec<TensorType>, IrError> {
    check_block(cx, block)?;
    if to_blocked {
        let x = cx.ty(0);
        cx.expect_dtype(0, DType::F32)?;
        if x.rank() != 4 || unify_dim(&x.shape.0[1], &Dim::Known(channels)).is_none() {
            return Err(cx.err(format!("input {x} is not f32[N, {channels}, H, W]")));
        }
        let d = &x.shape.0;
        let dims = vec![
            d[0].clone(),
            Dim::Known(channels.div_ceil(block)),
            d[2].clone(),
            d[3].clone(),
            Dim::Known(block),
        ];
        Ok(vec![TensorType::new(DType::F32, dims)])
    } else {
        let d = blocked_input(cx, 0, block)?;
        check_blocks(cx, "input", &d[1], channels, block)?;
        let dims = vec![
            d[0].clone(),
            Dim::Known(channels),
            d[2].clone(),
            d[3].clone(),
        ];
        Ok(vec![TensorType::new(DType::F32, dims)])
    }
}

pub(super) fn conv(
    cx: &Cx,
    a: &ConvAttrs,
    stages: &[Epilogue],
    block: usize,
) -> Result<Vec<TensorType>, IrError> {
    check_block(cx, block)?;
    if a.group != 1 || a.kernel.len() != 2 {
        return Err(cx.err("only 2-D convolutions with group 1 are blocked"));
    }
    let (x, w) = (cx.ty(0), cx.ty(1));
    cx.expect_dtype(1, DType::F32)?;
    if w.rank() != 4 {
        return Err(cx.err(format!("weight {w} must have rank 4")));
    }
    // The plain-layout view of x: blocked inputs have C ≤ CB·block, checked against w's C_in.
    let plain = if x.rank() == 5 {
        let d = blocked_input(cx, 0, block)?;
        if let (Dim::Known(cb), Dim::Known(cin)) = (&d[1], &w.shape.0[1]) {
            check_blocks(cx, "input", &Dim::Known(*cb), *cin, block)?;
        }
        TensorType::new(
            DType::F32,
            vec![
                d[0].clone(),
                w.shape.0[1].clone(),
                d[2].clone(),
                d[3].clone(),
            ],
        )
    } else {
        cx.expect_dtype(0, DType::F32)?;
        if x.rank() != 4 || unify_dim(&x.shape.0[1], &w.shape.0[1]).is_none() {
            return Err(cx.err(format!("plain input {x} does not match weight {w}")));
        }
        x.clone()
    };
    for (i, &k) in a.kernel.iter().enumerate() {
        if unify_dim(&w.shape.0[2 + i], &Dim::Known(k)).is_none() {
            return Err(cx.err(format!("kernel {:?} disagrees with weight {w}", a.kernel)));
        }
    }
    let sp = nn::spatial(
        cx,
        &plain,
        &a.kernel,
        &a.strides,
        &a.pads,
        &a.dilations,
        false,
    )?;
    let cout = w.shape.0[0].clone();
    let y = TensorType::new(
        DType::F32,
        vec![
            plain.shape.0[0].clone(),
            blocks_of(cx, &cout, block, 1),
            sp[0].clone(),
            sp[1].clone(),
            Dim::Known(block),
        ],
    );
    let mut next = 2;
    for &st in stages {
        if !st.takes_input() {
            continue;
        }
        if !cx.has_input(next) {
            return Err(cx.err(format!(
                "epilogue stage '{}' has no input {next}",
                st.name()
            )));
        }
        let t = cx.ty(next);
        cx.expect_dtype(next, DType::F32)?;
        let ok = match st {
            Epilogue::Bias => t.rank() == 1 && unify_dim(&t.shape.0[0], &cout).is_some(),
            _ => {
                t.rank() == 5
                    && t.shape
                        .0
                        .iter()
                        .zip(&y.shape.0)
                        .all(|(a, b)| unify_dim(a, b).is_some())
            }
        };
        if !ok {
            return Err(cx.err(format!(
                "epilogue '{}' input {next} {t} does not fit output {y}",
                st.name()
            )));
        }
        next += 1;
    }
    if next != cx.inputs.len() {
        return Err(cx.err(format!(
            "epilogue reads {} extra inputs, node has {}",
            next - 2,
            cx.inputs.len() - 2
        )));
    }
    Ok(vec![y])
}

pub(super) fn max_pool(cx: &Cx, a: &PoolAttrs) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    let block = match x.shape.0.last() {
        Some(Dim::Known(b)) if x.rank() == 5 => *b,
        _ => return Err(cx.err(format!("input {x} is not blocked [N, CB, H, W, c]"))),
    };
    let d = blocked_input(cx, 0, block)?;
    if a.kernel.len() != 2 {
        return Err(cx.err("only 2-D pooling is blocked"));
    }
    let plain = TensorType::new(DType::F32, d.clone());
    let sp = nn::spatial(
        cx,
        &plain,
        &a.kernel,
        &a.strides,
        &a.pads,
        &a.dilations,
        a.ceil_mode,
    )?;
    let dims = vec![
        d[0].clone(),
        d[1].clone(),
        sp[0].clone(),
        sp[1].clone(),
        Dim::Known(block),
    ];
    Ok(vec![TensorType::new(DType::F32, dims)])
}
