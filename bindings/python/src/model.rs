//! `gpu_resnet.Model`: a `Session` held for Python, closed explicitly or when collected.

use std::sync::{Arc, Mutex};

use gpu_resnet::{ContextOptions, OpenOptions, Session, SessionOptions};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::{detached, guard, input_error, to_py};
use crate::input::{self, ImageInput};

/// A ResNet opened on a GPU adapter, callable from several threads at once.
///
/// ``Model(weights=None, *, model=None, precision="fp32", backend=None, adapter=None,
/// classes=None)``
///
/// - ``weights``: a path (str or os.PathLike) to any file or directory ``gpu-resnet infer``
///   reads (.pdparams, safetensors, ONNX, a Paddle inference model directory or its
///   inference.json / inference.pdmodel), the ``bytes`` of one such file, or a dict of file
///   name to bytes (a Paddle program and its .pdiparams); ``None``: deterministic synthetic
///   weights (then ``model`` is required and ``classes`` sets the head, default 1000).
/// - ``model``: a name from ``gpu_resnet.models()``; with weights it must agree with them.
/// - ``precision``: ``"fp32"`` or ``"fp16"`` (``"fp16-native"``, ``"fp16-packed"``).
/// - ``backend``: ``"vulkan"``, ``"gl"``, ``"metal"``, ``"dx12"`` or None (wgpu's choice).
/// - ``adapter``: an index into ``gpu_resnet.adapters(backend)``.
///
/// Raises ``WeightsError``, ``InputError``, ``DeviceError`` (subclasses of ``gpu_resnet.Error``).
#[pyclass(frozen, module = "gpu_resnet", name = "Model")]
pub struct Model {
    session: Mutex<Option<Arc<Session>>>,
    /// The process that opened it: a forked child must not free its device objects.
    pid: u32,
}

impl Model {
    /// `f` of the open session, a panic in it becoming `gpu_resnet.Error`.
    fn with<T>(&self, py: Python<'_>, f: impl FnOnce(&Session) -> T) -> PyResult<T> {
        guard(py, || Ok(f(&*self.session(py)?)))
    }

