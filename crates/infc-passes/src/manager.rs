//! Pass manager: the `-O` pipelines, the pass context (fusion log) and the driver that runs passes,
//! verifies after each one (debug builds and tests) and lets callers observe the IR after each pass.

use crate::PassError;
use infc_ir::Graph;

/// Optimisation level, as given by `-O0` … `-O3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OptLevel {
    O0,
    O1,
    O2,
    O3,
}

impl OptLevel {
    pub fn from_digit(d: u8) -> Option<OptLevel> {
        Some(match d {
            0 => OptLevel::O0,
            1 => OptLevel::O1,
            2 => OptLevel::O2,
            3 => OptLevel::O3,
            _ => return None,
        })
    }
}

/// One rewrite that fired: the rule name and the source names of the nodes it consumed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FusionEntry {
    pub rule: &'static str,
    pub nodes: Vec<String>,
}

/// Every rewrite that fired during a pipeline run, in order.
#[derive(Clone, Debug, Default)]
pub struct FusionLog {
    pub entries: Vec<FusionEntry>,
}

impl FusionLog {
    pub fn record(&mut self, rule: &'static str, nodes: Vec<String>) {
        self.entries.push(FusionEntry { rule, nodes });
    }
    /// `(rule, count)` sorted by rule name.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let mut m = std::collections::BTreeMap::new();
        for e in &self.entries {
            *m.entry(e.rule).or_insert(0usize) += 1;
        }
        m.into_iter().collect()
    }
}

/// State shared by the passes of one pipeline run.
#[derive(Debug, Default)]
pub struct PassCx {
    pub log: FusionLog,
    /// Verify the graph after every pass (on by default in debug builds and tests).
    pub verify_each: bool,
    /// Channel block of the -O3 NCHWc layout (8 or 16); `None` = [`crate::DEFAULT_NCHWC_BLOCK`].
    pub nchwc_block: Option<usize>,
    /// `--int8`: what `mark-int8` marks (`None`: it does nothing).
    pub int8: Option<crate::Int8Marking>,
}

impl PassCx {
    pub fn new() -> PassCx {
        PassCx {
            log: FusionLog::default(),
            verify_each: cfg!(debug_assertions),
            nchwc_block: None,
            int8: None,
        }
    }
}

/// A named pass.
#[derive(Clone, Copy)]
pub struct Pass {
    pub name: &'static str,
    pub run: fn(&mut Graph, &mut PassCx) -> Result<bool, PassError>,
}

impl std::fmt::Debug for Pass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

const FOLD: Pass = Pass {
    name: "fold-constants",
    run: crate::fold_constants,
};
const DCE: Pass = Pass {
    name: "dce",
    run: crate::eliminate_dead_code,
};
const IDENTITIES: Pass = Pass {
    name: "eliminate-identities",
    run: crate::eliminate_identities,
};
const GATHER_ND_RESHAPE: Pass = Pass {
    name: "gather-nd-as-reshape",
    run: crate::gather_nd_as_reshape,
};
const CSE: Pass = Pass {
    name: "cse",
    run: crate::eliminate_common_subexpressions,
};
const CONV_BN: Pass = Pass {
    name: "fuse-conv-bn",
    run: crate::fuse_conv_bn,
};
const GELU: Pass = Pass {
    name: "fuse-gelu",
    run: crate::fuse_gelu,
};
const LAYERNORM: Pass = Pass {
    name: "fuse-layernorm",
    run: crate::fuse_layernorm,
};
const RMSNORM: Pass = Pass {
    name: "fuse-rmsnorm",
    run: crate::fuse_rmsnorm,
};
const SKIP_LAYERNORM: Pass = Pass {
    name: "fuse-skip-layernorm",
    run: crate::fuse_skip_layernorm,
};
const MATMUL_EPILOGUE: Pass = Pass {
    name: "fuse-matmul-epilogue",
    run: crate::fuse_matmul_epilogue,
};
const CONV_EPILOGUE: Pass = Pass {
    name: "fuse-conv-epilogue",
    run: crate::fuse_conv_epilogue,
};
const ATTENTION: Pass = Pass {
    name: "fuse-attention",
    run: crate::fuse_attention,
};
const CAUSAL_MASK: Pass = Pass {
    name: "split-causal-mask",
    run: crate::split_causal_mask,
};
const QKV_PROJECTION: Pass = Pass {
    name: "fuse-qkv-projection",
    run: crate::fuse_qkv_projection,
};
const GLOBAL_POOL: Pass = Pass {
    name: "fuse-global-pool",
    run: crate::fuse_global_pool,
};

/// Runs after the fusions: attention matching expects the exporters' own transpose pairs.
const SIMPLIFY_CHAINS: Pass = Pass {
    name: "simplify-reshape-transpose",
    run: crate::simplify_reshape_transpose,
};

