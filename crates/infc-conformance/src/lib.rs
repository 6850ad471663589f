//! Fixture access for the differential tests: reads `models/fixtures/<name>/` (model, `meta.json`,
//! seeded inputs and onnxruntime's outputs as `.npy`, plus the extra input sets under `cases/<case>/`),
//! converts arrays to IR tensors, prepares a bound graph, and compares outputs with the project
//! tolerance (max abs err ≤ 1e-4 + 1e-3·max|ref|).
//!
//! Everything goes through the facade crate `infc`, as the CLI does: the pipeline (import, shape
//! binding, passes, INT8 marks, lowering) is the facade's, never rebuilt here; white-box tests
//! reach the IR, single passes and the reference interpreter through its re-exports
//! (`infc::ir`, `infc::passes`, `infc::reference`).

pub mod fuzz;
pub mod fuzz_entry;
pub mod goals;
pub mod plan;

use infc::ir::{DType, Graph, Tensor};
use infc::passes::OptLevel;
use infc::CompileOptions;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `meta.json` of a fixture.
#[derive(Debug, Deserialize)]
pub struct Meta {
    pub family: String,
    pub exporter: String,
    pub opset: i64,
    pub inputs: Vec<ArrayMeta>,
    pub outputs: Vec<ArrayMeta>,
}

#[derive(Debug, Deserialize)]
pub struct ArrayMeta {
    pub name: String,
    pub file: String,
}

/// One fixture with its arrays loaded.
pub struct Fixture {
    pub name: String,
    pub dir: PathBuf,
    pub meta: Meta,
    pub inputs: Vec<(String, Tensor)>,
    pub expected: Vec<(String, Tensor)>,
    /// Extra input sets from `cases/<case>/`, sorted by name (the padded-mask cases of the
    /// transformer fixtures, written by `models/padded_cases.py`); empty for most directories.
    pub cases: Vec<Case>,
}

/// An extra input set of a fixture: `cases/<name>/` holds the files `meta.json` names, with other
/// values and onnxruntime's outputs for them. Every case has the main inputs' shapes (checked when
/// loading), so the fixture's bound graph and compiled plans serve all its input sets.
pub struct Case {
    pub name: String,
    pub inputs: Vec<(String, Tensor)>,
    pub expected: Vec<(String, Tensor)>,
}

/// Inputs and onnxruntime's outputs for them: a fixture's main set or one of its cases.
pub struct InputSet<'a> {
    /// `<fixture>` for the main set, `<fixture>/cases/<case>` for a case.
    pub label: String,
    pub inputs: &'a [(String, Tensor)],
    pub expected: &'a [(String, Tensor)],
}

impl Fixture {
    /// The main input set, then every case.
    pub fn input_sets(&self) -> Vec<InputSet<'_>> {
        std::iter::once(InputSet {
            label: self.name.clone(),
            inputs: &self.inputs,
            expected: &self.expected,
        })
        .chain(self.cases.iter().map(|c| InputSet {
            label: format!("{}/cases/{}", self.name, c.name),
            inputs: &c.inputs,
            expected: &c.expected,
        }))
        .collect()
    }

    pub fn model_path(&self) -> PathBuf {
        self.dir.join("model.onnx")
    }

    /// Import the model, bind every input to the shape of its saved array, fold the shape
    /// sub-graphs and drop dead code (the facade's pipeline at `-O0`).
    pub fn bound_graph(&self) -> Result<Graph, String> {
        self.optimised(&plan::options(OptLevel::O0))
    }

    /// The model bound to the shapes of its saved arrays and optimised with `opts`
    /// ([`plan::optimise_model`]).
    pub fn optimised(&self, opts: &CompileOptions) -> Result<Graph, String> {
        plan::optimise_model(&self.model_path(), &self.inputs, opts)
    }
}

/// Root of the committed fixtures.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fixtures")
}

/// Every committed fixture, sorted by name.
pub fn all_fixtures() -> Vec<Fixture> {
    fixtures_in(&fixtures_dir())
}

/// Every fixture-layout directory under `root` (e.g. `models/variants`, `models/full`), sorted by name;
/// empty when `root` does not exist.
pub fn fixtures_in(root: &Path) -> Vec<Fixture> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("meta.json").exists())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| load_fixture_dir(d)).collect()
}

pub fn load_fixture(name: &str) -> Fixture {
    load_fixture_dir(&fixtures_dir().join(name))
}

