//! Sizes a client sends (shapes, element and byte counts, image counts and pixels), checked with
//! checked arithmetic before anything is allocated from them. Nothing in the server reserves
//! memory from a client's number: buffers grow with the data actually received, and the number
//! is then compared with what arrived.

use super::api_error::ApiError;

/// What one request may ask of the server beyond its body size (`--max-body`).
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Encoded images in one request (`--max-images`).
    pub max_images: usize,
    /// Pixels of all of a request's images together, read from their headers before any is
    /// decoded (`--max-request-pixels`).
    pub max_pixels: u64,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_images: 64,
            max_pixels: 1 << 26,
        }
    }
}

/// Most dimensions a shape may have (a tensor input has 4, an image input 1 or 2).
pub const MAX_DIMS: usize = 8;

pub fn shape_text(shape: &[i64]) -> String {
    let dims: Vec<String> = shape.iter().map(i64::to_string).collect();
    format!("[{}]", dims.join(", "))
}

/// The element count of `shape`: every dimension non-negative, the product without overflow.
pub fn element_count(name: &str, shape: &[i64]) -> Result<usize, ApiError> {
    if shape.len() > MAX_DIMS {
        return Err(ApiError::bad(format!(
            "input `{name}`: shape has {} dimensions, more than {MAX_DIMS}",
            shape.len()
        )));
    }
    shape.iter().try_fold(1usize, |count, &d| {
        let d = usize::try_from(d).map_err(|_| {
            ApiError::bad(format!(
                "input `{name}`: shape {} has a negative dimension",
                shape_text(shape)
            ))
        })?;
        count.checked_mul(d).ok_or_else(|| {
            ApiError::bad(format!(
                "input `{name}`: shape {} has more elements than this machine can count \
                 (the product overflows)",
                shape_text(shape)
            ))
        })
    })
}

/// `count` elements of `size` bytes, without overflow.
pub fn byte_size(name: &str, count: usize, size: usize) -> Result<usize, ApiError> {
    count.checked_mul(size).ok_or_else(|| {
        ApiError::bad(format!(
            "input `{name}`: {count} element(s) of {size} bytes overflow a byte count"
        ))
    })
}

/// A client's unsigned number as a `usize` (32-bit targets included), naming `field`.
pub fn to_usize(field: &str, value: u64) -> Result<usize, ApiError> {
    usize::try_from(value).map_err(|_| {
        ApiError::bad(format!(
            "{field} {value} is larger than this machine's sizes"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_never_wrap() {
        assert_eq!(element_count("x", &[2, 3, 4, 4]).unwrap(), 96);
        assert_eq!(element_count("x", &[0, 3, 4, 4]).unwrap(), 0);
        // 2^62 * 3 * 64 * 64 wraps to 0 in 64-bit arithmetic.
        let m = element_count("x", &[1 << 62, 3, 64, 64])
            .unwrap_err()
            .message;
        assert!(m.contains("overflows") && m.contains("`x`"), "{m}");
        let m = element_count("x", &[-1, 3, 64, 64]).unwrap_err().message;
        assert!(m.contains("negative"), "{m}");
        assert!(element_count("x", &[1; 9]).is_err());
        assert!(byte_size("x", usize::MAX / 2, 4).is_err());
        assert_eq!(byte_size("x", 3, 4).unwrap(), 12);
    }
}
