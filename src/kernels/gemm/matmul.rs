//! numpy-style MatMul with batch broadcasting, in f32 and int8.

use super::core::{igemm, sgemm, MatRef};
use super::shape_err;
use crate::graph::Op;
use crate::kernels::activation::I8Output;
use crate::kernels::{qparams, In, KernelError, Out};

/// The resolved problem: matrix sizes and, per output batch, the matrix
/// index of A and of B.
struct Plan {
    m: usize,
    n: usize,
    k: usize,
    /// (A matrix index, B matrix index) for every output matrix.
    batches: Vec<(usize, usize)>,
}

fn plan(
    op: &Op,
    a_shape: &[usize],
    b_shape: &[usize],
    y_shape: &[usize],
) -> Result<Plan, KernelError> {
    let bad = || {
        KernelError::invalid(
            op,
            format!("shapes A {a_shape:?}, B {b_shape:?}, Y {y_shape:?} do not agree"),
        )
    };
    let (ra, rb) = (a_shape.len(), b_shape.len());
    if ra == 0 || rb == 0 {
        return Err(bad());
    }
    let (m, k) = if ra == 1 {
        (1, a_shape[0])
    } else {
        (a_shape[ra - 2], a_shape[ra - 1])
    };
    let (kb, n) = if rb == 1 {
        (b_shape[0], 1)
    } else {
        (b_shape[rb - 2], b_shape[rb - 1])
    };
    if k != kb {
        return Err(bad());
    }
    let a_batch = &a_shape[..ra.saturating_sub(2)];
    let b_batch = &b_shape[..rb.saturating_sub(2)];
    let rank = a_batch.len().max(b_batch.len());
    let dim = |s: &[usize], i: usize| -> usize {
        // Right-aligned; missing leading axes are 1.
        let off = rank - s.len();
        if i < off {
            1
        } else {
            s[i - off]
        }
    };
    let mut batch = Vec::with_capacity(rank);
    for i in 0..rank {
        let (da, db) = (dim(a_batch, i), dim(b_batch, i));
        if da != db && da != 1 && db != 1 {
            return Err(bad());
        }
        batch.push(if da == 1 { db } else { da });
    }
    let mut want = batch.clone();
    if ra > 1 {
        want.push(m);
    }
    if rb > 1 {
        want.push(n);
    }
    if want != y_shape {
        return Err(bad());
    }
    let count: usize = batch.iter().product();
    let mut batches = Vec::with_capacity(count);
    let mut idx = vec![0usize; rank];
    for _ in 0..count {
        let (mut ai, mut bi) = (0usize, 0usize);
        for (i, &at) in idx.iter().enumerate() {
            let (da, db) = (dim(a_batch, i), dim(b_batch, i));
            ai = ai * da + if da == 1 { 0 } else { at };
            bi = bi * db + if db == 1 { 0 } else { at };
        }
        batches.push((ai, bi));
        for i in (0..rank).rev() {
            idx[i] += 1;
            if idx[i] < batch[i] {
                break;
            }
            idx[i] = 0;
        }
    }
    Ok(Plan { m, n, k, batches })
}

fn inputs2<'a, 'b>(op: &Op, inputs: &'a [In<'b>]) -> Result<(&'a In<'b>, &'a In<'b>), KernelError> {
    match inputs {
        [a, b] => Ok((a, b)),
        _ => Err(KernelError::invalid(op, "expected inputs A and B")),
    }
}

/// Matrix `i` of a stack of `rows` × `cols` matrices.
fn mat<T>(data: &[T], i: usize, rows: usize, cols: usize) -> &[T] {
    let len = rows * cols;
    data.get(i * len..(i + 1) * len).unwrap_or(&[])
}

/// f32 MatMul.
pub(super) fn run_f32(op: &Op, inputs: &[In<'_>], out: &mut Out<'_>) -> Result<(), KernelError> {
    let (a, b) = inputs2(op, inputs)?;
    let p = plan(op, &a.info.shape, &b.info.shape, &out.info.shape)?;
    let (ad, bd) = (a.f32(op)?, b.f32(op)?);
    let y = out.f32_mut(op)?;
    y.fill(0.0);
    let step = p.m * p.n;
    for (yi, &(ai, bi)) in p.batches.iter().enumerate() {
        let ym = y
            .get_mut(yi * step..(yi + 1) * step)
            .ok_or_else(|| KernelError::invalid(op, "output too small"))?;
        sgemm(
            (p.m, p.n, p.k),
            MatRef::row_major(mat(ad, ai, p.m, p.k), p.k),
            MatRef::row_major(mat(bd, bi, p.k, p.n), p.n),
            ym,
            p.n,
        )
        .map_err(shape_err(op))?;
    }
    Ok(())
}

/// int8 MatMul: A per-tensor, B per-tensor (or per column N), Y int8.
pub(super) fn run_i8(op: &Op, inputs: &[In<'_>], out: &mut Out<'_>) -> Result<(), KernelError> {
    let (a, b) = inputs2(op, inputs)?;
    let p = plan(op, &a.info.shape, &b.info.shape, &out.info.shape)?;
    let (sa, za) = qparams::per_tensor(op, a.info)?;
    let b_axis = b.info.shape.len().saturating_sub(1);
    let (sb, zb) = qparams::per_channel(op, b.info, b_axis, p.n)?;
    let (sy, zy) = qparams::per_tensor(op, out.info)?;
    qparams::check_accumulator(op, p.k, &[za], &zb, 0)?;
    let (ad, bd) = (a.i8(op)?, b.i8(op)?);
    let stage = I8Output::new(None, sy, zy);
    let acc_scales: Vec<f32> = sb.iter().map(|&s| sa * s).collect();
    let mults: Vec<f32> = acc_scales.iter().map(|&s| s / sy).collect();
    let y = out.i8_mut(op)?;
    let step = p.m * p.n;
    let mut acc = vec![0i32; step];
    for (yi, &(ai, bi)) in p.batches.iter().enumerate() {
        acc.fill(0);
        igemm(
            (p.m, p.n, p.k),
            MatRef::row_major(mat(ad, ai, p.m, p.k), p.k),
            &[za],
            MatRef::row_major(mat(bd, bi, p.k, p.n), p.n),
            &zb,
            &mut acc,
            p.n,
        )
        .map_err(shape_err(op))?;
        let ym = y
            .get_mut(yi * step..(yi + 1) * step)
            .ok_or_else(|| KernelError::invalid(op, "output too small"))?;
        for (yrow, arow) in ym
            .chunks_exact_mut(p.n.max(1))
            .zip(acc.chunks_exact(p.n.max(1)))
        {
            for (j, (yv, &av)) in yrow.iter_mut().zip(arow).enumerate() {
                *yv = stage.requant(av, mults[j], acc_scales[j]);
            }
        }
    }
    Ok(())
}
