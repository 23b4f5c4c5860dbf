//! Every kernel family against the CPU reference (`gpu_resnet::reference`), on the shapes the
//! models use and on awkward ones (1x1 maps, channel counts not a multiple of 4, odd sizes,
//! batch 3), in FP32 and both FP16 modes, with the register tile of every tile policy (CPU
//! adapters and GPUs) whatever the adapter.
//!
//! Tolerances are relative to the output's scale (max |reference|) and come from
//! `gpu_resnet::check::tolerance`, which `gpu-resnet check` uses too; its documentation gives
//! the reasoning (FP32 conv 2e-5; f16 storage 4 x 2^-11; native f16 math (4 + sqrt(K)) x 2^-11).

mod common;

use common::*;
use gpu_resnet::arch::{ConvLayer, ConvRole};
use gpu_resnet::check;
use gpu_resnet::check::once::{conv_once, head_once, max_pool_once};
use gpu_resnet::kernels::conv::TILE_POLICIES;
use gpu_resnet::kernels::winograd::Winograd;
use gpu_resnet::reference::{self, Activation};
use gpu_resnet::weights::synthetic::Rng;
use gpu_resnet::Storage;

fn layer(cin: usize, cout: usize, kernel: usize, stride: usize, avg_pool_input: bool) -> ConvLayer {
    ConvLayer {
        name: format!("test {kernel}x{kernel}/{stride} {cin}->{cout}"),
        role: ConvRole::Stem(0),
        cin,
        cout,
        kernel,
        stride,
        avg_pool_input,
    }
}

/// The storages the default adapter runs (a missing SHADER_F16 is a visible skip).
fn storages() -> Vec<Storage> {
    let mut s = vec![Storage::F32, Storage::F16Packed];
    if requires(
        "kernels: native f16 storages",
        ctx(),
        wgpu::Features::SHADER_F16,
        None,
    ) {
        s.push(Storage::F16Native);
        s.push(Storage::F16Mixed);
    }
    s
}

/// The storages `ctx` runs (GL: no SHADER_F16, by design).
fn storages_of(ctx: &gpu_resnet::GpuContext) -> Vec<Storage> {
    let mut s = vec![Storage::F32, Storage::F16Packed];
    if ctx.has(wgpu::Features::SHADER_F16) {
        s.push(Storage::F16Native);
        s.push(Storage::F16Mixed);
    }
    s
}

/// The tile policies this adapter can run: all of them, less shared weights where its
/// subgroups are not of the fixed size that policy assumes.
fn tile_policies() -> Vec<(wgpu::DeviceType, Option<u32>)> {
    TILE_POLICIES
        .into_iter()
        .filter(|(_, sg)| sg.is_none() || *sg == ctx().fixed_subgroup_size())
        .collect()
}

/// The conv cases `gpu-resnet check` runs (every distinct conv of every architecture, and the
/// awkward shapes), here with the tile of every policy, not only this adapter's.
#[test]
fn conv_matches_reference_on_model_and_odd_shapes() {
    let cases: Vec<_> = check::cases::kernel_cases()
        .into_iter()
        .filter(|c| c.family == "conv")
        .collect();
    assert!(cases.len() > 20, "{} conv cases", cases.len());
    conv_cases_match_reference_with_every_tile_policy(&cases);
}

/// The stems alone (the cases whose direct tile reads rows of taps: the 7x7/2 stem at the
/// model size, 224, 320, odd maps and batches, the deep stem's first conv, a kernel larger
/// than the map): a quicker run of the same check for work on that path.
#[test]
fn stems_match_reference_with_every_tile_policy() {
    let cases: Vec<_> = check::cases::kernel_cases()
        .into_iter()
        .filter(|c| c.reads_rows_of_taps())
        .collect();
    assert!(cases.len() >= 8, "{} stem cases", cases.len());
    conv_cases_match_reference_with_every_tile_policy(&cases);
}

