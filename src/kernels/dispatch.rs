//! What a kernel family hands the plan for one op of the graph, and the workgroup grids.
//!
//! A family's `dispatch` function decides everything about its op (label, shape, FLOPs, the
//! pipeline's specialisation, the uniform parameters, what each binding holds, the workgroup
//! grid); the plan only allocates the resources, binds them and records the dispatch. The
//! one-shot harness (`check::once`) binds the same description to buffers of host data.

use super::{Specialization, Storage};
use crate::arch::TensorId;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;

/// What one binding after the uniform holds, named by content; the plan resolves each to a
/// buffer or texture view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// An activation of the graph (channels-last, in the plan's storage).
    Tensor(TensorId),
    /// The plan's float32 NCHW input batch.
    Input,
    /// The float32 logits `[batch][classes]`.
    Logits,
    /// The weight texture of conv layer `i` (graph order).
    ConvWeights(usize),
    /// The FC weights and bias.
    HeadWeights,
    /// An optional input this dispatch does not read (e.g. no residual): a small dummy buffer.
    Unused,
    /// The transformed (Winograd) weight texture of conv layer `i` for one tile.
    WinogradWeights(usize, super::winograd::Winograd),
    /// A plan-wide scratch buffer (Winograd's transformed tiles), shared by every op that
    /// names the same slot, sized for the largest `bytes` any op asks of it. Ops run one
    /// after another, so what one op leaves there is dead by the next op that writes it.
    Scratch { slot: u32, bytes: u64 },
}

/// One op, laid out by its kernel family.
pub struct OpDispatch {
    pub label: String,
    /// Kernel family: "preprocess", "conv", "pool", "head".
    pub family: &'static str,
    /// What it computes, e.g. `3x3/2 64->128 56x56`.
    pub shape: String,
    /// FLOPs of the whole batch (2 per multiply-add).
    pub flops: u64,
    pub spec: Specialization,
    /// The bytes of the family's `#[repr(C)]` parameter struct (binding 0).
    pub params: Vec<u8>,
    /// Bindings 1.. in order.
    pub bindings: Vec<Resource>,
    pub groups: (u32, u32, u32),
}

/// What every family needs to lay an op out: the device (limits, adapter type, subgroups),
/// the storage type and the batch.
#[derive(Clone, Copy)]
pub struct DispatchEnv<'a> {
    pub ctx: &'a GpuContext,
    pub storage: Storage,
    pub batch: usize,
}

impl DispatchEnv<'_> {
    pub fn max_groups(&self) -> u32 {
        self.ctx.limits.max_compute_workgroups_per_dimension
    }

    /// A grid of `groups` workgroups for a kernel that linearises it (`grid_index` in
    /// `shaders/common.wgsl`), or a `Limit` error naming `what`.
    pub fn linear_grid(&self, groups: u32, what: &str) -> Result<(u32, u32, u32)> {
        let max = self.max_groups();
        let g = grid(groups, max);
        if g.1 > max {
            return Err(Error::Limit {
                limit: "max_compute_workgroups_per_dimension",
                what: format!("{what}: a dispatch of {groups} workgroups"),
                needed: groups as u64,
                allowed: (max as u64) * (max as u64),
            });
        }
        Ok(g)
    }

    /// `Ok` if `x` and `y` workgroups fit the per-dimension limit.
    pub fn check_grid(&self, x: u32, y: u32, what: &str) -> Result<(u32, u32, u32)> {
        let max = self.max_groups();
        if x > max || y > max {
            return Err(Error::Limit {
                limit: "max_compute_workgroups_per_dimension",
                what: what.to_string(),
                needed: x.max(y) as u64,
                allowed: max as u64,
            });
        }
        Ok((x, y, 1))
    }
}

/// A workgroup grid covering `groups` workgroups within the 65535-per-dimension limit; kernels
/// linearise it as `wid.y * num_workgroups.x + wid.x` and drop the overshoot.
pub fn grid(groups: u32, max_per_dim: u32) -> (u32, u32, u32) {
    let max = max_per_dim.max(1);
    if groups <= max {
        return (groups.max(1), 1, 1);
    }
    let y = groups.div_ceil(max);
    (groups.div_ceil(y), y, 1)
}
