//! Reading a GPU buffer back to the host: map, wait, copy out, unmap.

use crate::error::{Error, Result};
use crate::gpu::GpuContext;

/// Map `buffer` (MAP_READ) after the submissions that fill it, and return its bytes.
pub fn read_mapped(ctx: &GpuContext, buffer: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
    let slice = buffer.slice(..size);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    ctx.wait()?;
    let mapped = rx.recv().map_err(|_| Error::Gpu {
        during: "read-back".into(),
        message: "the map callback never ran (device lost?)".into(),
    })?;
    mapped.map_err(|e| Error::Gpu {
        during: "read-back".into(),
        message: e.to_string(),
    })?;
    let bytes = {
        let view = slice.get_mapped_range().map_err(|e| Error::Gpu {
            during: "read-back".into(),
            message: e.to_string(),
        })?;
        view.to_vec()
    };
    buffer.unmap();
    Ok(bytes)
}
