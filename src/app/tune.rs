//! `gpu-resnet tune`: measure the conv tiles on this adapter and cache the winners, which
//! every later plan of the same adapter, driver, backend, build and storage uses.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::app::args::DeviceArgs;
use crate::arch;
use crate::error::{Error, Result};
use crate::model::{choose_storage, F16Mode, Model, Precision};
use crate::open::{load_weights, WeightsSource};
use crate::tune::{
    self, describe, describe_choice, BuildBudget, TuneOptions, TuneStamp, TuneTable,
};
use crate::tuning::shipped::{ShippedDefaults, ShippedTable};
use crate::tuning::TileRules;

#[derive(Args, Debug)]
pub struct TuneArgs {
    /// Models whose conv shapes to tune, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec!["ResNet50".to_string()])]
    pub models: Vec<String>,
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 4, 8])]
    pub batch: Vec<usize>,
    #[arg(long, value_delimiter = ',', value_enum, default_values_t = vec![Precision::F32])]
    pub precision: Vec<Precision>,
    #[arg(long, value_enum, default_value_t = F16Mode::Auto)]
    pub f16_mode: F16Mode,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Timed runs per candidate tile and batch (each dispatch's fastest counts).
    #[arg(long, default_value_t = 2)]
    pub reps: usize,
    /// Larger tiles are not built once one pipeline's build took over a quarter of this.
    #[arg(long, default_value_t = BuildBudget::default().seconds)]
    pub max_build_seconds: f64,
    /// Larger tiles are not built once one build grew peak memory by over a quarter of this;
    /// a build that grows memory past all of it stops the tuner with an error naming the tile.
    #[arg(long, default_value_t = BuildBudget::default().megabytes)]
    pub max_build_mb: f64,
    /// Time the direct convs only (no Winograd candidates for the 3x3 stride-1 convs).
    #[arg(long)]
    pub no_winograd: bool,
    /// Print what was measured without writing the cache.
    #[arg(long)]
    pub dry_run: bool,
    /// Also merge the tuned table into this shipped-defaults file (`src/tuning/defaults.json`),
    /// replacing this adapter's table for each precision: `scripts/tune-defaults.sh`.
    #[arg(long, value_name = "FILE.json")]
    pub export_defaults: Option<PathBuf>,
    /// Measure nothing: export this adapter's existing cache to --export-defaults as it is.
    #[arg(long, requires = "export_defaults")]
    pub export_only: bool,
    /// Square input side instead of each model's crop.
    #[arg(long, hide = true)]
    pub size: Option<u32>,
}

