//! `rknn_matmul_api.h`: matmul contexts over `crate::matmul`.
//!
//! Matmul contexts live in their own table; their ids come from
//! [`handles::reserve_id`], so `rknn_create_mem(matmul_ctx, size)`
//! allocates on the context's device. Memory set with
//! `rknn_matmul_set_io_mem` is held (its `Arc`) until other memory is set
//! for the same matrix, the shape changes, or the context is destroyed, so
//! destroying it while set is refused.

use core::ffi::{c_char, c_int, c_void};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::abi::*;
use crate::capi::guard::{call, ApiError};
use crate::capi::{handles, mem_table};
use crate::driver::Device;
use crate::matmul::{self, MatmulContext, MatmulError, MatmulType, Operand, Shape, Spec};

impl From<MatmulError> for ApiError {
    fn from(e: MatmulError) -> ApiError {
        ApiError::new(e.code, e.message)
    }
}

/// One live matmul context and the memory set on it.
#[derive(Debug)]
struct Entry {
    ctx: MatmulContext,
    /// Memory of A, B and C (in that order) while set.
    mems: [Option<Arc<mem_table::MemObject>>; 3],
}

type Shared = Arc<Mutex<Entry>>;

fn table() -> MutexGuard<'static, HashMap<rknn_matmul_ctx, Shared>> {
    static TABLE: OnceLock<Mutex<HashMap<rknn_matmul_ctx, Shared>>> = OnceLock::new();
    TABLE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn invalid_ctx(id: rknn_matmul_ctx) -> ApiError {
    ApiError::new(
        RKNN_ERR_CTX_INVALID,
        format!("invalid matmul context {id:#x} (never created or already destroyed)"),
    )
}

/// Runs `f` on the matmul context `id`, holding it exclusively.
fn with<R>(
    id: rknn_matmul_ctx,
    f: impl FnOnce(&mut Entry) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let shared = table().get(&id).cloned().ok_or_else(|| invalid_ctx(id))?;
    let mut guard = shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut guard)
}

fn slot(op: Operand) -> usize {
    match op {
        Operand::A => 0,
        Operand::B => 1,
        Operand::C => 2,
    }
}

/// The NUL-terminated name in a fixed C array.
fn c_name(name: &[c_char]) -> String {
    let bytes: Vec<u8> = name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c.to_ne_bytes()[0])
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn null(what: &str) -> ApiError {
    ApiError::new(RKNN_ERR_PARAM_INVALID, format!("{what} is NULL"))
}

/// Opens the device matmul contexts run on.
fn device() -> Result<Arc<dyn Device>, ApiError> {
    crate::driver::open_default()
        .map(Arc::from)
        .map_err(|e| ApiError::new(RKNN_ERR_DEVICE_UNAVAILABLE, e.to_string()))
}

/// Registers a new context and returns its id.
fn register(device: Arc<dyn Device>, ctx: MatmulContext) -> rknn_matmul_ctx {
    let id = handles::reserve_id(device);
    table().insert(
        id,
        Arc::new(Mutex::new(Entry {
            ctx,
            mems: [None, None, None],
        })),
    );
    id
}

/// Creates a C = A·B context for `info` (M, K, N, type, layouts, quant
/// types) on the default device's platform and fills `io_attr` with the
/// names, shapes, sizes and types of A, B and C.
///
/// # Safety
/// `ctx`, `info` and `io_attr` must be NULL or valid for reads/writes of
/// their types.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_create(
    ctx: *mut rknn_matmul_ctx,
    info: *mut rknn_matmul_info,
    io_attr: *mut rknn_matmul_io_attr,
) -> c_int {
    call("rknn_matmul_create", || {
        // SAFETY: NULL or valid pointers, per the contract.
        let (ctx, info, io_attr) = unsafe { (ctx.as_mut(), info.as_ref(), io_attr.as_mut()) };
        let ctx = ctx.ok_or_else(|| null("ctx"))?;
        let info = info.ok_or_else(|| null("info"))?;
        let io_attr = io_attr.ok_or_else(|| null("io_attr"))?;
        let device = device()?;
        let spec = Spec::from_info(info, device.info().platform)?;
        let shape = Shape::from_c(info.M, info.K, info.N)?;
        let mm = MatmulContext::new(spec, vec![shape])?;
        *io_attr = mm.io_attr(shape);
        *ctx = register(device, mm);
        Ok(RKNN_SUCC)
    })
}

