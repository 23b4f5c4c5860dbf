//! What both serve targets run after their transport's decoding: the input checks against a
//! 2x2, 3-class model and the image headers against a small pixel budget.

use gpu_resnet::app::serve::checked::RequestLimits;
use gpu_resnet::app::serve::outputs;
use gpu_resnet::app::serve::protocol::{self, InferCall, InputSpec, Payload};

pub fn decode_call(call: InferCall, allow_non_finite: bool) {
    let spec = InputSpec {
        tensor_name: protocol::TENSOR_INPUT.into(),
        height: 2,
        width: 2,
        classes: 3,
    };
    let limits = RequestLimits {
        max_images: 4,
        max_pixels: 1 << 16,
    };
    let _ = outputs::check_outputs(&call.outputs);
    if let Ok(Payload::Encoded(files)) =
        protocol::decode_inputs(call.inputs, &spec, &limits, allow_non_finite)
    {
        let _ = gpu_resnet::app::serve::images::declared_pixels(&files, &limits);
    }
}
