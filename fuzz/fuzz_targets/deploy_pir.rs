//! The PIR JSON reader, then the structure matcher on what it read (no parameters).
#![no_main]

use libfuzzer_sys::fuzz_target;
use gpu_resnet::weights::deploy::{self, pir};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = pir::parse_pir(data, "fuzz") {
        let program = deploy::Program {
            format: p.format,
            source: "fuzz".into(),
            input_name: p.input_name,
            input_shape: p.input_shape,
            output: p.output,
            ops: p.ops,
            params: Default::default(),
        };
        let _ = deploy::match_program(&program, None);
    }
});
