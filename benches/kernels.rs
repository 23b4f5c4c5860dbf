//! `cargo bench --bench kernels`: the main kernels in isolation, each dispatch of a ResNet50_vd
//! plan (batch `BENCH_BATCH`, default 1, 224x224) repeated `BENCH_REPEATS` times in one pass
//! over the plan's own buffers: a 3x3 conv, a 1x1 conv, the vd shortcut's average-pool 1x1
//! conv, the stem's max pool and the head (average pool + FC). Wall time per dispatch, so it
//! runs on adapters without timestamp queries too.

mod common;

use common::*;
use gpu_resnet::app::bench::synthetic_input;
use gpu_resnet::arch::ConvLayer;
use gpu_resnet::weights::synthetic::synthetic_weights;
use gpu_resnet::{choose_storage, resolve, F16Mode, Model};

/// How a timed kernel's dispatch is found in the plan.
enum Find {
    /// The first conv layer that matches.
    Conv(fn(&ConvLayer) -> bool),
    /// The dispatch with this label.
    Label(&'static str),
}

const PICKS: [(&str, Find); 5] = [
    // conv2 of stage 3's first block.
    (
        "conv 3x3/1 256->256 14x14",
        Find::Conv(|l| l.kernel == 3 && l.stride == 1 && l.cin == 256),
    ),
    // conv3 of stage 2's blocks, with the residual add where the block has an identity.
    (
        "conv 1x1 128->512 28x28",
        Find::Conv(|l| l.kernel == 1 && l.cin == 128 && l.cout == 512),
    ),
    // The vd shortcut of stage 2: the 2x2 average pool is folded into the 1x1 conv's loads.
    (
        "conv 1x1 avgpool2 256->512 28x28",
        Find::Conv(|l| l.avg_pool_input && l.cin == 256),
    ),
    ("max pool 3x3/2 64ch 56x56", Find::Label("max_pool")),
    ("head avgpool 7x7 + fc 2048->1000", Find::Label("head")),
];

fn main() {
    let iters: usize = env_or("BENCH_ITERS", 5).max(1);
    let repeats: u32 = env_or("BENCH_REPEATS", 4).max(1);
    let batch: usize = env_or("BENCH_BATCH", 1).max(1);
    let ctx = context();
    let precision = precision();
    let run = || -> gpu_resnet::Result<()> {
        let spec = resolve("ResNet50_vd")?;
        let storage = choose_storage(&ctx, precision, F16Mode::Auto)?;
        let model = Model::new(&ctx, &synthetic_weights(&spec.arch, 1000, 0), storage)?;
        let plan = model.plan(batch, 224, 224)?;
        // One full run fills every buffer with realistic values.
        plan.run(&synthetic_input(plan.input_len(), 1))?;
        for (what, find) in PICKS {
            let name = format!("{what} {} b{batch}", storage.name());
            if !selected(&name) {
                continue;
            }
            let index = plan.dispatches.iter().position(|d| match find {
                Find::Label(l) => d.label == l,
                Find::Conv(matches) => {
                    let layer = plan.graph.convs.iter().find(|c| matches(c));
                    layer.is_some_and(|c| c.name == d.label)
                }
            });
            let Some(index) = index else {
                eprintln!("{name}: no such dispatch in the plan");
                continue;
            };
            plan.time_dispatch(index, 1)?; // warm-up
            let samples: Vec<f64> = (0..iters)
                .map(|_| {
                    plan.time_dispatch(index, repeats)
                        .map(|s| s * 1e3 / repeats as f64)
                })
                .collect::<gpu_resnet::Result<_>>()?;
            report(&name, &samples, plan.dispatches[index].flops);
        }
        Ok(())
    };
    if let Err(e) = run() {
        fail(e);
    }
}
