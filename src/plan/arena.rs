//! The activation arena: each tensor of the graph gets a slot (one buffer), and a slot is
//! reused once its tensor's last reader has run, so a ResNet needs only a few buffers.

use crate::arch::{Graph, Op, TensorId};

/// Assign each tensor a slot so that a slot is reused once its tensor's last reader has run.
/// Returns the slot of every tensor and each slot's size in bytes.
pub(crate) fn assign_slots(
    graph: &Graph,
    bytes_of: impl Fn(TensorId) -> u64,
) -> (Vec<usize>, Vec<u64>) {
    let mut last_use = vec![0usize; graph.tensors.len()];
    for (i, op) in graph.ops.iter().enumerate() {
        let reads: Vec<TensorId> = match *op {
            Op::Conv {
                input, residual, ..
            } => std::iter::once(input).chain(residual).collect(),
            Op::MaxPool { input, .. } | Op::Head { input, .. } => vec![input],
        };
        for r in reads {
            last_use[r] = last_use[r].max(i + 1);
        }
    }
    let mut slot_of = vec![usize::MAX; graph.tensors.len()];
    let mut slot_size: Vec<u64> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut live: Vec<TensorId> = Vec::new();
    // The input (op index 0 = the layout conversion) is born first.
    let place = |t: TensorId, free: &mut Vec<usize>, slot_size: &mut Vec<u64>| {
        let need = bytes_of(t);
        // Best fit among free slots, else the largest free one grown, else a new slot.
        let pick = free
            .iter()
            .enumerate()
            .filter(|(_, &s)| slot_size[s] >= need)
            .min_by_key(|(_, &s)| slot_size[s])
            .or_else(|| free.iter().enumerate().max_by_key(|(_, &s)| slot_size[s]))
            .map(|(i, _)| i);
        let slot = match pick {
            Some(i) => free.swap_remove(i),
            None => {
                slot_size.push(0);
                slot_size.len() - 1
            }
        };
        slot_size[slot] = slot_size[slot].max(need);
        slot
    };
    slot_of[graph.input] = place(graph.input, &mut free, &mut slot_size);
    live.push(graph.input);
    for (i, op) in graph.ops.iter().enumerate() {
        let output = match *op {
            Op::Conv { output, .. } | Op::MaxPool { output, .. } => output,
            Op::Head { .. } => continue, // logits have their own buffer
        };
        // Tensors whose last reader ran before this op are free; this op's inputs are not.
        live.retain(|&t| {
            if last_use[t] <= i {
                free.push(slot_of[t]);
                false
            } else {
                true
            }
        });
        slot_of[output] = place(output, &mut free, &mut slot_size);
        live.push(output);
    }
    (slot_of, slot_size)
}

/// The plan's activation buffers and which one holds each tensor.
pub(crate) struct Arena {
    pub slots: Vec<wgpu::Buffer>,
    pub slot_of: Vec<usize>,
    pub slot_size: Vec<u64>,
}

impl Arena {
    pub fn allocate(
        device: &wgpu::Device,
        graph: &Graph,
        bytes_of: impl Fn(TensorId) -> u64,
    ) -> Arena {
        let (slot_of, slot_size) = assign_slots(graph, bytes_of);
        let slots = slot_size
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("activation slot {i}")),
                    size: size.max(16),
                    usage: wgpu::BufferUsages::STORAGE,
                    mapped_at_creation: false,
                })
            })
            .collect();
        Arena {
            slots,
            slot_of,
            slot_size,
        }
    }

    /// The buffer that holds tensor `t`.
    pub fn buffer(&self, t: TensorId) -> &wgpu::Buffer {
        &self.slots[self.slot_of[t]]
    }
}
