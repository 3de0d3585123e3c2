//! The general (copying) flow of `rknn_api.h`: init, query, inputs, run,
//! outputs, destroy.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Arc;

use super::frames;
use super::guard::{call, ApiError};
use super::handles::{self, Handle};
use super::mem_table;
use super::query;
use crate::abi::*;
use crate::driver::select::Workload;
use crate::graph::{DType, Layout};
use crate::model::{vendor, Model};
use crate::runtime::bindings::{self, ModelMemory};
use crate::runtime::context::IoPath;
use crate::runtime::{self, io, loader, Context, ErrorKind};

/// Maps a runtime error to the C code and message.
pub(crate) fn rt_err(e: runtime::Error) -> ApiError {
    ApiError::new(e.kind.code(), e.message)
}

fn param(msg: impl Into<String>) -> ApiError {
    ApiError::new(RKNN_ERR_PARAM_INVALID, msg)
}

/// The model of a `RKNN_FLAG_MODEL_BUFFER_ZERO_COPY` init: `size` bytes at
/// `model` (or `real_model_size` bytes at `real_model_offset` of them)
/// inside memory made by `rknn_create_mem*`, used in place.
fn model_in_place(
    model: *mut c_void,
    size: u32,
    extend: *mut rknn_init_extend,
) -> Result<(Model, ModelMemory), ApiError> {
    // SAFETY: NULL or a valid struct, per the contract of rknn_init.
    let ext = unsafe { extend.as_ref() }.ok_or_else(|| {
        param("RKNN_FLAG_MODEL_BUFFER_ZERO_COPY needs rknn_init_extend (model_buffer_fd, real_model_offset/size); extend is NULL")
    })?;
    if size == 0 {
        return Err(param(
            "RKNN_FLAG_MODEL_BUFFER_ZERO_COPY needs the model buffer's size (size is 0)",
        ));
    }
    let obj = mem_table::containing(model as usize, size as usize).ok_or_else(|| {
        param(format!(
            "RKNN_FLAG_MODEL_BUFFER_ZERO_COPY: the {size} bytes at {model:p} are not inside memory made by rknn_create_mem/rknn_create_mem2/rknn_create_mem_from_fd"
        ))
    })?;
    if ext.model_buffer_fd >= 0 && obj.buffer.fd() >= 0 && ext.model_buffer_fd != obj.buffer.fd() {
        tracing::warn!(
            "rknn_init: model_buffer_fd {} differs from the fd {} of the memory holding the model; using that memory",
            ext.model_buffer_fd,
            obj.buffer.fd()
        );
    }
    let base = model as usize - obj.buffer.as_ptr() as usize;
    let (off, len) = if ext.real_model_size > 0 {
        let off = usize::try_from(ext.real_model_offset).map_err(|_| {
            param(format!(
                "real_model_offset {} is negative",
                ext.real_model_offset
            ))
        })?;
        if off as u64 + u64::from(ext.real_model_size) > u64::from(size) {
            return Err(param(format!(
                "real_model_offset {off} + real_model_size {} exceed the {size}-byte model buffer",
                ext.real_model_size
            )));
        }
        (base + off, ext.real_model_size as usize)
    } else {
        (base, size as usize)
    };
    let mem: Arc<dyn crate::runtime::bindings::UserMemory> = obj;
    bindings::load_in_place(mem, off, len).map_err(rt_err)
}

fn log_banner(ctx: &Context) {
    let meta = &ctx.model().meta;
    tracing::info!(
        "RKNN Runtime Information, librknnrt version: {}",
        crate::version_string()
    );
    tracing::info!(
        "RKNN Driver Information, version: {} (device: {})",
        ctx.device().info().driver_version,
        ctx.device().name()
    );
    let inference = if meta.is_dynamic() {
        "dynamic_shape"
    } else {
        "static_shape"
    };
    match ctx.model().vendor() {
        Some(v) => tracing::info!(
            "RKNN Model Information, version: {}, toolkit version: {}, target: {}, target platform: {}, framework name: {}, framework layout: NCHW, model inference type: {}",
            v.header.version,
            v.compiler,
            v.format,
            v.target,
            v.source,
            v.shape_mode
        ),
        None => tracing::info!(
            "RKNN Model Information, version: {}, toolkit version: {}, target: {}, target platform: {}, framework name: ONNX, framework layout: NCHW, model inference type: {inference}",
            crate::model::FORMAT_VERSION,
            meta.producer,
            meta.platform.npu_name(),
            meta.platform.name()
        ),
    }
}

