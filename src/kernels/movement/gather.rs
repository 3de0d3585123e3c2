//! Gather along one axis with int32 or int64 indices (negative indices
//! count from the end; an index out of range is an error).

use super::super::b_shape::check_arity;
use super::source;
use super::{In, KernelError, Out};
use crate::graph::{DType, Op};

/// Gather: `out[o, j, i] = data[o, idx[j], i]` with `o` the axes before
/// `axis`, `j` the indices' positions and `i` the axes after.
pub fn gather(
    op: &Op,
    axis: usize,
    inputs: &[In<'_>],
    outputs: &mut [Out<'_>],
) -> Result<(), KernelError> {
    check_arity(op, inputs.len(), 2..=2, outputs.len(), 1..=1)?;
    let (data, ind, out) = (&inputs[0], &inputs[1], &mut outputs[0]);
    let shape = &data.info.shape;
    if axis >= shape.len() {
        return Err(KernelError::invalid(
            op,
            format!("axis {axis} out of range"),
        ));
    }
    let indices: Vec<i64> = match ind.info.dtype {
        DType::I64 => ind.i64(op)?.to_vec(),
        DType::I32 => ind.i32(op)?.iter().map(|&v| v as i64).collect(),
        other => return Err(KernelError::unsupported(op, format!("{other:?} indices"))),
    };
    let dim = shape[axis] as i64;
    let resolved = indices
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + dim } else { i };
            if (0..dim).contains(&j) {
                Ok(j as usize)
            } else {
                Err(KernelError::invalid(
                    op,
                    format!("index {i} out of range for length {dim}"),
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let outer: usize = shape[..axis].iter().product();
    let block = shape[axis + 1..].iter().product::<usize>() * data.info.dtype.size();
    if out.data.len() != outer * resolved.len() * block {
        return Err(KernelError::invalid(op, "output size mismatch"));
    }
    let src = source(op, data, out.info)?;
    let mut at = 0usize;
    for o in 0..outer {
        for &j in &resolved {
            let s = (o * shape[axis] + j) * block;
            out.data[at..at + block].copy_from_slice(&src[s..s + block]);
            at += block;
        }
    }
    Ok(())
}
