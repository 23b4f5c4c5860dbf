//! A network resident on the GPU: folded weights uploaded once in the chosen storage type,
//! and the pipeline cache that every plan of it (batch 1, 4, 8, ...) shares.

use wgpu::util::DeviceExt;

use crate::arch::{Arch, ConvLayer, Stage1Shortcut};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::winograd::{self, Winograd};
use crate::kernels::{self, Storage};
use crate::weights::ModelWeights;

/// Numeric precision a user asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Precision {
    #[default]
    #[cfg_attr(feature = "cli", value(alias = "fp32"))]
    F32,
    #[cfg_attr(feature = "cli", value(alias = "fp16"))]
    F16,
}

/// How FP16 runs: `Auto` takes native f16 where the adapter has SHADER_F16.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum F16Mode {
    #[default]
    Auto,
    Native,
    Packed,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "fp32",
            Precision::F16 => "fp16",
        }
    }
}

/// The storage the kernels use for a precision on this device.
///
/// FP16 `native` stores f16 in native types (SHADER_F16); whether the arithmetic is f16 or f32
/// is decided per adapter by measuring both FMA rates once (`kernels::peak`), since some
/// adapters (CPU rasterisers, older GPUs) run f16 math slower than f32. `packed` stores f16
/// pairs in u32 and computes in f32 on any adapter. `auto` is native where SHADER_F16 exists.
pub fn choose_storage(ctx: &GpuContext, precision: Precision, mode: F16Mode) -> Result<Storage> {
    let native = ctx.has(wgpu::Features::SHADER_F16);
    let native_storage = || -> Result<Storage> {
        Ok(if kernels::peak::f16_math_is_faster(ctx)? {
            Storage::F16Native
        } else {
            Storage::F16Mixed
        })
    };
    Ok(match (precision, mode) {
        (Precision::F32, _) => Storage::F32,
        (Precision::F16, F16Mode::Packed) => Storage::F16Packed,
        (Precision::F16, F16Mode::Native) if !native => {
            return Err(Error::Unsupported {
                adapter: ctx.describe(),
                what: "the SHADER_F16 feature that --f16-mode native needs (use --f16-mode packed or auto)".into(),
            })
        }
        (Precision::F16, F16Mode::Native) => native_storage()?,
        (Precision::F16, F16Mode::Auto) => {
            if native {
                native_storage()?
            } else {
                Storage::F16Packed
            }
        }
    })
}

pub struct Model {
    pub ctx: GpuContext,
    pub arch: Arch,
    pub stage1: Stage1Shortcut,
    pub classes: usize,
    pub storage: Storage,
    /// One texture per conv layer (a view of it, and how its rows are folded), in the order
    /// conv.wgsl reads: K rows of weights, then the bias row.
    pub(crate) conv_weights: Vec<(wgpu::TextureView, kernels::conv::WeightFold)>,
    /// Winograd-transformed weights of the 3x3 stride-1 layers per tile
    /// ([`Winograd::index`]), where prepared: for a tile the tuning cache or the shipped table
    /// chooses for some shape, where the default heuristic may choose it
    /// (`winograd::default_may_choose`), or by [`Model::prepare_winograd`].
    pub(crate) winograd: Vec<[Option<wgpu::TextureView>; 2]>,
    /// FC weights then bias, in the order head.wgsl reads.
    pub(crate) head_weights: wgpu::Buffer,
    pub weight_bytes: u64,
    pub source: String,
    /// Measured conv tiles for this adapter and storage (`gpu-resnet tune`), read from the
    /// cache directory when the model is made; plans use the heuristic where it has no entry.
    pub(crate) tuning: Option<crate::tuning::TuneTable>,
    /// Whether that cache was found, loaded or ignored (and why).
    pub tune_status: crate::tuning::TuneStatus,
    /// The tiles shipped for this implementation and storage, for the shapes the cache lacks.
    pub(crate) shipped: Option<crate::tuning::shipped::ShippedTable>,
    pub shipped_status: crate::tuning::shipped::ShippedStatus,
}

