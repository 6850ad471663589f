//! Per-shape arenas (section ARENA, format 5.4): a valid table decodes, plans an arena per shape
//! that grows with an unbounded symbol and moves every offset into it; a hostile one (counts,
//! indices, order, sizes that disagree with the plan, a nominal shape outside the range) is
//! refused at decode with a message naming the fault, and an instance a lying table produces is
//! refused by validation or by the arena limit. Never a panic.

use infc_plan::*;

const NOMINAL: u64 = 16;

fn expr(coef: i64) -> DimExpr {
    DimExpr {
        den: 1,
        terms: vec![Term {
            coef,
            exps: vec![1],
        }],
    }
}

fn entry(name: &str, offset: u64) -> MemoryEntry {
    MemoryEntry {
        name: name.into(),
        offset,
        size: 4 * NOMINAL,
        first_step: 0,
        last_step: 0,
    }
}

/// `y[n] = 0` with input `x[n]`, both live together; stored at `n = 16` (x at 0, y at 64).
fn plan(max: u64) -> Plan {
    let patch = |target, field, expr| Patch {
        target,
        index: 0,
        field,
        expr,
    };
    let rebase = |target, field, buffer| Rebase {
        target,
        index: 0,
        field,
        buffer,
    };
    let buffer = ArenaBuffer {
        size: 1,
        first: 0,
        last: 1,
    };
    let table = RangeTable {
        symbols: vec![Symbol {
            name: "n".into(),
            min: 1,
            max,
        }],
        exprs: vec![expr(1), expr(4)],
        patches: vec![
            patch(PatchTarget::Step, 0, 0),
            patch(PatchTarget::Input, 0, 0),
            patch(PatchTarget::Output, 0, 0),
        ],
        arena: Some(ShapeArena {
            nominal: vec![NOMINAL],
            buffers: vec![buffer, buffer],
            rebases: vec![
                rebase(PatchTarget::Step, 2, 1),
                rebase(PatchTarget::Input, 1, 0),
                rebase(PatchTarget::Output, 1, 1),
            ],
        }),
    };
    Plan {
        body: PlanBody {
            producer: "test".into(),
            required_features: 0,
            inputs: vec![IoDesc {
                name: "x".into(),
                dtype: DType::F32,
                shape: vec![NOMINAL],
                at: TensorRef::arena(0),
            }],
            outputs: vec![IoDesc {
                name: "y".into(),
                dtype: DType::F32,
                shape: vec![NOMINAL],
                at: TensorRef::arena(64),
            }],
            steps: vec![Step::Fill(FillStep {
                dtype: DType::F32,
                len: NOMINAL,
                value: 0,
                y: TensorRef::arena(64),
            })],
            step_names: vec!["fill".into()],
            memory: MemoryPlan {
                arena_bytes: 128,
                intermediates_bytes: 128,
                lower_bound_bytes: 128,
                entries: vec![entry("x", 0), entry("y", 64)],
            },
            provenance: vec![],
            range: Some(table),
        },
        consts: vec![],
    }
}

fn arena_of(p: &mut Plan) -> &mut ShapeArena {
    p.body.range.as_mut().unwrap().arena.as_mut().unwrap()
}

fn refused(p: Plan, want: &str) {
    let err = decode(&p.encode()).unwrap_err().to_string();
    assert!(err.contains(want), "expected '{want}' in: {err}");
}

#[test]
fn an_unbounded_symbol_plans_its_arena_at_every_shape() {
    let p = plan(UNBOUNDED);
    let decoded = decode(&p.encode()).unwrap();
    assert_eq!(decoded, p);
    let t = decoded.body.range.as_ref().unwrap();
    assert_eq!(t.symbols[0].range_text(), "1..");
    for n in [1u64, 15, 16, 17, 1000, 100_000] {
        let at = t.instantiate(&decoded.body, &[n]).unwrap();
        validate(&at, 0).unwrap();
        let slot = (4 * n).div_ceil(64) * 64;
        assert_eq!(at.memory.arena_bytes, 2 * slot, "n = {n}");
        assert_eq!(at.inputs[0].at.offset, 0);
        assert_eq!(at.outputs[0].at.offset, slot);
        assert!(matches!(&at.steps[0], Step::Fill(f) if f.len == n && f.y.offset == slot));
        assert_eq!(at.memory.entries[1].offset, slot);
        assert_eq!(at.memory.entries[1].size, 4 * n);
    }
    // Past the arena limit: an error naming the buffer and the limit, not an allocation.
    let err = t
        .instantiate(&decoded.body, &[MAX_ARENA_BYTES])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("buffer 0 at n=") && err.contains("bytes"),
        "{err}"
    );
}

