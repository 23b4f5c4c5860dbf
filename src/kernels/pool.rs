//! 3x3/2 max pooling: host side of `shaders/pool.wgsl`.

use super::{Specialization, Storage};

pub const SOURCE: &str = include_str!("../../shaders/pool.wgsl");
pub const WORKGROUP: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PoolParams {
    pub in_h: u32,
    pub in_w: u32,
    pub c4: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub total: u32,
    pub _pad: [u32; 2],
}

pub fn max_pool_3x3s2(storage: Storage) -> Specialization {
    Specialization::new("pool", "main", storage.prelude(), SOURCE, 1)
        .with("KERNEL", 3.0)
        .with("STRIDE", 2.0)
        .with("PAD", 1.0)
        .with("WG", WORKGROUP as f64)
}

/// Output side of the ResNet max pool for an input side `size`.
pub fn out_size(size: usize) -> usize {
    (size + 2 - 3) / 2 + 1
}
