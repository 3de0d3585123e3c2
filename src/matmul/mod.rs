//! The matmul API's contexts (`rknn_matmul_api.h`): C = A·B with the
//! vendor's types, layouts, per-platform limits and quantization rules,
//! computed on the CPU GEMM core. The `extern "C"` surface is
//! `capi::matmul`; the behaviour is documented in `docs/matmul.md`.
//!
//! * [`types`]: matmul types, element types, layouts, quant kinds, shapes;
//! * [`rules`]: what each platform supports (types, native blocks, K/N
//!   limits, B segments);
//! * [`layout`]: where elements live in each layout, and re-laying;
//! * [`quant`]: quantization parameters and their array ordering;
//! * [`compute`]: the GEMM call and the output stage;
//! * [`context`]: one matmul context (shapes, operands, parameters).

pub mod compute;
pub mod context;
pub mod layout;
pub mod quant;
pub mod rules;
pub mod types;

pub use context::{MatmulContext, Operand, Spec};
pub use types::{Elem, Layout, MatmulType, Shape};

use crate::abi::{RKNN_ERR_FAIL, RKNN_ERR_PARAM_INVALID};

/// A matmul failure: the `RKNN_ERR_*` code and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MatmulError {
    /// Negative `RKNN_ERR_*` value.
    pub code: i32,
    /// The reason.
    pub message: String,
}

impl MatmulError {
    /// An invalid parameter (`RKNN_ERR_PARAM_INVALID`).
    pub fn param(message: impl Into<String>) -> MatmulError {
        MatmulError {
            code: RKNN_ERR_PARAM_INVALID,
            message: message.into(),
        }
    }

    /// A call in the wrong state or an unsupported request
    /// (`RKNN_ERR_FAIL`).
    pub fn fail(message: impl Into<String>) -> MatmulError {
        MatmulError {
            code: RKNN_ERR_FAIL,
            message: message.into(),
        }
    }
}

/// Converts B from normal layout (K×N row-major, `elem` elements, int4
/// packed) to the native layout of `ty` on `platform`, segments included
/// (`rknn_B_normal_layout_to_native_layout`). `dst` must hold the native
/// size (`io_attr.B.size`).
pub fn b_normal_to_native(
    platform: crate::platform::Platform,
    ty: MatmulType,
    k: usize,
    n: usize,
    src: &[u8],
    dst: &mut [u8],
) -> Result<(), MatmulError> {
    let s = Shape { m: 1, k, n };
    rules::check_shape(platform, ty, s)?;
    let (_, elem, _) = ty.elems();
    let ns = rules::native_shapes(platform, ty);
    let native = layout::Geometry::b(s, Layout::Native, &ns, rules::b_segment_k(platform));
    let norm = layout::Geometry::b(s, Layout::Norm, &ns, None);
    let (need_src, need_dst) = (elem.bytes_for(norm.count()), elem.bytes_for(native.count()));
    if src.len() < need_src || dst.len() < need_dst {
        return Err(MatmulError::param(format!(
            "B buffers too small: {} / {} bytes given, {need_src} / {need_dst} needed",
            src.len(),
            dst.len()
        )));
    }
    layout::relayout(src, &norm, &mut dst[..need_dst], &native, elem);
    Ok(())
}

/// Bytes of B in normal and in native layout for `ty` on `platform`.
pub fn b_sizes(
    platform: crate::platform::Platform,
    ty: MatmulType,
    k: usize,
    n: usize,
) -> (usize, usize) {
    let s = Shape { m: 1, k, n };
    let (_, elem, _) = ty.elems();
    let ns = rules::native_shapes(platform, ty);
    let native = layout::Geometry::b(s, Layout::Native, &ns, rules::b_segment_k(platform));
    (elem.bytes_for(k * n), elem.bytes_for(native.count()))
}
