//! Server and model metadata, shared by REST (JSON) and gRPC.

use serde_json::{json, Value};

use super::models::{ServedModel, VERSION};
use super::protocol::{IMAGE_INPUT, LOGITS_OUTPUT, PROBABILITIES_OUTPUT};

pub const SERVER_NAME: &str = "gpu-resnet";
/// The protocol extensions this server implements.
pub const EXTENSIONS: [&str; 2] = ["binary_tensor_data", "classification"];
pub const PLATFORM: &str = "gpu-resnet_wgpu";

/// A tensor as metadata lists it: name, datatype, shape (-1: any batch).
pub struct TensorMeta {
    pub name: String,
    pub datatype: &'static str,
    pub shape: Vec<i64>,
}

/// Inputs (one of the two per request) and outputs of `model`.
pub fn tensors(model: &ServedModel) -> (Vec<TensorMeta>, Vec<TensorMeta>) {
    let s = &model.input;
    let inputs = vec![
        TensorMeta {
            name: s.tensor_name.clone(),
            datatype: "FP32",
            shape: vec![-1, 3, s.height as i64, s.width as i64],
        },
        TensorMeta {
            name: IMAGE_INPUT.into(),
            datatype: "BYTES",
            shape: vec![-1],
        },
    ];
    let outputs = [LOGITS_OUTPUT, PROBABILITIES_OUTPUT]
        .map(|name| TensorMeta {
            name: name.into(),
            datatype: "FP32",
            shape: vec![-1, s.classes as i64],
        })
        .into();
    (inputs, outputs)
}

pub fn server() -> Value {
    json!({
        "name": SERVER_NAME,
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": EXTENSIONS,
    })
}

pub fn model(model: &ServedModel) -> Value {
    let (inputs, outputs) = tensors(model);
    let list = |t: Vec<TensorMeta>| -> Vec<Value> {
        t.into_iter()
            .map(|t| json!({"name": t.name, "datatype": t.datatype, "shape": t.shape}))
            .collect()
    };
    json!({
        "name": model.name,
        "versions": [VERSION],
        "platform": PLATFORM,
        "inputs": list(inputs),
        "outputs": list(outputs),
        "parameters": {
            "architecture": model.arch_name,
            "recognised": model.summary,
            "labels": if model.labels.is_some() { "inference.yml" } else { "built-in" },
            "batch_sizes": model.batches,
            "max_batch_size": model.largest_batch(),
            "max_queue": model.queue.max_requests(),
            "precision": model.precision,
            "image_resize_short": model.preprocess.resize_short,
            "image_crop": model.preprocess.crop,
        },
    })
}
