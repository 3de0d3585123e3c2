//! Normalization kernels: Softmax (opset-13 single-axis semantics) and
//! LayerNormalization, fp32 only (the compiler places Dequantize/Quantize
//! around them in int8 models). Both are numerically stable: Softmax
//! subtracts the row maximum before exponentiating and sums in f64;
//! LayerNorm computes the mean and then the variance of the centred values
//! in f64.

use super::b_shape::{broadcast_strides, check_arity, for_each_row, split_at_axis};
use super::{In, KernelError, Out};
use crate::graph::{DType, Op};

/// Runs `Softmax` or `LayerNorm`.
pub fn run(op: &Op, inputs: &[In<'_>], outputs: &mut [Out<'_>]) -> Result<(), KernelError> {
    for t in inputs
        .iter()
        .map(|t| t.info)
        .chain(outputs.iter().map(|t| t.info))
    {
        if t.dtype != DType::F32 {
            return Err(KernelError::unsupported(
                op,
                format!("{:?} tensor '{}' (fp32 only)", t.dtype, t.name),
            ));
        }
    }
    match op {
        Op::Softmax { axis } => {
            check_arity(op, inputs.len(), 1..=1, outputs.len(), 1..=1)?;
            softmax(op, *axis, &inputs[0], &mut outputs[0])
        }
        Op::LayerNorm { axis, epsilon } => {
            check_arity(op, inputs.len(), 2..=3, outputs.len(), 1..=1)?;
            layer_norm(op, *axis, *epsilon, inputs, &mut outputs[0])
        }
        _ => Err(KernelError::unsupported(op, "not a normalization op")),
    }
}

fn softmax(op: &Op, axis: usize, x: &In<'_>, out: &mut Out<'_>) -> Result<(), KernelError> {
    if x.info.shape != out.info.shape {
        return Err(KernelError::invalid(op, "output shape differs from input"));
    }
    let (outer, len, inner) = split_at_axis(op, &x.info.shape, axis)?;
    let src = x.f32(op)?;
    let dst = out.f32_mut(op)?;
    let mut row = vec![0f32; len];
    for o in 0..outer {
        for i in 0..inner {
            let base = o * len * inner + i;
            for (k, r) in row.iter_mut().enumerate() {
                *r = src[base + k * inner];
            }
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let mut sum = 0f64;
            for r in row.iter_mut() {
                *r = (*r - max).exp();
                sum += *r as f64;
            }
            let inv = (1.0 / sum) as f32;
            for (k, r) in row.iter().enumerate() {
                dst[base + k * inner] = r * inv;
            }
        }
    }
    Ok(())
}

/// `t` (shape `shape`, with leading length-1 axes beyond `norm` dropped)
/// expanded to the normalized shape `norm`.
fn expand_to(
    op: &Op,
    data: &[f32],
    shape: &[usize],
    norm: &[usize],
) -> Result<Vec<f32>, KernelError> {
    let mut shape = shape;
    while shape.len() > norm.len() && shape[0] == 1 {
        shape = &shape[1..];
    }
    let st = broadcast_strides(op, shape, norm)?;
    let n: usize = norm.iter().product();
    let mut v = vec![0f32; n];
    let step = st.last().copied().unwrap_or(0);
    for_each_row(norm, [&st], |o, [s], len| {
        for k in 0..len {
            v[o + k] = data[s + k * step];
        }
    });
    Ok(v)
}

