//! Host side of `shaders/preprocess.wgsl`: the input layout conversion (NCHW f32 -> channels-last
//! S4) and the image kernel (decoded RGBA8, or a renderer's texture -> resized, cropped,
//! normalised NCHW f32).

use std::sync::Arc;

use image::RgbaImage;
use wgpu::util::DeviceExt;

use super::{DispatchEnv, Kernel, OpDispatch, PipelineCache, Resource, Specialization, Storage};
use crate::arch::TensorId;
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

/// The plan's first dispatch: its NCHW f32 input batch of `h` x `w` into the channels-last
/// `output` tensor (3 channels padded to 4).
pub fn layout_dispatch(
    env: &DispatchEnv,
    h: usize,
    w: usize,
    output: TensorId,
) -> Result<OpDispatch> {
    let pixels = (env.batch * h * w) as u32;
    let params = LayoutParams {
        h: h as u32,
        w: w as u32,
        total: pixels,
        _pad: 0,
    };
    Ok(OpDispatch {
        label: "input layout".into(),
        family: "preprocess",
        shape: format!("{}x3x{h}x{w} -> nhwc4", env.batch),
        flops: 0,
        spec: from_nchw(env.storage),
        params: bytemuck::bytes_of(&params).to_vec(),
        bindings: vec![Resource::Input, Resource::Tensor(output)],
        groups: env.linear_grid(pixels.div_ceil(WORKGROUP), "input layout")?,
    })
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

// ---- Textures: the same taps and table, the source levels read from a renderer's texture. ----

/// The texture entry point's source binding (binding 1 stays the buffer entry point's pixels).
pub const TEXTURE_BINDING: u32 = 5;

/// How a texture's texels become the 8-bit levels PaddleClas would have normalised: the texture
/// kernel's `DECODE` override.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TexelDecode {
    /// unorm8 texels holding gamma-encoded bytes: level = round(v * 255), the byte itself.
    Unorm8,
    /// Linear texels: an sRGB format (textureLoad returns linear values) or rgba16float (which
    /// renderers fill with linear light). Clamped to [0, 1], sRGB-encoded with the exact
    /// piecewise formula and rounded: the byte an 8-bit sRGB image of the frame would hold.
    Linear,
}

impl TexelDecode {
    pub const ALL: [TexelDecode; 2] = [TexelDecode::Unorm8, TexelDecode::Linear];

    fn constant(self) -> f64 {
        match self {
            TexelDecode::Unorm8 => 0.0,
            TexelDecode::Linear => 1.0,
        }
    }
}

/// The texture formats classification reads: format, WebGPU name, decode step. BGRA needs no
/// swizzle: textureLoad returns RGBA order for every format.
pub const TEXTURE_FORMATS: [(wgpu::TextureFormat, &str, TexelDecode); 5] = [
    (
        wgpu::TextureFormat::Rgba8Unorm,
        "rgba8unorm",
        TexelDecode::Unorm8,
    ),
    (
        wgpu::TextureFormat::Bgra8Unorm,
        "bgra8unorm",
        TexelDecode::Unorm8,
    ),
    (
        wgpu::TextureFormat::Rgba8UnormSrgb,
        "rgba8unorm-srgb",
        TexelDecode::Linear,
    ),
    (
        wgpu::TextureFormat::Bgra8UnormSrgb,
        "bgra8unorm-srgb",
        TexelDecode::Linear,
    ),
    (
        wgpu::TextureFormat::Rgba16Float,
        "rgba16float",
        TexelDecode::Linear,
    ),
];

/// The texture kernel: the image kernel's arithmetic, its source levels from `textureLoad`.
pub fn resize_crop_normalize_texture(decode: TexelDecode) -> Specialization {
    Specialization::new(
        "preprocess",
        "resize_crop_normalize_texture",
        Storage::F32.prelude(),
        SOURCE,
        3,
    )
    .with("RX", RESIZE_TILE as f64)
    .with("RY", RESIZE_TILE as f64)
    .with("DECODE", decode.constant())
    .with_texture_input(TEXTURE_BINDING)
    .without_read(1)
}

