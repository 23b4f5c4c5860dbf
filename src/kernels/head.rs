//! Global average pool + FC: host side of `shaders/head.wgsl`, two dispatches (`pool` averages
//! every image's feature map once into scratch, `fc` computes NB images' logits per weight
//! load).

use super::{DispatchEnv, OpDispatch, Resource, Specialization, Storage};
use crate::arch::{TensorId, TensorShape};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/head.wgsl");
pub const WORKGROUP: u32 = 64;
/// Most images one `fc` invocation computes (its accumulators: NB vec4).
pub const MAX_IMAGES: usize = 8;
/// The scratch slot holding the pooled features (f32, `[batch][features/4]` vec4).
const POOLED_SLOT: u32 = 0;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct HeadParams {
    pub hw: u32,
    pub c4: u32,
    pub classes4: u32,
    pub classes: u32,
    pub bias_offset: u32,
    pub batch: u32,
    pub _pad: [u32; 2],
}

/// The head's two passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Average pool into scratch, of feature maps of `pixels` pixels. Its loop bound is a
    /// constant: Mesa 22.3's lavapipe specialises a shader on uniform values that bound its
    /// loops, and recompiled (and leaked ~250 KB) for this one on every submission.
    Pool { pixels: usize },
    /// The FC layer, `images` images per invocation.
    Fc { images: usize },
}

/// `features` channels enter the head.
pub fn specialization(storage: Storage, features: usize, stage: Stage) -> Specialization {
    let (entry, pool, images, pixels, read_buffers) = match stage {
        Stage::Pool { pixels } => ("pool", 1, 1, pixels, 1),
        Stage::Fc { images } => ("fc", 0, images, 0, 2),
    };
    let prelude = format!(
        "{}const FEAT_C4: u32 = {}u;\nconst NB: u32 = {images}u;\nconst HW: u32 = {pixels}u;\n",
        storage.prelude(),
        features.div_ceil(4),
    );
    let consts = [("POOL", pool), ("FC", 1 - pool), ("NB", images as u32)];
    let body = super::unroll(SOURCE, &consts).expect("head.wgsl's unroll blocks are well formed");
    Specialization::new("head", entry, &prelude, &body, read_buffers).with("WG", WORKGROUP as f64)
}

/// Images per `fc` invocation for `batch`: as many as fit, spread evenly over the fewest
/// invocations (batch 9 runs 2 x 5, not 8 + 1 padded to 8).
pub fn images_per_invocation(batch: usize) -> usize {
    let tiles = batch.div_ceil(MAX_IMAGES).max(1);
    batch.div_ceil(tiles).max(1)
}

/// FC weights `[in][classes]` (row-major) and bias laid out as head.wgsl reads them: rows of
/// classes padded to 4, then the padded bias.
pub fn layout(fc_weight: &[f32], fc_bias: &[f32], features: usize, classes: usize) -> Vec<f32> {
    let cp = classes.div_ceil(4) * 4;
    let mut out = vec![0.0f32; features * cp + cp];
    for k in 0..features {
        out[k * cp..k * cp + classes].copy_from_slice(&fc_weight[k * classes..(k + 1) * classes]);
    }
    out[features * cp..features * cp + classes].copy_from_slice(fc_bias);
    out
}

pub fn bias_offset4(features: usize, classes: usize) -> u32 {
    (features * classes.div_ceil(4)) as u32
}

/// Global average pool of `input` (per image `from`) and the FC layer into the logits.
pub fn dispatches(
    env: &DispatchEnv,
    input: TensorId,
    from: TensorShape,
    classes: usize,
) -> Result<Vec<OpDispatch>> {
    let classes4 = classes.div_ceil(4) as u32;
    let c4 = from.c.div_ceil(4) as u32;
    let params = HeadParams {
        hw: (from.h * from.w) as u32,
        c4,
        classes4,
        classes: classes as u32,
        bias_offset: bias_offset4(from.c, classes),
        batch: env.batch as u32,
        _pad: [0; 2],
    };
    let pooled = Resource::Scratch {
        slot: POOLED_SLOT,
        bytes: env.batch as u64 * c4 as u64 * 16,
    };
    let what = format!("the head's batch of {}", env.batch);
    let pool_groups = env.check_grid(c4.div_ceil(WORKGROUP), env.batch as u32, &what)?;
    let images = images_per_invocation(env.batch);
    let fc_groups = env.check_grid(
        classes4.div_ceil(WORKGROUP),
        env.batch.div_ceil(images) as u32,
        &what,
    )?;
    let params = bytemuck::bytes_of(&params).to_vec();
    Ok(vec![
        OpDispatch {
            label: "head pool".into(),
            family: "head",
            shape: format!("avgpool {}x{} {}", from.h, from.w, from.c),
            flops: 0,
            spec: specialization(
                env.storage,
                from.c,
                Stage::Pool {
                    pixels: from.h * from.w,
                },
            ),
            params: params.clone(),
            bindings: vec![Resource::Tensor(input), pooled],
            groups: pool_groups,
        },
        OpDispatch {
            label: "head".into(),
            family: "head",
            shape: format!("fc {}->{classes} ({images} images a lane)", from.c),
            flops: 2 * (env.batch * from.c * classes) as u64,
            spec: specialization(env.storage, from.c, Stage::Fc { images }),
            params,
            bindings: vec![pooled, Resource::HeadWeights, Resource::Logits],
            groups: fc_groups,
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_spread_evenly_over_the_fewest_invocations() {
        assert_eq!(images_per_invocation(1), 1);
        assert_eq!(images_per_invocation(3), 3);
        assert_eq!(images_per_invocation(8), 8);
        assert_eq!(images_per_invocation(9), 5);
        assert_eq!(images_per_invocation(17), 6);
    }
}