/// Creates a context from a model file (`size` 0: `model` is a path) or
/// an in-memory model (`size` bytes at `model`).
///
/// # Safety
/// `context` must point to writable storage for a handle; `model` must be
/// a NUL-terminated path when `size` is 0, else `size` readable bytes;
/// `extend` must be NULL or point to a valid `rknn_init_extend`.
#[no_mangle]
pub unsafe extern "C" fn rknn_init(
    context: *mut rknn_context,
    model: *mut c_void,
    size: u32,
    flag: u32,
    extend: *mut rknn_init_extend,
) -> c_int {
    call("rknn_init", || {
        if context.is_null() {
            return Err(param("context is NULL"));
        }
        if model.is_null() {
            return Err(param("model is NULL"));
        }
        // The device depends on the model (a vendor-compiled model falls
        // back to the virtual NPU under `auto`), so the model is read
        // first, then the flags are checked against the device.
        let open = |work: Workload| -> Result<Arc<dyn crate::driver::Device>, ApiError> {
            Ok(Arc::from(
                crate::driver::open_default_for(work).map_err(|e| rt_err(e.into()))?,
            ))
        };
        let share_with = if flag & RKNN_FLAG_SHARE_WEIGHT_MEM != 0 {
            // SAFETY: NULL or a valid struct, per the contract.
            let ext = unsafe { extend.as_ref() }.ok_or_else(|| {
                param("RKNN_FLAG_SHARE_WEIGHT_MEM needs rknn_init_extend.ctx (extend is NULL)")
            })?;
            Some(ext.ctx)
        } else {
            None
        };
        let (model, model_mem, device) = if flag & RKNN_FLAG_MODEL_BUFFER_ZERO_COPY != 0 {
            let (m, mem) = model_in_place(model, size, extend)?;
            let device = open(m.workload())?;
            (Arc::new(m), Some(mem), device)
        } else if size == 0 {
            // SAFETY: with size 0 the caller passes a NUL-terminated path.
            let path = unsafe { CStr::from_ptr(model.cast::<c_char>()) };
            let path = path
                .to_str()
                .map_err(|_| param("model path is not valid UTF-8"))?;
            let m = loader::from_path(path).map_err(rt_err)?;
            let device = open(m.workload())?;
            (Arc::new(m), None, device)
        } else {
            // SAFETY: the caller passes `size` readable bytes at `model`.
            let bytes = unsafe { std::slice::from_raw_parts(model.cast::<u8>(), size as usize) };
            let work = vendor::target_platform(bytes).map_or(Workload::Cpu, Workload::NpuProgram);
            let device = open(work)?;
            let (m, mem) = bindings::load_into_device(&*device, bytes).map_err(rt_err)?;
            (Arc::new(m), Some(mem), device)
        };
        let priority = super::init_flags::check(flag, &*device)?;
        let (model, model_mem) = match share_with {
            Some(owner) => {
                let (theirs, mem) = handles::with(owner, |h| {
                    Ok((h.ctx.shared_model(), h.ctx.model_memory().cloned()))
                })?;
                let shared = loader::share_weights(&model, theirs).map_err(rt_err)?;
                (Arc::new(shared), mem)
            }
            None => (model, model_mem),
        };
        let mut ctx = Context::new(model, device, flag).map_err(rt_err)?;
        ctx.set_model_memory(model_mem);
        log_banner(&ctx);
        tracing::debug!("context priority: {}", priority.name());
        let id = handles::insert(Handle::new(ctx));
        // SAFETY: checked non-NULL above; the caller provides the storage.
        unsafe { context.write(id) };
        Ok(RKNN_SUCC)
    })
}

/// Creates a second context for the same model, sharing its weights.
///
/// # Safety
/// Both pointers must be valid for reads/writes of one handle.
#[no_mangle]
pub unsafe extern "C" fn rknn_dup_context(
    context_in: *mut rknn_context,
    context_out: *mut rknn_context,
) -> c_int {
    call("rknn_dup_context", || {
        if context_in.is_null() || context_out.is_null() {
            return Err(param("context_in or context_out is NULL"));
        }
        // SAFETY: checked non-NULL; the caller owns the storage.
        let src = unsafe { context_in.read() };
        let ctx = handles::with(src, |h| h.ctx.duplicate().map_err(rt_err))?;
        let id = handles::insert(Handle::new(ctx));
        // SAFETY: checked non-NULL above.
        unsafe { context_out.write(id) };
        Ok(RKNN_SUCC)
    })
}

/// Destroys a context and everything it allocated.
#[no_mangle]
pub extern "C" fn rknn_destroy(context: rknn_context) -> c_int {
    call("rknn_destroy", || {
        handles::remove(context)?;
        Ok(RKNN_SUCC)
    })
}

/// Answers a query (see `rknn_query_cmd`).
///
/// # Safety
/// `info` must point to `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn rknn_query(
    context: rknn_context,
    cmd: rknn_query_cmd,
    info: *mut c_void,
    size: u32,
) -> c_int {
    call("rknn_query", || {
        if info.is_null() {
            return Err(param("info is NULL"));
        }
        handles::with(context, |h| {
            // SAFETY: forwarded contract: `info` holds `size` writable bytes.
            unsafe { query::answer(h, cmd, info, size) }
        })
    })
}

