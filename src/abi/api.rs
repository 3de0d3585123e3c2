//! `rknn_api.h`: the core API's constants, enums, structs and typedefs
//! (`reference/rknn-c-api.md` §2.1–§2.11, §3.1–§3.14).

use bytemuck::Zeroable;
use core::ffi::{c_char, c_void};

// ---------------------------------------------------------------------------
// Context handle
// ---------------------------------------------------------------------------

/// Opaque context handle: `uint32_t` on 32-bit ARM (`__arm__`), `uint64_t`
/// everywhere else (aarch64, x86-64, i386).
#[cfg(target_arch = "arm")]
pub type rknn_context = u32;
/// Opaque context handle: `uint32_t` on 32-bit ARM (`__arm__`), `uint64_t`
/// everywhere else (aarch64, x86-64, i386).
#[cfg(not(target_arch = "arm"))]
pub type rknn_context = u64;

// ---------------------------------------------------------------------------
// rknn_init flags (§2.1)
// ---------------------------------------------------------------------------

/// High-priority context (the default).
pub const RKNN_FLAG_PRIOR_HIGH: u32 = 0x00000000;
/// Medium-priority context.
pub const RKNN_FLAG_PRIOR_MEDIUM: u32 = 0x00000001;
/// Low-priority context.
pub const RKNN_FLAG_PRIOR_LOW: u32 = 0x00000002;
/// Asynchronous mode: `rknn_outputs_get` returns the previous frame.
pub const RKNN_FLAG_ASYNC_MASK: u32 = 0x00000004;
/// Collect per-layer timing for `RKNN_QUERY_PERF_DETAIL`.
pub const RKNN_FLAG_COLLECT_PERF_MASK: u32 = 0x00000008;
/// The user allocates all memory (weights, internal, inputs, outputs).
pub const RKNN_FLAG_MEM_ALLOC_OUTSIDE: u32 = 0x00000010;
/// Share weights with the context in `rknn_init_extend.ctx`.
pub const RKNN_FLAG_SHARE_WEIGHT_MEM: u32 = 0x00000020;
/// Fence fd supplied from outside.
pub const RKNN_FLAG_FENCE_IN_OUTSIDE: u32 = 0x00000040;
/// Fence fd handed out.
pub const RKNN_FLAG_FENCE_OUT_OUTSIDE: u32 = 0x00000080;
/// Dummy init: only `RKNN_QUERY_MEM_SIZE` is meaningful.
pub const RKNN_FLAG_COLLECT_MODEL_INFO_ONLY: u32 = 0x00000100;
/// The user allocates internal (intermediate) memory only.
pub const RKNN_FLAG_INTERNAL_ALLOC_OUTSIDE: u32 = 0x00000200;
/// Ops the NPU cannot run go to the GPU first, not the CPU.
pub const RKNN_FLAG_EXECUTE_FALLBACK_PRIOR_DEVICE_GPU: u32 = 0x00000400;
/// Put internal tensors in SRAM where possible.
pub const RKNN_FLAG_ENABLE_SRAM: u32 = 0x00000800;
/// Share SRAM with another context (needs `RKNN_FLAG_ENABLE_SRAM`).
pub const RKNN_FLAG_SHARE_SRAM: u32 = 0x00001000;
/// Do not apply the default process nice value of -19.
pub const RKNN_FLAG_DISABLE_PROC_HIGH_PRIORITY: u32 = 0x00002000;
/// The runtime does not flush the input cache; the user must.
pub const RKNN_FLAG_DISABLE_FLUSH_INPUT_MEM_CACHE: u32 = 0x00004000;
/// The runtime does not invalidate the output cache; the user must.
pub const RKNN_FLAG_DISABLE_FLUSH_OUTPUT_MEM_CACHE: u32 = 0x00008000;
/// The model buffer is NPU memory from `rknn_create_mem[2]`, used in place.
pub const RKNN_FLAG_MODEL_BUFFER_ZERO_COPY: u32 = 0x00010000;
/// `rknn_create_mem2` `alloc_flags`: allow `ctx` = 0.
pub const RKNN_MEM_FLAG_ALLOC_NO_CONTEXT: u32 = 0x00020000;

