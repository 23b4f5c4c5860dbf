//! A headless renderer that classifies its own frames: it creates its wgpu device as a host
//! application would (its own features and limits: timestamps if the adapter has them, no
//! SHADER_F16, so `--precision f16` takes the packed path), draws a scene offscreen into an
//! rgba8unorm-srgb texture every frame (a gradient and a coloured triangle that turn), and
//! hands that texture to a `Classifier` on the same device: no copy of the frame, no wait in
//! the frame loop (the result is polled), the top-1 and the GPU time it added printed per frame.
//!
//! cargo run --release --example renderer -- [--frames N] [--model NAME --weights FILE]
//!     [--precision f32|f16] [--size WxH]

use std::time::{Duration, Instant};

use clap::Parser;
use gpu_resnet::weights::{load_weights, synthetic_weights};
use gpu_resnet::{
    arch, choose_storage, labels, Classifier, Error, F16Mode, GpuContext, Model, Precision,
    PreprocessConfig, Result,
};

#[derive(Parser)]
#[command(about = "Render frames offscreen and classify each one on the renderer's device")]
struct Args {
    /// Frames to render and classify.
    #[arg(long, default_value_t = 3)]
    frames: u32,
    #[arg(long, default_value = "ResNet18_vd")]
    model: String,
    /// A .pdparams/.safetensors file for --model (default: synthetic weights).
    #[arg(long)]
    weights: Option<std::path::PathBuf>,
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
    /// The render target's size, WIDTHxHEIGHT.
    #[arg(long, default_value = "320x240")]
    size: String,
}

/// The scene: a full-screen gradient whose blue follows the frame's time, and a triangle with
/// red, green and blue corners turning about the centre. Colours are linear; the target's
/// sRGB format encodes them on store, as a renderer's swapchain would.
const SCENE: &str = r#"
struct Frame { time: f32, aspect: f32 }
@group(0) @binding(0) var<uniform> frame: Frame;

struct Varying {
    @builtin(position) position: vec4<f32>,
    @location(0) color: vec3<f32>,
}

@vertex
fn vertex(@builtin(vertex_index) i: u32) -> Varying {
    var out: Varying;
    if (i < 3u) {
        // One triangle covering the screen.
        let uv = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
        out.position = vec4<f32>(uv * 2.0 - 1.0, 0.0, 1.0);
        out.color = vec3<f32>(0.5 * uv.x, 0.5 * uv.y, 0.5 + 0.5 * sin(frame.time));
    } else {
        let corner = f32(i - 3u);
        let angle = frame.time + corner * 2.0943951;
        out.position = vec4<f32>(0.7 * cos(angle) / frame.aspect, 0.7 * sin(angle), 0.0, 1.0);
        out.color = vec3<f32>(f32(corner == 0.0), f32(corner == 1.0), f32(corner == 2.0));
    }
    return out;
}

@fragment
fn fragment(in: Varying) -> @location(0) vec4<f32> {
    return vec4<f32>(in.color, 1.0);
}
"#;

const TARGET_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;

struct Scene {
    pipeline: wgpu::RenderPipeline,
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    target: wgpu::Texture,
    view: wgpu::TextureView,
}

impl Scene {
    fn new(device: &wgpu::Device, width: u32, height: u32) -> Scene {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("scene"),
            source: wgpu::ShaderSource::Wgsl(SCENE.into()),
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("scene"),
            layout: None,
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vertex"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: Default::default(),
            depth_stencil: None,
            multisample: Default::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fragment"),
                compilation_options: Default::default(),
                targets: &[Some(TARGET_FORMAT.into())],
            }),
            multiview_mask: None,
            cache: None,
        });
        let uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("frame"),
            size: 16,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("frame"),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: uniform.as_entire_binding(),
            }],
        });
        // What the classifier needs from the target: TEXTURE_BINDING besides RENDER_ATTACHMENT.
        let target = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("offscreen frame"),
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: TARGET_FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        });
        let view = target.create_view(&Default::default());
        Scene {
            pipeline,
            uniform,
            bind_group,
            target,
            view,
        }
    }

    /// Draw frame `index` into the target and submit it.
    fn render(&self, device: &wgpu::Device, queue: &wgpu::Queue, index: u32) {
        let aspect = self.target.width() as f32 / self.target.height() as f32;
        let frame = [index as f32 * 0.7, aspect, 0.0, 0.0];
        queue.write_buffer(&self.uniform, 0, bytemuck::cast_slice(&frame));
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("scene"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &self.view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                ..Default::default()
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &self.bind_group, &[]);
            pass.draw(0..6, 0..1);
        }
        queue.submit([encoder.finish()]);
    }
}

