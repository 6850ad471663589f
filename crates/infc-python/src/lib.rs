//! Python bindings (PyO3, abi3; built with maturin): `infc.compile(...)` and an onnxruntime-like
//! `infc.Session` (`get_inputs()`, `get_outputs()`, `run(None, {"input_ids": ids})` returning
//! numpy arrays). Contiguous numpy inputs of the plan's dtype are read in place (no copy); the GIL
//! is released while a plan compiles or runs; every failure is raised as `infc.InfcError` with
//! infc's message, causes included.

use numpy::{Element, PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::borrow::Cow;
use std::path::PathBuf;

pyo3::create_exception!(_infc, InfcError, PyRuntimeError, "An error from infc.");

fn py_err(e: impl Into<infc::Error>) -> PyErr {
    InfcError::new_err(infc::full_message(&e.into()))
}

/// `shapes` as `NAME=D0xD1` / `SYM=N` bindings: a dict `{name: int | [ints]}` or a list of
/// such strings.
fn shape_bindings(shapes: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(shapes) = shapes else {
        return Ok(Vec::new());
    };
    if let Ok(d) = shapes.cast::<PyDict>() {
        let mut out = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let name: String = k.extract()?;
            // An int, a "MIN..MAX" range, or a list of them.
            let one = |x: &Bound<'_, PyAny>| -> Option<String> {
                x.extract::<usize>()
                    .map(|n| n.to_string())
                    .or_else(|_| x.extract::<String>())
                    .ok()
            };
            let dims: Vec<String> = match one(&v) {
                Some(d) => vec![d],
                None => v
                    .extract::<Vec<Bound<'_, PyAny>>>()
                    .ok()
                    .and_then(|l| l.iter().map(one).collect::<Option<Vec<_>>>())
                    .ok_or_else(|| {
                        InfcError::new_err(format!(
                            "shapes['{name}']: expected an int, a 'MIN..MAX' range or a list of them"
                        ))
                    })?,
            };
            out.push(format!("{name}={}", dims.join("x")));
        }
        return Ok(out);
    }
    shapes.extract().map_err(|_| {
        InfcError::new_err(
            "shapes: expected a dict {name: int | [ints]} or a list of 'NAME=D0xD1' strings",
        )
    })
}

fn target(name: &str) -> PyResult<infc::Target> {
    Ok(match name {
        "native" => infc::Target::Native,
        "x86-64-v4" => infc::Target::X86_64V4,
        "x86-64-v3" => infc::Target::X86_64V3,
        "portable" => infc::Target::Portable,
        other => {
            return Err(InfcError::new_err(format!(
                "target '{other}': use native, x86-64-v4, x86-64-v3 or portable"
            )))
        }
    })
}

/// Compile the ONNX model at `model` into a plan file at `output` (as `infc compile` does);
/// returns `output`. The GIL is released while it compiles.
#[pyfunction]
#[pyo3(signature = (model, output, *, shapes=None, opt_level=3, disable=None, target="native",
    int8=false, int8_exclude=None, int8_budget=None, int8_per_tensor=false,
    int8_f32_attention=false, seed=0))]
#[allow(clippy::too_many_arguments)]
fn compile(
    py: Python<'_>,
    model: PathBuf,
    output: PathBuf,
    shapes: Option<&Bound<'_, PyAny>>,
    opt_level: u8,
    disable: Option<Vec<String>>,
    target: &str,
    int8: bool,
    int8_exclude: Option<Vec<String>>,
    int8_budget: Option<f64>,
    int8_per_tensor: bool,
    int8_f32_attention: bool,
    seed: u64,
) -> PyResult<PathBuf> {
    let opts = infc::CompileOptions {
        opt_level,
        shapes: shape_bindings(shapes)?,
        disable: disable.unwrap_or_default(),
        target: self::target(target)?,
        nchwc_block: None,
        int8: int8.then(|| infc::Int8Options {
            exclude: int8_exclude.unwrap_or_default(),
            budget: int8_budget,
            measure: false,
            per_row: !int8_per_tensor,
            bf16_attention: !int8_f32_attention,
            seed,
        }),
        ..infc::CompileOptions::default()
    };
    py.detach(|| {
        let plan = infc::compile(&model, &opts).map_err(|e| infc::full_message(&e))?;
        plan.write(&output)
            .map_err(|e| format!("writing {}: {e}", output.display()))
    })
    .map_err(InfcError::new_err)?;
    Ok(output)
}

