//! A model opened for callers that bring tensors of any batch and size, or encoded images, from
//! any thread: the Python package and the C API. It opens through [`open_model`] like every
//! other front end, on a device context shared by the whole process.
//!
//! One plan per (batch, height, width) is compiled on first use and kept (the most recent
//! [`MAX_PLANS`]); a plan runs one batch at a time, so a thread waits for its plan while another
//! runs it, and threads with different shapes run side by side.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use image::RgbaImage;

use crate::arch::ModelSpec;
use crate::classify::{Classifier, Prediction};
use crate::error::{Error, Result};
use crate::gpu::{BackendChoice, ContextOptions, GpuContext};
use crate::open::{open_model, OpenOptions, WeightsSource};
use crate::plan::Plan;
use crate::preprocess::PreprocessConfig;

/// The engine's version, for front ends that report it (`gpu_resnet.__version__`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Plans kept per session: each holds its activation arena, so an unbounded cache would grow
/// with every new shape a caller tries.
pub const MAX_PLANS: usize = 8;
/// Images per GPU run in [`Session::classify`] (what `gpu-resnet predict` uses by default).
pub const CLASSIFY_BATCH: usize = 8;

/// The process's device contexts, one per (backend, adapter) and the process that made it: a
/// device made before `fork()` is unusable in the child.
struct SharedContext {
    backend: BackendChoice,
    adapter: Option<usize>,
    pid: u32,
    ctx: GpuContext,
}

fn contexts() -> &'static Mutex<Vec<SharedContext>> {
    static CONTEXTS: OnceLock<Mutex<Vec<SharedContext>>> = OnceLock::new();
    CONTEXTS.get_or_init(|| Mutex::new(Vec::new()))
}

/// The device context for `opts` shared by every session of this process: made on first use,
/// made again after its device was lost.
pub fn shared_context(opts: ContextOptions) -> Result<GpuContext> {
    let mut all = contexts().lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    all.retain(|c| c.pid == pid && c.ctx.ensure_alive().is_ok());
    if let Some(c) = all
        .iter()
        .find(|c| c.backend == opts.backend && c.adapter == opts.adapter)
    {
        return Ok(c.ctx.clone());
    }
    let ctx = GpuContext::new(opts)?;
    all.push(SharedContext {
        backend: opts.backend,
        adapter: opts.adapter,
        pid,
        ctx: ctx.clone(),
    });
    Ok(ctx)
}

/// How to open a session: the weights' options and the device.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    pub open: OpenOptions,
    pub device: ContextOptions,
}

struct CachedPlan {
    plan: Arc<Mutex<Plan>>,
    last_used: u64,
}

#[derive(Default)]
struct PlanCache {
    plans: HashMap<(usize, usize, usize), CachedPlan>,
    clock: u64,
}

/// An opened model, callable from several threads at once.
pub struct Session {
    spec: ModelSpec,
    classifier: Classifier,
    labels: Option<Vec<String>>,
    input_name: String,
    summary: String,
    /// The process that opened it: a forked child gets an error, not a hang.
    pid: u32,
    plans: Mutex<PlanCache>,
    /// Image batches share the classifier's per-batch plans: one at a time.
    classifying: Mutex<()>,
}

impl Session {
    /// Open `source` on the process's shared context for `options.device`.
    pub fn open(source: &WeightsSource, options: &SessionOptions) -> Result<Session> {
        let ctx = shared_context(options.device)?;
        Session::open_on(&ctx, source, &options.open)
    }

    /// Open `source` on `ctx`.
    pub fn open_on(
        ctx: &GpuContext,
        source: &WeightsSource,
        options: &OpenOptions,
    ) -> Result<Session> {
        let opened = open_model(ctx, source, options)?;
        let labels = opened.labels.clone();
        let input_name = opened.input_name.clone();
        let summary = opened.summary.clone();
        let (spec, classifier) = opened.into_classifier()?;
        Ok(Session {
            spec,
            classifier,
            labels,
            input_name,
            summary,
            pid: std::process::id(),
            plans: Mutex::new(PlanCache::default()),
            classifying: Mutex::new(()),
        })
    }

