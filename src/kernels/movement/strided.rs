//! Strided copies: Slice (including negative steps), Transpose (with a
//! tiled fast path for block rotations such as NCHW <-> NHWC) and Reshape.

use super::super::b_shape::{check_arity, strides};
use super::{by_elem_size, source, typed, typed_mut};
use super::{In, KernelError, Out};
use crate::graph::Op;

/// Copies `dst[i] = src[base + sum_d idx_d * st[d]]` for every multi-index
/// of `shape` in row-major order, after checking that every source offset
/// is inside `src`.
fn strided_copy<T: Copy>(
    op: &Op,
    src: &[T],
    dst: &mut [T],
    shape: &[usize],
    st: &[isize],
    base: isize,
) -> Result<(), KernelError> {
    let n: usize = shape.iter().product();
    if dst.len() != n || st.len() != shape.len() {
        return Err(KernelError::invalid(op, "output size mismatch"));
    }
    if n == 0 {
        return Ok(());
    }
    let overflow = || KernelError::invalid(op, "source region overflows");
    let (mut lo, mut hi) = (base, base);
    for (&d, &s) in shape.iter().zip(st) {
        let span = (d as isize - 1).checked_mul(s).ok_or_else(overflow)?;
        if span < 0 {
            lo = lo.checked_add(span).ok_or_else(overflow)?;
        } else {
            hi = hi.checked_add(span).ok_or_else(overflow)?;
        }
    }
    if lo < 0 || hi >= src.len() as isize {
        return Err(KernelError::invalid(op, "source region out of bounds"));
    }
    if shape.is_empty() {
        dst[0] = src[base as usize];
        return Ok(());
    }
    let rank = shape.len();
    let row = shape[rank - 1];
    let rs = st[rank - 1];
    let mut idx = vec![0usize; rank - 1];
    let mut off = base;
    for out_row in dst.chunks_exact_mut(row) {
        if rs == 1 {
            let s = off as usize;
            out_row.copy_from_slice(&src[s..s + row]);
        } else {
            let mut p = off;
            for d in out_row.iter_mut() {
                *d = src[p as usize];
                p += rs;
            }
        }
        let mut d = rank - 1;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            off += st[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= st[d] * shape[d] as isize;
            idx[d] = 0;
        }
    }
    Ok(())
}

