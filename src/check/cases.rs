//! The conformance suite's cases and their CPU-reference answers: every kernel on the shapes
//! the models use (read from the architectures' own graphs) and on awkward ones, every
//! architecture end to end, and (in `golden.rs`) golden cases read from a directory. Answers
//! are computed once and shared by every adapter and precision.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use super::tolerance::Compared;
use crate::arch::{Arch, ConvLayer, ConvRole, Op, Stage1Shortcut, ARCHS};
use crate::check::once::{conv_once_as, head_once, max_pool_once, ConvPath};
use crate::error::Result;
use crate::gpu::GpuContext;
use crate::kernels::conv::{self, Tile};
use crate::kernels::winograd::Winograd;
use crate::kernels::Storage;
use crate::reference::{self, Activation};
use crate::weights::synthetic::Rng;
use crate::weights::{self, ConvBn, ModelWeights};

/// Input side of the graphs the model conv shapes are read from: small enough to keep the
/// reference quick, and odd maps appear (56 -> 28 -> 14 -> 7 -> 4 -> 2).
const KERNEL_SHAPES_INPUT: usize = 56;
/// Images per model-shape kernel case: more than one, so batch indexing is exercised.
const KERNEL_SHAPES_BATCH: usize = 2;
/// Classes of the synthetic heads of the end-to-end cases.
const MODEL_CLASSES: usize = 1000;

/// A random NCHW activation in [-1, 1) (also used by the tests).
pub fn random_activation(rng: &mut Rng, n: usize, c: usize, h: usize, w: usize) -> Activation {
    Activation {
        n,
        c,
        h,
        w,
        data: (0..n * c * h * w).map(|_| rng.uniform()).collect(),
    }
}

/// A random conv + BN whose outputs stay O(1) (also used by the tests).
pub fn random_conv_bn(rng: &mut Rng, cout: usize, cin: usize, k: usize) -> ConvBn {
    let scale = (3.0 / (cin * k * k) as f32).sqrt();
    ConvBn::batch_norm(
        (0..cout * cin * k * k)
            .map(|_| rng.uniform() * scale)
            .collect(),
        (0..cout).map(|_| rng.range(0.5, 1.5)).collect(),
        (0..cout).map(|_| rng.range(-0.5, 0.5)).collect(),
        (0..cout).map(|_| rng.range(-0.5, 0.5)).collect(),
        (0..cout).map(|_| rng.range(0.25, 2.0)).collect(),
    )
}

/// One conv to check: a layer, its input size and batch, its fused epilogue.
#[derive(Clone, Debug)]
pub struct ConvShape {
    pub layer: ConvLayer,
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub residual: bool,
    pub relu: bool,
    /// Where it comes from: an architecture's layer, or why the awkward shape is there.
    pub origin: String,
}

impl ConvShape {
    fn name(&self) -> String {
        let l = &self.layer;
        let pool = if l.avg_pool_input { " avgpool2" } else { "" };
        let res = if self.residual { " +res" } else { "" };
        let relu = if self.relu { " relu" } else { "" };
        format!(
            "conv {k}x{k}/{s}{pool} {}->{} on {}x{} n{}{res}{relu} ({})",
            l.cin,
            l.cout,
            self.h,
            self.w,
            self.n,
            self.origin,
            k = l.kernel,
            s = l.stride,
        )
    }
}

