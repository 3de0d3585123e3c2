//! The core API functions (`rknn_init` ... `rknn_outputs_release`).
//!
//! Temporary bodies with the exact vendor signatures, so that the headers
//! can be generated and checked; the runtime work replaces this file.

use core::ffi::{c_int, c_void};

use crate::abi::*;
use crate::capi::guard::{call, ApiError};

fn pending(func: &'static str) -> c_int {
    call(func, || {
        Err(ApiError::new(
            RKNN_ERR_FAIL,
            "not supported yet by this runtime",
        ))
    })
}

/// Creates a context and loads a model.
///
/// # Safety
/// Pointer arguments must be NULL or valid as described by the vendor API.
#[no_mangle]
pub unsafe extern "C" fn rknn_init(
    context: *mut rknn_context,
    model: *mut c_void,
    size: u32,
    flag: u32,
    extend: *mut rknn_init_extend,
) -> c_int {
    let _ = (context, model, size, flag, extend);
    pending("rknn_init")
}

/// Creates a new context for the model of `context_in`.
///
/// # Safety
/// Pointer arguments must be NULL or valid as described by the vendor API.
#[no_mangle]
pub unsafe extern "C" fn rknn_dup_context(
    context_in: *mut rknn_context,
    context_out: *mut rknn_context,
) -> c_int {
    let _ = (context_in, context_out);
    pending("rknn_dup_context")
}

/// Releases a context.
#[no_mangle]
pub extern "C" fn rknn_destroy(context: rknn_context) -> c_int {
    let _ = context;
    pending("rknn_destroy")
}

/// Queries model or runtime information.
///
/// # Safety
/// Pointer arguments must be NULL or valid as described by the vendor API.
#[no_mangle]
pub unsafe extern "C" fn rknn_query(
    context: rknn_context,
    cmd: rknn_query_cmd,
    info: *mut c_void,
    size: u32,
) -> c_int {
    let _ = (context, cmd, info, size);
    pending("rknn_query")
}

/// Sets the inputs (copying path).
///
/// # Safety
/// Pointer arguments must be NULL or valid as described by the vendor API.
#[no_mangle]
pub unsafe extern "C" fn rknn_inputs_set(
    context: rknn_context,
    n_inputs: u32,
    inputs: *mut rknn_input,
) -> c_int {
    let _ = (context, n_inputs, inputs);
    pending("rknn_inputs_set")
}

/// Sets the number of cores for a multi-batch model.
#[no_mangle]
pub extern "C" fn rknn_set_batch_core_num(context: rknn_context, core_num: c_int) -> c_int {
    let _ = (context, core_num);
    pending("rknn_set_batch_core_num")
}

/// Chooses the NPU cores.
#[no_mangle]
pub extern "C" fn rknn_set_core_mask(context: rknn_context, core_mask: rknn_core_mask) -> c_int {
    let _ = (context, core_mask);
    pending("rknn_set_core_mask")
}

/// Runs one inference.
///
/// # Safety
/// Pointer arguments must be NULL or valid as described by the vendor API.
#[no_mangle]
pub unsafe extern "C" fn rknn_run(context: rknn_context, extend: *mut rknn_run_extend) -> c_int {
    let _ = (context, extend);
    pending("rknn_run")
}

/// Waits for a non-blocking run.
///
/// # Safety
/// Pointer arguments must be NULL or valid as described by the vendor API.
#[no_mangle]
pub unsafe extern "C" fn rknn_wait(context: rknn_context, extend: *mut rknn_run_extend) -> c_int {
    let _ = (context, extend);
    pending("rknn_wait")
}

/// Gets the outputs (copying path).
///
/// # Safety
/// Pointer arguments must be NULL or valid as described by the vendor API.
#[no_mangle]
pub unsafe extern "C" fn rknn_outputs_get(
    context: rknn_context,
    n_outputs: u32,
    outputs: *mut rknn_output,
    extend: *mut rknn_output_extend,
) -> c_int {
    let _ = (context, n_outputs, outputs, extend);
    pending("rknn_outputs_get")
}

/// Frees runtime-allocated output buffers.
///
/// # Safety
/// Pointer arguments must be NULL or valid as described by the vendor API.
#[no_mangle]
pub unsafe extern "C" fn rknn_outputs_release(
    context: rknn_context,
    n_ouputs: u32,
    outputs: *mut rknn_output,
) -> c_int {
    let _ = (context, n_ouputs, outputs);
    pending("rknn_outputs_release")
}
