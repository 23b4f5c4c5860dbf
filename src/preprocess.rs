//! PaddleClas's inference preprocessing on the CPU, to the bit: `ResizeImage(resize_short)`
//! (cv2.resize INTER_LINEAR on the uint8 image), `CropImage` (center), `NormalizeImage`
//! (x * float32(1/255) - mean) / std in float32, then CHW. This is the tests' truth for the GPU
//! kernel (`shaders/preprocess.wgsl`, `resize_crop_normalize`), which applies the same taps.
//!
//! cv2's INTER_LINEAR on uint8 is fixed-point: each output coordinate gets two source indices
//! and two 11-bit weights computed from `(d + 0.5) * scale - 0.5` (in double, rounded to float);
//! the horizontal pass sums in int32, and the vertical pass rounds as cv2's SIMD code does
//! (`((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16) + 2 >> 2`). Checked bit-exact against
//! opencv-python 4.6, 4.14 and 5.0 (tests/data/cv2, made by tests/data/make_cv2_fixtures.py).

use std::ops::Range;

use image::{RgbImage, RgbaImage};

use crate::arch::ModelSpec;
use crate::error::{Error, Result};

pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// cv2's INTER_RESIZE_COEF_BITS: the weights of a tap pair sum to (about) 2^11.
const COEF_SCALE: f32 = 2048.0;

/// What PaddleClas's inference transforms do to an image, as numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PreprocessConfig {
    /// `ResizeImage.resize_short`: the short side after resizing.
    pub resize_short: u32,
    /// `CropImage.size`: the square center crop, i.e. the network's input size.
    pub crop: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl PreprocessConfig {
    /// The ImageNet transforms of the PaddleClas configs: resize short side, crop, mean/std.
    pub fn imagenet(resize_short: u32, crop: u32) -> Self {
        PreprocessConfig {
            resize_short,
            crop,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        }
    }

    /// 256/224, or 320/320 for Fix_ResNet50_vd_ssld_v2: what the model's release config says.
    pub fn for_model(spec: &ModelSpec) -> Self {
        Self::imagenet(spec.resize_short, spec.crop)
    }

    /// The normalised value of 8-bit level `v` in channel `c`, as numpy computes it:
    /// `(float32(v) * float32(1/255) - float32(mean)) / float32(std)`, every step in float32.
    pub fn normalize(&self, v: u8, c: usize) -> f32 {
        let scale = (1.0f64 / 255.0) as f32;
        (v as f32 * scale - self.mean[c]) / self.std[c]
    }

    /// `normalize` for every level: what the GPU kernel looks values up in, so both sides
    /// produce the same floats whatever the adapter's division does.
    pub fn levels(&self) -> Vec<[f32; 4]> {
        (0..=255u8)
            .map(|v| {
                [
                    self.normalize(v, 0),
                    self.normalize(v, 1),
                    self.normalize(v, 2),
                    0.0,
                ]
            })
            .collect()
    }
}

/// `ResizeImage(resize_short)`'s target size for a `w` x `h` image:
/// `int(round(side * float(short) / min(w, h)))`, with Python's round (half to even) on doubles.
pub fn resized_size(w: u32, h: u32, short: u32) -> (u32, u32) {
    let percent = short as f64 / w.min(h).max(1) as f64;
    let side = |s: u32| (s as f64 * percent).round_ties_even() as u32;
    (side(w), side(h))
}

/// One output coordinate of a resize: two source indices and their fixed-point weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tap {
    pub i0: u32,
    pub i1: u32,
    pub w0: u32,
    pub w1: u32,
}

/// The two axes differ at the borders in cv2: a column past an edge takes the edge pixel with
/// weights (2048, 0); a row past an edge reads the edge row twice with the weights it computed
/// (which may sum to 2047 or 2049).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    Horizontal,
    Vertical,
}

/// cv2.resize INTER_LINEAR's taps for output indices `range` of a `src` -> `dst` resize.
pub fn linear_taps(src: u32, dst: u32, range: Range<u32>, axis: Axis) -> Vec<Tap> {
    // cv::resize takes inv_scale = dst / src, and the HAL scale = 1 / inv_scale, in double.
    let scale = 1.0 / (dst as f64 / src as f64);
    let last = src.saturating_sub(1) as i64;
    range
        .map(|d| {
            let pos = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let floor = pos.floor();
            let mut frac = pos - floor;
            let mut s = floor as i64;
            if axis == Axis::Horizontal {
                if s < 0 {
                    (frac, s) = (0.0, 0);
                }
                if s >= last {
                    (frac, s) = (0.0, last);
                }
            }
            // saturate_cast<short>(float) rounds half to even.
            let weight = |f: f32| (f * COEF_SCALE).round_ties_even() as u32;
            Tap {
                i0: s.clamp(0, last) as u32,
                i1: (s + 1).clamp(0, last) as u32,
                w0: weight(1.0 - frac),
                w1: weight(frac),
            }
        })
        .collect()
}

/// cv2's fixed-point bilinear value of one channel from the 2x2 source values `s[row][col]`.
pub fn blend(s: [[u32; 2]; 2], col: &Tap, row: &Tap) -> u8 {
    let h0 = s[0][0] * col.w0 + s[0][1] * col.w1;
    let h1 = s[1][0] * col.w0 + s[1][1] * col.w1;
    let v = (((h0 >> 4) * row.w0) >> 16) + (((h1 >> 4) * row.w1) >> 16);
    ((v + 2) >> 2).min(255) as u8
}

