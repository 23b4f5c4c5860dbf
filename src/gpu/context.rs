//! The device the engine runs on: one we create (adapter choice, features, limits) or one a host
//! application (a renderer) already owns and lends us.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::pipelines::PipelineCache;
use crate::error::{Error, Result};

/// Which wgpu backends to consider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum BackendChoice {
    #[default]
    Auto,
    Vulkan,
    Gl,
    Metal,
    Dx12,
}

impl BackendChoice {
    pub fn backends(self) -> wgpu::Backends {
        match self {
            BackendChoice::Auto => wgpu::Backends::all(),
            BackendChoice::Vulkan => wgpu::Backends::VULKAN,
            BackendChoice::Gl => wgpu::Backends::GL,
            BackendChoice::Metal => wgpu::Backends::METAL,
            BackendChoice::Dx12 => wgpu::Backends::DX12,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ContextOptions {
    pub backend: BackendChoice,
    /// Index into the list `enumerate_adapters` gives for `backend`; None = wgpu's preference.
    pub adapter: Option<usize>,
}

/// Features the engine uses when present; none is required.
pub const OPTIONAL_FEATURES: wgpu::Features = wgpu::Features::SHADER_F16
    .union(wgpu::Features::TIMESTAMP_QUERY)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
    .union(wgpu::Features::SUBGROUP);

/// A device and queue plus what we know of the adapter behind them.
#[derive(Clone, Debug)]
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub features: wgpu::Features,
    pub limits: wgpu::Limits,
    /// Set by the device-lost callback (devices we create); shared by every clone.
    health: Arc<DeviceHealth>,
    /// The device's compiled pipelines, shared by every clone and every model on it: a kernel
    /// specialisation is compiled once per device, however many models, plans, checks or
    /// preprocessors use it (slow shader compilers, e.g. SwiftShader's, pay for it once).
    pub pipelines: Arc<PipelineCache>,
}

/// Whether the device was lost, and why: written by wgpu's device-lost callback, read before
/// every scoped call so that work on a dead device fails at once instead of waiting on it.
#[derive(Debug, Default)]
struct DeviceHealth {
    lost: AtomicBool,
    reason: Mutex<String>,
    /// The first validation or out-of-memory error the device's handler caught and no call
    /// has reported yet (browser builds only: natively every call has its own error scopes).
    #[cfg(target_arch = "wasm32")]
    uncaptured: Mutex<Option<String>>,
}

impl DeviceHealth {
    #[cfg(target_arch = "wasm32")]
    fn record_error(&self, message: String) {
        if let Ok(mut slot) = self.uncaptured.lock() {
            slot.get_or_insert(message);
        }
    }

    #[cfg(target_arch = "wasm32")]
    fn take_error(&self) -> Option<String> {
        self.uncaptured.lock().ok().and_then(|mut slot| slot.take())
    }

    fn mark_lost(&self, reason: String) {
        if let Ok(mut r) = self.reason.lock() {
            *r = reason;
        }
        self.lost.store(true, Ordering::Release);
    }
}

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        flags: wgpu::InstanceFlags::empty(),
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    })
}

/// Every adapter wgpu finds for `backend`, in a stable order (the order `--adapter N` indexes).
#[cfg(not(target_arch = "wasm32"))]
pub fn list_adapters(backend: BackendChoice) -> Vec<wgpu::Adapter> {
    pollster::block_on(list_adapters_async(backend))
}

/// `list_adapters` without blocking (the browser's only way).
pub async fn list_adapters_async(backend: BackendChoice) -> Vec<wgpu::Adapter> {
    let inst = instance(backend.backends());
    inst.enumerate_adapters(backend.backends()).await
}

/// wgpu's preferred adapter among `backends`. For `Auto`, the primary backends (Vulkan, Metal,
/// DX12, WebGPU) are asked first and GL only when none of them has an adapter: initialising
/// EGL prints warnings on headless machines, and a GL adapter is never the better choice when
/// a primary one exists. `--backend gl` and `list_adapters` still reach GL.
async fn preferred_adapter(
    choice: BackendChoice,
    backends: wgpu::Backends,
) -> Result<wgpu::Adapter> {
    let request = |backends: wgpu::Backends| async move {
        instance(backends)
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
    };
    let primary = backends & wgpu::Backends::PRIMARY;
    if choice == BackendChoice::Auto && !primary.is_empty() {
        if let Ok(adapter) = request(primary).await {
            return Ok(adapter);
        }
    }
    request(backends).await.map_err(|e| Error::NoAdapter {
        detail: format!(" for backend {choice:?} ({e})"),
    })
}

