use clap::Parser;

fn main() {
    let cli = gpu_resnet::cli::Cli::parse();
    if let Err(e) = gpu_resnet::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
