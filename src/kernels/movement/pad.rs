//! Pad with constant, reflect or edge modes. The constant is converted to
//! the output's element type; 8-bit quantized outputs store it quantized
//! with the output's parameters.

use half::f16;

use super::super::b_q8;
use super::super::b_shape::{check_arity, strides};
use super::{by_elem_size, source, typed, typed_mut};
use super::{In, KernelError, Out};
use crate::graph::{DType, Op, PadMode, TensorInfo};

/// The little-endian bytes of the fill value `v` in `info`'s type.
fn fill_bytes(op: &Op, v: f32, info: &TensorInfo) -> Result<Vec<u8>, KernelError> {
    Ok(match info.dtype {
        DType::F32 => v.to_le_bytes().to_vec(),
        DType::F16 => f16::from_f32(v).to_le_bytes().to_vec(),
        DType::I8 | DType::U8 if info.quant.is_some() => {
            let q = b_q8::per_tensor(op, info)?;
            vec![b_q8::quantize_byte(info.dtype, v, q.inv_scale(), q.zp)]
        }
        DType::I8 => vec![v as i8 as u8],
        DType::U8 => vec![v as u8],
        DType::I16 => (v as i16).to_le_bytes().to_vec(),
        DType::U16 => (v as u16).to_le_bytes().to_vec(),
        DType::I32 => (v as i32).to_le_bytes().to_vec(),
        DType::U32 => (v as u32).to_le_bytes().to_vec(),
        DType::I64 => (v as i64).to_le_bytes().to_vec(),
        DType::Bool => vec![u8::from(v != 0.0)],
    })
}

/// Source index along one axis for output position `o`, or `None` for a
/// constant cell.
fn source_index(mode: PadMode, o: usize, begin: usize, n: usize) -> Option<usize> {
    let i = o as isize - begin as isize;
    if (0..n as isize).contains(&i) {
        return Some(i as usize);
    }
    match mode {
        PadMode::Constant { .. } => None,
        PadMode::Edge => Some(i.clamp(0, n as isize - 1) as usize),
        PadMode::Reflect => {
            if n == 1 {
                return Some(0);
            }
            let period = 2 * (n as isize - 1);
            let r = i.rem_euclid(period);
            Some(if r >= n as isize { period - r } else { r } as usize)
        }
    }
}

fn pad_t<T: bytemuck::Pod>(
    maps: &[Vec<Option<usize>>],
    ist: &[usize],
    src: &[T],
    dst: &mut [T],
    fill: T,
) {
    let rank = maps.len();
    if rank == 0 {
        dst.copy_from_slice(src);
        return;
    }
    let row = maps[rank - 1].len();
    if row == 0 {
        return;
    }
    let mut idx = vec![0usize; rank - 1];
    for out_row in dst.chunks_exact_mut(row) {
        let base = idx
            .iter()
            .enumerate()
            .try_fold(0usize, |acc, (d, &i)| maps[d][i].map(|s| acc + s * ist[d]));
        match base {
            None => out_row.fill(fill),
            Some(b) => {
                for (d, m) in out_row.iter_mut().zip(&maps[rank - 1]) {
                    *d = m.map_or(fill, |s| src[b + s]);
                }
            }
        }
        for d in (0..rank - 1).rev() {
            idx[d] += 1;
            if idx[d] < maps[d].len() {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Pad: `pads` lists the begin amounts of every axis, then the end
/// amounts.
pub fn pad(
    op: &Op,
    pads: &[usize],
    mode: PadMode,
    inputs: &[In<'_>],
    outputs: &mut [Out<'_>],
) -> Result<(), KernelError> {
    // ONNX Pad may carry pads / constant value / axes as extra inputs.
    check_arity(op, inputs.len(), 1..=4, outputs.len(), 1..=1)?;
    let (x, out) = (&inputs[0], &mut outputs[0]);
    let shape = &x.info.shape;
    let rank = shape.len();
    if pads.len() != 2 * rank || out.info.shape.len() != rank {
        return Err(KernelError::invalid(
            op,
            format!("{} pads for rank {rank}", pads.len()),
        ));
    }
    let mut maps = Vec::with_capacity(rank);
    for d in 0..rank {
        let len = shape[d] + pads[d] + pads[rank + d];
        if len != out.info.shape[d] {
            return Err(KernelError::invalid(
                op,
                format!(
                    "output length {} on axis {d}, expected {len}",
                    out.info.shape[d]
                ),
            ));
        }
        if shape[d] == 0 && len > 0 && !matches!(mode, PadMode::Constant { .. }) {
            return Err(KernelError::invalid(
                op,
                "reflect/edge padding of an empty axis",
            ));
        }
        maps.push(
            (0..len)
                .map(|o| source_index(mode, o, pads[d], shape[d]))
                .collect::<Vec<_>>(),
        );
    }
    let value = match mode {
        PadMode::Constant { value } => value,
        _ => 0.0,
    };
    let fill = fill_bytes(op, value, out.info)?;
    let src = source(op, x, out.info)?;
    let ist = strides(shape);
    by_elem_size!(op, x.info.dtype.size(), |E| {
        let f: E = bytemuck::pod_read_unaligned(&fill);
        pad_t::<E>(&maps, &ist, typed(op, &src)?, typed_mut(op, out.data)?, f);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_and_edge_indices() {
        let refl: Vec<_> = (0..9)
            .map(|o| source_index(PadMode::Reflect, o, 3, 3).unwrap())
            .collect();
        assert_eq!(refl, vec![1, 2, 1, 0, 1, 2, 1, 0, 1]);
        let edge: Vec<_> = (0..6)
            .map(|o| source_index(PadMode::Edge, o, 2, 2).unwrap())
            .collect();
        assert_eq!(edge, vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(
            source_index(PadMode::Constant { value: 0.0 }, 0, 1, 2),
            None
        );
    }
}