/// Creates a matmul context for `shape_num` shapes (only M may differ);
/// `info.M/K/N` are ignored. `io_attrs[i]` gets the attributes of shape
/// `i`. The first shape is current until `rknn_matmul_set_dynamic_shape`.
///
/// # Safety
/// `dynamic_shapes` and `io_attrs` must be NULL or point to `shape_num`
/// elements; `ctx` and `info` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_create_dynamic_shape(
    ctx: *mut rknn_matmul_ctx,
    info: *mut rknn_matmul_info,
    shape_num: c_int,
    dynamic_shapes: *mut rknn_matmul_shape,
    io_attrs: *mut rknn_matmul_io_attr,
) -> c_int {
    call("rknn_matmul_create_dynamic_shape", || {
        // SAFETY: NULL or valid pointers, per the contract.
        let (ctx, info) = unsafe { (ctx.as_mut(), info.as_ref()) };
        let ctx = ctx.ok_or_else(|| null("ctx"))?;
        let info = info.ok_or_else(|| null("info"))?;
        let count = usize::try_from(shape_num)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                ApiError::new(
                    RKNN_ERR_PARAM_INVALID,
                    format!("shape_num {shape_num} must be at least 1"),
                )
            })?;
        if dynamic_shapes.is_null() {
            return Err(null("dynamic_shapes"));
        }
        if io_attrs.is_null() {
            return Err(null("io_attrs"));
        }
        // SAFETY: `dynamic_shapes` points to `shape_num` shapes.
        let c_shapes = unsafe { std::slice::from_raw_parts(dynamic_shapes, count) };
        let shapes = c_shapes
            .iter()
            .map(|s| Shape::from_c(s.M, s.K, s.N))
            .collect::<Result<Vec<_>, _>>()?;
        let device = device()?;
        let spec = Spec::from_info(info, device.info().platform)?;
        let mm = MatmulContext::new(spec, shapes.clone())?;
        // SAFETY: `io_attrs` points to `shape_num` writable entries.
        let out = unsafe { std::slice::from_raw_parts_mut(io_attrs, count) };
        for (o, s) in out.iter_mut().zip(&shapes) {
            *o = mm.io_attr(*s);
        }
        *ctx = register(device, mm);
        Ok(RKNN_SUCC)
    })
}

/// Sets memory for A, B or C (chosen by `attr->name`). A and B are re-laid
/// into the compute layout now: change their contents afterwards and call
/// this again before the next run.
///
/// # Safety
/// `mem` must be NULL or from `rknn_create_mem*` (others are refused);
/// `attr` NULL or a valid `rknn_matmul_tensor_attr`.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_set_io_mem(
    ctx: rknn_matmul_ctx,
    mem: *mut rknn_tensor_mem,
    attr: *mut rknn_matmul_tensor_attr,
) -> c_int {
    call("rknn_matmul_set_io_mem", || {
        // SAFETY: NULL or valid, per the contract.
        let attr = unsafe { attr.as_ref() }.ok_or_else(|| null("attr"))?;
        let op = Operand::from_name(&c_name(&attr.name))?;
        let obj = mem_table::lookup(mem)?;
        with(ctx, |e| {
            e.ctx.set_operand(op, obj.buffer.as_slice())?;
            e.mems[slot(op)] = Some(obj);
            Ok(RKNN_SUCC)
        })
    })
}

