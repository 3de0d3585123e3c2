//! Element-wise kernels: broadcasting binary ops, activations and PRelu.
//!
//! fp32 runs directly. 8-bit tensors (int8/uint8, per-tensor or
//! per-channel quantization) compute in real units: inputs are
//! dequantized, the f32 function is applied, and the result is quantized
//! with the output's parameters through [`super::quant`]. Unary functions
//! on 8-bit tensors use a 256-entry table built the same way, so both
//! paths give identical bytes. int32/int64 binary ops (shape arithmetic)
//! wrap on overflow like the C++ runtimes do.

use super::b_q8::{self, is_q8};
use super::b_shape::{broadcast_strides, check_arity, for_each_row};
use super::{In, KernelError, Out};
use crate::graph::{Activation, BinaryOp, DType, Op};

/// Runs `Binary`, `Unary` or `PRelu`.
pub fn run(op: &Op, inputs: &[In<'_>], outputs: &mut [Out<'_>]) -> Result<(), KernelError> {
    match op {
        Op::Binary {
            op: bop,
            activation,
        } => {
            check_arity(op, inputs.len(), 2..=2, outputs.len(), 1..=1)?;
            binary(
                op,
                *bop,
                *activation,
                &inputs[0],
                &inputs[1],
                &mut outputs[0],
            )
        }
        Op::Unary { act } => {
            check_arity(op, inputs.len(), 1..=1, outputs.len(), 1..=1)?;
            unary(op, *act, &inputs[0], &mut outputs[0])
        }
        Op::PRelu => {
            check_arity(op, inputs.len(), 2..=2, outputs.len(), 1..=1)?;
            prelu(op, &inputs[0], &inputs[1], &mut outputs[0])
        }
        _ => Err(KernelError::unsupported(op, "not an element-wise op")),
    }
}

/// `out[i] = f(a[ia], b[ib])` with numpy broadcasting of `a` (shape
/// `sa`) and `b` (shape `sb`) to `shape`.
fn broadcast2<T: Copy>(
    op: &Op,
    (a, sa): (&[T], &[usize]),
    (b, sb): (&[T], &[usize]),
    out: &mut [T],
    shape: &[usize],
    f: impl Fn(T, T) -> T,
) -> Result<(), KernelError> {
    let st_a = broadcast_strides(op, sa, shape)?;
    let st_b = broadcast_strides(op, sb, shape)?;
    if out.len() != shape.iter().product::<usize>() {
        return Err(KernelError::invalid(op, "output size mismatch"));
    }
    let ra = st_a.last().copied().unwrap_or(0);
    let rb = st_b.last().copied().unwrap_or(0);
    for_each_row(shape, [&st_a, &st_b], |o, [ao, bo], len| {
        let dst = &mut out[o..o + len];
        match (ra, rb) {
            (0, 0) => dst.fill(f(a[ao], b[bo])),
            (0, _) => {
                let x = a[ao];
                for (d, &y) in dst.iter_mut().zip(&b[bo..bo + len]) {
                    *d = f(x, y);
                }
            }
            (_, 0) => {
                let y = b[bo];
                for (d, &x) in dst.iter_mut().zip(&a[ao..ao + len]) {
                    *d = f(x, y);
                }
            }
            _ => {
                for ((d, &x), &y) in dst.iter_mut().zip(&a[ao..ao + len]).zip(&b[bo..bo + len]) {
                    *d = f(x, y);
                }
            }
        }
    });
    Ok(())
}

fn binary_f32(
    op: &Op,
    bop: BinaryOp,
    a: (&[f32], &[usize]),
    b: (&[f32], &[usize]),
    out: &mut [f32],
    shape: &[usize],
) -> Result<(), KernelError> {
    match bop {
        BinaryOp::Add => broadcast2(op, a, b, out, shape, |x, y| x + y),
        BinaryOp::Sub => broadcast2(op, a, b, out, shape, |x, y| x - y),
        BinaryOp::Mul => broadcast2(op, a, b, out, shape, |x, y| x * y),
        BinaryOp::Div => broadcast2(op, a, b, out, shape, |x, y| x / y),
        BinaryOp::Max => broadcast2(op, a, b, out, shape, max_f32),
        BinaryOp::Min => broadcast2(op, a, b, out, shape, min_f32),
    }
}

