//! classify_image on the committed picture: its preprocessing matches torchvision's (committed
//! tensors of the PNG and of the JPEG), its top-5 classes and probabilities match onnxruntime's
//! on torchvision's tensor (all committed by `examples/data/make_classify_expected.py`), and a
//! bad path fails with a message naming it.

mod common;

use common::{read_npy_f32, repo, run, run_failing};
use infc_examples::vision;

const EXE: &str = env!("CARGO_BIN_EXE_classify_image");

/// `(class, p)` of every `class <idx>: p = <prob>` line.
fn classes(out: &str) -> Vec<(usize, f32)> {
    out.lines()
        .filter_map(|l| {
            let (class, p) = l.strip_prefix("class ")?.split_once(": p = ")?;
            Some((class.parse().ok()?, p.parse().ok()?))
        })
        .collect()
}

/// The largest absolute and the mean absolute difference.
fn diffs(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let d: Vec<f32> = a.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
    (
        d.iter().copied().fold(0.0, f32::max),
        d.iter().sum::<f32>() / d.len() as f32,
    )
}

#[test]
fn preprocessing_matches_torchvision() {
    let (shape, want) = read_npy_f32(&repo("examples/data/classify_input.npy"));
    assert_eq!(shape, [1, 3, 32, 32]);
    let png = vision::preprocess(&repo("examples/data/pattern.png"), 32, 32).unwrap();
    assert_eq!((png.original, png.resized), ((96, 64), (55, 37)));
    // The image crate's and Pillow's antialiased bilinear resizes round differently: one 8-bit
    // level here and there (a level is 1/255/std ≈ 0.017 after normalisation).
    let (max, mean) = diffs(&png.pixels, &want);
    assert!(max < 0.03 && mean < 0.004, "max {max}, mean {mean}");
    // The JPEG decoders (zune-jpeg here, libjpeg under Pillow) differ by a level more.
    let (_, want) = read_npy_f32(&repo("examples/data/classify_input_jpg.npy"));
    let jpg = vision::preprocess(&repo("examples/data/pattern.jpg"), 32, 32).unwrap();
    let (max, mean) = diffs(&jpg.pixels, &want);
    assert!(max < 0.06 && mean < 0.015, "max {max}, mean {mean}");
}

#[test]
fn top5_matches_onnxruntime() {
    let (_, probs) = read_npy_f32(&repo("examples/data/classify_expected_probs.npy"));
    let mut want: Vec<usize> = (0..probs.len()).collect();
    want.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    let out = run(EXE, &[]);
    assert!(
        out.contains("96x64, resized to 55x37, center 32x32 crop; 10 classes"),
        "{out}"
    );
    let got = classes(&out);
    let ids: Vec<usize> = got.iter().map(|&(c, _)| c).collect();
    assert_eq!(ids, want[..5], "{out}");
    for (c, p) in got {
        assert!(
            (p - probs[c]).abs() < 2e-3,
            "class {c}: {p} vs {}",
            probs[c]
        );
    }
    let jpg = classes(&run(
        EXE,
        &[repo("examples/data/pattern.jpg").to_str().unwrap()],
    ));
    assert_eq!(jpg.len(), 5);
    assert_eq!(jpg[0].0, want[0]);
}

#[test]
fn missing_image_is_named() {
    let err = run_failing(EXE, &["no/such/picture.png"]);
    assert!(err.contains("no/such/picture.png"), "{err}");
}