/// Every distinct conv of every architecture at a small input: each (shape, stride, vd pool,
/// epilogue, map size) once, named after the first layer that has it.
pub fn model_conv_shapes() -> Vec<ConvShape> {
    let mut seen = BTreeSet::new();
    let mut shapes = Vec::new();
    let size = KERNEL_SHAPES_INPUT;
    for arch in ARCHS {
        let graph = arch.graph(size, size, MODEL_CLASSES, Stage1Shortcut::Projection);
        for op in &graph.ops {
            let Op::Conv {
                conv,
                input,
                residual,
                relu,
                ..
            } = *op
            else {
                continue;
            };
            let l = &graph.convs[conv];
            let t = graph.tensors[input];
            let key = (
                l.cin,
                l.cout,
                l.kernel,
                l.stride,
                l.avg_pool_input,
                residual.is_some(),
                relu,
                t.h,
                t.w,
            );
            if seen.insert(key) {
                shapes.push(ConvShape {
                    layer: l.clone(),
                    n: KERNEL_SHAPES_BATCH,
                    h: t.h,
                    w: t.w,
                    residual: residual.is_some(),
                    relu,
                    origin: format!("{} {}", arch.name, l.name),
                });
            }
        }
    }
    shapes
}

/// Shapes no model has at these sizes but a kernel must still get right.
pub fn awkward_conv_shapes() -> Vec<ConvShape> {
    // (cin, cout, kernel, stride, vd pool, n, h, w, residual, relu, why)
    type Row = (
        usize,
        usize,
        usize,
        usize,
        bool,
        usize,
        usize,
        usize,
        bool,
        bool,
        &'static str,
    );
    const ROWS: &[Row] = &[
        (
            8,
            12,
            3,
            1,
            false,
            3,
            5,
            7,
            true,
            true,
            "batch 3, odd map, cout % 8 != 0",
        ),
        (
            5,
            6,
            3,
            2,
            false,
            1,
            1,
            1,
            false,
            true,
            "1x1 map, channels % 4 != 0",
        ),
        (
            3,
            64,
            7,
            2,
            false,
            3,
            33,
            31,
            false,
            true,
            "plain stem, batch 3, odd map",
        ),
        (
            3,
            32,
            3,
            2,
            false,
            1,
            1,
            1,
            false,
            true,
            "deep stem on a 1x1 image",
        ),
        (
            3,
            64,
            7,
            2,
            false,
            1,
            224,
            224,
            false,
            true,
            "the stem at 224",
        ),
        (
            3,
            64,
            7,
            2,
            false,
            1,
            320,
            320,
            false,
            true,
            "the stem at 320",
        ),
        (
            3,
            64,
            7,
            2,
            false,
            2,
            97,
            97,
            false,
            true,
            "the stem, batch 2, odd map (rows of 49 pixels)",
        ),
        (
            3,
            32,
            3,
            2,
            false,
            1,
            97,
            95,
            false,
            true,
            "the deep stem, odd map",
        ),
        (
            16,
            8,
            1,
            1,
            true,
            2,
            7,
            9,
            false,
            false,
            "vd pool, odd map (partial windows)",
        ),
        (
            16,
            16,
            1,
            1,
            true,
            1,
            1,
            1,
            true,
            true,
            "vd pool of a 1x1 map",
        ),
        (
            6,
            10,
            1,
            1,
            true,
            3,
            3,
            5,
            false,
            false,
            "vd pool, batch 3, channels % 4 != 0",
        ),
        (
            4,
            4,
            7,
            2,
            false,
            1,
            3,
            2,
            false,
            false,
            "kernel larger than the map",
        ),
        (
            7,
            9,
            1,
            2,
            false,
            2,
            5,
            5,
            true,
            true,
            "stride-2 1x1, channels % 4 != 0, +res",
        ),
        (
            64,
            128,
            3,
            1,
            false,
            2,
            9,
            11,
            true,
            true,
            "pixel tiles cut short (198 = 12x16 + 6), +res",
        ),
    ];
    ROWS.iter()
        .map(
            |&(cin, cout, kernel, stride, avg_pool_input, n, h, w, residual, relu, why)| {
                ConvShape {
                    layer: ConvLayer {
                        name: format!("awkward {kernel}x{kernel}/{stride} {cin}->{cout}"),
                        role: ConvRole::Stem(0),
                        cin,
                        cout,
                        kernel,
                        stride,
                        avg_pool_input,
                    },
                    n,
                    h,
                    w,
                    residual,
                    relu,
                    origin: why.to_string(),
                }
            },
        )
        .collect()
}