fn conv_cases_match_reference_with_every_tile_policy(cases: &[check::cases::KernelCase]) {
    assert!(
        tile_policies().len() == TILE_POLICIES.len(),
        "lavapipe runs every tile policy, shared weights included"
    );
    let mut failures = Vec::new();
    for case in cases {
        for storage in storages() {
            for (device, subgroup) in tile_policies() {
                let got = case
                    .run_with_tiles_for(ctx(), storage, device, subgroup)
                    .expect("conv dispatch");
                let err = rel_err(&got, case.expected());
                let tol = tolerance(storage, case.compared);
                if err > tol {
                    failures.push(format!(
                        "{} {} tiles for {device:?} subgroup {subgroup:?}: rel err {err:.2e} > {tol:.2e}",
                        case.name,
                        storage.name()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "conv mismatches:\n{}",
        failures.join("\n")
    );
}

/// Winograd F(2x2, 3x3), and F(4x4, 3x3) where the storage allows it, on every 3x3 stride-1
/// conv case (the model shapes, 1x1 and odd maps, batch 3, padding edges), in every storage,
/// with the default tile as its GEMM's (weights shared by subgroups on lavapipe), on Vulkan and
/// on GL: within the direct conv's tolerances.
#[test]
fn winograd_matches_reference_on_every_3x3_stride_1_case() {
    let cases: Vec<_> = check::cases::kernel_cases()
        .into_iter()
        .filter(|c| c.family == "conv")
        .collect();
    let mut failures = Vec::new();
    let mut runs = [0; 2];
    for (ctx, storages) in [(ctx(), storages()), (gl_ctx(), storages_of(gl_ctx()))] {
        // GL tests of one binary take turns (see gl_exclusive).
        let _turn = (ctx.info.backend == wgpu::Backend::Gl).then(gl_exclusive);
        for case in &cases {
            for &storage in &storages {
                for wino in Winograd::ALL {
                    let tile = |cout| gpu_resnet::kernels::conv::tile_for_cout(ctx, cout);
                    let Some(got) = case.run_winograd(ctx, (storage, wino), tile) else {
                        continue;
                    };
                    runs[wino.index()] += 1;
                    let got = got.expect("winograd dispatches");
                    let err = rel_err(&got, case.expected());
                    let tol = tolerance(storage, case.compared);
                    if err > tol {
                        failures.push(format!(
                            "{wino:?} {} {} on {}: rel err {err:.2e} > {tol:.2e}",
                            case.name,
                            storage.name(),
                            ctx.describe()
                        ));
                    }
                }
            }
        }
    }
    assert!(runs[0] >= 16 && runs[1] >= 4, "{runs:?} winograd runs");
    assert!(
        failures.is_empty(),
        "winograd mismatches:\n{}",
        failures.join("\n")
    );
}

/// The conv reading its input activation from a texture (`ConvVariant::act_texture`, what
/// `cargo bench --bench act_texture` measures against the buffer read) on every conv case, in
/// every storage, on Vulkan and on GL: within the direct conv's tolerances.
#[test]
fn conv_with_a_texture_input_matches_reference_vulkan_and_gl() {
    let cases: Vec<_> = check::cases::kernel_cases()
        .into_iter()
        .filter(|c| c.family == "conv")
        .collect();
    let mut failures = Vec::new();
    let mut runs = 0;
    // The texture read is the same code in every f16 storage but native f16's (it returns f32
    // texels): F16Mixed adds nothing over F16Packed, and GL (no SHADER_F16) runs FP32 only.
    let vulkan: Vec<Storage> = storages()
        .into_iter()
        .filter(|&s| s != Storage::F16Mixed)
        .collect();
    for (ctx, storages) in [(ctx(), vulkan), (gl_ctx(), vec![Storage::F32])] {
        let _turn = (ctx.info.backend == wgpu::Backend::Gl).then(gl_exclusive);
        for case in &cases {
            for &storage in &storages {
                let got = case
                    .run_act_texture(ctx, storage)
                    .expect("a conv case")
                    .expect("conv dispatch with a texture input");
                runs += 1;
                let err = rel_err(&got, case.expected());
                let tol = tolerance(storage, case.compared);
                if err > tol {
                    failures.push(format!(
                        "{} {} on {}: rel err {err:.2e} > {tol:.2e}",
                        case.name,
                        storage.name(),
                        ctx.describe()
                    ));
                }
            }
        }
    }
    assert!(runs >= 2 * cases.len(), "{runs} runs");
    assert!(
        failures.is_empty(),
        "texture-input conv mismatches:\n{}",
        failures.join("\n")
    );
}

/// F(4x4, 3x3) on the 3x3 stride-1 convs of the ResNets at full size: each stage's width
/// (64..512: the basic blocks' 3x3s and the bottlenecks' alike) on its map at 224 (56, 28,
/// 14, 7) and at 320 (80, 40, 20, 10: maps not a multiple of 4 among them), batches 1 and 3,
/// with and without the residual and the ReLU. The error of every storage is measured and
/// printed (`--nocapture`) and must be within the direct conv's tolerance, unchanged (in f16
/// plans Winograd keeps its scratch in FP32: `winograd::SCRATCH`). F(2x2) runs the same cases as the baseline.
#[test]
fn winograd4_matches_reference_on_resnet_3x3_shapes_at_224_and_320() {
    let ctx = ctx();
    let mut rng = Rng::new(21);
    let mut failures = Vec::new();
    let mut table = vec![format!(
        "| tile | shape | storage | max abs err | rel err | tolerance |"
    )];
    table.push("|---|---|---|---:|---:|---:|".into());
    let maps = [(64, 56, 80), (128, 28, 40), (256, 14, 20), (512, 7, 10)];
    let mut k = 0;
    for (c, at224, at320) in maps {
        for map in [at224, at320] {
            for (n, residual, relu) in [(1, true, true), (3, false, true), (1, false, false)] {
                k += 1;
                let shape = check::cases::ConvShape {
                    layer: layer(c, c, 3, 1, false),
                    n,
                    h: map,
                    w: map,
                    residual,
                    relu,
                    origin: format!("ResNet 3x3 at {map}x{map}"),
                };
                let case = check::cases::KernelCase::conv(&mut rng, &shape);
                let want = case.expected();
                for storage in storages() {
                    let tol = tolerance(storage, case.compared);
                    for wino in Winograd::ALL {
                        let tile = |cout| gpu_resnet::kernels::conv::tile_for_cout(ctx, cout);
                        let got = case
                            .run_winograd(ctx, (storage, wino), tile)
                            .expect("a 3x3 stride-1 case")
                            .expect("winograd dispatches");
                        let err = rel_err(&got, want);
                        let abs = got
                            .iter()
                            .zip(want)
                            .fold(0.0f64, |m, (&a, &b)| m.max((a as f64 - b as f64).abs()));
                        table.push(format!(
                            "| {wino:?} | {c}->{c} {map}x{map} n{n}{}{} | {} | {abs:.2e} | {err:.2e} | {tol:.1e} |",
                            if residual { " +res" } else { "" },
                            if relu { " relu" } else { "" },
                            storage.name(),
                        ));
                        if err > tol {
                            failures.push(format!(
                                "{wino:?} {} {}: rel err {err:.2e} > {tol:.2e}",
                                case.name,
                                storage.name()
                            ));
                        }
                    }
                }
            }
        }
    }
    println!("{}", table.join("\n"));
    assert_eq!(k, 24, "cases");
    assert!(
        failures.is_empty(),
        "winograd4 mismatches:\n{}",
        failures.join("\n")
    );
}

/// Every tile the tuner may choose on this adapter (`gpu_resnet::tune::candidates`), on the
/// awkward conv shapes and the smallest model shape each fits, in FP32: a tuned plan must
/// compute what the default one does.
#[test]
fn conv_matches_reference_with_every_tuner_candidate() {
    let cases: Vec<_> = check::cases::kernel_cases()
        .into_iter()
        .filter(|c| c.family == "conv")
        .collect();
    // kernel_cases lists the model shapes first, then the awkward ones.
    let awkward = check::cases::awkward_conv_shapes().len();
    let first_awkward = cases.len() - awkward;
    let candidates = gpu_resnet::tune::candidates(ctx());
    assert!(candidates.len() >= 11, "{} candidates", candidates.len());
    let mut failures = Vec::new();
    let mut runs = 0;
    for tile in &candidates {
        // The awkward shapes it fits, and the smallest model shape it fits.
        let fitting: Vec<_> = cases
            .iter()
            .enumerate()
            .filter(|(_, c)| gpu_resnet::tune::fits(ctx(), tile, c.conv_cout().unwrap()))
            .collect();
        let smallest_model = fitting
            .iter()
            .filter(|(i, _)| *i < first_awkward)
            .min_by_key(|(_, c)| c.expected().len());
        let chosen = fitting
            .iter()
            .filter(|(i, _)| *i >= first_awkward)
            .chain(smallest_model)
            .map(|(_, c)| c);
        for case in chosen {
            let got = case
                .run_with_tile(ctx(), Storage::F32, |_, _| *tile)
                .expect("conv dispatch");
            runs += 1;
            let err = rel_err(&got, case.expected());
            let tol = tolerance(Storage::F32, case.compared);
            if err > tol {
                failures.push(format!(
                    "{} tile {tile:?}: rel err {err:.2e} > {tol:.2e}",
                    case.name
                ));
            }
        }
    }
    assert!(runs > candidates.len(), "{runs} runs");
    assert!(
        failures.is_empty(),
        "conv mismatches:\n{}",
        failures.join("\n")
    );
}

/// The staged tile (workgroup memory, `// @if STAGED` in conv.wgsl) with every micro-tile the
/// tuner offers (those whose channel groups divide the layer's), on every conv case (model
/// shapes, 1x1 and odd maps, channels % 4 != 0, stride 2, the 7x7 stem, the vd pooled read,
/// +res, pixel blocks cut short), in every storage each adapter has, on Vulkan and GL; and as
/// Winograd's batched GEMM on every 3x3 stride-1 case (slabs of whole blocks).
#[test]
fn staged_tile_matches_reference_on_every_conv_case_vulkan_and_gl() {
    use gpu_resnet::kernels::staged;
    let cases: Vec<_> = check::cases::kernel_cases()
        .into_iter()
        .filter(|c| c.family == "conv")
        .collect();
    let mut failures = Vec::new();
    let (mut runs, mut winograd_runs) = (0, 0);
    for (ctx, storages) in [(ctx(), storages()), (gl_ctx(), storages_of(gl_ctx()))] {
        let _turn = (ctx.info.backend == wgpu::Backend::Gl).then(gl_exclusive);
        let tiles: Vec<_> = gpu_resnet::tune::candidates(ctx)
            .into_iter()
            .filter(|t| t.staged)
            .collect();
        assert_eq!(
            tiles.len(),
            staged::MICRO_TILES.len(),
            "every staged micro-tile is a candidate on {}",
            ctx.describe()
        );
        for case in &cases {
            let cout = case.conv_cout().unwrap();
            let fitting = tiles
                .iter()
                .filter(|t| gpu_resnet::tune::fits(ctx, t, cout));
            for tile in fitting {
                for &storage in &storages {
                    let tol = tolerance(storage, case.compared);
                    let mut check = |what: &str, got: Vec<f32>| {
                        let err = rel_err(&got, case.expected());
                        if err > tol {
                            failures.push(format!(
                                "{}{what} {} {} on {}: rel err {err:.2e} > {tol:.2e}",
                                case.name,
                                gpu_resnet::tune::describe(tile),
                                storage.name(),
                                ctx.describe()
                            ));
                        }
                    };
                    let got = case
                        .run_with_tile(ctx, storage, |_, _| *tile)
                        .expect("staged conv dispatch");
                    check("", got);
                    runs += 1;
                    for wino in Winograd::ALL {
                        if let Some(got) = case.run_winograd(ctx, (storage, wino), |_| *tile) {
                            let what = format!(" {}", wino.name());
                            check(&what, got.expect("winograd dispatches"));
                            winograd_runs += 1;
                        }
                    }
                }
            }
        }
    }
    // Every case has at least the 64x32 block (tn4 = 1 divides any layer).
    assert!(runs >= cases.len() * 6, "{runs} staged runs");
    assert!(winograd_runs >= 16, "{winograd_runs} staged winograd runs");
    assert!(
        failures.is_empty(),
        "staged conv mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn conv_detects_a_wrong_weight() {
    // The comparison itself must be able to fail: perturb one weight and expect a mismatch.
    let mut rng = Rng::new(5);
    let l = layer(16, 16, 3, 1, false);
    let x = random_activation(&mut rng, 1, 16, 6, 6);
    let p = random_conv_bn(&mut rng, 16, 16, 3);
    let want = reference::conv_bn(&x, &l, &p, false);
    let mut wrong = p.clone();
    wrong.weight_mut()[100] += 0.5;
    let got = conv_once(ctx(), Storage::F32, &l, &x, &wrong, None, false).unwrap();
    assert!(rel_err(&got.data, &want.data) > 1e-3);
}

#[test]
fn max_pool_matches_reference() {
    let mut rng = Rng::new(3);
    for &(n, c, h, w) in &[(1, 64, 112, 112), (3, 8, 7, 5), (1, 4, 1, 1), (2, 12, 2, 3)] {
        let mut x = random_activation(&mut rng, n, c, h, w);
        // negative values too: padding must never win
        x.data.iter_mut().for_each(|v| *v -= 0.75);
        let want = reference::max_pool_3x3s2(&x);
        for storage in storages() {
            let got = max_pool_once(ctx(), storage, &x).unwrap();
            assert_eq!((got.h, got.w), (want.h, want.w));
            let tol = tolerance(storage, Compared::MaxPool);
            let err = rel_err(&got.data, &want.data);
            assert!(
                err <= tol,
                "max pool {n}x{c}x{h}x{w} {}: rel err {err:.2e}",
                storage.name()
            );
        }
    }
}

/// The head (pool pass, then the FC with several images per lane, its weights a texture) on
/// Vulkan and GL, in every storage: ImageNet heads, fine-tuned heads with odd class counts
/// (1000/102/10/7/1), features not a multiple of 4, batches of 1, lanes' images filled (3, 8)
/// and spread over two with a padded image (9).
#[test]
fn head_matches_reference() {
    let mut rng = Rng::new(9);
    // (n, features, h, w, classes)
    let shapes = [
        (2, 2048, 7, 7, 1000),
        (1, 512, 7, 7, 1000),
        (3, 512, 1, 1, 10),
        (1, 8, 3, 2, 7),
        (2, 2048, 10, 10, 102),
        (8, 64, 2, 2, 102),
        (9, 12, 3, 3, 7),
        (1, 2048, 7, 7, 1000),
        (1, 2048, 10, 10, 102),
        (1, 10, 2, 3, 7),
        (3, 6, 1, 1, 1),
    ];
    let cases: Vec<_> = shapes
        .iter()
        .map(|&(n, c, h, w, classes)| {
            let x: Activation = random_activation(&mut rng, n, c, h, w);
            let fc_w: Vec<f32> = (0..c * classes).map(|_| rng.uniform() * 0.05).collect();
            let fc_b: Vec<f32> = (0..classes).map(|_| rng.uniform()).collect();
            let want = reference::head(&x, &fc_w, &fc_b);
            (x, fc_w, fc_b, want)
        })
        .collect();
    for (ctx, storages) in [(ctx(), storages()), (gl_ctx(), storages_of(gl_ctx()))] {
        let _turn = (ctx.info.backend == wgpu::Backend::Gl).then(gl_exclusive);
        for (x, fc_w, fc_b, want) in &cases {
            for &storage in &storages {
                let got = head_once(ctx, storage, x, fc_w, fc_b).unwrap();
                // f16 storage of features and weights; sums stay f32 in this kernel
                let tol = tolerance(storage, Compared::Head);
                let err = rel_err(&got, want);
                assert!(
                    err <= tol,
                    "head {}x{}x{}x{}->{} {} on {:?}: rel err {err:.2e} > {tol:.2e}",
                    x.n,
                    x.c,
                    x.h,
                    x.w,
                    fc_b.len(),
                    storage.name(),
                    ctx.info.backend
                );
            }
        }
    }
}
