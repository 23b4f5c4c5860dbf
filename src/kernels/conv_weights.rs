//! A conv layer's weight texture: BN folded, re-laid in the order `shaders/conv.wgsl` reads
//! (one K row per texture row, then the bias row), folded into column blocks on devices with
//! small textures, and uploaded. Re-exported by `kernels::conv`.

use wgpu::util::DeviceExt;

use super::tile::c4;
use super::Storage;
use crate::arch::ConvLayer;
use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::weights::{fold::fold_bn, ConvBn};

/// Folded OIHW weights and bias re-laid in the order conv.wgsl reads them: K rows
/// `[ky][kx][cin padded to 4]`, each holding all `cout` (padded to 4) outputs, then one row
/// with the bias. Each row is one row of the weight texture, 4 channels per texel.
pub fn gemm_layout(
    weight_oihw: &[f32],
    bias: &[f32],
    cout: usize,
    cin: usize,
    kernel: usize,
) -> Vec<f32> {
    let cin_p = c4(cin) * 4;
    let cout_p = c4(cout) * 4;
    let rows = kernel * kernel * cin_p;
    let mut out = vec![0.0f32; rows * cout_p + cout_p];
    for o in 0..cout {
        for i in 0..cin {
            for ky in 0..kernel {
                for kx in 0..kernel {
                    let row = (ky * kernel + kx) * cin_p + i;
                    out[row * cout_p + o] =
                        weight_oihw[((o * cin + i) * kernel + ky) * kernel + kx];
                }
            }
        }
    }
    out[rows * cout_p..rows * cout_p + cout].copy_from_slice(bias);
    out
}

/// How a conv's weight rows (K rows, then the bias row) sit in its texture: `rows_per_block`
/// rows from the top, then the next rows in a block of `c4(cout)` texels to the right, and so
/// on. Every ResNet layer fits one block (at most 4609 rows against WebGPU's default 8192);
/// devices with smaller textures (2048 on WebGL2-class limits) get several blocks. A block
/// holds a multiple of 4 rows, so the 4 rows of one K step never straddle two blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightFold {
    pub rows_per_block: u32,
    pub blocks: u32,
    /// The bias row's index in the unfolded order (the number of K rows).
    pub bias_row: u32,
}

impl WeightFold {
    /// The fold of `layer`'s weights on a device whose textures have at most `max_side`
    /// texels per side, or a `Limit` error naming the layer.
    pub fn for_layer(layer: &ConvLayer, max_side: u32) -> Result<WeightFold> {
        let k_rows = (layer.kernel * layer.kernel * c4(layer.cin) * 4) as u32;
        let rows = k_rows + 1;
        let width = c4(layer.cout) as u32;
        let rows_per_block = if rows <= max_side {
            rows
        } else {
            max_side / 4 * 4
        };
        let blocks = if rows_per_block == 0 {
            u32::MAX
        } else {
            rows.div_ceil(rows_per_block)
        };
        let needed = width as u64 * blocks as u64;
        if needed > max_side as u64 {
            return Err(Error::Limit {
                limit: "max_texture_dimension_2d",
                what: format!(
                    "weight texture of `{}` ({rows} rows of {width} texels)",
                    layer.name
                ),
                needed,
                allowed: max_side as u64,
            });
        }
        Ok(WeightFold {
            rows_per_block,
            blocks,
            bias_row: k_rows,
        })
    }

    /// Texel (column offset of the block, row) of unfolded row `row` for `width` texels a row.
    pub fn texel_of_row(&self, row: u32, width: u32) -> (u32, u32) {
        (row / self.rows_per_block * width, row % self.rows_per_block)
    }
}