struct ConvInput {
    layer: ConvLayer,
    x: Activation,
    params: ConvBn,
    residual: Option<Activation>,
    relu: bool,
}

impl ConvInput {
    /// The case's conv once along `path` with register tile `tile`: its output values.
    fn run(
        &self,
        ctx: &GpuContext,
        storage: Storage,
        tile: Tile,
        path: ConvPath,
    ) -> Result<Vec<f32>> {
        let c = self;
        conv_once_as(
            ctx,
            storage,
            &c.layer,
            &c.x,
            &c.params,
            c.residual.as_ref(),
            c.relu,
            tile,
            path,
        )
        .map(|a| a.data)
    }
}

/// A kernel's inputs, host side.
enum KernelInput {
    // Boxed: a conv case carries five times the data of the others.
    Conv(Box<ConvInput>),
    MaxPool {
        x: Activation,
    },
    Head {
        x: Activation,
        fc_weight: Vec<f32>,
        fc_bias: Vec<f32>,
    },
}

/// One kernel dispatch with its reference answer.
pub struct KernelCase {
    pub family: &'static str,
    pub name: String,
    pub compared: Compared,
    input: KernelInput,
    expected: Vec<f32>,
}

impl KernelCase {
    /// A conv case of `shape` with random input, weights and BN, and its reference output.
    pub fn conv(rng: &mut Rng, shape: &ConvShape) -> KernelCase {
        let l = &shape.layer;
        let x = random_activation(rng, shape.n, l.cin, shape.h, shape.w);
        let params = random_conv_bn(rng, l.cout, l.cin, l.kernel);
        // The reference adds the residual after BN and applies ReLU to the sum.
        let plain = reference::conv_bn(&x, l, &params, shape.relu && !shape.residual);
        let residual = shape
            .residual
            .then(|| random_activation(rng, shape.n, l.cout, plain.h, plain.w));
        // With a residual, `plain` is the conv + BN without the ReLU.
        let expected = match &residual {
            Some(r) => reference::add_relu(&plain, r).data,
            None => plain.data,
        };
        KernelCase {
            family: "conv",
            name: shape.name(),
            compared: Compared::Conv {
                k: l.cin * l.kernel * l.kernel,
            },
            input: KernelInput::Conv(Box::new(ConvInput {
                layer: l.clone(),
                x,
                params,
                residual,
                relu: shape.relu,
            })),
            expected,
        }
    }

    fn max_pool(rng: &mut Rng, (n, c, h, w): (usize, usize, usize, usize), why: &str) -> Self {
        let mut x = random_activation(rng, n, c, h, w);
        // Mostly negative values: the padding must never win.
        x.data.iter_mut().for_each(|v| *v -= 0.75);
        KernelCase {
            family: "pool",
            name: format!("max pool 3x3/2 {c} ch on {h}x{w} n{n} ({why})"),
            compared: Compared::MaxPool,
            expected: reference::max_pool_3x3s2(&x).data,
            input: KernelInput::MaxPool { x },
        }
    }

    fn head(rng: &mut Rng, (n, c, h, w, classes): (usize, usize, usize, usize, usize)) -> Self {
        let x = random_activation(rng, n, c, h, w);
        let fc_weight: Vec<f32> = (0..c * classes).map(|_| rng.uniform() * 0.05).collect();
        let fc_bias: Vec<f32> = (0..classes).map(|_| rng.uniform()).collect();
        KernelCase {
            family: "head",
            name: format!("head avgpool {h}x{w} + fc {c}->{classes} n{n}"),
            compared: Compared::Head,
            expected: reference::head(&x, &fc_weight, &fc_bias),
            input: KernelInput::Head {
                x,
                fc_weight,
                fc_bias,
            },
        }
    }

