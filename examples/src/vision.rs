//! ImageNet-style preprocessing, as torchvision's standard evaluation transform does it:
//! `Resize(256)` (shorter side, bilinear with antialiasing), `CenterCrop(224)`, `ToTensor`,
//! `Normalize(mean, std)`. For a model whose input is not 224×224 the crop is the model's size
//! and the shorter side keeps the 256/224 ratio.

use image::imageops::{self, FilterType};
use std::fmt;
use std::path::Path;

/// ImageNet channel means (RGB), on the 0..1 scale.
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations (RGB), on the 0..1 scale.
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Why an image could not be preprocessed.
#[derive(Debug)]
pub enum PrepError {
    /// The file could not be read or decoded.
    Image(image::ImageError),
    /// The resized image is smaller than the crop (a crop far from square).
    TooSmall {
        /// The resized image, width × height.
        resized: (u32, u32),
        /// The crop, width × height.
        crop: (u32, u32),
    },
}

impl fmt::Display for PrepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrepError::Image(e) => write!(f, "{e}"),
            PrepError::TooSmall { resized, crop } => write!(
                f,
                "the image resized to {}x{} is smaller than the {}x{} crop",
                resized.0, resized.1, crop.0, crop.1
            ),
        }
    }
}

impl std::error::Error for PrepError {}

impl From<image::ImageError> for PrepError {
    fn from(e: image::ImageError) -> Self {
        PrepError::Image(e)
    }
}

impl From<std::io::Error> for PrepError {
    fn from(e: std::io::Error) -> Self {
        PrepError::Image(image::ImageError::IoError(e))
    }
}

/// A preprocessed image: the `[1, 3, height, width]` tensor and the sizes it went through.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Normalised pixels, NCHW (batch 1), row-major.
    pub pixels: Vec<f32>,
    /// The decoded image, width × height.
    pub original: (u32, u32),
    /// After the resize, width × height.
    pub resized: (u32, u32),
}

/// The shorter side to resize to before a center crop of `crop` pixels: 256 for 224, and
/// `round(crop · 256 / 224)` for other sizes (never a tie: `crop · 8 / 7` is not a half-integer).
pub fn resize_short_side(crop: u32) -> u32 {
    (crop * 256 + 112) / 224
}

/// torchvision's `Resize(short)` output size for a `w`×`h` image: the shorter side becomes
/// `short`, the longer one `floor(short · long / shorter)`.
pub fn resized_size(w: u32, h: u32, short: u32) -> (u32, u32) {
    let scale =
        |long: u32, shorter: u32| (u64::from(short) * u64::from(long) / u64::from(shorter)) as u32;
    if w <= h {
        (short, scale(h, w))
    } else {
        (scale(w, h), short)
    }
}

/// torchvision's `CenterCrop` offset: `round((size - crop) / 2)`, ties to even like Python's
/// `round`.
pub fn crop_offset(size: u32, crop: u32) -> u32 {
    (f64::from(size.saturating_sub(crop)) / 2.0).round_ties_even() as u32
}

/// Decode the PNG or JPEG at `path` (the format from its contents) and turn it into the
/// `[1, 3, height, width]` tensor a `height`×`width` ImageNet model takes.
pub fn preprocess(path: &Path, height: u32, width: u32) -> Result<Prepared, PrepError> {
    let img = image::ImageReader::open(path)?
        .with_guessed_format()?
        .decode()?
        .to_rgb8();
    let original = img.dimensions();
    let (rw, rh) = resized_size(original.0, original.1, resize_short_side(height.min(width)));
    if rw < width || rh < height {
        return Err(PrepError::TooSmall {
            resized: (rw, rh),
            crop: (width, height),
        });
    }
    let resized = imageops::resize(&img, rw, rh, FilterType::Triangle);
    let (top, left) = (crop_offset(rh, height), crop_offset(rw, width));
    let (h, w) = (height as usize, width as usize);
    let mut pixels = vec![0f32; 3 * h * w];
    for (c, plane) in pixels.chunks_exact_mut(h * w).enumerate() {
        for (y, row) in plane.chunks_exact_mut(w).enumerate() {
            for (x, out) in row.iter_mut().enumerate() {
                let p = resized.get_pixel(left + x as u32, top + y as u32);
                *out = (f32::from(p[c]) / 255.0 - MEAN[c]) / STD[c];
            }
        }
    }
    Ok(Prepared {
        pixels,
        original,
        resized: (rw, rh),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_torchvision() {
        assert_eq!(resize_short_side(224), 256);
        assert_eq!(resize_short_side(32), 37);
        // int(37 * 96 / 64) = 55; a portrait image keeps its width as the shorter side.
        assert_eq!(resized_size(96, 64, 37), (55, 37));
        assert_eq!(resized_size(64, 96, 37), (37, 55));
        assert_eq!(resized_size(500, 375, 256), (341, 256));
        // round(11.5) = 12 and round(2.5) = 2: Python rounds ties to even.
        assert_eq!(crop_offset(55, 32), 12);
        assert_eq!(crop_offset(37, 32), 2);
        assert_eq!(crop_offset(39, 32), 4);
    }
}
