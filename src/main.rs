use clap::Parser;

fn main() {
    quiet_headless_vulkan();
    let cli = gpu_resnet::app::cli::Cli::parse();
    if let Err(e) = gpu_resnet::app::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Mesa's implicit Vulkan layer `VK_LAYER_MESA_device_select` connects to a Wayland display
/// while adapters are enumerated, and on a headless machine without `XDG_RUNTIME_DIR` that
/// prints "error: XDG_RUNTIME_DIR is invalid or not set" twice before any output of ours. The
/// layer only reorders GPUs for a desktop's default choice (wgpu chooses for itself), so where
/// no runtime directory exists we ask it to stand aside (`NODEVICE_SELECT`, read by the layer).
/// Done first in `main`, before any thread exists.
fn quiet_headless_vulkan() {
    let runtime_dir_ok =
        std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir());
    if !runtime_dir_ok && std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}
