//! The conformance suite behind `gpu-resnet check` for an adapter and its driver. On each chosen
//! adapter and in each precision / f16 storage mode it runs every kernel family against the
//! CPU reference (`crate::reference`, via `check::once`), every architecture end to end, and
//! optionally PaddlePaddle golden cases, and reports each result's error next to the
//! tolerance it was held to (`tolerance::tolerance`, shared with the tests).

pub mod cases;
pub mod golden;
pub mod once;
pub mod report;
pub mod tolerance;

use web_time::Instant;

pub use report::{AdapterReport, Item, ModeReport, Report};
pub use tolerance::{ranks_agree, rel_err, tolerance, top_k, Compared, F16_EPS};

use crate::error::{Error, Result};
use crate::gpu::{list_adapters, BackendChoice, ContextOptions, GpuContext};
use crate::kernels::winograd::Winograd;
use crate::kernels::Storage;
use crate::model::{choose_storage, F16Mode, Model, Precision};
use cases::{KernelCase, ModelCase};
use golden::GoldenCase;
use report::{AdapterFeatures, AdapterLimits, FeaturesUsed};

/// Which adapters to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterChoice {
    /// wgpu's preferred adapter for the backend.
    Default,
    Index(usize),
    All,
}

/// One storage mode to check on an adapter.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    pub precision: Precision,
    pub chosen: &'static str,
    pub storage: Storage,
}

/// The modes for `precisions` on this adapter: FP32; FP16 as `choose_storage` picks it, packed
/// halves forced, and the other native-storage variant where SHADER_F16 exists.
pub fn modes(ctx: &GpuContext, precisions: &[Precision]) -> Result<Vec<Mode>> {
    let mut modes: Vec<Mode> = Vec::new();
    let mut add = |precision, chosen, storage| {
        if !modes.iter().any(|m| m.storage == storage) {
            modes.push(Mode {
                precision,
                chosen,
                storage,
            });
        }
    };
    for &p in precisions {
        match p {
            Precision::F32 => add(p, "", Storage::F32),
            Precision::F16 => {
                add(p, "auto", choose_storage(ctx, p, F16Mode::Auto)?);
                add(p, "forced", Storage::F16Packed);
                if ctx.has(wgpu::Features::SHADER_F16) {
                    add(p, "forced", Storage::F16Native);
                    add(p, "forced", Storage::F16Mixed);
                }
            }
        }
    }
    Ok(modes)
}

/// Everything the suite checks, with the reference answers (computed once for all adapters).
pub struct Suite {
    pub kernels: Vec<KernelCase>,
    pub models: Vec<ModelCase>,
    pub golden: Vec<GoldenCase>,
}

impl Suite {
    pub fn new(golden_dir: Option<&std::path::Path>) -> Result<Suite> {
        // Golden cases first: a wrong directory fails before seconds of reference work.
        let golden = match golden_dir {
            Some(dir) => golden::golden_cases(dir)?,
            None => Vec::new(),
        };
        Ok(Suite {
            kernels: cases::kernel_cases(),
            models: cases::model_cases(),
            golden,
        })
    }
}

/// Run the suite on the chosen adapters; `progress` gets a line per adapter and mode.
pub fn run(
    backend: BackendChoice,
    adapters: AdapterChoice,
    precisions: &[Precision],
    golden_dir: Option<&std::path::Path>,
    progress: &dyn Fn(&str),
) -> Result<Report> {
    let indices: Vec<Option<usize>> = match adapters {
        AdapterChoice::Default => vec![None],
        AdapterChoice::Index(i) => vec![Some(i)],
        AdapterChoice::All => {
            let count = list_adapters(backend).len();
            if count == 0 {
                return Err(Error::NoAdapter {
                    detail: format!(" for backend {backend:?}"),
                });
            }
            (0..count).map(Some).collect()
        }
    };
    // Devices first, so that a wrong `--adapter` fails before any reference work.
    let mut contexts = Vec::new();
    for index in indices {
        let ctx = GpuContext::new(ContextOptions {
            backend,
            adapter: index,
        });
        match ctx {
            // A single chosen adapter that cannot be opened is the command's error; one of
            // several is a failed adapter in the report.
            Err(e) if adapters != AdapterChoice::All => return Err(e),
            ctx => contexts.push((index, ctx)),
        }
    }
    let suite = Suite::new(golden_dir)?;
    let reports = contexts
        .into_iter()
        .map(|(index, ctx)| match ctx {
            Ok(ctx) => check_adapter(&ctx, index, &suite, precisions, progress),
            Err(e) => unusable_adapter(backend, index, e),
        })
        .collect();
    Ok(Report::new(reports))
}

