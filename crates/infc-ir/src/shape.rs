//! Shapes with named symbolic dimensions, and the tensor type (`dtype` + shape) every value carries.

use crate::DType;
use std::fmt;
use std::sync::Arc;

/// One dimension: a known size or a named symbol (`batch`, `sequence`, …) bound later by `--shape`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Known(usize),
    Sym(Arc<str>),
}

impl Dim {
    pub fn sym(name: &str) -> Dim {
        Dim::Sym(Arc::from(name))
    }
    pub fn known(&self) -> Option<usize> {
        match self {
            Dim::Known(n) => Some(*n),
            Dim::Sym(_) => None,
        }
    }
    pub fn is_known(&self) -> bool {
        matches!(self, Dim::Known(_))
    }
}

impl From<usize> for Dim {
    fn from(n: usize) -> Dim {
        Dim::Known(n)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Known(n) => write!(f, "{n}"),
            Dim::Sym(s) => f.write_str(s),
        }
    }
}

/// A tensor shape: outermost dimension first. Rank 0 is a scalar.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    pub fn known(dims: &[usize]) -> Shape {
        Shape(dims.iter().map(|&d| Dim::Known(d)).collect())
    }
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    pub fn dims(&self) -> &[Dim] {
        &self.0
    }
    /// All dims as numbers, or `None` if any is symbolic.
    pub fn as_known(&self) -> Option<Vec<usize>> {
        self.0.iter().map(Dim::known).collect()
    }
    pub fn is_known(&self) -> bool {
        self.0.iter().all(Dim::is_known)
    }
    /// Element count if every dim is known.
    pub fn numel(&self) -> Option<usize> {
        self.0
            .iter()
            .try_fold(1usize, |acc, d| d.known().and_then(|n| acc.checked_mul(n)))
    }
    /// Names of the symbolic dims, in order of first appearance.
    pub fn symbols(&self) -> Vec<Arc<str>> {
        let mut out: Vec<Arc<str>> = Vec::new();
        for d in &self.0 {
            if let Dim::Sym(s) = d {
                if !out.contains(s) {
                    out.push(s.clone());
                }
            }
        }
        out
    }
}

impl From<Vec<Dim>> for Shape {
    fn from(v: Vec<Dim>) -> Shape {
        Shape(v)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// Element type and shape of a value: printed `f32[N,3,224,224]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Shape,
}

impl TensorType {
    pub fn new(dtype: DType, shape: impl Into<Shape>) -> TensorType {
        TensorType {
            dtype,
            shape: shape.into(),
        }
    }
    pub fn known(dtype: DType, dims: &[usize]) -> TensorType {
        TensorType {
            dtype,
            shape: Shape::known(dims),
        }
    }
    pub fn rank(&self) -> usize {
        self.shape.rank()
    }
    /// Size in bytes if the shape is fully known.
    pub fn byte_size(&self) -> Option<usize> {
        self.shape
            .numel()
            .and_then(|n| n.checked_mul(self.dtype.size()))
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, self.shape)
    }
}