/// Slice: per listed axis a start and a (possibly negative) step; the
/// length comes from the output shape.
pub fn slice(
    op: &Op,
    axes: &[usize],
    starts: &[i64],
    steps: &[i64],
    inputs: &[In<'_>],
    outputs: &mut [Out<'_>],
) -> Result<(), KernelError> {
    check_arity(op, inputs.len(), 1..=1, outputs.len(), 1..=1)?;
    let (x, out) = (&inputs[0], &mut outputs[0]);
    let shape = &x.info.shape;
    let oshape = out.info.shape.clone();
    if axes.len() != starts.len() || axes.len() != steps.len() || oshape.len() != shape.len() {
        return Err(KernelError::invalid(
            op,
            "axes, starts, steps and ranks disagree",
        ));
    }
    let ist = strides(shape);
    let mut st: Vec<isize> = ist.iter().map(|&s| s as isize).collect();
    let mut base = 0isize;
    let mut seen = vec![false; shape.len()];
    for ((&a, &start), &step) in axes.iter().zip(starts).zip(steps) {
        if a >= shape.len() || seen[a] || step == 0 {
            return Err(KernelError::invalid(
                op,
                format!("bad axis {a} or step {step}"),
            ));
        }
        seen[a] = true;
        let dim = shape[a] as i64;
        let mut s = if start < 0 { start + dim } else { start };
        s = if step > 0 {
            s.clamp(0, dim)
        } else {
            s.clamp(-1, dim - 1)
        };
        let stride = ist[a] as isize;
        let overflow = || KernelError::invalid(op, format!("step {step} overflows"));
        base += s as isize * stride;
        st[a] = isize::try_from(step)
            .ok()
            .and_then(|v| v.checked_mul(stride))
            .ok_or_else(overflow)?;
    }
    for (d, &n) in oshape.iter().enumerate() {
        if !seen[d] && n != shape[d] {
            return Err(KernelError::invalid(
                op,
                format!("axis {d} is not sliced but changes length"),
            ));
        }
    }
    let src = source(op, x, out.info)?;
    by_elem_size!(op, x.info.dtype.size(), |E| strided_copy::<E>(
        op,
        typed(op, &src)?,
        typed_mut(op, out.data)?,
        &oshape,
        &st,
        base
    ))
}

/// Reshape: the same elements in the same order.
pub fn reshape(op: &Op, inputs: &[In<'_>], outputs: &mut [Out<'_>]) -> Result<(), KernelError> {
    // A second input (the target shape of ONNX Reshape) may be present.
    check_arity(op, inputs.len(), 1..=2, outputs.len(), 1..=1)?;
    let (x, out) = (&inputs[0], &mut outputs[0]);
    if x.info.elems() != out.info.elems() {
        return Err(KernelError::invalid(op, "element counts differ"));
    }
    let src = source(op, x, out.info)?;
    out.data.copy_from_slice(&src);
    Ok(())
}

/// For `perm = [0..k, m..r, k..m]` (a rotation of the trailing axes),
/// returns `(k, m)`.
fn block_rotation(perm: &[usize]) -> Option<(usize, usize)> {
    let r = perm.len();
    let k = perm.iter().enumerate().position(|(i, &p)| i != p)?;
    let m = perm[k];
    if m <= k || m >= r {
        return None;
    }
    let want = (m..r).chain(k..m);
    (perm[k..].iter().copied().eq(want)).then_some((k, m))
}

/// `dst[c][r] = src[r][c]` for a `rows x cols` matrix, in cache tiles.
fn transpose_2d<T: Copy>(src: &[T], dst: &mut [T], rows: usize, cols: usize) {
    const TILE: usize = 16;
    for r0 in (0..rows).step_by(TILE) {
        let r1 = (r0 + TILE).min(rows);
        for c0 in (0..cols).step_by(TILE) {
            let c1 = (c0 + TILE).min(cols);
            for r in r0..r1 {
                for c in c0..c1 {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

fn transpose_t<T: Copy>(
    op: &Op,
    perm: &[usize],
    shape: &[usize],
    oshape: &[usize],
    src: &[T],
    dst: &mut [T],
) -> Result<(), KernelError> {
    if src.len() != dst.len() {
        return Err(KernelError::invalid(op, "element counts differ"));
    }
    match block_rotation(perm) {
        None if perm.iter().enumerate().all(|(i, &p)| i == p) => {
            dst.copy_from_slice(src);
            Ok(())
        }
        Some((k, m)) => {
            let batch: usize = shape[..k].iter().product();
            let rows: usize = shape[k..m].iter().product();
            let cols: usize = shape[m..].iter().product();
            let plane = rows * cols;
            if plane == 0 || batch == 0 {
                return Ok(());
            }
            for (s, d) in src.chunks_exact(plane).zip(dst.chunks_exact_mut(plane)) {
                transpose_2d(s, d, rows, cols);
            }
            Ok(())
        }
        None => {
            let ist = strides(shape);
            let st: Vec<isize> = perm.iter().map(|&p| ist[p] as isize).collect();
            strided_copy(op, src, dst, oshape, &st, 0)
        }
    }
}

/// Transpose: output axis i is input axis `perm[i]`.
pub fn transpose(
    op: &Op,
    perm: &[usize],
    inputs: &[In<'_>],
    outputs: &mut [Out<'_>],
) -> Result<(), KernelError> {
    check_arity(op, inputs.len(), 1..=1, outputs.len(), 1..=1)?;
    let (x, out) = (&inputs[0], &mut outputs[0]);
    let shape = &x.info.shape;
    let mut used = vec![false; shape.len()];
    if perm.len() != shape.len()
        || perm
            .iter()
            .any(|&p| p >= shape.len() || std::mem::replace(&mut used[p], true))
    {
        return Err(KernelError::invalid(
            op,
            format!("bad permutation {perm:?}"),
        ));
    }
    let oshape = out.info.shape.clone();
    if perm.iter().zip(&oshape).any(|(&p, &n)| shape[p] != n) {
        return Err(KernelError::invalid(
            op,
            "output shape does not match the permutation",
        ));
    }
    let src = source(op, x, out.info)?;
    by_elem_size!(op, x.info.dtype.size(), |E| transpose_t::<E>(
        op,
        perm,
        shape,
        &oshape,
        typed(op, &src)?,
        typed_mut(op, out.data)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_rotation_detects_common_perms() {
        assert_eq!(block_rotation(&[0, 2, 3, 1]), Some((1, 2)));
        assert_eq!(block_rotation(&[0, 3, 1, 2]), Some((1, 3)));
        assert_eq!(block_rotation(&[0, 1, 3, 2]), Some((2, 3)));
        assert_eq!(block_rotation(&[1, 0]), Some((0, 1)));
        assert_eq!(block_rotation(&[0, 1, 2]), None);
        assert_eq!(block_rotation(&[2, 0, 3, 1]), None);
        assert_eq!(block_rotation(&[0, 2, 1, 3]), None);
    }
}
