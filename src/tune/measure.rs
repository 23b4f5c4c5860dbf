//! The tuner: every candidate tile timed on every distinct conv shape of a model, at each
//! batch size, on this adapter.
//!
//! One candidate at a time, a whole plan is compiled with that tile on every conv it fits
//! (the heuristic's tile elsewhere) and run a few times with per-dispatch timestamps (or, on
//! adapters without them, each conv dispatch timed alone by wall clock). A shape's time is the
//! sum over its layers of each dispatch's fastest run, so a shape's candidates are compared on
//! the same layers. Candidates are built smallest first, and larger ones are skipped once a
//! build gets expensive ([`BuildBudget`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use crate::error::Result;
use crate::kernels::conv::{ConvVariant, Tile};
use crate::kernels::staged;
use crate::kernels::winograd::Winograd;
use crate::model::Model;
use crate::plan::{Plan, TileChoice};
use crate::tuning::candidates::{
    accumulators, candidates, peak_rss_mb, reset_peak_rss, BuildBudget, BuildWatch,
};
use crate::tuning::{ConvShape, TuneTable, TunedTile};

/// A conv's algorithm: the register tile, and the Winograd tile it is the GEMM tile of
/// (`None`: the direct conv).
pub type Choice = (Tile, Option<Winograd>);

/// A candidate must beat the heuristic by this fraction to replace it: smaller differences
/// are within what a shared CPU's timings wander.
const MARGIN: f64 = 0.03;

/// After the first round, a candidate runs again only if it is within this factor of the
/// fastest choice on some shape.
const KEEP: f64 = 1.25;

/// A candidate is timed at the next (larger) batch size only if it came within this factor of
/// the fastest choice on some shape at this one.
const KEEP_NEXT_BATCH: f64 = 1.6;

#[derive(Clone, Debug)]
pub struct TuneOptions {
    pub batches: Vec<usize>,
    /// Input height and width.
    pub size: (usize, usize),
    /// Rounds over the candidates per batch (each shape's fastest round counts); after the
    /// first, only candidates near the fastest on some shape run again.
    pub reps: usize,
    pub budget: BuildBudget,
}

/// What the tuner found for one conv shape.
#[derive(Clone, Debug)]
pub struct ShapeTiming {
    pub shape: ConvShape,
    /// Conv layers of this shape in the model.
    pub layers: usize,
    pub heuristic: Choice,
    pub heuristic_ms: f64,
    pub best: Choice,
    pub best_ms: f64,
    /// Every candidate that ran on this shape, with its time (ms, all the shape's layers).
    pub tried: Vec<(Choice, f64)>,
}

/// What happened to one candidate tile.
#[derive(Clone, Debug)]
pub struct CandidateReport {
    pub tile: Tile,
    /// Seconds and peak-memory growth (MB, where measurable) of building its pipelines, or
    /// why it was not built.
    pub build: std::result::Result<(f64, Option<f64>), String>,
}

