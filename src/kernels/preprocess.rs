//! Input layout conversion (NCHW f32 -> channels-last S4): host side of `shaders/preprocess.wgsl`.

use super::{Specialization, Storage};

pub const SOURCE: &str = include_str!("../../shaders/preprocess.wgsl");
pub const WORKGROUP: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LayoutParams {
    pub h: u32,
    pub w: u32,
    pub total: u32,
    pub _pad: u32,
}

pub fn from_nchw(storage: Storage) -> Specialization {
    Specialization::new("preprocess", "from_nchw", storage.prelude(), SOURCE, 1)
        .with("WG", WORKGROUP as f64)
}
