//! `gpu_resnet.adapters()` and `gpu_resnet.models()`: the CLI's `adapters` and `models` tables
//! as lists of dicts.

use gpu_resnet::arch::{self, RELEASES};
use gpu_resnet::gpu::{describe_adapter, list_adapters};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::{detached, guard};
use crate::input;

/// The adapters wgpu finds (``backend``: None for all), in the order ``Model(adapter=i)``
/// indexes. Each dict: ``index``, ``description`` (as the model's ``adapter`` property says it),
/// ``name``, ``backend``, ``device_type``, ``vendor``, ``device``, ``driver``, ``driver_info``,
/// ``pci_bus_id`` (empty where the driver does not say; used to find the GPU that
/// ``CUDA_VISIBLE_DEVICES`` names), ``fp16`` (``"native"`` or ``"packed"``), ``shader_f16``,
/// ``subgroup``, ``timestamp_query``, ``max_storage_binding_mib``, ``max_buffer_mib``.
#[pyfunction]
#[pyo3(signature = (backend=None))]
pub fn adapters<'py>(py: Python<'py>, backend: Option<&str>) -> PyResult<Bound<'py, PyList>> {
    guard(py, || {
        let choice = input::backend(py, backend)?;
        let infos = detached(py, move || {
            Ok(list_adapters(choice)
                .iter()
                .map(|a| (a.get_info(), a.features(), a.limits()))
                .collect::<Vec<_>>())
        })?;
        let out = PyList::empty(py);
        for (i, (info, f, l)) in infos.iter().enumerate() {
            let d = PyDict::new(py);
            d.set_item("index", i)?;
            d.set_item("description", describe_adapter(info))?;
            d.set_item("name", &info.name)?;
            d.set_item("backend", format!("{:?}", info.backend).to_lowercase())?;
            d.set_item("device_type", format!("{:?}", info.device_type))?;
            d.set_item("vendor", info.vendor)?;
            d.set_item("device", info.device)?;
            d.set_item("driver", &info.driver)?;
            d.set_item("driver_info", &info.driver_info)?;
            d.set_item("pci_bus_id", &info.device_pci_bus_id)?;
            let f16 = f.contains(wgpu::Features::SHADER_F16);
            d.set_item("fp16", if f16 { "native" } else { "packed" })?;
            d.set_item("shader_f16", f16)?;
            d.set_item("subgroup", f.contains(wgpu::Features::SUBGROUP))?;
            d.set_item(
                "timestamp_query",
                f.contains(wgpu::Features::TIMESTAMP_QUERY),
            )?;
            d.set_item(
                "max_storage_binding_mib",
                l.max_storage_buffer_binding_size >> 20,
            )?;
            d.set_item("max_buffer_mib", l.max_buffer_size >> 20)?;
            out.append(d)?;
        }
        Ok(out)
    })
}

/// Every model name ``Model(model=...)`` takes, with its architecture, input size, FLOPs and
/// parameters at 1000 classes (``gpu-resnet models``). Each dict: ``name``, ``arch``,
/// ``input_size``, ``flops``, ``params``, ``flops_g``, ``params_m``.
#[pyfunction]
pub fn models(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    guard(py, || {
        let out = PyList::empty(py);
        for r in RELEASES {
            let Some(a) = arch::find_arch(r.arch) else {
                continue;
            };
            let flops = a.flops(r.crop as usize, 1000);
            let params = a.params(1000);
            let d = PyDict::new(py);
            d.set_item("name", r.name)?;
            d.set_item("arch", a.name)?;
            d.set_item("input_size", r.crop)?;
            d.set_item("flops", flops)?;
            d.set_item("params", params)?;
            d.set_item("flops_g", flops as f64 / 1e9)?;
            d.set_item("params_m", params as f64 / 1e6)?;
            out.append(d)?;
        }
        Ok(out)
    })
}
