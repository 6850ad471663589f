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
    insta::assert_snapshot!(err("  %0 = Frobnicate(%x) : f32[2,3]\n  return %0"), @"text IR line 2: unknown op `Frobnicate`");
}

#[test]
fn unknown_dtype() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f33[2,3]\n  return %0"), @"text IR line 2: unknown dtype `f33` (expected one of f32, f16, i64, i32, i8, u8, bool)");
}

#[test]
fn bad_dimension() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32[2,-3]\n  return %0"), @"text IR line 2: bad dimension `-3` (expected a size or a symbol)");
}

#[test]
fn type_without_brackets() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32\n  return %0"), @"text IR line 2: expected `[`, found end of line");
}

#[test]
fn undefined_value() {
    insta::assert_snapshot!(err("  %0 = Add(%x, %y) : f32[2,3]\n  return %0"), @"text IR line 2: undefined value `%y`");
}

#[test]
fn use_before_definition() {
    insta::assert_snapshot!(err("  %0 = Relu(%1) : f32[2,3]\n  %1 = Relu(%x) : f32[2,3]\n  return %0"), @"text IR line 2: undefined value `%1`");
}

#[test]
fn undefined_output() {
    insta::assert_snapshot!(err("  return %nope"), @"text IR line 2: undefined value `%nope`");
}

#[test]
fn duplicate_definition() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32[2,3]\n  %0 = Neg(%x) : f32[2,3]\n  return %0"), @"text IR line 3: `%0` is defined more than once");
}

#[test]
fn redefining_an_input() {
    insta::assert_snapshot!(err("  %x = Relu(%x) : f32[2,3]\n  return %x"), @"text IR line 2: `%x` is defined more than once");
}

#[test]
fn duplicate_input() {
    insta::assert_snapshot!(err_raw("graph \"g\"(%x: f32[1], %x: f32[1]) {\n  return %x\n}"), @"text IR line 1: `%x` is defined more than once");
}

#[test]
fn duplicate_output_in_one_line() {
    insta::assert_snapshot!(err("  %0, %0 = Split[axis=0, splits=[1,1]](%x) : f32[1,3], f32[1,3]\n  return %0"), @"text IR line 2: `%0` is defined more than once");
}

#[test]
fn wrong_input_arity() {
    insta::assert_snapshot!(err("  %0 = Add(%x) : f32[2,3]\n  return %0"), @"text IR line 2: Add takes 2 input(s), found 1");
}

#[test]
fn wrong_input_arity_range() {
    insta::assert_snapshot!(err("  %0 = Conv[kernel=[1]](%x) : f32[2,3]\n  return %0"), @"text IR line 2: Conv takes 2 to 3 input(s), found 1");
}

#[test]
fn wrong_output_arity() {
    insta::assert_snapshot!(err("  %0, %1 = Relu(%x) : f32[2,3], f32[2,3]\n  return %0"), @"text IR line 2: Relu has 1 output(s), found 2");
}

#[test]
fn split_outputs_must_match_splits() {
    insta::assert_snapshot!(err("  %0 = Split[axis=0, splits=[1,1]](%x) : f32[1,3]\n  return %0"), @"text IR line 2: Split has 2 output(s), found 1");
}

#[test]
fn types_must_match_outputs() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32[2,3], f32[2,3]\n  return %0"), @"text IR line 2: 1 output(s) but 2 type(s)");
}

#[test]
fn missing_types() {
    insta::assert_snapshot!(err("  %0 = Relu(%x)\n  return %0"), @"text IR line 2: expected `:` and the output types, found end of line");
}

#[test]
fn unknown_attribute() {
    insta::assert_snapshot!(err("  %0 = Relu[alpha=0.1](%x) : f32[2,3]\n  return %0"), @"text IR line 2: Relu: unknown attribute `alpha`");
}

#[test]
fn missing_attribute() {
    insta::assert_snapshot!(err("  %0 = Transpose(%x) : f32[3,2]\n  return %0"), @"text IR line 2: Transpose: missing attribute `perm`");
}

#[test]
fn attribute_of_the_wrong_kind() {
    insta::assert_snapshot!(err("  %0 = Softmax[axis=[1]](%x) : f32[2,3]\n  return %0"), @"text IR line 2: Softmax: attribute `axis` expects an integer, found `[1]`");
}

#[test]
fn negative_where_unsigned_expected() {
    insta::assert_snapshot!(err("  %0 = Transpose[perm=[1,-1]](%x) : f32[3,2]\n  return %0"), @"text IR line 2: Transpose: attribute `perm` expects a list of non-negative integers, found `[1,-1]`");
}

