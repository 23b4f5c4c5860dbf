//! What callers hand the model, turned into what the session takes: the weights argument,
//! option strings, NCHW batches and images.

use std::path::PathBuf;

use gpu_resnet::{BackendChoice, F16Mode, Precision, WeightsSource};
use numpy::{PyArray4, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};

use crate::errors::input_error;

/// `Model(weights=...)`: a path (str or PathLike), `bytes` of one file, a dict of file name to
/// bytes (a Paddle program with its .pdiparams), or None for synthetic weights.
pub fn weights_source(
    py: Python<'_>,
    weights: Option<&Bound<'_, PyAny>>,
    classes: Option<usize>,
) -> PyResult<WeightsSource> {
    let Some(w) = weights else {
        return Ok(WeightsSource::Synthetic {
            // `gpu-resnet infer` without --weights: 1000 classes, seed 0.
            classes: classes.unwrap_or(1000),
            seed: 0,
        });
    };
    if classes.is_some() {
        return Err(input_error(
            py,
            "classes= is only for synthetic weights (weights=None): a file says its own",
        ));
    }
    if let Ok(b) = w.cast::<PyBytes>() {
        return Ok(WeightsSource::Bytes {
            name: "<weights bytes>".into(),
            bytes: b.as_bytes().to_vec(),
        });
    }
    if let Ok(b) = w.cast::<PyByteArray>() {
        return Ok(WeightsSource::Bytes {
            name: "<weights bytes>".into(),
            bytes: b.to_vec(),
        });
    }
    if let Ok(d) = w.cast::<PyDict>() {
        let mut files = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let name: String = k
                .extract()
                .map_err(|_| input_error(py, "weights dict: keys must be file names (str)"))?;
            let bytes: Vec<u8> = match v.cast::<PyBytes>() {
                Ok(b) => b.as_bytes().to_vec(),
                Err(_) => {
                    return Err(input_error(
                        py,
                        format!("weights dict: the value of {name:?} must be bytes"),
                    ))
                }
            };
            files.push((name, bytes));
        }
        return Ok(WeightsSource::Files(files));
    }
    match w.extract::<PathBuf>() {
        Ok(path) => Ok(WeightsSource::Path(path)),
        Err(_) => Err(input_error(
            py,
            format!(
                "weights must be a path (str or os.PathLike), bytes, a dict of file name to \
                 bytes, or None for synthetic weights; got {}",
                type_name(w)
            ),
        )),
    }
}

/// `precision=`: `fp32`, `fp16` (native f16 where the adapter has it, else packed), or an
/// explicit `fp16-native` / `fp16-packed`.
pub fn precision(py: Python<'_>, s: &str) -> PyResult<(Precision, F16Mode)> {
    const EXPECTED: &str = r#""fp32", "fp16", "fp16-native" or "fp16-packed""#;
    Ok(match s.to_ascii_lowercase().as_str() {
        "fp32" | "f32" | "float32" => (Precision::F32, F16Mode::Auto),
        "fp16" | "f16" | "float16" | "half" => (Precision::F16, F16Mode::Auto),
        "fp16-native" => (Precision::F16, F16Mode::Native),
        "fp16-packed" => (Precision::F16, F16Mode::Packed),
        _ => {
            return Err(input_error(
                py,
                format!("precision {s:?}: expected {EXPECTED}"),
            ))
        }
    })
}

