//! The Gemm op: `alpha * op(A) * op(B) + beta * C` with a fused
//! activation, in f32 and int8.

use super::core::{igemm, sgemm, MatRef};
use super::shape_err;
use crate::graph::{Activation, DType, Op};
use crate::kernels::activation::{apply_f32, I8Output};
use crate::kernels::{qparams, In, KernelError, Out};

struct Attrs {
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
    activation: Option<Activation>,
}

/// The resolved problem: sizes and how C broadcasts.
struct Dims {
    m: usize,
    n: usize,
    k: usize,
    /// Row and column strides of C over the [M, N] output (0 = broadcast).
    c_strides: Option<(usize, usize)>,
}

fn attrs(op: &Op) -> Result<Attrs, KernelError> {
    match *op {
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
            activation,
        } => Ok(Attrs {
            alpha,
            beta,
            trans_a,
            trans_b,
            activation,
        }),
        _ => Err(KernelError::unsupported(op, "not a Gemm op")),
    }
}

fn dims(op: &Op, at: &Attrs, inputs: &[In<'_>], out: &Out<'_>) -> Result<Dims, KernelError> {
    let (a, b) = match inputs {
        [a, b] | [a, b, _] => (a, b),
        _ => {
            return Err(KernelError::invalid(
                op,
                "expected inputs A, B and optional C",
            ))
        }
    };
    let (&[a0, a1], &[b0, b1]) = (a.info.shape.as_slice(), b.info.shape.as_slice()) else {
        return Err(KernelError::invalid(op, "A and B must be 2-D"));
    };
    let (m, k) = if at.trans_a { (a1, a0) } else { (a0, a1) };
    let (kb, n) = if at.trans_b { (b1, b0) } else { (b0, b1) };
    if k != kb || out.info.shape != [m, n] {
        return Err(KernelError::invalid(
            op,
            format!(
                "shapes A {:?}, B {:?}, Y {:?} do not agree",
                a.info.shape, b.info.shape, out.info.shape
            ),
        ));
    }
    let c_strides = match inputs.get(2) {
        Some(c) => Some(broadcast_strides(op, &c.info.shape, m, n)?),
        None => None,
    };
    Ok(Dims { m, n, k, c_strides })
}

/// Strides that broadcast C (rank <= 2) over an [m, n] output.
fn broadcast_strides(
    op: &Op,
    shape: &[usize],
    m: usize,
    n: usize,
) -> Result<(usize, usize), KernelError> {
    let (cm, cn) = match *shape {
        [] => (1, 1),
        [cn] => (1, cn),
        [cm, cn] => (cm, cn),
        _ => return Err(KernelError::invalid(op, "C must have rank <= 2")),
    };
    if (cm != 1 && cm != m) || (cn != 1 && cn != n) {
        return Err(KernelError::invalid(
            op,
            format!("C {shape:?} does not broadcast to [{m}, {n}]"),
        ));
    }
    Ok((if cm == 1 { 0 } else { cn }, usize::from(cn != 1)))
}

fn operands<'a, T: Copy>(
    at: &Attrs,
    d: &Dims,
    a: &'a [T],
    b: &'a [T],
) -> (MatRef<'a, T>, MatRef<'a, T>) {
    let a = if at.trans_a {
        MatRef::transposed(a, d.m)
    } else {
        MatRef::row_major(a, d.k)
    };
    let b = if at.trans_b {
        MatRef::transposed(b, d.k)
    } else {
        MatRef::row_major(b, d.n)
    };
    (a, b)
}

/// f32 Gemm.
pub(super) fn run_f32(op: &Op, inputs: &[In<'_>], out: &mut Out<'_>) -> Result<(), KernelError> {
    let at = attrs(op)?;
    let d = dims(op, &at, inputs, out)?;
    let (a, b) = operands(&at, &d, inputs[0].f32(op)?, inputs[1].f32(op)?);
    let c = match inputs.get(2) {
        Some(c) => Some(c.f32(op)?),
        None => None,
    };
    let y = out.f32_mut(op)?;
    y.fill(0.0);
    sgemm((d.m, d.n, d.k), a, b, y, d.n).map_err(shape_err(op))?;
    for (i, row) in y.chunks_exact_mut(d.n.max(1)).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let mut r = at.alpha * *v;
            if let (Some(c), Some((rs, cs))) = (c, d.c_strides) {
                if at.beta != 0.0 {
                    r += at.beta * c[i * rs + j * cs];
                }
            }
            *v = r;
        }
    }
    apply_f32(at.activation, y);
    Ok(())
}

/// int8 Gemm: A per-tensor, B per-tensor or per output column, C int32
/// in units of `sa * sb[n]`, Y int8 per-tensor.
pub(super) fn run_i8(op: &Op, inputs: &[In<'_>], out: &mut Out<'_>) -> Result<(), KernelError> {
    let at = attrs(op)?;
    let d = dims(op, &at, inputs, out)?;
    let (sa, za) = qparams::per_tensor(op, inputs[0].info)?;
    let b_axis = if at.trans_b { 0 } else { 1 };
    let (sb, zb) = qparams::per_channel(op, inputs[1].info, b_axis, d.n)?;
    let (sy, zy) = qparams::per_tensor(op, out.info)?;
    let c = match inputs.get(2) {
        Some(c) if c.info.dtype == DType::I32 => Some(c.i32(op)?),
        Some(c) => {
            return Err(KernelError::unsupported(
                op,
                format!("int8 Gemm needs an int32 C, got {:?}", c.info.dtype),
            ))
        }
        None => None,
    };
    let c = if at.beta == 0.0 { None } else { c };
    if c.is_some() && at.beta != at.alpha {
        return Err(KernelError::unsupported(
            op,
            "int8 Gemm with C needs beta == alpha (fold them into the scales)",
        ));
    }
    let bias_max = c.map_or(0, |c| {
        c.iter().map(|&v| (v as i64).abs()).max().unwrap_or(0)
    });
    qparams::check_accumulator(op, d.k, &[za], &zb, bias_max)?;
    let (a, b) = operands(&at, &d, inputs[0].i8(op)?, inputs[1].i8(op)?);
    let mut acc = vec![0i32; d.m * d.n];
    if let (Some(c), Some((rs, cs))) = (c, d.c_strides) {
        for (i, row) in acc.chunks_exact_mut(d.n.max(1)).enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = c[i * rs + j * cs];
            }
        }
    }
    igemm((d.m, d.n, d.k), a, &[za], b, &zb, &mut acc, d.n).map_err(shape_err(op))?;
    let stage = I8Output::new(at.activation, sy, zy);
    let acc_scales: Vec<f32> = sb.iter().map(|&s| at.alpha * sa * s).collect();
    let mults: Vec<f32> = acc_scales.iter().map(|&s| s / sy).collect();
    let y = out.i8_mut(op)?;
    for (yrow, arow) in y
        .chunks_exact_mut(d.n.max(1))
        .zip(acc.chunks_exact(d.n.max(1)))
    {
        for (j, (yv, &av)) in yrow.iter_mut().zip(arow).enumerate() {
            *yv = stage.requant(av, mults[j], acc_scales[j]);
        }
    }
    Ok(())
}
