//! Shape inference and graph validation.
//!
//! [`infer`] / [`infer_given`] compute the output shapes of an op from its
//! inputs (ONNX semantics, see the docs on each [`Op`](crate::graph::Op) variant); they are
//! the single source of truth used by the compiler to create tensors and
//! by [`Graph::validate`](super::Graph::validate) to check a loaded graph.
//! The limits below bound what a (possibly hostile) model may ask for.

mod custom;
mod infer;
mod types;
mod validate;

pub use infer::{
    broadcast, infer, infer_given, input_arity, output_arity, slice_start, takes_output_shape,
};
pub use types::{check_quant, check_types};
pub use validate::WEIGHT_ALIGN;

use super::TensorInfo;

/// Why a graph is not executable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GraphError(pub String);

impl GraphError {
    /// A new error with the given message.
    pub fn new(msg: impl Into<String>) -> GraphError {
        GraphError(msg.into())
    }
}

/// Largest tensor rank (the vendor `RKNN_MAX_DIMS`).
pub const MAX_RANK: usize = 16;
/// Longest tensor name in bytes (the vendor `RKNN_MAX_NAME_LEN` minus the NUL).
pub const MAX_NAME_LEN: usize = 255;
/// Longest node name in bytes.
pub const MAX_NODE_NAME_LEN: usize = 4096;
/// Largest single dimension.
pub const MAX_DIM: usize = i32::MAX as usize;
/// Largest size of one tensor in bytes (4 GiB).
pub const MAX_TENSOR_BYTES: u64 = 1 << 32;
/// Most tensors in one graph.
pub const MAX_TENSORS: usize = 1 << 20;
/// Most nodes in one graph.
pub const MAX_NODES: usize = 1 << 20;
/// Largest kernel size, stride, dilation or padding of a [`super::Window`].
pub const MAX_WINDOW: usize = 1 << 16;

/// Number of elements of `shape`, or an error when a dimension is zero or
/// too large, the rank exceeds [`MAX_RANK`], or the count overflows.
/// `what` names the tensor in messages.
pub fn checked_elems(shape: &[usize], what: &str) -> Result<u64, GraphError> {
    if shape.len() > MAX_RANK {
        return Err(GraphError(format!(
            "{what} has rank {}, more than the maximum {MAX_RANK}",
            shape.len()
        )));
    }
    let mut n: u64 = 1;
    for (i, &d) in shape.iter().enumerate() {
        if d == 0 {
            return Err(GraphError(format!(
                "{what} has a zero-length dimension {i} (shape {shape:?})"
            )));
        }
        if d > MAX_DIM {
            return Err(GraphError(format!(
                "{what} dimension {i} is {d}, more than the maximum {MAX_DIM}"
            )));
        }
        n = n.checked_mul(d as u64).ok_or_else(|| {
            GraphError(format!("{what} element count overflows (shape {shape:?})"))
        })?;
    }
    Ok(n)
}

/// Size in bytes of `t`, checked against [`MAX_TENSOR_BYTES`] (and the
/// address space), with the shape checks of [`checked_elems`].
pub fn checked_bytes(t: &TensorInfo) -> Result<u64, GraphError> {
    let what = format!("tensor '{}'", t.name);
    let elems = checked_elems(&t.shape, &what)?;
    let bytes = elems
        .checked_mul(t.dtype.size() as u64)
        .filter(|&b| b <= MAX_TENSOR_BYTES && b <= isize::MAX as u64)
        .ok_or_else(|| {
            GraphError(format!(
                "{what} of shape {:?} and type {:?} is larger than the limit of {MAX_TENSOR_BYTES} bytes",
                t.shape, t.dtype
            ))
        })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests;