// ---------------------------------------------------------------------------
// Return codes (§2.2)
// ---------------------------------------------------------------------------

/// Success.
pub const RKNN_SUCC: i32 = 0;
/// Generic failure.
pub const RKNN_ERR_FAIL: i32 = -1;
/// Timeout.
pub const RKNN_ERR_TIMEOUT: i32 = -2;
/// NPU device unavailable.
pub const RKNN_ERR_DEVICE_UNAVAILABLE: i32 = -3;
/// Allocation failed.
pub const RKNN_ERR_MALLOC_FAIL: i32 = -4;
/// Bad parameter.
pub const RKNN_ERR_PARAM_INVALID: i32 = -5;
/// Bad model.
pub const RKNN_ERR_MODEL_INVALID: i32 = -6;
/// Bad context.
pub const RKNN_ERR_CTX_INVALID: i32 = -7;
/// Bad `rknn_input`.
pub const RKNN_ERR_INPUT_INVALID: i32 = -8;
/// Bad `rknn_output`.
pub const RKNN_ERR_OUTPUT_INVALID: i32 = -9;
/// SDK / driver / firmware version mismatch.
pub const RKNN_ERR_DEVICE_UNMATCH: i32 = -10;
/// Pre-compiled model incompatible with the driver (vendor spelling).
pub const RKNN_ERR_INCOMPATILE_PRE_COMPILE_MODEL: i32 = -11;
/// Optimization-level model incompatible with the driver (vendor spelling).
pub const RKNN_ERR_INCOMPATILE_OPTIMIZATION_LEVEL_VERSION: i32 = -12;
/// Model built for another platform.
pub const RKNN_ERR_TARGET_PLATFORM_UNMATCH: i32 = -13;

// ---------------------------------------------------------------------------
// Size limits (§2.3)
// ---------------------------------------------------------------------------

/// Maximum number of tensor dimensions.
pub const RKNN_MAX_DIMS: usize = 16;
/// Maximum number of channels (mean/std).
pub const RKNN_MAX_NUM_CHANNEL: usize = 15;
/// Length of the name buffers.
pub const RKNN_MAX_NAME_LEN: usize = 256;
/// Maximum number of shapes of a dynamic-shape input.
pub const RKNN_MAX_DYNAMIC_SHAPE_NUM: usize = 512;

// ---------------------------------------------------------------------------
// rknn_query_cmd (§2.4)
// ---------------------------------------------------------------------------

/// The values of [`rknn_query_cmd`] (C `enum _rknn_query_cmd`).
#[repr(C)]
pub enum _rknn_query_cmd {
    /// `rknn_input_output_num`.
    RKNN_QUERY_IN_OUT_NUM = 0,
    /// `rknn_tensor_attr` of an input (caller sets `index`).
    RKNN_QUERY_INPUT_ATTR = 1,
    /// `rknn_tensor_attr` of an output (caller sets `index`).
    RKNN_QUERY_OUTPUT_ATTR = 2,
    /// `rknn_perf_detail`.
    RKNN_QUERY_PERF_DETAIL = 3,
    /// `rknn_perf_run`.
    RKNN_QUERY_PERF_RUN = 4,
    /// `rknn_sdk_version`.
    RKNN_QUERY_SDK_VERSION = 5,
    /// `rknn_mem_size`.
    RKNN_QUERY_MEM_SIZE = 6,
    /// `rknn_custom_string`.
    RKNN_QUERY_CUSTOM_STRING = 7,
    /// `rknn_tensor_attr` of an input in the NPU-native layout.
    RKNN_QUERY_NATIVE_INPUT_ATTR = 8,
    /// `rknn_tensor_attr` of an output in the NPU-native layout.
    RKNN_QUERY_NATIVE_OUTPUT_ATTR = 9,
    /// `rknn_tensor_attr` of an input in native NHWC layout.
    RKNN_QUERY_NATIVE_NHWC_INPUT_ATTR = 10,
    /// `rknn_tensor_attr` of an output in native NHWC layout.
    RKNN_QUERY_NATIVE_NHWC_OUTPUT_ATTR = 11,
    /// `rknn_tensor_mem` of the runtime's model buffer.
    RKNN_QUERY_DEVICE_MEM_INFO = 12,
    /// `rknn_input_range` (dynamic-shape models).
    RKNN_QUERY_INPUT_DYNAMIC_RANGE = 13,
    /// `rknn_tensor_attr` of an input for the current shape.
    RKNN_QUERY_CURRENT_INPUT_ATTR = 14,
    /// `rknn_tensor_attr` of an output for the current shape.
    RKNN_QUERY_CURRENT_OUTPUT_ATTR = 15,
    /// Native `rknn_tensor_attr` of an input for the current shape.
    RKNN_QUERY_CURRENT_NATIVE_INPUT_ATTR = 16,
    /// Native `rknn_tensor_attr` of an output for the current shape.
    RKNN_QUERY_CURRENT_NATIVE_OUTPUT_ATTR = 17,
    /// One past the last command.
    RKNN_QUERY_CMD_MAX = 18,
}

