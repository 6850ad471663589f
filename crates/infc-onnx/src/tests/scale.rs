//! Import is linear in the node count (issue 19, row 8): a 50 000-node Identity chain listed
//! backwards (the ordering sweeps took one pass over all nodes per node) and a Sum of 3 000 inputs
//! import, in execution order.

use super::builder::M;

#[test]
fn a_50000_node_chain_listed_backwards_imports_in_order() {
    let n = 50_000;
    let names: Vec<String> = (0..=n).map(|i| format!("t{i}")).collect();
    let mut m = M::new(17).f32_in("t0", &["4"]);
    for i in (0..n).rev() {
        m = m.node("Identity", &[&names[i]], &[&names[i + 1]], vec![]);
    }
    let g = m.output(&names[n]).import().unwrap();
    assert_eq!(g.nodes.len(), n);
    let first = g.nodes.first().unwrap();
    assert_eq!(g.value(first.inputs[0]).name, "t0");
    let last = g.nodes.last().unwrap();
    assert_eq!(g.value(last.outputs[0]).name, names[n]);
}

#[test]
fn a_sum_of_3000_inputs_imports() {
    let n = 3000;
    let names: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    let mut m = M::new(17);
    for name in &names {
        m = m.f32_in(name, &["4"]);
    }
    let ins: Vec<&str> = names.iter().map(String::as_str).collect();
    let g = m
        .node("Sum", &ins, &["y"], vec![])
        .output("y")
        .import()
        .unwrap();
    assert_eq!(g.inputs.len(), n);
    assert!(!g.nodes.is_empty());
}
