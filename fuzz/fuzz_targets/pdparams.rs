//! The `.pdparams` pickle reader on arbitrary bytes: an error is fine, a panic, a hang or an
//! allocation beyond libFuzzer's `-malloc_limit_mb` is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gpu_resnet::weights::pdparams::parse_pdparams(data, std::path::Path::new("fuzz"));
});