#[test]
fn bad_dtype_attribute() {
    insta::assert_snapshot!(err("  %0 = Cast[to=float](%x) : f32[2,3]\n  return %0"), @"text IR line 2: Cast: attribute `to` expects a dtype (f32, f16, i64, i32, i8, u8, bool), found `float`");
}

#[test]
fn bad_epilogue_stage() {
    insta::assert_snapshot!(err("  %0 = FusedMatMul[epilogue=[bias,swish]](%x, %x, %x) : f32[2,3]\n  return %0"), @"text IR line 2: FusedMatMul: attribute `epilogue` expects a list of epilogue stages (bias, residual, relu, gelu_erf, gelu_tanh), found `[bias,swish]`");
}

#[test]
fn attribute_given_twice() {
    insta::assert_snapshot!(err("  %0 = Softmax[axis=1, axis=0](%x) : f32[2,3]\n  return %0"), @"text IR line 2: Softmax: attribute `axis` given twice");
}

#[test]
fn missing_closing_paren() {
    insta::assert_snapshot!(err("  %0 = Add(%x, %x : f32[2,3]\n  return %0"), @"text IR line 2: expected `)`, found `:`");
}

#[test]
fn trailing_tokens() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32[2,3] extra\n  return %0"), @"text IR line 2: unexpected `extra` at end of line");
}

#[test]
fn constant_element_count() {
    insta::assert_snapshot!(err("  %c = const i64[3] [1, 2]\n  return %c"), @"text IR line 2: constant i64[3] needs 3 elements, found 2");
}

#[test]
fn constant_bad_element() {
    insta::assert_snapshot!(err("  %c = const u8[2] [1, 256]\n  return %c"), @"text IR line 2: bad u8 element `256`");
}

#[test]
fn constant_with_symbolic_dims() {
    insta::assert_snapshot!(err("  %c = const f32[N] fp=0x12\n  return %c"), @"text IR line 2: constant type `f32[N]` must have known dims");
}

#[test]
fn constant_bad_fingerprint() {
    insta::assert_snapshot!(err("  %c = const f32[100] fp=12ab\n  return %c"), @"text IR line 2: bad fingerprint `12ab` (expected `0x` and up to 16 hex digits)");
}

#[test]
fn constant_without_data() {
    insta::assert_snapshot!(err("  %c = const f32[2]\n  return %c"), @"text IR line 2: expected constant data (`[…]` or `fp=0x…`), found end of line");
}

#[test]
fn unterminated_string() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32[2,3]  # \"name\n  return %0"), @r#"
        text IR line 2: unterminated string `"name`
        "#);
}

#[test]
fn bad_escape() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) : f32[2,3]  # \"a\\qb\"\n  return %0"), @r#"
        text IR line 2: bad escape `\q`
        "#);
}

#[test]
fn unexpected_character() {
    insta::assert_snapshot!(err("  %0 = Relu(%x) ; f32[2,3]\n  return %0"), @"text IR line 2: unexpected character `;`");
}

#[test]
fn missing_header() {
    insta::assert_snapshot!(err_raw("%0 = Relu(%x) : f32[1]\n"), @r#"
        text IR line 1: expected `graph "name"(…) {`, found `%0`
        "#);
}

#[test]
fn header_without_name() {
    insta::assert_snapshot!(err_raw("graph (%x: f32[1]) {\n  return %x\n}"), @"text IR line 1: expected the graph name as a quoted string, found `(`");
}

#[test]
fn missing_return() {
    insta::assert_snapshot!(err_raw("graph \"g\"(%x: f32[1]) {\n  %0 = Relu(%x) : f32[1]\n}"), @"text IR line 3: graph body ends without a `return` line");
}

#[test]
fn missing_closing_brace() {
    insta::assert_snapshot!(err_raw("graph \"g\"(%x: f32[1]) {\n  return %x\n"), @"text IR line 2: missing closing `}`");
}

#[test]
fn node_after_return() {
    insta::assert_snapshot!(err_raw("graph \"g\"(%x: f32[1]) {\n  return %x\n  %0 = Relu(%x) : f32[1]\n}"), @"text IR line 3: expected `}` after `return`, found `%0`");
}

#[test]
fn text_after_closing_brace() {
    insta::assert_snapshot!(err_raw("graph \"g\"(%x: f32[1]) {\n  return %x\n}\ngraph \"h\"() {"), @"text IR line 4: unexpected `graph` after the closing `}`");
}

#[test]
fn empty_text() {
    insta::assert_snapshot!(err_raw("\n# nothing\n"), @"text IR line 2: no `graph` header found");
}
