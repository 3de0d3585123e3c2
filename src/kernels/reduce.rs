//! Reductions: ReduceMean / ReduceSum / ReduceMax over a set of axes, and
//! ArgMax along one axis.
//!
//! fp32 sums accumulate in f64. 8-bit inputs: Max compares the stored
//! integers (quantization is monotonic) and requantizes only when the
//! output's parameters differ; Sum and Mean add `q - zp` exactly in i64,
//! convert once to real units (`acc * scale`, divided by the count for
//! Mean) and quantize with the output's parameters.

use half::f16;

use super::b_q8::{self, byte_value, is_q8};
use super::b_shape::{check_arity, for_each_row, split_at_axis, strides};
use super::{In, KernelError, Out};
use crate::graph::{DType, Op, ReduceOp};

/// Runs `Reduce` or `ArgMax`.
pub fn run(op: &Op, inputs: &[In<'_>], outputs: &mut [Out<'_>]) -> Result<(), KernelError> {
    check_arity(op, inputs.len(), 1..=1, outputs.len(), 1..=1)?;
    match op {
        Op::Reduce { op: rop, axes, .. } => reduce(op, *rop, axes, &inputs[0], &mut outputs[0]),
        Op::ArgMax {
            axis,
            select_last_index,
            ..
        } => argmax(op, *axis, *select_last_index, &inputs[0], &mut outputs[0]),
        _ => Err(KernelError::unsupported(op, "not a reduction")),
    }
}

/// Per input axis, the stride of the output index (0 on reduced axes),
/// plus the output element count. Empty `axes` reduces every axis (ONNX
/// default with `noop_with_empty_axes = 0`).
fn output_strides(
    op: &Op,
    shape: &[usize],
    axes: &[usize],
) -> Result<(Vec<usize>, usize), KernelError> {
    if let Some(&a) = axes.iter().find(|&&a| a >= shape.len()) {
        return Err(KernelError::invalid(
            op,
            format!("axis {a} out of range for rank {}", shape.len()),
        ));
    }
    let reduced = |d: usize| axes.is_empty() || axes.contains(&d);
    let mut st = vec![0usize; shape.len()];
    let mut acc = 1usize;
    for d in (0..shape.len()).rev() {
        if !reduced(d) {
            st[d] = acc;
            acc *= shape[d];
        }
    }
    Ok((st, acc))
}

fn reduce(
    op: &Op,
    rop: ReduceOp,
    axes: &[usize],
    x: &In<'_>,
    out: &mut Out<'_>,
) -> Result<(), KernelError> {
    let shape = &x.info.shape;
    let (ost, n_out) = output_strides(op, shape, axes)?;
    if out.info.elems() != n_out {
        return Err(KernelError::invalid(
            op,
            format!(
                "output has {} elements, the reduction gives {n_out}",
                out.info.elems()
            ),
        ));
    }
    let ist = strides(shape);
    let count = x.info.elems().checked_div(n_out).unwrap_or(0);
    let step = ost.last().copied().unwrap_or(0);
    match (x.info.dtype, out.info.dtype) {
        (DType::F32, DType::F32) => {
            let src = x.f32(op)?;
            let dst = out.f32_mut(op)?;
            if rop == ReduceOp::Max {
                dst.fill(f32::NEG_INFINITY);
                for_each_row(shape, [&ist, &ost], |_, [i, o], len| {
                    for k in 0..len {
                        let d = &mut dst[o + k * step];
                        let v = src[i + k];
                        if v > *d || v.is_nan() {
                            *d = v;
                        }
                    }
                });
            } else {
                let mut acc = vec![0f64; n_out];
                for_each_row(shape, [&ist, &ost], |_, [i, o], len| {
                    for k in 0..len {
                        acc[o + k * step] += src[i + k] as f64;
                    }
                });
                let div = if rop == ReduceOp::Mean {
                    count as f64
                } else {
                    1.0
                };
                for (d, a) in dst.iter_mut().zip(acc) {
                    *d = (a / div) as f32;
                }
            }
            Ok(())
        }
        (a, b) if is_q8(a) && a == b => {
            if x.data.len() != x.info.elems() || out.data.len() != n_out {
                return Err(KernelError::invalid(op, "size mismatch"));
            }
            let src = x.data;
            if rop == ReduceOp::Max {
                let mut best = vec![i32::MIN; n_out];
                for_each_row(shape, [&ist, &ost], |_, [i, o], len| {
                    for k in 0..len {
                        let d = &mut best[o + k * step];
                        *d = (*d).max(byte_value(a, src[i + k]));
                    }
                });
                let table = b_q8::requant_table(op, x.info, out.info)?;
                for (d, v) in out.data.iter_mut().zip(best) {
                    let raw = v as u8;
                    *d = table.map_or(raw, |t| t[raw as usize]);
                }
                return Ok(());
            }
            let qi = b_q8::per_tensor(op, x.info)?;
            let qo = b_q8::per_tensor(op, out.info)?;
            let mut acc = vec![0i64; n_out];
            for_each_row(shape, [&ist, &ost], |_, [i, o], len| {
                for k in 0..len {
                    acc[o + k * step] += (byte_value(a, src[i + k]) - qi.zp) as i64;
                }
            });
            let div = if rop == ReduceOp::Mean {
                count.max(1) as f32
            } else {
                1.0
            };
            let inv = qo.inv_scale();
            for (d, s) in out.data.iter_mut().zip(acc) {
                *d = b_q8::quantize_byte(b, s as f32 * qi.scale / div, inv, qo.zp);
            }
            Ok(())
        }
        (a, b) => Err(KernelError::unsupported(op, format!("{a:?} to {b:?}"))),
    }
}

