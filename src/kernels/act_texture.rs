//! A conv's input activation as a texture (`ConvVariant::act_texture`): the layout and upload
//! that `cargo bench --bench act_texture` measured against storage buffers. It did not pay on
//! the software adapters (docs/performance.md, "Activations as textures"), so plans keep
//! buffers; the variant stays tested for a rerun on a GPU, whose texture cache may differ.

use super::Storage;
use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;

/// Texels per row of an input activation texture: the buffer's groups of 4 channels in order,
/// wrapped every `ACT_ROW` texels (a power of two, so the shader's wrap is a shift and a mask;
/// a multiple of 16 texels, so a row is a multiple of the 256 bytes a buffer-to-texture copy
/// needs in every storage). Wrapping the flat buffer rather than mapping N, H, W and C onto
/// the texture's axes keeps every shape within `maxTextureDimension2D` (8192 rows of 4096
/// texels: 32M groups, ResNet50's largest activation at batch 8 holds 1.6M) and needs no
/// array layers (`maxTextureArrayLayers` 256 would stop 2048 channels at batch 8).
pub const ACT_ROW: u32 = 4096;

/// The texture format that holds an activation in `storage`'s bytes unchanged (a
/// [`super::conv::ConvVariant::act_texture`] input).
pub fn act_texture_format(storage: Storage) -> wgpu::TextureFormat {
    match storage {
        Storage::F32 => wgpu::TextureFormat::Rgba32Float,
        Storage::F16Native | Storage::F16Mixed | Storage::F16Packed => {
            wgpu::TextureFormat::Rgba16Float
        }
    }
}

/// Rows of [`ACT_ROW`] texels that hold `groups` groups of 4 channels, or a `Limit` error
/// naming `what` past the device's `max_texture_dimension_2d`.
pub fn act_texture_rows(groups: usize, max_side: u32, what: &str) -> Result<u32> {
    let rows = groups.div_ceil(ACT_ROW as usize).max(1);
    if rows > max_side as usize || ACT_ROW > max_side {
        return Err(Error::Limit {
            limit: "max_texture_dimension_2d",
            what: format!("{what} as a texture of {ACT_ROW}-texel rows"),
            needed: rows.max(ACT_ROW as usize) as u64,
            allowed: max_side as u64,
        });
    }
    Ok(rows as u32)
}

/// The descriptor of an input texture of `rows` rows of [`ACT_ROW`] texels in `storage`'s
/// format, filled by an upload or a buffer-to-texture copy.
pub fn act_texture_descriptor(
    storage: Storage,
    rows: u32,
    label: &str,
) -> wgpu::TextureDescriptor<'_> {
    wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width: ACT_ROW,
            height: rows,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: act_texture_format(storage),
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    }
}

/// An activation's bytes (`storage`'s layout, channels-last in groups of 4) as the input
/// texture of a [`super::conv::ConvVariant::act_texture`] conv, padded with zeros to whole rows.
pub fn act_texture(
    ctx: &GpuContext,
    storage: Storage,
    what: &str,
    bytes: &[u8],
) -> Result<wgpu::Texture> {
    use wgpu::util::DeviceExt;
    let texel = storage.bytes_per_4() as usize;
    let rows = act_texture_rows(
        bytes.len().div_ceil(texel),
        ctx.limits.max_texture_dimension_2d,
        what,
    )?;
    let mut padded = bytes.to_vec();
    padded.resize(rows as usize * ACT_ROW as usize * texel, 0);
    Ok(ctx.device.create_texture_with_data(
        &ctx.queue,
        &act_texture_descriptor(storage, rows, what),
        wgpu::util::TextureDataOrder::LayerMajor,
        &padded,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_texture_wraps_whole_rows_and_names_the_tensor_past_the_limit() {
        // ResNet50's largest activation at batch 8: 8 x 112 x 112 x 16 groups.
        assert_eq!(
            act_texture_rows(8 * 112 * 112 * 16, 8192, "x").unwrap(),
            392
        );
        assert_eq!(act_texture_rows(1, 8192, "x").unwrap(), 1);
        assert_eq!(
            act_texture_rows(ACT_ROW as usize + 1, 8192, "x").unwrap(),
            2
        );
        let err = act_texture_rows(8193 * ACT_ROW as usize, 8192, "the input of `big`")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("max_texture_dimension_2d") && err.contains("`big`"),
            "{err}"
        );
        // A device whose textures are narrower than a row.
        assert!(act_texture_rows(1, 2048, "x").is_err());
    }
}
