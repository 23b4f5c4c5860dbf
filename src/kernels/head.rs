//! Global average pool + FC in one kernel: host side of `shaders/head.wgsl`.

use super::{Specialization, Storage};

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