fn dtype_of(t: rknn_tensor_type, what: &str) -> Result<DType, ApiError> {
    DType::from_rknn(t).ok_or_else(|| {
        ApiError::new(
            RKNN_ERR_INPUT_INVALID,
            format!("{what}: unsupported tensor type {t}"),
        )
    })
}

fn layout_of(f: rknn_tensor_format, what: &str) -> Result<Layout, ApiError> {
    Layout::from_rknn(f).ok_or_else(|| {
        ApiError::new(
            RKNN_ERR_INPUT_INVALID,
            format!("{what}: invalid tensor format {f}"),
        )
    })
}

/// Sets the model inputs (copying, converting and normalizing them).
///
/// # Safety
/// `inputs` must point to `n_inputs` valid `rknn_input`s whose `buf`
/// holds `size` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rknn_inputs_set(
    context: rknn_context,
    n_inputs: u32,
    inputs: *mut rknn_input,
) -> c_int {
    call("rknn_inputs_set", || {
        if inputs.is_null() {
            return Err(param("inputs is NULL"));
        }
        // SAFETY: the caller passes `n_inputs` valid structs.
        let list = unsafe { std::slice::from_raw_parts(inputs, n_inputs as usize) };
        handles::with(context, |h| {
            h.ctx
                .claim_path(IoPath::General, "rknn_inputs_set")
                .map_err(rt_err)?;
            let want = h.ctx.n_inputs();
            if list.len() != want {
                return Err(ApiError::new(
                    RKNN_ERR_PARAM_INVALID,
                    format!("input num({}) != model input num({want})", list.len()),
                ));
            }
            let platform = h.ctx.platform();
            for inp in list {
                let what = format!("input[{}]", inp.index);
                if inp.buf.is_null() {
                    return Err(ApiError::new(
                        RKNN_ERR_INPUT_INVALID,
                        format!("{what}: buf is NULL"),
                    ));
                }
                let src_type = dtype_of(inp.r#type, &what)?;
                let src_layout = layout_of(inp.fmt, &what)?;
                // SAFETY: the caller guarantees `size` readable bytes at `buf`.
                let src = unsafe {
                    std::slice::from_raw_parts(inp.buf.cast::<u8>().cast_const(), inp.size as usize)
                };
                let index = inp.index as usize;
                let pre = h
                    .ctx
                    .model()
                    .meta
                    .preprocess
                    .get(index)
                    .cloned()
                    .unwrap_or_default();
                let src_spec = if src_layout == Layout::Nc1hwc2 {
                    io::LayoutSpec::nc1hwc2(platform.c2(src_type.size()))
                } else {
                    io::LayoutSpec::of(src_layout)
                };
                h.ctx
                    .set_input(index, |info, layout, dst| {
                        let source = io::InputBuf {
                            data: src,
                            dtype: src_type,
                            layout: src_spec,
                            pass_through: inp.pass_through != 0,
                        };
                        io::convert_input(&source, &pre, info, layout, dst)
                            .map(drop)
                            .map_err(|e| {
                                runtime::Error::new(ErrorKind::InputInvalid, format!("{what}: {e}"))
                            })
                    })
                    .map_err(rt_err)?;
            }
            Ok(RKNN_SUCC)
        })
    })
}

/// Runs one inference: blocking, or handed to the context's run thread
/// with `extend->non_block = 1` or on an `RKNN_FLAG_ASYNC_MASK` context
/// (`capi::frames`); `extend->frame_id` receives the frame id.
///
/// # Safety
/// `extend` must be NULL or point to a valid `rknn_run_extend`.
#[no_mangle]
pub unsafe extern "C" fn rknn_run(context: rknn_context, extend: *mut rknn_run_extend) -> c_int {
    call("rknn_run", || {
        // SAFETY: NULL or a valid struct, per the contract.
        frames::run(context, unsafe { extend.as_mut() })
    })
}

/// Waits for a run handed to the context's run thread (`extend->frame_id`,
/// or the last one when NULL or 0; at most `extend->timeout_ms` when
/// positive) and returns its result.
///
/// # Safety
/// `extend` must be NULL or point to a valid `rknn_run_extend`.
#[no_mangle]
pub unsafe extern "C" fn rknn_wait(context: rknn_context, extend: *mut rknn_run_extend) -> c_int {
    call("rknn_wait", || {
        // SAFETY: NULL or a valid struct, per the contract.
        frames::wait(context, unsafe { extend.as_ref() })
    })
}

/// Copies (and converts) outputs after a run.
///
/// # Safety
/// `outputs` must point to `n_outputs` valid `rknn_output`s; preallocated
/// buffers must hold `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn rknn_outputs_get(
    context: rknn_context,
    n_outputs: u32,
    outputs: *mut rknn_output,
    extend: *mut rknn_output_extend,
) -> c_int {
    call("rknn_outputs_get", || {
        if outputs.is_null() {
            return Err(param("outputs is NULL"));
        }
        // SAFETY: the caller passes `n_outputs` valid structs.
        let list = unsafe { std::slice::from_raw_parts_mut(outputs, n_outputs as usize) };
        let entry = handles::get(context)?;
        let frame = if entry.frames.async_mask() {
            frames::outputs_get_previous(&entry, list)?
        } else {
            handles::with(context, |h| {
                h.ctx
                    .claim_path(IoPath::General, "rknn_outputs_get")
                    .map_err(rt_err)?;
                let model_n = h.ctx.n_outputs();
                if list.len() > model_n {
                    return Err(ApiError::new(
                        RKNN_ERR_PARAM_INVALID,
                        format!(
                            "param output num({}) > model output num({model_n})",
                            list.len()
                        ),
                    ));
                }
                if !h.ctx.has_run() {
                    return Err(ApiError::new(
                        RKNN_ERR_FAIL,
                        "no output yet: call rknn_run first",
                    ));
                }
                let ctx = &h.ctx;
                let source = |i: usize| {
                    let out_of_range = || {
                        ApiError::new(
                            RKNN_ERR_OUTPUT_INVALID,
                            format!(
                                "output index {i} out of range (model has {} outputs)",
                                ctx.n_outputs()
                            ),
                        )
                    };
                    let info = ctx.output_info(i).ok_or_else(out_of_range)?;
                    let (view, layout) = ctx.output_tensor(i).ok_or_else(out_of_range)?;
                    Ok(super::outputs::Stored {
                        info,
                        view,
                        layout,
                        bytes: ctx.output_bytes(i).map_err(rt_err)?,
                    })
                };
                super::outputs::fill(list, &mut h.lent, &source)?;
                Ok(frames::last_completed(&entry))
            })?
        };
        // SAFETY: NULL or a valid struct, per the contract.
        if let Some(ext) = unsafe { extend.as_mut() } {
            ext.frame_id = frame;
        }
        Ok(RKNN_SUCC)
    })
}