/// Time the candidates on `model` and add the winners to `table`. `progress` hears a line
/// per step. Returns the per-shape timings and what each candidate's build cost.
pub fn tune_model(
    model: &Model,
    opts: &TuneOptions,
    table: &mut TuneTable,
    progress: &dyn Fn(&str),
) -> Result<(Vec<ShapeTiming>, Vec<CandidateReport>)> {
    let ctx = &model.ctx;
    let (h, w) = opts.size;
    // Winograd candidates in each tile the model has transformed weights for (F(4x4) only
    // where the storage allows it; the GEMM's tile is a 1x1 conv variant, built with the
    // direct tiles).
    let winograd = model.winograd_tiles();
    // Build the candidates smallest first, within the budget.
    let mut reports = Vec::new();
    let mut built = Vec::new();
    // Per kind of tile (per-lane fetches, subgroup-shared weights, staged), no candidate with
    // more accumulators than an expensive build's is built: the kinds' compile costs differ
    // (SwiftShader took 50 s on the shared 8x4 tile and 0.1 s on the plain 4x8).
    let kind = |t: &Tile| (t.share > 0, t.staged);
    let mut max_accumulators: HashMap<(bool, bool), u32> = HashMap::new();
    for tile in candidates(ctx) {
        let limit = max_accumulators
            .get(&kind(&tile))
            .copied()
            .unwrap_or(u32::MAX);
        if accumulators(&tile) > limit {
            reports.push(CandidateReport {
                tile,
                build: Err(format!(
                    "skipped: a smaller tile's build already cost over a quarter of the budget \
                     ({:.0} s, {:.0} MB)",
                    opts.budget.seconds, opts.budget.megabytes
                )),
            });
            continue;
        }
        progress(&format!("building tile {}", describe(&tile)));
        let (seconds, megabytes) = build(model, opts, tile);
        if !opts.budget.allows_larger(seconds, megabytes.unwrap_or(0.0)) {
            max_accumulators.insert(kind(&tile), accumulators(&tile));
        }
        reports.push(CandidateReport {
            tile,
            build: Ok((seconds, megabytes)),
        });
        built.push((tile, None));
        built.extend(winograd.iter().map(|&w| (tile, Some(w))));
    }
    // shape -> (heuristic tile, its ms, layers); shape -> candidates' ms.
    let mut heuristic: BTreeMap<ConvShape, (Choice, f64, usize)> = BTreeMap::new();
    let mut timed: BTreeMap<ConvShape, Vec<(Choice, f64)>> = BTreeMap::new();
    // Candidates still worth timing: a tile far from the fastest on every shape at one batch
    // size is not timed at the larger ones.
    let mut worth = vec![true; built.len()];
    let mut batches = opts.batches.clone();
    batches.sort_unstable();
    batches.dedup();
    for &batch in &batches {
        // Rounds over every choice (the heuristic first), so that a shared machine's noise
        // falls on all of them alike; after the first round only the choices within
        // `KEEP` of the best on some shape run again. Each dispatch's fastest run counts.
        let mut choices: Vec<TileChoice> = vec![TileChoice::Heuristic];
        choices.extend(built.iter().map(|&(t, w)| TileChoice::Override(t, w)));
        let mut best: Vec<BTreeMap<ConvShape, (Choice, f64, usize)>> =
            vec![BTreeMap::new(); choices.len()];
        let mut alive: Vec<bool> = std::iter::once(true).chain(worth.iter().copied()).collect();
        for round in 0..opts.reps.max(1) {
            progress(&format!(
                "batch {batch}: round {} of {}, {} choices",
                round + 1,
                opts.reps.max(1),
                alive.iter().filter(|a| **a).count()
            ));
            for (i, &choice) in choices.iter().enumerate() {
                if !alive[i] {
                    continue;
                }
                let plan = Plan::compile_tiled(model, batch, h, w, true, choice)?;
                for (shape, tile, ms, n) in shape_times(&plan)? {
                    let e = best[i].entry(shape).or_insert((tile, f64::INFINITY, n));
                    e.1 = e.1.min(ms);
                }
            }
            // The fastest time per shape so far; keep the choices near it somewhere.
            let mut fastest: BTreeMap<&ConvShape, f64> = BTreeMap::new();
            for b in &best {
                for (shape, &(_, ms, _)) in b {
                    let f = fastest.entry(shape).or_insert(f64::INFINITY);
                    *f = f.min(ms);
                }
            }
            let near = |i: usize, factor: f64| {
                best[i].iter().any(|(shape, &(tile, ms, _))| {
                    choices[i] == TileChoice::Override(tile.0, tile.1)
                        && ms <= fastest[shape] * factor
                })
            };
            if round == 0 {
                for (i, w) in worth.iter_mut().enumerate() {
                    *w = *w && near(i + 1, KEEP_NEXT_BATCH);
                }
            }
            for (i, a) in alive.iter_mut().enumerate().skip(1) {
                *a = *a && near(i, KEEP);
            }
        }
        for (choice, b) in choices.iter().zip(best) {
            for (shape, (tile, ms, n)) in b {
                match choice {
                    TileChoice::Override(t, w) if (*t, *w) == tile => {
                        timed.entry(shape).or_default().push((tile, ms))
                    }
                    TileChoice::Heuristic => {
                        heuristic.insert(shape, (tile, ms, n));
                    }
                    _ => {}
                }
            }
        }
    }
    let mut shapes = Vec::new();
    for (shape, (h_tile, h_ms, layers)) in heuristic {
        let tried = timed.remove(&shape).unwrap_or_default();
        let (best, best_ms): (Choice, f64) = tried
            .iter()
            .copied()
            .filter(|&(_, ms)| ms < h_ms * (1.0 - MARGIN))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((h_tile, h_ms));
        table.entries.insert(
            shape.key(),
            TunedTile {
                tm: best.0.tm,
                tn4: best.0.tn4,
                share: best.0.share,
                ms: best_ms,
                heuristic_ms: h_ms,
                winograd: best.1,
                staged: best.0.staged,
            },
        );
        shapes.push(ShapeTiming {
            shape,
            layers,
            heuristic: h_tile,
            heuristic_ms: h_ms,
            best,
            best_ms,
            tried,
        });
    }
    Ok((shapes, reports))
}

