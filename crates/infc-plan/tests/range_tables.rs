//! Range plans (section SYMBOLS, format 5.2): a valid table decodes and instantiates at every
//! shape of its range; a hostile one (bad ranges, overflowing or inexact expressions, patches past
//! the plan or out of order, a table that disagrees with the max-shape plan, a symbol no input
//! carries) is refused at decode with a message naming the fault, and an instance whose
//! expressions give an out-of-bounds length is refused by validation. Never a panic.

use infc_plan::*;

const MAX: u64 = 16;

/// `y[n] = 0` with input `x[n]`, at the max shape `n = 16`; patches make `n` the symbol.
fn plan(table: RangeTable) -> Plan {
    Plan {
        body: PlanBody {
            producer: "test".into(),
            required_features: 0,
            inputs: vec![IoDesc {
                name: "x".into(),
                dtype: DType::F32,
                shape: vec![MAX],
                at: TensorRef::arena(0),
            }],
            outputs: vec![IoDesc {
                name: "y".into(),
                dtype: DType::F32,
                shape: vec![MAX],
                at: TensorRef::arena(64),
            }],
            steps: vec![Step::Fill(FillStep {
                dtype: DType::F32,
                len: MAX,
                value: 0,
                y: TensorRef::arena(64),
            })],
            step_names: vec!["fill".into()],
            memory: MemoryPlan {
                arena_bytes: 128,
                intermediates_bytes: 0,
                lower_bound_bytes: 0,
                entries: vec![],
            },
            provenance: vec![],
            range: Some(table),
        },
        consts: vec![],
    }
}

fn n() -> DimExpr {
    DimExpr {
        den: 1,
        terms: vec![Term {
            coef: 1,
            exps: vec![1],
        }],
    }
}

fn table() -> RangeTable {
    let patch = |target, field| Patch {
        target,
        index: 0,
        field,
        expr: 0,
    };
    RangeTable {
        symbols: vec![Symbol {
            name: "n".into(),
            min: 1,
            max: MAX,
        }],
        exprs: vec![n()],
        patches: vec![
            patch(PatchTarget::Step, 0),
            patch(PatchTarget::Input, 0),
            patch(PatchTarget::Output, 0),
        ],
        arena: None,
    }
}

fn refused(t: RangeTable, want: &str) {
    let err = decode(&plan(t).encode()).unwrap_err().to_string();
    assert!(err.contains(want), "expected '{want}' in: {err}");
}

#[test]
fn a_range_plan_round_trips_and_instantiates_at_every_shape() {
    let p = plan(table());
    let decoded = decode(&p.encode()).unwrap();
    assert_eq!(decoded, p);
    let t = decoded.body.range.as_ref().unwrap();
    assert_eq!(t.input_symbol_dims(&decoded.body), vec![(0, 0, 0)]);
    for v in 1..=MAX {
        let at = t.instantiate(&decoded.body, &[v]).unwrap();
        validate(&at, 0).unwrap();
        assert_eq!(at.inputs[0].shape, [v]);
        assert_eq!(at.outputs[0].shape, [v]);
        assert!(matches!(&at.steps[0], Step::Fill(f) if f.len == v));
    }
    // A plan without ranges writes no SYMBOLS section.
    let mut fixed = p.clone();
    fixed.body.range = None;
    assert!(decode(&fixed.encode()).unwrap().body.range.is_none());
}

#[test]
fn hostile_ranges_are_refused() {
    for (min, max) in [(0, 4), (5, 4), (1, MAX_ELEMENTS + 1)] {
        let mut t = table();
        t.symbols[0].min = min;
        t.symbols[0].max = max;
        refused(t, "symbol 'n' has range");
    }
    let mut t = table();
    t.symbols.push(t.symbols[0].clone());
    t.exprs[0].terms[0].exps.push(0);
    refused(t, "symbol 'n' appears twice");
    let mut t = table();
    t.symbols.clear();
    refused(t, "0 symbols");
}

#[test]
fn hostile_expressions_are_refused() {
    let mut t = table();
    t.exprs[0].den = 0;
    refused(t, "denominator 0");
    let mut t = table();
    t.exprs[0].terms[0].exps = vec![9];
    refused(t, "exponents [9]");
    let mut t = table();
    t.exprs[0].terms[0].exps = vec![1, 1];
    refused(t, "exponents [1, 1]");
    // Overflows 128 bits at the max shape: (2⁴⁰)⁴.
    let mut t = table();
    t.symbols[0].max = 1 << 40;
    t.exprs.push(DimExpr {
        den: 1,
        terms: vec![Term {
            coef: i64::MAX,
            exps: vec![4],
        }],
    });
    t.patches[0].expr = 1;
    refused(t, "expression 1 at the nominal shape: overflows");
    // 2n/3 is not an integer at 16.
    let mut t = table();
    t.exprs.push(DimExpr {
        den: 3,
        terms: vec![Term {
            coef: 2,
            exps: vec![1],
        }],
    });
    t.patches[0].expr = 1;
    refused(t, "is not an integer");
}

#[test]
fn hostile_patches_are_refused() {
    let mut t = table();
    t.patches.swap(0, 1);
    refused(t, "strictly increasing");
    let mut t = table();
    t.patches.push(t.patches[2]);
    refused(t, "strictly increasing");
    let mut t = table();
    t.patches[0].index = 7;
    refused(t, "points past the plan");
    let mut t = table();
    t.patches[0].expr = 5;
    refused(t, "points past the plan");
    let mut t = table();
    t.patches[0].field = 99;
    refused(t, "numeric fields");
    // The symbol is read from no input.
    let mut t = table();
    t.patches.remove(1);
    refused(t, "symbol 'n' is no input's dim");
}

#[test]
fn a_table_that_disagrees_with_the_max_shape_plan_is_refused() {
    // The step's offset (field 2) claimed to be n: 16 at the max, but the plan holds 64.
    let mut t = table();
    t.patches.insert(
        1,
        Patch {
            target: PatchTarget::Step,
            index: 0,
            field: 2,
            expr: 0,
        },
    );
    refused(
        t,
        "the plan holds 64 at the nominal shape, expression 0 gives 16",
    );
}

#[test]
fn an_instance_out_of_bounds_is_refused_by_validation() {
    // len = 2·(16 − n) + 16: 16 at the max (agrees), 46 at n = 1, past the 16-float output slot.
    let mut t = table();
    t.exprs.push(DimExpr {
        den: 1,
        terms: vec![
            Term {
                coef: 48,
                exps: vec![0],
            },
            Term {
                coef: -2,
                exps: vec![1],
            },
        ],
    });
    t.patches[0].expr = 1;
    let p = decode(&plan(t).encode()).unwrap();
    let t = p.body.range.as_ref().unwrap();
    let at = t.instantiate(&p.body, &[1]).unwrap();
    assert!(validate(&at, 0).is_err());
    // A negative length cannot even be instantiated.
    let mut t = t.clone();
    t.exprs[1].terms[0].coef = 32;
    t.exprs[1].terms[1].coef = -1;
    t.exprs[1].terms.push(Term {
        coef: -30,
        exps: vec![0],
    });
    // 32 − 16 − 30 < 0 at the max: refused at decode.
    refused(t, "expression 1 gives -14");
}

#[test]
fn corrupted_symbols_never_panic() {
    let bytes = plan(table()).encode();
    let t = table().to_bytes();
    let at = bytes
        .windows(t.len())
        .position(|w| w == t)
        .expect("the symbols section");
    for i in 0..t.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[at + i] ^= 1 << bit;
            rewrite_checksum(&mut b);
            let _ = decode(&b);
        }
    }
}