/// Frees output buffers handed out by `rknn_outputs_get`.
///
/// # Safety
/// `outputs` must point to `n_ouputs` valid `rknn_output`s.
#[no_mangle]
pub unsafe extern "C" fn rknn_outputs_release(
    context: rknn_context,
    n_ouputs: u32,
    outputs: *mut rknn_output,
) -> c_int {
    call("rknn_outputs_release", || {
        if outputs.is_null() {
            return Err(param("outputs is NULL"));
        }
        // SAFETY: the caller passes `n_ouputs` valid structs.
        let list = unsafe { std::slice::from_raw_parts_mut(outputs, n_ouputs as usize) };
        let entry = handles::get(context)?;
        let rest = frames::release_kept(&entry, list);
        if rest.is_empty() {
            return Ok(RKNN_SUCC);
        }
        handles::with(context, |h| {
            let mut stale = Vec::new();
            for k in rest {
                let out = &mut list[k];
                if h.lent.remove(&(out.buf as usize)).is_some() {
                    out.buf = std::ptr::null_mut();
                } else {
                    stale.push(out.index);
                }
            }
            if stale.is_empty() {
                Ok(RKNN_SUCC)
            } else {
                Err(ApiError::new(
                    RKNN_ERR_PARAM_INVALID,
                    format!(
                        "output(s) {stale:?} were not handed out by rknn_outputs_get or were already released"
                    ),
                ))
            }
        })
    })
}

/// Selects NPU cores (multi-core platforms only).
#[no_mangle]
pub extern "C" fn rknn_set_core_mask(context: rknn_context, core_mask: rknn_core_mask) -> c_int {
    call("rknn_set_core_mask", || {
        handles::with(context, |h| {
            h.ctx.set_core_mask(core_mask).map_err(rt_err)?;
            Ok(RKNN_SUCC)
        })
    })
}

/// Sets how many cores (worker threads on the host device) run the
/// batches of a multi-batch model (`rknn_batch_size` > 1): 1 ..= the
/// platform's cores; refused on single-core platforms.
#[no_mangle]
pub extern "C" fn rknn_set_batch_core_num(context: rknn_context, core_num: c_int) -> c_int {
    call("rknn_set_batch_core_num", || {
        handles::with(context, |h| {
            h.ctx.set_batch_core_num(core_num).map_err(rt_err)?;
            if h.ctx.batch_size() == 1 {
                tracing::debug!(
                    "rknn_set_batch_core_num: the model has rknn_batch_size 1; core_num {core_num} has no effect"
                );
            }
            Ok(RKNN_SUCC)
        })
    })
}
