//! The vendor functions this runtime does not implement yet: custom ops.
//!
//! Each one is exported with its exact vendor signature, so that programs
//! written against the vendor headers link and run; a call logs
//! `E RKNN: <function>, not supported yet by this runtime (...)` and fails
//! with `RKNN_ERR_FAIL`. The arguments are not touched, except that
//! `rknn_custom_op_get_op_attr` marks its result empty.

use core::ffi::{c_char, c_int};
use core::ptr;

use crate::abi::*;
use crate::capi::guard::{call, ApiError};

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
    fn int_functions_fail_with_rknn_err_fail() {
        let mut op = rknn_custom_op::default();
        // SAFETY: the function never dereferences its arguments.
        let code = unsafe { rknn_register_custom_ops(1, &mut op, 1) };
        assert_eq!(code, RKNN_ERR_FAIL);
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
            // SAFETY: the function never dereferences its arguments.
            unsafe {
                rknn_register_custom_ops(1, ptr::null_mut(), 1);
            }
        });
        let text = String::from_utf8(capture.0.lock().expect("capture lock").clone())
            .expect("log is UTF-8");
        assert!(
            text.contains(
                "rknn_register_custom_ops, not supported yet by this runtime (custom ops)"
            ),
            "{text}"
        );
    }
}