/// The host's device: its own choice of features (timestamps where the adapter has them, no
/// SHADER_F16) and limits (WebGPU's defaults, storage bindings raised to what the adapter
/// allows so larger models fit).
fn host_device() -> Result<(wgpu::Device, wgpu::Queue, wgpu::AdapterInfo)> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter =
        pollster::block_on(instance.request_adapter(&Default::default())).map_err(|e| {
            Error::NoAdapter {
                detail: format!(" ({e})"),
            }
        })?;
    let available = adapter.limits();
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: available.max_storage_buffer_binding_size,
        max_buffer_size: available.max_buffer_size,
        ..wgpu::Limits::default()
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("renderer"),
        required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
        required_limits: limits,
        ..Default::default()
    }))
    .map_err(|e| Error::Gpu {
        during: "creating the renderer's device".into(),
        message: e.to_string(),
    })?;
    Ok((device, queue, adapter.get_info()))
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let (width, height) = args
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .ok_or_else(|| Error::Input(format!("--size {}: expected WIDTHxHEIGHT", args.size)))?;
    let spec = arch::resolve(&args.model)?;
    let weights = match &args.weights {
        Some(path) => load_weights(path, &spec.arch)?,
        None => synthetic_weights(&spec.arch, 1000, 0),
    };

    let (device, queue, info) = host_device()?;
    let scene = Scene::new(&device, width, height);
    // The engine borrows the renderer's device: its features and limits, its error handler.
    let ctx = GpuContext::from_device(device.clone(), queue.clone(), info);
    let storage = choose_storage(&ctx, args.precision, F16Mode::Auto)?;
    let start = Instant::now();
    let model = Model::new(&ctx, &weights, storage)?;
    let classifier = Classifier::new(model, PreprocessConfig::for_model(&spec))?;
    // Compile the batch-1 plan now rather than in the first frame.
    classifier.plan(1)?;
    println!(
        "{} ({}, {}) on {}; {width}x{height} {TARGET_FORMAT:?} frames; set-up {:.0} ms",
        spec.name,
        storage.name(),
        if args.weights.is_some() {
            "weights from file"
        } else {
            "synthetic weights"
        },
        ctx.describe(),
        start.elapsed().as_secs_f64() * 1e3
    );

    for index in 0..args.frames {
        scene.render(&device, &queue, index);
        let submitted = Instant::now();
        let mut pending = classifier.classify_texture(&scene.target, 1)?;
        let submit_ms = submitted.elapsed().as_secs_f64() * 1e3;
        // A renderer would record and present its next frames here; we poll once a millisecond.
        let mut polls = 0u32;
        let result = loop {
            if let Some(result) = pending.try_take() {
                break result?;
            }
            polls += 1;
            std::thread::sleep(Duration::from_millis(1));
        };
        let top = result.top[0];
        let gpu = result
            .gpu_ms
            .map_or("n/a (no timestamps)".to_string(), |ms| {
                format!("{ms:.1} ms")
            });
        println!(
            "frame {index}: top-1 {} \"{}\" p={:.4} | added GPU time {gpu} | submit {submit_ms:.1} ms, \
             result {:.0} ms later ({polls} polls)",
            top.class_id,
            labels::label(top.class_id, result.logits.len()),
            top.score,
            submitted.elapsed().as_secs_f64() * 1e3,
        );
    }
    Ok(())
}
