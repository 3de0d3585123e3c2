//! The vendor functions this runtime does not implement yet: dynamic
//! shapes, the matmul API and custom ops.
//!
//! Each one is exported with its exact vendor signature, so that programs
//! written against the vendor headers link and run; a call logs
//! `E RKNN: <function>, not supported yet by this runtime (...)` and fails
//! with `RKNN_ERR_FAIL`. The arguments are not touched, except that
//! `rknn_custom_op_get_op_attr` marks its result empty.

use core::ffi::{c_char, c_int, c_void};
use core::ptr;

use crate::abi::*;
use crate::capi::guard::{call, ApiError};

const DYNAMIC_SHAPE: &str = "dynamic shapes";
const MATMUL: &str = "matmul API";
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
// rknn_matmul_api.h
// ---------------------------------------------------------------------------

/// Creates a matmul context (not supported yet: `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_create(
    ctx: *mut rknn_matmul_ctx,
    info: *mut rknn_matmul_info,
    io_attr: *mut rknn_matmul_io_attr,
) -> c_int {
    let _ = (ctx, info, io_attr);
    fail("rknn_matmul_create", MATMUL)
}

/// Creates a multi-shape matmul context (not supported yet:
/// `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_create_dynamic_shape(
    ctx: *mut rknn_matmul_ctx,
    info: *mut rknn_matmul_info,
    shape_num: c_int,
    dynamic_shapes: *mut rknn_matmul_shape,
    io_attrs: *mut rknn_matmul_io_attr,
) -> c_int {
    let _ = (ctx, info, shape_num, dynamic_shapes, io_attrs);
    fail("rknn_matmul_create_dynamic_shape", MATMUL)
}

/// Binds memory to A, B or C (not supported yet: `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_set_io_mem(
    ctx: rknn_matmul_ctx,
    mem: *mut rknn_tensor_mem,
    attr: *mut rknn_matmul_tensor_attr,
) -> c_int {
    let _ = (ctx, mem, attr);
    fail("rknn_matmul_set_io_mem", MATMUL)
}

/// Chooses the NPU cores of a matmul (not supported yet: `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_set_core_mask(
    context: rknn_matmul_ctx,
    core_mask: rknn_core_mask,
) -> c_int {
    let _ = (context, core_mask);
    fail("rknn_matmul_set_core_mask", MATMUL)
}

/// Sets the quantization parameters of one operand (not supported yet:
/// `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_set_quant_params(
    context: rknn_matmul_ctx,
    params: *mut rknn_quant_params,
) -> c_int {
    let _ = (context, params);
    fail("rknn_matmul_set_quant_params", MATMUL)
}

/// Gets the normalized B scale (not supported yet: `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_get_quant_params(
    ctx: rknn_matmul_ctx,
    params: *mut rknn_quant_params,
    scale: *mut f32,
) -> c_int {
    let _ = (ctx, params, scale);
    fail("rknn_matmul_get_quant_params", MATMUL)
}

/// Chooses one of the creation shapes (not supported yet:
/// `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_set_dynamic_shape(
    ctx: rknn_matmul_ctx,
    shape: *mut rknn_matmul_shape,
) -> c_int {
    let _ = (ctx, shape);
    fail("rknn_matmul_set_dynamic_shape", MATMUL)
}

/// Runs a matmul (not supported yet: `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_run(ctx: rknn_matmul_ctx) -> c_int {
    let _ = ctx;
    fail("rknn_matmul_run", MATMUL)
}

/// Frees a matmul context (not supported yet: `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_destroy(ctx: rknn_matmul_ctx) -> c_int {
    let _ = ctx;
    fail("rknn_matmul_destroy", MATMUL)
}

/// Converts B from row-major to the native layout (not supported yet:
/// `RKNN_ERR_FAIL`).
///
/// # Safety
/// Never dereferences its arguments.
#[no_mangle]
#[allow(non_snake_case)] // vendor parameter names
pub unsafe extern "C" fn rknn_B_normal_layout_to_native_layout(
    B_input: *mut c_void,
    B_output: *mut c_void,
    K: c_int,
    N: c_int,
    info: *mut rknn_matmul_info,
) -> c_int {
    let _ = (B_input, B_output, K, N, info);
    fail("rknn_B_normal_layout_to_native_layout", MATMUL)
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
        let mut mem = rknn_tensor_mem::default();
        let mut attr = rknn_tensor_attr::default();
        let mut info = rknn_matmul_info::default();
        let mut io = rknn_matmul_io_attr::default();
        let mut shape = rknn_matmul_shape::default();
        let mut params = rknn_quant_params::default();
        let mut op = rknn_custom_op::default();
        let mut mctx: rknn_matmul_ctx = 0;
        let mut scale = 0.0f32;
        let (m, a) = (
            &mut mem as *mut rknn_tensor_mem,
            &mut attr as *mut rknn_tensor_attr,
        );
        // SAFETY: the functions never dereference their arguments.
        let codes = unsafe {
            [
                rknn_set_input_shape(1, a),
                rknn_set_input_shapes(1, 1, a),
                rknn_matmul_create(&mut mctx, &mut info, &mut io),
                rknn_matmul_create_dynamic_shape(&mut mctx, &mut info, 1, &mut shape, &mut io),
                rknn_matmul_set_io_mem(1, m, &mut io.A),
                rknn_matmul_set_core_mask(1, RKNN_NPU_CORE_AUTO),
                rknn_matmul_set_quant_params(1, &mut params),
                rknn_matmul_get_quant_params(1, &mut params, &mut scale),
                rknn_matmul_set_dynamic_shape(1, &mut shape),
                rknn_matmul_run(1),
                rknn_matmul_destroy(1),
                rknn_B_normal_layout_to_native_layout(
                    ptr::null_mut(),
                    ptr::null_mut(),
                    64,
                    32,
                    &mut info,
                ),
                rknn_register_custom_ops(1, &mut op, 1),
            ]
        };
        assert!(codes.iter().all(|&c| c == RKNN_ERR_FAIL), "{codes:?}");
        assert_eq!(mctx, 0, "rknn_matmul_create must not hand out a context");
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
                rknn_set_input_shape(1, ptr::null_mut());
                rknn_matmul_run(1);
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
        assert!(
            text.contains("rknn_matmul_run, not supported yet by this runtime (matmul API)"),
            "{text}"
        );
    }
}
