//! A request's encoded images (the BYTES input `image`): their headers read first and counted
//! against the per-request pixel budget, then each decoded as `predict` does and checked against
//! the device's upload limit and the crop. A small file can declare a large image (an 8 KB PNG
//! decodes to 256 MiB), so nothing is decoded before every header of the request has been read.

use std::io::Cursor;
use std::path::Path;

use image::{ImageReader, RgbaImage};

use crate::preprocess::{PreprocessConfig, Sampling};

use super::checked::RequestLimits;
use super::protocol::{ApiError, IMAGE_INPUT};

/// The pixels the images' headers declare, all together; refused past `limits.max_pixels`
/// (or when a header cannot be read), naming the element and the limit.
pub fn declared_pixels(files: &[Vec<u8>], limits: &RequestLimits) -> Result<u64, ApiError> {
    let mut total = 0u64;
    for (i, bytes) in files.iter().enumerate() {
        let name = format!("input `{IMAGE_INPUT}` element {i}");
        let dims = ImageReader::new(Cursor::new(bytes.as_slice()))
            .with_guessed_format()
            .ok()
            .filter(|r| r.format().is_some())
            .ok_or_else(|| {
                ApiError::bad(format!(
                    "{name}: not an image in a supported format ({})",
                    crate::decode::FORMATS
                ))
            })?
            .into_dimensions()
            .map_err(|e| ApiError::bad(format!("{name}: cannot read the image header: {e}")))?;
        total = total.saturating_add(dims.0 as u64 * dims.1 as u64);
        if total > limits.max_pixels {
            return Err(ApiError::bad(format!(
                "input `{IMAGE_INPUT}`: the headers of elements 0..={i} declare {total} pixels, \
                 over the per-request budget of {} (--max-request-pixels); send fewer or smaller \
                 images per request",
                limits.max_pixels
            )));
        }
    }
    Ok(total)
}

/// Decode each file (after [`declared_pixels`] accepted the request) and check that the device
/// (`max_bytes` of RGBA8 in one binding) and the crop can take it.
pub fn decode_images(
    files: &[Vec<u8>],
    limits: &RequestLimits,
    max_bytes: u64,
    preprocess: &PreprocessConfig,
) -> Result<Vec<RgbaImage>, ApiError> {
    declared_pixels(files, limits)?;
    files
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let name = format!("input `{IMAGE_INPUT}` element {i}");
            let image = crate::decode::decode_bytes(bytes, Path::new(&name))
                .map_err(|e| ApiError::bad(e.to_string()))?;
            let (w, h) = image.dimensions();
            if 4 * w as u64 * h as u64 > max_bytes {
                return Err(ApiError::bad(format!(
                    "{name}: a {w}x{h} image is over the device's largest upload ({max_bytes} bytes)"
                )));
            }
            Sampling::resize_short_center_crop(w, h, preprocess)
                .map_err(|e| ApiError::bad(format!("{name}: {e}")))?;
            Ok(image)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::DynamicImage::ImageRgba8(RgbaImage::new(w, h))
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn the_budget_is_checked_from_headers_before_decoding() {
        let limits = RequestLimits {
            max_images: 8,
            max_pixels: 100,
        };
        assert_eq!(
            declared_pixels(&[png(5, 5), png(5, 5)], &limits).unwrap(),
            50
        );
        let m = declared_pixels(&[png(5, 5), png(10, 10)], &limits)
            .unwrap_err()
            .message;
        assert!(
            m.contains("125 pixels") && m.contains("--max-request-pixels"),
            "{m}"
        );
        let m = declared_pixels(&[b"hello".to_vec()], &limits)
            .unwrap_err()
            .message;
        assert!(m.contains("element 0"), "{m}");
    }
}
