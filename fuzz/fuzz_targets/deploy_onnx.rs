//! The ONNX reader (protobuf, initializers) and the structure matcher on what it read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use gpu_resnet::weights::deploy;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = deploy::onnx::parse_onnx(data, "fuzz") {
        let _ = deploy::match_program(&p, None);
    }
});
