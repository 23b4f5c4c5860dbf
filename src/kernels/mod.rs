//! Host side of the WGSL kernels: one file per kernel family, paired with `shaders/<family>.wgsl`.
//! Every family is specialised two ways: a short generated prelude that fixes the storage type
//! (f32, native f16, or f16 pairs packed in u32) and register-tile sizes, and WGSL `override`
//! constants for shapes and flags. Never a copied kernel.

pub mod conv;
pub mod head;
pub mod once;
pub mod peak;
pub mod pool;
pub mod preprocess;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How activations and weights are stored and computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Storage {
    /// f32 storage, f32 arithmetic.
    F32,
    /// f16 storage and arithmetic (`enable f16;`, needs SHADER_F16).
    F16Native,
    /// f16 storage in native f16 types, f32 arithmetic (needs SHADER_F16): for adapters whose
    /// f16 arithmetic is slower than f32 (lavapipe: 28 vs 104 GFLOP/s), where conversions on
    /// load/store are cheap but unpacking u32 pairs is not.
    F16Mixed,
    /// f16 storage as pairs packed in u32, f32 arithmetic: runs on every adapter.
    F16Packed,
}

impl Storage {
    /// Whether the kernels need the SHADER_F16 feature.
    pub fn needs_shader_f16(self) -> bool {
        matches!(self, Storage::F16Native | Storage::F16Mixed)
    }

    /// Bytes of one group of 4 channels.
    pub fn bytes_per_4(self) -> u64 {
        match self {
            Storage::F32 => 16,
            Storage::F16Native | Storage::F16Mixed | Storage::F16Packed => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Storage::F32 => "fp32",
            Storage::F16Native => "fp16-native",
            Storage::F16Mixed => "fp16-native-f32math",
            Storage::F16Packed => "fp16-packed",
        }
    }

    /// The WGSL prelude that defines `S4` (4 stored channels), `CT` (compute scalar),
    /// `ld(S4) -> vec4<CT>` and `st(vec4<CT>) -> S4`.
    pub fn prelude(self) -> &'static str {
        match self {
            Storage::F32 => {
                "alias CT = f32;\nalias S4 = vec4<f32>;\n\
                 fn ld(v: S4) -> vec4<CT> { return v; }\n\
                 fn st(v: vec4<CT>) -> S4 { return v; }\n"
            }
            Storage::F16Native => {
                "enable f16;\nalias CT = f16;\nalias S4 = vec4<f16>;\n\
                 fn ld(v: S4) -> vec4<CT> { return v; }\n\
                 fn st(v: vec4<CT>) -> S4 { return v; }\n"
            }
            Storage::F16Mixed => {
                "enable f16;\nalias CT = f32;\nalias S4 = vec4<f16>;\n\
                 fn ld(v: S4) -> vec4<CT> { return vec4<f32>(v); }\n\
                 fn st(v: vec4<CT>) -> S4 { return vec4<f16>(v); }\n"
            }
            Storage::F16Packed => {
                "alias CT = f32;\nalias S4 = vec2<u32>;\n\
                 fn ld(v: S4) -> vec4<CT> { return vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)); }\n\
                 fn st(v: vec4<CT>) -> S4 { return vec2<u32>(pack2x16float(v.xy), pack2x16float(v.zw)); }\n"
            }
        }
    }

    /// Host values in this storage's byte layout (both f16 modes share one layout: packed
    /// pairs put the first half in the low 16 bits, as an f16 array does).
    pub fn encode(self, values: &[f32]) -> Vec<u8> {
        match self {
            Storage::F32 => bytemuck::cast_slice(values).to_vec(),
            Storage::F16Native | Storage::F16Mixed | Storage::F16Packed => {
                let halves: Vec<half::f16> =
                    values.iter().map(|&v| half::f16::from_f32(v)).collect();
                bytemuck::cast_slice(&halves).to_vec()
            }
        }
    }
}

/// A kernel source with its prelude and the `override` values of one specialisation.
#[derive(Clone, Debug)]
pub struct Specialization {
    pub family: &'static str,
    pub entry: &'static str,
    pub source: String,
    pub constants: Vec<(&'static str, f64)>,
    /// Read-only storage buffers after the uniform at binding 0; one read-write buffer follows.
    pub read_buffers: u32,
    /// A sampled `texture_2d<f32>` read with `textureLoad`, at this binding: one of the read
    /// bindings (it then holds the texture, not a buffer) or one past the buffers.
    pub texture_input: Option<u32>,
    /// A read binding this entry point does not use (left out of the layout).
    pub unused_read: Option<u32>,
    /// Device features the source needs (beyond what its storage prelude enables).
    pub features: wgpu::Features,
}

impl Specialization {
    pub fn new(
        family: &'static str,
        entry: &'static str,
        prelude: &str,
        body: &str,
        read_buffers: u32,
    ) -> Self {
        Specialization {
            family,
            entry,
            source: format!("{prelude}\n{body}"),
            constants: Vec::new(),
            read_buffers,
            texture_input: None,
            unused_read: None,
            features: wgpu::Features::empty(),
        }
    }