/// `rknn_query_cmd`: a query command (an `RKNN_QUERY_*` value).
pub type rknn_query_cmd = u32;

/// Alias of `RKNN_QUERY_NATIVE_INPUT_ATTR` (8).
pub const RKNN_QUERY_NATIVE_NC1HWC2_INPUT_ATTR: rknn_query_cmd = 8;
/// Alias of `RKNN_QUERY_NATIVE_OUTPUT_ATTR` (9).
pub const RKNN_QUERY_NATIVE_NC1HWC2_OUTPUT_ATTR: rknn_query_cmd = 9;

enum_values!(_rknn_query_cmd => rknn_query_cmd {
    RKNN_QUERY_IN_OUT_NUM,
    RKNN_QUERY_INPUT_ATTR,
    RKNN_QUERY_OUTPUT_ATTR,
    RKNN_QUERY_PERF_DETAIL,
    RKNN_QUERY_PERF_RUN,
    RKNN_QUERY_SDK_VERSION,
    RKNN_QUERY_MEM_SIZE,
    RKNN_QUERY_CUSTOM_STRING,
    RKNN_QUERY_NATIVE_INPUT_ATTR,
    RKNN_QUERY_NATIVE_OUTPUT_ATTR,
    RKNN_QUERY_NATIVE_NHWC_INPUT_ATTR,
    RKNN_QUERY_NATIVE_NHWC_OUTPUT_ATTR,
    RKNN_QUERY_DEVICE_MEM_INFO,
    RKNN_QUERY_INPUT_DYNAMIC_RANGE,
    RKNN_QUERY_CURRENT_INPUT_ATTR,
    RKNN_QUERY_CURRENT_OUTPUT_ATTR,
    RKNN_QUERY_CURRENT_NATIVE_INPUT_ATTR,
    RKNN_QUERY_CURRENT_NATIVE_OUTPUT_ATTR,
    RKNN_QUERY_CMD_MAX,
});

// ---------------------------------------------------------------------------
// rknn_tensor_type (§2.5)
// ---------------------------------------------------------------------------

/// The values of [`rknn_tensor_type`] (C `enum _rknn_tensor_type`).
#[repr(C)]
pub enum _rknn_tensor_type {
    /// 32-bit float.
    RKNN_TENSOR_FLOAT32 = 0,
    /// 16-bit float.
    RKNN_TENSOR_FLOAT16 = 1,
    /// Signed 8-bit integer.
    RKNN_TENSOR_INT8 = 2,
    /// Unsigned 8-bit integer.
    RKNN_TENSOR_UINT8 = 3,
    /// Signed 16-bit integer.
    RKNN_TENSOR_INT16 = 4,
    /// Unsigned 16-bit integer.
    RKNN_TENSOR_UINT16 = 5,
    /// Signed 32-bit integer.
    RKNN_TENSOR_INT32 = 6,
    /// Unsigned 32-bit integer.
    RKNN_TENSOR_UINT32 = 7,
    /// Signed 64-bit integer.
    RKNN_TENSOR_INT64 = 8,
    /// Boolean (one byte).
    RKNN_TENSOR_BOOL = 9,
    /// Signed 4-bit integer (two per byte).
    RKNN_TENSOR_INT4 = 10,
    /// bfloat16.
    RKNN_TENSOR_BFLOAT16 = 11,
    /// One past the last type.
    RKNN_TENSOR_TYPE_MAX = 12,
}

