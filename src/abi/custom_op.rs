//! `rknn_custom_op.h`: the custom-op API's constants, enums, structs and
//! typedefs (`reference/rknn-c-api.md` §2.2, §2.3, §2.13, §3.20–§3.24).
//! Types shared with the core API come from [`super::api`] (the header
//! includes `rknn_api.h`).

use bytemuck::Zeroable;
use core::ffi::{c_char, c_int, c_void};

use super::api::{rknn_tensor_attr, rknn_tensor_mem, rknn_tensor_type, RKNN_MAX_NAME_LEN};

/// A custom-op `init` callback may return this: use the built-in
/// implementation of the op type if there is one.
pub const RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE: i32 = -14;
/// Defined by the vendor header; used by no struct.
pub const RKNN_CUSTOM_OP_MAX_STR_LEN: usize = 64;
/// Defined by the vendor header; used by no struct.
pub const RKNN_CUSTOM_OP_MAX_VALUE_LEN: usize = 32;

/// Runtime-internal handle of a custom-op instance: `uint32_t` on 32-bit
/// ARM (`__arm__`), `uint64_t` everywhere else (vendor spelling).
#[cfg(target_arch = "arm")]
pub type rknn_custom_op_interal_context = u32;
/// Runtime-internal handle of a custom-op instance: `uint32_t` on 32-bit
/// ARM (`__arm__`), `uint64_t` everywhere else (vendor spelling).
#[cfg(not(target_arch = "arm"))]
pub type rknn_custom_op_interal_context = u64;

/// The values of [`rknn_target_type`] (C `enum _rknn_target_type`).
#[repr(C)]
pub enum _rknn_target_type {
    /// The op runs on the CPU.
    RKNN_TARGET_TYPE_CPU = 1,
    /// The op runs on the GPU (OpenCL).
    RKNN_TARGET_TYPE_GPU = 2,
    /// One past the last target.
    RKNN_TARGET_TYPE_MAX = 3,
}

/// `rknn_target_type`: where a custom op runs.
pub type rknn_target_type = u32;

enum_values!(_rknn_target_type => rknn_target_type {
    RKNN_TARGET_TYPE_CPU,
    RKNN_TARGET_TYPE_GPU,
    RKNN_TARGET_TYPE_MAX,
});

/// OpenCL handles of a GPU custom op (cast to `cl_context` etc. by the user).
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_gpu_op_context {
    /// `cl_context`.
    pub cl_context: *mut c_void,
    /// `cl_command_queue`.
    pub cl_command_queue: *mut c_void,
    /// `cl_kernel`.
    pub cl_kernel: *mut c_void,
}
#[cfg(target_pointer_width = "64")]
assert_layout!(rknn_gpu_op_context, size 24, align 8,
    cl_context @ 0, cl_command_queue @ 8, cl_kernel @ 16);
#[cfg(all(target_pointer_width = "32", target_arch = "arm"))]
assert_layout!(rknn_gpu_op_context, size 12, align 4,
    cl_context @ 0, cl_command_queue @ 4, cl_kernel @ 8);

/// The context passed to every custom-op callback.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_custom_op_context {
    /// Where the op runs.
    pub target: rknn_target_type,
    /// Runtime-internal handle.
    pub internal_ctx: rknn_custom_op_interal_context,
    /// OpenCL handles (GPU ops).
    pub gpu_ctx: rknn_gpu_op_context,
    /// User data.
    pub priv_data: *mut c_void,
}
#[cfg(target_pointer_width = "64")]
assert_layout!(rknn_custom_op_context, size 48, align 8,
    target @ 0, internal_ctx @ 8, gpu_ctx @ 16, priv_data @ 40);
#[cfg(all(target_pointer_width = "32", target_arch = "arm"))]
assert_layout!(rknn_custom_op_context, size 24, align 4,
    target @ 0, internal_ctx @ 4, gpu_ctx @ 8, priv_data @ 20);

/// A custom-op input or output: attributes and memory.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_custom_op_tensor {
    /// Tensor attributes.
    pub attr: rknn_tensor_attr,
    /// Tensor memory (data at `virt_addr + offset`).
    pub mem: rknn_tensor_mem,
}
#[cfg(any(target_pointer_width = "64", target_arch = "arm"))]
assert_layout!(rknn_custom_op_tensor, size 416, align 8, attr @ 0, mem @ 376);

