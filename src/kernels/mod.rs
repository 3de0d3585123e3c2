//! CPU kernels: one entry point, [`execute`], that runs a node's op on
//! tensors in memory. Float ops compute in f32 (fp16 tensors are widened
//! and narrowed around them); int8 ops follow NPU arithmetic
//! (`docs/numerics.md`, [`quant`]).
//!
//! Shapes are validated by `graph::shape` before any kernel runs, so
//! kernels may rely on consistent shapes; they still never index out of
//! bounds on bad input (slices are bounds-checked, and a mismatch is an
//! error, not a panic).

mod activation;
mod b_q8;
mod b_shape;
#[cfg(test)]
mod b_testutil;
mod conv;
mod convert;
mod elementwise;
pub(crate) mod gemm;
pub(crate) mod im2col;
mod movement;
mod normalize;
mod pool;
mod qparams;
pub mod quant;
mod reduce;
mod tensor;
#[cfg(test)]
mod testutil;

pub use gemm::fast as fast_gemm;
pub use tensor::{In, Out};

use crate::graph::{DType, Op, TensorInfo};

/// Why a kernel could not run.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The op does not support this combination of types or attributes.
    #[error("{op}: unsupported: {reason}")]
    Unsupported {
        /// Op type name.
        op: String,
        /// What is not supported.
        reason: String,
    },
    /// Inconsistent tensors (sizes, alignment, quantization missing).
    #[error("{op}: {reason}")]
    Invalid {
        /// Op type name.
        op: String,
        /// What is wrong.
        reason: String,
    },
}

impl KernelError {
    /// An `Unsupported` error for `op`.
    pub fn unsupported(op: &Op, reason: impl Into<String>) -> KernelError {
        KernelError::Unsupported {
            op: op.type_name().to_string(),
            reason: reason.into(),
        }
    }

    /// An `Invalid` error for `op`.
    pub fn invalid(op: &Op, reason: impl Into<String>) -> KernelError {
        KernelError::Invalid {
            op: op.type_name().to_string(),
            reason: reason.into(),
        }
    }
}

/// Runs `op` on `inputs`, writing `outputs`.
pub fn execute(op: &Op, inputs: &[In<'_>], outputs: &mut [Out<'_>]) -> Result<(), KernelError> {
    if needs_f16_widening(op, inputs, outputs) {
        return execute_via_f32(op, inputs, outputs);
    }
    match op {
        Op::Conv { .. } | Op::ConvTranspose { .. } => conv::run(op, inputs, outputs),
        Op::Gemm { .. } | Op::MatMul => gemm::run(op, inputs, outputs),
        Op::MaxPool { .. } | Op::AveragePool { .. } | Op::GlobalAveragePool | Op::GlobalMaxPool => {
            pool::run(op, inputs, outputs)
        }
        Op::Binary { .. } | Op::Unary { .. } | Op::PRelu => elementwise::run(op, inputs, outputs),
        Op::Softmax { .. } | Op::LayerNorm { .. } => normalize::run(op, inputs, outputs),
        Op::Reduce { .. } | Op::ArgMax { .. } => reduce::run(op, inputs, outputs),
        Op::Concat { .. }
        | Op::Split { .. }
        | Op::Slice { .. }
        | Op::Reshape
        | Op::Transpose { .. }
        | Op::Pad { .. }
        | Op::Resize { .. }
        | Op::Gather { .. } => movement::run(op, inputs, outputs),
        Op::Cast { .. } | Op::Quantize | Op::Dequantize => convert::run(op, inputs, outputs),
        Op::Custom(_) => Err(KernelError::unsupported(
            op,
            "a custom op runs through the callbacks registered with rknn_register_custom_ops, not the CPU kernels",
        )),
    }
}

/// Arithmetic ops on fp16 tensors run the f32 kernel between a widening
/// and a narrowing pass (fp16 × fp16 with f32 accumulation, as the NPU
/// does). Data-movement and conversion ops handle fp16 directly.
fn needs_f16_widening(op: &Op, inputs: &[In<'_>], outputs: &[Out<'_>]) -> bool {
    let moves_data = matches!(
        op,
        Op::Concat { .. }
            | Op::Split { .. }
            | Op::Slice { .. }
            | Op::Reshape
            | Op::Transpose { .. }
            | Op::Gather { .. }
            | Op::Cast { .. }
            | Op::Quantize
            | Op::Dequantize
    );
    !moves_data
        && (inputs.iter().any(|t| t.info.dtype == DType::F16)
            || outputs.iter().any(|t| t.info.dtype == DType::F16))
}

fn widened(info: &TensorInfo) -> TensorInfo {
    let mut w = info.clone();
    if w.dtype == DType::F16 {
        w.dtype = DType::F32;
    }
    w
}

fn execute_via_f32(op: &Op, inputs: &[In<'_>], outputs: &mut [Out<'_>]) -> Result<(), KernelError> {
    let in_infos: Vec<TensorInfo> = inputs.iter().map(|t| widened(t.info)).collect();
    let out_infos: Vec<TensorInfo> = outputs.iter().map(|t| widened(t.info)).collect();
    let mut in_bufs: Vec<Option<Vec<f32>>> = Vec::with_capacity(inputs.len());
    for t in inputs {
        in_bufs.push(if t.info.dtype == DType::F16 {
            Some(t.f16(op)?.iter().map(|v| v.to_f32()).collect())
        } else {
            None
        });
    }
    let mut out_bufs: Vec<Option<Vec<f32>>> = outputs
        .iter()
        .map(|t| (t.info.dtype == DType::F16).then(|| vec![0f32; t.info.elems()]))
        .collect();
    {
        let wide_in: Vec<In<'_>> = inputs
            .iter()
            .zip(&in_infos)
            .zip(&in_bufs)
            .map(|((t, info), buf)| In {
                info,
                data: match buf {
                    Some(b) => bytemuck::cast_slice(b),
                    None => t.data,
                },
            })
            .collect();
        let mut wide_out: Vec<Out<'_>> = Vec::with_capacity(outputs.len());
        for ((t, info), buf) in outputs.iter_mut().zip(&out_infos).zip(out_bufs.iter_mut()) {
            wide_out.push(Out {
                info,
                data: match buf {
                    Some(b) => bytemuck::cast_slice_mut(b),
                    None => &mut *t.data,
                },
            });
        }
        execute(op, &wide_in, &mut wide_out)?;
    }
    for (t, buf) in outputs.iter_mut().zip(out_bufs) {
        if let Some(b) = buf {
            let dst = t.f16_mut(op)?;
            if dst.len() != b.len() {
                return Err(KernelError::invalid(op, "fp16 output size mismatch"));
            }
            for (d, s) in dst.iter_mut().zip(b) {
                *d = half::f16::from_f32(s);
            }
        }
    }
    Ok(())
}
