//! A gRPC `ModelInferRequest` as the server decodes it: the wire walk, prost, the conversion to
//! a call, then the checks every input goes through before it is queued.
#![no_main]

use gpu_resnet::app::serve::grpc_messages::ModelInferRequest;
use gpu_resnet::app::serve::grpc_request::{check_wire, infer_call};
use libfuzzer_sys::fuzz_target;
use prost::Message;

mod common;

fuzz_target!(|data: &[u8]| {
    if check_wire(data).is_err() {
        return;
    }
    if let Ok(r) = ModelInferRequest::decode(data) {
        if let Ok(c) = infer_call(r) {
            common::decode_call(c.call, c.allow_non_finite);
        }
    }
});
