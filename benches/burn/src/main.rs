//! ResNet50 / ResNet18 forward timing on burn's wgpu backend, to compare side by side with
//! `gpu-resnet bench` (see `scripts/burn-compare.sh`). Random weights: timing only.
//!
//! Each timed run is what `gpu-resnet bench` times: upload the input, run the model, read the
//! logits back to the host (so the device work has finished).

use std::time::Instant;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, DeviceKind, Tensor, TensorData};

/// The burn release this crate pins in Cargo.toml (`=0.22.1`).
const BURN_VERSION: &str = "0.22.1";
const CLASSES: usize = 1000;
const SIZE: usize = 224;

/// Conv (no bias) + BatchNorm (running statistics: a device without autodiff runs inference).
struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBn {
    fn new(cin: usize, cout: usize, k: usize, stride: usize, device: &Device) -> Self {
        let p = k / 2;
        let conv = Conv2dConfig::new([cin, cout], [k, k])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .with_bias(false)
            .init(device);
        let bn = BatchNormConfig::new(cout).init(device);
        Self { conv, bn }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(self.conv.forward(x))
    }
}

/// A residual block: the main path's convs (ReLU between them), an optional projection
/// shortcut, then add and ReLU. Basic: 3x3-3x3; bottleneck: 1x1-3x3-1x1 (stride on the 3x3).
struct Block {
    convs: Vec<ConvBn>,
    shortcut: Option<ConvBn>,
}

impl Block {
    fn basic(cin: usize, cout: usize, stride: usize, device: &Device) -> Self {
        Self {
            convs: vec![
                ConvBn::new(cin, cout, 3, stride, device),
                ConvBn::new(cout, cout, 3, 1, device),
            ],
            shortcut: (stride != 1 || cin != cout)
                .then(|| ConvBn::new(cin, cout, 1, stride, device)),
        }
    }

