//! Test helpers: build small tensors from literals and read them back.

use infc_ir::{Element, Tensor};

fn make<T: Element>(shape: &[usize], v: &[T]) -> Tensor {
    Tensor::from_vec(shape.to_vec(), v.to_vec()).expect("test tensor shape matches its data")
}
fn read<T: Element>(t: &Tensor) -> Vec<T> {
    t.view::<T>()
        .expect("test tensor has the expected dtype")
        .into_owned()
}

pub fn f32t(shape: &[usize], v: &[f32]) -> Tensor {
    make(shape, v)
}
pub fn i64t(shape: &[usize], v: &[i64]) -> Tensor {
    make(shape, v)
}
pub fn i32t(shape: &[usize], v: &[i32]) -> Tensor {
    make(shape, v)
}
pub fn i8t(shape: &[usize], v: &[i8]) -> Tensor {
    make(shape, v)
}
pub fn u8t(shape: &[usize], v: &[u8]) -> Tensor {
    make(shape, v)
}
pub fn boolt(shape: &[usize], v: &[bool]) -> Tensor {
    Tensor::from_bools(shape.to_vec(), v).expect("test tensor shape matches its data")
}
pub fn f32s(t: &Tensor) -> Vec<f32> {
    read(t)
}
pub fn i64s(t: &Tensor) -> Vec<i64> {
    read(t)
}
pub fn i32s(t: &Tensor) -> Vec<i32> {
    read(t)
}
pub fn i8s(t: &Tensor) -> Vec<i8> {
    read(t)
}
pub fn u8s(t: &Tensor) -> Vec<u8> {
    read(t)
}
pub fn boolv(t: &Tensor) -> Vec<bool> {
    assert_eq!(t.dtype, infc_ir::DType::Bool);
    t.bytes()
        .expect("test tensor has data")
        .iter()
        .map(|&b| b != 0)
        .collect()
}

/// `0, 1, 2, …` as f32, for filling test inputs.
pub fn iota(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32).collect()
}

/// Assert two f32 slices agree to `tol` (absolute).
pub fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "length differs: {got:?} vs {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "element {i}: got {g}, want {w}\n got {got:?}\nwant {want:?}"
        );
    }
}
