//! The `.pdiparams` stream reader against a fixed list of declared variables (the shapes a
//! small program would declare): errors are fine, panics and big allocations are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use gpu_resnet::weights::deploy::pdiparams::{read_pdiparams, ParamDecl};

fuzz_target!(|data: &[u8]| {
    let decls = [
        ParamDecl { name: "a".into(), dims: vec![2, 3] },
        ParamDecl { name: "b".into(), dims: vec![4] },
        ParamDecl { name: "c".into(), dims: vec![1, 2, 1, 1] },
    ];
    let _ = read_pdiparams(data, data.len() as u64, &decls, "fuzz");
});
