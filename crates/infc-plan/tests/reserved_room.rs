//! The room format 5 keeps for what comes next: the reserved section kinds (programs, state;
//! symbols landed in 5.2, see `range_tables.rs`), the symbolic-dim bit and region code 2 are refused by this build with a message naming
//! them, and an optional section of a reserved kind is skipped like any unknown optional one.

use infc_plan::*;

fn fill_plan(len: u64, offset: u64) -> Plan {
    Plan {
        body: PlanBody {
            producer: "test".into(),
            required_features: 0,
            inputs: vec![],
            outputs: vec![IoDesc {
                name: "y".into(),
                dtype: DType::F32,
                shape: vec![4],
                at: TensorRef::arena(offset),
            }],
            steps: vec![Step::Fill(FillStep {
                dtype: DType::F32,
                len,
                value: 0,
                y: TensorRef::arena(offset),
            })],
            step_names: vec!["fill".into()],
            memory: MemoryPlan {
                arena_bytes: 4096,
                intermediates_bytes: 0,
                lower_bound_bytes: 0,
                entries: vec![],
            },
            provenance: vec![],
            range: None,
        },
        consts: vec![],
    }
}

#[test]
fn reserved_sections_are_refused_by_name_when_required_and_skipped_when_optional() {
    let plan = fill_plan(4, 0);
    for (kind, name) in [(section::PROGRAMS, "programs"), (section::STATE, "state")] {
        let required = plan.encode_with_sections(&[(kind, 0, b"later")]);
        let err = decode(&required).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "section kind {kind} ({name}, reserved for a later 5.x)"
            )) && err.contains("use a newer infc"),
            "{err}"
        );
        let optional = plan.encode_with_sections(&[(kind, section::OPTIONAL, b"later")]);
        assert_eq!(decode(&optional).unwrap(), plan);
    }
}

#[test]
fn a_symbolic_dim_is_refused_with_its_own_message() {
    let plan = fill_plan(section::SYMBOLIC_DIM | 3, 0);
    let err = decode(&plan.encode()).unwrap_err().to_string();
    assert!(
        err.contains("step 0 (Fill)") && err.contains("symbolic dim expression"),
        "{err}"
    );
}

#[test]
fn the_state_region_code_is_refused_with_its_own_message() {
    // A distinctive offset locates the output reference (region byte, then the u64 offset).
    let offset = 0x0a0b_0c0d_u64;
    let mut bytes = fill_plan(4, offset).encode();
    let mut pattern = vec![0u8];
    pattern.extend_from_slice(&offset.to_le_bytes());
    let at = bytes
        .windows(pattern.len())
        .rposition(|w| w == pattern)
        .expect("the step's output reference");
    bytes[at] = 2;
    rewrite_checksum(&mut bytes);
    let err = decode(&bytes).unwrap_err().to_string();
    assert!(
        err.contains("region code 2 (persistent state, reserved"),
        "{err}"
    );
}

#[test]
fn what_a_later_minor_adds_is_refused_naming_both_versions() {
    let plan = fill_plan(4, 0);
    let mut bytes = plan.encode();
    let mut pattern = vec![DType::F32 as u8];
    pattern.extend_from_slice(&4u64.to_le_bytes());
    let at = bytes
        .windows(pattern.len())
        .rposition(|w| w == pattern)
        .expect("the fill step's dtype and length");
    bytes[at] = 200; // a dtype code a later minor might add
    rewrite_checksum(&mut bytes);
    let same_minor = decode(&bytes).unwrap_err().to_string();
    assert!(
        same_minor.contains("unknown dtype code 200") && !same_minor.contains("newer"),
        "{same_minor}"
    );
    bytes[10..12].copy_from_slice(&(FORMAT_MINOR + 1).to_le_bytes());
    rewrite_checksum(&mut bytes);
    let later = decode(&bytes).unwrap_err().to_string();
    let want = format!(
        "plan format {FORMAT_MAJOR}.{} is newer than this infc (it reads up to {FORMAT_MAJOR}.{FORMAT_MINOR})",
        FORMAT_MINOR + 1
    );
    assert!(
        later.contains(&want) && later.contains("unknown dtype code 200"),
        "{later}"
    );
}
