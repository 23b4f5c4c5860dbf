//! `cargo bench --bench plan`: one ResNet50 inference (upload, one pass, read-back) at batch 1,
//! 4 and 8, 224x224, synthetic weights. GPU time from timestamp queries where the adapter has
//! them, wall time always. A batch-8 run takes ~3.5 s on lavapipe: keep `BENCH_ITERS` small.

mod common;

use common::*;
use gpu_resnet::app::bench::synthetic_input;
use gpu_resnet::weights::synthetic::synthetic_weights;
use gpu_resnet::{choose_storage, resolve, F16Mode, Model};

fn main() {
    let iters: usize = env_or("BENCH_ITERS", 3).max(1);
    let ctx = context();
    let precision = precision();
    let run = || -> gpu_resnet::Result<()> {
        let spec = resolve("ResNet50")?;
        let storage = choose_storage(&ctx, precision, F16Mode::Auto)?;
        let model = Model::new(&ctx, &synthetic_weights(&spec.arch, 1000, 0), storage)?;
        for batch in [1usize, 4, 8] {
            let name = format!("ResNet50 {} b{batch} 224", storage.name());
            if !selected(&name) {
                continue;
            }
            let plan = model.plan(batch, 224, 224)?;
            let input = synthetic_input(plan.input_len(), 1);
            plan.run(&input)?; // warm-up: pipelines are compiled on first use by some drivers
            let (mut wall, mut gpu) = (Vec::new(), Vec::new());
            for _ in 0..iters {
                let start = std::time::Instant::now();
                let (_, timing) = plan.run_timed(&input)?;
                wall.push(start.elapsed().as_secs_f64() * 1e3);
                gpu.extend(timing.gpu_ms);
            }
            report(&format!("{name} wall"), &wall, plan.flops());
            report(&format!("{name} gpu"), &gpu, plan.flops());
        }
        Ok(())
    };
    if let Err(e) = run() {
        fail(e);
    }
}