#[test]
fn a_bounded_symbol_with_a_per_shape_arena_round_trips() {
    let p = plan(NOMINAL);
    let decoded = decode(&p.encode()).unwrap();
    assert_eq!(decoded, p);
    let at = decoded
        .body
        .range
        .as_ref()
        .unwrap()
        .instantiate(&decoded.body, &[3])
        .unwrap();
    validate(&at, 0).unwrap();
    assert_eq!(at.memory.arena_bytes, 128);
}

#[test]
fn hostile_arena_tables_are_refused() {
    let mut p = plan(UNBOUNDED);
    arena_of(&mut p).nominal = vec![NOMINAL, 2];
    refused(p, "2 nominal values for 1 symbols");
    let mut p = plan(8);
    arena_of(&mut p).nominal = vec![NOMINAL];
    refused(p, "nominal 'n' = 16 lies outside its range 1..=8");
    let mut p = plan(UNBOUNDED);
    arena_of(&mut p).buffers.pop();
    refused(p, "1 buffers for 2 memory entries");
    let mut p = plan(UNBOUNDED);
    arena_of(&mut p).buffers[0].size = 9;
    refused(p, "buffer 0 names expression 9 of 2");
    let mut p = plan(UNBOUNDED);
    arena_of(&mut p).buffers[1].first = 5;
    refused(p, "buffer 1 is live 5..=1");
    // The size expression disagrees with the memory map at the nominal shape.
    let mut p = plan(UNBOUNDED);
    arena_of(&mut p).buffers[1].size = 0;
    refused(
        p,
        "buffer 1 ('y') is 64 bytes in the plan, its expression gives 16",
    );
    let mut p = plan(UNBOUNDED);
    arena_of(&mut p).rebases.swap(0, 2);
    refused(p, "rebases are not in strictly increasing order");
    let mut p = plan(UNBOUNDED);
    arena_of(&mut p).rebases[0].index = 3;
    refused(p, "points past the plan");
    let mut p = plan(UNBOUNDED);
    arena_of(&mut p).rebases[1].buffer = 2;
    refused(p, "points past the plan");
    let mut p = plan(UNBOUNDED);
    arena_of(&mut p).rebases[2].field = 40;
    refused(p, "the target has 2 numeric fields");
    // Every bit flip of the section is refused or decodes to a table that still checks.
    let bytes = plan(UNBOUNDED).encode();
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        let _ = decode(&b);
    }
}

#[test]
fn an_instance_a_lying_table_moves_out_of_bounds_is_refused_by_validation() {
    // The Fill's length (field 0) "rebased" as if it were an offset: at n = 1000 it grows by the
    // output buffer's displacement, past the arena.
    let mut p = plan(UNBOUNDED);
    arena_of(&mut p).rebases.insert(
        0,
        Rebase {
            target: PatchTarget::Step,
            index: 0,
            field: 0,
            buffer: 1,
        },
    );
    let decoded = decode(&p.encode()).unwrap();
    let t = decoded.body.range.as_ref().unwrap();
    let at = t.instantiate(&decoded.body, &[1000]).unwrap();
    assert!(validate(&at, 0).is_err());
}

#[test]
fn a_step_reaching_past_its_buffer_is_not_confined() {
    let p = plan(UNBOUNDED);
    check_confined(&p.body, 0).unwrap();
    // The Fill writes 32 floats from x's start: inside the arena, across x into y.
    let mut body = p.body.clone();
    body.steps[0] = Step::Fill(FillStep {
        dtype: DType::F32,
        len: 32,
        value: 0,
        y: TensorRef::arena(0),
    });
    validate(&body, 0).unwrap();
    let err = check_confined(&body, 0).unwrap_err().to_string();
    assert!(
        err.contains("step 0 ('fill')")
            && err.contains("0..128")
            && err.contains("outside every buffer live there"),
        "{err}"
    );
    // A buffer that is not live at the step does not hold it either.
    let mut body = p.body.clone();
    body.memory.entries[1].first_step = 1;
    body.memory.entries[1].last_step = 1;
    assert!(check_confined(&body, 0).is_err());
}
