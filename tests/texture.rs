//! Texture input for renderers: `Classifier::classify_texture` on a device the test creates as a
//! host application would (default limits, no optional features, no error handler installed:
//! a wgpu validation error would panic the test), against the buffer path on the same picture.
//!
//! Measured on lavapipe and llvmpipe GL (the assertions hold them): every format gives exactly
//! the buffer path's input tensor, max |difference| 0 in normalised units and in 8-bit levels,
//! hence bit-identical logits: rgba8unorm and bgra8unorm (textureLoad already returns RGBA
//! order); rgba8unorm-srgb and bgra8unorm-srgb (the sampler's sRGB decode, then the exact sRGB
//! encode and rounding recover every byte); rgba16float holding the exact linear value of each
//! byte (f16's 11-bit precision keeps each level within a quarter level of its encode).

mod common;

use std::sync::{Mutex, MutexGuard, OnceLock};

use common::*;
use gpu_resnet::kernels::preprocess::{
    preprocess_on_gpu, preprocess_textures_on_gpu, TEXTURE_FORMATS,
};
use gpu_resnet::weights::load_weights;
use gpu_resnet::{arch, Classifier, GpuContext, Model, PreprocessConfig, Storage};
use image::RgbaImage;
use wgpu::TextureFormat as F;

/// A device created the way a renderer creates its own: default limits, no optional features,
/// wgpu's default (panicking) handler for uncaptured errors left in place.
fn host() -> &'static GpuContext {
    static HOST: OnceLock<GpuContext> = OnceLock::new();
    HOST.get_or_init(|| host_device(host_adapter()))
}

/// The host's adapter (lavapipe), from one instance for the whole test.
fn host_adapter() -> &'static wgpu::Adapter {
    static ADAPTER: OnceLock<wgpu::Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::VULKAN,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        pollster::block_on(instance.request_adapter(&Default::default())).expect("lavapipe")
    })
}

fn host_device(adapter: &wgpu::Adapter) -> GpuContext {
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("host renderer"),
        required_features: wgpu::Features::empty(),
        required_limits: wgpu::Limits::default(),
        ..Default::default()
    }))
    .expect("device");
    GpuContext::from_device(device, queue, adapter.get_info())
}

/// ResNet18_vd with the golden weights, at a small crop (64 -> 56) so each run takes little
/// time; shared, and one test at a time (the classifier's batch-1 plan holds one run).
fn classifier() -> MutexGuard<'static, Classifier> {
    static CLASSIFIER: OnceLock<Mutex<Classifier>> = OnceLock::new();
    CLASSIFIER
        .get_or_init(|| {
            let spec = arch::resolve("ResNet18_vd").unwrap();
            let weights = load_weights(&golden("ResNet18_vd.pdparams"), &spec.arch).unwrap();
            let model = Model::new(host(), &weights, Storage::F32).unwrap();
            Mutex::new(Classifier::new(model, PreprocessConfig::imagenet(64, 56)).unwrap())
        })
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Deterministic noise over ramps: every weight and most levels get used.
fn picture(w: u32, h: u32, seed: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ seed).wrapping_mul(97);
        image::Rgba([
            ((x * 255) / w.max(1)) as u8 ^ (n >> 27) as u8,
            ((y * 255) / h.max(1)) as u8,
            (n >> 16) as u8,
            (n >> 8) as u8, // alpha: ignored by both paths
        ])
    })
}