/// ONNX Max: NaN propagates.
fn max_f32(x: f32, y: f32) -> f32 {
    if x.is_nan() || y.is_nan() {
        f32::NAN
    } else {
        x.max(y)
    }
}

/// ONNX Min: NaN propagates.
fn min_f32(x: f32, y: f32) -> f32 {
    if x.is_nan() || y.is_nan() {
        f32::NAN
    } else {
        x.min(y)
    }
}

fn apply_activation(act: Option<Activation>, out: &mut [f32]) {
    if let Some(act) = act {
        for v in out {
            *v = act.apply(*v);
        }
    }
}

/// Integer binary op on the `$t` views of `$a`, `$b` and `$out` (read with
/// the `$t` and `$t_mut` getters), broadcasting shapes `$sa` and `$sb` to
/// `$shape`.
macro_rules! binary_int {
    (
        $op:expr, $bop:expr, ($a:expr, $sa:expr), ($b:expr, $sb:expr), $out:expr, $shape:expr,
        $t:ident, $t_mut:ident
    ) => {{
        let (op, a, b, out): (&Op, &[$t], &[$t], &mut [$t]) =
            ($op, $a.$t($op)?, $b.$t($op)?, $out.$t_mut($op)?);
        match $bop {
            BinaryOp::Add => broadcast2(op, (a, $sa), (b, $sb), out, $shape, |x, y| {
                x.wrapping_add(y)
            }),
            BinaryOp::Sub => broadcast2(op, (a, $sa), (b, $sb), out, $shape, |x, y| {
                x.wrapping_sub(y)
            }),
            BinaryOp::Mul => broadcast2(op, (a, $sa), (b, $sb), out, $shape, |x, y| {
                x.wrapping_mul(y)
            }),
            BinaryOp::Max => broadcast2(op, (a, $sa), (b, $sb), out, $shape, |x, y| x.max(y)),
            BinaryOp::Min => broadcast2(op, (a, $sa), (b, $sb), out, $shape, |x, y| x.min(y)),
            BinaryOp::Div => {
                if b.contains(&0) {
                    return Err(KernelError::invalid(op, "integer division by zero"));
                }
                // Truncating division (C semantics, as onnxruntime).
                broadcast2(op, (a, $sa), (b, $sb), out, $shape, |x, y| {
                    x.wrapping_div(y)
                })
            }
        }
    }};
}

fn binary(
    op: &Op,
    bop: BinaryOp,
    act: Option<Activation>,
    a: &In<'_>,
    b: &In<'_>,
    out: &mut Out<'_>,
) -> Result<(), KernelError> {
    let (sa, sb) = (&a.info.shape, &b.info.shape);
    let shape = out.info.shape.clone();
    let dtypes = (a.info.dtype, b.info.dtype, out.info.dtype);
    match dtypes {
        (DType::F32, DType::F32, DType::F32) => {
            let o = out.f32_mut(op)?;
            binary_f32(op, bop, (a.f32(op)?, sa), (b.f32(op)?, sb), o, &shape)?;
            apply_activation(act, o);
            Ok(())
        }
        (DType::I32, DType::I32, DType::I32) | (DType::I64, DType::I64, DType::I64) => {
            if act.is_some() {
                return Err(KernelError::unsupported(op, "fused activation on integers"));
            }
            if dtypes.0 == DType::I32 {
                binary_int!(op, bop, (a, sa), (b, sb), out, &shape, i32, i32_mut)
            } else {
                binary_int!(op, bop, (a, sa), (b, sb), out, &shape, i64, i64_mut)
            }
        }
        (x, y, z) if quantized_mix(x, y, z) => {
            // Real units: dequantize, compute in f32, quantize once.
            let ra = b_q8::to_real(op, a)?;
            let rb = b_q8::to_real(op, b)?;
            let mut r = vec![0f32; out.info.elems()];
            binary_f32(op, bop, (&ra, sa), (&rb, sb), &mut r, &shape)?;
            apply_activation(act, &mut r);
            b_q8::from_real(op, &r, out)
        }
        (x, y, z) => Err(KernelError::unsupported(
            op,
            format!("types {x:?} and {y:?} to {z:?}"),
        )),
    }
}

