//! Resize of the two innermost axes: nearest (any element type, bytes are
//! copied) and bilinear (f32 directly; 8-bit tensors in real units:
//! dequantize the four neighbours, interpolate in f32, quantize once with
//! the output's parameters). Coordinates follow onnxruntime: the scale is
//! `out / in` per axis in f32, and bilinear source coordinates are clamped
//! to `[0, in - 1]`.

use super::super::b_q8::{self, is_q8};
use super::super::b_shape::check_arity;
use super::{by_elem_size, source, typed, typed_mut};
use super::{In, KernelError, Out};
use crate::graph::{CoordMode, DType, NearestMode, Op, ResizeMode};

/// Source coordinate of output position `x` along an axis of `in_len`
/// resized to `out_len`.
fn src_coord(coord: CoordMode, x: usize, in_len: usize, out_len: usize) -> f32 {
    let x = x as f32;
    let scale = out_len as f32 / in_len as f32;
    match coord {
        CoordMode::HalfPixel => (x + 0.5) / scale - 0.5,
        CoordMode::PytorchHalfPixel => {
            if out_len > 1 {
                (x + 0.5) / scale - 0.5
            } else {
                0.0
            }
        }
        CoordMode::AlignCorners => {
            if out_len == 1 {
                0.0
            } else {
                x * (in_len as f32 - 1.0) / (out_len as f32 - 1.0)
            }
        }
        CoordMode::Asymmetric => x / scale,
    }
}

/// The nearest source index for coordinate `c`, clamped into the axis.
fn nearest_index(mode: NearestMode, c: f32, in_len: usize) -> usize {
    let fl = c.floor();
    let r = match mode {
        NearestMode::RoundPreferFloor => {
            if c == fl + 0.5 {
                fl
            } else {
                c.round()
            }
        }
        NearestMode::RoundPreferCeil => {
            if c == fl + 0.5 {
                fl + 1.0
            } else {
                c.round()
            }
        }
        NearestMode::Floor => fl,
        NearestMode::Ceil => c.ceil(),
    };
    r.clamp(0.0, (in_len - 1) as f32) as usize
}

/// Bilinear taps along one axis: (lower index, upper index, weight of the
/// lower, weight of the upper), as onnxruntime computes them.
fn linear_taps(
    coord: CoordMode,
    o: usize,
    in_len: usize,
    out_len: usize,
) -> (usize, usize, f32, f32) {
    let c = src_coord(coord, o, in_len, out_len).clamp(0.0, (in_len - 1) as f32);
    let i1 = (c as usize).min(in_len - 1);
    let i2 = (i1 + 1).min(in_len - 1);
    if i1 == i2 {
        return (i1, i2, 0.5, 0.5);
    }
    let d1 = (c - i1 as f32).abs();
    let d2 = (c - i2 as f32).abs();
    // The lower neighbour is weighted by the distance to the upper one.
    (i1, i2, d2, d1)
}

/// Geometry: (planes, in H, in W, out H, out W).
fn geometry(
    op: &Op,
    x: &In<'_>,
    out: &Out<'_>,
) -> Result<(usize, usize, usize, usize, usize), KernelError> {
    let (s, o) = (&x.info.shape, &out.info.shape);
    let r = s.len();
    if r < 2 || o.len() != r || s[..r - 2] != o[..r - 2] {
        return Err(KernelError::invalid(
            op,
            format!("cannot resize {s:?} to {o:?}"),
        ));
    }
    let (ih, iw, oh, ow) = (s[r - 2], s[r - 1], o[r - 2], o[r - 1]);
    if (ih == 0 || iw == 0) && oh * ow > 0 {
        return Err(KernelError::invalid(op, "resize of an empty plane"));
    }
    Ok((s[..r - 2].iter().product(), ih, iw, oh, ow))
}

fn nearest_t<T: Copy>(
    src: &[T],
    dst: &mut [T],
    planes: usize,
    (ih, iw): (usize, usize),
    ys: &[usize],
    xs: &[usize],
) {
    let (oh, ow) = (ys.len(), xs.len());
    for p in 0..planes {
        let s = &src[p * ih * iw..(p + 1) * ih * iw];
        let d = &mut dst[p * oh * ow..(p + 1) * oh * ow];
        for (row, &y) in d.chunks_exact_mut(ow.max(1)).zip(ys) {
            let srow = &s[y * iw..(y + 1) * iw];
            for (v, &x) in row.iter_mut().zip(xs) {
                *v = srow[x];
            }
        }
    }
}

