//! 3x3/2 max pooling: host side of `shaders/pool.wgsl`.

use super::{DispatchEnv, OpDispatch, Resource, Specialization, Storage};
use crate::arch::{TensorId, TensorShape};
use crate::error::Result;

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

/// The 3x3/2 max pool of `input` (per image `from`) into `output` (per image `to`).
pub fn dispatch(
    env: &DispatchEnv,
    input: TensorId,
    from: TensorShape,
    output: TensorId,
    to: TensorShape,
) -> Result<OpDispatch> {
    let c4 = from.c.div_ceil(4) as u32;
    let total = (env.batch * to.h * to.w) as u32 * c4;
    let params = PoolParams {
        in_h: from.h as u32,
        in_w: from.w as u32,
        c4,
        out_h: to.h as u32,
        out_w: to.w as u32,
        total,
        _pad: [0; 2],
    };
    Ok(OpDispatch {
        label: "max_pool".into(),
        family: "pool",
        shape: format!("3x3/2 {} {}x{}", from.c, to.h, to.w),
        flops: 0,
        spec: max_pool_3x3s2(env.storage),
        params: bytemuck::bytes_of(&params).to_vec(),
        bindings: vec![Resource::Tensor(input), Resource::Tensor(output)],
        groups: env.linear_grid(total.div_ceil(WORKGROUP), "max pool")?,
    })
}
