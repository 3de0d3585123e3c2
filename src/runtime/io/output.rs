//! `rknn_outputs_get` and zero-copy outputs: the executor's tensor into the
//! user's type and layout.

use half::f16;

use crate::graph::{DType, Layout, TensorInfo};
use crate::kernels::quant;

use super::engine::{self, Chan};
use super::input::pad_bytes;
use super::layout::{require, Dims4, LayoutSpec, Map};
use super::{IoError, IoResult};

/// Bytes [`convert_output`] writes for `info`: f32 elements when
/// `want_float`, the model's type otherwise.
pub fn output_size(info: &TensorInfo, want_float: bool) -> IoResult<usize> {
    let es = if want_float { 4 } else { info.dtype.size() };
    info.elems()
        .checked_mul(es)
        .ok_or_else(|| IoError::Invalid("tensor size overflows".into()))
}

/// `rknn_outputs_get`: `src` holds `info` as the executor produced it
/// (model order: NCHW for 4-D). With `want_float` the result is f32 in
/// model order, dequantized (`(q - zp) * scale`, per tensor or per
/// channel); otherwise the bytes in the model's type. Returns the bytes
/// written.
pub fn convert_output(
    src: &[u8],
    info: &TensorInfo,
    want_float: bool,
    dst: &mut [u8],
) -> IoResult<usize> {
    let ty = if want_float { DType::F32 } else { info.dtype };
    convert_output_to(src, info, ty, LayoutSpec::UNDEFINED, dst)
}

/// Per-channel decomposition of a tensor: `(outer, channels, inner)` with
/// the quantization axis as channel axis (`(1, 1, elems)` per tensor).
fn channel_split(info: &TensorInfo) -> IoResult<(usize, usize, usize)> {
    let elems = info.elems();
    match &info.quant {
        Some(q) if !q.is_per_tensor() => {
            let axis = q.axis as usize;
            let c = info.shape.get(axis).copied().unwrap_or(0);
            if q.scale.len() != c || q.zero_point.len() != c || c == 0 {
                return Err(IoError::Invalid(format!(
                    "per-channel quantization of '{}': {} scales for axis {axis} of shape {:?}",
                    info.name,
                    q.scale.len(),
                    info.shape
                )));
            }
            let outer = info.shape[..axis].iter().product();
            let inner = info.shape[axis + 1..].iter().product();
            Ok((outer, c, inner))
        }
        _ => Ok((1, 1, elems)),
    }
}

/// Dequantization channels (`(q - zp) * scale`) or the identity.
fn chans(info: &TensorInfo, c: usize) -> IoResult<Vec<Chan>> {
    let Some(q) = info.quant.as_ref().filter(|_| !info.dtype.is_float()) else {
        return Ok(vec![Chan::IDENTITY]);
    };
    if q.scale.is_empty() || q.zero_point.len() != q.scale.len() {
        return Err(IoError::Invalid(format!(
            "quantization of '{}' has {} scales and {} zero points",
            info.name,
            q.scale.len(),
            q.zero_point.len()
        )));
    }
    Ok((0..c)
        .map(|i| {
            let (scale, zp) = q.channel(i);
            Chan {
                sub: zp as f32,
                div: 1.0,
                mul: scale,
                ..Chan::IDENTITY
            }
        })
        .collect())
}

/// Converts the executor's output tensor (see [`convert_output_to_inner`]
/// below for the rules) and adds the bytes written to
/// [`super::copied_bytes`].
pub fn convert_output_to(
    src: &[u8],
    info: &TensorInfo,
    dst_type: DType,
    dst_layout: LayoutSpec,
    dst: &mut [u8],
) -> IoResult<usize> {
    convert_output_from(src, LayoutSpec::UNDEFINED, info, dst_type, dst_layout, dst)
}

/// [`convert_output_to`] from a tensor stored as `src_layout` (the
/// native NC1HWC2 or strided NHWC of an NPU program's output;
/// `Undefined`: model order, the CPU executor's).
pub fn convert_output_from(
    src: &[u8],
    src_layout: LayoutSpec,
    info: &TensorInfo,
    dst_type: DType,
    dst_layout: LayoutSpec,
    dst: &mut [u8],
) -> IoResult<usize> {
    let n = convert_output_to_inner(src, src_layout, info, dst_type, dst_layout, dst)?;
    super::count_copied(n);
    Ok(n)
}

/// Bytes [`convert_output_to`] writes for `info` as `dst_type` in
/// `dst_layout` (padding included).
pub fn output_size_to(
    info: &TensorInfo,
    dst_type: DType,
    dst_layout: LayoutSpec,
) -> IoResult<usize> {
    storage_map(info, dst_layout)?.bytes(dst_type.size())
}

/// Whether [`convert_output_to`] into `dst_type` / `dst_layout` would
/// copy every byte unchanged to the same place: then the executor can
/// write the user's buffer directly (zero-copy).
pub fn writes_in_place(
    info: &TensorInfo,
    dst_type: DType,
    dst_layout: LayoutSpec,
) -> IoResult<bool> {
    writes_in_place_from(info, LayoutSpec::UNDEFINED, dst_type, dst_layout)
}

/// [`writes_in_place`] for a tensor the executor stores as `src_layout`:
/// true when `dst_layout` places every element where the executor does.
pub fn writes_in_place_from(
    info: &TensorInfo,
    src_layout: LayoutSpec,
    dst_type: DType,
    dst_layout: LayoutSpec,
) -> IoResult<bool> {
    if dst_type != info.dtype {
        return Ok(false);
    }
    let dm = storage_map(info, dst_layout)?;
    let sm = storage_map(info, src_layout)?;
    // The same placement of every element: padding, if any, is whatever
    // the producer writes there (an NPU program writes its whole native
    // tensor; the CPU executor's model order has none).
    Ok(sm.same_as(&dm))
}

