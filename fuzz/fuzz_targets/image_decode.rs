//! Image decoding (jpeg, png, bmp, webp, gif, tiff) and the CPU preprocessing of what decodes.
//! `decode_bytes` catches decoder panics for its callers, but libfuzzer-sys's panic hook aborts
//! first, so a panic anywhere is still found.
#![no_main]

use gpu_resnet::preprocess::{preprocess, PreprocessConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = gpu_resnet::decode::decode_bytes(data, std::path::Path::new("fuzz")) {
        let _ = preprocess(&image, &PreprocessConfig::imagenet(256, 224));
    }
});
