//! `rknn_matmul_api.h`: the matmul API's enums, structs and typedefs
//! (`reference/rknn-c-api.md` §2.12, §3.15–§3.19). Types shared with the
//! core API come from [`super::api`] (the header includes `rknn_api.h`).

use bytemuck::Zeroable;
use core::ffi::c_char;

use super::api::{rknn_context, rknn_tensor_type, RKNN_MAX_DIMS, RKNN_MAX_NAME_LEN};

/// A matmul context handle (a valid `rknn_context` for the memory functions).
pub type rknn_matmul_ctx = rknn_context;

// ---------------------------------------------------------------------------
// rknn_matmul_type
// ---------------------------------------------------------------------------

/// The values of [`rknn_matmul_type`] (C `enum _rknn_matmul_type`). Values 13
/// and 14 are unused.
#[repr(C)]
pub enum _rknn_matmul_type {
    /// fp16 x fp16 -> fp32.
    RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32 = 1,
    /// int8 x int8 -> int32.
    RKNN_INT8_MM_INT8_TO_INT32 = 2,
    /// int8 x int8 -> int8.
    RKNN_INT8_MM_INT8_TO_INT8 = 3,
    /// fp16 x fp16 -> fp16.
    RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16 = 4,
    /// fp16 x int8 -> fp32.
    RKNN_FLOAT16_MM_INT8_TO_FLOAT32 = 5,
    /// fp16 x int8 -> fp16.
    RKNN_FLOAT16_MM_INT8_TO_FLOAT16 = 6,
    /// fp16 x int4 -> fp32.
    RKNN_FLOAT16_MM_INT4_TO_FLOAT32 = 7,
    /// fp16 x int4 -> fp16.
    RKNN_FLOAT16_MM_INT4_TO_FLOAT16 = 8,
    /// int8 x int8 -> fp32.
    RKNN_INT8_MM_INT8_TO_FLOAT32 = 9,
    /// int4 x int4 -> int16.
    RKNN_INT4_MM_INT4_TO_INT16 = 10,
    /// int8 x int4 -> int32.
    RKNN_INT8_MM_INT4_TO_INT32 = 11,
    /// fp16 x int4 -> bf16.
    RKNN_FLOAT16_MM_INT4_TO_BFLOAT16 = 12,
    /// int8 x int4 -> fp16.
    RKNN_INT8_MM_INT4_TO_FLOAT16 = 15,
}

/// `rknn_matmul_type`: operand and result types of a matmul.
pub type rknn_matmul_type = u32;

enum_values!(_rknn_matmul_type => rknn_matmul_type {
    RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32,
    RKNN_INT8_MM_INT8_TO_INT32,
    RKNN_INT8_MM_INT8_TO_INT8,
    RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16,
    RKNN_FLOAT16_MM_INT8_TO_FLOAT32,
    RKNN_FLOAT16_MM_INT8_TO_FLOAT16,
    RKNN_FLOAT16_MM_INT4_TO_FLOAT32,
    RKNN_FLOAT16_MM_INT4_TO_FLOAT16,
    RKNN_INT8_MM_INT8_TO_FLOAT32,
    RKNN_INT4_MM_INT4_TO_INT16,
    RKNN_INT8_MM_INT4_TO_INT32,
    RKNN_FLOAT16_MM_INT4_TO_BFLOAT16,
    RKNN_INT8_MM_INT4_TO_FLOAT16,
});

// ---------------------------------------------------------------------------
// rknn_matmul_quant_type
// ---------------------------------------------------------------------------

/// The values of [`rknn_matmul_quant_type`] (C `enum _rknn_matmul_quant_type`).
/// Stored in the `int16_t` fields `B_quant_type` and `AC_quant_type`.
#[repr(C)]
pub enum _rknn_matmul_quant_type {
    /// Per-layer, symmetric.
    RKNN_QUANT_TYPE_PER_LAYER_SYM = 0,
    /// Per-layer, asymmetric.
    RKNN_QUANT_TYPE_PER_LAYER_ASYM = 1,
    /// Per-channel, symmetric.
    RKNN_QUANT_TYPE_PER_CHANNEL_SYM = 2,
    /// Per-channel, asymmetric.
    RKNN_QUANT_TYPE_PER_CHANNEL_ASYM = 3,
    /// Per-group, symmetric.
    RKNN_QUANT_TYPE_PER_GROUP_SYM = 4,
    /// Per-group, asymmetric.
    RKNN_QUANT_TYPE_PER_GROUP_ASYM = 5,
}

/// `rknn_matmul_quant_type`: quantization granularity of a matmul operand.
pub type rknn_matmul_quant_type = u32;

enum_values!(_rknn_matmul_quant_type => rknn_matmul_quant_type {
    RKNN_QUANT_TYPE_PER_LAYER_SYM,
    RKNN_QUANT_TYPE_PER_LAYER_ASYM,
    RKNN_QUANT_TYPE_PER_CHANNEL_SYM,
    RKNN_QUANT_TYPE_PER_CHANNEL_ASYM,
    RKNN_QUANT_TYPE_PER_GROUP_SYM,
    RKNN_QUANT_TYPE_PER_GROUP_ASYM,
});