impl GpuContext {
    /// Create our own device on the chosen adapter, with the adapter's full limits and the
    /// optional features it has.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(opts: ContextOptions) -> Result<Self> {
        pollster::block_on(Self::new_async(opts))
    }

    /// `new` without blocking: the browser's only way (WebGPU hands out adapters and devices
    /// through promises); native callers inside an executor can use it too.
    pub async fn new_async(opts: ContextOptions) -> Result<Self> {
        let backends = opts.backend.backends();
        let adapter = match opts.adapter {
            Some(index) => {
                let mut adapters = list_adapters_async(opts.backend).await;
                let count = adapters.len();
                if index >= count {
                    return Err(if count == 0 {
                        Error::NoAdapter {
                            detail: format!(" for backend {:?}", opts.backend),
                        }
                    } else {
                        Error::Input(format!(
                            "--adapter {index}: only {count} adapter(s) found for backend {:?} (see `gpu-resnet adapters`)",
                            opts.backend
                        ))
                    });
                }
                adapters.swap_remove(index)
            }
            None => preferred_adapter(opts.backend, backends).await?,
        };
        let info = adapter.get_info();
        let features = adapter.features() & OPTIONAL_FEATURES;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("gpu-resnet"),
                required_features: features,
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| Error::Gpu {
                during: format!("device creation on `{}`", info.name),
                message: e.to_string(),
            })?;
        // Our device, so the loss handler is ours to install (never on a borrowed one).
        let health = Arc::new(DeviceHealth::default());
        let seen = Arc::clone(&health);
        device.set_device_lost_callback(move |reason, message| {
            seen.mark_lost(match message.as_str() {
                "" => format!("{reason:?}"),
                m => format!("{reason:?}: {m}"),
            })
        });
        // In the browser error scopes can only be popped by awaiting them (see `scoped`): the
        // errors of our own device are kept by its handler and reported by the next call.
        #[cfg(target_arch = "wasm32")]
        {
            let seen = Arc::clone(&health);
            device.on_uncaptured_error(Arc::new(move |e| seen.record_error(e.to_string())));
        }
        Ok(GpuContext {
            device,
            queue,
            info,
            features,
            limits,
            health,
            pipelines: Arc::default(),
        })
    }

    /// Run on a device someone else owns (a renderer's): we use exactly the features and limits
    /// it was created with and never install an error or device-lost handler on it (that would
    /// replace the host's); a loss then shows as the errors of the calls that meet it.
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue, info: wgpu::AdapterInfo) -> Self {
        let features = device.features();
        let limits = device.limits();
        GpuContext {
            device,
            queue,
            info,
            features,
            limits,
            health: Arc::default(),
            pipelines: Arc::default(),
        }
    }

    /// `Err(Error::DeviceLost)` once the device-lost callback has run. wgpu runs that callback
    /// from `poll`, so this polls once (without blocking) to let a pending loss be reported.
    pub fn ensure_alive(&self) -> Result<()> {
        if !self.health.lost.load(Ordering::Acquire) {
            // The result is only about queue progress; a loss arrives through the callback.
            let _ = self.device.poll(wgpu::PollType::Poll);
        }
        if self.health.lost.load(Ordering::Acquire) {
            let reason = self
                .health
                .reason
                .lock()
                .map(|r| r.clone())
                .unwrap_or_else(|e| e.into_inner().clone());
            return Err(Error::DeviceLost {
                adapter: self.describe(),
                reason,
            });
        }
        Ok(())
    }

    /// The limits every plan needs, whoever created the device: an error names the first
    /// limit that falls short.
    pub fn check_requirements(&self) -> Result<()> {
        let l = &self.limits;
        let needs: [(&'static str, u64, u64, &str); 4] = [
            (
                "max_storage_buffers_per_shader_stage",
                4,
                l.max_storage_buffers_per_shader_stage as u64,
                "the image kernel's pixels, taps, levels and output",
            ),
            (
                "max_compute_invocations_per_workgroup",
                64,
                l.max_compute_invocations_per_workgroup as u64,
                "64-invocation workgroups",
            ),
            (
                "max_compute_workgroup_size_x",
                64,
                l.max_compute_workgroup_size_x as u64,
                "64-invocation workgroups",
            ),
            (
                "max_uniform_buffers_per_shader_stage",
                1,
                l.max_uniform_buffers_per_shader_stage as u64,
                "per-dispatch parameters",
            ),
        ];
        for (limit, needed, allowed, what) in needs {
            if allowed < needed {
                return Err(Error::Limit {
                    limit,
                    what: what.to_string(),
                    needed,
                    allowed,
                });
            }
        }
        Ok(())
    }

    /// How many invocations the adapter runs in lockstep (its subgroup size; 32 where the
    /// adapter does not say): what kernels size their lane layouts by.
    pub fn lane_group_size(&self) -> u32 {
        match self.info.subgroup_max_size {
            0 => 32,
            n => n,
        }
    }

    /// The subgroup size, where the device has SUBGROUP and every subgroup has the same size
    /// (lavapipe: 8); kernels that unroll per-lane work need it fixed.
    pub fn fixed_subgroup_size(&self) -> Option<u32> {
        let (min, max) = (self.info.subgroup_min_size, self.info.subgroup_max_size);
        (self.has(wgpu::Features::SUBGROUP) && min == max && min > 0).then_some(min)
    }

    /// About how many workgroups the adapter runs at once: its threads on a CPU adapter
    /// (lavapipe runs one workgroup per CPU thread), a nominal 256 on GPUs.
    pub fn concurrent_workgroups(&self) -> u32 {
        match self.info.device_type {
            wgpu::DeviceType::Cpu => std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1),
            _ => 256,
        }
    }

    pub fn has(&self, feature: wgpu::Features) -> bool {
        self.features.contains(feature)
    }

    /// A one-line description: name, backend, driver.
    pub fn describe(&self) -> String {
        describe_adapter(&self.info)
    }

    /// Run `f` inside validation and out-of-memory error scopes; a captured error becomes
    /// `Error::Gpu` naming `during`.
    /// A lost device fails at once, before `f` runs, and a loss during `f` is reported as such.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn scoped<T>(&self, during: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.ensure_alive()?;
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let v_err = pollster::block_on(validation.pop());
        let o_err = pollster::block_on(oom.pop());
        self.ensure_alive()?;
        if let Some(e) = v_err.or(o_err) {
            return Err(Error::Gpu {
                during: during.to_string(),
                message: e.to_string(),
            });
        }
        value
    }

    /// In the browser a scope's errors arrive only through a promise, which nothing here may
    /// block on: `f` runs unscoped, and an error the device's handler has caught by now (from
    /// `f` or an earlier call; the browser reports them asynchronously) becomes `Error::Gpu`.
    /// `PendingRun::wait_async` checks again once the GPU work is done.
    #[cfg(target_arch = "wasm32")]
    pub fn scoped<T>(&self, during: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.ensure_alive()?;
        let value = f();
        self.ensure_alive()?;
        self.check_reported(during)?;
        value
    }

    /// An error the browser reported for this device since the last check, naming `during`.
    #[cfg(target_arch = "wasm32")]
    pub fn check_reported(&self, during: &str) -> Result<()> {
        match self.health.take_error() {
            Some(message) => Err(Error::Gpu {
                during: during.to_string(),
                message,
            }),
            None => Ok(()),
        }
    }

    /// Block until the queue is idle. Not in the browser, where nothing may block: there the
    /// async paths (`PendingRun::wait_async`) wait instead, and this is an error.
    #[cfg(target_arch = "wasm32")]
    pub fn wait(&self) -> Result<()> {
        Err(Error::Unsupported {
            adapter: self.describe(),
            what: "blocking waits (in the browser use the async calls: Plan::run_async, \
                   Classifier::classify_async)"
                .into(),
        })
    }

    /// Block until the queue is idle.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Gpu {
                during: "waiting for the GPU".into(),
                message: e.to_string(),
            })
    }
}

pub fn describe_adapter(info: &wgpu::AdapterInfo) -> String {
    let driver = if info.driver.is_empty() {
        String::new()
    } else {
        format!(", driver {} {}", info.driver, info.driver_info)
    };
    format!(
        "{} ({:?}, {:?}{})",
        info.name, info.backend, info.device_type, driver
    )
}