    fn bottleneck(cin: usize, width: usize, stride: usize, device: &Device) -> Self {
        let cout = width * 4;
        Self {
            convs: vec![
                ConvBn::new(cin, width, 1, 1, device),
                ConvBn::new(width, width, 3, stride, device),
                ConvBn::new(width, cout, 1, 1, device),
            ],
            shortcut: (stride != 1 || cin != cout)
                .then(|| ConvBn::new(cin, cout, 1, stride, device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.shortcut {
            Some(s) => s.forward(x.clone()),
            None => x.clone(),
        };
        let last = self.convs.len() - 1;
        let mut y = x;
        for (i, c) in self.convs.iter().enumerate() {
            y = c.forward(y);
            if i < last {
                y = relu(y);
            }
        }
        relu(y + identity)
    }
}

/// 7x7/2 stem + BN + ReLU, 3x3/2 max pool, four stages, global average pool, FC.
struct ResNet {
    stem: ConvBn,
    pool: MaxPool2d,
    blocks: Vec<Block>,
    gap: AdaptiveAvgPool2d,
    fc: Linear,
}

impl ResNet {
    fn new(name: &str, device: &Device) -> Result<Self, String> {
        let (bottleneck, depths) = match name {
            "ResNet18" => (false, [2, 2, 2, 2]),
            "ResNet34" => (false, [3, 4, 6, 3]),
            "ResNet50" => (true, [3, 4, 6, 3]),
            "ResNet101" => (true, [3, 4, 23, 3]),
            "ResNet152" => (true, [3, 8, 36, 3]),
            _ => return Err(format!("unknown model {name}")),
        };
        let mut blocks = Vec::new();
        let mut cin = 64;
        for (stage, &depth) in depths.iter().enumerate() {
            let width = 64 << stage;
            for i in 0..depth {
                let stride = if stage > 0 && i == 0 { 2 } else { 1 };
                let block = if bottleneck {
                    Block::bottleneck(cin, width, stride, device)
                } else {
                    Block::basic(cin, width, stride, device)
                };
                cin = if bottleneck { width * 4 } else { width };
                blocks.push(block);
            }
        }
        Ok(Self {
            stem: ConvBn::new(3, 64, 7, 2, device),
            pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            blocks,
            gap: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(cin, CLASSES).init(device),
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = self.pool.forward(relu(self.stem.forward(x)));
        for b in &self.blocks {
            x = b.forward(x);
        }
        let [n, c, _, _] = x.dims();
        self.fc.forward(self.gap.forward(x).reshape([n, c]))
    }
}

struct Args {
    models: Vec<String>,
    batches: Vec<usize>,
    iters: usize,
    warmup: usize,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        models: vec!["ResNet50".into(), "ResNet18".into()],
        batches: vec![1, 8],
        iters: 5,
        warmup: 2,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!(
                "usage: burn-resnet-bench [--models ResNet50,ResNet18] [--batch 1,8] \
                 [--iters 5] [--warmup 2] [--format md|json]"
            );
            std::process::exit(0);
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--models" => a.models = value.split(',').map(str::to_string).collect(),
            "--batch" => a.batches = value.split(',').map(num).collect::<Result<_, _>>()?,
            "--iters" => a.iters = num(&value)?.max(1),
            "--warmup" => a.warmup = num(&value)?,
            "--format" => match value.as_str() {
                "md" => a.json = false,
                "json" => a.json = true,
                _ => return Err(format!("--format {value}: md or json")),
            },
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(a)
}

struct Row {
    model: String,
    batch: usize,
    warmup_ms: Vec<f64>,
    samples_ms: Vec<f64>,
}

/// Minimum and median the way `gpu-resnet bench` takes them (the median of an even count is
/// the upper middle sample), so the two columns compare like with like.
fn min_median(samples: &[f64]) -> (f64, f64) {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    (s[0], s[((s.len() - 1) as f64 * 0.5).round() as usize])
}

/// One inference batch: upload, forward, read the logits back. Checks the output loosely.
fn run_once(model: &ResNet, input: &TensorData, batch: usize, device: &Device) -> f64 {
    let data = input.clone();
    let start = Instant::now();
    let x = Tensor::<4>::from_data(data, device);
    let logits = model.forward(x).into_data();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(logits.shape().to_vec(), [batch, CLASSES], "logits shape");
    let values = logits.try_to_vec::<f32>().expect("f32 logits");
    assert!(values.iter().all(|v| v.is_finite()), "non-finite logits");
    ms
}

fn time_model(name: &str, batches: &[usize], args: &Args, device: &Device) -> Vec<Row> {
    let model = ResNet::new(name, device).unwrap_or_else(|e| fail(&e));
    batches
        .iter()
        .map(|&batch| {
            // A fixed, cheap pseudo-random input (values in [-1, 1)).
            let len = batch * 3 * SIZE * SIZE;
            let host: Vec<f32> = (0..len as u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 8) as f32 / (1 << 23) as f32 - 1.0)
                .collect();
            let input = TensorData::new(host, [batch, 3, SIZE, SIZE]);
            let warmup_ms = (0..args.warmup)
                .map(|_| run_once(&model, &input, batch, device))
                .collect();
            let samples_ms = (0..args.iters)
                .map(|_| run_once(&model, &input, batch, device))
                .collect();
            Row {
                model: name.to_string(),
                batch,
                warmup_ms,
                samples_ms,
            }
        })
        .collect()
}

fn fail(msg: &str) -> ! {
    eprintln!("burn-resnet-bench: {msg}");
    std::process::exit(2)
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| fail(&e));
    // wgpu's default adapter choice (high-power GPU first; CUBECL_WGPU_DEFAULT_DEVICE overrides).
    let device = Device::wgpu(DeviceKind::DefaultDevice);
    let adapter = device
        .identity()
        .map_or("unknown (burn wgpu backend)".to_string(), |i| i.name);
    let mut rows = Vec::new();
    for m in &args.models {
        eprintln!("burn: {m} batch {:?} ...", args.batches);
        rows.extend(time_model(m, &args.batches, &args, &device));
    }
    if args.json {
        print_json(&adapter, &rows);
    } else {
        print_md(&adapter, &args, &rows);
    }
}

fn print_md(adapter: &str, args: &Args, rows: &[Row]) {
    println!(
        "burn {BURN_VERSION} (wgpu backend, fusion + autotune, FP32) on {adapter}, \
         {SIZE}x{SIZE}, {} warm-up + {} timed runs; a run = upload + forward + logits read back\n",
        args.warmup, args.iters
    );
    println!("| model | batch | min ms | median ms | warm-up ms |");
    println!("|---|---:|---:|---:|---|");
    for r in rows {
        let (min, median) = min_median(&r.samples_ms);
        let warm: Vec<String> = r.warmup_ms.iter().map(|w| format!("{w:.0}")).collect();
        println!(
            "| {} | {} | {min:.1} | {median:.1} | {} |",
            r.model,
            r.batch,
            warm.join(", ")
        );
    }
}

fn print_json(adapter: &str, rows: &[Row]) {
    let list = |v: &[f64]| {
        let items: Vec<String> = v.iter().map(|x| format!("{x:.3}")).collect();
        format!("[{}]", items.join(", "))
    };
    let results: Vec<String> = rows
        .iter()
        .map(|r| {
            let (min, median) = min_median(&r.samples_ms);
            format!(
                "    {{\"model\": \"{}\", \"batch\": {}, \"input_size\": {SIZE}, \
                 \"wall_ms\": {{\"min\": {min:.3}, \"median\": {median:.3}}}, \
                 \"samples_ms\": {}, \"warmup_ms\": {}}}",
                r.model,
                r.batch,
                list(&r.samples_ms),
                list(&r.warmup_ms)
            )
        })
        .collect();
    println!(
        "{{\n  \"engine\": \"burn {BURN_VERSION} (wgpu, fusion + autotune, f32)\",\n  \
         \"adapter\": \"{}\",\n  \"results\": [\n{}\n  ]\n}}",
        adapter.replace('\\', "\\\\").replace('"', "\\\""),
        results.join(",\n")
    );
}
