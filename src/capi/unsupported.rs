//! The vendor functions this runtime does not implement yet: zero-copy
//! memory, dynamic shapes and custom ops.
//!
//! Each one is exported with its exact vendor signature, so that programs
//! written against the vendor headers link and run; a call logs
//! `E RKNN: <function>, not supported yet by this runtime (...)` and fails
//! with `RKNN_ERR_FAIL` (or NULL for the functions returning
//! `rknn_tensor_mem*`). The arguments are not touched, except that
//! `rknn_custom_op_get_op_attr` marks its result empty.

use core::ffi::{c_char, c_int, c_void};
use core::ptr;

use crate::abi::*;
use crate::capi::guard::{call, call_ptr, ApiError};

const ZERO_COPY: &str = "zero-copy memory";
const DYNAMIC_SHAPE: &str = "dynamic shapes";
const CUSTOM_OP: &str = "custom ops";

fn not_supported(what: &str) -> ApiError {
    ApiError::new(
        RKNN_ERR_FAIL,
        format!("not supported yet by this runtime ({what})"),
    )
}

/// Logs that `func` is not supported and returns `RKNN_ERR_FAIL`.
fn fail(func: &'static str, what: &str) -> c_int {
    call(func, || Err(not_supported(what)))
}

/// Logs that `func` is not supported and returns NULL.
fn fail_mem(func: &'static str) -> *mut rknn_tensor_mem {
    call_ptr(func, || Err(not_supported(ZERO_COPY)))
}

// ---------------------------------------------------------------------------
// rknn_api.h: zero-copy memory
// ---------------------------------------------------------------------------

/// Wraps external memory given by its physical address (not supported yet:
/// returns NULL).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_create_mem_from_phys(
    ctx: rknn_context,
    phys_addr: u64,
    virt_addr: *mut c_void,
    size: u32,
) -> *mut rknn_tensor_mem {
    let _ = (ctx, phys_addr, virt_addr, size);
    fail_mem("rknn_create_mem_from_phys")
}

/// Wraps external dma-buf memory (not supported yet: returns NULL).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_create_mem_from_fd(
    ctx: rknn_context,
    fd: i32,
    virt_addr: *mut c_void,
    size: u32,
    offset: i32,
) -> *mut rknn_tensor_mem {
    let _ = (ctx, fd, virt_addr, size, offset);
    fail_mem("rknn_create_mem_from_fd")
}

/// Allocates NPU-accessible memory with allocation flags (not supported
/// yet: returns NULL).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_create_mem2(
    ctx: rknn_context,
    size: u64,
    alloc_flags: u64,
) -> *mut rknn_tensor_mem {
    let _ = (ctx, size, alloc_flags);
    fail_mem("rknn_create_mem2")
}

/// Gives the weight memory (not supported yet: `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_set_weight_mem(
    ctx: rknn_context,
    mem: *mut rknn_tensor_mem,
) -> c_int {
    let _ = (ctx, mem);
    fail("rknn_set_weight_mem", ZERO_COPY)
}

/// Gives the internal memory (not supported yet: `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_set_internal_mem(
    ctx: rknn_context,
    mem: *mut rknn_tensor_mem,
) -> c_int {
    let _ = (ctx, mem);
    fail("rknn_set_internal_mem", ZERO_COPY)
}

/// Binds memory to an input or output (not supported yet:
/// `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_set_io_mem(
    ctx: rknn_context,
    mem: *mut rknn_tensor_mem,
    attr: *mut rknn_tensor_attr,
) -> c_int {
    let _ = (ctx, mem, attr);
    fail("rknn_set_io_mem", ZERO_COPY)
}

/// CPU-cache maintenance on runtime memory (not supported yet:
/// `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_mem_sync(
    context: rknn_context,
    mem: *mut rknn_tensor_mem,
    mode: rknn_mem_sync_mode,
) -> c_int {
    let _ = (context, mem, mode);
    fail("rknn_mem_sync", ZERO_COPY)
}

// ---------------------------------------------------------------------------
// rknn_api.h: dynamic shapes
// ---------------------------------------------------------------------------

/// Sets the shape of one input (deprecated by the vendor; not supported
/// yet: `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_set_input_shape(
    ctx: rknn_context,
    attr: *mut rknn_tensor_attr,
) -> c_int {
    let _ = (ctx, attr);
    fail("rknn_set_input_shape", DYNAMIC_SHAPE)
}