    /// Run on the GPU in `storage`, as a plan on this adapter would (its conv tile is the
    /// plan's, `conv::tile_for`); the output in the reference's layout.
    pub fn run(&self, ctx: &GpuContext, storage: Storage) -> Result<Vec<f32>> {
        self.run_with_tile(ctx, storage, |layer, pixels| {
            conv::tile_for(ctx, layer, pixels)
        })
    }

    /// [`KernelCase::run`] with the conv register tile a plan would choose on a `device` of
    /// this type with this fixed subgroup size (so one adapter can test every tile policy),
    /// fitted to the case's map as on a 2-thread CPU adapter or a GPU.
    pub fn run_with_tiles_for(
        &self,
        ctx: &GpuContext,
        storage: Storage,
        device: wgpu::DeviceType,
        subgroup: Option<u32>,
    ) -> Result<Vec<f32>> {
        let min_tiles = (device == wgpu::DeviceType::Cpu).then_some(2 * 8 * 2);
        self.run_with_tile(ctx, storage, |layer, pixels| {
            Tile::for_layer(layer.cout, device, subgroup).fit_pixels(
                pixels as u32,
                conv::c4(layer.cout) as u32,
                min_tiles,
            )
        })
    }

    /// [`KernelCase::run`] with the conv register tile `tile(layer, output pixels)` (every
    /// tile policy, the tuner's candidates).
    pub fn run_with_tile(
        &self,
        ctx: &GpuContext,
        storage: Storage,
        tile: impl Fn(&ConvLayer, usize) -> Tile,
    ) -> Result<Vec<f32>> {
        Ok(match &self.input {
            KernelInput::Conv(c) => {
                let pixels = c.layer.out_pixels(c.x.n, (c.x.h, c.x.w));
                c.run(ctx, storage, tile(&c.layer, pixels), ConvPath::Direct)?
            }
            KernelInput::MaxPool { x } => max_pool_once(ctx, storage, x)?.data,
            KernelInput::Head {
                x,
                fc_weight,
                fc_bias,
            } => head_once(ctx, storage, x, fc_weight, fc_bias)?,
        })
    }

    /// The conv as Winograd in tile `wino` with GEMM tile `tile(cout)`; `None` for a case
    /// that is not a 3x3 stride-1 conv.
    pub fn run_winograd(
        &self,
        ctx: &GpuContext,
        (storage, wino): (Storage, Winograd),
        tile: impl Fn(usize) -> Tile,
    ) -> Option<Result<Vec<f32>>> {
        match &self.input {
            KernelInput::Conv(c) if crate::kernels::winograd::eligible(&c.layer) => {
                Some(c.run(ctx, storage, tile(c.layer.cout), ConvPath::Winograd(wino)))
            }
            _ => None,
        }
    }

    /// The conv with its input read from a texture (the plan's tile on this adapter,
    /// [`conv::ConvVariant::act_texture`]); `None` for other families.
    pub fn run_act_texture(&self, ctx: &GpuContext, storage: Storage) -> Option<Result<Vec<f32>>> {
        let KernelInput::Conv(c) = &self.input else {
            return None;
        };
        let pixels = c.layer.out_pixels(c.x.n, (c.x.h, c.x.w));
        Some(c.run(
            ctx,
            storage,
            conv::tile_for(ctx, &c.layer, pixels),
            ConvPath::ActTexture,
        ))
    }

    /// Whether the case is a conv whose direct tile reads rows of taps (the stems:
    /// [`crate::kernels::conv::ConvVariant::reads_rows_of_taps`] with a direct tile).
    pub fn reads_rows_of_taps(&self) -> bool {
        let direct = Tile::for_layer(64, wgpu::DeviceType::Cpu, None);
        matches!(&self.input, KernelInput::Conv(c)
            if conv::ConvVariant::reads_rows_of_taps(&c.layer, direct))
    }

    /// Whether the case is a conv Winograd can run ([`KernelCase::run_winograd`]).
    pub fn runs_as_winograd(&self) -> bool {
        matches!(&self.input, KernelInput::Conv(c) if crate::kernels::winograd::eligible(&c.layer))
    }