/// `rknn_tensor_type`: an element type (an `RKNN_TENSOR_*` type value).
pub type rknn_tensor_type = u32;

enum_values!(_rknn_tensor_type => rknn_tensor_type {
    RKNN_TENSOR_FLOAT32,
    RKNN_TENSOR_FLOAT16,
    RKNN_TENSOR_INT8,
    RKNN_TENSOR_UINT8,
    RKNN_TENSOR_INT16,
    RKNN_TENSOR_UINT16,
    RKNN_TENSOR_INT32,
    RKNN_TENSOR_UINT32,
    RKNN_TENSOR_INT64,
    RKNN_TENSOR_BOOL,
    RKNN_TENSOR_INT4,
    RKNN_TENSOR_BFLOAT16,
    RKNN_TENSOR_TYPE_MAX,
});

// ---------------------------------------------------------------------------
// rknn_tensor_qnt_type (§2.6)
// ---------------------------------------------------------------------------

/// The values of [`rknn_tensor_qnt_type`] (C `enum _rknn_tensor_qnt_type`).
#[repr(C)]
pub enum _rknn_tensor_qnt_type {
    /// Not quantized.
    RKNN_TENSOR_QNT_NONE = 0,
    /// Dynamic fixed point (uses `fl`).
    RKNN_TENSOR_QNT_DFP = 1,
    /// Affine asymmetric (uses `zp` and `scale`).
    RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC = 2,
    /// One past the last quantization type.
    RKNN_TENSOR_QNT_MAX = 3,
}

/// `rknn_tensor_qnt_type`: a quantization type (`RKNN_TENSOR_QNT_*`).
pub type rknn_tensor_qnt_type = u32;

enum_values!(_rknn_tensor_qnt_type => rknn_tensor_qnt_type {
    RKNN_TENSOR_QNT_NONE,
    RKNN_TENSOR_QNT_DFP,
    RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC,
    RKNN_TENSOR_QNT_MAX,
});

// ---------------------------------------------------------------------------
// rknn_tensor_format (§2.7)
// ---------------------------------------------------------------------------

/// The values of [`rknn_tensor_format`] (C `enum _rknn_tensor_format`).
#[repr(C)]
pub enum _rknn_tensor_format {
    /// NCHW.
    RKNN_TENSOR_NCHW = 0,
    /// NHWC.
    RKNN_TENSOR_NHWC = 1,
    /// NC1HWC2 (NPU native).
    RKNN_TENSOR_NC1HWC2 = 2,
    /// No layout (non-4-D tensors).
    RKNN_TENSOR_UNDEFINED = 3,
    /// One past the last format.
    RKNN_TENSOR_FORMAT_MAX = 4,
}

/// `rknn_tensor_format`: a tensor layout (`RKNN_TENSOR_NCHW` ...).
pub type rknn_tensor_format = u32;

enum_values!(_rknn_tensor_format => rknn_tensor_format {
    RKNN_TENSOR_NCHW,
    RKNN_TENSOR_NHWC,
    RKNN_TENSOR_NC1HWC2,
    RKNN_TENSOR_UNDEFINED,
    RKNN_TENSOR_FORMAT_MAX,
});

// ---------------------------------------------------------------------------
// rknn_core_mask (§2.8)
// ---------------------------------------------------------------------------

/// The values of [`rknn_core_mask`] (C `enum _rknn_core_mask`).
#[repr(C)]
pub enum _rknn_core_mask {
    /// Run on an idle core (default).
    RKNN_NPU_CORE_AUTO = 0,
    /// Core 0.
    RKNN_NPU_CORE_0 = 1,
    /// Core 1.
    RKNN_NPU_CORE_1 = 2,
    /// Core 2.
    RKNN_NPU_CORE_2 = 4,
    /// Cores 0 and 1.
    RKNN_NPU_CORE_0_1 = 3,
    /// Cores 0, 1 and 2.
    RKNN_NPU_CORE_0_1_2 = 7,
    /// All cores of the platform.
    RKNN_NPU_CORE_ALL = 0xffff,
    /// Undefined mask.
    RKNN_NPU_CORE_UNDEFINED = 0x10000,
}

