//! Unit tests: small ONNX models built from prost structs, one file per op family, plus malformed
//! inputs and external data. Expected IR is compared as text (`summarize`: one line per IR node
//! with its op and output types) with inline insta snapshots.

mod builder;
mod external;
mod families;
mod malformed;
mod scale;