fn argmax_by<T: Copy + PartialOrd>(
    src: &[T],
    (outer, len, inner): (usize, usize, usize),
    last: bool,
    dst: &mut [i64],
) {
    for o in 0..outer {
        for i in 0..inner {
            let base = o * len * inner + i;
            let mut best = 0usize;
            for k in 1..len {
                let v = src[base + k * inner];
                let b = src[base + best * inner];
                if v > b || (last && v == b) {
                    best = k;
                }
            }
            dst[o * inner + i] = best as i64;
        }
    }
}

fn argmax(
    op: &Op,
    axis: usize,
    last: bool,
    x: &In<'_>,
    out: &mut Out<'_>,
) -> Result<(), KernelError> {
    let geo = split_at_axis(op, &x.info.shape, axis)?;
    if geo.1 == 0 {
        return Err(KernelError::invalid(op, "ArgMax over an empty axis"));
    }
    if out.info.elems() != geo.0 * geo.2 {
        return Err(KernelError::invalid(op, "output size mismatch"));
    }
    let dst = out.i64_mut(op)?;
    match x.info.dtype {
        DType::F32 => argmax_by(x.f32(op)?, geo, last, dst),
        DType::F16 => argmax_by::<f16>(x.f16(op)?, geo, last, dst),
        DType::I8 => argmax_by(x.i8(op)?, geo, last, dst),
        DType::U8 => argmax_by(x.u8(op)?, geo, last, dst),
        other => return Err(KernelError::unsupported(op, format!("{other:?} input"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::b_testutil::{assert_close, ravel, run1, unravel, Rng, T};
    use super::super::quant;
    use super::*;
    use crate::graph::Quant;

    fn reduce_ref(x: &[f32], shape: &[usize], axes: &[usize], rop: ReduceOp) -> Vec<f32> {
        let all = axes.is_empty();
        let kept: Vec<usize> = shape
            .iter()
            .enumerate()
            .map(|(d, &n)| if all || axes.contains(&d) { 1 } else { n })
            .collect();
        let n_out: usize = kept.iter().product();
        let mut groups: Vec<Vec<f32>> = vec![Vec::new(); n_out];
        for (i, &v) in x.iter().enumerate() {
            let mut idx = unravel(i, shape);
            for (d, k) in idx.iter_mut().enumerate() {
                if kept[d] == 1 {
                    *k = 0;
                }
            }
            groups[ravel(&idx, &kept)].push(v);
        }
        groups
            .iter()
            .map(|g| match rop {
                ReduceOp::Sum => g.iter().sum(),
                ReduceOp::Mean => g.iter().sum::<f32>() / g.len() as f32,
                ReduceOp::Max => g.iter().cloned().fold(f32::NEG_INFINITY, f32::max),
            })
            .collect()
    }

    fn out_shape(shape: &[usize], axes: &[usize], keep: bool) -> Vec<usize> {
        let mut s = Vec::new();
        for (d, &n) in shape.iter().enumerate() {
            if axes.is_empty() || axes.contains(&d) {
                if keep {
                    s.push(1);
                }
            } else {
                s.push(n);
            }
        }
        s
    }

    const AXES: &[&[usize]] = &[&[], &[0], &[1], &[3], &[1, 2], &[0, 3], &[0, 1, 2, 3]];

    #[test]
    fn reduce_f32_all_axes_sets() {
        let mut rng = Rng::new(21);
        let shape = [2, 3, 4, 5];
        let x = rng.vec(120, -5.0, 5.0);
        for &axes in AXES {
            for rop in [ReduceOp::Mean, ReduceOp::Sum, ReduceOp::Max] {
                for keepdims in [true, false] {
                    let op = Op::Reduce {
                        op: rop,
                        axes: axes.to_vec(),
                        keepdims,
                    };
                    let os = out_shape(&shape, axes, keepdims);
                    let out = run1(&op, &[&T::f32(&shape, &x)], &os, DType::F32, None).unwrap();
                    assert_close(&out.as_f32(), &reduce_ref(&x, &shape, axes, rop), 1e-5);
                }
            }
        }
    }

    #[test]
    fn reduce_int8_exact() {
        let mut rng = Rng::new(22);
        let shape = [3, 4, 5];
        let q: Vec<i8> = rng.bytes(60).iter().map(|&b| b as i8).collect();
        let (si, zi, so, zo) = (0.05f32, 4, 0.07f32, -3);
        let real: Vec<f32> = q.iter().map(|&v| (v as i32 - zi) as f32 * si).collect();
        for &axes in &[&[1usize][..], &[0, 2][..], &[][..]] {
            for rop in [ReduceOp::Mean, ReduceOp::Max, ReduceOp::Sum] {
                let op = Op::Reduce {
                    op: rop,
                    axes: axes.to_vec(),
                    keepdims: true,
                };
                let os = out_shape(&shape, axes, true);
                let out = run1(
                    &op,
                    &[&T::i8q(&shape, &q, si, zi)],
                    &os,
                    DType::I8,
                    Some(Quant::per_tensor(so, zo)),
                )
                .unwrap();
                let want = reduce_ref(&real, &shape, axes, rop);
                let ints: Vec<f32> = q.iter().map(|&v| (v as i32 - zi) as f32).collect();
                let sums = reduce_ref(
                    &ints,
                    &shape,
                    axes,
                    if rop == ReduceOp::Max {
                        ReduceOp::Max
                    } else {
                        ReduceOp::Sum
                    },
                );
                let count = (60 / want.len()) as f32;
                for ((g, w), s) in out.as_i8().iter().zip(&want).zip(&sums) {
                    let exact = match rop {
                        ReduceOp::Mean => s * si / count,
                        _ => s * si,
                    };
                    let naive =
                        (quant::round(exact * (1.0 / so)) + zo as f32).clamp(-128.0, 127.0) as i8;
                    assert_eq!(*g, naive, "{rop:?} {axes:?}");
                    let back = (*g as i32 - zo) as f32 * so;
                    let clamped = w.clamp((-128 - zo) as f32 * so, (127 - zo) as f32 * so);
                    assert!((back - clamped).abs() <= so * 1.001);
                }
            }
        }
        // Max with identical quantization is the integer maximum.
        let op = Op::Reduce {
            op: ReduceOp::Max,
            axes: vec![2],
            keepdims: false,
        };
        let out = run1(
            &op,
            &[&T::i8q(&shape, &q, si, zi)],
            &[3, 4],
            DType::I8,
            Some(Quant::per_tensor(si, zi)),
        )
        .unwrap();
        let want: Vec<i8> = q.chunks(5).map(|c| *c.iter().max().unwrap()).collect();
        assert_eq!(out.as_i8(), want);
    }

    #[test]
    fn reduce_rejects_bad_output() {
        // Axis 0 kept gives [1, 3], not [2, 3]; axis 4 does not exist.
        for axis in [0, 4] {
            let op = Op::Reduce {
                op: ReduceOp::Sum,
                axes: vec![axis],
                keepdims: true,
            };
            let x = T::f32(&[2, 3], &[0.0; 6]);
            assert!(
                run1(&op, &[&x], &[2, 3], DType::F32, None).is_err(),
                "axis {axis}"
            );
        }
    }

    #[test]
    fn argmax_first_and_last_with_ties() {
        let shape = [2, 3, 4];
        let mut rng = Rng::new(23);
        let x: Vec<f32> = (0..24).map(|_| rng.int(0, 3) as f32).collect();
        for axis in 0..3 {
            for last in [false, true] {
                let op = Op::ArgMax {
                    axis,
                    keepdims: true,
                    select_last_index: last,
                };
                let mut os = shape.to_vec();
                os[axis] = 1;
                let n: usize = os.iter().product();
                let want: Vec<i64> = (0..n)
                    .map(|o| {
                        let mut idx = unravel(o, &os);
                        let vals: Vec<f32> = (0..shape[axis])
                            .map(|k| {
                                idx[axis] = k;
                                x[ravel(&idx, &shape)]
                            })
                            .collect();
                        let m = vals.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                        let pos: Vec<usize> = (0..vals.len()).filter(|&k| vals[k] == m).collect();
                        (if last { *pos.last().unwrap() } else { pos[0] }) as i64
                    })
                    .collect();
                let out = run1(&op, &[&T::f32(&shape, &x)], &os, DType::I64, None).unwrap();
                assert_eq!(out.as_i64(), want);
                let xi: Vec<i8> = x.iter().map(|&v| v as i8 - 2).collect();
                let out =
                    run1(&op, &[&T::i8q(&shape, &xi, 1.0, 0)], &os, DType::I64, None).unwrap();
                assert_eq!(out.as_i64(), want);
                let xh: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
                let th = T::from_bytes(&shape, DType::F16, bytemuck::cast_slice(&xh));
                let out = run1(&op, &[&th], &os, DType::I64, None).unwrap();
                assert_eq!(out.as_i64(), want);
                let xu: Vec<u8> = x.iter().map(|&v| v as u8 + 100).collect();
                let out = run1(
                    &op,
                    &[&T::from_bytes(&shape, DType::U8, &xu)],
                    &os,
                    DType::I64,
                    None,
                )
                .unwrap();
                assert_eq!(out.as_i64(), want);
            }
        }
    }
}