/// One dim of a [`NodeArg`]: a size, or (range plans) the symbol's name, as onnxruntime gives
/// a symbolic dim.
#[derive(Clone, Debug, IntoPyObject)]
enum DimArg {
    Size(u64),
    Symbol(String),
}

/// A plan input or output: `name`, `shape` (ints; a range plan's symbolic dims by name, e.g.
/// `['batch', 'sequence']`) and `type` (`tensor(float)`, as onnxruntime spells it).
#[pyclass(frozen, module = "infc._infc")]
struct NodeArg {
    #[pyo3(get)]
    name: String,
    #[pyo3(get)]
    shape: Vec<DimArg>,
    #[pyo3(get, name = "type")]
    ty: String,
}

#[pymethods]
impl NodeArg {
    fn __repr__(&self) -> String {
        format!(
            "NodeArg(name='{}', type='{}', shape={:?})",
            self.name, self.ty, self.shape
        )
    }
}

fn ort_type(d: infc::DType) -> &'static str {
    match d {
        infc::DType::F32 => "tensor(float)",
        infc::DType::F16 => "tensor(float16)",
        infc::DType::I64 => "tensor(int64)",
        infc::DType::I32 => "tensor(int32)",
        infc::DType::I8 => "tensor(int8)",
        infc::DType::U8 => "tensor(uint8)",
        infc::DType::Bool => "tensor(bool)",
    }
}

fn node_args(
    ios: &[infc::IoDesc],
    range: Option<&infc::RangeTable>,
    target: infc::PatchTarget,
) -> Vec<NodeArg> {
    ios.iter()
        .enumerate()
        .map(|(i, d)| {
            let shape = match range {
                None => d.shape.iter().map(|&n| DimArg::Size(n)).collect(),
                Some(t) => t
                    .io_dims(target, i, &d.shape)
                    .into_iter()
                    .zip(&d.shape)
                    .map(|(text, &n)| match text.parse::<u64>() {
                        Ok(_) => DimArg::Size(n),
                        // `batch(1..=8)` → `batch`.
                        Err(_) => DimArg::Symbol(text.split('(').next().unwrap_or("").to_string()),
                    })
                    .collect(),
            };
            NodeArg {
                name: d.name.clone(),
                shape,
                ty: ort_type(d.dtype).to_string(),
            }
        })
        .collect()
}

/// A numpy input borrowed for the duration of a run (read in place when C-contiguous).
enum Held<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F16(PyReadonlyArrayDyn<'py, half::f16>),
    I64(PyReadonlyArrayDyn<'py, i64>),
    I32(PyReadonlyArrayDyn<'py, i32>),
    I8(PyReadonlyArrayDyn<'py, i8>),
    U8(PyReadonlyArrayDyn<'py, u8>),
    Bool(PyReadonlyArrayDyn<'py, bool>),
}

/// The little-endian bytes of a numpy array of `T`, in row-major order (a view when
/// C-contiguous; `as_slice` alone also takes Fortran order, whose bytes are the transpose).
fn bytes_of<'a, T: Element + Copy>(
    a: &'a PyReadonlyArrayDyn<'_, T>,
    to_le: impl Fn(T, &mut Vec<u8>),
) -> Cow<'a, [u8]> {
    let contiguous = if a.is_c_contiguous() {
        a.as_slice().ok()
    } else {
        None
    };
    match contiguous {
        // SAFETY: `s` is a live, initialised slice of plain numbers (f32, f16, integers, bool),
        // which have no padding; viewing them as bytes is valid for their whole length. Every
        // supported target is little-endian, the plan's byte order.
        Some(s) if cfg!(target_endian = "little") => Cow::Borrowed(unsafe {
            std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), std::mem::size_of_val(s))
        }),
        _ => {
            let mut v = Vec::with_capacity(a.len() * std::mem::size_of::<T>());
            for &x in a.as_array().iter() {
                to_le(x, &mut v);
            }
            Cow::Owned(v)
        }
    }
}

impl Held<'_> {
    fn bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Held::F32(a) => bytes_of(a, |x, v| v.extend(x.to_le_bytes())),
            Held::F16(a) => bytes_of(a, |x, v| v.extend(x.to_le_bytes())),
            Held::I64(a) => bytes_of(a, |x, v| v.extend(x.to_le_bytes())),
            Held::I32(a) => bytes_of(a, |x, v| v.extend(x.to_le_bytes())),
            Held::I8(a) => bytes_of(a, |x, v| v.extend(x.to_le_bytes())),
            Held::U8(a) => bytes_of(a, |x, v| v.push(x)),
            Held::Bool(a) => bytes_of(a, |x, v| v.push(u8::from(x))),
        }
    }

    fn shape(&self) -> Vec<usize> {
        match self {
            Held::F32(a) => a.shape().to_vec(),
            Held::F16(a) => a.shape().to_vec(),
            Held::I64(a) => a.shape().to_vec(),
            Held::I32(a) => a.shape().to_vec(),
            Held::I8(a) => a.shape().to_vec(),
            Held::U8(a) => a.shape().to_vec(),
            Held::Bool(a) => a.shape().to_vec(),
        }
    }
}