/// How `texture`'s texels decode, or a clear error for a texture the kernel cannot read: not
/// 2-D, layered, multisampled, of another format, or without TEXTURE_BINDING usage. Checked on
/// the host, before wgpu sees anything.
pub fn texel_decode(texture: &wgpu::Texture) -> Result<TexelDecode> {
    let (w, h) = (texture.width(), texture.height());
    let refuse = |why: String| {
        Err(Error::Input(format!(
            "cannot classify the {w}x{h} texture: {why}"
        )))
    };
    if texture.dimension() != wgpu::TextureDimension::D2 {
        return refuse(format!(
            "it is a {:?} texture; only 2-D textures can be classified",
            texture.dimension()
        ));
    }
    if texture.depth_or_array_layers() != 1 {
        return refuse(format!(
            "it has {} array layers; only single-layer 2-D textures can be classified (copy the layer out)",
            texture.depth_or_array_layers()
        ));
    }
    if texture.sample_count() != 1 {
        return refuse(format!(
            "it is multisampled ({} samples); resolve it into a single-sample texture first",
            texture.sample_count()
        ));
    }
    let format = texture.format();
    let Some(&(_, _, decode)) = TEXTURE_FORMATS.iter().find(|(f, _, _)| *f == format) else {
        let names: Vec<&str> = TEXTURE_FORMATS.iter().map(|(_, n, _)| *n).collect();
        return refuse(format!(
            "its format {format:?} is not supported; supported formats: {}",
            names.join(", ")
        ));
    };
    if !texture
        .usage()
        .contains(wgpu::TextureUsages::TEXTURE_BINDING)
    {
        return refuse(format!(
            "it lacks TEXTURE_BINDING usage (it has {:?}); create it with wgpu::TextureUsages::TEXTURE_BINDING so the preprocessing kernel can read it",
            texture.usage()
        ));
    }
    Ok(decode)
}

/// The kernel and its normalisation table: made once per device and configuration.
pub struct ImagePreprocessor {
    kernel: Arc<Kernel>,
    levels: wgpu::Buffer,
    pub config: PreprocessConfig,
}