/// `rknn_core_mask`: an NPU core selection (`RKNN_NPU_CORE_*`).
pub type rknn_core_mask = u32;

enum_values!(_rknn_core_mask => rknn_core_mask {
    RKNN_NPU_CORE_AUTO,
    RKNN_NPU_CORE_0,
    RKNN_NPU_CORE_1,
    RKNN_NPU_CORE_2,
    RKNN_NPU_CORE_0_1,
    RKNN_NPU_CORE_0_1_2,
    RKNN_NPU_CORE_ALL,
    RKNN_NPU_CORE_UNDEFINED,
});

// ---------------------------------------------------------------------------
// rknn_tensor_mem_flags (§2.9)
// ---------------------------------------------------------------------------

/// The values of [`rknn_tensor_mem_flags`] (C `enum _rknn_tensor_mem_flags`).
/// These are values, not bits.
#[repr(C)]
pub enum _rknn_tensor_mem_flags {
    /// Made by `rknn_create_mem`.
    RKNN_TENSOR_MEMORY_FLAGS_ALLOC_INSIDE = 1,
    /// Made by `rknn_create_mem_from_fd`.
    RKNN_TENSOR_MEMORY_FLAGS_FROM_FD = 2,
    /// Made by `rknn_create_mem_from_phys`.
    RKNN_TENSOR_MEMORY_FLAGS_FROM_PHYS = 3,
    /// Unknown origin.
    RKNN_TENSOR_MEMORY_FLAGS_UNKNOWN = 4,
}

/// `rknn_tensor_mem_flags`: origin of an `rknn_tensor_mem`.
pub type rknn_tensor_mem_flags = u32;

enum_values!(_rknn_tensor_mem_flags => rknn_tensor_mem_flags {
    RKNN_TENSOR_MEMORY_FLAGS_ALLOC_INSIDE,
    RKNN_TENSOR_MEMORY_FLAGS_FROM_FD,
    RKNN_TENSOR_MEMORY_FLAGS_FROM_PHYS,
    RKNN_TENSOR_MEMORY_FLAGS_UNKNOWN,
});

// ---------------------------------------------------------------------------
// rknn_mem_alloc_flags (§2.10)
// ---------------------------------------------------------------------------

/// The values of [`rknn_mem_alloc_flags`] (C `enum _rknn_mem_alloc_flags`).
#[repr(C)]
pub enum _rknn_mem_alloc_flags {
    /// Default (same as cacheable).
    RKNN_FLAG_MEMORY_FLAGS_DEFAULT = 0,
    /// Cacheable memory.
    RKNN_FLAG_MEMORY_CACHEABLE = 1,
    /// Non-cacheable memory.
    RKNN_FLAG_MEMORY_NON_CACHEABLE = 2,
    /// Use SRAM where possible, DRAM for the rest.
    RKNN_FLAG_MEMORY_TRY_ALLOC_SRAM = 4,
}

/// `rknn_mem_alloc_flags`: `rknn_create_mem2` allocation flags.
pub type rknn_mem_alloc_flags = u32;

enum_values!(_rknn_mem_alloc_flags => rknn_mem_alloc_flags {
    RKNN_FLAG_MEMORY_FLAGS_DEFAULT,
    RKNN_FLAG_MEMORY_CACHEABLE,
    RKNN_FLAG_MEMORY_NON_CACHEABLE,
    RKNN_FLAG_MEMORY_TRY_ALLOC_SRAM,
});

// ---------------------------------------------------------------------------
// rknn_mem_sync_mode (§2.11)
// ---------------------------------------------------------------------------

