//! `rknn_inputs_set`: a user buffer into the tensor the executor reads.

use crate::graph::{DType, Layout, TensorInfo};
use crate::model::InputPreprocess;

use super::engine::{self, Chan};
use super::layout::{require, Dims4, LayoutSpec, Map};
use super::simd::{self, FixedChan, FixedCoeffs, Level, NormCoeffs, QuantCoeffs, Sink};
use super::{IoError, IoResult};

/// One user input as given to `rknn_inputs_set` (without C types).
#[derive(Clone, Copy, Debug)]
pub struct InputBuf<'a> {
    /// The bytes (`rknn_input.buf` / `size`).
    pub data: &'a [u8],
    /// Element type of `data` (`rknn_input.type`).
    pub dtype: DType,
    /// Layout of `data` (`rknn_input.fmt`); `Undefined` means the model's
    /// own order. NHWC may carry a width stride, NC1HWC2 its C2.
    pub layout: LayoutSpec,
    /// `rknn_input.pass_through`: `data` is already normalized and in the
    /// model's type; only the layout is converted.
    pub pass_through: bool,
}

/// The two layouts of a conversion and whether the tensor is an image
/// (4-D, channel-wise pre-processing).
struct Maps {
    sm: Map,
    dm: Map,
    image: bool,
}

fn maps(src: LayoutSpec, pass_through: bool, dst: &TensorInfo, dl: LayoutSpec) -> IoResult<Maps> {
    match Dims4::from_info(dst) {
        Some(d) => {
            if src.layout == Layout::Nc1hwc2 && !pass_through {
                return Err(IoError::Unsupported(
                    "NC1HWC2 input data needs pass_through = 1".into(),
                ));
            }
            Ok(Maps {
                sm: Map::image(src, d, dst.layout)?,
                dm: Map::image(dl, d, dst.layout)?,
                image: true,
            })
        }
        None => {
            if src.layout == Layout::Nc1hwc2 || dl.layout == Layout::Nc1hwc2 {
                return Err(IoError::Unsupported(format!(
                    "NC1HWC2 needs a 4-D NCHW/NHWC tensor, '{}' has shape {:?}",
                    dst.name, dst.shape
                )));
            }
            let m = Map::flat(dst.elems());
            Ok(Maps {
                sm: m,
                dm: m,
                image: false,
            })
        }
    }
}

/// Bytes the destination of [`convert_input`] needs for `dst` in
/// `dst_layout` (padding included).
pub fn input_size(dst: &TensorInfo, dst_layout: LayoutSpec) -> IoResult<usize> {
    maps(LayoutSpec::UNDEFINED, false, dst, dst_layout)?
        .dm
        .bytes(dst.dtype.size())
}

/// Bytes a user buffer of `dtype` data laid out as `layout` must hold for
/// the tensor `dst` (stride padding included). With `pass_through = 0`
/// an NC1HWC2 layout is not accepted (see [`convert_input`]).
pub fn source_size(
    dst: &TensorInfo,
    dtype: DType,
    layout: LayoutSpec,
    pass_through: bool,
) -> IoResult<usize> {
    maps(layout, pass_through, dst, LayoutSpec::NCHW)?
        .sm
        .bytes(dtype.size())
}

/// Whether [`convert_input`] from `dtype` data in `layout` into `dst` laid
/// out as `dst_layout` would copy every byte unchanged to the same place:
/// then the executor can read the user's buffer directly (zero-copy).
/// That needs the model's type, the same element placement without
/// padding, and no arithmetic (`pass_through`, or neither quantization
/// nor a non-identity mean/std).
pub fn reads_in_place(
    dtype: DType,
    layout: LayoutSpec,
    pass_through: bool,
    pre: &InputPreprocess,
    dst: &TensorInfo,
    dst_layout: LayoutSpec,
) -> IoResult<bool> {
    let Maps { sm, dm, image } = maps(layout, pass_through, dst, dst_layout)?;
    if dtype != dst.dtype || !sm.same_as(&dm) || !dm.is_dense() {
        return Ok(false);
    }
    if pass_through {
        return Ok(true);
    }
    let c = if image { sm.dims().c } else { 1 };
    let identity = !image || mean_std(pre, c)?.iter().all(|&(m, s)| m == 0.0 && s == 1.0);
    Ok(dst.quant.is_none() && identity)
}

