//! What does not need a model: the version and the adapters.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use crate::boundary::{c_string, guard, guard_value, non_null, CError, GrStatus};
use crate::open::backend;

/// The engine's version, e.g. "0.1.0"; a static string.
#[no_mangle]
pub extern "C" fn gr_version() -> *const c_char {
    static VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };
    VERSION.as_ptr()
}

thread_local! {
    /// This thread's last `gr_adapters` list, for `gr_adapter_name`.
    static ADAPTERS: RefCell<Vec<CString>> = const { RefCell::new(Vec::new()) };
}

/// # Safety
/// `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn gr_adapters(backend_value: u32, count: *mut u32) -> GrStatus {
    guard(|| {
        non_null(count, "count")?;
        let choice = backend(backend_value)?;
        let names: Vec<CString> = engine::gpu::list_adapters(choice)
            .iter()
            .map(|a| c_string(&engine::gpu::describe_adapter(&a.get_info())))
            .collect();
        *count = names.len() as u32;
        ADAPTERS.with(|l| *l.borrow_mut() = names);
        Ok(())
    })
}

#[no_mangle]
pub extern "C" fn gr_adapter_name(index: u32) -> *const c_char {
    guard_value(std::ptr::null(), || {
        ADAPTERS.with(|l| {
            let list = l.borrow();
            list.get(index as usize).map(|c| c.as_ptr()).ok_or_else(|| {
                CError::argument(format!(
                    "adapter {index} is out of range: this thread's last gr_adapters listed {}",
                    list.len()
                ))
            })
        })
    })
    .0
}
