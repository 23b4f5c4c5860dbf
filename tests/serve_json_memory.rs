//! What decoding a REST request's JSON `data` costs in memory, counted by this test binary's
//! own allocator: the peak heap above the body itself, as a multiple of the body. A
//! `serde_json::Value` tree costs 32 bytes and more per element, 16x a `[0,0,...]` body and
//! more with the copy it was cloned into; the typed decoding keeps the text once and the f32s.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use gpu_resnet::app::serve::checked::RequestLimits;
use gpu_resnet::app::serve::protocol::{decode_inputs, InputSpec, Payload};
use gpu_resnet::app::serve::rest_request::parse_request;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap above what was live before `f`, in bytes (the test is the binary's only test, so
/// no other thread allocates meanwhile).
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let out = f();
    (out, PEAK.load(Relaxed) - before)
}

#[test]
fn json_data_costs_a_small_multiple_of_the_body() {
    // 64x64 images, 8 rows: 98304 zeros, 2 bytes each ("0,"), nested as clients send them.
    let (rows, size) = (8usize, 64usize);
    let row = format!("[{}]", vec!["0"; 3 * size * size].join(","));
    let data = format!("[{}]", vec![row; rows].join(","));
    let body = format!(
        r#"{{"inputs":[{{"name":"x","datatype":"FP32","shape":[{rows},3,{size},{size}],"data":{data}}}]}}"#
    );
    let spec = InputSpec {
        tensor_name: "x".into(),
        height: size,
        width: size,
        classes: 1000,
    };
    let (payload, peak) = peak_of(|| {
        let call = parse_request(None, body.as_bytes()).expect("a valid request");
        decode_inputs(call.call.inputs, &spec, &RequestLimits::default(), false)
            .expect("a valid tensor")
    });
    let Payload::Tensor(values) = payload else {
        panic!("a tensor request decoded as images")
    };
    assert_eq!(values.len(), rows * 3 * size * size);
    // The text once (1x) and 4 bytes per 2-byte element (2x), reserved from the text's length.
    let ratio = peak as f64 / body.len() as f64;
    eprintln!("{}-byte body: peak {peak} bytes ({ratio:.2}x)", body.len());
    let (_, value_peak) = peak_of(|| serde_json::from_str::<serde_json::Value>(&body).unwrap());
    eprintln!(
        "for scale, a serde_json::Value of it: {value_peak} bytes ({:.1}x)",
        value_peak as f64 / body.len() as f64
    );
    assert!(
        ratio <= 3.5,
        "decoding a {}-byte body peaked at {peak} bytes ({ratio:.1}x)",
        body.len()
    );
    // The same elements past the shape's count are refused, not collected.
    let over = body.replace(&format!("[{rows},3,"), &format!("[{},3,", rows - 1));
    let call = parse_request(None, over.as_bytes()).expect("a valid request");
    let err = decode_inputs(call.call.inputs, &spec, &RequestLimits::default(), false)
        .err()
        .expect("more data than the shape needs");
    assert!(err.message.contains("more than the"), "{}", err.message);
}
