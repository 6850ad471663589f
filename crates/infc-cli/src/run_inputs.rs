//! The inputs of `infc run`: arrays given with `--input NAME=FILE.npy` (checked against the plan's
//! name, dtype and shape, the error naming the input, expected and given) and seeded arrays
//! ([`infc::inputs`]) for every input not given.

use crate::npy_io::{read_npy, type_string};
use anyhow::{bail, Context, Result};
use infc::{IoDesc, PlanBody};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use infc::inputs::{index_bounds, seeded_input, InputData};

/// Parse `NAME=FILE` arguments.
pub fn parse_input_args(args: &[String]) -> Result<Vec<(String, PathBuf)>> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for a in args {
        let Some((name, file)) = a.split_once('=') else {
            bail!("--input '{a}': expected NAME=FILE.npy");
        };
        if name.is_empty() || file.is_empty() {
            bail!("--input '{a}': expected NAME=FILE.npy");
        }
        if !seen.insert(name) {
            bail!("input '{name}': given more than once");
        }
        out.push((name.to_string(), PathBuf::from(file)));
    }
    Ok(out)
}

fn io_shape(io: &IoDesc) -> Vec<usize> {
    io.shape.iter().map(|&d| d as usize).collect()
}

/// One plan input's data (read or seeded).
pub type RunInput = InputData;

/// Every plan input in plan order: read from the given files or generated from `seed`.
pub fn prepare_inputs(
    plan: &PlanBody,
    given: &[(String, PathBuf)],
    seed: u64,
) -> Result<Vec<RunInput>> {
    let names: HashSet<&str> = plan.inputs.iter().map(|d| d.name.as_str()).collect();
    for (name, _) in given {
        if !names.contains(name.as_str()) {
            let known: Vec<&str> = plan.inputs.iter().map(|d| d.name.as_str()).collect();
            bail!("input '{name}': no such input (the plan has {known:?})");
        }
    }
    let given: HashMap<&str, &PathBuf> = given.iter().map(|(n, p)| (n.as_str(), p)).collect();
    let bounds = index_bounds(plan);
    // Read once: /proc/meminfo per input made 150 000 inputs take 15 s.
    let memory = infc::physical_memory();
    plan.inputs
        .iter()
        .zip(bounds)
        .map(|(desc, rows)| match given.get(desc.name.as_str()) {
            Some(path) => load_input(desc, path, plan.range.is_some()),
            None => seeded_input(desc, rows, seed, memory).map_err(Into::into),
        })
        .collect()
}

/// `ranged`: a range plan, which takes any shape of the plan's rank (the session checks the
/// dims against their ranges and names the one out of range).
fn load_input(desc: &IoDesc, path: &std::path::Path, ranged: bool) -> Result<RunInput> {
    let arr = read_npy(path).with_context(|| format!("input '{}'", desc.name))?;
    let shape = io_shape(desc);
    let shape_ok = if ranged {
        arr.shape.len() == shape.len()
    } else {
        arr.shape == shape
    };
    if arr.dtype != Some(desc.dtype) || !shape_ok {
        bail!(
            "input '{}': expected {}, got {} (from '{}')",
            desc.name,
            type_string(desc.dtype.name(), &shape),
            arr.type_string(),
            path.display()
        );
    }
    Ok(RunInput {
        name: desc.name.clone(),
        dtype: desc.dtype,
        shape: arr.shape,
        data: arr.data,
        origin: path.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_arguments_need_a_name_and_a_file_once() {
        assert!(parse_input_args(&["a=b.npy".into()]).is_ok());
        for bad in ["ab.npy", "=b.npy", "a="] {
            let e = parse_input_args(&[bad.into()]).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("NAME=FILE"), "{e}");
        }
        let e = parse_input_args(&["a=1.npy".into(), "a=2.npy".into()]).unwrap_err();
        assert!(e.to_string().contains("'a'"), "{e}");
    }
}