    /// The conv layer's output channels (`None` for other families).
    pub fn conv_cout(&self) -> Option<usize> {
        match &self.input {
            KernelInput::Conv(c) => Some(c.layer.cout),
            _ => None,
        }
    }

    pub fn expected(&self) -> &[f32] {
        &self.expected
    }
}

/// Every kernel case, reference answers included (seeded: the same data on every run).
pub fn kernel_cases() -> Vec<KernelCase> {
    let mut rng = Rng::new(0xc0ffee);
    let mut cases: Vec<KernelCase> = model_conv_shapes()
        .iter()
        .chain(&awkward_conv_shapes())
        .map(|s| KernelCase::conv(&mut rng, s))
        .collect();
    let pools = [
        ((1, 64, 112, 112), "the stem's output at 224x224"),
        ((2, 64, 28, 28), "the stem's output at 56x56"),
        ((3, 8, 7, 5), "batch 3, odd map"),
        ((1, 4, 1, 1), "1x1 map"),
        ((2, 12, 2, 3), "2x3 map, 12 channels"),
        ((1, 6, 5, 4), "channels % 4 != 0"),
    ];
    cases.extend(
        pools
            .iter()
            .map(|&(shape, why)| KernelCase::max_pool(&mut rng, shape, why)),
    );
    // (n, features, h, w, classes): the ImageNet heads at 224 and 320, fine-tuned heads, odd maps,
    // a batch the FC spreads over two lanes' images (9 = 2 x 5, one padded).
    let heads = [
        (2, 512, 7, 7, 1000),
        (2, 2048, 7, 7, 1000),
        (1, 2048, 10, 10, 1000),
        (3, 512, 1, 1, 10),
        (1, 8, 3, 2, 7),
        (2, 2048, 2, 2, 102),
        (9, 12, 3, 3, 7),
        (1, 2048, 7, 7, 1000),
        (1, 10, 2, 3, 7),
    ];
    cases.extend(heads.iter().map(|&h| KernelCase::head(&mut rng, h)));
    cases
}

/// One architecture end to end with synthetic weights against `reference::run_model`.
pub struct ModelCase {
    pub arch: Arch,
    pub n: usize,
    pub size: usize,
    pub classes: usize,
    seed: u64,
    pub input: Vec<f32>,
    expected: OnceLock<Vec<f32>>,
}

impl ModelCase {
    pub fn name(&self) -> String {
        format!(
            "{} {}x{} n{} (synthetic weights)",
            self.arch.name, self.size, self.size, self.n
        )
    }

    /// The synthetic weights (made again on each call: a ResNet200's are 300 MB, not kept).
    pub fn weights(&self) -> ModelWeights {
        weights::synthetic_weights(&self.arch, self.classes, self.seed)
    }

    /// The reference logits, computed on first use and kept (they are small).
    pub fn expected(&self, weights: &ModelWeights) -> &[f32] {
        self.expected.get_or_init(|| {
            reference::run_model(weights, &self.input, self.n, self.size, self.size)
        })
    }
}

/// Every architecture: shallow ones at 64x64 with 2 images, deep ones (> 20 blocks) at 32x32
/// with one, which keeps the f64 reference and lavapipe quick.
pub fn model_cases() -> Vec<ModelCase> {
    ARCHS
        .iter()
        .enumerate()
        .map(|(i, arch)| {
            let (n, size) = if arch.stage_depths.iter().sum::<usize>() > 20 {
                (1, 32)
            } else {
                (2, 64)
            };
            let mut rng = Rng::new(1000 + i as u64);
            ModelCase {
                arch: *arch,
                n,
                size,
                classes: MODEL_CLASSES,
                seed: 42 + i as u64,
                input: (0..n * 3 * size * size)
                    .map(|_| rng.uniform() * 2.0)
                    .collect(),
                expected: OnceLock::new(),
            }
        })
        .collect()
}