pub fn load_fixture_dir(dir: &Path) -> Fixture {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = dir.to_path_buf();
    let meta: Meta =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).expect("meta.json readable"))
            .expect("meta.json parses");
    let load = |from: &Path, list: &[ArrayMeta]| -> Vec<(String, Tensor)> {
        list.iter()
            .map(|a| {
                let path = from.join(&a.file);
                let t = read_npy(&path).unwrap_or_else(|e| panic!("npy readable: {e}"));
                (a.name.clone(), t)
            })
            .collect()
    };
    let inputs = load(&dir, &meta.inputs);
    let expected = load(&dir, &meta.outputs);
    let mut case_dirs: Vec<PathBuf> = std::fs::read_dir(dir.join("cases"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    case_dirs.sort();
    let cases = case_dirs
        .iter()
        .map(|d| {
            let case = Case {
                name: d
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                inputs: load(d, &meta.inputs),
                expected: load(d, &meta.outputs),
            };
            for ((n, t), (_, main)) in case.inputs.iter().zip(&inputs) {
                assert_eq!(
                    t.shape,
                    main.shape,
                    "{}: input {n} of case {} has another shape than the main input",
                    dir.display(),
                    case.name
                );
            }
            case
        })
        .collect();
    Fixture {
        name,
        dir,
        meta,
        inputs,
        expected,
        cases,
    }
}

/// Read a `.npy` file as an IR tensor (f32, f16, i64, i32, i8, u8, bool).
pub fn read_npy(path: &Path) -> Result<Tensor, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| format!("{}: {e}", path.display()))?;
    if npy.order() == npyz::Order::Fortran {
        // The bytes would be read in the wrong order: refuse rather than compare garbage.
        return Err(format!(
            "{}: Fortran-ordered array (save it C-contiguous)",
            path.display()
        ));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let type_str = match npy.dtype() {
        npyz::DType::Plain(ts) => ts.to_string(),
        other => {
            return Err(format!(
                "{}: unsupported npy dtype {}",
                path.display(),
                other.descr()
            ))
        }
    };
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let t = match type_str.trim_start_matches(['<', '|', '=']) {
        "f4" => Tensor::from_vec(shape, npy.into_vec::<f32>().map_err(err)?),
        "f2" => Tensor::from_vec(
            shape,
            npy.into_vec::<u16>()
                .map_err(err)?
                .into_iter()
                .map(half::f16::from_bits)
                .collect::<Vec<_>>(),
        ),
        "i8" => Tensor::from_vec(shape, npy.into_vec::<i64>().map_err(err)?),
        "i4" => Tensor::from_vec(shape, npy.into_vec::<i32>().map_err(err)?),
        "i1" => Tensor::from_vec(shape, npy.into_vec::<i8>().map_err(err)?),
        "u1" => Tensor::from_vec(shape, npy.into_vec::<u8>().map_err(err)?),
        "b1" => {
            let v: Vec<bool> = npy
                .into_vec::<u8>()
                .map_err(err)?
                .into_iter()
                .map(|b| b != 0)
                .collect();
            Tensor::from_bools(shape, &v)
        }
        other => return Err(format!("{}: unsupported npy dtype {other}", path.display())),
    };
    t.map_err(|e| e.to_string())
}

/// Check `got` against `want` with the project tolerance; `Err` describes the worst element.
pub fn compare(what: &str, got: &Tensor, want: &Tensor) -> Result<f64, String> {
    if got.shape != want.shape {
        return Err(format!(
            "{what}: shape {:?}, expected {:?}",
            got.shape, want.shape
        ));
    }
    if (got.dtype == DType::Bool) != (want.dtype == DType::Bool)
        || got.dtype.is_float() != want.dtype.is_float()
    {
        return Err(format!(
            "{what}: dtype {}, expected {}",
            got.dtype, want.dtype
        ));
    }
    let g = got.to_f64_vec().map_err(|e| e.to_string())?;
    let w = want.to_f64_vec().map_err(|e| e.to_string())?;
    let max_ref = w.iter().fold(0f64, |m, v| m.max(v.abs()));
    let tol = 1e-4 + 1e-3 * max_ref;
    let (mut worst, mut at) = (0f64, 0usize);
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let d = if a.is_nan() && b.is_nan() {
            0.0
        } else {
            (a - b).abs()
        };
        if d > worst || d.is_nan() {
            worst = d;
            at = i;
        }
    }
    if worst.is_nan() || worst > tol {
        return Err(format!(
            "{what}: max abs err {worst:.3e} at element {at} (got {}, expected {}), tolerance {tol:.3e}",
            g[at], w[at]
        ));
    }
    Ok(worst)
}

/// Cosine similarity of two tensors' elements (1 when both are all zeros); the INT8 accuracy metric.
pub fn cosine(a: &Tensor, b: &Tensor) -> Result<f64, String> {
    let (x, y) = (
        a.to_f64_vec().map_err(|e| e.to_string())?,
        b.to_f64_vec().map_err(|e| e.to_string())?,
    );
    if x.len() != y.len() {
        return Err(format!("{} vs {} elements", x.len(), y.len()));
    }
    let dot: f64 = x.iter().zip(&y).map(|(p, q)| p * q).sum();
    let nx: f64 = x.iter().map(|p| p * p).sum::<f64>().sqrt();
    let ny: f64 = y.iter().map(|q| q * q).sum::<f64>().sqrt();
    if nx == 0.0 && ny == 0.0 {
        return Ok(1.0);
    }
    Ok(dot / (nx * ny).max(f64::MIN_POSITIVE))
}