/// A mix of f32 and 8-bit quantized tensors with at least one 8-bit one.
fn quantized_mix(a: DType, b: DType, out: DType) -> bool {
    let ok = |d: DType| d == DType::F32 || is_q8(d);
    ok(a) && ok(b) && ok(out) && (is_q8(a) || is_q8(b) || is_q8(out))
}

fn unary(op: &Op, act: Activation, x: &In<'_>, out: &mut Out<'_>) -> Result<(), KernelError> {
    if x.info.elems() != out.info.elems() {
        return Err(KernelError::invalid(op, "input and output sizes differ"));
    }
    match (x.info.dtype, out.info.dtype) {
        (DType::F32, DType::F32) => {
            let src = x.f32(op)?;
            for (d, &v) in out.f32_mut(op)?.iter_mut().zip(src) {
                *d = act.apply(v);
            }
            Ok(())
        }
        (a, b) if is_q8(a) && is_q8(b) && per_tensor(x.info) && per_tensor(out.info) => {
            let qi = b_q8::per_tensor(op, x.info)?;
            let qo = b_q8::per_tensor(op, out.info)?;
            let table = b_q8::lut(a, qi, b, qo, |v| act.apply(v));
            if x.data.len() != out.data.len() {
                return Err(KernelError::invalid(op, "input and output sizes differ"));
            }
            for (d, &s) in out.data.iter_mut().zip(x.data) {
                *d = table[s as usize];
            }
            Ok(())
        }
        (a, b) if quantized_mix(a, DType::F32, b) => {
            let mut r = b_q8::to_real(op, x)?;
            for v in &mut r {
                *v = act.apply(*v);
            }
            b_q8::from_real(op, &r, out)
        }
        (a, b) => Err(KernelError::unsupported(op, format!("{a:?} to {b:?}"))),
    }
}

fn per_tensor(info: &crate::graph::TensorInfo) -> bool {
    info.quant.as_ref().is_some_and(|q| q.is_per_tensor())
}

