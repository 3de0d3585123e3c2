//! The tensor attributes `rknn_query` reports for model inputs and outputs,
//! in plain Rust (the C API copies them into `rknn_tensor_attr`).

use core::ffi::c_char;

use super::io::{self, IoError, NativeAttr};
use super::vendor::Stored;
use crate::abi::{
    rknn_tensor_attr, RKNN_MAX_DIMS, RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC, RKNN_TENSOR_QNT_NONE,
};
use crate::graph::{DType, Layout, TensorInfo};
use crate::platform::Platform;

/// Which view of an IO tensor a query asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrKind {
    /// `RKNN_QUERY_INPUT_ATTR`: 4-D inputs as NHWC (the image order users
    /// pass to `rknn_inputs_set`), others as in the model.
    Input,
    /// `RKNN_QUERY_OUTPUT_ATTR`: 4-D outputs as NCHW.
    Output,
    /// `RKNN_QUERY_NATIVE_INPUT_ATTR`: the NPU's preferred input layout
    /// (`docs/io.md`).
    NativeInput,
    /// `RKNN_QUERY_NATIVE_OUTPUT_ATTR`: NC1HWC2 for 4-D NPU outputs.
    NativeOutput,
    /// `RKNN_QUERY_NATIVE_NHWC_INPUT_ATTR`: NHWC (width-aligned for 1, 3
    /// or 4 channels).
    NativeNhwcInput,
    /// `RKNN_QUERY_NATIVE_NHWC_OUTPUT_ATTR`: dense NHWC.
    NativeNhwcOutput,
}

/// What a query reports about one IO tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorAttr {
    /// Input or output index.
    pub index: u32,
    /// Dimensions in `fmt` order.
    pub dims: Vec<u32>,
    /// Tensor name.
    pub name: String,
    /// Number of elements.
    pub n_elems: u32,
    /// Bytes without stride padding.
    pub size: u32,
    /// Layout of `dims`.
    pub fmt: Layout,
    /// Element type.
    pub dtype: DType,
    /// Affine quantization (zero point, scale), if any.
    pub quant: Option<(i32, f32)>,
    /// Row pitch in pixels (0 when not meaningful).
    pub w_stride: u32,
    /// Bytes including stride padding.
    pub size_with_stride: u32,
    /// Whether the data is passed through unconverted.
    pub pass_through: bool,
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The attributes of `info` (input or output number `index`) for `kind`
/// on `platform`.
pub fn attr(
    index: usize,
    info: &TensorInfo,
    kind: AttrKind,
    platform: Platform,
) -> Result<TensorAttr, IoError> {
    let native = match kind {
        AttrKind::Input | AttrKind::Output => return Ok(plain(index, info, kind)),
        AttrKind::NativeInput => io::native_input_attr(info, platform)?,
        AttrKind::NativeOutput => io::native_output_attr(info, platform)?,
        AttrKind::NativeNhwcInput => {
            let a = io::native_input_attr(info, platform)?;
            if a.layout == Layout::Nhwc {
                a
            } else {
                io::native_nhwc_output_attr(info)?
            }
        }
        AttrKind::NativeNhwcOutput => io::native_nhwc_output_attr(info)?,
    };
    Ok(from_native(index, info, &native))
}

/// The attributes of input or output `index` of a vendor model (`info`
/// its logical tensor, `s` how the NPU program stores it) for `kind`:
/// the plain views follow the same rules as [`attr`]; the native views
/// report the stored layout itself (NHWC with the file's row pitch,
/// NC1HWC2 with the file's native shape, model order otherwise), and
/// `size_with_stride` is the stored size, which the NPU program may write
/// in full.
pub fn vendor_attr(
    index: usize,
    info: &TensorInfo,
    s: &Stored,
    kind: AttrKind,
) -> Result<TensorAttr, IoError> {
    let native = match kind {
        AttrKind::Input | AttrKind::Output => return Ok(plain(index, info, kind)),
        AttrKind::NativeInput | AttrKind::NativeOutput => stored_attr(info, s)?,
        AttrKind::NativeNhwcInput if s.spec.layout == Layout::Nhwc => stored_attr(info, s)?,
        AttrKind::NativeNhwcInput | AttrKind::NativeNhwcOutput => {
            io::native_nhwc_output_attr(info)?
        }
    };
    Ok(from_native(index, info, &native))
}