/// Chooses the NPU cores (RK3588/RK3576; other platforms refuse with
/// `RKNN_ERR_FAIL`). The host computes on the CPU either way.
///
/// # Safety
/// Takes no pointers.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_set_core_mask(
    context: rknn_matmul_ctx,
    core_mask: rknn_core_mask,
) -> c_int {
    call("rknn_matmul_set_core_mask", || {
        with(context, |e| {
            e.ctx.set_core_mask(core_mask)?;
            Ok(RKNN_SUCC)
        })
    })
}

/// Reads `len` values at `ptr` (NULL allowed only for 0 values).
///
/// # Safety
/// `ptr` must point to `len` readable values when `len > 0`.
unsafe fn c_array<T: Copy>(ptr: *const T, len: i32, what: &str) -> Result<Vec<T>, ApiError> {
    let len = usize::try_from(len).map_err(|_| {
        ApiError::new(
            RKNN_ERR_PARAM_INVALID,
            format!("{what}_len {len} is negative"),
        )
    })?;
    if len == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(ApiError::new(
            RKNN_ERR_PARAM_INVALID,
            format!("{what} is NULL but {what}_len is {len}"),
        ));
    }
    // SAFETY: `ptr` points to `len` values, per the contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec())
}

/// Sets the scales and zero points of the matrix named `params->name`
/// (lengths: A and C 1; B 1, N or N·K/group_size by `B_quant_type`;
/// `zp_len` may be 0 for all-zero zero points).
///
/// # Safety
/// `params` must be NULL or valid, its arrays holding `scale_len` /
/// `zp_len` values.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_set_quant_params(
    context: rknn_matmul_ctx,
    params: *mut rknn_quant_params,
) -> c_int {
    call("rknn_matmul_set_quant_params", || {
        // SAFETY: NULL or valid, per the contract.
        let p = unsafe { params.as_ref() }.ok_or_else(|| null("params"))?;
        let op = Operand::from_name(&c_name(&p.name))?;
        // SAFETY: the arrays hold their lengths, per the contract.
        let (scale, zp) = unsafe {
            (
                c_array(p.scale, p.scale_len, "scale")?,
                c_array(p.zp, p.zp_len, "zp")?,
            )
        };
        with(context, |e| {
            e.ctx.set_quant(op, &scale, &zp)?;
            Ok(RKNN_SUCC)
        })
    })
}

/// Writes to `*scale` the single scale of the matrix named
/// `params->name` (B when `params` is NULL or unnamed): A's or C's scale,
/// or B's normalized scale (the largest of its scales; with per-channel or
/// per-group B and an integer C, C's scale is A's scale times this).
///
/// # Safety
/// `params` NULL or valid; `scale` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_get_quant_params(
    ctx: rknn_matmul_ctx,
    params: *mut rknn_quant_params,
    scale: *mut f32,
) -> c_int {
    call("rknn_matmul_get_quant_params", || {
        // SAFETY: NULL or valid, per the contract.
        let (params, out) = unsafe { (params.as_ref(), scale.as_mut()) };
        let out = out.ok_or_else(|| null("scale"))?;
        let op = match params.map(|p| c_name(&p.name)) {
            Some(name) if !name.is_empty() => Operand::from_name(&name)?,
            _ => Operand::B,
        };
        with(ctx, |e| {
            *out = e.ctx.scale_of(op);
            Ok(RKNN_SUCC)
        })
    })
}

/// Makes `*shape` (one of the creation shapes) current. When the shape
/// changes, A and C must be set again; B stays.
///
/// # Safety
/// `shape` must be NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_set_dynamic_shape(
    ctx: rknn_matmul_ctx,
    shape: *mut rknn_matmul_shape,
) -> c_int {
    call("rknn_matmul_set_dynamic_shape", || {
        // SAFETY: NULL or valid, per the contract.
        let s = unsafe { shape.as_ref() }.ok_or_else(|| null("shape"))?;
        let s = Shape::from_c(s.M, s.K, s.N)?;
        with(ctx, |e| {
            if e.ctx.set_shape(s)? {
                e.mems[slot(Operand::A)] = None;
                e.mems[slot(Operand::C)] = None;
            }
            Ok(RKNN_SUCC)
        })
    })
}

