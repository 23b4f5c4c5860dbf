//! Weights mapping: the first byte picks an architecture, the rest is a weights file; it is
//! read, then checked and mapped onto the architecture (name schemes, shapes, values).
#![no_main]

use gpu_resnet::arch::ARCHS;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let arch = &ARCHS[pick as usize % ARCHS.len()];
    if let Ok(tensors) = gpu_resnet::weights::parse_tensors(file, std::path::Path::new("fuzz")) {
        let _ = gpu_resnet::weights::map_weights(&tensors, arch, "fuzz");
    }
});
