//! `rknn_query`: fills the caller's struct for each query command.

use std::ffi::c_void;

use super::guard::ApiError;
use super::handles::Handle;
use crate::abi::*;
use crate::runtime::attrs::{self, AttrKind, TensorAttr};

fn too_small(name: &str, size: u32, need: usize) -> ApiError {
    ApiError::new(
        RKNN_ERR_PARAM_INVALID,
        format!("info_len({size}) < sizeof({name})({need})!"),
    )
}

/// Checks the caller's size and returns the typed destination.
///
/// # Safety
/// `info` must point to `size` writable bytes.
pub(super) unsafe fn dest<'a, T>(
    info: *mut c_void,
    size: u32,
    name: &str,
) -> Result<&'a mut T, ApiError> {
    let need = std::mem::size_of::<T>();
    if (size as usize) < need {
        return Err(too_small(name, size, need));
    }
    if !(info as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return Err(ApiError::new(
            RKNN_ERR_PARAM_INVALID,
            format!("info {info:p} is not aligned for {name}"),
        ));
    }
    // SAFETY: `info` is non-NULL (checked by the caller), aligned (checked
    // above) and holds at least size_of::<T>() writable bytes; every T here
    // is a plain-data C struct for which any bit pattern is valid.
    Ok(unsafe { &mut *info.cast::<T>() })
}

pub(crate) use crate::runtime::attrs::{copy_str, fill_attr};

/// The attribute of input or output `index` in the model's own shapes, or
/// (`current`) in the shapes of the current shape set.
fn io_attr(
    h: &Handle,
    index: u32,
    input: bool,
    kind: AttrKind,
    current: bool,
) -> Result<TensorAttr, ApiError> {
    let i = index as usize;
    if h.ctx.is_vendor() {
        // A vendor model has no shape sets nor batches; its attributes
        // come from the file (`docs/vendor-compat.md`).
        return h
            .ctx
            .attr(input, i, kind)
            .map_err(crate::capi::general::rt_err);
    }
    let g = if current {
        super::dynamic::current_graph(h)?
    } else {
        &h.ctx.model().meta.graph
    };
    let ids = if input { &g.inputs } else { &g.outputs };
    let n = ids.len();
    // A multi-batch model (static) shows every batch.
    let batched = match (h.ctx.batch_size() > 1, input) {
        (false, _) => None,
        (true, true) => h.ctx.input_info(i),
        (true, false) => h.ctx.output_info(i),
    };
    let info = batched
        .or_else(|| ids.get(i).map(|&t| &g.tensors[t]))
        .ok_or_else(|| {
            ApiError::new(
                RKNN_ERR_PARAM_INVALID,
                format!(
                    "{} index({index}) >= model {} num({n})",
                    if input { "input" } else { "output" },
                    if input { "input" } else { "output" }
                ),
            )
        })?;
    attrs::attr(i, info, kind, h.ctx.platform())
        .map_err(|e| ApiError::new(RKNN_ERR_FAIL, format!("tensor '{}': {e}", info.name)))
}