/// `16x64 sg8` (pixels x channels, and the subgroup that shares weights), with ` winograd`
/// (F(2x2)) or ` winograd4` (F(4x4)) where the tile is Winograd's GEMM's.
pub fn describe_choice(&(tile, winograd): &Choice) -> String {
    match winograd {
        Some(w) => format!("{} {}", describe(&tile), w.name()),
        None => describe(&tile),
    }
}

/// `16x64 sg8`: pixels x channels, and the subgroup that shares weights; `staged 64x64 (8x8)`:
/// the staged tile's workgroup block and each invocation's micro-tile.
pub fn describe(tile: &Tile) -> String {
    if tile.staged {
        return format!(
            "staged {}x{} ({}x{})",
            staged::block_pixels(tile),
            4 * staged::block_groups(tile),
            tile.tm,
            tile.tn4 * 4
        );
    }
    let share = if tile.share > 0 {
        format!(" sg{}", tile.share)
    } else {
        String::new()
    };
    format!("{}x{}{share}", tile.tm, tile.tn4 * 4)
}

/// Build the conv pipelines `tile` needs for this model, one kernel variant at a time; the
/// slowest build's seconds and the largest peak-memory growth.
fn build(model: &Model, opts: &TuneOptions, tile: Tile) -> (f64, Option<f64>) {
    let graph = model
        .arch
        .graph(opts.size.0, opts.size.1, model.classes, model.stage1);
    let mut seen = HashSet::new();
    let (mut seconds, mut megabytes) = (0.0f64, None::<f64>);
    for layer in &graph.convs {
        if !super::fits(&model.ctx, &tile, layer.cout) {
            continue;
        }
        let variant = ConvVariant::on(&model.ctx, layer, tile);
        if !seen.insert(variant) {
            continue;
        }
        reset_peak_rss();
        let before = peak_rss_mb();
        let _watch = BuildWatch::start(
            format!("tile {} ({})", describe(&tile), layer.name),
            opts.budget.megabytes,
        );
        let start = Instant::now();
        model
            .ctx
            .pipelines
            .get(&model.ctx.device, &variant.specialization(model.storage));
        seconds = seconds.max(start.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (before, peak_rss_mb()) {
            megabytes = Some(megabytes.unwrap_or(0.0).max(b - a));
        }
    }
    (seconds, megabytes)
}

/// Each conv shape of `plan` with its choice, its time (ms: the first layer of that shape
/// timed alone, the faster of two passes, times the number of layers of the shape) and its
/// number of layers. Later layers of a shape differ only in the residual read, which costs
/// every candidate alike; timing one layer per shape makes a candidate cost about a third of
/// a ResNet50 run instead of two.
fn shape_times(plan: &Plan) -> Result<Vec<(ConvShape, Choice, f64, usize)>> {
    // shape -> (choice, the first layer's op, dispatch indices of that op, layers)
    let mut shapes: BTreeMap<ConvShape, (Choice, usize, Vec<usize>, HashSet<usize>)> =
        BTreeMap::new();
    for (i, conv) in plan.convs.iter().enumerate() {
        if let Some(c) = conv {
            let e = shapes.entry(c.shape.clone()).or_insert((
                (c.tile, c.winograd),
                c.op,
                Vec::new(),
                HashSet::new(),
            ));
            if c.op == e.1 {
                e.2.push(i);
            }
            e.3.insert(c.op);
        }
    }
    let indices: Vec<usize> = shapes.values().flat_map(|e| e.2.clone()).collect();
    let first = plan.time_dispatches(&indices)?;
    let second = plan.time_dispatches(&indices)?;
    let ms: BTreeMap<usize, f64> = indices
        .iter()
        .zip(first.iter().zip(&second))
        .map(|(&i, (a, b))| (i, a.min(*b)))
        .collect();
    Ok(shapes
        .into_iter()
        .map(|(shape, (choice, _, dispatches, layers))| {
            let one: f64 = dispatches.iter().map(|i| ms[i]).sum();
            (shape, choice, one * layers.len() as f64, layers.len())
        })
        .collect())
}
