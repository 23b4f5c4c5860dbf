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
    /// driver from Debian's chromium package and Mesa 25's lavapipe from
    /// scripts/mesa25-lavapipe.sh, where present, when no VK_ICD_FILENAMES, VK_DRIVER_FILES or
    /// VK_ADD_DRIVER_FILES is set).
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

/// Where `scripts/mesa25-lavapipe.sh` unpacks Mesa 25's lavapipe (bookworm-backports) by
/// default: `$GPU_RESNET_MESA25`, else `mesa25` in the cache directory.
pub fn mesa25_dir() -> PathBuf {
    match std::env::var_os("GPU_RESNET_MESA25").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => crate::app::fetch::cache_dir(None).join("mesa25"),
    }
}

/// For `--all-adapters`: the software Vulkan drivers installed beside the system's but not
/// registered with the Vulkan loader are added to the drivers the loader finds
/// (`VK_ADD_DRIVER_FILES`, so the system's drivers stay), each one more implementation in the
/// matrix: SwiftShader (with Chromium) and Mesa 25's lavapipe (`scripts/mesa25-lavapipe.sh`;
/// it runs with the system's libdrm, measured, so no library path is needed). Not when the
/// user set any of the loader's driver variables.
fn add_software_drivers() {
    if DRIVER_VARS.iter().any(|v| std::env::var_os(v).is_some()) {
        return;
    }
    let mesa25 = mesa25_dir().join("lvp_icd.json");
    let drivers: Vec<String> = [
        (
            "SwiftShader's Vulkan driver",
            PathBuf::from(SWIFTSHADER_ICD),
        ),
        ("Mesa 25's lavapipe", mesa25),
    ]
    .into_iter()
    .filter(|(_, icd)| icd.is_file())
    .map(|(what, icd)| {
        eprintln!("adding {what} ({}) to the matrix", icd.display());
        icd.display().to_string()
    })
    .collect();
    if drivers.is_empty() {
        return;
    }
    eprintln!("(VK_ADD_DRIVER_FILES; set it or VK_ICD_FILENAMES to choose the drivers yourself)");
    // Before any instance exists and while this is the only thread: the loader reads it then.
    std::env::set_var("VK_ADD_DRIVER_FILES", drivers.join(":"));
}

/// The command: run, print the report, fail (exit code 1) if any check failed.
pub fn check(args: CheckArgs) -> Result<()> {
    if args.all_adapters {
        add_software_drivers();
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