/// The exact sRGB decode of byte `b`: the linear value a renderer holds for it.
fn srgb_to_linear(b: u8) -> f64 {
    let c = b as f64 / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// The texel bytes of `img` in `format`: the same picture as a renderer would hold it.
fn texels(img: &RgbaImage, format: F) -> (Vec<u8>, u32) {
    match format {
        F::Rgba8Unorm | F::Rgba8UnormSrgb => (img.as_raw().clone(), 4),
        F::Bgra8Unorm | F::Bgra8UnormSrgb => (
            img.pixels()
                .flat_map(|p| [p[2], p[1], p[0], p[3]])
                .collect(),
            4,
        ),
        F::Rgba16Float => {
            let values: Vec<half::f16> = img
                .pixels()
                .flat_map(|p| {
                    let lin = |b: u8| half::f16::from_f64(srgb_to_linear(b));
                    [lin(p[0]), lin(p[1]), lin(p[2]), half::f16::ONE]
                })
                .collect();
            (bytemuck::cast_slice(&values).to_vec(), 8)
        }
        other => panic!("no texels for {other:?}"),
    }
}

fn texture(ctx: &GpuContext, desc: wgpu::TextureDescriptor) -> wgpu::Texture {
    ctx.device.create_texture(&desc)
}

fn desc(w: u32, h: u32, format: F, usage: wgpu::TextureUsages) -> wgpu::TextureDescriptor<'static> {
    wgpu::TextureDescriptor {
        label: Some("test picture"),
        size: wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    }
}

/// `img` uploaded into a new `format` texture with TEXTURE_BINDING | COPY_DST usage.
fn upload(ctx: &GpuContext, img: &RgbaImage, format: F) -> wgpu::Texture {
    let (w, h) = img.dimensions();
    let usage = wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST;
    let tex = texture(ctx, desc(w, h, format, usage));
    let (bytes, bpp) = texels(img, format);
    ctx.queue.write_texture(
        tex.as_image_copy(),
        &bytes,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(w * bpp),
            rows_per_image: Some(h),
        },
        tex.size(),
    );
    tex
}

/// (max |a - b| in normalised units, max difference in 8-bit levels, values that differ).
fn compare(a: &[f32], b: &[f32], cfg: &PreprocessConfig) -> (f32, u32, usize) {
    assert_eq!(a.len(), b.len(), "tensor lengths");
    let plane = (cfg.crop * cfg.crop) as usize;
    let level = |v: f32, i: usize| {
        let c = (i / plane) % 3;
        ((v * cfg.std[c] + cfg.mean[c]) * 255.0).round() as i32
    };
    let mut worst = (0.0f32, 0u32, 0usize);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(x.is_finite(), "value {i} is {x}");
        if x.to_bits() != y.to_bits() {
            worst.0 = worst.0.max((x - y).abs());
            worst.1 = worst.1.max(level(*x, i).abs_diff(level(*y, i)));
            worst.2 += 1;
        }
    }
    worst
}

const SIZES: [(u32, u32); 4] = [(300, 200), (100, 500), (224, 224), (1, 1)];

/// Every supported format against the buffer path, at the models' 256/224: the input tensors.
fn tensors_match_on(ctx: &GpuContext, formats: &[F]) {
    let cfg = PreprocessConfig::imagenet(256, 224);
    let pictures: Vec<RgbaImage> = SIZES
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| picture(w, h, i as u32))
        .collect();
    let refs: Vec<&RgbaImage> = pictures.iter().collect();
    let want = preprocess_on_gpu(ctx, &refs, cfg).unwrap();
    for &format in formats {
        let textures: Vec<wgpu::Texture> =
            pictures.iter().map(|p| upload(ctx, p, format)).collect();
        let texture_refs: Vec<&wgpu::Texture> = textures.iter().collect();
        let got = preprocess_textures_on_gpu(ctx, &texture_refs, cfg).unwrap();
        let (abs, levels, count) = compare(&got, &want, &cfg);
        eprintln!(
            "{}: {format:?} vs the RGBA8 buffer, sizes {SIZES:?}: max |diff| {abs:e} normalised, \
             {levels} level(s), {count} of {} values differ",
            ctx.describe(),
            want.len()
        );
        assert_eq!(
            (abs, levels, count),
            (0.0, 0, 0),
            "{format:?}: the texture path differs from the buffer path"
        );
    }
}

#[test]
fn every_format_gives_the_buffer_paths_tensor() {
    let formats: Vec<F> = TEXTURE_FORMATS.iter().map(|(f, _, _)| *f).collect();
    tensors_match_on(host(), &formats);
}