fn prelu(op: &Op, x: &In<'_>, slope: &In<'_>, out: &mut Out<'_>) -> Result<(), KernelError> {
    if out.info.shape != x.info.shape {
        return Err(KernelError::invalid(op, "output shape differs from x"));
    }
    let shape = out.info.shape.clone();
    let f = |v: f32, s: f32| if v >= 0.0 { v } else { v * s };
    match (x.info.dtype, slope.info.dtype, out.info.dtype) {
        (DType::F32, DType::F32, DType::F32) => {
            let o = out.f32_mut(op)?;
            broadcast2(
                op,
                (x.f32(op)?, &x.info.shape),
                (slope.f32(op)?, &slope.info.shape),
                o,
                &shape,
                f,
            )
        }
        (a, b, c) if quantized_mix(a, b, c) => {
            let rx = b_q8::to_real(op, x)?;
            let rs = b_q8::to_real(op, slope)?;
            let mut r = vec![0f32; out.info.elems()];
            broadcast2(
                op,
                (&rx, &x.info.shape),
                (&rs, &slope.info.shape),
                &mut r,
                &shape,
                f,
            )?;
            b_q8::from_real(op, &r, out)
        }
        (a, b, c) => Err(KernelError::unsupported(
            op,
            format!("types {a:?}, {b:?} to {c:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::b_testutil::{assert_close, ravel, run1, unravel, Rng, T};
    use super::super::quant;
    use super::*;
    use crate::graph::Quant;

    /// Independent reference: per output element, map the multi-index
    /// back into each input (numpy rules).
    fn ref_broadcast(
        a: &[f32],
        sa: &[usize],
        b: &[f32],
        sb: &[usize],
        out: &[usize],
        f: impl Fn(f32, f32) -> f32,
    ) -> Vec<f32> {
        let n: usize = out.iter().product();
        let pick = |idx: &[usize], s: &[usize]| {
            let lead = idx.len() - s.len();
            let sub: Vec<usize> = s
                .iter()
                .enumerate()
                .map(|(i, &d)| if d == 1 { 0 } else { idx[lead + i] })
                .collect();
            ravel(&sub, s)
        };
        (0..n)
            .map(|i| {
                let idx = unravel(i, out);
                f(a[pick(&idx, sa)], b[pick(&idx, sb)])
            })
            .collect()
    }

    type F32Op = fn(f32, f32) -> f32;

    fn ops() -> Vec<(BinaryOp, F32Op)> {
        vec![
            (BinaryOp::Add, |x, y| x + y),
            (BinaryOp::Sub, |x, y| x - y),
            (BinaryOp::Mul, |x, y| x * y),
            (BinaryOp::Div, |x, y| x / y),
            (BinaryOp::Max, f32::max),
            (BinaryOp::Min, f32::min),
        ]
    }

    const SHAPES: &[(&[usize], &[usize], &[usize])] = &[
        (&[2, 3, 5], &[2, 3, 5], &[2, 3, 5]),
        (&[2, 3, 5], &[], &[2, 3, 5]),
        (&[], &[4], &[4]),
        (&[1], &[3, 1], &[3, 1]),
        (&[2, 1, 5], &[3, 1], &[2, 3, 5]),
        (&[1, 7], &[6, 1], &[6, 7]),
        (&[5], &[2, 3, 5], &[2, 3, 5]),
        (&[2, 3, 1, 1], &[1, 3, 4, 5], &[2, 3, 4, 5]),
        (&[1, 1, 1], &[1], &[1, 1, 1]),
    ];

    #[test]
    fn binary_f32_matches_reference() {
        let mut rng = Rng::new(1);
        for &(sa, sb, so) in SHAPES {
            let a = rng.vec(sa.iter().product(), -3.0, 3.0);
            let b: Vec<f32> = rng
                .vec(sb.iter().product(), 0.5, 2.0)
                .iter()
                .map(|v| {
                    if rng.next_u64().is_multiple_of(2) {
                        *v
                    } else {
                        -v
                    }
                })
                .collect();
            for (bop, f) in ops() {
                for act in [None, Some(Activation::Relu)] {
                    let op = Op::Binary {
                        op: bop,
                        activation: act,
                    };
                    let out = run1(
                        &op,
                        &[&T::f32(sa, &a), &T::f32(sb, &b)],
                        so,
                        DType::F32,
                        None,
                    )
                    .unwrap();
                    let mut want = ref_broadcast(&a, sa, &b, sb, so, f);
                    if act.is_some() {
                        want.iter_mut().for_each(|v| *v = v.max(0.0));
                    }
                    assert_close(&out.as_f32(), &want, 1e-6);
                }
            }
        }
    }

    #[test]
    fn binary_rejects_bad_broadcast() {
        let op = Op::Binary {
            op: BinaryOp::Add,
            activation: None,
        };
        let r = run1(
            &op,
            &[&T::f32(&[3], &[0.0; 3]), &T::f32(&[4], &[0.0; 4])],
            &[4],
            DType::F32,
            None,
        );
        assert!(r.is_err());
        let r = run1(&op, &[&T::f32(&[3], &[0.0; 3])], &[3], DType::F32, None);
        assert!(r.is_err());
    }

    #[test]
    fn binary_int64_shape_arithmetic() {
        let a: Vec<i64> = vec![1, 2, 3, 4, 5, 6];
        let b: Vec<i64> = vec![2];
        let ta = T::from_bytes(&[2, 3], DType::I64, bytemuck::cast_slice(&a));
        let tb = T::from_bytes(&[1], DType::I64, bytemuck::cast_slice(&b));
        type I64Op = fn(i64, i64) -> i64;
        let cases: [(BinaryOp, I64Op); 6] = [
            (BinaryOp::Add, |x, y| x + y),
            (BinaryOp::Sub, |x, y| x - y),
            (BinaryOp::Mul, |x, y| x * y),
            (BinaryOp::Div, |x, y| x / y),
            (BinaryOp::Max, |x, y| x.max(y)),
            (BinaryOp::Min, |x, y| x.min(y)),
        ];
        for (bop, f) in cases {
            let op = Op::Binary {
                op: bop,
                activation: None,
            };
            let out = run1(&op, &[&ta, &tb], &[2, 3], DType::I64, None).unwrap();
            let want: Vec<i64> = a.iter().map(|&x| f(x, 2)).collect();
            assert_eq!(out.as_i64(), want);
        }
        let zero = T::from_bytes(&[1], DType::I64, bytemuck::cast_slice(&[0i64]));
        let op = Op::Binary {
            op: BinaryOp::Div,
            activation: None,
        };
        assert!(run1(&op, &[&ta, &zero], &[2, 3], DType::I64, None).is_err());
    }

    #[test]
    fn binary_int32_wraps() {
        let a = T::from_bytes(&[1], DType::I32, bytemuck::cast_slice(&[i32::MAX]));
        let op = Op::Binary {
            op: BinaryOp::Add,
            activation: None,
        };
        let out = run1(&op, &[&a, &a], &[1], DType::I32, None).unwrap();
        let v: &[i32] = bytemuck::cast_slice(out.bytes());
        assert_eq!(v, &[-2]);
    }

    fn deq(q: i8, s: f32, z: i32) -> f32 {
        (q as i32 - z) as f32 * s
    }

    #[test]
    fn binary_int8_exact_and_close_to_f32() {
        let mut rng = Rng::new(7);
        let (s_a, z_a, s_b, z_b, s_o, z_o) = (0.05, 3, 0.03, -7, 0.08, 1);
        for &(sa, sb, so) in SHAPES {
            let qa: Vec<i8> = rng
                .bytes(sa.iter().product())
                .iter()
                .map(|&b| b as i8)
                .collect();
            let qb: Vec<i8> = rng
                .bytes(sb.iter().product())
                .iter()
                .map(|&b| b as i8)
                .collect();
            let ta = T::i8q(sa, &qa, s_a, z_a);
            let tb = T::i8q(sb, &qb, s_b, z_b);
            for (bop, f) in ops() {
                if bop == BinaryOp::Div {
                    continue;
                }
                let op = Op::Binary {
                    op: bop,
                    activation: None,
                };
                let out = run1(
                    &op,
                    &[&ta, &tb],
                    so,
                    DType::I8,
                    Some(Quant::per_tensor(s_o, z_o)),
                )
                .unwrap();
                let ra: Vec<f32> = qa.iter().map(|&q| deq(q, s_a, z_a)).collect();
                let rb: Vec<f32> = qb.iter().map(|&q| deq(q, s_b, z_b)).collect();
                let real = ref_broadcast(&ra, sa, &rb, sb, so, f);
                let got = out.as_i8();
                for (g, r) in got.iter().zip(&real) {
                    // Exact w.r.t. the naive int8 reference ...
                    let naive =
                        (quant::round(r * (1.0 / s_o)) + z_o as f32).clamp(-128.0, 127.0) as i8;
                    assert_eq!(*g, naive);
                    // ... and within one step of the real result (inside range).
                    let back = deq(*g, s_o, z_o);
                    let clamped = r.clamp(deq(-128, s_o, z_o), deq(127, s_o, z_o));
                    assert!((back - clamped).abs() <= s_o * 1.0001, "{back} vs {r}");
                }
            }
        }
    }

    const ACTS: &[Activation] = &[
        Activation::Relu,
        Activation::Relu6,
        Activation::Clip {
            min: -1.0,
            max: 2.5,
        },
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::HardSigmoid {
            alpha: 0.2,
            beta: 0.5,
        },
        Activation::HardSwish,
        Activation::Silu,
        Activation::Gelu { tanh_approx: false },
        Activation::Gelu { tanh_approx: true },
        Activation::Exp,
        Activation::Sqrt,
    ];

    /// Naive closed forms, written independently of `Activation::apply`.
    fn act_ref(act: Activation, x: f64) -> f64 {
        match act {
            Activation::Relu => x.max(0.0),
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::Clip { min, max } => x.clamp(min as f64, max as f64),
            Activation::LeakyRelu { alpha } => {
                if x < 0.0 {
                    alpha as f64 * x
                } else {
                    x
                }
            }
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Tanh => x.tanh(),
            Activation::HardSigmoid { alpha, beta } => {
                (alpha as f64 * x + beta as f64).clamp(0.0, 1.0)
            }
            Activation::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Activation::Silu => x / (1.0 + (-x).exp()),
            Activation::Gelu { tanh_approx: true } => {
                0.5 * x
                    * (1.0
                        + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
            }
            Activation::Gelu { tanh_approx: false } => {
                // erf by Simpson integration of 2/sqrt(pi) exp(-t^2).
                let n = 2000;
                let h = x / std::f64::consts::SQRT_2 / n as f64;
                let g = |t: f64| (-t * t).exp();
                let mut s = g(0.0) + g(h * n as f64);
                for k in 1..n {
                    s += g(h * k as f64) * if k % 2 == 1 { 4.0 } else { 2.0 };
                }
                let erf = s * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt();
                0.5 * x * (1.0 + erf)
            }
            Activation::Exp => x.exp(),
            Activation::Sqrt => x.sqrt(),
        }
    }

    #[test]
    fn unary_f32_matches_reference() {
        let mut rng = Rng::new(3);
        let x = rng.vec(37, -8.0, 8.0);
        for &act in ACTS {
            let xs: Vec<f32> = if act == Activation::Sqrt {
                x.iter().map(|v| v.abs()).collect()
            } else {
                x.clone()
            };
            let out = run1(
                &Op::Unary { act },
                &[&T::f32(&[37], &xs)],
                &[37],
                DType::F32,
                None,
            )
            .unwrap();
            let want: Vec<f32> = xs.iter().map(|&v| act_ref(act, v as f64) as f32).collect();
            assert_close(&out.as_f32(), &want, 2e-6);
        }
    }

    #[test]
    fn unary_int8_lut_exact_and_within_one_step() {
        let all: Vec<i8> = (-128..=127).collect();
        let (si, zi, so, zo) = (0.04, -5, 0.03, -20);
        for &act in ACTS {
            let (si, zi) = if act == Activation::Sqrt {
                (si, -128)
            } else {
                (si, zi)
            };
            let x = T::i8q(&[256], &all, si, zi);
            let out = run1(
                &Op::Unary { act },
                &[&x],
                &[256],
                DType::I8,
                Some(Quant::per_tensor(so, zo)),
            )
            .unwrap();
            for (q, g) in all.iter().zip(out.as_i8()) {
                let r = act.apply(deq(*q, si, zi));
                let naive = (quant::round(r * (1.0 / so)) + zo as f32).clamp(-128.0, 127.0) as i8;
                assert_eq!(g, naive, "{act:?} at {q}");
                let real = act_ref(act, deq(*q, si, zi) as f64) as f32;
                let clamped = real.clamp(deq(-128, so, zo), deq(127, so, zo));
                assert!(
                    (deq(g, so, zo) - clamped).abs() <= so * 1.001,
                    "{act:?} at {q}"
                );
            }
        }
    }

    #[test]
    fn prelu_f32_and_int8() {
        let mut rng = Rng::new(11);
        let x = rng.vec(2 * 3 * 4, -2.0, 2.0);
        let slope = rng.vec(3, 0.0, 0.5);
        let op = Op::PRelu;
        for ss in [&[3usize, 1, 1][..], &[1, 3, 1, 1][..]] {
            let out = run1(
                &op,
                &[&T::f32(&[2, 3, 2, 2], &x), &T::f32(ss, &slope)],
                &[2, 3, 2, 2],
                DType::F32,
                None,
            )
            .unwrap();
            let want = ref_broadcast(&x, &[2, 3, 2, 2], &slope, ss, &[2, 3, 2, 2], |v, s| {
                if v < 0.0 {
                    s * v
                } else {
                    v
                }
            });
            assert_close(&out.as_f32(), &want, 1e-7);
        }
        let qx: Vec<i8> = rng.bytes(24).iter().map(|&b| b as i8).collect();
        let qs: Vec<i8> = vec![10, 20, 30];
        let out = run1(
            &op,
            &[
                &T::i8q(&[2, 3, 4], &qx, 0.1, 2),
                &T::i8q(&[3, 1], &qs, 0.01, 0),
            ],
            &[2, 3, 4],
            DType::I8,
            Some(Quant::per_tensor(0.1, 2)),
        )
        .unwrap();
        for (i, g) in out.as_i8().iter().enumerate() {
            let r = deq(qx[i], 0.1, 2);
            let s = deq(qs[(i / 4) % 3], 0.01, 0);
            let want = if r >= 0.0 { r } else { r * s };
            assert_eq!(
                *g,
                (quant::round(want * (1.0 / 0.1)) + 2.0).clamp(-128.0, 127.0) as i8
            );
        }
    }
}
