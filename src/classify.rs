//! Classifying decoded images: each batch is preprocessed on the GPU straight into a plan's
//! input buffer and run in the same submit; softmax and top-k on the host. A renderer's texture
//! is classified the same way, sampled where it lies, without waiting for the result
//! (`classify_texture`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use image::RgbaImage;

use crate::error::{Error, Result};
use crate::kernels::preprocess::ImagePreprocessor;
use crate::model::Model;
use crate::plan::{PendingRun, Plan, RunTiming};
use crate::preprocess::{PreprocessConfig, Sampling};

/// One of an image's top classes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    pub class_id: usize,
    /// Softmax probability.
    pub score: f32,
}

/// The classification of one texture.
#[derive(Clone, Debug)]
pub struct TextureClassification {
    /// The `k` most probable classes, most probable first.
    pub top: Vec<Prediction>,
    /// The raw logits `[classes]`.
    pub logits: Vec<f32>,
    /// GPU time of the pass (preprocessing + network) in ms, where the adapter has timestamps.
    pub gpu_ms: Option<f64>,
}

/// A texture classification on its way (`Classifier::classify_texture`): poll it from the
/// render loop with `try_take`, or block with `wait`.
pub struct PendingClassification {
    run: PendingRun,
    /// The plan that ran, to check the logits as its own runs do.
    plan: Arc<Plan>,
    k: usize,
}

impl PendingClassification {
    /// `None` until the logits' read-back is mapped (polls the device once, never blocks);
    /// then the result, once.
    pub fn try_take(&mut self) -> Option<Result<TextureClassification>> {
        let (k, plan) = (self.k, &self.plan);
        self.run.try_take().map(|r| {
            let (logits, timing) = plan.checked(r?)?;
            Ok(classification(logits, timing.gpu_ms, k))
        })
    }

    /// Block until the result is back.
    pub fn wait(self) -> Result<TextureClassification> {
        let (logits, timing) = self.plan.checked(self.run.wait()?)?;
        Ok(classification(logits, timing.gpu_ms, self.k))
    }
}

fn classification(logits: Vec<f32>, gpu_ms: Option<f64>, k: usize) -> TextureClassification {
    TextureClassification {
        top: top_k(&softmax(&logits), k),
        logits,
        gpu_ms,
    }
}

/// A model with its preprocessing, and one compiled plan per batch size used so far.
pub struct Classifier {
    model: Model,
    preprocessor: ImagePreprocessor,
    plans: Mutex<HashMap<usize, Arc<Plan>>>,
}

