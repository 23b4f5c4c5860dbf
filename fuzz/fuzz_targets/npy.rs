//! The `.npy` reader (inputs of `gpu-resnet infer`, golden logits) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gpu_resnet::npy::parse_npy_f32(data, std::path::Path::new("fuzz"));
});
