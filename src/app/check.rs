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
    /// Check every adapter the backend finds, one after the other (plus SwiftShader's Vulkan
    /// driver from Debian's chromium package when it is installed and no VK_ICD_FILENAMES,
    /// VK_DRIVER_FILES or VK_ADD_DRIVER_FILES is set).
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

/// SwiftShader's Vulkan driver as Debian's `chromium` package ships it.
const SWIFTSHADER_ICD: &str = "/usr/lib/chromium/vk_swiftshader_icd.json";

/// The Vulkan loader's variables that choose drivers; a user who set one chose for us.
const DRIVER_VARS: [&str; 3] = ["VK_ICD_FILENAMES", "VK_DRIVER_FILES", "VK_ADD_DRIVER_FILES"];

/// For `--all-adapters`: SwiftShader's Vulkan driver, when installed (with Chromium) but not
/// registered with the Vulkan loader, is added to the drivers the loader finds
/// (`VK_ADD_DRIVER_FILES`, so the system's drivers stay), making it one more implementation in
/// the matrix. Not when the user set any of the loader's driver variables.
fn add_swiftshader_driver() {
    if DRIVER_VARS.iter().any(|v| std::env::var_os(v).is_some())
        || !std::path::Path::new(SWIFTSHADER_ICD).is_file()
    {
        return;
    }
    eprintln!("adding SwiftShader's Vulkan driver ({SWIFTSHADER_ICD}) to the matrix (VK_ADD_DRIVER_FILES; set it or VK_ICD_FILENAMES to choose the drivers yourself)");
    // Before any instance exists and while this is the only thread: the loader reads it then.
    std::env::set_var("VK_ADD_DRIVER_FILES", SWIFTSHADER_ICD);
}

/// The command: run, print the report, fail (exit code 1) if any check failed.
pub fn check(args: CheckArgs) -> Result<()> {
    if args.all_adapters {
        add_swiftshader_driver();
    }
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
