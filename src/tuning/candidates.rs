//! The conv tiles the tuner tries on an adapter, and what one pipeline build may cost.

use serde::{Deserialize, Serialize};

use crate::gpu::GpuContext;
use crate::kernels::conv::{c4, Tile, WORKGROUP};
use crate::kernels::staged;

/// Register tiles as (pixels, channel groups of 4), smallest first: from a GPU-sized 4x8 up
/// to the 16x64 tile measured best on llvmpipe.
const SHAPES: [(u32, u32); 11] = [
    (4, 2),
    (8, 1),
    (8, 2),
    (4, 4),
    (8, 4),
    (16, 2),
    (16, 4),
    (8, 8),
    (16, 8),
    (8, 16),
    (16, 16),
];

/// The largest tile a cache entry may ask for (a damaged file must not build a huge kernel).
const MAX_ACCUMULATORS: u32 = 1024;

/// Every tile worth timing on this adapter, fewest accumulators first: each register tile
/// with per-invocation weight fetches, and, where the adapter has subgroups of one fixed size,
/// with weights shared by subgroup broadcast too; and the staged tiles (workgroup memory,
/// shaped for GPUs) on every adapter whose workgroup memory holds them, so that they are
/// chosen wherever they measure faster.
pub fn candidates(ctx: &GpuContext) -> Vec<Tile> {
    let mut out = Vec::new();
    for (tm, tn4) in SHAPES {
        let plain = Tile {
            tm,
            tn4,
            share: 0,
            staged: false,
        };
        out.push(plain);
        if let Some(s) = ctx.fixed_subgroup_size() {
            let shared = Tile { share: s, ..plain };
            if share_fits(&shared) {
                out.push(shared);
            }
        }
        let staged = staged::tile(tm, tn4);
        if staged::MICRO_TILES.contains(&(tm, tn4)) && staged_fits(&TileRules::of(ctx), &staged) {
            out.push(staged);
        }
    }
    out
}

/// Whether the device's workgroup memory holds a staged tile in every storage.
fn staged_fits(rules: &TileRules, tile: &Tile) -> bool {
    staged::max_workgroup_bytes(tile) <= rules.workgroup_storage_bytes
}

/// Accumulators per invocation: what a pipeline's build cost grows with.
pub fn accumulators(tile: &Tile) -> u32 {
    tile.tm * tile.tn4 * 4
}

fn share_fits(tile: &Tile) -> bool {
    tile.share > 1 && tile.share <= WORKGROUP && (tile.tn4 * 4).is_multiple_of(tile.share)
}

/// What of a device decides which tiles it can run: recorded with the shipped table, so that a
/// test can check its entries against the current rules without that device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileRules {
    /// The subgroup size where the adapter has subgroups of one fixed size (shared tiles).
    pub fixed_subgroup_size: Option<u32>,
    /// `max_compute_workgroup_storage_size` (staged tiles).
    pub workgroup_storage_bytes: u32,
}

impl TileRules {
    pub fn of(ctx: &GpuContext) -> TileRules {
        TileRules {
            fixed_subgroup_size: ctx.fixed_subgroup_size(),
            workgroup_storage_bytes: ctx.limits.max_compute_workgroup_storage_size,
        }
    }
}

/// Whether `tile` can run a conv with `cout` output channels on this device.
pub fn fits(ctx: &GpuContext, tile: &Tile, cout: usize) -> bool {
    fits_rules(&TileRules::of(ctx), tile, cout)
}

/// [`fits`] on a device with these rules.
pub fn fits_rules(rules: &TileRules, tile: &Tile, cout: usize) -> bool {
    let sizes_ok = (1..=32).contains(&tile.tm)
        && (1..=16).contains(&tile.tn4)
        && accumulators(tile) <= MAX_ACCUMULATORS
        && (c4(cout) as u32).is_multiple_of(tile.tn4);
    let share_ok =
        tile.share == 0 || (Some(tile.share) == rules.fixed_subgroup_size && share_fits(tile));
    // A staged tile: no subgroup sharing, and its block within the workgroup memory (a
    // damaged cache entry must not ask for more).
    let staged_ok = !tile.staged || (tile.share == 0 && staged_fits(rules, tile));
    sizes_ok && share_ok && staged_ok
}

/// What one pipeline build may cost before the tuner stops trying larger tiles: some CPU
/// adapters' shader compilers take minutes or gigabytes on large unrolled tiles (SwiftShader
/// ran out of memory on the 16x64 tile), and a build cannot be interrupted. Tiles are tried
/// smallest first; once a build takes more than a quarter of a budget, no tile of its kind
/// (per-lane fetches, shared weights, staged) with more accumulators is built (the next size
/// up costs about 2-4x as much).
#[derive(Clone, Copy, Debug)]
pub struct BuildBudget {
    pub seconds: f64,
    pub megabytes: f64,
}

impl Default for BuildBudget {
    fn default() -> Self {
        BuildBudget {
            seconds: 20.0,
            megabytes: 2048.0,
        }
    }
}

impl BuildBudget {
    /// Whether a build that took `seconds` and grew the peak memory by `megabytes` leaves room
    /// for the next size up.
    pub fn allows_larger(&self, seconds: f64, megabytes: f64) -> bool {
        seconds <= self.seconds / 4.0 && megabytes <= self.megabytes / 4.0
    }
}

/// The process's peak resident memory in MB (Linux), after resetting it where the kernel
/// allows, so that the next reading measures what happens from now on.
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident memory since the last reset, in MB, where the platform says.
pub(crate) fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The process's resident memory now, in MB (Linux).
#[cfg(not(target_arch = "wasm32"))]
fn rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Watches one pipeline build: a shader compiler cannot be interrupted, and on SwiftShader a
/// 16-pixel register tile grew the process past 17 GB within a minute (a larger
/// `--max-build-seconds` had let the tuner reach it). If resident memory grows by more than
/// the whole memory budget while the build runs, the process stops with an error naming the
/// tile and the budget instead of taking the machine down. Stops watching when dropped.
pub(crate) struct BuildWatch {
    #[cfg(not(target_arch = "wasm32"))]
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BuildWatch {
    pub(crate) fn start(what: String, budget_mb: f64) -> BuildWatch {
        #[cfg(not(target_arch = "wasm32"))]
        {
            use std::sync::atomic::{AtomicBool, Ordering};
            let done = std::sync::Arc::new(AtomicBool::new(false));
            if let Some(before) = rss_mb() {
                let stop = done.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if rss_mb().is_some_and(|now| now - before > budget_mb) {
                            eprintln!(
                                "error: building {what} grew this process by over {budget_mb:.0} MB \
                                 (--max-build-mb); stopping before the machine runs out of memory. \
                                 Tiles built so far are not cached; rerun with a smaller \
                                 --max-build-seconds so that this tile is not tried."
                            );
                            std::process::exit(3);
                        }
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                });
            }
            BuildWatch { done }
        }
        #[cfg(target_arch = "wasm32")]
        {
            let _ = (what, budget_mb);
            BuildWatch {}
        }
    }
}

impl Drop for BuildWatch {
    fn drop(&mut self) {
        #[cfg(not(target_arch = "wasm32"))]
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