pub fn tune(args: TuneArgs) -> Result<()> {
    let specs: Vec<_> = args
        .models
        .iter()
        .map(|n| arch::resolve(n.trim()))
        .collect::<Result<_>>()?;
    if args.batch.is_empty() || args.batch.contains(&0) {
        return Err(Error::Input("--batch needs sizes of at least 1".into()));
    }
    let budget = BuildBudget {
        seconds: args.max_build_seconds,
        megabytes: args.max_build_mb,
    };
    if !(budget.seconds > 0.0 && budget.megabytes > 0.0) {
        return Err(Error::Input(
            "--max-build-seconds and --max-build-mb must be above 0".into(),
        ));
    }
    let ctx = args.device.context()?;
    println!("adapter: {}", ctx.describe());
    let start = Instant::now();
    for &precision in &args.precision {
        let storage = choose_storage(&ctx, precision, args.f16_mode)?;
        let stamp = TuneStamp::of(&ctx, storage);
        // The cache this run adds to, even where plans would not read it
        // (`GPU_RESNET_TUNE=shipped`): a run must not drop what an earlier one measured.
        let (existing, status) = tune::load_from(tune::cache_dir().as_deref(), &ctx, storage);
        if let Some(w) = status.warning() {
            eprintln!("{w}");
        }
        // Where plans take tiles the cache lacks (the tuner itself times the heuristic's).
        println!(
            "{}: {}",
            storage.name(),
            crate::tuning::shipped::load(&ctx, storage).1.describe()
        );
        let mut table = existing.unwrap_or_else(|| TuneTable::new(stamp.clone()));
        if args.export_only {
            if table.entries.is_empty() {
                let why = match &status {
                    tune::TuneStatus::Off => "the tuning cache is off".to_string(),
                    tune::TuneStatus::Missing(p) | tune::TuneStatus::Loaded(p) => {
                        format!("{} has none", p.display())
                    }
                    tune::TuneStatus::Ignored(p, why) => format!("{} ignored: {why}", p.display()),
                };
                return Err(Error::Input(format!(
                    "--export-only: no tuning cache entries for this adapter and {} to export ({why})",
                    storage.name()
                )));
            }
            if let Some(path) = &args.export_defaults {
                export(&ctx, &table, path)?;
            }
            continue;
        }
        for spec in &specs {
            let source = WeightsSource::Synthetic {
                classes: 1000,
                seed: 0,
            };
            let weights = load_weights(&source, Some(&spec.name))?.weights;
            let mut model = Model::new(&ctx, &weights, storage)?;
            if !args.no_winograd {
                model.prepare_winograd(&weights)?;
            }
            let side = args.size.map_or(spec.crop as usize, |s| s as usize);
            let opts = TuneOptions {
                batches: args.batch.clone(),
                size: (side, side),
                reps: args.reps,
                budget,
            };
            let (shapes, builds) = tune::tune_model(&model, &opts, &mut table, &|line| {
                eprintln!(
                    "[{:>5.0} s] {} {}: {line}",
                    start.elapsed().as_secs_f64(),
                    spec.name,
                    storage.name()
                )
            })?;
            println!(
                "\n{} {} ({side}x{side}), batches {:?}:\n",
                spec.name,
                storage.name(),
                args.batch
            );
            // The fastest staged (workgroup-memory) tile per shape too, where one was timed: on
            // CPU adapters it rarely wins, and a GPU report should show by how much it does.
            println!(
                "| conv shape | layers | default tile | ms | tuned tile | ms | speed-up | fastest staged | ms |"
            );
            println!("|---|---:|---|---:|---|---:|---:|---|---:|");
            let (mut before, mut after) = (0.0, 0.0);
            for s in &shapes {
                before += s.heuristic_ms;
                after += s.best_ms;
                let staged = s
                    .tried
                    .iter()
                    .filter(|((tile, _), _)| tile.staged)
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map_or("- | -".to_string(), |(choice, ms)| {
                        format!("{} | {ms:.2}", describe_choice(choice))
                    });
                println!(
                    "| {} | {} | {} | {:.2} | {} | {:.2} | {:.2}x | {staged} |",
                    s.shape.key(),
                    s.layers,
                    describe_choice(&s.heuristic),
                    s.heuristic_ms,
                    describe_choice(&s.best),
                    s.best_ms,
                    s.heuristic_ms / s.best_ms.max(1e-9)
                );
            }
            println!(
                "\nconv time over all batches: {before:.1} ms with the default tiles, {after:.1} ms tuned ({:.2}x)",
                before / after.max(1e-9)
            );
            println!("\n| candidate | build (slowest pipeline) |\n|---|---|");
            for b in &builds {
                let cost = match &b.build {
                    Ok((s, Some(mb))) => format!("{s:.1} s, +{mb:.0} MB peak"),
                    Ok((s, None)) => format!("{s:.1} s"),
                    Err(why) => why.clone(),
                };
                println!("| {} | {cost} |", describe(&b.tile));
            }
            if !args.dry_run {
                // Written after each model, so that an interrupted run keeps what it measured.
                match tune::cache_dir() {
                    Some(dir) => {
                        let path = tune::cache_file(&dir, &stamp);
                        table.write(&path)?;
                        println!("\nwrote {} entries to {}", table.entries.len(), path.display());
                    }
                    None => println!(
                        "\nno cache directory (GPU_RESNET_TUNE=off, or no HOME / XDG_CACHE_HOME): nothing written"
                    ),
                }
            }
            if let Some(path) = &args.export_defaults {
                export(&ctx, &table, path)?;
            }
        }
    }
    println!("\ntuned in {:.0} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Merge `table` into the shipped-defaults file at `path`.
fn export(ctx: &crate::gpu::GpuContext, table: &TuneTable, path: &std::path::Path) -> Result<()> {
    let shipped = ShippedTable::of(table, TileRules::of(ctx));
    let what = shipped.implementation.describe();
    ShippedDefaults::export(path, shipped)?;
    println!(
        "exported {} entries for {what} to {}",
        table.entries.len(),
        path.display()
    );
    Ok(())
}
