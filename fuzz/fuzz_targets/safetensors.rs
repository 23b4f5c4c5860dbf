//! The weights-file path as `load_weights` takes it (format sniffing, then the safetensors
//! reader or the pickle reader) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gpu_resnet::weights::parse_tensors(data, std::path::Path::new("fuzz"));
});