/// The byte pattern of one padding element of `info`: the zero point for
/// per-tensor quantized int8/uint8, zero otherwise.
pub(crate) fn pad_bytes(info: &TensorInfo) -> Vec<u8> {
    let zp = match &info.quant {
        Some(q) if q.is_per_tensor() => q.zero_point.first().copied().unwrap_or(0),
        _ => 0,
    };
    match info.dtype {
        DType::I8 => vec![zp.clamp(-128, 127) as i8 as u8],
        DType::U8 => vec![zp.clamp(0, 255) as u8],
        t => vec![0; t.size()],
    }
}

/// Per-channel (mean, std) for `c` channels, validated.
fn mean_std(pre: &InputPreprocess, c: usize) -> IoResult<Vec<(f32, f32)>> {
    let pick = |v: &[f32], i: usize, default: f32| match v.len() {
        0 => default,
        1 => v[0],
        _ => v[i],
    };
    for (name, v) in [("mean", &pre.mean), ("std", &pre.std)] {
        if v.len() > 1 && v.len() != c {
            return Err(IoError::Invalid(format!(
                "{} {name} values for {c} channels",
                v.len()
            )));
        }
    }
    (0..c)
        .map(|i| {
            let (m, s) = (pick(&pre.mean, i, 0.0), pick(&pre.std, i, 1.0));
            if !m.is_finite() || !s.is_finite() || s == 0.0 {
                return Err(IoError::Invalid(format!(
                    "mean {m} / std {s} of channel {i} is not usable"
                )));
            }
            Ok((m, s))
        })
        .collect()
}

/// Checks that the quantization of `dst`, if any, has as many zero points
/// as scales, and at least one.
fn check_quant_lists(dst: &TensorInfo) -> IoResult<()> {
    match &dst.quant {
        Some(q) if q.scale.is_empty() || q.scale.len() != q.zero_point.len() => {
            Err(IoError::Invalid(format!(
                "quantization of '{}' has {} scales and {} zero points",
                dst.name,
                q.scale.len(),
                q.zero_point.len()
            )))
        }
        _ => Ok(()),
    }
}

/// Per-channel quantization (scale, zero point) of `dst` for `c` channels.
fn quant_params(dst: &TensorInfo, c: usize, image: bool) -> IoResult<Vec<(f32, i32)>> {
    let Some(q) = &dst.quant else {
        return Ok(vec![(1.0, 0); c]);
    };
    check_quant_lists(dst)?;
    let channel_axis = if dst.layout == Layout::Nhwc { 3 } else { 1 };
    if !q.is_per_tensor() && (!image || q.axis != channel_axis || q.scale.len() != c) {
        return Err(IoError::Unsupported(format!(
            "per-channel input quantization of '{}' along axis {} with {} scales",
            dst.name,
            q.axis,
            q.scale.len()
        )));
    }
    (0..c)
        .map(|i| {
            let (s, zp) = q.channel(i);
            if !s.is_finite() || s <= 0.0 {
                return Err(IoError::Invalid(format!("quantization scale {s}")));
            }
            Ok((s, zp))
        })
        .collect()
}

/// Converts one user input into the executor's tensor (see
/// [`convert_input_inner`] below for the rules) and adds the bytes written
/// to [`super::copied_bytes`].
pub fn convert_input(
    src: &InputBuf,
    pre: &InputPreprocess,
    dst: &TensorInfo,
    dst_layout: LayoutSpec,
    out: &mut [u8],
) -> IoResult<usize> {
    let n = convert_input_inner(src, pre, dst, dst_layout, out)?;
    super::count_copied(n);
    Ok(n)
}