/// One image uploaded (pixels, taps, parameters) or one texture bound, with its slot of an
/// output tensor.
pub struct PreparedImage {
    kernel: Arc<Kernel>,
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
        let (params, sampling) = self.slot(w, h, output, index)?;
        // RGBA8 bytes read as little-endian u32s: R is the low byte, as the shader expects.
        let pixels = ctx
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("image pixels"),
                contents: image.as_raw(),
                usage: wgpu::BufferUsages::STORAGE,
            });
        let source = wgpu::BindGroupEntry {
            binding: 1,
            resource: pixels.as_entire_binding(),
        };
        Ok(self.bind(ctx, self.kernel.clone(), &params, &sampling, output, source))
    }

    /// Bind `texture` (mip 0; see `texel_decode` for what it may be) to slot `index` of
    /// `output`: no copy of its texels, the kernel samples it where it is. Call inside an error
    /// scope; record with `record`.
    pub fn prepare_texture(
        &self,
        ctx: &GpuContext,
        pipelines: &PipelineCache,
        texture: &wgpu::Texture,
        output: &wgpu::Buffer,
        index: usize,
    ) -> Result<PreparedImage> {
        let decode = texel_decode(texture)?;
        let (params, sampling) = self.slot(texture.width(), texture.height(), output, index)?;
        let view = texture.create_view(&wgpu::TextureViewDescriptor {
            label: Some("classified texture"),
            dimension: Some(wgpu::TextureViewDimension::D2),
            mip_level_count: Some(1),
            array_layer_count: Some(1),
            ..Default::default()
        });
        let kernel = pipelines.get(&ctx.device, &resize_crop_normalize_texture(decode));
        let source = wgpu::BindGroupEntry {
            binding: TEXTURE_BINDING,
            resource: wgpu::BindingResource::TextureView(&view),
        };
        Ok(self.bind(ctx, kernel, &params, &sampling, output, source))
    }

    /// The parameters and taps of a `w` x `h` image in slot `index` of `output`, or why it
    /// cannot go there (too small for the crop, past the end of `output`).
    fn slot(
        &self,
        w: u32,
        h: u32,
        output: &wgpu::Buffer,
        index: usize,
    ) -> Result<(ResizeParams, Sampling)> {
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
        Ok((params, sampling))
    }

    /// Upload the parameters and taps and bind them with `source` (the pixels or the texture).
    fn bind(
        &self,
        ctx: &GpuContext,
        kernel: Arc<Kernel>,
        params: &ResizeParams,
        sampling: &Sampling,
        output: &wgpu::Buffer,
        source: wgpu::BindGroupEntry,
    ) -> PreparedImage {
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
            bytemuck::bytes_of(params),
            wgpu::BufferUsages::UNIFORM,
        );
        let taps = init(
            "resize taps",
            bytemuck::cast_slice(&taps_table(sampling)),
            wgpu::BufferUsages::STORAGE,
        );
        let mut entries: Vec<wgpu::BindGroupEntry> =
            [(0, &uniform), (2, &taps), (3, &self.levels), (4, output)]
                .map(|(binding, buffer)| wgpu::BindGroupEntry {
                    binding,
                    resource: buffer.as_entire_binding(),
                })
                .into();
        entries.push(source);
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("resize_crop_normalize"),
            layout: &kernel.layout,
            entries: &entries,
        });
        let crop = self.config.crop;
        PreparedImage {
            kernel,
            bind_group,
            groups: (crop.div_ceil(RESIZE_TILE), crop.div_ceil(RESIZE_TILE)),
        }
    }

    /// Record one dispatch per prepared image into `encoder` (one compute pass).
    pub fn record(&self, encoder: &mut wgpu::CommandEncoder, images: &[PreparedImage]) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("preprocess images"),
            timestamp_writes: None,
        });
        self.record_in_pass(&mut pass, images);
    }

    /// Record one dispatch per prepared image into an open compute pass (e.g. at the start of
    /// a plan's own pass: `Plan::submit_prepared`).
    pub fn record_in_pass(&self, pass: &mut wgpu::ComputePass<'_>, images: &[PreparedImage]) {
        for image in images {
            pass.set_pipeline(&image.kernel.pipeline);
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
    preprocess_slots(ctx, images.len(), config, |pre, _, output, i| {
        pre.prepare(ctx, images[i], output, i)
    })
}

/// `preprocess_on_gpu` for textures on `ctx`'s device: what the tests compare with the buffer
/// path (`Classifier::classify_texture` writes a plan's input buffer instead).
pub fn preprocess_textures_on_gpu(
    ctx: &GpuContext,
    textures: &[&wgpu::Texture],
    config: PreprocessConfig,
) -> Result<Vec<f32>> {
    preprocess_slots(ctx, textures.len(), config, |pre, pipelines, output, i| {
        pre.prepare_texture(ctx, pipelines, textures[i], output, i)
    })
}

/// Prepare `count` images with `prepare(preprocessor, pipelines, output, index)` into a fresh
/// output buffer, run them and read the output back.
fn preprocess_slots(
    ctx: &GpuContext,
    count: usize,
    config: PreprocessConfig,
    prepare: impl Fn(&ImagePreprocessor, &PipelineCache, &wgpu::Buffer, usize) -> Result<PreparedImage>,
) -> Result<Vec<f32>> {
    ctx.scoped("image preprocessing", || {
        let pipelines = &ctx.pipelines;
        let pre = ImagePreprocessor::new(ctx, pipelines, config)?;
        let size = (count.max(1) * pre.image_len() * 4) as u64;
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
        let prepared = (0..count)
            .map(|i| prepare(&pre, pipelines, &output, i))
            .collect::<Result<Vec<_>>>()?;
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        pre.record(&mut encoder, &prepared);
        encoder.copy_buffer_to_buffer(&output, 0, &readback, 0, size);
        ctx.queue.submit([encoder.finish()]);
        let bytes = read_mapped(ctx, &readback, size)?;
        let mut values: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes);
        values.truncate(count * pre.image_len());
        Ok(values)
    })
}
