//! Dynamic input shapes in the C API (`docs/dynamic_shapes.md`):
//! `rknn_set_input_shapes`, the older `rknn_set_input_shape`, and the
//! answers of `RKNN_QUERY_INPUT_DYNAMIC_RANGE` and the
//! `RKNN_QUERY_CURRENT_*` queries.

use core::ffi::{c_int, c_void};

use super::guard::{call, ApiError};
use super::handles::{self, Handle};
use super::query::{copy_str, dest};
use super::zero_copy::attr_name;
use crate::abi::*;
use crate::graph::{Graph, Layout};
use crate::runtime::dynamic::{layout_name, ShapeRequest};
use crate::runtime::{self, Context};

fn param(msg: impl Into<String>) -> ApiError {
    ApiError::new(RKNN_ERR_PARAM_INVALID, msg)
}

/// A runtime error whose message has several lines (the vendor's list of
/// supported shapes): every line but the last is logged here, one
/// `E RKNN:` line each, and the last one becomes the call's error line.
fn multi_line(e: runtime::Error) -> ApiError {
    let mut lines: Vec<&str> = e.message.lines().collect();
    let last = lines.pop().unwrap_or_default().to_string();
    for line in lines {
        tracing::error!("{line}");
    }
    ApiError::new(e.kind.code(), last)
}

/// The shape `attr` (number `k` of the caller's array) asks for.
fn request(k: usize, attr: &rknn_tensor_attr) -> Result<ShapeRequest, ApiError> {
    let n = attr.n_dims as usize;
    if n > RKNN_MAX_DIMS {
        return Err(param(format!(
            "rknn_tensor_attr[{k}].n_dims({n}) > RKNN_MAX_DIMS({RKNN_MAX_DIMS})"
        )));
    }
    let layout = Layout::from_rknn(attr.fmt).ok_or_else(|| {
        param(format!(
            "rknn_tensor_attr[{k}].fmt({}) is not a tensor format",
            attr.fmt
        ))
    })?;
    Ok(ShapeRequest {
        index: attr.index as usize,
        name: attr_name(attr),
        dims: attr.dims[..n].to_vec(),
        layout,
    })
}

/// Chooses the shape set `attrs` give on the context `ctx`.
fn set_shapes(ctx: rknn_context, attrs: &[rknn_tensor_attr]) -> Result<c_int, ApiError> {
    let requests = attrs
        .iter()
        .enumerate()
        .map(|(k, a)| request(k, a))
        .collect::<Result<Vec<_>, _>>()?;
    handles::with(ctx, |h| {
        h.ctx.set_input_shapes(&requests).map_err(multi_line)?;
        Ok(RKNN_SUCC)
    })
}

/// Number of inputs of the model behind `ctx`.
fn model_inputs(ctx: rknn_context) -> Result<usize, ApiError> {
    handles::with(ctx, |h| Ok(h.ctx.n_inputs()))
}

/// Chooses the input shapes of a dynamic-shape model: one attribute per
/// model input (`index`, `dims`/`n_dims` in `fmt` order: NHWC or NCHW for
/// 4-D inputs, UNDEFINED for the model's own order; `name` checked when
/// not empty). Together they must be one of the model's shape sets
/// (`RKNN_QUERY_INPUT_DYNAMIC_RANGE`); otherwise the log lists the
/// supported shapes and the call fails with `RKNN_ERR_FAIL`. A static
/// model gives `RKNN_ERR_MODEL_INVALID`.
///
/// # Safety
/// `attr` must be NULL or point to `n_inputs` readable `rknn_tensor_attr`s.
#[no_mangle]
pub unsafe extern "C" fn rknn_set_input_shapes(
    ctx: rknn_context,
    n_inputs: u32,
    attr: *mut rknn_tensor_attr,
) -> c_int {
    call("rknn_set_input_shapes", || {
        if attr.is_null() {
            return Err(param("attr is NULL"));
        }
        let want = model_inputs(ctx)?;
        if n_inputs as usize != want {
            return Err(param(format!(
                "n_inputs({n_inputs}) != model input num({want})"
            )));
        }
        // SAFETY: non-NULL (checked above) and, per the contract,
        // `n_inputs` readable structs.
        let attrs = unsafe { std::slice::from_raw_parts(attr.cast_const(), want) };
        set_shapes(ctx, attrs)
    })
}

