//! A range plan through the C ABI: `infc_session_output_shape` gives each output's dims and size
//! at the caller's input shapes, and `infc_session_run` fills buffers of exactly that size; an input
//! outside the plan's range is a `Run` error naming the dim.

use infc_c::*;
use std::ffi::{CStr, CString};
use std::path::PathBuf;

#[test]
fn a_range_plan_reports_its_output_shape_per_input_shape() {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/fixtures/gpt2_ts17/model.onnx");
    let opts = infc::CompileOptions {
        shapes: vec!["batch=1..3".into(), "sequence=1..16".into()],
        ..infc::CompileOptions::default()
    };
    let dir = tempfile_dir();
    let path = dir.join("gpt2_range.plan");
    infc::compile(&model, &opts).unwrap().write(&path).unwrap();
    let cpath = CString::new(path.to_str().unwrap()).unwrap();
    let mut s: *mut InfcSession = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated path and out pointer.
    assert_eq!(
        unsafe { infc_session_load(cpath.as_ptr(), &mut s) },
        InfcStatus::Ok
    );
    let names = [
        CString::new("input_ids").unwrap(),
        CString::new("attention_mask").unwrap(),
    ];
    for (b, l) in [(1usize, 5usize), (3, 16), (2, 1)] {
        let dims = [b as i64, l as i64];
        let data = vec![1i64; b * l];
        let inputs: Vec<InfcTensor> = names
            .iter()
            .map(|n| InfcTensor {
                name: n.as_ptr(),
                dtype: InfcDtype::I64,
                rank: 2,
                dims: dims.as_ptr(),
                data: data.as_ptr().cast(),
                bytes: data.len() * 8,
            })
            .collect();
        let (mut out_dims, mut rank, mut bytes) = ([0i64; 4], 0usize, 0usize);
        // SAFETY: every pointer is valid for what the function writes.
        let st = unsafe {
            infc_session_output_shape(
                s,
                inputs.as_ptr(),
                2,
                0,
                out_dims.as_mut_ptr(),
                4,
                &mut rank,
                &mut bytes,
            )
        };
        assert_eq!(st, InfcStatus::Ok);
        assert_eq!((rank, &out_dims[..3]), (3, &[b as i64, l as i64, 512][..]));
        assert_eq!(bytes, b * l * 512 * 4);
        let mut logits = vec![0f32; b * l * 512];
        let buf = InfcBuffer {
            data: logits.as_mut_ptr().cast(),
            bytes,
        };
        // SAFETY: as above; the buffer is `bytes` long.
        assert_eq!(
            unsafe { infc_session_run(s, inputs.as_ptr(), 2, &buf, 1) },
            InfcStatus::Ok
        );
        assert!(logits.iter().all(|v| v.is_finite()) && logits.iter().any(|&v| v != 0.0));
    }
    // Out of range: sequence 17.
    let dims = [1i64, 17];
    let data = [1i64; 17];
    let inputs: Vec<InfcTensor> = names
        .iter()
        .map(|n| InfcTensor {
            name: n.as_ptr(),
            dtype: InfcDtype::I64,
            rank: 2,
            dims: dims.as_ptr(),
            data: data.as_ptr().cast(),
            bytes: data.len() * 8,
        })
        .collect();
    let (mut rank, mut bytes) = (0usize, 0usize);
    // SAFETY: as above, with no dims requested.
    let st = unsafe {
        infc_session_output_shape(
            s,
            inputs.as_ptr(),
            2,
            0,
            std::ptr::null_mut(),
            0,
            &mut rank,
            &mut bytes,
        )
    };
    assert_eq!(st, InfcStatus::Run);
    // SAFETY: infc_last_error returns a NUL-terminated string owned by this thread.
    let msg = unsafe { CStr::from_ptr(infc_last_error()) }
        .to_string_lossy()
        .into_owned();
    assert!(msg.contains("outside the plan's range 1..=16"), "{msg}");
    // SAFETY: a live session, freed once.
    unsafe { infc_session_free(s) };
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("infc-c-range-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
