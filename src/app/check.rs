//! `gpu-resnet check`: the command line of the conformance suite (`crate::check`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::check::{run, AdapterChoice};
use crate::error::{Error, Result};
use crate::gpu::BackendChoice;
use crate::model::Precision;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Adapter index in `gpu-resnet adapters --backend <backend>` order (default: wgpu's choice).
    #[arg(long, conflicts_with = "all_adapters")]
    pub adapter: Option<usize>,
    /// Check every adapter the backend finds, one after the other.
    #[arg(long)]
    pub all_adapters: bool,
    /// Precisions to check (fp16 runs every f16 storage mode the adapter has).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Precision::F32, Precision::F16])]
    pub precision: Vec<Precision>,
    /// A directory of golden cases: `<model>.pdparams`, `<model>.input.npy`, `<model>.logits.npy`.
    #[arg(long)]
    pub golden: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
}

/// The command: run, print the report, fail (exit code 1) if any check failed.
pub fn check(args: CheckArgs) -> Result<()> {
    let adapters = match (args.adapter, args.all_adapters) {
        (_, true) => AdapterChoice::All,
        (Some(i), false) => AdapterChoice::Index(i),
        (None, false) => AdapterChoice::Default,
    };
    let report = run(
        args.backend,
        adapters,
        &args.precision,
        args.golden.as_deref(),
        &|line| eprintln!("{line}"),
    )?;
    match args.format {
        ReportFormat::Md => print!("{}", report.to_markdown()),
        ReportFormat::Json => println!("{}", report.to_json()),
    }
    if report.passed {
        Ok(())
    } else {
        Err(Error::Conformance(format!(
            "{} of {} checks failed (see the report above)",
            report.failed, report.checks
        )))
    }
}