/// Computes C from the A and B set last, into C's memory. Blocking.
///
/// # Safety
/// Takes no pointers.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_run(ctx: rknn_matmul_ctx) -> c_int {
    call("rknn_matmul_run", || {
        with(ctx, |e| {
            e.ctx.inputs_ready()?;
            let c = e.mems[slot(Operand::C)].clone().ok_or_else(|| {
                ApiError::new(
                    RKNN_ERR_FAIL,
                    "C is not set for the current shape: call rknn_matmul_set_io_mem for C first",
                )
            })?;
            if c.destroyed.load(std::sync::atomic::Ordering::Acquire) {
                return Err(ApiError::new(
                    RKNN_ERR_FAIL,
                    "the memory set for C was destroyed with rknn_destroy_mem while still set; set new memory first",
                ));
            }
            // SAFETY: the buffer is live while `c` (an Arc of its object)
            // is held, `size()` bytes long, and no Rust reference to these
            // bytes exists during the call: A and B were copied out at
            // set_io_mem time and the context lock is held.
            let out = unsafe { std::slice::from_raw_parts_mut(c.buffer.as_ptr(), c.buffer.size()) };
            e.ctx.run(out)?;
            Ok(RKNN_SUCC)
        })
    })
}

/// Frees the context and releases the memory set on it (the memory itself
/// stays the caller's, for `rknn_destroy_mem`).
///
/// # Safety
/// Takes no pointers.
#[no_mangle]
pub unsafe extern "C" fn rknn_matmul_destroy(ctx: rknn_matmul_ctx) -> c_int {
    call("rknn_matmul_destroy", || {
        let entry = table().remove(&ctx).ok_or_else(|| invalid_ctx(ctx))?;
        handles::release_id(ctx);
        drop(entry);
        Ok(RKNN_SUCC)
    })
}

/// Converts B from normal layout (`K`×`N` row-major; int4 packed two per
/// byte) to the native layout of `info->type` on the default device's
/// platform, splitting large K into segments as the platform requires.
///
/// # Safety
/// `B_input` must hold the normal B and `B_output` the native B
/// (`io_attr.B.size` bytes of a NATIVE-layout context); `info` NULL or
/// valid.
#[no_mangle]
#[allow(non_snake_case)] // vendor parameter names
pub unsafe extern "C" fn rknn_B_normal_layout_to_native_layout(
    B_input: *mut c_void,
    B_output: *mut c_void,
    K: c_int,
    N: c_int,
    info: *mut rknn_matmul_info,
) -> c_int {
    call("rknn_B_normal_layout_to_native_layout", || {
        // SAFETY: NULL or valid, per the contract.
        let info = unsafe { info.as_ref() }.ok_or_else(|| null("info"))?;
        if B_input.is_null() {
            return Err(null("B_input"));
        }
        if B_output.is_null() {
            return Err(null("B_output"));
        }
        let s = Shape::from_c(1, K, N)?;
        let ty = MatmulType::from_raw(info.r#type)?;
        let platform = device()?.info().platform;
        crate::matmul::rules::check_type(platform, ty)?;
        crate::matmul::rules::check_shape(platform, ty, s)?;
        let (n_in, n_out) = matmul::b_sizes(platform, ty, s.k, s.n);
        // SAFETY: the caller's buffers hold the normal and native B sizes,
        // computed the same way as io_attr.B.size; they may not overlap.
        let (src, dst) = unsafe {
            (
                std::slice::from_raw_parts(B_input.cast::<u8>(), n_in),
                std::slice::from_raw_parts_mut(B_output.cast::<u8>(), n_out),
            )
        };
        matmul::b_normal_to_native(platform, ty, s.k, s.n, src, dst)?;
        Ok(RKNN_SUCC)
    })
}