fn layer_norm(
    op: &Op,
    axis: usize,
    eps: f32,
    inputs: &[In<'_>],
    out: &mut Out<'_>,
) -> Result<(), KernelError> {
    let x = &inputs[0];
    if x.info.shape != out.info.shape {
        return Err(KernelError::invalid(op, "output shape differs from input"));
    }
    if axis >= x.info.shape.len() {
        return Err(KernelError::invalid(
            op,
            format!("axis {axis} out of range"),
        ));
    }
    let norm = &x.info.shape[axis..];
    let n: usize = norm.iter().product();
    let scale = expand_to(op, inputs[1].f32(op)?, &inputs[1].info.shape, norm)?;
    let bias = match inputs.get(2) {
        Some(b) => expand_to(op, b.f32(op)?, &b.info.shape, norm)?,
        None => vec![0f32; n],
    };
    let src = x.f32(op)?;
    let dst = out.f32_mut(op)?;
    if n == 0 {
        return Ok(());
    }
    for (xs, ys) in src.chunks_exact(n).zip(dst.chunks_exact_mut(n)) {
        let mean = xs.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = xs.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let inv = 1.0 / (var + eps as f64).sqrt();
        for (((y, &v), &s), &b) in ys.iter_mut().zip(xs).zip(&scale).zip(&bias) {
            *y = ((v as f64 - mean) * inv) as f32 * s + b;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::b_testutil::{assert_close, ravel, run1, unravel, Rng, T};
    use super::*;
    use crate::graph::Quant;

    fn softmax_ref(x: &[f32], shape: &[usize], axis: usize) -> Vec<f32> {
        (0..x.len())
            .map(|i| {
                let idx = unravel(i, shape);
                let mut j = idx.clone();
                let denom: f64 = (0..shape[axis])
                    .map(|k| {
                        j[axis] = k;
                        (x[ravel(&j, shape)] as f64).exp()
                    })
                    .sum();
                ((x[i] as f64).exp() / denom) as f32
            })
            .collect()
    }

    #[test]
    fn softmax_every_axis() {
        let mut rng = Rng::new(5);
        let shape = [2, 3, 5, 1];
        let x = rng.vec(30, -10.0, 10.0);
        for axis in 0..4 {
            let out = run1(
                &Op::Softmax { axis },
                &[&T::f32(&shape, &x)],
                &shape,
                DType::F32,
                None,
            )
            .unwrap();
            assert_close(&out.as_f32(), &softmax_ref(&x, &shape, axis), 1e-6);
        }
    }

    #[test]
    fn softmax_is_stable_for_large_inputs() {
        let x = [1000.0f32, 1001.0, 999.0];
        let out = run1(
            &Op::Softmax { axis: 0 },
            &[&T::f32(&[3], &x)],
            &[3],
            DType::F32,
            None,
        )
        .unwrap();
        let want = softmax_ref(&[1.0, 2.0, 0.0], &[3], 0);
        assert_close(&out.as_f32(), &want, 1e-6);
    }

    #[test]
    fn softmax_rejects_int8() {
        let x = T::i8q(&[3], &[1, 2, 3], 0.1, 0);
        let r = run1(
            &Op::Softmax { axis: 0 },
            &[&x],
            &[3],
            DType::I8,
            Some(Quant::per_tensor(0.1, 0)),
        );
        assert!(matches!(r, Err(KernelError::Unsupported { .. })));
    }

    fn layer_norm_ref(
        x: &[f32],
        shape: &[usize],
        axis: usize,
        eps: f32,
        scale: &[f32],
        bias: Option<&[f32]>,
    ) -> Vec<f32> {
        let n: usize = shape[axis..].iter().product();
        let mut out = vec![0f32; x.len()];
        for (r, row) in x.chunks(n).enumerate() {
            let mean: f64 = row.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            let sq: f64 = row.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / n as f64;
            let var = sq - mean * mean;
            for (k, &v) in row.iter().enumerate() {
                let s = scale[if scale.len() == 1 { 0 } else { k }] as f64;
                let b = bias.map_or(0.0, |b| b[if b.len() == 1 { 0 } else { k }] as f64);
                out[r * n + k] = ((v as f64 - mean) / (var + eps as f64).sqrt() * s + b) as f32;
            }
        }
        out
    }

    #[test]
    fn layer_norm_axes_bias_and_broadcast_scale() {
        let mut rng = Rng::new(9);
        let shape = [2, 3, 7];
        let x = rng.vec(42, -4.0, 6.0);
        for axis in 1..3 {
            let n: usize = shape[axis..].iter().product();
            let scale = rng.vec(n, 0.5, 1.5);
            let bias = rng.vec(n, -1.0, 1.0);
            let op = Op::LayerNorm {
                axis,
                epsilon: 1e-5,
            };
            let ts = T::f32(&shape[axis..], &scale);
            let tb = T::f32(&shape[axis..], &bias);
            let out = run1(
                &op,
                &[&T::f32(&shape, &x), &ts, &tb],
                &shape,
                DType::F32,
                None,
            )
            .unwrap();
            assert_close(
                &out.as_f32(),
                &layer_norm_ref(&x, &shape, axis, 1e-5, &scale, Some(&bias)),
                1e-5,
            );
            let out = run1(&op, &[&T::f32(&shape, &x), &ts], &shape, DType::F32, None).unwrap();
            assert_close(
                &out.as_f32(),
                &layer_norm_ref(&x, &shape, axis, 1e-5, &scale, None),
                1e-5,
            );
        }
        let op = Op::LayerNorm {
            axis: 2,
            epsilon: 1e-3,
        };
        let out = run1(
            &op,
            &[&T::f32(&shape, &x), &T::f32(&[1], &[2.0])],
            &shape,
            DType::F32,
            None,
        )
        .unwrap();
        assert_close(
            &out.as_f32(),
            &layer_norm_ref(&x, &shape, 2, 1e-3, &[2.0], None),
            1e-5,
        );
    }

    #[test]
    fn layer_norm_bad_scale_is_an_error() {
        let op = Op::LayerNorm {
            axis: 1,
            epsilon: 1e-5,
        };
        let r = run1(
            &op,
            &[&T::f32(&[2, 3], &[0.0; 6]), &T::f32(&[4], &[1.0; 4])],
            &[2, 3],
            DType::F32,
            None,
        );
        assert!(r.is_err());
    }
}
