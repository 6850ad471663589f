//! The text form of the IR: printer, parser, and the DOT / JSON exports that share its value names.
//!
//! ```text
//! graph "tiny"(%x: f32[batch,3,8,8]) {
//!   %c0 = const f32[4,3,3,3] fp=0x1f0c…  # "conv.weight"
//!   %c1 = const i64[2] [1, -1]  # "shape"
//!   %0 = Conv[kernel=[3,3], strides=[1,1], pads=[1,1,1,1], dilations=[1,1], group=1](%x, %c0) : f32[batch,4,8,8]  # "/conv/Conv"
//!   %y = Reshape[allowzero=false](%0, %c1) : f32[1,256]  # "/Reshape"
//!   return %y
//! }
//! ```
//!
//! Grammar (one item per line; blank lines and `# comment` allowed anywhere):
//!
//! ```text
//! file     := "graph" STRING "(" [input {"," input}] ")" "{"  body*  "return" [value {"," value}]  "}"
//! input    := value ":" type
//! body     := value "=" "const" type ( "[" [atom {"," atom}] "]" | "fp" "=" HEX ) [name]
//!           | [value {"," value} "="] OP ["[" attr {"," attr} "]"] "(" [value {"," value}] ")"
//!             {"@" MARK} [":" type {"," type}] [name]
//! attr     := IDENT "=" ( atom | "[" [atom {"," atom}] "]" )
//! type     := DTYPE "[" [dim {"," dim}] "]"          dim := INT | IDENT | STRING
//! value    := "%" IDENT | "%" INT | "%" STRING      name := "#" STRING   (source name)
//! atom     := INT | FLOAT | "true" | "false" | "none" | DTYPE | "inf" | "NaN"
//! ```
//!
//! Numbering: graph inputs and outputs keep their source names, constants are `%c0…` by first use,
//! other values `%0…` in definition order. Constants of ≤ 16 elements print their values (floats
//! with `{:?}`, so they read back bit for bit); larger ones print their fingerprint and parse back as
//! opaque tensors. Unused constants are not printed. The parser takes types from the text and accepts
//! omitted attributes that have an ONNX default. `MARK` is a precision (`int8`, `int8_per_row`,
//! `bf16`) or a realization (`in_reader`, `view`), see [`crate::marks`]; defaults are not printed.

mod attrs;
mod dot;
mod json;
mod lex;
mod names;
mod parse;
mod print;

pub use attrs::{attrs_text, op_attrs};
pub use dot::to_dot;
pub use json::to_json;
pub use names::ValueNames;
pub use parse::parse_graph;
pub use print::{print_graph, INLINE_CONST_MAX};
