//! `rknn_custom_op.h`: registering custom ops on a context and reading a
//! custom node's attributes from inside its callbacks
//! (`docs/custom_ops.md`).

use core::ffi::{c_char, c_int, CStr};
use core::ptr;

use super::general::rt_err;
use super::guard::{call, ApiError};
use super::handles;
use crate::abi::*;
use crate::custom_op::attrs;
use crate::custom_op::ffi::raw::read_op;
use crate::custom_op::{OpDef, Origin};
use crate::runtime::attrs::copy_str;

/// Most ops one `rknn_register_custom_ops` call takes.
const MAX_OPS_PER_CALL: u32 = 4096;

fn param(msg: impl Into<String>) -> ApiError {
    ApiError::new(RKNN_ERR_PARAM_INVALID, msg)
}

/// Registers `custom_op_num` custom ops on `ctx`, all or none: each op
/// type once per context (in one call and across calls), `compute`
/// required, target CPU or GPU (GPU needs OpenCL). The `init` callback of
/// every node of a registered type runs before this returns.
///
/// # Safety
/// `op` must be NULL or point to `custom_op_num` readable structs whose
/// pointers follow the vendor contract.
#[no_mangle]
pub unsafe extern "C" fn rknn_register_custom_ops(
    ctx: rknn_context,
    op: *mut rknn_custom_op,
    custom_op_num: u32,
) -> c_int {
    call("rknn_register_custom_ops", || {
        handles::get(ctx)?;
        if op.is_null() {
            return Err(param("op is NULL"));
        }
        if custom_op_num == 0 {
            return Err(param("custom_op_num is 0 (no op to register)"));
        }
        if custom_op_num > MAX_OPS_PER_CALL {
            return Err(param(format!(
                "custom_op_num {custom_op_num} is more than the limit {MAX_OPS_PER_CALL}"
            )));
        }
        let mut defs = Vec::with_capacity(custom_op_num as usize);
        for i in 0..custom_op_num as usize {
            // SAFETY: `op` points to `custom_op_num` readable structs (the
            // contract), so element `i` is in bounds.
            let owned = unsafe { read_op(op.add(i)) };
            let def = OpDef::from_c(&owned, Origin::Application)
                .map_err(|e| param(format!("op[{i}]: {e}")))?;
            defs.push(def);
        }
        handles::with(ctx, |h| h.ctx.register_custom_ops(defs).map_err(rt_err))?;
        Ok(RKNN_SUCC)
    })
}

/// Reads attribute `attr_name` of the custom node whose callback received
/// `op_ctx`. Found: `dtype`, `n_elems` and `data` (runtime-owned, valid
/// until the context is destroyed; strings are UINT8 with a trailing NUL
/// not counted in `n_elems`; `"name"` gives the node name unless the node
/// has an attribute of that name). Not found or bad arguments: `n_elems`
/// 0, `data` NULL and an `E RKNN:` line.
///
/// # Safety
/// `op_ctx` must be NULL or point to a readable `rknn_custom_op_context`,
/// `attr_name` NULL or a NUL-terminated string, `op_attr` NULL or a
/// writable `rknn_custom_op_attr`.
#[no_mangle]
pub unsafe extern "C" fn rknn_custom_op_get_op_attr(
    op_ctx: *mut rknn_custom_op_context,
    attr_name: *const c_char,
    op_attr: *mut rknn_custom_op_attr,
) {
    call("rknn_custom_op_get_op_attr", || {
        // SAFETY: NULL or a writable struct (the contract).
        let Some(out) = (unsafe { op_attr.as_mut() }) else {
            return Err(param("op_attr is NULL"));
        };
        out.n_elems = 0;
        out.data = ptr::null_mut();
        if attr_name.is_null() {
            return Err(param("attr_name is NULL"));
        }
        // SAFETY: non-NULL and NUL-terminated (the contract).
        let name = unsafe { CStr::from_ptr(attr_name) };
        let name = name
            .to_str()
            .map_err(|_| param("attr_name is not valid UTF-8"))?;
        copy_str(&mut out.name, name);
        // SAFETY: NULL or a readable struct (the contract).
        let Some(c) = (unsafe { op_ctx.as_ref() }) else {
            return Err(param("op_ctx is NULL"));
        };
        let node = attrs::lookup(c.internal_ctx).ok_or_else(|| {
            param(format!(
                "op_ctx (internal_ctx {}) is not the context of a registered custom op node; pass the op_ctx your callback received",
                c.internal_ctx
            ))
        })?;
        let e = node.find(name).ok_or_else(|| {
            param(format!(
                "custom op '{}' (node '{}') has no attribute '{name}'",
                node.op_type, node.node
            ))
        })?;
        out.dtype = e.dtype;
        out.n_elems = e.n_elems;
        out.data = e.data();
        Ok(RKNN_SUCC)
    });
}