/// Sets the shapes of all inputs (not supported yet: `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_set_input_shapes(
    ctx: rknn_context,
    n_inputs: u32,
    attr: *mut rknn_tensor_attr,
) -> c_int {
    let _ = (ctx, n_inputs, attr);
    fail("rknn_set_input_shapes", DYNAMIC_SHAPE)
}

// ---------------------------------------------------------------------------
// rknn_custom_op.h
// ---------------------------------------------------------------------------

/// Registers custom ops (not supported yet: `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_register_custom_ops(
    ctx: rknn_context,
    op: *mut rknn_custom_op,
    custom_op_num: u32,
) -> c_int {
    let _ = (ctx, op, custom_op_num);
    fail("rknn_register_custom_ops", CUSTOM_OP)
}

/// Reads an attribute of a custom op (not supported yet): logs the error
/// and marks `op_attr` empty (`n_elems` 0, `data` NULL).
///
/// # Safety
/// `op_attr` must be NULL or point to a writable `rknn_custom_op_attr`.
#[no_mangle]
pub unsafe extern "C" fn rknn_custom_op_get_op_attr(
    op_ctx: *mut rknn_custom_op_context,
    attr_name: *const c_char,
    op_attr: *mut rknn_custom_op_attr,
) {
    let _ = (op_ctx, attr_name);
    call("rknn_custom_op_get_op_attr", || {
        // SAFETY: NULL or a writable `rknn_custom_op_attr`, per the contract.
        if let Some(attr) = unsafe { op_attr.as_mut() } {
            attr.n_elems = 0;
            attr.data = ptr::null_mut();
        }
        Err(not_supported(CUSTOM_OP))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_functions_fail_with_null() {
        let mut buf = [0u8; 64];
        let virt = buf.as_mut_ptr().cast::<c_void>();
        // SAFETY: the functions never dereference their arguments.
        unsafe {
            assert!(rknn_create_mem2(0, 64, u64::from(RKNN_MEM_FLAG_ALLOC_NO_CONTEXT)).is_null());
            assert!(rknn_create_mem_from_fd(1, 3, virt, 64, 0).is_null());
            assert!(rknn_create_mem_from_phys(1, 0x1000, virt, 64).is_null());
        }
    }

    #[test]
    fn int_functions_fail_with_rknn_err_fail() {
        let mut mem = rknn_tensor_mem::default();
        let mut attr = rknn_tensor_attr::default();
        let mut op = rknn_custom_op::default();
        let (m, a) = (
            &mut mem as *mut rknn_tensor_mem,
            &mut attr as *mut rknn_tensor_attr,
        );
        // SAFETY: the functions never dereference their arguments.
        let codes = unsafe {
            [
                rknn_set_weight_mem(1, m),
                rknn_set_internal_mem(1, m),
                rknn_set_io_mem(1, m, a),
                rknn_mem_sync(1, m, RKNN_MEMORY_SYNC_TO_DEVICE),
                rknn_set_input_shape(1, a),
                rknn_set_input_shapes(1, 1, a),
                rknn_register_custom_ops(1, &mut op, 1),
            ]
        };
        assert!(codes.iter().all(|&c| c == RKNN_ERR_FAIL), "{codes:?}");
    }

    #[test]
    fn get_op_attr_marks_the_attribute_empty() {
        let mut attr = rknn_custom_op_attr {
            n_elems: 3,
            data: ptr::NonNull::<i64>::dangling().as_ptr().cast(),
            ..Default::default()
        };
        // SAFETY: `attr` is a valid, writable struct; NULL is allowed.
        unsafe {
            rknn_custom_op_get_op_attr(ptr::null_mut(), c"axis".as_ptr(), &mut attr);
            rknn_custom_op_get_op_attr(ptr::null_mut(), ptr::null(), ptr::null_mut());
        }
        assert_eq!(attr.n_elems, 0);
        assert!(attr.data.is_null());
    }

    /// Collects what the fmt subscriber writes.
    #[derive(Clone, Default)]
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("capture lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn failures_log_the_function_name() {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            // SAFETY: the functions never dereference their arguments.
            unsafe {
                rknn_create_mem2(1, 16, 0);
            }
        });
        let text = String::from_utf8(capture.0.lock().expect("capture lock").clone())
            .expect("log is UTF-8");
        assert!(
            text.contains("rknn_create_mem2, not supported yet by this runtime (zero-copy memory)"),
            "{text}"
        );
    }
}