/// `backend=`: None or `auto`, `vulkan`, `gl`, `metal`, `dx12` (as `gpu-resnet --backend`).
pub fn backend(py: Python<'_>, s: Option<&str>) -> PyResult<BackendChoice> {
    const EXPECTED: &str = r#""auto", "vulkan", "gl", "metal" or "dx12""#;
    Ok(match s.map(str::to_ascii_lowercase).as_deref() {
        None | Some("auto") => BackendChoice::Auto,
        Some("vulkan") => BackendChoice::Vulkan,
        Some("gl") => BackendChoice::Gl,
        Some("metal") => BackendChoice::Metal,
        Some("dx12") => BackendChoice::Dx12,
        Some(other) => {
            return Err(input_error(
                py,
                format!("backend {other:?}: expected {EXPECTED}"),
            ))
        }
    })
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// `x` as a C-contiguous float32 `[N, 3, H, W]` array: itself when it already is one (no
/// copy), else numpy's conversion (one copy: float16, float64, integers, strided views).
pub fn nchw_f32<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray4<f32>>> {
    let Ok(arr) = x.cast::<PyUntypedArray>() else {
        return Err(input_error(
            py,
            format!(
                "input must be a numpy array [N, 3, H, W] (float32 or float16); got {}",
                type_name(x)
            ),
        ));
    };
    let shape = arr.shape().to_vec();
    if shape.len() != 4 || shape[1] != 3 {
        return Err(input_error(
            py,
            format!("input of shape {shape:?}: expected an NCHW batch [N, 3, H, W]"),
        ));
    }
    if let Ok(a) = x.cast::<PyArray4<f32>>() {
        if a.is_c_contiguous() {
            return Ok(a.clone());
        }
    }
    let kind = arr.dtype().kind();
    if !matches!(kind, b'f' | b'i' | b'u') {
        return Err(input_error(
            py,
            format!(
                "input of dtype {}: expected float32 or float16 (or another real number type)",
                arr.dtype()
            ),
        ));
    }
    let numpy = py.import("numpy")?;
    let converted = numpy.call_method1("ascontiguousarray", (arr, "float32"))?;
    converted
        .cast_into::<PyArray4<f32>>()
        .map_err(|e| input_error(py, format!("input: numpy gave {e}")))
}

/// One image for `predict`, read and decoded later with the GIL released.
pub enum ImageInput {
    Path(PathBuf),
    Encoded(Vec<u8>),
    Rgb { bytes: Vec<u8>, h: usize, w: usize },
}

impl ImageInput {
    pub fn from_py(py: Python<'_>, index: usize, obj: &Bound<'_, PyAny>) -> PyResult<ImageInput> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(ImageInput::Encoded(b.as_bytes().to_vec()));
        }
        if let Ok(arr) = obj.cast::<PyUntypedArray>() {
            let shape = arr.shape().to_vec();
            let is_u8 = arr.dtype().kind() == b'u' && arr.dtype().itemsize() == 1;
            if shape.len() != 3 || shape[2] != 3 || !is_u8 {
                return Err(input_error(
                    py,
                    format!(
                        "image {index}: expected an HxWx3 uint8 RGB array, got dtype {} shape {shape:?}",
                        arr.dtype()
                    ),
                ));
            }
            let numpy = py.import("numpy")?;
            let c = numpy.call_method1("ascontiguousarray", (arr,))?;
            let bytes: Vec<u8> = c
                .call_method0("tobytes")?
                .cast_into::<PyBytes>()?
                .as_bytes()
                .to_vec();
            return Ok(ImageInput::Rgb {
                bytes,
                h: shape[0],
                w: shape[1],
            });
        }
        match obj.extract::<PathBuf>() {
            Ok(p) => Ok(ImageInput::Path(p)),
            Err(_) => Err(input_error(
                py,
                format!(
                    "image {index}: expected a path, encoded bytes or an HxWx3 uint8 array; got {}",
                    type_name(obj)
                ),
            )),
        }
    }

    /// Whether `obj` is one image rather than a sequence of them.
    pub fn is_single(obj: &Bound<'_, PyAny>) -> bool {
        obj.cast::<PyString>().is_ok()
            || obj.cast::<PyBytes>().is_ok()
            // An array is one image unless it is a batch [N, H, W, 3].
            || obj.cast::<PyUntypedArray>().is_ok_and(|a| a.ndim() != 4)
            || obj.hasattr("__fspath__").unwrap_or(false)
    }

    /// Decoded to RGBA; `index` names it in errors.
    pub fn decode(self, index: usize) -> gpu_resnet::Result<image::RgbaImage> {
        use gpu_resnet::{Error, Session};
        match self {
            ImageInput::Path(p) => {
                let bytes = std::fs::read(&p)
                    .map_err(|e| Error::Input(format!("image {index}: {}: {e}", p.display())))?;
                Session::decode(&bytes, &p.to_string_lossy())
            }
            ImageInput::Encoded(bytes) => {
                Session::decode(&bytes, &format!("image {index} (bytes)"))
            }
            ImageInput::Rgb { bytes, h, w } => Session::rgb_image(&bytes, h, w),
        }
    }
}
