//! Global average pool + FC in one kernel: host side of `shaders/head.wgsl`.

use super::{DispatchEnv, OpDispatch, Resource, Specialization, Storage};
use crate::arch::{TensorId, TensorShape};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/head.wgsl");
pub const WORKGROUP: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct HeadParams {
    pub hw: u32,
    pub c4: u32,
    pub classes4: u32,
    pub classes: u32,
    pub bias_offset: u32,
    pub _pad: [u32; 3],
}

/// `features` channels enter the head; they are averaged into workgroup memory.
pub fn specialization(storage: Storage, features: usize) -> Specialization {
    let prelude = format!(
        "{}const FEAT_C4: u32 = {}u;\n",
        storage.prelude(),
        features.div_ceil(4)
    );
    Specialization::new("head", "main", &prelude, SOURCE, 2).with("WG", WORKGROUP as f64)
}

/// Workgroup memory the head needs for `features` channels.
pub fn workgroup_bytes(features: usize) -> u64 {
    (features.div_ceil(4) * 16) as u64
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
pub fn dispatch(
    env: &DispatchEnv,
    input: TensorId,
    from: TensorShape,
    classes: usize,
) -> Result<OpDispatch> {
    let classes4 = classes.div_ceil(4) as u32;
    let params = HeadParams {
        hw: (from.h * from.w) as u32,
        c4: from.c.div_ceil(4) as u32,
        classes4,
        classes: classes as u32,
        bias_offset: bias_offset4(from.c, classes),
        _pad: [0; 3],
    };
    let groups = env.check_grid(
        classes4.div_ceil(WORKGROUP),
        env.batch as u32,
        &format!("the head's batch of {}", env.batch),
    )?;
    Ok(OpDispatch {
        label: "head".into(),
        family: "head",
        shape: format!("avgpool {}x{} + fc {}->{classes}", from.h, from.w, from.c),
        flops: 2 * (env.batch * from.c * classes) as u64,
        spec: specialization(env.storage, from.c),
        params: bytemuck::bytes_of(&params).to_vec(),
        bindings: vec![
            Resource::Tensor(input),
            Resource::HeadWeights,
            Resource::Logits,
        ],
        groups,
    })
}
