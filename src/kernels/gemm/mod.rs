//! Gemm (fully connected) and MatMul kernels, plus the GEMM core shared
//! with the convolutions.

pub(crate) mod core;
pub mod fast;
mod fc;
mod matmul;
#[cfg(test)]
mod tests;

use super::{In, KernelError, Out};
use crate::graph::{DType, Op};

/// Runs Gemm or MatMul, dispatching on the element types.
pub fn run(op: &Op, inputs: &[In<'_>], outputs: &mut [Out<'_>]) -> Result<(), KernelError> {
    let [out] = outputs else {
        return Err(KernelError::invalid(op, "expected one output"));
    };
    let a = inputs
        .first()
        .ok_or_else(|| KernelError::invalid(op, "missing input A"))?;
    match (op, a.info.dtype) {
        (Op::Gemm { .. }, DType::F32) => fc::run_f32(op, inputs, out),
        (Op::Gemm { .. }, DType::I8) => fc::run_i8(op, inputs, out),
        (Op::MatMul, DType::F32) => matmul::run_f32(op, inputs, out),
        (Op::MatMul, DType::I8) => matmul::run_i8(op, inputs, out),
        (Op::Gemm { .. } | Op::MatMul, dt) => Err(KernelError::unsupported(
            op,
            format!("input type {dt:?} (f32 and int8 are supported)"),
        )),
        _ => Err(KernelError::unsupported(op, "not a Gemm/MatMul op")),
    }
}

/// Maps a GEMM core shape error to a kernel error.
pub(crate) fn shape_err(op: &Op) -> impl Fn(core::GemmShapeError) -> KernelError + '_ {
    move |_| KernelError::invalid(op, "operand sizes do not match their shapes")
}