/// Bilinear interpolation of planes of real values.
fn linear_f32(
    src: &[f32],
    planes: usize,
    (ih, iw): (usize, usize),
    ys: &[(usize, usize, f32, f32)],
    xs: &[(usize, usize, f32, f32)],
    mut put: impl FnMut(usize, f32),
) {
    let (oh, ow) = (ys.len(), xs.len());
    let mut at = 0usize;
    for p in 0..planes {
        let s = &src[p * ih * iw..(p + 1) * ih * iw];
        for &(y1, y2, wy1, wy2) in ys.iter().take(oh) {
            let (r1, r2) = (&s[y1 * iw..(y1 + 1) * iw], &s[y2 * iw..(y2 + 1) * iw]);
            for &(x1, x2, wx1, wx2) in xs.iter().take(ow) {
                let v = wx1 * wy1 * r1[x1]
                    + wx2 * wy1 * r1[x2]
                    + wx1 * wy2 * r2[x1]
                    + wx2 * wy2 * r2[x2];
                put(at, v);
                at += 1;
            }
        }
    }
}

/// Resize of the two innermost axes to the output's size.
pub fn resize(
    op: &Op,
    mode: ResizeMode,
    coord: CoordMode,
    nearest: NearestMode,
    inputs: &[In<'_>],
    outputs: &mut [Out<'_>],
) -> Result<(), KernelError> {
    // ONNX Resize carries roi / scales / sizes as extra inputs.
    check_arity(op, inputs.len(), 1..=4, outputs.len(), 1..=1)?;
    let (x, out) = (&inputs[0], &mut outputs[0]);
    let (planes, ih, iw, oh, ow) = geometry(op, x, out)?;
    if planes * oh * ow == 0 {
        return Ok(());
    }
    match mode {
        ResizeMode::Nearest => {
            let ys: Vec<usize> = (0..oh)
                .map(|o| nearest_index(nearest, src_coord(coord, o, ih, oh), ih))
                .collect();
            let xs: Vec<usize> = (0..ow)
                .map(|o| nearest_index(nearest, src_coord(coord, o, iw, ow), iw))
                .collect();
            let src = source(op, x, out.info)?;
            by_elem_size!(op, x.info.dtype.size(), |E| {
                nearest_t::<E>(
                    typed(op, &src)?,
                    typed_mut(op, out.data)?,
                    planes,
                    (ih, iw),
                    &ys,
                    &xs,
                );
                Ok(())
            })
        }
        ResizeMode::Linear => {
            let ys: Vec<_> = (0..oh).map(|o| linear_taps(coord, o, ih, oh)).collect();
            let xs: Vec<_> = (0..ow).map(|o| linear_taps(coord, o, iw, ow)).collect();
            match (x.info.dtype, out.info.dtype) {
                (DType::F32, DType::F32) => {
                    let dst = out.f32_mut(op)?;
                    linear_f32(x.f32(op)?, planes, (ih, iw), &ys, &xs, |i, v| dst[i] = v);
                    Ok(())
                }
                (a, b) if is_q8(a) && is_q8(b) => {
                    let real = b_q8::to_real(op, x)?;
                    let q = b_q8::per_tensor(op, out.info)?;
                    let inv = q.inv_scale();
                    let dst = &mut *out.data;
                    linear_f32(&real, planes, (ih, iw), &ys, &xs, |i, v| {
                        dst[i] = b_q8::quantize_byte(b, v, inv, q.zp);
                    });
                    Ok(())
                }
                (a, b) => Err(KernelError::unsupported(
                    op,
                    format!("bilinear {a:?} to {b:?}"),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinate_modes() {
        assert_eq!(src_coord(CoordMode::Asymmetric, 3, 4, 8), 1.5);
        assert_eq!(src_coord(CoordMode::HalfPixel, 0, 4, 8), -0.25);
        assert_eq!(src_coord(CoordMode::PytorchHalfPixel, 0, 4, 1), 0.0);
        assert_eq!(src_coord(CoordMode::AlignCorners, 7, 4, 8), 3.0);
        assert_eq!(nearest_index(NearestMode::RoundPreferFloor, 1.5, 4), 1);
        assert_eq!(nearest_index(NearestMode::RoundPreferCeil, 1.5, 4), 2);
        assert_eq!(nearest_index(NearestMode::Floor, 1.7, 4), 1);
        assert_eq!(nearest_index(NearestMode::Ceil, 3.2, 4), 3);
        assert_eq!(nearest_index(NearestMode::Ceil, -0.2, 4), 0);
        assert_eq!(
            linear_taps(CoordMode::Asymmetric, 1, 2, 4),
            (0, 1, 0.5, 0.5)
        );
        assert_eq!(
            linear_taps(CoordMode::Asymmetric, 3, 2, 4),
            (1, 1, 0.5, 0.5)
        );
    }
}
