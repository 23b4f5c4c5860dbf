//! The `inference.yml` reader: the alias-expansion budget, yaml-rust2's parser and loader, then
//! the preprocessing and label checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use gpu_resnet::weights::inference_yml::parse_inference_yml;

fuzz_target!(|data: &[u8]| {
    let _ = parse_inference_yml(data, "fuzz.yml");
});
