//! The vendor functions this runtime does not implement yet: dynamic
//! shapes.
//!
//! Each one is exported with its exact vendor signature, so that programs
//! written against the vendor headers link and run; a call logs
//! `E RKNN: <function>, not supported yet by this runtime (...)` and fails
//! with `RKNN_ERR_FAIL`. The arguments are not touched.

use core::ffi::c_int;

use crate::abi::*;
use crate::capi::guard::{call, ApiError};

const DYNAMIC_SHAPE: &str = "dynamic shapes";

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_functions_fail_with_rknn_err_fail() {
        let mut attr = rknn_tensor_attr::default();
        let a = &mut attr as *mut rknn_tensor_attr;
        // SAFETY: the functions never dereference their arguments.
        let codes = unsafe { [rknn_set_input_shape(1, a), rknn_set_input_shapes(1, 1, a)] };
        assert!(codes.iter().all(|&c| c == RKNN_ERR_FAIL), "{codes:?}");
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
                rknn_set_input_shape(1, core::ptr::null_mut());
            }
        });
        let text = String::from_utf8(capture.0.lock().expect("capture lock").clone())
            .expect("log is UTF-8");
        assert!(
            text.contains(
                "rknn_set_input_shape, not supported yet by this runtime (dynamic shapes)"
            ),
            "{text}"
        );
    }
}
