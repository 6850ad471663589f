//! Parser error messages for malformed text IR, one inline snapshot per mistake. Every error names
//! the line and the offending token; none panics.

use infc_ir::parse_graph;

fn err(body: &str) -> String {
    let text = format!("graph \"g\"(%x: f32[2,3], %m: bool[2,3]) {{\n{body}\n}}\n");
    parse_graph(&text)
        .expect_err("text should not parse")
        .to_string()
}

fn err_raw(text: &str) -> String {
    parse_graph(text)
        .expect_err("text should not parse")
        .to_string()
}

#[test]
fn unknown_op() {
    insta::assert_snapshot!(err("  %0 = Frobnicate(%x) : f32[2,3]\n  return %0"), @"");
}

#[test]
fn unknown_dtype() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f33[2,3]\n  return %0"), @"");
}

#[test]
fn bad_dimension() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32[2,-3]\n  return %0"), @"");
}

#[test]
fn type_without_brackets() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32\n  return %0"), @"");
}

#[test]
fn undefined_value() {
    insta::assert_snapshot!(err("  %0 = Add(%x, %y) : f32[2,3]\n  return %0"), @"");
}

#[test]
fn use_before_definition() {
    insta::assert_snapshot!(err("  %0 = Relu(%1) : f32[2,3]\n  %1 = Relu(%x) : f32[2,3]\n  return %0"), @"");
}

#[test]
fn undefined_output() {
    insta::assert_snapshot!(err("  return %nope"), @"");
}

#[test]
fn duplicate_definition() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32[2,3]\n  %0 = Neg(%x) : f32[2,3]\n  return %0"), @"");
}

#[test]
fn redefining_an_input() {
    insta::assert_snapshot!(err("  %x = Relu(%x) : f32[2,3]\n  return %x"), @"");
}

#[test]
fn duplicate_input() {
    insta::assert_snapshot!(err_raw("graph \"g\"(%x: f32[1], %x: f32[1]) {\n  return %x\n}"), @"");
}

#[test]
fn duplicate_output_in_one_line() {
    insta::assert_snapshot!(err("  %0, %0 = Split[axis=0, splits=[1,1]](%x) : f32[1,3], f32[1,3]\n  return %0"), @"");
}

#[test]
fn wrong_input_arity() {
    insta::assert_snapshot!(err("  %0 = Add(%x) : f32[2,3]\n  return %0"), @"");
}

#[test]
fn wrong_input_arity_range() {
    insta::assert_snapshot!(err("  %0 = Conv[kernel=[1]](%x) : f32[2,3]\n  return %0"), @"");
}

#[test]
fn wrong_output_arity() {
    insta::assert_snapshot!(err("  %0, %1 = Relu(%x) : f32[2,3], f32[2,3]\n  return %0"), @"");
}

#[test]
fn split_outputs_must_match_splits() {
    insta::assert_snapshot!(err("  %0 = Split[axis=0, splits=[1,1]](%x) : f32[1,3]\n  return %0"), @"");
}

#[test]
fn types_must_match_outputs() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32[2,3], f32[2,3]\n  return %0"), @"");
}

#[test]
fn missing_types() {
    insta::assert_snapshot!(err("  %0 = Relu(%x)\n  return %0"), @"");
}

#[test]
fn unknown_attribute() {
    insta::assert_snapshot!(err("  %0 = Relu[alpha=0.1](%x) : f32[2,3]\n  return %0"), @"");
}

#[test]
fn missing_attribute() {
    insta::assert_snapshot!(err("  %0 = Transpose(%x) : f32[3,2]\n  return %0"), @"");
}

#[test]
fn attribute_of_the_wrong_kind() {
    insta::assert_snapshot!(err("  %0 = Softmax[axis=[1]](%x) : f32[2,3]\n  return %0"), @"");
}

#[test]
fn negative_where_unsigned_expected() {
    insta::assert_snapshot!(err("  %0 = Transpose[perm=[1,-1]](%x) : f32[3,2]\n  return %0"), @"");
}

#[test]
fn bad_dtype_attribute() {
    insta::assert_snapshot!(err("  %0 = Cast[to=float](%x) : f32[2,3]\n  return %0"), @"");
}

#[test]
fn bad_epilogue_stage() {
    insta::assert_snapshot!(err("  %0 = FusedMatMul[epilogue=[bias,swish]](%x, %x, %x) : f32[2,3]\n  return %0"), @"");
}

#[test]
fn attribute_given_twice() {
    insta::assert_snapshot!(err("  %0 = Softmax[axis=1, axis=0](%x) : f32[2,3]\n  return %0"), @"");
}

#[test]
fn missing_closing_paren() {
    insta::assert_snapshot!(err("  %0 = Add(%x, %x : f32[2,3]\n  return %0"), @"");
}

#[test]
fn trailing_tokens() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32[2,3] extra\n  return %0"), @"");
}

#[test]
fn constant_element_count() {
    insta::assert_snapshot!(err("  %c = const i64[3] [1, 2]\n  return %c"), @"");
}

#[test]
fn constant_bad_element() {
    insta::assert_snapshot!(err("  %c = const u8[2] [1, 256]\n  return %c"), @"");
}

#[test]
fn constant_with_symbolic_dims() {
    insta::assert_snapshot!(err("  %c = const f32[N] fp=0x12\n  return %c"), @"");
}

#[test]
fn constant_bad_fingerprint() {
    insta::assert_snapshot!(err("  %c = const f32[100] fp=12ab\n  return %c"), @"");
}

#[test]
fn constant_without_data() {
    insta::assert_snapshot!(err("  %c = const f32[2]\n  return %c"), @"");
}

#[test]
fn unterminated_string() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32[2,3]  # \"name\n  return %0"), @"");
}

#[test]
fn bad_escape() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32[2,3]  # \"a\\qb\"\n  return %0"), @"");
}

#[test]
fn unexpected_character() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) ; f32[2,3]\n  return %0"), @"");
}

#[test]
fn missing_header() {
    insta::assert_snapshot!(err_raw("%0 = Relu(%x) : f32[1]\n"), @"");
}

#[test]
fn header_without_name() {
    insta::assert_snapshot!(err_raw("graph (%x: f32[1]) {\n  return %x\n}"), @"");
}

#[test]
fn missing_return() {
    insta::assert_snapshot!(err_raw("graph \"g\"(%x: f32[1]) {\n  %0 = Relu(%x) : f32[1]\n}"), @"");
}

#[test]
fn missing_closing_brace() {
    insta::assert_snapshot!(err_raw("graph \"g\"(%x: f32[1]) {\n  return %x\n"), @"");
}

#[test]
fn node_after_return() {
    insta::assert_snapshot!(err_raw("graph \"g\"(%x: f32[1]) {\n  return %x\n  %0 = Relu(%x) : f32[1]\n}"), @"");
}

#[test]
fn text_after_closing_brace() {
    insta::assert_snapshot!(err_raw("graph \"g\"(%x: f32[1]) {\n  return %x\n}\ngraph \"h\"() {"), @"");
}

#[test]
fn empty_text() {
    insta::assert_snapshot!(err_raw("\n# nothing\n"), @"");
}
