//! Host side of `shaders/preprocess.wgsl`: the input layout conversion (NCHW f32 -> channels-last
//! S4) and the image kernel (decoded RGBA8 -> resized, cropped, normalised NCHW f32).

use std::sync::Arc;

use image::RgbaImage;
use wgpu::util::DeviceExt;

use super::{Kernel, PipelineCache, Specialization, Storage};
use crate::error::{Error, Result};
use crate::gpu::{readback::read_mapped, GpuContext};
use crate::preprocess::{PreprocessConfig, Sampling};

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

// ---- Images: resize (cv2 INTER_LINEAR, uint8), center crop, normalise, into NCHW f32. ----

/// Output pixels per workgroup side (8x8 = 64 invocations, within every adapter's limits).
pub const RESIZE_TILE: u32 = 8;

/// `ResizeParams` in preprocess.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ResizeParams {
    pub src_w: u32,
    pub src_h: u32,
    pub out_w: u32,
    pub out_h: u32,
    pub base: u32,
    pub _pad: [u32; 3],
}

/// The image kernel always writes float32 (the plan's input buffer), whatever the storage.
pub fn resize_crop_normalize() -> Specialization {
    Specialization::new(
        "preprocess",
        "resize_crop_normalize",
        Storage::F32.prelude(),
        SOURCE,
        3,
    )
    .with("RX", RESIZE_TILE as f64)
    .with("RY", RESIZE_TILE as f64)
}

/// The taps table the kernel reads: columns, then rows, as `(i0, i1, w0, w1)`.
pub fn taps_table(s: &Sampling) -> Vec<[u32; 4]> {
    s.cols
        .iter()
        .chain(&s.rows)
        .map(|t| [t.i0, t.i1, t.w0, t.w1])
        .collect()
}

/// The kernel and its normalisation table: made once per device and configuration.
pub struct ImagePreprocessor {
    kernel: Arc<Kernel>,
    levels: wgpu::Buffer,
    pub config: PreprocessConfig,
}

/// One image uploaded (pixels, taps, parameters) and bound to its slot of an output tensor.
pub struct PreparedImage {
    bind_group: wgpu::BindGroup,
    groups: (u32, u32),
}

impl ImagePreprocessor {
    pub fn new(
        ctx: &GpuContext,
        pipelines: &PipelineCache,
        config: PreprocessConfig,
    ) -> Result<Self> {
        ctx.scoped("image preprocessing set-up", || {
            let levels = ctx
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("normalisation levels"),
                    contents: bytemuck::cast_slice(&config.levels()),
                    usage: wgpu::BufferUsages::STORAGE,
                });
            Ok(ImagePreprocessor {
                kernel: pipelines.get(&ctx.device, &resize_crop_normalize()),
                levels,
                config,
            })
        })
    }

    /// Values one image occupies in the output: `3 * crop * crop`.
    pub fn image_len(&self) -> usize {
        3 * (self.config.crop as usize).pow(2)
    }

    /// Whether a `w` x `h` image can be uploaded to this device as one storage binding.
    pub fn check_fits(&self, ctx: &GpuContext, w: u32, h: u32) -> Result<()> {
        let bytes = 4 * w as u64 * h as u64;
        let allowed = ctx
            .limits
            .max_storage_buffer_binding_size
            .min(ctx.limits.max_buffer_size);
        if bytes > allowed {
            return Err(Error::Limit {
                limit: "max_storage_buffer_binding_size",
                what: format!("the RGBA8 pixels of a {w}x{h} image"),
                needed: bytes,
                allowed,
            });
        }
        Ok(())
    }

    /// Upload `image` and bind it to slot `index` of `output` (float32 NCHW, `image_len` values
    /// per image). Call inside an error scope; record with `record`.
    pub fn prepare(
        &self,
        ctx: &GpuContext,
        image: &RgbaImage,
        output: &wgpu::Buffer,
        index: usize,
    ) -> Result<PreparedImage> {
        let (w, h) = image.dimensions();
        self.check_fits(ctx, w, h)?;
        let sampling = Sampling::resize_short_center_crop(w, h, &self.config)?;
        let end = (index + 1) as u64 * self.image_len() as u64 * 4;
        if end > output.size() {
            return Err(Error::Input(format!(
                "image slot {index} ends at byte {end}, past the {}-byte output",
                output.size()
            )));
        }
        let crop = self.config.crop;
        let params = ResizeParams {
            src_w: w,
            src_h: h,
            out_w: crop,
            out_h: crop,
            base: (index * self.image_len()) as u32,
            _pad: [0; 3],
        };
        let device = &ctx.device;
        let init = |label: &str, contents: &[u8], usage| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage,
            })
        };
        let uniform = init(
            "resize parameters",
            bytemuck::bytes_of(&params),
            wgpu::BufferUsages::UNIFORM,
        );
        // RGBA8 bytes read as little-endian u32s: R is the low byte, as the shader expects.
        let pixels = init("image pixels", image.as_raw(), wgpu::BufferUsages::STORAGE);
        let taps = init(
            "resize taps",
            bytemuck::cast_slice(&taps_table(&sampling)),
            wgpu::BufferUsages::STORAGE,
        );
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("resize_crop_normalize"),
            layout: &self.kernel.layout,
            entries: &[
                (0, &uniform),
                (1, &pixels),
                (2, &taps),
                (3, &self.levels),
                (4, output),
            ]
            .map(|(binding, buffer)| wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            }),
        });
        Ok(PreparedImage {
            bind_group,
            groups: (crop.div_ceil(RESIZE_TILE), crop.div_ceil(RESIZE_TILE)),
        })
    }

    /// Record one dispatch per prepared image into `encoder` (one compute pass).
    pub fn record(&self, encoder: &mut wgpu::CommandEncoder, images: &[PreparedImage]) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("preprocess images"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.kernel.pipeline);
        for image in images {
            pass.set_bind_group(0, &image.bind_group, &[]);
            pass.dispatch_workgroups(image.groups.0, image.groups.1, 1);
        }
    }
}

/// Preprocess `images` on the GPU into a fresh buffer and read it back: float32
/// `[n, 3, crop, crop]`. What the tests compare with the CPU reference; plans write their own
/// input buffer instead (`Classifier`).
pub fn preprocess_on_gpu(
    ctx: &GpuContext,
    images: &[&RgbaImage],
    config: PreprocessConfig,
) -> Result<Vec<f32>> {
    ctx.scoped("image preprocessing", || {
        let pre = ImagePreprocessor::new(ctx, &PipelineCache::default(), config)?;
        let size = (images.len().max(1) * pre.image_len() * 4) as u64;
        let buffer = |label: &str, usage| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        let output = buffer(
            "preprocessed images",
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let readback = buffer(
            "preprocessed read-back",
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let prepared = images
            .iter()
            .enumerate()
            .map(|(i, img)| pre.prepare(ctx, img, &output, i))
            .collect::<Result<Vec<_>>>()?;
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        pre.record(&mut encoder, &prepared);
        encoder.copy_buffer_to_buffer(&output, 0, &readback, 0, size);
        ctx.queue.submit([encoder.finish()]);
        let bytes = read_mapped(ctx, &readback, size)?;
        let mut values: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes);
        values.truncate(images.len() * pre.image_len());
        Ok(values)
    })
}
