//! What every export shares: status codes, the thread's last error message, panics caught
//! before they cross into C, and checked conversions of C pointers.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use engine::{Error, ErrorKind};

/// `gr_status` in the header; values are part of the ABI.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrStatus {
    Ok = 0,
    /// A NULL pointer, a too-small buffer, an invalid enum value or string.
    ErrArgument = 1,
    ErrWeights = 2,
    ErrInput = 3,
    ErrDevice = 4,
    ErrNonfinite = 5,
    ErrInternal = 6,
}

/// An error on its way to C: its status and message.
#[derive(Debug)]
pub struct CError {
    pub status: GrStatus,
    pub message: String,
}

impl CError {
    pub fn argument(message: impl Into<String>) -> Self {
        CError {
            status: GrStatus::ErrArgument,
            message: message.into(),
        }
    }
}

impl From<Error> for CError {
    fn from(e: Error) -> Self {
        let status = match e.kind() {
            ErrorKind::Weights => GrStatus::ErrWeights,
            ErrorKind::Input => GrStatus::ErrInput,
            ErrorKind::Device => GrStatus::ErrDevice,
            ErrorKind::NonFinite => GrStatus::ErrNonfinite,
            ErrorKind::Internal => GrStatus::ErrInternal,
        };
        CError {
            status,
            message: e.to_string(),
        }
    }
}

pub type CResult<T> = Result<T, CError>;

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

fn set_last_error(message: &str) {
    // An interior NUL would cut the C string short: shown as U+FFFD instead.
    let c = CString::new(message.replace('\0', "\u{fffd}")).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(c));
}

/// This thread's last error message ("" before any), valid until the next failing call on
/// this thread replaces it.
#[no_mangle]
pub extern "C" fn gr_last_error() -> *const c_char {
    LAST_ERROR.with(|l| match &*l.borrow() {
        Some(c) => c.as_ptr(),
        None => c"".as_ptr(),
    })
}

/// Run `body` with panics caught: its error or panic becomes the thread's last error, and
/// `fallback` is returned in its place.
pub fn guard_value<T>(fallback: T, body: impl FnOnce() -> CResult<T>) -> (T, GrStatus) {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => (v, GrStatus::Ok),
        Ok(Err(e)) => {
            set_last_error(&e.message);
            (fallback, e.status)
        }
        Err(payload) => {
            set_last_error(&Error::from_panic(payload.as_ref()).to_string());
            (fallback, GrStatus::ErrInternal)
        }
    }
}

/// [`guard_value`] for the functions that return only a status.
pub fn guard(body: impl FnOnce() -> CResult<()>) -> GrStatus {
    guard_value((), body).1
}

/// A non-NULL pointer, or an argument error naming `what`.
pub fn non_null<T>(ptr: *const T, what: &str) -> CResult<*const T> {
    if ptr.is_null() {
        Err(CError::argument(format!("{what} is NULL")))
    } else {
        Ok(ptr)
    }
}

/// A NUL-terminated UTF-8 string; `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string.
pub unsafe fn opt_str<'a>(ptr: *const c_char, what: &str) -> CResult<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    CStr::from_ptr(ptr)
        .to_str()
        .map(Some)
        .map_err(|e| CError::argument(format!("{what} is not valid UTF-8: {e}")))
}

/// [`opt_str`] where NULL is an error.
///
/// # Safety
/// As [`opt_str`].
pub unsafe fn req_str<'a>(ptr: *const c_char, what: &str) -> CResult<&'a str> {
    opt_str(ptr, what)?.ok_or_else(|| CError::argument(format!("{what} is NULL")))
}

/// `len` elements of `T` at `ptr` as a slice, after checking the pointer and that the byte
/// size is one Rust can address.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable elements.
pub unsafe fn slice<'a, T>(ptr: *const T, len: usize, what: &str) -> CResult<&'a [T]> {
    non_null(ptr, what)?;
    if len > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(CError::argument(format!(
            "{what}: {len} elements is more than this process can address"
        )));
    }
    Ok(std::slice::from_raw_parts(ptr, len))
}

/// [`slice`] for an output buffer.
///
/// # Safety
/// `ptr` is NULL or points to `len` writable elements no one else accesses meanwhile.
pub unsafe fn slice_mut<'a, T>(ptr: *mut T, len: usize, what: &str) -> CResult<&'a mut [T]> {
    slice(ptr as *const T, len, what)?;
    Ok(std::slice::from_raw_parts_mut(ptr, len))
}

/// A string for C, owned by whoever keeps it: interior NULs shown as U+FFFD.
pub fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{fffd}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        unsafe { CStr::from_ptr(gr_last_error()) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_panic_becomes_an_internal_error_with_its_message() {
        let status = guard(|| panic!("boom at the boundary"));
        assert_eq!(status, GrStatus::ErrInternal);
        assert!(
            last_error().contains("boom at the boundary"),
            "{}",
            last_error()
        );
    }

    #[test]
    fn engine_errors_keep_their_kind_and_message() {
        let status = guard(|| Err(Error::NonFinite("NaN in the input".into()).into()));
        assert_eq!(status, GrStatus::ErrNonfinite);
        assert!(last_error().contains("NaN in the input"));
        let status = guard(|| Err(Error::Input("batch 0".into()).into()));
        assert_eq!(status, GrStatus::ErrInput);
        // Success leaves the message as it was.
        assert_eq!(guard(|| Ok(())), GrStatus::Ok);
        assert!(last_error().contains("batch 0"));
    }

    #[test]
    fn messages_are_per_thread_and_survive_interior_nuls() {
        guard(|| Err(CError::argument("main\0thread")));
        std::thread::spawn(|| {
            assert_eq!(last_error(), "");
            guard(|| Err(CError::argument("other thread")));
            assert_eq!(last_error(), "other thread");
        })
        .join()
        .unwrap();
        assert_eq!(last_error(), "main\u{fffd}thread");
    }

    #[test]
    fn pointers_and_sizes_are_checked() {
        assert!(non_null(std::ptr::null::<u8>(), "x").is_err());
        let v = [1u32, 2];
        assert!(unsafe { slice(v.as_ptr(), usize::MAX / 2, "v") }.is_err());
        assert_eq!(unsafe { slice(v.as_ptr(), 2, "v") }.unwrap(), &v);
    }
}