/// The values of [`rknn_mem_sync_mode`] (C `enum _rknn_mem_sync_mode`).
#[repr(C)]
pub enum _rknn_mem_sync_mode {
    /// Write back the CPU cache before the NPU reads.
    RKNN_MEMORY_SYNC_TO_DEVICE = 1,
    /// Invalidate the CPU cache before the CPU reads.
    RKNN_MEMORY_SYNC_FROM_DEVICE = 2,
    /// Both directions.
    RKNN_MEMORY_SYNC_BIDIRECTIONAL = 3,
}

/// `rknn_mem_sync_mode`: cache maintenance direction for `rknn_mem_sync`.
pub type rknn_mem_sync_mode = u32;

enum_values!(_rknn_mem_sync_mode => rknn_mem_sync_mode {
    RKNN_MEMORY_SYNC_TO_DEVICE,
    RKNN_MEMORY_SYNC_FROM_DEVICE,
    RKNN_MEMORY_SYNC_BIDIRECTIONAL,
});

// ---------------------------------------------------------------------------
// Structs (§3.1–§3.14)
// ---------------------------------------------------------------------------

/// `RKNN_QUERY_IN_OUT_NUM` result.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_input_output_num {
    /// Number of model inputs.
    pub n_input: u32,
    /// Number of model outputs.
    pub n_output: u32,
}
assert_layout!(rknn_input_output_num, size 8, align 4, n_input @ 0, n_output @ 4);

/// A tensor's attributes (input/output attribute queries, `rknn_set_io_mem`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_tensor_attr {
    /// Tensor index (set by the caller before a query).
    pub index: u32,
    /// Number of valid entries in `dims`.
    pub n_dims: u32,
    /// Dimensions.
    pub dims: [u32; RKNN_MAX_DIMS],
    /// NUL-terminated tensor name.
    pub name: [c_char; RKNN_MAX_NAME_LEN],
    /// Number of elements.
    pub n_elems: u32,
    /// Size in bytes, without stride padding.
    pub size: u32,
    /// Layout.
    pub fmt: rknn_tensor_format,
    /// Element type.
    pub r#type: rknn_tensor_type,
    /// Quantization type.
    pub qnt_type: rknn_tensor_qnt_type,
    /// Fractional length (DFP quantization).
    pub fl: i8,
    /// Zero point (affine quantization).
    pub zp: i32,
    /// Scale (affine quantization).
    pub scale: f32,
    /// Row pitch in pixels (0: equal to the width).
    pub w_stride: u32,
    /// Size in bytes including stride padding.
    pub size_with_stride: u32,
    /// Non-zero: data is already in the model's native type and layout.
    pub pass_through: u8,
    /// Height pitch for multi-batch inputs (0: equal to the height).
    pub h_stride: u32,
}
assert_layout!(rknn_tensor_attr, size 376, align 4,
    index @ 0, n_dims @ 4, dims @ 8, name @ 72, n_elems @ 328, size @ 332, fmt @ 336,
    r#type @ 340, qnt_type @ 344, fl @ 348, zp @ 352, scale @ 356, w_stride @ 360,
    size_with_stride @ 364, pass_through @ 368, h_stride @ 372);

/// `RKNN_QUERY_INPUT_DYNAMIC_RANGE` result.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_input_range {
    /// Input index (set by the caller).
    pub index: u32,
    /// Number of valid shapes in `dyn_range`.
    pub shape_number: u32,
    /// Layout of the shapes.
    pub fmt: rknn_tensor_format,
    /// NUL-terminated input name.
    pub name: [c_char; RKNN_MAX_NAME_LEN],
    /// Shape `s` is `dyn_range[s][0..n_dims]`.
    pub dyn_range: [[u32; RKNN_MAX_DIMS]; RKNN_MAX_DYNAMIC_SHAPE_NUM],
    /// Number of dimensions of each shape.
    pub n_dims: u32,
}
assert_layout!(rknn_input_range, size 33040, align 4,
    index @ 0, shape_number @ 4, fmt @ 8, name @ 12, dyn_range @ 268, n_dims @ 33036);