/// Answers `cmd` into `info`.
///
/// # Safety
/// `info` must be non-NULL and point to `size` writable bytes.
pub unsafe fn answer(
    h: &mut Handle,
    cmd: rknn_query_cmd,
    info: *mut c_void,
    size: u32,
) -> Result<i32, ApiError> {
    match cmd {
        RKNN_QUERY_IN_OUT_NUM => {
            // SAFETY: forwarded contract.
            let d: &mut rknn_input_output_num =
                unsafe { dest(info, size, "rknn_input_output_num") }?;
            d.n_input = h.ctx.n_inputs() as u32;
            d.n_output = h.ctx.n_outputs() as u32;
        }
        RKNN_QUERY_INPUT_ATTR
        | RKNN_QUERY_CURRENT_INPUT_ATTR
        | RKNN_QUERY_OUTPUT_ATTR
        | RKNN_QUERY_CURRENT_OUTPUT_ATTR
        | RKNN_QUERY_NATIVE_INPUT_ATTR
        | RKNN_QUERY_NATIVE_OUTPUT_ATTR
        | RKNN_QUERY_NATIVE_NHWC_INPUT_ATTR
        | RKNN_QUERY_NATIVE_NHWC_OUTPUT_ATTR
        | RKNN_QUERY_CURRENT_NATIVE_INPUT_ATTR
        | RKNN_QUERY_CURRENT_NATIVE_OUTPUT_ATTR => {
            let (input, kind) = match cmd {
                RKNN_QUERY_INPUT_ATTR | RKNN_QUERY_CURRENT_INPUT_ATTR => (true, AttrKind::Input),
                RKNN_QUERY_OUTPUT_ATTR | RKNN_QUERY_CURRENT_OUTPUT_ATTR => {
                    (false, AttrKind::Output)
                }
                RKNN_QUERY_NATIVE_INPUT_ATTR | RKNN_QUERY_CURRENT_NATIVE_INPUT_ATTR => {
                    (true, AttrKind::NativeInput)
                }
                RKNN_QUERY_NATIVE_OUTPUT_ATTR | RKNN_QUERY_CURRENT_NATIVE_OUTPUT_ATTR => {
                    (false, AttrKind::NativeOutput)
                }
                RKNN_QUERY_NATIVE_NHWC_INPUT_ATTR => (true, AttrKind::NativeNhwcInput),
                _ => (false, AttrKind::NativeNhwcOutput),
            };
            let current = matches!(
                cmd,
                RKNN_QUERY_CURRENT_INPUT_ATTR
                    | RKNN_QUERY_CURRENT_OUTPUT_ATTR
                    | RKNN_QUERY_CURRENT_NATIVE_INPUT_ATTR
                    | RKNN_QUERY_CURRENT_NATIVE_OUTPUT_ATTR
            );
            // SAFETY: forwarded contract.
            let d: &mut rknn_tensor_attr = unsafe { dest(info, size, "rknn_tensor_attr") }?;
            let a = io_attr(h, d.index, input, kind, current)?;
            fill_attr(d, &a);
        }
        RKNN_QUERY_SDK_VERSION => {
            // SAFETY: forwarded contract.
            let d: &mut rknn_sdk_version = unsafe { dest(info, size, "rknn_sdk_version") }?;
            copy_str(&mut d.api_version, crate::version_string());
            copy_str(&mut d.drv_version, &h.ctx.device().info().driver_version);
        }
        RKNN_QUERY_MEM_SIZE => {
            // SAFETY: forwarded contract.
            let d: &mut rknn_mem_size = unsafe { dest(info, size, "rknn_mem_size") }?;
            let m = h.ctx.mem_size();
            let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
            d.total_weight_size = clamp(m.weight);
            d.total_internal_size = clamp(m.internal);
            d.total_dma_allocated_size = m.dma_allocated;
            d.total_sram_size = 0;
            d.free_sram_size = 0;
            d.reserved = [0; 10];
        }
        RKNN_QUERY_CUSTOM_STRING => {
            // SAFETY: forwarded contract.
            let d: &mut rknn_custom_string = unsafe { dest(info, size, "rknn_custom_string") }?;
            copy_str(&mut d.string, &h.ctx.model().meta.custom_string);
        }
        RKNN_QUERY_PERF_RUN => {
            // SAFETY: forwarded contract.
            let d: &mut rknn_perf_run = unsafe { dest(info, size, "rknn_perf_run") }?;
            if !h.ctx.has_run() {
                return Err(ApiError::new(
                    RKNN_ERR_FAIL,
                    "RKNN_QUERY_PERF_RUN: no run yet",
                ));
            }
            d.run_duration = h.ctx.perf().run.as_micros() as i64;
        }
        RKNN_QUERY_PERF_DETAIL => {
            // SAFETY: forwarded contract.
            let d: &mut rknn_perf_detail = unsafe { dest(info, size, "rknn_perf_detail") }?;
            if !h.ctx.collects_perf() {
                return Err(ApiError::new(
                    RKNN_ERR_FAIL,
                    "RKNN_QUERY_PERF_DETAIL needs RKNN_FLAG_COLLECT_PERF_MASK at rknn_init",
                ));
            }
            if !h.ctx.has_run() {
                return Err(ApiError::new(
                    RKNN_ERR_FAIL,
                    "RKNN_QUERY_PERF_DETAIL: no run yet",
                ));
            }
            let text = h.ctx.perf_detail();
            let c = h.set_perf_detail(text);
            d.perf_data = c.as_ptr().cast_mut();
            d.data_len = c.as_bytes().len() as u64;
        }
        RKNN_QUERY_INPUT_DYNAMIC_RANGE => {
            // SAFETY: forwarded contract.
            unsafe { super::dynamic::fill_range(h, info, size) }?;
        }
        RKNN_QUERY_DEVICE_MEM_INFO => {
            // SAFETY: forwarded contract.
            let d: &mut rknn_tensor_mem = unsafe { dest(info, size, "rknn_tensor_mem") }?;
            let m = h.ctx.model_memory().ok_or_else(|| {
                ApiError::new(
                    RKNN_ERR_FAIL,
                    "RKNN_QUERY_DEVICE_MEM_INFO: the model was loaded from a file, which is used from a read-only file mapping, not device memory (load it from a buffer to get device memory)",
                )
            })?;
            d.virt_addr = m.virt as *mut std::ffi::c_void;
            d.phys_addr = m.dev_addr;
            d.fd = m.fd;
            d.offset = 0;
            d.size = u32::try_from(m.size).unwrap_or(u32::MAX);
            d.flags = RKNN_TENSOR_MEMORY_FLAGS_ALLOC_INSIDE;
            d.priv_data = std::ptr::null_mut();
        }
        other => {
            return Err(ApiError::new(
                RKNN_ERR_PARAM_INVALID,
                format!("unknown query command {other}"),
            ));
        }
    }
    Ok(RKNN_SUCC)
}
