//! How long a new plan takes to become useful: weight upload, plan compilation (pipelines,
//! buffers, bind groups) and the first inference, against warm inferences.
//!
//! cargo run --release --example first_run -- [MODEL] [BATCH]

use std::time::Instant;

use gpu_resnet::weights::synthetic_weights;
use gpu_resnet::{arch, GpuContext, Model, Storage};

fn main() -> Result<(), gpu_resnet::Error> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "ResNet50".into());
    let batch: usize = args.next().and_then(|b| b.parse().ok()).unwrap_or(1);
    let spec = arch::resolve(&name)?;
    let t = Instant::now();
    let ctx = GpuContext::new(Default::default())?;
    let device_ms = t.elapsed().as_secs_f64() * 1e3;
    let weights = synthetic_weights(&spec.arch, 1000, 0);
    let t = Instant::now();
    let model = Model::new(&ctx, &weights, Storage::F32)?;
    let upload_ms = t.elapsed().as_secs_f64() * 1e3;
    let size = spec.crop as usize;
    let t = Instant::now();
    let plan = model.plan(batch, size, size)?;
    let compile_ms = t.elapsed().as_secs_f64() * 1e3;
    let input = vec![0.5f32; plan.input_len()];
    let t = Instant::now();
    plan.run(&input)?;
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut warm = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        plan.run(&input)?;
        warm.push(t.elapsed().as_secs_f64() * 1e3);
    }
    warm.sort_by(f64::total_cmp);
    println!("{} batch {batch} on {}", spec.name, ctx.describe());
    println!("device {device_ms:.0} ms, weight upload {upload_ms:.0} ms, plan compile {compile_ms:.0} ms ({} pipelines)", model.pipeline_count());
    println!(
        "first inference {first_ms:.0} ms, warm median {:.0} ms",
        warm[1]
    );
    Ok(())
}