/// Converts one user input into the executor's tensor `dst` laid out as
/// `dst_layout` (NCHW for the CPU executor; NHWC or NC1HWC2 for native
/// buffers), writing into `out`. Returns the bytes written.
///
/// With `pass_through` the data must already have `dst.dtype`; only the
/// layout changes. Otherwise every element becomes
/// `(x - mean[c]) / std[c]` (4-D tensors only; `pre` is ignored for other
/// ranks), then is quantized (`kernels::quant::quantize_i8` for int8) or
/// rounded to f16. Padding (stride pixels, NC1HWC2 channels past `C`)
/// receives the zero point (quantized) or zero.
fn convert_input_inner(
    src: &InputBuf,
    pre: &InputPreprocess,
    dst: &TensorInfo,
    dst_layout: LayoutSpec,
    out: &mut [u8],
) -> IoResult<usize> {
    let Maps { sm, dm, image } = maps(src.layout, src.pass_through, dst, dst_layout)?;
    check_quant_lists(dst)?;
    if src.pass_through && src.dtype != dst.dtype {
        return Err(IoError::Unsupported(format!(
            "pass_through input for '{}' must be {:?} (the model's type), got {:?}",
            dst.name, dst.dtype, src.dtype
        )));
    }
    let copies = src.dtype == dst.dtype && (src.pass_through || dst.quant.is_none());
    if !copies && !engine::is_value_dst(dst.dtype) {
        return Err(IoError::Unsupported(format!(
            "input '{}' of type {:?} cannot be set from {:?} data",
            dst.name, dst.dtype, src.dtype
        )));
    }
    let need_src = sm.bytes(src.dtype.size())?;
    let need_dst = dm.bytes(dst.dtype.size())?;
    require("input", need_src, src.data.len())?;
    require("destination", need_dst, out.len())?;
    let (data, out) = (&src.data[..need_src], &mut out[..need_dst]);
    let pad = pad_bytes(dst);
    let c = if image { sm.dims().c } else { 1 };

    let raw = src.dtype == dst.dtype
        && (src.pass_through
            || (dst.quant.is_none()
                && (!image || mean_std(pre, c)?.iter().all(|&(m, s)| m == 0.0 && s == 1.0))));
    if raw {
        engine::copy_layout(data, &sm, out, &dm, dst.dtype.size());
        dm.fill_padding(out, &pad);
        return Ok(need_dst);
    }
    if !engine::is_value_dst(dst.dtype) {
        return Err(IoError::Unsupported(format!(
            "input '{}' of type {:?} takes {:?} data without pre-processing",
            dst.name, dst.dtype, dst.dtype
        )));
    }
    let ms = if image {
        mean_std(pre, c)?
    } else {
        vec![(0.0, 1.0)]
    };
    let qp = if dst.dtype.is_float() {
        vec![(1.0, 0); c]
    } else {
        quant_params(dst, c, image)?
    };
    let chans: Vec<Chan> = ms
        .iter()
        .zip(&qp)
        .map(|(&(m, s), &(scale, zp))| Chan {
            sub: m,
            div: s,
            mul: 1.0,
            qinv: 1.0 / scale,
            qzp: zp,
        })
        .collect();
    if sm.dims().elems() == Some(0) {
        // No elements (a zero width or channel count): the row kernels
        // below assume non-empty rows and pixels.
        dm.fill_padding(out, &pad);
        return Ok(need_dst);
    }

    let level = simd::detect();
    let padded = if src.dtype == DType::U8 && matches!(dst.dtype, DType::I8 | DType::U8) {
        let tables = engine::u8_tables(dst.dtype, &chans);
        let fast = if dst.dtype == DType::I8 && level != Level::Scalar {
            fused_i8(level, data, &sm, out, &dm, &ms, &qp, &tables, pad[0])
        } else {
            None
        };
        fast.unwrap_or_else(|| {
            engine::lut_rows(data, &sm, out, &dm, &tables);
            false
        })
    } else if src.dtype == DType::U8
        && dst.dtype.is_float()
        && float_rows(level, data, &sm, out, dst.dtype, &dm, &ms)
    {
        false
    } else {
        engine::convert_values(data, src.dtype, &sm, out, dst.dtype, &dm, &chans);
        false
    };
    if !padded {
        dm.fill_padding(out, &pad);
    }
    Ok(need_dst)
}

