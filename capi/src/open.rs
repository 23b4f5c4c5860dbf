//! Opening and freeing models: `gr_model` owns an engine `Session` and the C strings its
//! getters hand out.

use std::ffi::{c_char, c_void, CString};
use std::path::PathBuf;

use engine::{
    BackendChoice, ContextOptions, OpenOptions, Precision, Session, SessionOptions, WeightsSource,
};

use crate::boundary::{
    c_string, guard, non_null, opt_str, req_str, slice, CError, CResult, GrStatus,
};

/// `gr_model`: opaque to C.
pub struct GrModel {
    pub session: Session,
    pub name: CString,
    pub input_name: CString,
    pub precision: CString,
    pub adapter: CString,
    pub summary: CString,
    /// Every class's name (`Session::label`), made once so `gr_model_label` hands out
    /// pointers that live as long as the model.
    pub labels: Vec<CString>,
}

impl GrModel {
    fn new(session: Session) -> Self {
        let labels = (0..session.classes())
            .map(|i| c_string(&session.label(i)))
            .collect();
        GrModel {
            name: c_string(session.name()),
            input_name: c_string(session.input_name()),
            precision: c_string(session.precision()),
            adapter: c_string(&session.adapter()),
            summary: c_string(session.summary()),
            labels,
            session,
        }
    }
}

/// `gr_options`. The enums arrive as plain integers: a C enum may hold any value, and a Rust
/// enum must not, so they are checked before use.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GrOptions {
    /// NULL: recognised from the weights.
    pub model_name: *const c_char,
    /// `gr_precision`.
    pub precision: u32,
    /// `gr_backend`.
    pub backend: u32,
    /// Index in `gr_adapters`' list for `backend`; negative: the preferred adapter.
    pub adapter: i32,
}

/// The defaults: recognised model, FP32, any backend, the preferred adapter.
#[no_mangle]
pub extern "C" fn gr_options_default() -> GrOptions {
    GrOptions {
        model_name: std::ptr::null(),
        precision: 0,
        backend: 0,
        adapter: -1,
    }
}

/// `gr_backend` to the engine's choice.
pub fn backend(value: u32) -> CResult<BackendChoice> {
    Ok(match value {
        0 => BackendChoice::Auto,
        1 => BackendChoice::Vulkan,
        2 => BackendChoice::Gl,
        3 => BackendChoice::Metal,
        4 => BackendChoice::Dx12,
        v => {
            return Err(CError::argument(format!(
                "backend {v} is not a gr_backend (0 auto, 1 vulkan, 2 gl, 3 metal, 4 dx12)"
            )))
        }
    })
}

/// # Safety
/// `opts` is NULL or points to a `gr_options` whose `model_name` is NULL or a C string.
unsafe fn session_options(opts: *const GrOptions) -> CResult<SessionOptions> {
    let o = if opts.is_null() {
        gr_options_default()
    } else {
        *opts
    };
    let precision = match o.precision {
        0 => Precision::F32,
        1 => Precision::F16,
        v => {
            return Err(CError::argument(format!(
                "precision {v} is not a gr_precision (0 fp32, 1 fp16)"
            )))
        }
    };
    Ok(SessionOptions {
        open: OpenOptions {
            model: opt_str(o.model_name, "options.model_name")?.map(str::to_owned),
            precision,
            ..Default::default()
        },
        device: ContextOptions {
            backend: backend(o.backend)?,
            adapter: usize::try_from(o.adapter).ok(),
        },
    })
}

/// Open `source` and store the model at `out` (NULL there on failure).
///
/// # Safety
/// `out` is NULL or writable; `opts` as [`session_options`].
unsafe fn open_into(
    out: *mut *mut GrModel,
    opts: *const GrOptions,
    source: impl FnOnce() -> CResult<WeightsSource>,
) -> GrStatus {
    if !out.is_null() {
        *out = std::ptr::null_mut();
    }
    guard(|| {
        non_null(out, "out (where the model goes)")?;
        let options = session_options(opts)?;
        let session = Session::open(&source()?, &options)?;
        *out = Box::into_raw(Box::new(GrModel::new(session)));
        Ok(())
    })
}

/// # Safety
/// C strings or NULL; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn gr_model_open(
    weights_path: *const c_char,
    model_name: *const c_char,
    out: *mut *mut GrModel,
) -> GrStatus {
    let opts = GrOptions {
        model_name,
        ..gr_options_default()
    };
    gr_model_open_with(weights_path, &opts, out)
}

/// # Safety
/// C strings or NULL; `opts` NULL or a valid `gr_options`; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn gr_model_open_with(
    weights_path: *const c_char,
    opts: *const GrOptions,
    out: *mut *mut GrModel,
) -> GrStatus {
    open_into(out, opts, || {
        let path = req_str(weights_path, "weights_path")?;
        Ok(WeightsSource::Path(PathBuf::from(path)))
    })
}

/// # Safety
/// `bytes` NULL or `len` readable bytes; `name` NULL or a C string; `opts`, `out` as above.
#[no_mangle]
pub unsafe extern "C" fn gr_model_open_memory(
    bytes: *const c_void,
    len: usize,
    name: *const c_char,
    opts: *const GrOptions,
    out: *mut *mut GrModel,
) -> GrStatus {
    open_into(out, opts, || {
        let data = slice(bytes as *const u8, len, "bytes")?;
        let name = opt_str(name, "name")?.unwrap_or("weights in memory");
        Ok(WeightsSource::Bytes {
            name: name.to_owned(),
            bytes: data.to_vec(),
        })
    })
}

/// # Safety
/// `names`, `bytes`, `lens` NULL or `count` readable entries each, every `bytes[i]` NULL or
/// `lens[i]` readable bytes, every `names[i]` NULL or a C string; `opts`, `out` as above.
#[no_mangle]
pub unsafe extern "C" fn gr_model_open_files(
    names: *const *const c_char,
    bytes: *const *const c_void,
    lens: *const usize,
    count: usize,
    opts: *const GrOptions,
    out: *mut *mut GrModel,
) -> GrStatus {
    open_into(out, opts, || {
        if count == 0 {
            return Err(CError::argument("count is 0: no files to open"));
        }
        let names = slice(names, count, "names")?;
        let bytes = slice(bytes, count, "bytes")?;
        let lens = slice(lens, count, "lens")?;
        let mut files = Vec::with_capacity(count);
        for i in 0..count {
            let name = req_str(names[i], &format!("names[{i}]"))?;
            let data = slice(bytes[i] as *const u8, lens[i], &format!("bytes[{i}]"))?;
            files.push((name.to_owned(), data.to_vec()));
        }
        Ok(WeightsSource::Files(files))
    })
}

/// # Safety
/// `model` NULL or from `gr_model_open*`, not freed before, used by no other thread now.
#[no_mangle]
pub unsafe extern "C" fn gr_model_free(model: *mut GrModel) {
    if model.is_null() {
        return;
    }
    // A panic in a destructor must not unwind into C; the model is gone either way.
    let _ = guard(|| {
        drop(Box::from_raw(model));
        Ok(())
    });
}