#[test]
fn every_format_gives_the_buffer_paths_tensor_on_gl() {
    let formats: Vec<F> = TEXTURE_FORMATS.iter().map(|(f, _, _)| *f).collect();
    tensors_match_on(gl_ctx(), &formats);
}

#[test]
fn float_textures_are_clamped_then_srgb_encoded() {
    // HDR and negative values clamp to 255 and 0; linear 0.5 encodes to 187.52 -> 188; values
    // that were never an 8-bit level round to the nearest one (expected levels: the exact
    // formula in f64 on the f16 value, e.g. 0.0031308 -> f16 0.00312996 -> 10.31 -> 10).
    let ctx = host();
    let cfg = PreprocessConfig::imagenet(16, 16); // identity resize: every texel is one output
    let values = [
        (2.0f32, 255u8),
        (-0.5, 0),
        (0.5, 188),
        (0.0031308, 10),
        (0.04, 56),
        (0.2, 124),
        (0.9, 243),
        (f32::INFINITY, 255),
    ];
    let tex = texture(
        ctx,
        desc(
            16,
            16,
            F::Rgba16Float,
            wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        ),
    );
    let texel = |i: usize| {
        let v = half::f16::from_f32(values[i % values.len()].0);
        [v, v, v, half::f16::ONE]
    };
    let data: Vec<half::f16> = (0..256).flat_map(texel).collect();
    ctx.queue.write_texture(
        tex.as_image_copy(),
        bytemuck::cast_slice(&data),
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(16 * 8),
            rows_per_image: None,
        },
        tex.size(),
    );
    let got = preprocess_textures_on_gpu(ctx, &[&tex], cfg).unwrap();
    for i in 0..256 {
        let level = values[i % values.len()].1;
        for c in 0..3 {
            assert_eq!(
                got[c * 256 + i],
                cfg.normalize(level, c),
                "texel {i} ({}), channel {c}: expected level {level}",
                values[i % values.len()].0
            );
        }
    }
}

#[test]
fn texture_logits_equal_the_buffer_paths() {
    let classifier = classifier();
    for (i, &(w, h)) in [(300, 200), (100, 500)].iter().enumerate() {
        let img = picture(w, h, 10 + i as u32);
        let want = classifier.logits(&[&img]).unwrap().remove(0);
        for (format, name, _) in TEXTURE_FORMATS {
            let tex = upload(host(), &img, format);
            let got = classifier
                .classify_texture(&tex, 5)
                .unwrap()
                .wait()
                .unwrap();
            let err = rel_err(&got.logits, &want);
            eprintln!("{w}x{h} {name}: logits max |texture - buffer| / max |buffer| = {err:e}");
            assert!(
                got.logits
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{w}x{h} {name}: logits differ from the buffer path's (rel. error {err:e})"
            );
            assert_eq!(got.top.len(), 5);
            let best = want
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
                .unwrap()
                .0;
            assert_eq!(got.top[0].class_id, best);
        }
    }
}

