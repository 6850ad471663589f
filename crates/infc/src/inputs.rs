//! Inputs for a plan run that the caller does not give: seeded, reproducible arrays (floats
//! N(0,1); integers within the row count of the embedding table the plan gathers from with them;
//! inputs whose name contains "mask" all ones). `infc run` uses them for every input without
//! `--input`, and the INT8 measurements feed them to the f32 and INT8 plans.

use crate::error::{Error, Result};
use infc_plan::{IoDesc, PlanBody};
use infc_runtime::{DType, InputKey, TensorView};

mod index_bounds;
pub use index_bounds::index_bounds;

/// One plan input's data, ready to pass to [`crate::Session::run`].
#[derive(Debug)]
pub struct InputData {
    /// The plan input's name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Dims.
    pub shape: Vec<usize>,
    /// Little-endian element bytes.
    pub data: Vec<u8>,
    /// Where the values came from (a file, or how they were generated).
    pub origin: String,
}

impl InputData {
    /// The `(name, view)` pair `Session::run` takes.
    pub fn view(&self) -> (InputKey<'_>, TensorView<'_>) {
        (
            InputKey::Name(&self.name),
            TensorView::new(self.dtype, &self.shape, &self.data),
        )
    }
}

/// Every input of `plan`, in plan order, generated from `seed`.
pub fn seeded_inputs(plan: &PlanBody, seed: u64) -> Result<Vec<InputData>> {
    let bounds = index_bounds(plan);
    // Read once: /proc/meminfo per input made 150 000 inputs take 15 s.
    let memory = infc_runtime::physical_memory();
    plan.inputs
        .iter()
        .zip(bounds)
        .map(|(desc, rows)| seeded_input(desc, rows, seed, memory))
        .collect()
}

fn io_shape(io: &IoDesc) -> Vec<usize> {
    io.shape.iter().map(|&d| d as usize).collect()
}

/// SplitMix64: small, seedable, good enough for test inputs.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, name: &str) -> Rng {
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
        Rng(seed ^ h)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.unit(), self.unit());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Seeded data for one input. The buffer is reserved fallibly: an input
/// larger than memory (a plan may declare any shape) is an error naming it and the bytes asked,
/// not an abort.
/// `rows`: the exclusive bound of an integer input's values ([`index_bounds`]); `memory`: the
/// machine's physical memory, if known.
pub fn seeded_input(
    desc: &IoDesc,
    rows: Option<u64>,
    seed: u64,
    memory: Option<u64>,
) -> Result<InputData> {
    let shape = io_shape(desc);
    let n: usize = shape.iter().product();
    let mut rng = Rng::new(seed, &desc.name);
    let is_mask = desc.name.to_ascii_lowercase().contains("mask");
    let int_value = |rng: &mut Rng| -> i64 {
        match (is_mask, rows) {
            (true, _) => 1,
            (false, Some(r)) => rng.below(r) as i64,
            (false, None) => 0,
        }
    };
    let too_big = || {
        Error::Options(format!(
            "input '{}': generating {:?} {:?} needs {} bytes, which cannot be allocated; give it \
             with --input",
            desc.name,
            desc.dtype,
            shape,
            n as u128 * desc.dtype.size() as u128
        ))
    };
    let bytes = n.checked_mul(desc.dtype.size()).ok_or_else(too_big)?;
    // Beyond physical memory even a reservation that succeeds (overcommit) would be filled into
    // swap or the OOM killer.
    if memory.is_some_and(|m| bytes as u64 > m) {
        return Err(too_big());
    }
    let mut data: Vec<u8> = Vec::new();
    data.try_reserve_exact(bytes).map_err(|_| too_big())?;
    let origin = match desc.dtype {
        DType::F32 => {
            for _ in 0..n {
                data.extend_from_slice(&rng.normal().to_le_bytes());
            }
            "generated N(0,1)".to_string()
        }
        DType::F16 => {
            for _ in 0..n {
                let h = half::f16::from_f32(rng.normal());
                data.extend_from_slice(&h.to_bits().to_le_bytes());
            }
            "generated N(0,1)".to_string()
        }
        int => {
            for _ in 0..n {
                let v = int_value(&mut rng);
                match int {
                    DType::I64 => data.extend_from_slice(&v.to_le_bytes()),
                    DType::I32 => data.extend_from_slice(&(v as i32).to_le_bytes()),
                    DType::I8 => data.push(v as i8 as u8),
                    DType::U8 => data.push(v as u8),
                    _ => data.push(u8::from(v != 0)),
                }
            }
            match (is_mask, rows) {
                (true, _) => "generated: all ones (a mask)".to_string(),
                (false, Some(r)) => {
                    format!("generated uniform in [0, {r}) (the rows of the table it indexes)")
                }
                (false, None) => "generated: zeros (no Gather reads it)".to_string(),
            }
        }
    };
    Ok(InputData {
        name: desc.name.clone(),
        dtype: desc.dtype,
        shape,
        data,
        origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_seeded_and_differs_per_input() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(7, "x").next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut x = Rng::new(7, "x");
        let mut y = Rng::new(7, "y");
        assert_ne!(x.next_u64(), y.next_u64());
        let mut r = Rng::new(1, "n");
        let vals: Vec<f32> = (0..4000).map(|_| r.normal()).collect();
        let mean = vals.iter().sum::<f32>() / vals.len() as f32;
        let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / vals.len() as f32;
        assert!(mean.abs() < 0.1 && (var - 1.0).abs() < 0.1, "{mean} {var}");
    }
}