/// Where each output column and row of a resize (or of a window of it) reads from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sampling {
    pub src_w: u32,
    pub src_h: u32,
    pub cols: Vec<Tap>,
    pub rows: Vec<Tap>,
}

impl Sampling {
    /// The window `x`, `y` of a `src` -> `dst` resize (sizes are width, height).
    pub fn window(src: (u32, u32), dst: (u32, u32), x: Range<u32>, y: Range<u32>) -> Sampling {
        Sampling {
            src_w: src.0,
            src_h: src.1,
            cols: linear_taps(src.0, dst.0, x, Axis::Horizontal),
            rows: linear_taps(src.1, dst.1, y, Axis::Vertical),
        }
    }

    /// A whole `src` -> `dst` resize: `cv2.resize(img, dst, interpolation=INTER_LINEAR)`.
    pub fn resize(src: (u32, u32), dst: (u32, u32)) -> Sampling {
        Self::window(src, dst, 0..dst.0, 0..dst.1)
    }

    /// `ResizeImage(resize_short)` then `CropImage(crop)`: only the cropped window is sampled,
    /// so a very elongated image never materialises its full resized size.
    pub fn resize_short_center_crop(w: u32, h: u32, cfg: &PreprocessConfig) -> Result<Sampling> {
        if w == 0 || h == 0 {
            return Err(Error::Input(format!("a {w}x{h} image has no pixels")));
        }
        let (rw, rh) = resized_size(w, h, cfg.resize_short);
        let crop = cfg.crop;
        if rw < crop || rh < crop {
            return Err(Error::Input(format!(
                "a {w}x{h} image resized to {rw}x{rh} (short side {}) is smaller than the {crop}x{crop} crop",
                cfg.resize_short
            )));
        }
        // CropImage: w_start = (img_w - w) // 2.
        let (x0, y0) = ((rw - crop) / 2, (rh - crop) / 2);
        Ok(Self::window((w, h), (rw, rh), x0..x0 + crop, y0..y0 + crop))
    }
}

/// Apply `s` to an 8-bit image (its alpha, if any, is ignored as cv2's IMREAD_COLOR does).
pub fn resample(src: &RgbaImage, s: &Sampling) -> Result<RgbImage> {
    if (src.width(), src.height()) != (s.src_w, s.src_h) {
        return Err(Error::Input(format!(
            "the sampling was made for a {}x{} image, not {}x{}",
            s.src_w,
            s.src_h,
            src.width(),
            src.height()
        )));
    }
    if src.width() == 0 || src.height() == 0 {
        return Err(Error::Input(
            "an image with no pixels cannot be resized".into(),
        ));
    }
    let mut out = RgbImage::new(s.cols.len() as u32, s.rows.len() as u32);
    for (y, row) in s.rows.iter().enumerate() {
        for (x, col) in s.cols.iter().enumerate() {
            let px = |r: u32, c: u32| src.get_pixel(c, r).0;
            let quad = [
                [px(row.i0, col.i0), px(row.i0, col.i1)],
                [px(row.i1, col.i0), px(row.i1, col.i1)],
            ];
            let value = std::array::from_fn(|c| {
                blend(
                    [
                        [quad[0][0][c] as u32, quad[0][1][c] as u32],
                        [quad[1][0][c] as u32, quad[1][1][c] as u32],
                    ],
                    col,
                    row,
                )
            });
            out.put_pixel(x as u32, y as u32, image::Rgb(value));
        }
    }
    Ok(out)
}

/// `NormalizeImage` + `ToCHWImage`: float32 `[3, h, w]`, channels R, G, B.
pub fn normalize_chw(img: &RgbImage, cfg: &PreprocessConfig) -> Vec<f32> {
    let plane = (img.width() * img.height()) as usize;
    let mut out = vec![0.0; 3 * plane];
    for (i, px) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = cfg.normalize(px.0[c], c);
        }
    }
    out
}

/// The whole transform for one decoded image: float32 `[3, crop, crop]`.
pub fn preprocess(src: &RgbaImage, cfg: &PreprocessConfig) -> Result<Vec<f32>> {
    let sampling = Sampling::resize_short_center_crop(src.width(), src.height(), cfg)?;
    Ok(normalize_chw(&resample(src, &sampling)?, cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resized_size_rounds_like_python() {
        // 513 * 0.5 = 256.5: Python's round goes to the even 256.
        assert_eq!(resized_size(513, 512, 256), (256, 256));
        assert_eq!(resized_size(515, 512, 256), (258, 256));
        assert_eq!(resized_size(640, 480, 256), (341, 256));
        assert_eq!(resized_size(1, 1, 256), (256, 256));
        assert_eq!(resized_size(3, 7, 320), (320, 747));
    }

    #[test]
    fn identity_resize_keeps_values() {
        let taps = linear_taps(5, 5, 0..5, Axis::Horizontal);
        for (d, t) in taps.iter().enumerate() {
            assert_eq!((t.i0, t.w0, t.w1), (d as u32, 2048, 0));
        }
        let t = &taps[2];
        for v in [0u32, 1, 127, 255] {
            assert_eq!(blend([[v, v], [v, v]], t, t), v as u8);
        }
    }
}
