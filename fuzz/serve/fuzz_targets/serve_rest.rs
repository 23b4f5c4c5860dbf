//! A REST inference request: `#<header value>\n` first (the Inference-Header-Content-Length
//! header, any bytes) or no header, then the body (JSON head and binary tail); then the checks
//! every input goes through before it is queued.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.strip_prefix(b"#") {
        Some(rest) => match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        },
        None => (None, data),
    };
    if let Ok(r) = gpu_resnet::app::serve::rest_request::parse_request(header, body) {
        common::decode_call(r.call, r.allow_non_finite);
    }
});