impl Classifier {
    pub fn new(model: Model, config: PreprocessConfig) -> Result<Self> {
        let preprocessor = ImagePreprocessor::new(&model.ctx, &model.ctx.pipelines, config)?;
        Ok(Classifier {
            model,
            preprocessor,
            plans: Mutex::new(HashMap::new()),
        })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn config(&self) -> &PreprocessConfig {
        &self.preprocessor.config
    }

    /// The plan for `batch` images, compiled on first use.
    pub fn plan(&self, batch: usize) -> Result<Arc<Plan>> {
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = plans.get(&batch) {
            return Ok(p.clone());
        }
        let crop = self.config().crop as usize;
        let plan = Arc::new(self.model.plan(batch, crop, crop)?);
        plans.insert(batch, plan.clone());
        Ok(plan)
    }

    /// Whether `image` can be classified on this device (its upload fits one binding, its
    /// resized short side covers the crop): check before batching so one image cannot fail
    /// the others.
    pub fn check_image(&self, image: &RgbaImage) -> Result<()> {
        let (w, h) = image.dimensions();
        self.preprocessor.check_fits(&self.model.ctx, w, h)?;
        Sampling::resize_short_center_crop(w, h, self.config()).map(|_| ())
    }

    /// Logits `[classes]` per image, in order: one plan run (one submit) for all of them.
    pub fn logits(&self, images: &[&RgbaImage]) -> Result<Vec<Vec<f32>>> {
        match self.submit_images(images)? {
            None => Ok(Vec::new()),
            Some((run, plan)) => {
                let (logits, _) = plan.checked(run.wait()?)?;
                Ok(split_logits(logits, plan.classes))
            }
        }
    }

    /// `logits` without blocking: awaits the read-back (the browser's way); also gives the
    /// run's GPU timings where the adapter has timestamp queries.
    pub async fn logits_async(&self, images: &[&RgbaImage]) -> Result<(Vec<Vec<f32>>, RunTiming)> {
        match self.submit_images(images)? {
            None => Ok((Vec::new(), RunTiming::default())),
            Some((run, plan)) => {
                let (logits, timing) = plan.checked(run.wait_async().await?)?;
                Ok((split_logits(logits, plan.classes), timing))
            }
        }
    }

    /// Upload `images` and submit their preprocessing and the plan's pass (one submit); `None`
    /// for no images. Also gives the plan, whose checks the result must pass.
    fn submit_images(&self, images: &[&RgbaImage]) -> Result<Option<(PendingRun, Arc<Plan>)>> {
        if images.is_empty() {
            return Ok(None);
        }
        if self.model.classes == 0 {
            return Err(Error::Input("the model's head has no classes".into()));
        }
        let plan = self.plan(images.len())?;
        let ctx = &self.model.ctx;
        let prepared = ctx.scoped("image upload", || {
            images
                .iter()
                .enumerate()
                .map(|(i, img)| self.preprocessor.prepare(ctx, img, plan.input_buffer(), i))
                .collect::<Result<Vec<_>>>()
        })?;
        let run = plan.submit_with(
            |encoder, _| self.preprocessor.record(encoder, &prepared),
            |_, _| {},
        )?;
        Ok(Some((run, plan)))
    }

    /// Classify `texture`, a texture on this classifier's device (`GpuContext::from_device` for
    /// a renderer's), without copying it and without waiting: its mip 0 is resized, cropped and
    /// normalised by a kernel that samples it, in the same pass and submit as the network
    /// (batch-1 plan). Formats: rgba8unorm, bgra8unorm, their -srgb forms (re-encoded to the
    /// 8-bit sRGB values PaddleClas normalises) and rgba16float (linear values: clamped to
    /// [0, 1], sRGB-encoded, rounded to 8 bits); any size whose resized short side covers the
    /// crop. It needs TEXTURE_BINDING usage. Only one classification is in flight at a time:
    /// take (or drop) the previous one first. The texture may be rendered to again once this
    /// returns: the GPU reads it in submission order.
    pub fn classify_texture(
        &self,
        texture: &wgpu::Texture,
        k: usize,
    ) -> Result<PendingClassification> {
        crate::kernels::preprocess::texel_decode(texture)?;
        if self.model.classes == 0 {
            return Err(Error::Input("the model's head has no classes".into()));
        }
        let plan = self.plan(1)?;
        if plan.in_flight() {
            return Err(Error::Input(
                "a texture classification is already in flight on this classifier; take its \
                 result (try_take or wait) or drop it before submitting another"
                    .into(),
            ));
        }
        let ctx = &self.model.ctx;
        let prepared = ctx.scoped("texture binding", || {
            self.preprocessor.prepare_texture(
                ctx,
                &self.model.ctx.pipelines,
                texture,
                plan.input_buffer(),
                0,
            )
        })?;
        let run = plan.submit_prepared(|pass, _| {
            self.preprocessor
                .record_in_pass(pass, std::slice::from_ref(&prepared))
        })?;
        Ok(PendingClassification { run, plan, k })
    }

    /// The `k` most probable classes per image, most probable first.
    pub fn classify(&self, images: &[&RgbaImage], k: usize) -> Result<Vec<Vec<Prediction>>> {
        Ok(top_k_each(&self.logits(images)?, k))
    }

    /// `classify` without blocking (the browser's way).
    pub async fn classify_async(
        &self,
        images: &[&RgbaImage],
        k: usize,
    ) -> Result<Vec<Vec<Prediction>>> {
        Ok(top_k_each(&self.logits_async(images).await?.0, k))
    }
}

fn split_logits(logits: Vec<f32>, classes: usize) -> Vec<Vec<f32>> {
    logits.chunks(classes).map(<[f32]>::to_vec).collect()
}

fn top_k_each(logits: &[Vec<f32>], k: usize) -> Vec<Vec<Prediction>> {
    logits.iter().map(|l| top_k(&softmax(l), k)).collect()
}

/// Softmax with the max subtracted, accumulated in f64.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let exps: Vec<f64> = logits.iter().map(|&l| (l as f64 - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|&e| (e / sum) as f32).collect()
}

/// The `k` largest scores, largest first (ties: the lower class id first).
pub fn top_k(scores: &[f32], k: usize) -> Vec<Prediction> {
    let mut ids: Vec<usize> = (0..scores.len()).collect();
    ids.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    ids.into_iter()
        .take(k)
        .map(|class_id| Prediction {
            class_id,
            score: scores[class_id],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_top_k() {
        let p = softmax(&[1.0, 3.0, 2.0, 3.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let top: Vec<usize> = top_k(&p, 3).iter().map(|t| t.class_id).collect();
        assert_eq!(top, [1, 3, 2]);
        assert_eq!(top_k(&p, 10).len(), 4);
        // Large logits do not overflow.
        assert!(softmax(&[1000.0, 0.0])[0] > 0.999);
    }
}
