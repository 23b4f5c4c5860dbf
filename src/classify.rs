//! Classifying decoded images: each batch is preprocessed on the GPU straight into a plan's
//! input buffer and run in the same submit; softmax and top-k on the host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use image::RgbaImage;

use crate::error::{Error, Result};
use crate::kernels::preprocess::ImagePreprocessor;
use crate::model::Model;
use crate::plan::Plan;
use crate::preprocess::{PreprocessConfig, Sampling};

/// One of an image's top classes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    pub class_id: usize,
    /// Softmax probability.
    pub score: f32,
}

/// A model with its preprocessing, and one compiled plan per batch size used so far.
pub struct Classifier {
    model: Model,
    preprocessor: ImagePreprocessor,
    plans: Mutex<HashMap<usize, Arc<Plan>>>,
}

impl Classifier {
    pub fn new(model: Model, config: PreprocessConfig) -> Result<Self> {
        let preprocessor = ImagePreprocessor::new(&model.ctx, &model.pipelines, config)?;
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
        if images.is_empty() {
            return Ok(Vec::new());
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
        let (logits, _) =
            plan.run_prepared(|encoder, _| self.preprocessor.record(encoder, &prepared))?;
        Ok(logits.chunks(plan.classes).map(<[f32]>::to_vec).collect())
    }

    /// The `k` most probable classes per image, most probable first.
    pub fn classify(&self, images: &[&RgbaImage], k: usize) -> Result<Vec<Vec<Prediction>>> {
        Ok(self
            .logits(images)?
            .iter()
            .map(|l| top_k(&softmax(l), k))
            .collect())
    }
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
