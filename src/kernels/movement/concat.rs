//! Concat and Split along one axis (byte copies of contiguous blocks;
//! 8-bit inputs whose quantization differs from the output's are
//! requantized first).

use super::super::b_q8;
use super::source;
use super::{In, KernelError, Out};
use crate::graph::{Op, TensorInfo};

/// Checks that `part` matches `whole` on every axis but `axis`, and
/// returns the byte length of one block (`part[axis..]`).
fn block_bytes(
    op: &Op,
    part: &TensorInfo,
    whole: &TensorInfo,
    axis: usize,
) -> Result<usize, KernelError> {
    if part.shape.len() != whole.shape.len() || axis >= whole.shape.len() {
        return Err(KernelError::invalid(
            op,
            "ranks differ or axis out of range",
        ));
    }
    if part.dtype != whole.dtype {
        return Err(KernelError::invalid(
            op,
            format!("tensor '{}' has another type", part.name),
        ));
    }
    for (d, (&a, &b)) in part.shape.iter().zip(&whole.shape).enumerate() {
        if d != axis && a != b {
            return Err(KernelError::invalid(
                op,
                format!(
                    "'{}' {:?} vs '{}' {:?}",
                    part.name, part.shape, whole.name, whole.shape
                ),
            ));
        }
    }
    Ok(part.shape[axis..].iter().product::<usize>() * part.dtype.size())
}

/// Concat: inputs laid side by side along `axis`.
pub fn concat(
    op: &Op,
    axis: usize,
    inputs: &[In<'_>],
    outputs: &mut [Out<'_>],
) -> Result<(), KernelError> {
    let [out] = outputs else {
        return Err(KernelError::invalid(op, "expected one output"));
    };
    if inputs.is_empty() {
        return Err(KernelError::invalid(op, "no inputs"));
    }
    let mut blocks = Vec::with_capacity(inputs.len());
    let mut total = 0usize;
    for t in inputs {
        blocks.push(block_bytes(op, t.info, out.info, axis)?);
        total += t.info.shape[axis];
    }
    if total != out.info.shape[axis] {
        return Err(KernelError::invalid(
            op,
            "input lengths do not add up to the output's",
        ));
    }
    let srcs = inputs
        .iter()
        .map(|t| source(op, t, out.info))
        .collect::<Result<Vec<_>, _>>()?;
    let outer: usize = out.info.shape[..axis].iter().product();
    let row: usize = blocks.iter().sum();
    for o in 0..outer {
        let mut at = o * row;
        for (src, &b) in srcs.iter().zip(&blocks) {
            out.data[at..at + b].copy_from_slice(&src[o * b..o * b + b]);
            at += b;
        }
    }
    Ok(())
}

/// Split: the input cut along `axis` into the outputs' lengths.
pub fn split(
    op: &Op,
    axis: usize,
    inputs: &[In<'_>],
    outputs: &mut [Out<'_>],
) -> Result<(), KernelError> {
    // ONNX Split may carry the split sizes as a second input.
    let x = match inputs {
        [x] | [x, _] => x,
        _ => return Err(KernelError::invalid(op, "expected one data input")),
    };
    if outputs.is_empty() {
        return Err(KernelError::invalid(op, "no outputs"));
    }
    let mut blocks = Vec::with_capacity(outputs.len());
    let mut total = 0usize;
    for t in outputs.iter() {
        blocks.push(block_bytes(op, t.info, x.info, axis)?);
        total += t.info.shape[axis];
    }
    if total != x.info.shape[axis] {
        return Err(KernelError::invalid(
            op,
            "output lengths do not add up to the input's",
        ));
    }
    let outer: usize = x.info.shape[..axis].iter().product();
    let row: usize = blocks.iter().sum();
    let mut start = 0usize;
    for (t, &b) in outputs.iter_mut().zip(&blocks) {
        let table = b_q8::requant_table(op, x.info, t.info)?;
        for o in 0..outer {
            let s = &x.data[o * row + start..o * row + start + b];
            let d = &mut t.data[o * b..o * b + b];
            match &table {
                Some(tab) => d.iter_mut().zip(s).for_each(|(d, &v)| *d = tab[v as usize]),
                None => d.copy_from_slice(s),
            }
        }
        start += b;
    }
    Ok(())
}
