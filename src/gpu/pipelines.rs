//! Specialisations (a generated source + `override` values + binding layout), the bind group
//! layout they imply, and the per-device pipeline cache keyed by a typed key.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

/// Declarations every kernel source shares (`shaders/common.wgsl`), placed after the storage
/// prelude.
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// A kernel source with its prelude and the `override` values of one specialisation.
#[derive(Clone, Debug)]
pub struct Specialization {
    pub family: &'static str,
    pub entry: &'static str,
    pub source: String,
    pub constants: Vec<(&'static str, f64)>,
    /// Read-only storage buffers after the uniform at binding 0; one read-write buffer follows.
    pub read_buffers: u32,
    /// Sampled `texture_2d<f32>`s read with `textureLoad`, at these bindings: read bindings
    /// (they then hold the texture, not a buffer) or one past the buffers.
    pub texture_inputs: Vec<u32>,
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
            source: format!("{prelude}\n{COMMON}\n{body}"),
            constants: Vec::new(),
            read_buffers,
            texture_inputs: Vec::new(),
            unused_read: None,
            features: wgpu::Features::empty(),
        }
    }

    /// The source needs `features` on the device (e.g. SUBGROUP).
    pub fn requiring(mut self, features: wgpu::Features) -> Self {
        self.features |= features;
        self
    }

    /// Read a texture at `binding` too (see [`Specialization::texture_inputs`]).
    pub fn with_texture_input(mut self, binding: u32) -> Self {
        if !self.texture_inputs.contains(&binding) {
            self.texture_inputs.push(binding);
            self.texture_inputs.sort_unstable();
        }
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

    fn key(&self) -> PipelineKey {
        PipelineKey {
            family: self.family,
            entry: self.entry,
            source: SourceKey::of(&self.source),
            constants: self
                .constants
                .iter()
                .map(|&(n, v)| (n, v.to_bits()))
                .collect(),
            texture_inputs: self.texture_inputs.clone(),
            unused_read: self.unused_read,
        }
    }
}

/// The bind group layout every kernel uses: a uniform at 0, read-only storage buffers at
/// 1..=`reads`, then one read-write storage buffer. Each `textures` binding holds a 2-D float
/// texture (unfilterable, so any float format binds) instead, and an `unused` read binding is
/// left out.
pub fn bind_group_layout(
    device: &wgpu::Device,
    reads: u32,
    textures: &[u32],
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
            .filter(|b| !textures.contains(b) && Some(*b) != unused)
            .map(|b| storage(b, true)),
    );
    entries.push(storage(reads + 1, false));
    entries.extend(textures.iter().map(|&binding| wgpu::BindGroupLayoutEntry {
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

/// A generated source, identified by its length and a 64-bit hash of its text: the cache keys
/// hold this rather than the (tens of KB of) source itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SourceKey {
    len: usize,
    hash: u64,
}

impl SourceKey {
    fn of(source: &str) -> SourceKey {
        let mut h = DefaultHasher::new();
        source.hash(&mut h);
        SourceKey {
            len: source.len(),
            hash: h.finish(),
        }
    }
}

/// What makes two specialisations the same pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PipelineKey {
    family: &'static str,
    entry: &'static str,
    source: SourceKey,
    /// `override` values by their bits (f64 is not `Eq`).
    constants: Vec<(&'static str, u64)>,
    texture_inputs: Vec<u32>,
    unused_read: Option<u32>,
}

/// A compiled pipeline and the layout its bind groups must use.
pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

/// Pipelines and shader modules made once per device and shared by every plan on it.
#[derive(Default)]
pub struct PipelineCache {
    modules: Mutex<HashMap<SourceKey, wgpu::ShaderModule>>,
    kernels: Mutex<HashMap<PipelineKey, Arc<Kernel>>>,
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
                .entry(key.source)
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
            &spec.texture_inputs,
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

impl std::fmt::Debug for PipelineCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PipelineCache({} pipelines)", self.len())
    }
}
