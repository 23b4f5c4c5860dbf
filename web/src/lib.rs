//! The classifier page's wasm module: the engine on the browser's WebGPU behind a few
//! wasm-bindgen exports that the page's script (`web/main.js`) calls. Whatever waits on the
//! GPU returns a promise: nothing here blocks (the browser has no blocking waits).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use gpu_resnet::plan::RunTiming;
use gpu_resnet::{
    decode, labels, npy, open_model, BackendChoice, Classifier, ContextOptions, GpuContext,
    OpenOptions, Plan, WeightsSource,
};
use js_sys::{Array, Float32Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// The device and the model loaded on it (one at a time).
#[wasm_bindgen]
pub struct Engine {
    ctx: GpuContext,
    loaded: RefCell<Option<Rc<Loaded>>>,
}

/// A model on the GPU with its image preprocessing, and the plans `infer` compiled for it.
struct Loaded {
    classifier: Classifier,
    plans: RefCell<HashMap<(usize, usize, usize), Rc<Plan>>>,
}

fn js_error(e: gpu_resnet::Error) -> JsValue {
    JsError::new(&e.to_string()).into()
}

fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a plain object we just made cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), &value.into());
}

/// `gpuMs`: the pass's GPU time from timestamp queries, or null where the browser has none.
fn set_timing(object: &Object, timing: &RunTiming) {
    set(
        object,
        "gpuMs",
        timing.gpu_ms.map_or(JsValue::NULL, JsValue::from),
    );
}

#[wasm_bindgen]
impl Engine {
    /// The browser's WebGPU adapter and a device on it; rejects where there is no WebGPU.
    pub async fn create() -> Result<Engine, JsError> {
        let ctx = GpuContext::new_async(ContextOptions {
            backend: BackendChoice::Auto,
            adapter: None,
        })
        .await
        .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Engine {
            ctx,
            loaded: RefCell::new(None),
        })
    }

    /// The adapter, as `gpu-resnet adapters` describes one (WebGPU gives wgpu no name: the
    /// page adds the browser's own description).
    pub fn adapter(&self) -> String {
        self.ctx.describe().trim_start().to_string()
    }

    /// Whether runs report GPU time (the browser exposes timestamp queries).
    #[wasm_bindgen(js_name = hasGpuTimer)]
    pub fn has_gpu_timer(&self) -> bool {
        self.ctx.has(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// The model names the engine knows (for the page's model select).
    pub fn models() -> Vec<String> {
        gpu_resnet::arch::model_names()
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// Read a model's weights from `files` (one weights file, or a Paddle inference model's
    /// files) named `names`, upload them (FP32), and make it the current model. `model` names
    /// the architecture; `undefined` leaves it to the engine to recognise. Returns a one-line
    /// description.
    pub fn load(
        &self,
        names: Vec<String>,
        files: Vec<Uint8Array>,
        model: Option<String>,
    ) -> Result<String, JsError> {
        let mut files: Vec<(String, Vec<u8>)> = names
            .into_iter()
            .zip(files.iter().map(Uint8Array::to_vec))
            .collect();
        let source = match files.len() {
            0 => return Err(JsError::new("no weights file was given")),
            1 => {
                let (name, bytes) = files.remove(0);
                WeightsSource::Bytes { name, bytes }
            }
            _ => WeightsSource::Files(files),
        };
        let options = OpenOptions {
            model,
            ..OpenOptions::default()
        };
        // Free the previous model's GPU memory before uploading the next.
        self.loaded.replace(None);
        let opened = open_model(&self.ctx, &source, &options).map_err(to_js_error)?;
        let description = format!(
            "{} from {} ({}, {:.1} MB on the GPU)",
            opened.spec.name,
            source.describe(),
            opened.model.storage.name(),
            opened.model.weight_bytes as f64 / 1e6
        );
        let (_, classifier) = opened.into_classifier().map_err(to_js_error)?;
        self.loaded.replace(Some(Rc::new(Loaded {
            classifier,
            plans: RefCell::new(HashMap::new()),
        })));
        Ok(description)
    }

    /// Run the current model on a normalised NCHW float32 batch given as `.npy` bytes;
    /// resolves to `{shape: [batch, classes], logits: Float32Array, gpuMs}`.
    pub fn infer(&self, npy_bytes: Vec<u8>) -> Promise {
        let loaded = self.loaded.borrow().clone();
        future_to_promise(async move {
            let loaded = loaded.ok_or_else(no_model)?;
            let input = npy::parse_npy_f32(&npy_bytes, Path::new("input.npy")).map_err(js_error)?;
            let [batch, 3, h, w] = input.shape[..] else {
                return Err(JsError::new(&format!(
                    "input.npy has shape {:?}; an NCHW batch [N, 3, H, W] is needed",
                    input.shape
                ))
                .into());
            };
            let plan = loaded.plan(batch, h, w).map_err(js_error)?;
            let (logits, timing) = plan.run_async(&input.data).await.map_err(js_error)?;
            let out = Object::new();
            let shape = Array::of2(&(batch as u32).into(), &(plan.classes as u32).into());
            set(&out, "shape", shape);
            set(&out, "logits", Float32Array::from(&logits[..]));
            set_timing(&out, &timing);
            Ok(out.into())
        })
    }

    /// Decode an encoded image (`name` names it in errors) and classify it with the current
    /// model; resolves to `{top: [{classId, label, score}], gpuMs}`, the `k` most probable
    /// classes first.
    pub fn classify(&self, image_bytes: Vec<u8>, name: String, k: usize) -> Promise {
        let loaded = self.loaded.borrow().clone();
        future_to_promise(async move {
            let loaded = loaded.ok_or_else(no_model)?;
            let image = decode::decode_bytes(&image_bytes, Path::new(&name)).map_err(js_error)?;
            let classifier = &loaded.classifier;
            classifier.check_image(&image).map_err(js_error)?;
            let (logits, timing) = classifier.logits_async(&[&image]).await.map_err(js_error)?;
            let classes = classifier.model().classes;
            let top = Array::new();
            for p in gpu_resnet::classify::top_k(&gpu_resnet::classify::softmax(&logits[0]), k) {
                let entry = Object::new();
                set(&entry, "classId", p.class_id as u32);
                set(&entry, "label", labels::label(p.class_id, classes));
                set(&entry, "score", p.score);
                top.push(&entry);
            }
            let out = Object::new();
            set(&out, "top", top);
            set_timing(&out, &timing);
            Ok(out.into())
        })
    }
}

fn to_js_error(e: gpu_resnet::Error) -> JsError {
    JsError::new(&e.to_string())
}

fn no_model() -> JsValue {
    JsError::new("no model is loaded: choose a weights file first").into()
}

impl Loaded {
    /// The plan for `batch` images of `h` x `w`, compiled on first use.
    fn plan(&self, batch: usize, h: usize, w: usize) -> gpu_resnet::Result<Rc<Plan>> {
        let mut plans = self.plans.borrow_mut();
        if let Some(plan) = plans.get(&(batch, h, w)) {
            return Ok(plan.clone());
        }
        let plan = Rc::new(self.classifier.model().plan(batch, h, w)?);
        plans.insert((batch, h, w), plan.clone());
        Ok(plan)
    }
}
