//! Reading an image file as PaddleClas's `DecodeImage` does (`cv2.imdecode(data, IMREAD_COLOR)`,
//! then BGR -> RGB): EXIF orientation applied, gray replicated to three channels, alpha ignored
//! (not blended), 16-bit samples cut to their high byte (libpng's strip_16, what cv2 does for
//! PNG). Decoder limits keep a hostile header from allocating gigabytes; every failure is an
//! `Error::Image` naming the file, never a panic.

use std::io::Cursor;
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbaImage};

use crate::error::{Error, Result};

/// The formats this build decodes (the `image` crate's features in Cargo.toml).
pub const FORMATS: &str = "jpeg, png, bmp, webp, gif, tiff";
/// Largest width or height accepted.
pub const MAX_SIDE: u32 = 16384;
/// Largest pixel count accepted: 64 Mpx (256 MiB as RGBA8, e.g. 8192x8192 or a 48 Mpx photo).
pub const MAX_PIXELS: u64 = 1 << 26;
/// What a decoder may allocate at once (RGB(A)16 of MAX_PIXELS is more: those are refused).
const MAX_DECODER_ALLOC: u64 = 512 << 20;

/// Read and decode `path` to RGBA8 (alpha kept only because the GPU upload is one u32 per pixel;
/// nothing reads it).
pub fn decode_file(path: &Path) -> Result<RgbaImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_bytes(&bytes, path)
}

/// Decode an encoded image held in memory; `path` only names it in errors.
pub fn decode_bytes(bytes: &[u8], path: &Path) -> Result<RgbaImage> {
    // The decoders are fuzzed, but one panic must not take the rest of a batch with it.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(bytes, path)))
        .unwrap_or_else(|_| Err(image_error(path, "the decoder failed on this file".into())))
}

fn image_error(path: &Path, reason: String) -> Error {
    Error::Image {
        path: path.to_path_buf(),
        reason,
    }
}

fn decode(bytes: &[u8], path: &Path) -> Result<RgbaImage> {
    let fail = |reason: String| image_error(path, reason);
    // Some decoders put line breaks in their messages: keep each error on one line.
    let cannot = |e: image::ImageError| {
        let message = e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        fail(format!("cannot decode the image: {message}"))
    };
    if bytes.is_empty() {
        return Err(fail("the file is empty".into()));
    }
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>> {
        let r = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| fail(e.to_string()))?;
        match r.format() {
            Some(_) => Ok(r),
            None => Err(fail(format!(
                "not an image in a supported format ({FORMATS})"
            ))),
        }
    };
    // Dimensions first (headers only), so an oversized image gets a message with its size.
    let (w, h) = reader()?.into_dimensions().map_err(cannot)?;
    check_size(w, h).map_err(fail)?;
    let mut r = reader()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    r.limits(limits);
    let mut decoder = r.into_decoder().map_err(cannot)?;
    // cv2.imdecode applies the EXIF orientation (IMREAD_IGNORE_ORIENTATION is not set).
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(cannot)?;
    img.apply_orientation(orientation);
    let rgba = to_rgba8(img).ok_or_else(|| fail("the decoder returned a short buffer".into()))?;
    if rgba.width() == 0 || rgba.height() == 0 {
        return Err(fail(format!(
            "the image is {}x{}: no pixels",
            rgba.width(),
            rgba.height()
        )));
    }
    Ok(rgba)
}

fn check_size(w: u32, h: u32) -> std::result::Result<(), String> {
    if w == 0 || h == 0 {
        return Err(format!("the image is {w}x{h}: no pixels"));
    }
    if w > MAX_SIDE || h > MAX_SIDE || w as u64 * h as u64 > MAX_PIXELS {
        return Err(format!(
            "the image is {w}x{h}, over the limit of {MAX_SIDE} pixels per side and {} Mpx",
            MAX_PIXELS >> 20
        ));
    }
    Ok(())
}

/// 8-bit RGBA with cv2's conversions: 16-bit samples keep their high byte (the `image` crate
/// would round v / 257 instead), everything else as `image` converts it.
fn to_rgba8(img: DynamicImage) -> Option<RgbaImage> {
    let (w, h) = (img.width(), img.height());
    let high = |v: &[u16]| v.iter().map(|&x| (x >> 8) as u8).collect::<Vec<u8>>();
    let eight = match img {
        DynamicImage::ImageLuma16(i) => {
            DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, high(i.as_raw()))?)
        }
        DynamicImage::ImageLumaA16(i) => {
            DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_raw(w, h, high(i.as_raw()))?)
        }
        DynamicImage::ImageRgb16(i) => {
            DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, high(i.as_raw()))?)
        }
        DynamicImage::ImageRgba16(i) => {
            DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, high(i.as_raw()))?)
        }
        other => other,
    };
    Some(eight.into_rgba8())
}