/// Borrow `value` as the numpy array of `dtype` input `name` takes; a clear error otherwise.
fn hold<'py>(name: &str, dtype: infc::DType, value: &Bound<'py, PyAny>) -> PyResult<Held<'py>> {
    let wrong = |_| {
        let given = value
            .getattr("dtype")
            .map(|d| d.to_string())
            .unwrap_or_else(|_| value.get_type().to_string());
        InfcError::new_err(format!(
            "input '{name}': expected a numpy array of {}, got {given}",
            ort_type(dtype)
        ))
    };
    Ok(match dtype {
        infc::DType::F32 => Held::F32(value.extract().map_err(wrong)?),
        infc::DType::F16 => Held::F16(value.extract().map_err(wrong)?),
        infc::DType::I64 => Held::I64(value.extract().map_err(wrong)?),
        infc::DType::I32 => Held::I32(value.extract().map_err(wrong)?),
        infc::DType::I8 => Held::I8(value.extract().map_err(wrong)?),
        infc::DType::U8 => Held::U8(value.extract().map_err(wrong)?),
        infc::DType::Bool => Held::Bool(value.extract().map_err(wrong)?),
    })
}

/// A numpy array of `T` with `shape` from little-endian bytes.
fn array<'py, T: Element>(
    py: Python<'py>,
    data: &[u8],
    shape: &[usize],
    from_le: impl Fn(&[u8]) -> T,
) -> PyResult<Bound<'py, PyAny>> {
    let size = std::mem::size_of::<T>();
    let v: Vec<T> = data.chunks_exact(size).map(from_le).collect();
    Ok(PyArray1::from_vec(py, v).reshape(shape)?.into_any())
}