/// After the fusions and chain simplification: attention matching consumes its own `Kᵀ`
/// transposes, and composed transpose chains may end in a last-two-axes swap this pass can fold.
const TRANSPOSE_MATMUL: Pass = Pass {
    name: "fold-transpose-matmul",
    run: crate::fold_transpose_matmul,
};

/// Last of -O2/-O3: marks the QKV split's outputs as views once every fusion has settled who
/// reads them.
const QKV_VIEWS: Pass = Pass {
    name: "mark-qkv-views",
    run: crate::mark_qkv_views,
};

const MARK_INT8: Pass = Pass {
    name: "mark-int8",
    run: crate::mark_int8,
};

const ABSORB_LAYERNORM: Pass = Pass {
    name: "absorb-layernorm",
    run: crate::absorb_layernorm,
};

const LAYOUT_NCHWC: Pass = Pass {
    name: "layout-nchwc",
    run: crate::layout_nchwc,
};

/// The fusions -O2 adds after the -O1 cleanup, in order: BN folding before conv epilogues; GELU,
/// LayerNorm and RMSNorm recognition before the fusions that consume `Gelu`/`LayerNorm`; attention before the
/// matmul epilogue, whose reshape dropping would otherwise change the shape of the head-merge output
/// the attention match looks for; splitting a combined causal+padding mask right after it; the
/// matmul epilogue before SkipLayerNorm, so a residual Add after a projection is done in the GEMM's
/// store (no extra pass over the activations) and only the Adds of other producers (the embeddings)
/// become SkipLayerNorm.
const FUSIONS: [Pass; 10] = [
    CONV_BN,
    GELU,
    LAYERNORM,
    RMSNORM,
    ATTENTION,
    CAUSAL_MASK,
    MATMUL_EPILOGUE,
    SKIP_LAYERNORM,
    CONV_EPILOGUE,
    GLOBAL_POOL,
];

/// Every pass, each once.
fn all_passes() -> impl Iterator<Item = Pass> {
    [FOLD, DCE, GATHER_ND_RESHAPE, IDENTITIES, CSE]
        .into_iter()
        .chain(FUSIONS)
        .chain([
            SIMPLIFY_CHAINS,
            TRANSPOSE_MATMUL,
            QKV_PROJECTION,
            LAYOUT_NCHWC,
            QKV_VIEWS,
            MARK_INT8,
            ABSORB_LAYERNORM,
        ])
}

/// Every pass by name (for `--print-after NAME` validation and filetests).
pub fn pass_by_name(name: &str) -> Option<Pass> {
    all_passes().find(|p| p.name == name)
}

/// The name of every pass, sorted (for error messages that list the known passes).
pub fn pass_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = all_passes().map(|p| p.name).collect();
    names.sort_unstable();
    names
}

/// The passes run at `level`, in order.
pub fn pipeline(level: OptLevel) -> Vec<Pass> {
    match level {
        OptLevel::O0 => vec![],
        OptLevel::O1 => vec![FOLD, GATHER_ND_RESHAPE, IDENTITIES, CSE, DCE],
        OptLevel::O2 | OptLevel::O3 => {
            let mut passes = vec![FOLD, GATHER_ND_RESHAPE, IDENTITIES, CSE, DCE];
            passes.extend(FUSIONS);
            passes.push(SIMPLIFY_CHAINS);
            passes.push(TRANSPOSE_MATMUL);
            // After the transposes settle: the merged weights keep each member's `trans_b`.
            passes.push(QKV_PROJECTION);
            passes.push(DCE);
            if level == OptLevel::O3 {
                // After every fusion: the layout pass converts the fused convs' epilogues as is.
                passes.push(LAYOUT_NCHWC);
            }
            passes.push(QKV_VIEWS);
            passes
        }
    }
}

/// The passes `--int8` runs after the `-O` pipeline (with [`PassCx::int8`] set): the
/// selection as precision marks, then the LayerNorms the per-row INT8 matmuls absorb.
pub fn int8_passes() -> Vec<Pass> {
    vec![MARK_INT8, ABSORB_LAYERNORM]
}

/// Run `passes` in order; `after(pass_name, graph, changed)` is called after each one
/// (for `--print-after-all`). Verifies after each pass when `cx.verify_each`.
pub fn run_pipeline(
    g: &mut Graph,
    passes: &[Pass],
    cx: &mut PassCx,
    mut after: impl FnMut(&'static str, &Graph, bool),
) -> Result<(), PassError> {
    for pass in passes {
        let changed = (pass.run)(g, cx)?;
        if cx.verify_each {
            infc_ir::verify(g).map_err(|err| PassError::Verify {
                pass: pass.name,
                err,
            })?;
        }
        after(pass.name, g, changed);
    }
    Ok(())
}