    /// The release's name, e.g. `ResNet50_vd`.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    pub fn classes(&self) -> usize {
        self.classifier.model().classes
    }

    /// The input's name in the model file (`x` for PaddleClas exports and checkpoints).
    pub fn input_name(&self) -> &str {
        &self.input_name
    }

    /// The input size images are cropped to (224, or what the file declares).
    pub fn input_size(&self) -> u32 {
        self.classifier.config().crop
    }

    /// `fp32`, `fp16`, `fp16-packed`: the storage the model runs in.
    pub fn precision(&self) -> &'static str {
        self.classifier.model().storage.name()
    }

    /// The adapter it runs on, as `gpu-resnet adapters` names it.
    pub fn adapter(&self) -> String {
        self.classifier.model().ctx.describe()
    }

    /// Class names from the model's inference.yml, when it has one per class.
    pub fn labels(&self) -> Option<&[String]> {
        self.labels.as_deref()
    }

    /// The name of class `class_id`: inference.yml's, else ImageNet's for 1000 classes, else
    /// `class_<id>`.
    pub fn label(&self, class_id: usize) -> String {
        match &self.labels {
            Some(l) if class_id < l.len() => l[class_id].clone(),
            _ => crate::labels::label(class_id, self.classes()),
        }
    }

    /// `ResNet101_vd (102 classes, input x [N,3,224,224])`.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    pub fn preprocess(&self) -> &PreprocessConfig {
        self.classifier.config()
    }

    fn check_process(&self) -> Result<()> {
        if std::process::id() != self.pid {
            return Err(Error::DeviceLost {
                adapter: self.adapter(),
                reason: "this process was forked after the model was opened, and a GPU device \
                         does not survive fork(); open the model in the child process"
                    .into(),
            });
        }
        Ok(())
    }

    /// The number of floats of an NCHW `[n, 3, h, w]` batch, checked.
    pub fn input_len(n: usize, h: usize, w: usize) -> Result<usize> {
        if n == 0 || h == 0 || w == 0 {
            return Err(Error::Input(format!(
                "input shape [{n}, 3, {h}, {w}]: batch, height and width must be at least 1"
            )));
        }
        n.checked_mul(3)
            .and_then(|v| v.checked_mul(h))
            .and_then(|v| v.checked_mul(w))
            .ok_or_else(|| {
                Error::Input(format!(
                    "input shape [{n}, 3, {h}, {w}]: its element count overflows"
                ))
            })
    }

    /// The compiled plan for `[n, 3, h, w]`, from the cache or compiled now.
    fn plan(&self, n: usize, h: usize, w: usize) -> Result<Arc<Mutex<Plan>>> {
        let mut cache = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        cache.clock += 1;
        let now = cache.clock;
        if let Some(c) = cache.plans.get_mut(&(n, h, w)) {
            c.last_used = now;
            return Ok(c.plan.clone());
        }
        let plan = Arc::new(Mutex::new(self.classifier.model().plan(n, h, w)?));
        if cache.plans.len() >= MAX_PLANS {
            if let Some(oldest) = cache
                .plans
                .iter()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(k, _)| *k)
            {
                cache.plans.remove(&oldest);
            }
        }
        cache.plans.insert(
            (n, h, w),
            CachedPlan {
                plan: plan.clone(),
                last_used: now,
            },
        );
        Ok(plan)
    }

    /// Logits `[n * classes]` of a normalised float32 NCHW batch `[n, 3, h, w]`: the plan
    /// `gpu-resnet infer` runs, so the same bits. NaN/Inf in the input or the logits is an
    /// error.
    pub fn run(&self, input_nchw: &[f32], n: usize, h: usize, w: usize) -> Result<Vec<f32>> {
        self.check_process()?;
        let len = Session::input_len(n, h, w)?;
        if input_nchw.len() != len {
            return Err(Error::Input(format!(
                "input has {} values; shape [{n}, 3, {h}, {w}] needs {len}",
                input_nchw.len()
            )));
        }
        // The plan refuses NaN/Inf in the input and in the logits itself (`check_finite`).
        let plan = self.plan(n, h, w)?;
        let plan = plan.lock().unwrap_or_else(|e| e.into_inner());
        plan.run(input_nchw)
    }

    /// Check that `image` can be classified on this device (size, binding limits).
    pub fn check_image(&self, image: &RgbaImage) -> Result<()> {
        self.classifier.check_image(image)
    }

    /// The `k` most probable classes of each image, most probable first: the model's
    /// preprocessing on the GPU, [`CLASSIFY_BATCH`] images per run, as `gpu-resnet predict`.
    pub fn classify(&self, images: &[RgbaImage], k: usize) -> Result<Vec<Vec<Prediction>>> {
        self.check_process()?;
        if k == 0 {
            return Err(Error::Input("top-k must be at least 1".into()));
        }
        for image in images {
            self.check_image(image)?;
        }
        let _one_at_a_time = self.classifying.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(CLASSIFY_BATCH) {
            let refs: Vec<&RgbaImage> = chunk.iter().collect();
            // `Classifier::classify` refuses NaN/Inf logits.
            out.extend(self.classifier.classify(&refs, k)?);
        }
        Ok(out)
    }

    /// Decode an encoded image (jpeg, png, bmp, webp, gif, tiff) held in memory; `name` names
    /// it in errors.
    pub fn decode(bytes: &[u8], name: &str) -> Result<RgbaImage> {
        crate::decode::decode_bytes(bytes, Path::new(name))
    }

    /// An RGBA8 image from tightly packed HxWx3 RGB bytes.
    pub fn rgb_image(rgb: &[u8], height: usize, width: usize) -> Result<RgbaImage> {
        // At most MAX_PIXELS (2^26), so each side fits a u32.
        let pixels = height
            .checked_mul(width)
            .filter(|&p| p > 0 && p as u64 <= crate::decode::MAX_PIXELS);
        let pixels = pixels.ok_or_else(|| {
            Error::Input(format!(
                "image of {height}x{width} pixels: expected 1 to {} pixels",
                crate::decode::MAX_PIXELS
            ))
        })?;
        if rgb.len() != pixels * 3 {
            return Err(Error::Input(format!(
                "image of {height}x{width}x3 needs {} bytes, got {}",
                pixels * 3,
                rgb.len()
            )));
        }
        let mut rgba = Vec::with_capacity(pixels * 4);
        for p in rgb.chunks_exact(3) {
            rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
        }
        RgbaImage::from_raw(width as u32, height as u32, rgba)
            .ok_or_else(|| Error::Internal("RGBA image buffer of the wrong size".into()))
    }
}
