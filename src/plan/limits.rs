//! The device limits a plan must fit, checked before anything is allocated.

use crate::arch::Graph;
use crate::error::{Error, Result};
use crate::kernels::Storage;

/// The storage-binding and workgroup-memory limits a plan of `graph` at `batch` would exceed,
/// checked before anything is allocated (`Plan::compile` calls it; `bench` calls it for every
/// configuration before it uploads or runs anything).
pub fn check_limits(
    graph: &Graph,
    batch: usize,
    storage: Storage,
    limits: &wgpu::Limits,
) -> Result<()> {
    let max_binding = limits.max_storage_buffer_binding_size;
    let input = graph.tensors[graph.input];
    // Saturating u64 products: an absurd `batch` must fail this check, not wrap around it.
    let bytes = |dims: &[usize], unit: u64| {
        dims.iter()
            .fold(unit, |acc, &d| acc.saturating_mul(d as u64))
    };
    let input_bytes = bytes(&[batch, 3, input.h, input.w], 4);
    if input_bytes > max_binding {
        return Err(Error::Limit {
            limit: "max_storage_buffer_binding_size",
            what: format!("the input batch {batch}x3x{}x{}", input.h, input.w),
            needed: input_bytes,
            allowed: max_binding,
        });
    }
    for (t, s) in graph.tensors.iter().enumerate() {
        let bytes = bytes(&[batch, s.h, s.w, s.c.div_ceil(4)], storage.bytes_per_4());
        if t != graph.output && bytes > max_binding {
            return Err(Error::Limit {
                limit: "max_storage_buffer_binding_size",
                what: format!("batch {batch} of a {}x{}x{} activation", s.h, s.w, s.c),
                needed: bytes,
                allowed: max_binding,
            });
        }
    }
    // The logits are f32 whatever the storage, one row of `classes` per image.
    let logits_bytes = bytes(&[batch, graph.classes], 4);
    if logits_bytes > max_binding {
        return Err(Error::Limit {
            limit: "max_storage_buffer_binding_size",
            what: format!("the logits of batch {batch} x {} classes", graph.classes),
            needed: logits_bytes,
            allowed: max_binding,
        });
    }
    Ok(())
}
