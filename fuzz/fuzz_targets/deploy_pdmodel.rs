//! The ProgramDesc protobuf reader, then the structure matcher on what it read (no parameters,
//! so matching ends in an error at the first weight): errors are fine, panics and hangs are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use gpu_resnet::weights::deploy::{self, pdmodel};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = pdmodel::parse_pdmodel(data, "fuzz") {
        let _ = deploy::read_paddle(p.format, data, "fuzz", &[][..], 0, "fuzz.pdiparams");
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