fn to_numpy<'py>(py: Python<'py>, t: &infc::TensorView<'_>) -> PyResult<Bound<'py, PyAny>> {
    let (d, s) = (t.data, t.shape);
    match t.dtype {
        infc::DType::F32 => array(py, d, s, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        infc::DType::F16 => array(py, d, s, |b| half::f16::from_le_bytes([b[0], b[1]])),
        infc::DType::I64 => array(py, d, s, |b| {
            i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        }),
        infc::DType::I32 => array(py, d, s, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        infc::DType::I8 => array(py, d, s, |b| b[0] as i8),
        infc::DType::U8 => array(py, d, s, |b| b[0]),
        infc::DType::Bool => array(py, d, s, |b| b[0] != 0),
    }
}

/// A loaded plan, like `onnxruntime.InferenceSession`. Thread-safe: runs from several Python
/// threads proceed in parallel (each takes an arena from the session's pool).
#[pyclass(frozen, module = "infc._infc")]
struct Session {
    inner: infc::Session,
}

#[pymethods]
impl Session {
    /// Load the plan file at `path`. `load`: "map" (default) or "copy" (read into memory, immune
    /// to the file changing); `max_memory`: a budget in bytes checked at load; `verify`: hash the
    /// weights too; `threads`: intra-op threads of a run (`None`: one per core; 1: each run on
    /// its caller's thread, so concurrent callers each use their own); `spin`: keep a run's
    /// helper threads spinning between parallel regions (default true).
    #[new]
    #[pyo3(signature = (path, *, load="map", max_memory=None, verify=false, threads=None, spin=true))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        load: &str,
        max_memory: Option<u64>,
        verify: bool,
        threads: Option<usize>,
        spin: bool,
    ) -> PyResult<Session> {
        let load = match load {
            "map" => infc::PlanLoad::Map,
            "copy" => infc::PlanLoad::Copy,
            other => {
                return Err(InfcError::new_err(format!(
                    "load '{other}': use 'map' or 'copy'"
                )))
            }
        };
        let mut opts = infc::SessionOptions {
            load,
            verify_weights: verify,
            threads,
            spin: if spin {
                infc::Spin::WhileRunning
            } else {
                infc::Spin::Off
            },
            ..infc::SessionOptions::default()
        };
        if let Some(m) = max_memory {
            opts.max_memory = Some(m);
        }
        let inner = py
            .detach(|| infc::Session::load_with(&path, opts))
            .map_err(py_err)?;
        Ok(Session { inner })
    }

    /// The plan's inputs, in order.
    fn get_inputs(&self) -> Vec<NodeArg> {
        node_args(
            self.inner.inputs(),
            self.inner.range(),
            infc::PatchTarget::Input,
        )
    }

    /// The plan's outputs, in order.
    fn get_outputs(&self) -> Vec<NodeArg> {
        node_args(
            self.inner.outputs(),
            self.inner.range(),
            infc::PatchTarget::Output,
        )
    }

    /// Run on `input_feed` (`{name: numpy array}`, every input) and return the outputs named in
    /// `output_names` (`None`: all, in plan order) as numpy arrays. The GIL is released during
    /// the run.
    #[pyo3(signature = (output_names, input_feed))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        output_names: Option<Vec<String>>,
        input_feed: &Bound<'py, PyDict>,
    ) -> PyResult<Bound<'py, PyList>> {
        let descs = self.inner.inputs();
        for k in input_feed.keys() {
            let k: String = k.extract()?;
            if !descs.iter().any(|d| d.name == k) {
                let known: Vec<&str> = descs.iter().map(|d| d.name.as_str()).collect();
                return Err(InfcError::new_err(format!(
                    "input '{k}': no such input (the plan has {known:?})"
                )));
            }
        }
        let mut held = Vec::with_capacity(descs.len());
        for d in descs {
            let value = input_feed
                .get_item(&d.name)?
                .ok_or_else(|| InfcError::new_err(format!("input '{}': not given", d.name)))?;
            held.push(hold(&d.name, d.dtype, &value)?);
        }
        // Which outputs to return, in the caller's order (checked before running).
        let plan_outputs = self.inner.outputs();
        let wanted: Vec<usize> = match output_names {
            None => (0..plan_outputs.len()).collect(),
            Some(names) => names
                .iter()
                .map(|n| {
                    plan_outputs
                        .iter()
                        .position(|o| &o.name == n)
                        .ok_or_else(|| {
                            let known: Vec<&str> =
                                plan_outputs.iter().map(|o| o.name.as_str()).collect();
                            InfcError::new_err(format!(
                                "output '{n}': no such output (the plan has {known:?})"
                            ))
                        })
                })
                .collect::<PyResult<_>>()?,
        };
        let data: Vec<(Cow<'_, [u8]>, Vec<usize>)> =
            held.iter().map(|h| (h.bytes(), h.shape())).collect();
        // The run releases the GIL; its outputs are lent from the arena and copied once, straight
        // into the numpy arrays (the GIL is taken back only for that copy).
        let arrays = py
            .detach(|| {
                let views: Vec<_> = descs
                    .iter()
                    .zip(&data)
                    .map(|(d, (bytes, shape))| {
                        (
                            infc::InputKey::Name(&d.name),
                            infc::TensorView::new(d.dtype, shape, bytes),
                        )
                    })
                    .collect();
                self.inner.run_with(&views, |outs| {
                    Python::attach(|py| {
                        wanted
                            .iter()
                            .map(|&i| to_numpy(py, &outs[i]).map(Bound::unbind))
                            .collect::<PyResult<Vec<Py<PyAny>>>>()
                    })
                })
            })
            .map_err(py_err)??;
        let list = PyList::empty(py);
        for a in arrays {
            list.append(a)?;
        }
        Ok(list)
    }
}

/// The `infc._infc` extension module.
#[pymodule]
fn _infc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_class::<Session>()?;
    m.add_class::<NodeArg>()?;
    m.add("InfcError", m.py().get_type::<InfcError>())?;
    Ok(())
}