impl Model {
    /// Fold, lay out and upload `weights` once.
    pub fn new(ctx: &GpuContext, weights: &ModelWeights, storage: Storage) -> Result<Model> {
        ctx.check_requirements()?;
        weights.check_shapes()?;
        if storage.needs_shader_f16() && !ctx.has(wgpu::Features::SHADER_F16) {
            return Err(Error::Unsupported {
                adapter: ctx.describe(),
                what: "the SHADER_F16 feature (native f16 storage)".into(),
            });
        }
        let layers = weights.arch.conv_layers(weights.stage1);
        let max_binding = ctx.limits.max_storage_buffer_binding_size;
        let upload = |label: &str, values: &[f32]| -> Result<wgpu::Buffer> {
            if storage != Storage::F32 {
                kernels::conv::check_f16_range(values, label, &weights.source)?;
            }
            let bytes = storage.encode(values);
            if bytes.len() as u64 > max_binding {
                return Err(Error::Limit {
                    limit: "max_storage_buffer_binding_size",
                    what: format!("weights of `{label}`"),
                    needed: bytes.len() as u64,
                    allowed: max_binding,
                });
            }
            Ok(ctx
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: &bytes,
                    usage: wgpu::BufferUsages::STORAGE,
                }))
        };
        ctx.scoped("weight upload", || {
            let mut weight_bytes = 0;
            let mut conv_weights = Vec::with_capacity(layers.len());
            for (layer, conv) in layers.iter().zip(&weights.convs) {
                let (texture, fold) =
                    kernels::conv::prepare_weights(ctx, storage, layer, conv, &weights.source)?;
                let texel_bytes = texture.format().block_copy_size(None).unwrap_or(16);
                weight_bytes +=
                    texture.width() as u64 * texture.height() as u64 * texel_bytes as u64;
                conv_weights.push((texture.create_view(&Default::default()), fold));
            }
            let features = weights.arch.features();
            let laid = kernels::head::layout(
                &weights.fc_weight,
                &weights.fc_bias,
                features,
                weights.classes,
            );
            let head_weights = upload("fc", &laid)?;
            weight_bytes += head_weights.size();
            let (tuning, tune_status) = crate::tuning::load(ctx, storage);
            let (shipped, shipped_status) = crate::tuning::shipped::load(ctx, storage);
            // Transform only what a plan may use: a tile the cache or the shipped table
            // chooses somewhere (for every eligible layer: the tables are per shape, not per
            // layer), and the tile the heuristic may choose per layer.
            let tuned = |t: Winograd| {
                tuning
                    .iter()
                    .flat_map(|table| table.entries.values())
                    .chain(shipped.iter().flat_map(|table| table.entries.values()))
                    .any(|e| e.winograd == Some(t))
            };
            let winograd = winograd_weights(ctx, weights, |layer, t| {
                tuned(t) || winograd::default_may_choose(ctx, layer) == Some(t)
            })?;
            Ok(Model {
                ctx: ctx.clone(),
                arch: weights.arch,
                stage1: weights.stage1,
                classes: weights.classes,
                storage,
                conv_weights,
                winograd,
                head_weights,
                weight_bytes,
                source: weights.source.clone(),
                tuning,
                tune_status,
                shipped,
                shipped_status,
            })
        })
    }
}

/// The Winograd weights of every eligible layer of `weights` in each tile `want`s for it (None
/// for the others).
fn winograd_weights(
    ctx: &GpuContext,
    weights: &ModelWeights,
    want: impl Fn(&ConvLayer, Winograd) -> bool,
) -> Result<Vec<[Option<wgpu::TextureView>; 2]>> {
    let layers = weights.arch.conv_layers(weights.stage1);
    let mut out = Vec::with_capacity(layers.len());
    for (layer, conv) in layers.iter().zip(&weights.convs) {
        let mut views = [None, None];
        for t in Winograd::ALL {
            if !(winograd::eligible(layer) && want(layer, t)) {
                continue;
            }
            views[t.index()] = winograd::prepare_weights(ctx, (layer, t), conv)?
                .map(|t| t.create_view(&Default::default()));
        }
        out.push(views);
    }
    Ok(out)
}

impl Model {
    /// Transform and upload the Winograd weights of every 3x3 stride-1 layer in every tile
    /// this storage allows (the tuner times Winograd on them; plans use them where the
    /// tuning cache or the heuristic says).
    pub fn prepare_winograd(&mut self, weights: &ModelWeights) -> Result<()> {
        let ctx = self.ctx.clone();
        self.winograd = ctx.scoped("Winograd weight upload", || {
            winograd_weights(&ctx, weights, |_, _| true)
        })?;
        Ok(())
    }

    /// Whether layer `i`'s Winograd weights for `tile` are on the device.
    pub fn has_winograd(&self, i: usize, tile: Winograd) -> bool {
        self.winograd
            .get(i)
            .is_some_and(|w| w[tile.index()].is_some())
    }

    /// The Winograd tiles with weights on the device for some layer.
    pub fn winograd_tiles(&self) -> Vec<Winograd> {
        Winograd::ALL
            .into_iter()
            .filter(|&t| (0..self.winograd.len()).any(|i| self.has_winograd(i, t)))
            .collect()
    }

    /// Use `table` as the tuning cache for the plans compiled from now on (`None`: no cache;
    /// the shipped table, if any, still applies: [`Model::set_shipped`]).
    pub fn set_tuning(&mut self, table: Option<crate::tuning::TuneTable>) {
        self.tuning = table;
    }

    /// Use `table` as the shipped table for the plans compiled from now on (`None`: none).
    pub fn set_shipped(&mut self, table: Option<crate::tuning::shipped::ShippedTable>) {
        self.shipped = table;
    }

    /// Pipelines compiled so far on this model's device (shared by all its plans, and by every
    /// other model and check on the same context).
    pub fn pipeline_count(&self) -> usize {
        self.ctx.pipelines.len()
    }
}