/// Sets the shape of the only input of a dynamic-shape model (deprecated
/// by the vendor in favour of [`rknn_set_input_shapes`], which it equals
/// for one input). A model with several inputs is refused: their shapes
/// are only valid together, so they are set together.
///
/// # Safety
/// `attr` must be NULL or point to a readable `rknn_tensor_attr`.
#[no_mangle]
pub unsafe extern "C" fn rknn_set_input_shape(
    ctx: rknn_context,
    attr: *mut rknn_tensor_attr,
) -> c_int {
    call("rknn_set_input_shape", || {
        // SAFETY: NULL or a readable struct, per the contract.
        let a = unsafe { attr.as_ref() }.ok_or_else(|| param("attr is NULL"))?;
        let n = model_inputs(ctx)?;
        if n != 1 {
            return Err(ApiError::new(
                RKNN_ERR_FAIL,
                format!("the model has {n} inputs, whose shapes are only valid together: use rknn_set_input_shapes"),
            ));
        }
        set_shapes(ctx, std::slice::from_ref(a))
    })
}

/// The graph the `RKNN_QUERY_CURRENT_*` queries describe: the current
/// shape set's; an error for a dynamic-shape model with no set chosen yet.
pub(super) fn current_graph(h: &Handle) -> Result<&Graph, ApiError> {
    let ctx: &Context = &h.ctx;
    if ctx.is_dynamic() && ctx.current_shape_set().is_none() {
        return Err(ApiError::new(
            RKNN_ERR_FAIL,
            "RKNN_QUERY_CURRENT_*: no input shapes are chosen yet; call rknn_set_input_shapes first",
        ));
    }
    Ok(ctx.graph())
}

/// Answers `RKNN_QUERY_INPUT_DYNAMIC_RANGE` for the input whose index the
/// caller put in the `rknn_input_range` at `info`. A static model gives
/// `RKNN_ERR_MODEL_INVALID` whatever `info` is, as the vendor's does.
///
/// # Safety
/// `info` must be non-NULL and point to `size` writable bytes.
pub(super) unsafe fn fill_range(h: &Handle, info: *mut c_void, size: u32) -> Result<(), ApiError> {
    let Some(table) = h.ctx.shape_table() else {
        tracing::warn!("query RKNN_QUERY_INPUT_DYNAMIC_RANGE error, rknn model is static shape type, please export rknn with dynamic_shapes");
        return Err(ApiError::new(
            RKNN_ERR_MODEL_INVALID,
            "RKNN_QUERY_INPUT_DYNAMIC_RANGE: the model has static input shapes",
        ));
    };
    // SAFETY: forwarded contract.
    let d: &mut rknn_input_range = unsafe { dest(info, size, "rknn_input_range") }?;
    let i = d.index as usize;
    let n = h.ctx.n_inputs();
    let (layout, shapes) = table
        .input_range(i)
        .ok_or_else(|| param(format!("input index({i}) >= model input num({n})")))?;
    let g = &h.ctx.model().meta.graph;
    let name = &g.tensors[g.inputs[i]].name;
    d.shape_number = shapes.len() as u32;
    d.fmt = layout as rknn_tensor_format;
    copy_str(&mut d.name, name);
    d.n_dims = shapes.first().map_or(0, Vec::len) as u32;
    d.dyn_range = [[0; RKNN_MAX_DIMS]; RKNN_MAX_DYNAMIC_SHAPE_NUM];
    for (row, shape) in d.dyn_range.iter_mut().zip(&shapes) {
        for (dst, &v) in row.iter_mut().zip(shape) {
            *dst = u32::try_from(v).unwrap_or(u32::MAX);
        }
    }
    tracing::debug!(
        "dynamic range of input {i} ({name}): {} shapes, fmt = {}",
        shapes.len(),
        layout_name(layout)
    );
    Ok(())
}