fn stored_attr(info: &TensorInfo, s: &Stored) -> Result<NativeAttr, IoError> {
    let v = &s.view;
    let e = v.dtype.size();
    let (layout, dims, w_stride) = match s.spec.layout {
        Layout::Nhwc => {
            let (n, c, h, w) = (v.shape[0], v.shape[1], v.shape[2], v.shape[3]);
            (Layout::Nhwc, vec![n, h, w, c], s.spec.w_stride.max(w))
        }
        Layout::Nc1hwc2 => (Layout::Nc1hwc2, s.native_dims.clone(), 0),
        _ => (
            if info.shape.len() == 4 {
                Layout::Nchw
            } else {
                Layout::Undefined
            },
            info.shape.clone(),
            0,
        ),
    };
    let n_elems = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| IoError::Invalid("tensor size overflows".into()))?;
    let size = n_elems
        .checked_mul(e)
        .ok_or_else(|| IoError::Invalid("tensor size overflows".into()))?;
    Ok(NativeAttr {
        layout,
        dims,
        dtype: v.dtype,
        n_elems,
        size,
        w_stride,
        size_with_stride: s.bytes.max(size),
        spec: s.spec,
    })
}

fn from_native(index: usize, info: &TensorInfo, a: &NativeAttr) -> TensorAttr {
    TensorAttr {
        index: to_u32(index),
        dims: a.dims.iter().map(|&d| to_u32(d)).collect(),
        name: info.name.clone(),
        n_elems: to_u32(a.n_elems),
        size: to_u32(a.size),
        fmt: a.layout,
        dtype: a.dtype,
        quant: quant_of(info),
        w_stride: to_u32(a.w_stride),
        size_with_stride: to_u32(a.size_with_stride),
        pass_through: false,
    }
}

fn quant_of(info: &TensorInfo) -> Option<(i32, f32)> {
    info.quant.as_ref().map(|q| (q.zero_point[0], q.scale[0]))
}

/// The plain view of `info` (number `index`): 4-D tensors NHWC for
/// [`AttrKind::Input`], NCHW otherwise; other ranks UNDEFINED.
pub fn plain(index: usize, info: &TensorInfo, kind: AttrKind) -> TensorAttr {
    let shape = &info.shape;
    let (dims, fmt, w_stride): (Vec<usize>, Layout, usize) =
        match (kind == AttrKind::Input, shape.len() == 4) {
            (true, true) => (
                vec![shape[0], shape[2], shape[3], shape[1]],
                Layout::Nhwc,
                shape[3],
            ),
            (false, true) => (shape.clone(), Layout::Nchw, 0),
            (_, false) => (shape.clone(), Layout::Undefined, 0),
        };
    let size = info.bytes();
    TensorAttr {
        index: to_u32(index),
        dims: dims.into_iter().map(to_u32).collect(),
        name: info.name.clone(),
        n_elems: to_u32(info.elems()),
        size: to_u32(size),
        fmt,
        dtype: info.dtype,
        quant: quant_of(info),
        w_stride: to_u32(w_stride),
        size_with_stride: to_u32(size),
        pass_through: false,
    }
}

/// Copies `s` into a fixed C char array, truncating and NUL-terminating.
pub fn copy_str(dst: &mut [c_char], s: &str) {
    let n = s.len().min(dst.len().saturating_sub(1));
    for (d, b) in dst.iter_mut().zip(s.as_bytes()[..n].iter()) {
        *d = *b as c_char;
    }
    for d in dst.iter_mut().skip(n) {
        *d = 0;
    }
}