/// `RKNN_QUERY_PERF_DETAIL` result.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_perf_detail {
    /// Runtime-owned text (the user must not free it).
    pub perf_data: *mut c_char,
    /// Length of `perf_data` in bytes.
    pub data_len: u64,
}
#[cfg(target_pointer_width = "64")]
assert_layout!(rknn_perf_detail, size 16, align 8, perf_data @ 0, data_len @ 8);
#[cfg(all(target_pointer_width = "32", target_arch = "arm"))]
assert_layout!(rknn_perf_detail, size 16, align 8, perf_data @ 0, data_len @ 8);

/// `RKNN_QUERY_PERF_RUN` result.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_perf_run {
    /// Inference time in microseconds.
    pub run_duration: i64,
}
#[cfg(any(target_pointer_width = "64", target_arch = "arm"))]
assert_layout!(rknn_perf_run, size 8, align 8, run_duration @ 0);

/// `RKNN_QUERY_SDK_VERSION` result.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_sdk_version {
    /// Runtime version, e.g. `2.3.2 (429f97ae6b@2025-04-09T09:09:27)`.
    pub api_version: [c_char; 256],
    /// Kernel driver version, e.g. `0.9.8`.
    pub drv_version: [c_char; 256],
}
assert_layout!(rknn_sdk_version, size 512, align 1, api_version @ 0, drv_version @ 256);

/// `RKNN_QUERY_MEM_SIZE` result.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_mem_size {
    /// Weight memory in bytes.
    pub total_weight_size: u32,
    /// Internal memory in bytes (without inputs and outputs).
    pub total_internal_size: u32,
    /// All DMA memory allocated by the context.
    pub total_dma_allocated_size: u64,
    /// SRAM reserved for the NPU.
    pub total_sram_size: u32,
    /// Free SRAM.
    pub free_sram_size: u32,
    /// Reserved.
    pub reserved: [u32; 10],
}
#[cfg(any(target_pointer_width = "64", target_arch = "arm"))]
assert_layout!(rknn_mem_size, size 64, align 8,
    total_weight_size @ 0, total_internal_size @ 4, total_dma_allocated_size @ 8,
    total_sram_size @ 16, free_sram_size @ 20, reserved @ 24);

/// `RKNN_QUERY_CUSTOM_STRING` result.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_custom_string {
    /// NUL-terminated user string embedded at conversion time.
    pub string: [c_char; 1024],
}
assert_layout!(rknn_custom_string, size 1024, align 1, string @ 0);

/// C `struct _rknn_tensor_memory`: NPU-accessible memory for zero-copy
/// (typedef [`rknn_tensor_mem`]).
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct _rknn_tensor_memory {
    /// CPU address of the buffer start.
    pub virt_addr: *mut c_void,
    /// Physical / device address.
    pub phys_addr: u64,
    /// dma-buf fd.
    pub fd: i32,
    /// Offset of the tensor inside the fd buffer.
    pub offset: i32,
    /// Size in bytes.
    pub size: u32,
    /// Origin (`RKNN_TENSOR_MEMORY_FLAGS_*`).
    pub flags: u32,
    /// Runtime-private data.
    pub priv_data: *mut c_void,
}
/// `rknn_tensor_mem`: NPU-accessible memory for zero-copy.
pub type rknn_tensor_mem = _rknn_tensor_memory;
#[cfg(any(target_pointer_width = "64", target_arch = "arm"))]
assert_layout!(rknn_tensor_mem, size 40, align 8,
    virt_addr @ 0, phys_addr @ 8, fd @ 16, offset @ 20, size @ 24, flags @ 28, priv_data @ 32);