/// The fused coefficients `a = 1 / (std * scale)`, `b = -mean / (std *
/// scale)` (computed in f64, rounded once), if they reproduce `tables` (the
/// two-step definition) for every byte value of every channel.
fn fused_coeffs(
    ms: &[(f32, f32)],
    qp: &[(f32, i32)],
    tables: &[[u8; 256]],
    range: std::ops::Range<usize>,
    pad: u8,
) -> Option<QuantCoeffs> {
    let mut q = QuantCoeffs {
        a: [0.0; 4],
        b: [0.0; 4],
        zp: [0.0; 4],
        pad,
    };
    for (i, ch) in range.enumerate() {
        let (m, s) = ms[ch];
        let (scale, zp) = qp[ch];
        let k = s as f64 * scale as f64;
        let (a, b) = ((1.0 / k) as f32, (-(m as f64) / k) as f32);
        if !a.is_finite() || !b.is_finite() {
            return None;
        }
        let zpf = zp.clamp(-1 << 24, 1 << 24) as f32;
        let exact = (0..=255u8).all(|x| simd::fused_i8(x, a, b, zpf) == tables[ch][x as usize]);
        if !exact {
            return None;
        }
        (q.a[i], q.b[i], q.zp[i]) = (a, b, zpf);
    }
    Some(q)
}

/// The exact fixed-point forms of the channels `range` (see
/// `simd::fixed`), if every channel has one.
fn fixed_coeffs(
    ms: &[(f32, f32)],
    qp: &[(f32, i32)],
    tables: &[[u8; 256]],
    range: std::ops::Range<usize>,
    pad: u8,
) -> Option<FixedCoeffs> {
    let mut f = FixedCoeffs {
        ch: [simd::UNUSED; 4],
        pad,
    };
    for (i, ch) in range.enumerate() {
        let slope = 1.0 / (ms[ch].1 as f64 * qp[ch].0 as f64);
        f.ch[i] = FixedChan::search(&tables[ch], slope)?;
    }
    Some(f)
}