/// Writes a runtime attribute into the C struct.
pub fn fill_attr(dst: &mut rknn_tensor_attr, a: &TensorAttr) {
    dst.index = a.index;
    dst.n_dims = a.dims.len().min(RKNN_MAX_DIMS) as u32;
    dst.dims = [0; RKNN_MAX_DIMS];
    for (d, s) in dst.dims.iter_mut().zip(&a.dims) {
        *d = *s;
    }
    copy_str(&mut dst.name, &a.name);
    dst.n_elems = a.n_elems;
    dst.size = a.size;
    dst.fmt = a.fmt as u32;
    dst.r#type = a.dtype.to_rknn();
    match a.quant {
        Some((zp, scale)) => {
            dst.qnt_type = RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC;
            dst.zp = zp;
            dst.scale = scale;
        }
        None => {
            dst.qnt_type = RKNN_TENSOR_QNT_NONE;
            dst.zp = 0;
            dst.scale = 1.0;
        }
    }
    dst.fl = 0;
    dst.w_stride = a.w_stride;
    dst.size_with_stride = a.size_with_stride;
    dst.pass_through = a.pass_through as u8;
    dst.h_stride = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Quant;

    #[test]
    fn four_d_input_is_reported_nhwc() {
        let mut t = TensorInfo::activation("images", vec![1, 3, 640, 640], DType::I8);
        t.quant = Some(Quant::per_tensor(0.003922, -128));
        let a = attr(0, &t, AttrKind::Input, Platform::Rk3588).unwrap();
        assert_eq!(a.dims, vec![1, 640, 640, 3]);
        assert_eq!(a.fmt, Layout::Nhwc);
        assert_eq!(a.n_elems, 1_228_800);
        assert_eq!(a.size, 1_228_800);
        assert_eq!(a.w_stride, 640);
        assert_eq!(a.quant, Some((-128, 0.003922)));
    }

    #[test]
    fn outputs_keep_nchw_and_vectors_are_undefined() {
        let t = TensorInfo::activation("out", vec![1, 255, 80, 80], DType::F16);
        let a = attr(2, &t, AttrKind::Output, Platform::Rk3588).unwrap();
        assert_eq!(a.index, 2);
        assert_eq!(a.dims, vec![1, 255, 80, 80]);
        assert_eq!(a.fmt, Layout::Nchw);
        assert_eq!(a.size, 255 * 80 * 80 * 2);
        let v = TensorInfo::activation("prob", vec![1, 1000], DType::F32);
        let a = attr(0, &v, AttrKind::Input, Platform::Rk3588).unwrap();
        assert_eq!(a.fmt, Layout::Undefined);
        assert_eq!(a.dims, vec![1, 1000]);
        assert_eq!(a.quant, None);
    }

    #[test]
    fn native_views() {
        let mut t = TensorInfo::activation("x", vec![1, 3, 5, 7], DType::I8);
        t.quant = Some(Quant::per_tensor(0.5, 3));
        let a = attr(0, &t, AttrKind::NativeInput, Platform::Rk3588).unwrap();
        assert_eq!((a.fmt, a.dims.clone()), (Layout::Nhwc, vec![1, 5, 7, 3]));
        assert_eq!((a.w_stride, a.size_with_stride), (16, 5 * 16 * 3));
        assert_eq!(a.quant, Some((3, 0.5)));
        let o = TensorInfo::activation("y", vec![1, 20, 2, 2], DType::I8);
        let a = attr(0, &o, AttrKind::NativeOutput, Platform::Rk3588).unwrap();
        assert_eq!(
            (a.fmt, a.dims.clone()),
            (Layout::Nc1hwc2, vec![1, 2, 2, 2, 16])
        );
        assert_eq!(a.size_with_stride, 2 * 2 * 2 * 16);
        let a = attr(0, &o, AttrKind::NativeNhwcOutput, Platform::Rk3588).unwrap();
        assert_eq!((a.fmt, a.dims), (Layout::Nhwc, vec![1, 2, 2, 20]));
        let a = attr(0, &o, AttrKind::NativeNhwcInput, Platform::Rk3566).unwrap();
        assert_eq!(a.fmt, Layout::Nhwc);
    }
}