    fn session(&self, py: Python<'_>) -> PyResult<Arc<Session>> {
        self.session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| input_error(py, "this model is closed"))
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // A device made before fork() must not be touched in the child, not even to free it.
        if std::process::id() != self.pid {
            if let Some(s) = self
                .session
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            {
                std::mem::forget(s);
            }
        }
    }
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (weights=None, *, model=None, precision="fp32", backend=None, adapter=None, classes=None))]
    fn new(
        py: Python<'_>,
        weights: Option<&Bound<'_, PyAny>>,
        model: Option<String>,
        precision: &str,
        backend: Option<&str>,
        adapter: Option<usize>,
        classes: Option<usize>,
    ) -> PyResult<Model> {
        guard(py, || {
            let source = input::weights_source(py, weights, classes)?;
            let (precision, f16_mode) = input::precision(py, precision)?;
            let options = SessionOptions {
                open: OpenOptions {
                    model,
                    precision,
                    f16_mode,
                },
                device: ContextOptions {
                    backend: input::backend(py, backend)?,
                    adapter,
                },
            };
            let session = detached(py, move || Session::open(&source, &options))?;
            Ok(Model {
                session: Mutex::new(Some(Arc::new(session))),
                pid: std::process::id(),
            })
        })
    }

    /// The release's name, e.g. ``"ResNet50_vd"``.
    #[getter]
    fn name(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, |s| s.name().to_string())
    }

    /// The number of classes (the logits' second dimension).
    #[getter]
    fn classes(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, Session::classes)
    }

    /// The input's name in the model file (``"x"`` for PaddleClas exports).
    #[getter]
    fn input_name(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, |s| s.input_name().to_string())
    }

    /// The size images are cropped to by ``predict`` (224, or what the file declares).
    #[getter]
    fn input_size(&self, py: Python<'_>) -> PyResult<u32> {
        self.with(py, Session::input_size)
    }

    /// ``"fp32"``, ``"fp16"`` or ``"fp16-packed"``: the storage the model runs in.
    #[getter]
    fn precision(&self, py: Python<'_>) -> PyResult<&'static str> {
        self.with(py, Session::precision)
    }

    /// The adapter it runs on, as ``gpu_resnet.adapters()`` describes it.
    #[getter]
    fn adapter(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, Session::adapter)
    }

    /// Class names from the model's inference.yml, or None.
    #[getter]
    fn labels(&self, py: Python<'_>) -> PyResult<Option<Vec<String>>> {
        self.with(py, |s| s.labels().map(<[String]>::to_vec))
    }

    /// Whether ``close()`` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// Logits of a normalised NCHW batch.
    ///
    /// ``x``: a numpy array ``[N, 3, H, W]``, float32 (used in place when C-contiguous) or
    /// float16 (other real dtypes and strided arrays are converted, one copy). Any batch size
    /// and any size the model accepts. Returns float32 ``[N, classes]``: the plan
    /// ``gpu-resnet infer`` runs, so the same bits. The GIL is released while it runs.
    ///
    /// Raises ``InputError`` (shape, dtype, size limits) and ``NonFiniteError`` (NaN or Inf in
    /// the input or the logits).
    fn run<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        guard(py, || {
            let session = self.session(py)?;
            let array = input::nchw_f32(py, x)?;
            let shape = array.shape();
            let (n, h, w) = (shape[0], shape[2], shape[3]);
            let readonly = array.readonly();
            let data = readonly
                .as_slice()
                .map_err(|e| input_error(py, format!("input: {e}")))?;
            let logits = detached(py, || session.run(data, n, h, w))?;
            let classes = session.classes();
            let logits = Array2::from_shape_vec((n, classes), logits)
                .map_err(|e| to_py(py, &gpu_resnet::Error::Internal(e.to_string())))?;
            Ok(logits.into_pyarray(py))
        })
    }

    /// ``model(x)`` is ``model.run(x)``.
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        self.run(py, x)
    }

    /// The ``topk`` most probable classes of each image, most probable first.
    ///
    /// ``images``: a list of paths, encoded image bytes (jpeg, png, bmp, webp, gif, tiff) or
    /// HxWx3 uint8 RGB arrays (a single one is taken as a list of one). Preprocessed on the GPU
    /// like ``gpu-resnet predict`` (the model's inference.yml when it has one, else
    /// PaddleClas's). Returns one list per image of ``{"class_id", "score", "label"}`` dicts.
    #[pyo3(signature = (images, topk=5))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        topk: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        guard(py, || {
            let session = self.session(py)?;
            let inputs: Vec<ImageInput> = if ImageInput::is_single(images) {
                vec![ImageInput::from_py(py, 0, images)?]
            } else {
                let mut v = Vec::new();
                for (i, item) in images.try_iter()?.enumerate() {
                    v.push(ImageInput::from_py(py, i, &item?)?);
                }
                v
            };
            let classified = detached(py, || {
                let decoded = inputs
                    .into_iter()
                    .enumerate()
                    .map(|(i, img)| img.decode(i))
                    .collect::<gpu_resnet::Result<Vec<_>>>()?;
                let top = session.classify(&decoded, topk)?;
                Ok(top
                    .into_iter()
                    .map(|preds| {
                        preds
                            .into_iter()
                            .map(|p| (p.class_id, p.score, session.label(p.class_id)))
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>())
            })?;
            let out = PyList::empty(py);
            for preds in classified {
                let row = PyList::empty(py);
                for (class_id, score, label) in preds {
                    let d = PyDict::new(py);
                    d.set_item("class_id", class_id)?;
                    d.set_item("score", score)?;
                    d.set_item("label", label)?;
                    row.append(d)?;
                }
                out.append(row)?;
            }
            Ok(out)
        })
    }

    /// Frees the model's GPU memory now (runs in flight finish first); later calls raise.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || {
            let taken = self
                .session
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            drop(taken);
            Ok(())
        })
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || {
            let session = self
                .session
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            Ok(match session {
                Some(s) => format!(
                    "<gpu_resnet.Model {} {} on {}>",
                    s.summary(),
                    s.precision(),
                    s.adapter()
                ),
                None => "<gpu_resnet.Model (closed)>".into(),
            })
        })
    }

    /// For bench/overhead.py: seconds of each of ``repeats`` runs of ``x`` through the Rust
    /// API on the same session (the same cached plan), timed in Rust.
    fn _rust_run_times(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        repeats: usize,
    ) -> PyResult<Vec<f64>> {
        guard(py, || {
            let session = self.session(py)?;
            let array = input::nchw_f32(py, x)?;
            let shape = array.shape();
            let (n, h, w) = (shape[0], shape[2], shape[3]);
            let data = array.to_vec().map_err(|e| input_error(py, e.to_string()))?;
            detached(py, move || {
                let mut times = Vec::with_capacity(repeats);
                for _ in 0..repeats {
                    let start = std::time::Instant::now();
                    std::hint::black_box(session.run(&data, n, h, w)?);
                    times.push(start.elapsed().as_secs_f64());
                }
                Ok(times)
            })
        })
    }
}