// ---------------------------------------------------------------------------
// rknn_matmul_layout
// ---------------------------------------------------------------------------

/// The values of [`rknn_matmul_layout`] (C `enum _rknn_matmul_layout`).
/// Anonymous in the vendor header. Stored in the `int16_t` fields `B_layout`
/// and `AC_layout`.
#[repr(C)]
pub enum _rknn_matmul_layout {
    /// Row-major.
    RKNN_MM_LAYOUT_NORM = 0,
    /// NPU native layout.
    RKNN_MM_LAYOUT_NATIVE = 1,
    /// B given transposed (N x K row-major).
    RKNN_MM_LAYOUT_TP_NORM = 2,
}

/// `rknn_matmul_layout`: memory layout of a matmul operand.
pub type rknn_matmul_layout = u32;

enum_values!(_rknn_matmul_layout => rknn_matmul_layout {
    RKNN_MM_LAYOUT_NORM,
    RKNN_MM_LAYOUT_NATIVE,
    RKNN_MM_LAYOUT_TP_NORM,
});

// ---------------------------------------------------------------------------
// Structs
// ---------------------------------------------------------------------------

/// Quantization parameters of one matmul operand.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_quant_params {
    /// Name of the operand (`io_attr.A/B/C.name`).
    pub name: [c_char; RKNN_MAX_NAME_LEN],
    /// Scales.
    pub scale: *mut f32,
    /// Number of scales.
    pub scale_len: i32,
    /// Zero points.
    pub zp: *mut i32,
    /// Number of zero points.
    pub zp_len: i32,
}
#[cfg(target_pointer_width = "64")]
assert_layout!(rknn_quant_params, size 288, align 8,
    name @ 0, scale @ 256, scale_len @ 264, zp @ 272, zp_len @ 280);
#[cfg(all(target_pointer_width = "32", target_arch = "arm"))]
assert_layout!(rknn_quant_params, size 272, align 4,
    name @ 0, scale @ 256, scale_len @ 260, zp @ 264, zp_len @ 268);

/// Attributes of one matmul operand.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_matmul_tensor_attr {
    /// NUL-terminated operand name.
    pub name: [c_char; RKNN_MAX_NAME_LEN],
    /// Number of valid entries in `dims`.
    pub n_dims: u32,
    /// Dimensions.
    pub dims: [u32; RKNN_MAX_DIMS],
    /// Bytes to allocate.
    pub size: u32,
    /// Element type.
    pub r#type: rknn_tensor_type,
}
assert_layout!(rknn_matmul_tensor_attr, size 332, align 4,
    name @ 0, n_dims @ 256, dims @ 260, size @ 324, r#type @ 328);

/// Attributes of the three matmul operands.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_matmul_io_attr {
    /// Left operand (M x K).
    pub A: rknn_matmul_tensor_attr,
    /// Right operand (K x N).
    pub B: rknn_matmul_tensor_attr,
    /// Result (M x N).
    pub C: rknn_matmul_tensor_attr,
}
assert_layout!(rknn_matmul_io_attr, size 996, align 4, A @ 0, B @ 332, C @ 664);

/// One matmul shape.
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_matmul_shape {
    /// Rows of A and C.
    pub M: i32,
    /// Columns of A, rows of B.
    pub K: i32,
    /// Columns of B and C.
    pub N: i32,
}
assert_layout!(rknn_matmul_shape, size 12, align 4, M @ 0, K @ 4, N @ 8);

/// C `struct rknn_matmul_info_t`: matmul creation parameters (typedef
/// [`rknn_matmul_info`]).
#[repr(C)]
#[derive(Debug, Clone, Copy, Zeroable)]
pub struct rknn_matmul_info_t {
    /// Rows of A and C.
    pub M: i32,
    /// Columns of A, rows of B.
    pub K: i32,
    /// Columns of B and C.
    pub N: i32,
    /// Operand and result types.
    pub r#type: rknn_matmul_type,
    /// Layout of B (`RKNN_MM_LAYOUT_*`).
    pub B_layout: i16,
    /// Quantization of B (`RKNN_QUANT_TYPE_*`).
    pub B_quant_type: i16,
    /// Layout of A and C (`RKNN_MM_LAYOUT_*`).
    pub AC_layout: i16,
    /// Quantization of A and C (`RKNN_QUANT_TYPE_*`).
    pub AC_quant_type: i16,
    /// IOMMU domain (each a 4 GiB space).
    pub iommu_domain_id: i32,
    /// Group size for per-group quantization of B.
    pub group_size: i16,
    /// Reserved.
    pub reserved: [i8; 34],
}
/// `rknn_matmul_info`: matmul creation parameters.
pub type rknn_matmul_info = rknn_matmul_info_t;
assert_layout!(rknn_matmul_info, size 64, align 4,
    M @ 0, K @ 4, N @ 8, r#type @ 12, B_layout @ 16, B_quant_type @ 18, AC_layout @ 20,
    AC_quant_type @ 22, iommu_domain_id @ 24, group_size @ 28, reserved @ 30);

zeroed_default!(
    rknn_quant_params,
    rknn_matmul_tensor_attr,
    rknn_matmul_io_attr,
    rknn_matmul_shape,
    rknn_matmul_info_t
);
