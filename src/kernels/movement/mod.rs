//! Data-movement kernels: Concat, Split, Slice, Reshape, Transpose, Pad,
//! Resize and Gather.
//!
//! They are generic over the element size (1, 2, 4 or 8 bytes), so every
//! dtype moves through the same code (f32, f16, int8, uint8, int32,
//! int64, bool, ...). When an 8-bit input and the output carry different
//! per-tensor quantization, the input is first requantized to the
//! output's parameters with a 256-entry table (`b_q8::requant_table`);
//! otherwise bytes are copied unchanged.

mod concat;
mod gather;
mod pad;
mod resize;
mod strided;

use std::borrow::Cow;

use super::b_q8;
use super::{In, KernelError, Out};
use crate::graph::{Op, TensorInfo};

/// Runs a data-movement op.
pub fn run(op: &Op, inputs: &[In<'_>], outputs: &mut [Out<'_>]) -> Result<(), KernelError> {
    for t in inputs {
        if t.data.len() != t.info.bytes() {
            return Err(KernelError::invalid(
                op,
                format!("tensor '{}' size mismatch", t.info.name),
            ));
        }
    }
    for t in outputs.iter() {
        if t.data.len() != t.info.bytes() {
            return Err(KernelError::invalid(
                op,
                format!("tensor '{}' size mismatch", t.info.name),
            ));
        }
    }
    match op {
        Op::Concat { axis } => concat::concat(op, *axis, inputs, outputs),
        Op::Split { axis } => concat::split(op, *axis, inputs, outputs),
        Op::Slice {
            axes,
            starts,
            steps,
        } => strided::slice(op, axes, starts, steps, inputs, outputs),
        Op::Reshape => strided::reshape(op, inputs, outputs),
        Op::Transpose { perm } => strided::transpose(op, perm, inputs, outputs),
        Op::Pad { pads, mode } => pad::pad(op, pads, *mode, inputs, outputs),
        Op::Resize {
            mode,
            coord,
            nearest,
        } => resize::resize(op, *mode, *coord, *nearest, inputs, outputs),
        Op::Gather { axis } => gather::gather(op, *axis, inputs, outputs),
        _ => Err(KernelError::unsupported(op, "not a data-movement op")),
    }
}

/// The bytes of `t` in the representation of `dst`: the same bytes, or an
/// 8-bit tensor requantized to `dst`'s parameters. Errors when the element
/// types differ.
fn source<'a>(op: &Op, t: &In<'a>, dst: &TensorInfo) -> Result<Cow<'a, [u8]>, KernelError> {
    if t.info.dtype != dst.dtype {
        return Err(KernelError::invalid(
            op,
            format!(
                "tensor '{}' is {:?}, output '{}' is {:?}",
                t.info.name, t.info.dtype, dst.name, dst.dtype
            ),
        ));
    }
    Ok(match b_q8::requant_table(op, t.info, dst)? {
        Some(table) => Cow::Owned(t.data.iter().map(|&b| table[b as usize]).collect()),
        None => Cow::Borrowed(t.data),
    })
}

/// The bytes as a slice of `T` (the caller picks `T` by element size).
fn typed<'a, T: bytemuck::Pod>(op: &Op, b: &'a [u8]) -> Result<&'a [T], KernelError> {
    bytemuck::try_cast_slice(b).map_err(|e| KernelError::invalid(op, format!("buffer: {e}")))
}

/// The bytes as a mutable slice of `T`.
fn typed_mut<'a, T: bytemuck::Pod>(op: &Op, b: &'a mut [u8]) -> Result<&'a mut [T], KernelError> {
    bytemuck::try_cast_slice_mut(b).map_err(|e| KernelError::invalid(op, format!("buffer: {e}")))
}

/// Runs `$body` with `$t` bound to the unsigned integer type of the
/// element size `$size` (elements are moved as opaque words).
macro_rules! by_elem_size {
    ($op:expr, $size:expr, |$t:ident| $body:expr) => {
        match $size {
            1 => {
                type $t = u8;
                $body
            }
            2 => {
                type $t = u16;
                $body
            }
            4 => {
                type $t = u32;
                $body
            }
            8 => {
                type $t = u64;
                $body
            }
            s => Err(KernelError::invalid($op, format!("element size {s}"))),
        }
    };
}
use by_elem_size;

#[cfg(test)]
mod tests;