/// The vectorised uint8 → int8 path. `None` (nothing written) when the
/// layouts are not covered or the fused formula would differ from the
/// definition for some byte value; otherwise whether the padding of `dm`
/// has been written too.
#[allow(clippy::too_many_arguments)]
fn fused_i8(
    level: Level,
    src: &[u8],
    sm: &Map,
    out: &mut [u8],
    dm: &Map,
    ms: &[(f32, f32)],
    qp: &[(f32, i32)],
    tables: &[[u8; 256]],
    pad: u8,
) -> Option<bool> {
    let d = sm.dims();
    if sm.pixel_pitch() == Some(d.c) && d.c <= 4 {
        let sink_c2 = match (dm.plane(), dm.pixel_pitch()) {
            (Some(_), _) => None,
            (None, Some(c2)) => Some(c2),
            _ => return None,
        };
        let fixed = if simd::u8_i8_fixed_ok(d.c, sink_c2) {
            fixed_coeffs(ms, qp, tables, 0..d.c, pad)
        } else {
            None
        };
        let fused = match fixed {
            Some(_) => None,
            None if simd::u8_i8_vector_ok(d.c, sink_c2) => {
                Some(fused_coeffs(ms, qp, tables, 0..d.c, pad)?)
            }
            None => return None,
        };
        for n in 0..d.n {
            for h in 0..d.h {
                let s0 = sm.base(n, 0, h);
                let row = &src[s0..s0 + d.w * d.c];
                let o = dm.base(n, 0, h);
                let sink = match (dm.plane(), sink_c2) {
                    (Some(plane), _) => Sink::Planar {
                        dst: &mut out[o..],
                        plane,
                    },
                    (None, Some(c2)) => Sink::Blocked {
                        dst: &mut out[o..o + d.w * c2],
                        c2,
                    },
                    (None, None) => return None,
                };
                match (&fixed, &fused) {
                    (Some(f), _) => simd::u8_i8_fixed_row(level, d.c, row, d.w, f, sink),
                    (None, Some(q)) => simd::u8_i8_row(level, d.c, row, d.w, q, sink),
                    (None, None) => return None,
                }
            }
        }
        return Some(matches!(sink_c2, Some(c2) if c2 != d.c));
    }
    if let (Some(sp), Some(_)) = (sm.plane(), dm.plane()) {
        let mut coeffs = Vec::with_capacity(d.c);
        for ch in 0..d.c {
            coeffs.push(match fixed_coeffs(ms, qp, tables, ch..ch + 1, pad) {
                Some(f) => Ok(f),
                None => Err(fused_coeffs(ms, qp, tables, ch..ch + 1, pad)?),
            });
        }
        for n in 0..d.n {
            for (ch, k) in coeffs.iter().enumerate() {
                let (s0, o) = (sm.base(n, ch, 0), dm.base(n, ch, 0));
                let sink = Sink::Planar {
                    dst: &mut out[o..o + sp],
                    plane: sp,
                };
                let row = &src[s0..s0 + sp];
                match k {
                    Ok(f) => simd::u8_i8_fixed_row(level, 1, row, sp, f, sink),
                    Err(q) => simd::u8_i8_row(level, 1, row, sp, q, sink),
                }
            }
        }
        return Some(false);
    }
    None
}

/// The vectorised uint8 → f32/f16 path into planar destinations; `false`
/// (nothing written) when the layouts are not covered.
#[allow(clippy::too_many_arguments)]
fn float_rows(
    level: Level,
    src: &[u8],
    sm: &Map,
    out: &mut [u8],
    dst_ty: DType,
    dm: &Map,
    ms: &[(f32, f32)],
) -> bool {
    let d = sm.dims();
    let Some(plane) = dm.plane() else {
        return false;
    };
    let e = dst_ty.size();
    let row = |c: usize, src: &[u8], w: usize, n: &NormCoeffs, dst: &mut [u8], plane: usize| {
        if dst_ty == DType::F32 {
            simd::u8_f32_row(level, c, src, w, n, dst, plane);
        } else {
            simd::u8_f16_row(level, c, src, w, n, dst, plane);
        }
    };
    let coeffs = |range: std::ops::Range<usize>| {
        let mut n = NormCoeffs {
            mean: [0.0; 4],
            std: [1.0; 4],
        };
        for (i, ch) in range.enumerate() {
            (n.mean[i], n.std[i]) = ms[ch];
        }
        n
    };
    if sm.pixel_pitch() == Some(d.c) && d.c <= 4 {
        let nc = coeffs(0..d.c);
        for n in 0..d.n {
            for h in 0..d.h {
                let s0 = sm.base(n, 0, h);
                let o = dm.base(n, 0, h) * e;
                row(
                    d.c,
                    &src[s0..s0 + d.w * d.c],
                    d.w,
                    &nc,
                    &mut out[o..],
                    plane,
                );
            }
        }
        return true;
    }
    if let Some(sp) = sm.plane() {
        for n in 0..d.n {
            for ch in 0..d.c {
                let (s0, o) = (sm.base(n, ch, 0), dm.base(n, ch, 0) * e);
                let nc = coeffs(ch..ch + 1);
                row(1, &src[s0..s0 + sp], sp, &nc, &mut out[o..o + sp * e], sp);
            }
        }
        return true;
    }
    false
}

#[cfg(test)]
mod tests;