/// An ONNX attribute of a custom op (`rknn_custom_op_get_op_attr`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_custom_op_attr {
    /// NUL-terminated attribute name.
    pub name: [c_char; RKNN_MAX_NAME_LEN],
    /// Element type of `data`.
    pub dtype: rknn_tensor_type,
    /// Number of elements (0: attribute absent).
    pub n_elems: u32,
    /// Runtime-owned array of `n_elems` elements of `dtype`.
    pub data: *mut c_void,
}
#[cfg(target_pointer_width = "64")]
assert_layout!(rknn_custom_op_attr, size 272, align 8,
    name @ 0, dtype @ 256, n_elems @ 260, data @ 264);
#[cfg(all(target_pointer_width = "32", target_arch = "arm"))]
assert_layout!(rknn_custom_op_attr, size 268, align 4,
    name @ 0, dtype @ 256, n_elems @ 260, data @ 264);

/// A custom op to register with `rknn_register_custom_ops`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_custom_op {
    /// Struct version (demos use 1).
    pub version: u32,
    /// Where the op runs.
    pub target: rknn_target_type,
    /// NUL-terminated op type, e.g. `cstSigmoid`.
    pub op_type: [c_char; RKNN_MAX_NAME_LEN],
    /// NUL-terminated OpenCL kernel name.
    pub cl_kernel_name: [c_char; RKNN_MAX_NAME_LEN],
    /// OpenCL source text (`cl_source_size` > 0) or a file path.
    pub cl_kernel_source: *mut c_char,
    /// Length of `cl_kernel_source` (0: it is a path).
    pub cl_source_size: u64,
    /// NUL-terminated OpenCL build options.
    pub cl_build_options: [c_char; RKNN_MAX_NAME_LEN],
    /// Called once at registration.
    pub init: Option<
        unsafe extern "C" fn(
            op_ctx: *mut rknn_custom_op_context,
            inputs: *mut rknn_custom_op_tensor,
            n_inputs: u32,
            outputs: *mut rknn_custom_op_tensor,
            n_outputs: u32,
        ) -> c_int,
    >,
    /// Called before every `compute`.
    pub prepare: Option<
        unsafe extern "C" fn(
            op_ctx: *mut rknn_custom_op_context,
            inputs: *mut rknn_custom_op_tensor,
            n_inputs: u32,
            outputs: *mut rknn_custom_op_tensor,
            n_outputs: u32,
        ) -> c_int,
    >,
    /// Computes the op (required).
    pub compute: Option<
        unsafe extern "C" fn(
            op_ctx: *mut rknn_custom_op_context,
            inputs: *mut rknn_custom_op_tensor,
            n_inputs: u32,
            outputs: *mut rknn_custom_op_tensor,
            n_outputs: u32,
        ) -> c_int,
    >,
    /// Computes the op on native layouts (not supported; must be NULL).
    pub compute_native: Option<
        unsafe extern "C" fn(
            op_ctx: *mut rknn_custom_op_context,
            inputs: *mut rknn_custom_op_tensor,
            n_inputs: u32,
            outputs: *mut rknn_custom_op_tensor,
            n_outputs: u32,
        ) -> c_int,
    >,
    /// Called once at `rknn_destroy`.
    pub destroy: Option<unsafe extern "C" fn(op_ctx: *mut rknn_custom_op_context) -> c_int>,
}
#[cfg(target_pointer_width = "64")]
assert_layout!(rknn_custom_op, size 832, align 8,
    version @ 0, target @ 4, op_type @ 8, cl_kernel_name @ 264, cl_kernel_source @ 520,
    cl_source_size @ 528, cl_build_options @ 536, init @ 792, prepare @ 800, compute @ 808,
    compute_native @ 816, destroy @ 824);
#[cfg(all(target_pointer_width = "32", target_arch = "arm"))]
assert_layout!(rknn_custom_op, size 816, align 8,
    version @ 0, target @ 4, op_type @ 8, cl_kernel_name @ 264, cl_kernel_source @ 520,
    cl_source_size @ 528, cl_build_options @ 536, init @ 792, prepare @ 796, compute @ 800,
    compute_native @ 804, destroy @ 808);

/// The `get_rknn_custom_op` entry point of a `librkcst_*.so` plugin.
pub type get_custom_op_func = Option<unsafe extern "C" fn() -> *mut rknn_custom_op>;

zeroed_default!(
    rknn_gpu_op_context,
    rknn_custom_op_context,
    rknn_custom_op_tensor,
    rknn_custom_op_attr,
    rknn_custom_op
);