/// Weights live in a texture, not a buffer: on lavapipe a texel fetch whose address varies
/// per invocation costs about 0.7x a storage-buffer load (measured with a 16x16 tile: 45 vs
/// 35 GFLOP/s), and on GPUs the texture cache serves the rows every workgroup shares.
/// f32 storage uses rgba32float texels; f16 storage rgba16float (read as f32 and converted,
/// so it needs no SHADER_F16), except where f16 storage computes in f32 because f16 math is
/// slow (`F16Mixed`, chosen on CPU adapters): there the texture unit's half-float decoding is
/// slow too, so the weights, rounded to f16 like every other f16 path's, sit in rgba32float
/// texels (ResNet50 batch 8 on lavapipe: 1589 ms with rgba16float, 1467-1473 ms with rgba32float).
pub fn weight_format(storage: Storage) -> wgpu::TextureFormat {
    match storage {
        Storage::F32 | Storage::F16Mixed => wgpu::TextureFormat::Rgba32Float,
        Storage::F16Native | Storage::F16Packed => wgpu::TextureFormat::Rgba16Float,
    }
}

/// The weight texture's bytes: `values` in [`weight_format`], rounded to f16 first for every
/// f16 storage.
fn weight_texels(storage: Storage, values: &[f32]) -> Vec<u8> {
    match storage {
        Storage::F16Mixed => {
            let rounded: Vec<f32> = values
                .iter()
                .map(|&v| half::f16::from_f32(v).to_f32())
                .collect();
            bytemuck::cast_slice(&rounded).to_vec()
        }
        _ => storage.encode(values),
    }
}

/// Upload `laid` (from [`gemm_layout`]) as the weight texture of `layer`, folded as `fold`
/// says (from [`WeightFold::for_layer`] with this device's limit).
pub fn upload_weights(
    ctx: &GpuContext,
    storage: Storage,
    layer: &ConvLayer,
    laid: &[f32],
    fold: WeightFold,
) -> Result<wgpu::Texture> {
    let row_len = c4(layer.cout) * 4;
    let width = c4(layer.cout) as u32 * fold.blocks;
    let height = fold.rows_per_block;
    let mut texels = vec![0.0f32; width as usize * height as usize * 4];
    for (row, values) in laid.chunks_exact(row_len).enumerate() {
        let (x, y) = fold.texel_of_row(row as u32, c4(layer.cout) as u32);
        let at = (y as usize * width as usize + x as usize) * 4;
        texels[at..at + row_len].copy_from_slice(values);
    }
    Ok(weight_texture(
        ctx,
        storage,
        &layer.name,
        (width, height),
        &texels,
    ))
}

/// A sampled weight texture of `width x height` texels of 4 values, `values` row-major, in
/// `storage`'s texel format (shared by the direct and the Winograd weights).
pub fn weight_texture(
    ctx: &GpuContext,
    storage: Storage,
    label: &str,
    (width, height): (u32, u32),
    values: &[f32],
) -> wgpu::Texture {
    ctx.device.create_texture_with_data(
        &ctx.queue,
        &wgpu::TextureDescriptor {
            label: Some(label),
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: weight_format(storage),
            usage: wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        },
        wgpu::util::TextureDataOrder::LayerMajor,
        &weight_texels(storage, values),
    )
}

/// The conv recipe's first half: fold BN into the weights, lay them out in the order
/// conv.wgsl reads, and upload them as the layer's texture, folded to fit the device. Values
/// that f16 cannot hold are an error naming the layer. Returns the texture and its fold.
pub fn prepare_weights(
    ctx: &GpuContext,
    storage: Storage,
    layer: &ConvLayer,
    conv: &ConvBn,
    source: &str,
) -> Result<(wgpu::Texture, WeightFold)> {
    let (w, b) = fold_bn(conv);
    let laid = gemm_layout(&w, &b, layer.cout, layer.cin, layer.kernel);
    if storage != Storage::F32 {
        check_f16_range(&laid, &layer.name, source)?;
    }
    let fold = WeightFold::for_layer(layer, ctx.limits.max_texture_dimension_2d)?;
    let texture = upload_weights(ctx, storage, layer, &laid, fold)?;
    Ok((texture, fold))
}

/// Reject values f16 cannot hold rather than silently storing infinities.
pub fn check_f16_range(values: &[f32], tensor: &str, source: &str) -> Result<()> {
    let over = values.iter().filter(|v| v.abs() > 65504.0).count();
    if over > 0 {
        return Err(Error::tensor(
            source,
            tensor,
            format!("{over} value(s) outside f16's range (|x| > 65504) after BatchNorm folding; use --precision fp32"),
        ));
    }
    Ok(())
}