#[test]
fn results_come_back_through_polling_one_run_at_a_time() {
    let classifier = classifier();
    let img = picture(120, 90, 3);
    let tex = upload(host(), &img, F::Rgba8UnormSrgb);
    let want = classifier.logits(&[&img]).unwrap().remove(0);

    let mut pending = classifier.classify_texture(&tex, 3).unwrap();
    // While it is in flight, a second submission (texture or buffer path) is a clear error.
    let second = classifier.classify_texture(&tex, 3).err().expect("refused");
    assert!(second.to_string().contains("in flight"), "{second}");
    let buffer = classifier.logits(&[&img]).expect_err("refused");
    assert!(buffer.to_string().contains("in flight"), "{buffer}");

    let start = std::time::Instant::now();
    let mut polls = 0;
    let result = loop {
        if let Some(r) = pending.try_take() {
            break r.unwrap();
        }
        polls += 1;
        assert!(
            start.elapsed().as_secs() < 60,
            "no result after {polls} polls"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    eprintln!(
        "result after {polls} polls, {:.1} ms; GPU time {:?} ms (no timestamps on this host device)",
        start.elapsed().as_secs_f64() * 1e3,
        result.gpu_ms
    );
    assert_eq!(result.logits, want);
    let again = pending.try_take().expect("an answer").expect_err("taken");
    assert!(again.to_string().contains("already taken"), "{again}");
    drop(pending);

    // Dropping an unfinished one frees the plan, and the next result is still right.
    drop(classifier.classify_texture(&tex, 3).unwrap());
    let next = classifier
        .classify_texture(&tex, 3)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(next.logits, want);
    assert_eq!(classifier.logits(&[&img]).unwrap()[0], want);
}

#[test]
fn unusable_textures_get_clear_errors() {
    let classifier = classifier();
    let ctx = host();
    let binding = wgpu::TextureUsages::TEXTURE_BINDING;
    let attach = wgpu::TextureUsages::RENDER_ATTACHMENT;
    let supported =
        "supported formats: rgba8unorm, bgra8unorm, rgba8unorm-srgb, bgra8unorm-srgb, rgba16float";
    let cases: Vec<(&str, wgpu::TextureDescriptor, &str)> = vec![
        (
            "no TEXTURE_BINDING",
            desc(
                64,
                64,
                F::Rgba8Unorm,
                wgpu::TextureUsages::COPY_DST | attach,
            ),
            "lacks TEXTURE_BINDING usage",
        ),
        ("r8unorm", desc(64, 64, F::R8Unorm, binding), supported),
        (
            "depth",
            desc(64, 64, F::Depth32Float, binding | attach),
            supported,
        ),
        (
            "multisampled",
            wgpu::TextureDescriptor {
                sample_count: 4,
                ..desc(64, 64, F::Rgba8Unorm, binding | attach)
            },
            "multisampled (4 samples)",
        ),
        (
            "3-D",
            wgpu::TextureDescriptor {
                dimension: wgpu::TextureDimension::D3,
                ..desc(64, 64, F::Rgba8Unorm, binding)
            },
            "only 2-D textures",
        ),
        (
            "array",
            wgpu::TextureDescriptor {
                size: wgpu::Extent3d {
                    width: 64,
                    height: 64,
                    depth_or_array_layers: 2,
                },
                ..desc(64, 64, F::Rgba8Unorm, binding)
            },
            "2 array layers",
        ),
    ];
    for (what, d, needle) in cases {
        let tex = texture(ctx, d);
        let err = classifier
            .classify_texture(&tex, 1)
            .err()
            .expect(what)
            .to_string();
        eprintln!("{what}: {err}");
        assert!(
            err.contains(needle),
            "{what}: expected {needle:?} in: {err}"
        );
        assert!(
            err.contains("64x64"),
            "{what}: the error names the texture: {err}"
        );
    }

    // A texture of another device (of the host's instance: wgpu-core itself panics on ids from
    // another instance), and a destroyed one: wgpu's validation errors come back as errors
    // (inside our error scopes), never through the host's handler.
    let other = host_device(host_adapter());
    let foreign = upload(&other, &picture(64, 64, 1), F::Rgba8Unorm);
    let err = classifier
        .classify_texture(&foreign, 1)
        .err()
        .expect("foreign");
    eprintln!("another device's texture: {err}");
    let gone = upload(ctx, &picture(64, 64, 1), F::Rgba8Unorm);
    gone.destroy();
    let err = classifier
        .classify_texture(&gone, 1)
        .err()
        .expect("destroyed");
    eprintln!("a destroyed texture: {err}");
    // The classifier still works afterwards.
    let img = picture(64, 64, 2);
    let tex = upload(ctx, &img, F::Bgra8Unorm);
    let got = classifier
        .classify_texture(&tex, 1)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(got.logits, classifier.logits(&[&img]).unwrap()[0]);
}
