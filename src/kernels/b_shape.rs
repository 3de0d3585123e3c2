//! Shape arithmetic shared by the element-wise, reduction and data-movement
//! kernels: row-major strides, numpy broadcasting and strided iteration.

use super::KernelError;
use crate::graph::Op;

/// Row-major strides (in elements) of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Product of the dimensions (1 for a scalar).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Strides (in elements) that read an input of shape `shape` broadcast to
/// `out`: 0 along broadcast axes. Errors when `shape` does not broadcast
/// to `out` (numpy rules, aligned from the right).
pub fn broadcast_strides(
    op: &Op,
    shape: &[usize],
    out: &[usize],
) -> Result<Vec<usize>, KernelError> {
    if shape.len() > out.len() {
        return Err(KernelError::invalid(
            op,
            format!(
                "input rank {} exceeds output rank {}",
                shape.len(),
                out.len()
            ),
        ));
    }
    let own = strides(shape);
    let lead = out.len() - shape.len();
    let mut s = vec![0usize; out.len()];
    for (i, (&d, &st)) in shape.iter().zip(&own).enumerate() {
        let o = out[lead + i];
        if d == o {
            s[lead + i] = if d == 1 { 0 } else { st };
        } else if d == 1 {
            s[lead + i] = 0;
        } else {
            return Err(KernelError::invalid(
                op,
                format!("shape {shape:?} does not broadcast to {out:?}"),
            ));
        }
    }
    Ok(s)
}

/// Calls `f(out_offset, offsets, len)` for every innermost row of `out`,
/// where `offsets[k]` is the element offset of operand `k` (read with
/// `strides[k]`) at the row's start; within a row operand `k` advances by
/// `strides[k][last]` per element. Nothing is called for an empty output.
pub fn for_each_row<const K: usize>(
    out: &[usize],
    strides: [&[usize]; K],
    mut f: impl FnMut(usize, [usize; K], usize),
) {
    if out.contains(&0) {
        return;
    }
    if out.is_empty() {
        f(0, [0; K], 1);
        return;
    }
    let rank = out.len();
    let row = out[rank - 1];
    let outer_rank = rank - 1;
    let mut idx = vec![0usize; outer_rank];
    let mut offs = [0usize; K];
    let mut out_off = 0usize;
    loop {
        f(out_off, offs, row);
        out_off += row;
        // Advance the outer multi-index like an odometer.
        let mut d = outer_rank;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            for k in 0..K {
                offs[k] += strides[k][d];
            }
            if idx[d] < out[d] {
                break;
            }
            for k in 0..K {
                offs[k] -= strides[k][d] * out[d];
            }
            idx[d] = 0;
        }
    }
}

/// Splits `shape` around `axis` into (outer, len, inner) element counts.
pub fn split_at_axis(
    op: &Op,
    shape: &[usize],
    axis: usize,
) -> Result<(usize, usize, usize), KernelError> {
    if axis >= shape.len() {
        return Err(KernelError::invalid(
            op,
            format!("axis {axis} out of range for rank {}", shape.len()),
        ));
    }
    Ok((
        numel(&shape[..axis]),
        shape[axis],
        numel(&shape[axis + 1..]),
    ))
}

/// Checks the number of inputs (within `ins`) and outputs of a node.
pub fn check_arity(
    op: &Op,
    n_in: usize,
    ins: std::ops::RangeInclusive<usize>,
    n_out: usize,
    outs: std::ops::RangeInclusive<usize>,
) -> Result<(), KernelError> {
    if !ins.contains(&n_in) || !outs.contains(&n_out) {
        return Err(KernelError::invalid(
            op,
            format!(
                "expected {}..={} inputs and {}..={} outputs, got {n_in} and {n_out}",
                ins.start(),
                ins.end(),
                outs.start(),
                outs.end()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> Op {
        Op::Reshape
    }

    #[test]
    fn strides_row_major() {
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(strides(&[]), Vec::<usize>::new());
        assert_eq!(strides(&[5]), vec![1]);
    }

    #[test]
    fn broadcast_strides_rules() {
        let s = broadcast_strides(&op(), &[3, 1], &[2, 3, 4]).unwrap();
        assert_eq!(s, vec![0, 1, 0]);
        let s = broadcast_strides(&op(), &[], &[2, 3]).unwrap();
        assert_eq!(s, vec![0, 0]);
        assert!(broadcast_strides(&op(), &[3], &[2, 4]).is_err());
        assert!(broadcast_strides(&op(), &[1, 2, 3], &[2, 3]).is_err());
    }

    #[test]
    fn rows_visit_every_element_once() {
        let out = [2, 3, 4];
        let a = broadcast_strides(&op(), &[3, 1], &out).unwrap();
        let b = strides(&out);
        let mut seen = [0u32; 24];
        let mut a_offs = Vec::new();
        for_each_row(&out, [&a, &b], |o, [ao, bo], len| {
            assert_eq!(o, bo);
            for i in 0..len {
                seen[o + i] += 1;
            }
            a_offs.push(ao);
        });
        assert!(seen.iter().all(|&c| c == 1));
        assert_eq!(a_offs, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn rows_of_scalar_and_empty() {
        let mut n = 0;
        for_each_row::<1>(&[], [&[]], |_, _, len| n += len);
        assert_eq!(n, 1);
        n = 0;
        for_each_row::<1>(&[3, 0], [&[0, 1]], |_, _, len| n += len);
        assert_eq!(n, 0);
    }
}