/// The element map of `info` stored as `layout`.
fn storage_map(info: &TensorInfo, layout: LayoutSpec) -> IoResult<Map> {
    match Dims4::from_info(info) {
        Some(d) => Map::image(layout, d, info.layout),
        None if layout.layout == Layout::Nc1hwc2 => Err(IoError::Unsupported(format!(
            "NC1HWC2 needs a 4-D NCHW/NHWC tensor, '{}' has shape {:?}",
            info.name, info.shape
        ))),
        None => Ok(Map::flat(info.elems())),
    }
}

/// Converts the executor's output tensor `src` (`info`, stored as
/// `src_layout`; `Undefined` is model order) into `dst_type` laid out as
/// `dst_layout` (`Undefined`: model order; 4-D tensors may also go to
/// NCHW, NHWC with stride, or NC1HWC2). `dst_type` is the model's type
/// (layout change only), F32 or F16 (dequantized). Padding receives the
/// zero point (same type) or zero. Returns the bytes written.
fn convert_output_to_inner(
    src: &[u8],
    src_layout: LayoutSpec,
    info: &TensorInfo,
    dst_type: DType,
    dst_layout: LayoutSpec,
    dst: &mut [u8],
) -> IoResult<usize> {
    let dims = Dims4::from_info(info);
    let (sm, dm) = match dims {
        Some(d) => (
            Map::image(src_layout, d, info.layout)?,
            Map::image(dst_layout, d, info.layout)?,
        ),
        None => {
            if dst_layout.layout == Layout::Nc1hwc2 || src_layout.layout == Layout::Nc1hwc2 {
                return Err(IoError::Unsupported(format!(
                    "NC1HWC2 needs a 4-D NCHW/NHWC tensor, '{}' has shape {:?}",
                    info.name, info.shape
                )));
            }
            let m = Map::flat(info.elems());
            (m, m)
        }
    };
    if dst_type != info.dtype && !dst_type.is_float() {
        return Err(IoError::Unsupported(format!(
            "output '{}' of type {:?} cannot be read as {:?}",
            info.name, info.dtype, dst_type
        )));
    }
    let need_src = sm.bytes(info.dtype.size())?;
    let need_dst = dm.bytes(dst_type.size())?;
    require("output", need_src, src.len())?;
    require("destination", need_dst, dst.len())?;
    let (src, dst) = (&src[..need_src], &mut dst[..need_dst]);

    if dst_type == info.dtype {
        engine::copy_layout(src, &sm, dst, &dm, dst_type.size());
        dm.fill_padding(dst, &pad_bytes(info));
        return Ok(need_dst);
    }
    let (outer, c, inner) = channel_split(info)?;
    let chans = chans(info, c)?;
    // Per-channel parameters follow the channel axis of the 4-D maps; any
    // other axis is handled on the flat model-order view.
    let image_axis = match info.layout {
        Layout::Nhwc => 3,
        _ => 1,
    };
    let along_maps =
        c == 1 || (dims.is_some() && info.quant.as_ref().is_some_and(|q| q.axis == image_axis));
    let (sm, dm) = if along_maps {
        (sm, dm)
    } else if sm.same_as(&dm) {
        let v = Map::image(
            LayoutSpec::NCHW,
            Dims4::new(outer, c, 1, inner),
            Layout::Nchw,
        )?;
        (v, v)
    } else {
        return Err(IoError::Unsupported(format!(
            "output '{}': per-channel quantization along axis {} with a layout change",
            info.name,
            info.quant.as_ref().map_or(0, |q| q.axis)
        )));
    };
    if sm.same_as(&dm) && dst_type == DType::F32 && fast_to_f32(src, info.dtype, &sm, dst, &chans) {
        return Ok(need_dst);
    }
    engine::convert_values(src, info.dtype, &sm, dst, dst_type, &dm, &chans);
    dm.fill_padding(dst, &[0u8; 4][..dst_type.size()]);
    Ok(need_dst)
}

/// Model-order f32 results for the common output types, one channel run at
/// a time, in loops the compiler vectorises; the values equal
/// [`engine::convert_values`] (`(q - zp) * scale` is exact in both).
fn fast_to_f32(src: &[u8], ty: DType, m: &Map, dst: &mut [u8], chans: &[Chan]) -> bool {
    let d = m.dims();
    let run = d.h * d.w;
    let es = ty.size();
    if !matches!(ty, DType::I8 | DType::U8 | DType::F16) {
        return false;
    }
    for n in 0..d.n {
        for c in 0..d.c {
            let b = m.base(n, c, 0);
            let s = &src[b * es..(b + run) * es];
            let o = &mut dst[b * 4..(b + run) * 4];
            let ch = chans[c.min(chans.len() - 1)];
            let (scale, zp) = (ch.mul, ch.sub as i32);
            match ty {
                DType::I8 => {
                    for (o, &q) in o.chunks_exact_mut(4).zip(s) {
                        let v = quant::dequantize(q as i8 as i32, scale, zp);
                        o.copy_from_slice(&v.to_ne_bytes());
                    }
                }
                DType::U8 => {
                    for (o, &q) in o.chunks_exact_mut(4).zip(s) {
                        let v = quant::dequantize(q as i32, scale, zp);
                        o.copy_from_slice(&v.to_ne_bytes());
                    }
                }
                _ => {
                    for (o, h) in o.chunks_exact_mut(4).zip(s.chunks_exact(2)) {
                        let v = f16::from_bits(u16::from_ne_bytes([h[0], h[1]])).to_f32();
                        o.copy_from_slice(&v.to_ne_bytes());
                    }
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests;