    /// The source needs `features` on the device (e.g. SUBGROUP).
    pub fn requiring(mut self, features: wgpu::Features) -> Self {
        self.features |= features;
        self
    }

    /// Read a texture at `binding` (see [`Specialization::texture_input`]).
    pub fn with_texture_input(mut self, binding: u32) -> Self {
        self.texture_input = Some(binding);
        self
    }

    /// Leave read binding `binding` out of the layout: the entry point does not use it.
    pub fn without_read(mut self, binding: u32) -> Self {
        self.unused_read = Some(binding);
        self
    }

    pub fn with(mut self, name: &'static str, value: f64) -> Self {
        self.constants.push((name, value));
        self
    }

    fn key(&self) -> String {
        format!(
            "{}:{}:{:?}:{:?}:{:?}:{}",
            self.family,
            self.entry,
            self.constants,
            self.texture_input,
            self.unused_read,
            self.source
        )
    }
}

/// The bind group layout every kernel uses: a uniform at 0, read-only storage buffers at
/// 1..=`reads`, then one read-write storage buffer. A `texture` binding holds a 2-D float
/// texture (unfilterable, so any float format binds) instead, and an `unused` read binding is
/// left out.
pub fn bind_group_layout(
    device: &wgpu::Device,
    reads: u32,
    texture: Option<u32>,
    unused: Option<u32>,
) -> wgpu::BindGroupLayout {
    let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    let mut entries = vec![wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }];
    entries.extend(
        (1..=reads)
            .filter(|b| Some(*b) != texture && Some(*b) != unused)
            .map(|b| storage(b, true)),
    );
    entries.push(storage(reads + 1, false));
    entries.extend(texture.map(|binding| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: false },
            view_dimension: wgpu::TextureViewDimension::D2,
            multisampled: false,
        },
        count: None,
    }));
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("gpu-resnet kernel layout"),
        entries: &entries,
    })
}

/// Expands the `// @unroll NAME < CONST` ... `// @end` blocks of a kernel source: the block's
/// lines are repeated for NAME = 0 .. CONST-1 with every `{NAME}` replaced by the number.
/// `// @if FLAG` ... `// @end` keeps its block only when FLAG is non-zero (for code that needs
/// a feature the other variant lacks, which a dead `if` would still require). Blocks nest. Register tiles must be unrolled in the source: compilers (lavapipe's NIR
/// among them) give up unrolling nested tile loops past a small size, and a tile array indexed
/// by a loop variable then lives in memory, with a gather per access (measured on lavapipe: a
/// 16x16 tile runs at 36 GFLOP/s unrolled and 9 GFLOP/s as loops).
pub fn unroll(source: &str, consts: &[(&str, u32)]) -> Result<String, String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = String::with_capacity(source.len() * 4);
    let end = expand(&lines, 0, consts, &[], &mut out)?;
    if end != lines.len() {
        return Err(format!("line {}: `// @end` without `// @unroll`", end + 1));
    }
    Ok(out)
}

/// Expands `lines[start..]` up to an unmatched `// @end` (whose index it returns) or the end.
fn expand(
    lines: &[&str],
    start: usize,
    consts: &[(&str, u32)],
    bound: &[(String, u32)],
    out: &mut String,
) -> Result<usize, String> {
    let mut i = start;
    while i < lines.len() {
        let trimmed = lines[i].trim();
        if trimmed == "// @end" {
            return Ok(i);
        }
        let block = if let Some(spec) = trimmed.strip_prefix("// @unroll ") {
            let (name, count) = spec
                .split_once('<')
                .map(|(n, c)| (n.trim(), c.trim()))
                .ok_or_else(|| format!("line {}: expected `// @unroll NAME < CONST`", i + 1))?;
            Some((name, count, false))
        } else {
            trimmed
                .strip_prefix("// @if ")
                .map(|flag| ("", flag.trim(), true))
        };
        if let Some((name, count, is_if)) = block {
            let count = consts
                .iter()
                .find(|(c, _)| *c == count)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("line {}: no value given for `{count}`", i + 1))?;
            // `// @if FLAG`: the block once when FLAG is non-zero, else not at all.
            let count = if is_if { count.min(1) } else { count };
            let mut close = i + 1;
            for value in 0..count.max(1) {
                let mut inner = bound.to_vec();
                if !is_if {
                    inner.push((name.to_string(), value));
                }
                let mut body = String::new();
                close = expand(lines, i + 1, consts, &inner, &mut body)?;
                if value < count {
                    out.push_str(&body);
                }
            }
            if close >= lines.len() {
                return Err(format!("line {}: `// @unroll` without `// @end`", i + 1));
            }
            i = close + 1;
            continue;
        }
        let mut line = lines[i].to_string();
        for (name, value) in bound {
            line = line.replace(&format!("{{{name}}}"), &value.to_string());
        }
        out.push_str(&line);
        out.push('\n');
        i += 1;
    }
    Ok(i)
}

