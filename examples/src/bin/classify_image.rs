//! Image classification with a ResNet export: decode a PNG or JPEG, resize and center-crop it
//! like torchvision's standard transform (to the model's input size), normalise with the
//! ImageNet mean and std, run, print the five most likely classes and their probabilities.
//!
//! ```sh
//! cargo run -p infc-examples --bin classify_image -- examples/data/pattern.png \
//!     --model models/fixtures/resnet_ts17/model.onnx --shape batch=1
//! ```
//!
//! `--shape` takes infc's bindings (comma-separated, e.g. `input=1x3x224x224`); the batch must
//! come out as 1 and the spatial size is read from the compiled input.

use infc::{compile, CompileOptions, DType, InputKey, Session, TensorView};
use infc_examples::{f32s, flag, positional, repo_path, softmax, top_k, vision};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let image: PathBuf = positional(&args)
        .map(Into::into)
        .unwrap_or_else(|| repo_path("examples/data/pattern.png"));
    let model = flag(&args, "--model")
        .map(Into::into)
        .unwrap_or_else(|| repo_path("models/fixtures/resnet_ts17/model.onnx"));
    let opts = CompileOptions {
        shapes: flag(&args, "--shape")
            .unwrap_or_else(|| "batch=1".into())
            .split(',')
            .map(Into::into)
            .collect(),
        ..CompileOptions::default()
    };
    let session = Session::from_bytes(&compile(&model, &opts)?.encode())?;
    let input = &session.inputs()[0];
    let [1, 3, h, w] = input.shape[..] else {
        return Err(format!(
            "{}: input '{}' is {:?}, not [1, 3, height, width]",
            model.display(),
            input.name,
            input.shape
        )
        .into());
    };
    let prep = vision::preprocess(&image, h as u32, w as u32)
        .map_err(|e| format!("{}: {e}", image.display()))?;
    let bytes: Vec<u8> = prep.pixels.iter().flat_map(|v| v.to_le_bytes()).collect();
    let shape = [1, 3, h as usize, w as usize];
    let out = session.run(&[(
        InputKey::Name(&input.name),
        TensorView::new(DType::F32, &shape, &bytes),
    )])?;
    let probs = softmax(&f32s(&out[0].data));
    println!(
        "{}: {}x{}, resized to {}x{}, center {w}x{h} crop; {} classes",
        image.display(),
        prep.original.0,
        prep.original.1,
        prep.resized.0,
        prep.resized.1,
        probs.len()
    );
    for (class, p) in top_k(&probs, 5) {
        println!("class {class}: p = {p:.6}");
    }
    Ok(())
}