/// One input for `rknn_inputs_set`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_input {
    /// Input index.
    pub index: u32,
    /// Input data.
    pub buf: *mut c_void,
    /// Size of `buf` in bytes.
    pub size: u32,
    /// Non-zero: `buf` is already in the model's native type and layout.
    pub pass_through: u8,
    /// Element type of `buf`.
    pub r#type: rknn_tensor_type,
    /// Layout of `buf`.
    pub fmt: rknn_tensor_format,
}
#[cfg(target_pointer_width = "64")]
assert_layout!(rknn_input, size 32, align 8,
    index @ 0, buf @ 8, size @ 16, pass_through @ 20, r#type @ 24, fmt @ 28);
#[cfg(all(target_pointer_width = "32", target_arch = "arm"))]
assert_layout!(rknn_input, size 24, align 4,
    index @ 0, buf @ 4, size @ 8, pass_through @ 12, r#type @ 16, fmt @ 20);

/// One output for `rknn_outputs_get` / `rknn_outputs_release`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_output {
    /// Non-zero: convert to float32.
    pub want_float: u8,
    /// Non-zero: the caller supplies `buf` and `size`.
    pub is_prealloc: u8,
    /// Output index.
    pub index: u32,
    /// Output data.
    pub buf: *mut c_void,
    /// Size of `buf` in bytes.
    pub size: u32,
}
#[cfg(target_pointer_width = "64")]
assert_layout!(rknn_output, size 24, align 8,
    want_float @ 0, is_prealloc @ 1, index @ 4, buf @ 8, size @ 16);
#[cfg(all(target_pointer_width = "32", target_arch = "arm"))]
assert_layout!(rknn_output, size 16, align 4,
    want_float @ 0, is_prealloc @ 1, index @ 4, buf @ 8, size @ 12);

/// Extra `rknn_init` arguments.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_init_extend {
    /// Context whose weights are shared (`RKNN_FLAG_SHARE_WEIGHT_MEM`).
    pub ctx: rknn_context,
    /// Offset of the model inside the buffer.
    pub real_model_offset: i32,
    /// Size of the model inside the buffer.
    pub real_model_size: u32,
    /// fd of a zero-copy model buffer (`RKNN_FLAG_MODEL_BUFFER_ZERO_COPY`).
    pub model_buffer_fd: i32,
    /// `flags` of that model buffer.
    pub model_buffer_flags: u32,
    /// Reserved.
    pub reserved: [u8; 112],
}
#[cfg(target_pointer_width = "64")]
assert_layout!(rknn_init_extend, size 136, align 8,
    ctx @ 0, real_model_offset @ 8, real_model_size @ 12, model_buffer_fd @ 16,
    model_buffer_flags @ 20, reserved @ 24);
#[cfg(all(target_pointer_width = "32", target_arch = "arm"))]
assert_layout!(rknn_init_extend, size 132, align 4,
    ctx @ 0, real_model_offset @ 4, real_model_size @ 8, model_buffer_fd @ 12,
    model_buffer_flags @ 16, reserved @ 20);

/// Extra `rknn_run` / `rknn_wait` arguments.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_run_extend {
    /// Frame id (output).
    pub frame_id: u64,
    /// 0: blocking, 1: non-blocking.
    pub non_block: i32,
    /// Timeout in milliseconds.
    pub timeout_ms: i32,
    /// Fence fd.
    pub fence_fd: i32,
}
#[cfg(any(target_pointer_width = "64", target_arch = "arm"))]
assert_layout!(rknn_run_extend, size 24, align 8,
    frame_id @ 0, non_block @ 8, timeout_ms @ 12, fence_fd @ 16);

/// Extra `rknn_outputs_get` arguments.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_output_extend {
    /// Frame id of the outputs.
    pub frame_id: u64,
}
#[cfg(any(target_pointer_width = "64", target_arch = "arm"))]
assert_layout!(rknn_output_extend, size 8, align 8, frame_id @ 0);

extern "C" {
    /// Wraps an MPI `MB_BLK`. Declared as in the vendor header, but exported
    /// neither by the vendor runtimes nor by this one: a call does not link.
    pub fn rknn_create_mem_from_mb_blk(
        ctx: rknn_context,
        mb_blk: *mut c_void,
        offset: i32,
    ) -> *mut rknn_tensor_mem;
}

zeroed_default!(
    rknn_input_output_num,
    rknn_tensor_attr,
    rknn_input_range,
    rknn_perf_detail,
    rknn_perf_run,
    rknn_sdk_version,
    rknn_mem_size,
    rknn_custom_string,
    _rknn_tensor_memory,
    rknn_input,
    rknn_output,
    rknn_init_extend,
    rknn_run_extend,
    rknn_output_extend
);