fn unusable_adapter(backend: BackendChoice, index: Option<usize>, e: Error) -> AdapterReport {
    let info = index.and_then(|i| list_adapters(backend).get(i).map(|a| a.get_info()));
    AdapterReport {
        index,
        name: info.as_ref().map_or("?".into(), |i| i.name.clone()),
        backend: info
            .as_ref()
            .map_or("?".into(), |i| format!("{:?}", i.backend)),
        device_type: info
            .as_ref()
            .map_or("?".into(), |i| format!("{:?}", i.device_type)),
        driver: String::new(),
        features: AdapterFeatures::default(),
        limits: AdapterLimits::default(),
        error: Some(e.to_string()),
        modes: Vec::new(),
        seconds: 0.0,
    }
}

/// Run every case in every mode on one adapter.
pub fn check_adapter(
    ctx: &GpuContext,
    index: Option<usize>,
    suite: &Suite,
    precisions: &[Precision],
    progress: &dyn Fn(&str),
) -> AdapterReport {
    let start = Instant::now();
    let info = &ctx.info;
    let l = &ctx.limits;
    let mut report = AdapterReport {
        index,
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
        features: AdapterFeatures {
            shader_f16: ctx.has(wgpu::Features::SHADER_F16),
            subgroup: ctx.has(wgpu::Features::SUBGROUP),
            subgroup_min_size: info.subgroup_min_size,
            subgroup_max_size: info.subgroup_max_size,
            timestamp_query: ctx.has(wgpu::Features::TIMESTAMP_QUERY),
            timestamp_query_inside_passes: ctx.has(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES),
        },
        limits: AdapterLimits {
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
        },
        error: None,
        modes: Vec::new(),
        seconds: 0.0,
    };
    let label = format!(
        "adapter {}",
        index.map_or("default".into(), |i| i.to_string())
    );
    let modes = match ctx
        .check_requirements()
        .and_then(|()| modes(ctx, precisions))
    {
        Ok(m) => m,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    // Winograd runs in every mode in each tile.
    let winograd_cases = Winograd::ALL.len()
        * suite
            .kernels
            .iter()
            .filter(|c| c.runs_as_winograd())
            .count();
    let staged_cases = suite
        .kernels
        .iter()
        .filter(|c| c.conv_cout().is_some())
        .count();
    progress(&format!(
        "{label}: {}: up to {} kernel ({} of them Winograd, {} staged), {} model and {} golden checks in {} mode(s)",
        ctx.describe(),
        suite.kernels.len() + winograd_cases + staged_cases,
        winograd_cases,
        staged_cases,
        suite.models.len(),
        suite.golden.len(),
        modes.len()
    ));
    report.modes = modes
        .iter()
        .map(|m| ModeReport {
            precision: m.precision.name(),
            chosen: m.chosen,
            storage: m.storage.name(),
            uses: FeaturesUsed {
                shader_f16: m.storage.needs_shader_f16(),
                subgroups: crate::kernels::conv::shares_weights(ctx),
                timestamps: false,
                tuned_convs: 0,
            },
            seconds: 0.0,
            items: Vec::new(),
        })
        .collect();

    for (mode, out) in modes.iter().zip(&mut report.modes) {
        let t = Instant::now();
        out.items.extend(
            suite
                .kernels
                .iter()
                .map(|c| kernel_item(ctx, mode.storage, c)),
        );
        // Winograd F(2x2, 3x3) and F(4x4, 3x3) on every 3x3 stride-1 conv case, its GEMM in
        // the default tile; the staged workgroup-memory tile on every conv case. A tuned plan
        // may pick any of them on any adapter.
        for w in Winograd::ALL {
            out.items.extend(
                suite
                    .kernels
                    .iter()
                    .filter_map(|c| winograd_item(ctx, (mode.storage, w), c)),
            );
        }
        out.items.extend(
            suite
                .kernels
                .iter()
                .filter_map(|c| staged_item(ctx, mode.storage, c)),
        );
        out.seconds += t.elapsed().as_secs_f64();
    }
    // Architecture-major: each network's weights are made once for all modes.
    for case in &suite.models {
        let weights = case.weights();
        let expected = case.expected(&weights);
        for (mode, out) in modes.iter().zip(&mut report.modes) {
            let t = Instant::now();
            let (item, (timed, tuned)) = network_item(
                ctx,
                mode.storage,
                "model",
                case.name(),
                &weights,
                (case.n, case.size, case.size),
                &case.input,
                expected,
            );
            out.uses.timestamps |= timed;
            out.uses.tuned_convs += tuned;
            out.items.push(item);
            out.seconds += t.elapsed().as_secs_f64();
        }
    }
    for case in &suite.golden {
        for (mode, out) in modes.iter().zip(&mut report.modes) {
            let t = Instant::now();
            let item = match &case.loaded {
                Ok(g) => {
                    let (item, (timed, tuned)) = network_item(
                        ctx,
                        mode.storage,
                        "golden",
                        format!(
                            "golden {} {}x{} n{} (PaddlePaddle logits)",
                            case.name, g.h, g.w, g.n
                        ),
                        &g.weights,
                        (g.n, g.h, g.w),
                        &g.input,
                        &g.logits,
                    );
                    out.uses.timestamps |= timed;
                    out.uses.tuned_convs += tuned;
                    item
                }
                Err(e) => Item {
                    family: "golden",
                    name: format!("golden {}", case.name),
                    passed: false,
                    max_rel_err: None,
                    tolerance: tolerance(mode.storage, Compared::Golden),
                    note: Some(e.clone()),
                },
            };
            out.items.push(item);
            out.seconds += t.elapsed().as_secs_f64();
        }
    }
    for m in &report.modes {
        progress(&format!(
            "{label} {} {}: {} of {} passed in {:.1} s",
            m.precision,
            m.storage,
            m.items.len() - m.failed(),
            m.items.len(),
            m.seconds
        ));
    }
    report.seconds = start.elapsed().as_secs_f64();
    report
}

fn kernel_item(ctx: &GpuContext, storage: Storage, case: &KernelCase) -> Item {
    let got = case.run(ctx, storage);
    compared_item(case.family, case.name.clone(), storage, case, got)
}

/// `case` run as Winograd in tile `w`, where it is a 3x3 stride-1 conv.
fn winograd_item(
    ctx: &GpuContext,
    (storage, w): (Storage, Winograd),
    case: &KernelCase,
) -> Option<Item> {
    let tile = |cout| crate::kernels::conv::tile_for_cout(ctx, cout);
    let got = case.run_winograd(ctx, (storage, w), tile)?;
    let name = format!("{} {}", w.name(), case.name);
    Some(compared_item(w.name(), name, storage, case, got))
}

/// `case` run with the staged tile's smallest block (64 pixels x 32 channels, which fits any
/// layer), where it is a conv.
fn staged_item(ctx: &GpuContext, storage: Storage, case: &KernelCase) -> Option<Item> {
    case.conv_cout()?;
    let tile = crate::kernels::staged::tile(8, 1);
    let got = case.run_with_tile(ctx, storage, |_, _| tile);
    let name = format!("staged {}", case.name);
    Some(compared_item("staged", name, storage, case, got))
}

/// The item for `got`, `case`'s output on the adapter, against its reference answer.
fn compared_item(
    family: &'static str,
    name: String,
    storage: Storage,
    case: &KernelCase,
    got: Result<Vec<f32>>,
) -> Item {
    let tol = tolerance(storage, case.compared);
    let (err, note) = match got {
        Ok(got) => (Some(rel_err(&got, case.expected())), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Item {
        family,
        name,
        passed: err.is_some_and(|e| e <= tol),
        max_rel_err: err,
        tolerance: tol,
        note,
    }
}

/// A whole network in `storage` against `expected` logits; also says whether the plan timed
/// its pass with timestamp queries and how many of its convs used tuned tiles.
#[allow(clippy::too_many_arguments)]
fn network_item(
    ctx: &GpuContext,
    storage: Storage,
    family: &'static str,
    name: String,
    weights: &crate::weights::ModelWeights,
    (n, h, w): (usize, usize, usize),
    input: &[f32],
    expected: &[f32],
) -> (Item, (bool, usize)) {
    let compared = if family == "golden" {
        Compared::Golden
    } else {
        Compared::Model
    };
    let tol = tolerance(storage, compared);
    let run = || -> Result<(Vec<f32>, (bool, usize))> {
        let model = Model::new(ctx, weights, storage)?;
        let plan = model.plan(n, h, w)?;
        Ok((
            plan.run(input)?,
            (plan.has_gpu_timer(), plan.tuned_convs().0),
        ))
    };
    let (err, note, timed) = match run() {
        Ok((got, timed)) => {
            let err = rel_err(&got, expected);
            // Golden cases also keep PaddlePaddle's ranking of the classes.
            let ranks = match compared {
                Compared::Golden => ranks_agree(storage, &got, expected, weights.classes).err(),
                _ => None,
            };
            (Some(err), ranks, timed)
        }
        Err(e) => (None, Some(e.to_string()), (false, 0)),
    };
    let passed = err.is_some_and(|e| e <= tol) && note.is_none();
    (
        Item {
            family,
            name,
            passed,
            max_rel_err: err,
            tolerance: tol,
            note,
        },
        timed,
    )
}