/// A compiled pipeline and the layout its bind groups must use.
pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

/// Pipelines and shader modules made once per device and shared by every plan on it.
#[derive(Default)]
pub struct PipelineCache {
    modules: Mutex<HashMap<String, wgpu::ShaderModule>>,
    kernels: Mutex<HashMap<String, Arc<Kernel>>>,
}

impl PipelineCache {
    pub fn get(&self, device: &wgpu::Device, spec: &Specialization) -> Arc<Kernel> {
        let key = spec.key();
        let mut kernels = self.kernels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = kernels.get(&key) {
            return k.clone();
        }
        let module = {
            let mut modules = self.modules.lock().unwrap_or_else(|e| e.into_inner());
            modules
                .entry(spec.source.clone())
                .or_insert_with(|| {
                    device.create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(spec.family),
                        source: wgpu::ShaderSource::Wgsl(spec.source.as_str().into()),
                    })
                })
                .clone()
        };
        let layout = bind_group_layout(
            device,
            spec.read_buffers,
            spec.texture_input,
            spec.unused_read,
        );
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(spec.family),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(spec.family),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(spec.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &spec.constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        let kernel = Arc::new(Kernel { pipeline, layout });
        kernels.insert(key, kernel.clone());
        kernel
    }

    pub fn len(&self) -> usize {
        self.kernels.lock().map(|k| k.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A workgroup grid covering `groups` workgroups within the 65535-per-dimension limit; kernels
/// linearise it as `wid.y * num_workgroups.x + wid.x` and drop the overshoot.
pub fn grid(groups: u32, max_per_dim: u32) -> (u32, u32, u32) {
    let max = max_per_dim.max(1);
    if groups <= max {
        return (groups.max(1), 1, 1);
    }
    let y = groups.div_ceil(max);
    (groups.div_ceil(y), y, 1)
}

/// Every specialisation the engine's plans use for `storage`, across all architectures and
/// every tile policy ([`conv::TILE_POLICIES`]): what the shader tests validate and
/// cross-compile.
pub fn used_specializations(storage: Storage) -> Vec<Specialization> {
    use crate::arch::{Op, Stage1Shortcut, ARCHS};
    let mut specs: Vec<Specialization> = vec![
        preprocess::from_nchw(storage),
        preprocess::resize_crop_normalize(),
        pool::max_pool_3x3s2(storage),
    ];
    specs.extend(preprocess::TexelDecode::ALL.map(preprocess::resize_crop_normalize_texture));
    let mut seen = std::collections::HashSet::new();
    let mut features = std::collections::BTreeSet::new();
    for arch in ARCHS {
        for stage1 in [
            Stage1Shortcut::Projection,
            Stage1Shortcut::IdentityWhenSameShape,
        ] {
            let graph = arch.graph(64, 64, 1000, stage1);
            for op in &graph.ops {
                if let Op::Conv { conv: c, .. } = *op {
                    for (device, subgroup) in conv::TILE_POLICIES {
                        let layer = &graph.convs[c];
                        let tile = conv::Tile::for_layer(layer.cout, device, subgroup);
                        let v = conv::ConvVariant::of(layer, tile);
                        if seen.insert(v) {
                            specs.push(v.specialization(storage));
                        }
                    }
                }
            }
            features.insert(graph.features);
        }
    }
    specs.extend(
        features
            .into_iter()
            .map(|f| head::specialization(storage, f)),
    );
    specs
}

#[cfg(test)]
mod tests {
    use super::unroll;

    #[test]
    fn unroll_repeats_nested_blocks_with_constant_indices() {
        let src = "a\n  // @unroll m < TM\n  // @unroll j < TN\n  x[{m}][{j}] = {m}u;\n  // @end\n  // @end\nb\n";
        let out = unroll(src, &[("TM", 2), ("TN", 2)]).unwrap();
        assert_eq!(
            out,
            "a\n  x[0][0] = 0u;\n  x[0][1] = 0u;\n  x[1][0] = 1u;\n  x[1][1] = 1u;\nb\n"
        );
    }

    #[test]
    fn if_blocks_are_kept_or_dropped_by_their_flag() {
        let src = "a\n// @if ON\nb\n// @end\n// @if OFF\nc\n// @end\nd\n";
        let out = unroll(src, &[("ON", 8), ("OFF", 0)]).unwrap();
        assert_eq!(out, "a\nb\nd\n");
    }

    #[test]
    fn unroll_rejects_unbalanced_or_unknown_blocks() {
        assert!(unroll("// @unroll m < TM\nx\n", &[("TM", 2)]).is_err());
        assert!(unroll("x\n// @end\n", &[]).is_err());
        assert!(unroll("// @unroll m < NOPE\nx\n// @end\n", &[("TM", 2)]).is_err());
    }
}
