//! `dlopen`/`dlsym` through the `libc` crate (already a dependency; the
//! few calls needed do not justify a loader crate): shared objects opened
//! at run time, closed when the last user lets go.

use core::ffi::{c_char, c_void, CStr};
use std::ffi::CString;
use std::path::Path;
use std::ptr::NonNull;

use super::raw::{read_op, OwnedOp};
use crate::abi::rknn_custom_op;

/// The symbol a `librkcst_*.so` plugin exports.
pub const PLUGIN_ENTRY: &CStr = c"get_rknn_custom_op";

/// An open shared object (`dlclose` on drop).
#[derive(Debug)]
pub struct Library {
    handle: NonNull<c_void>,
    name: String,
}

// SAFETY: a `dlopen` handle may be used and closed from any thread
// (POSIX: the dl* functions are thread-safe).
unsafe impl Send for Library {}
// SAFETY: see `Send`; `dlsym` on a shared handle is thread-safe.
unsafe impl Sync for Library {}

/// The message of the last `dl*` failure on this thread.
fn last_error() -> String {
    // SAFETY: `dlerror` returns NULL or a NUL-terminated string that stays
    // valid until the next dl* call on this thread; it is copied at once.
    let p: *const c_char = unsafe { libc::dlerror() };
    if p.is_null() {
        "unknown error".to_string()
    } else {
        // SAFETY: non-NULL, NUL-terminated (see above).
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

impl Library {
    /// Opens the shared object at `path` (a file path, or a bare soname
    /// searched the dynamic linker's way), resolving all symbols now.
    pub fn open(path: &Path) -> Result<Library, String> {
        let name = path.display().to_string();
        let c = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| format!("{name}: the path contains a NUL byte"))?;
        // Clear any stale error so the message below is this call's.
        let _ = last_error();
        // SAFETY: `c` is a NUL-terminated path. Loading runs the object's
        // initialisers: opening a library is trusting it, which is what
        // installing a plugin or an OpenCL driver asks for.
        let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        match NonNull::new(handle) {
            Some(handle) => Ok(Library { handle, name }),
            None => Err(last_error()),
        }
    }

    /// The address of symbol `sym`, or `None` when it is missing.
    pub fn symbol(&self, sym: &CStr) -> Option<NonNull<c_void>> {
        let _ = last_error();
        // SAFETY: the handle is open for `self`'s lifetime; `sym` is
        // NUL-terminated.
        NonNull::new(unsafe { libc::dlsym(self.handle.as_ptr(), sym.as_ptr()) })
    }

    /// Calls the plugin entry point [`PLUGIN_ENTRY`] and copies the op it
    /// returns. Errors name the missing symbol or the NULL result.
    pub fn plugin_op(&self) -> Result<OwnedOp, String> {
        let sym = self.symbol(PLUGIN_ENTRY).ok_or_else(|| {
            format!(
                "no symbol {} ({})",
                PLUGIN_ENTRY.to_string_lossy(),
                last_error()
            )
        })?;
        type Entry = unsafe extern "C" fn() -> *mut rknn_custom_op;
        // SAFETY: a plugin exports `get_rknn_custom_op` with the vendor
        // type `rknn_custom_op* (*)(void)` (`get_custom_op_func`); a data
        // pointer and a function pointer have the same size here.
        let entry: Entry = unsafe { std::mem::transmute::<*mut c_void, Entry>(sym.as_ptr()) };
        // SAFETY: the entry point takes no arguments (vendor contract).
        let op = unsafe { entry() };
        if op.is_null() {
            return Err(format!(
                "{}() returned NULL",
                PLUGIN_ENTRY.to_string_lossy()
            ));
        }
        // SAFETY: the plugin returns a pointer to a live `rknn_custom_op`
        // (usually a static), with the struct's pointer contract.
        Ok(unsafe { read_op(op) })
    }

    /// The typed address of a C function `sym`.
    ///
    /// # Safety
    /// `F` must be the `extern "C" fn` type of the symbol.
    pub unsafe fn function<F: Copy>(&self, sym: &CStr) -> Result<F, String> {
        const { assert!(size_of::<F>() == size_of::<*mut c_void>()) };
        let p = self
            .symbol(sym)
            .ok_or_else(|| format!("{}: no symbol {}", self.name, sym.to_string_lossy()))?;
        // SAFETY: `F` is the symbol's function type (the caller's
        // contract) and has the size of a pointer (asserted above).
        Ok(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&p.as_ptr()) })
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        // SAFETY: the handle came from `dlopen` and is closed once, after
        // every user of its code (which holds an `Arc<Library>`) is gone.
        if unsafe { libc::dlclose(self.handle.as_ptr()) } != 0 {
            tracing::warn!("dlclose {}: {}", self.name, last_error());
        }
    }
}
