//! Kernel family placeholder (filled in by its owner).

use super::{In, KernelError, Out};
use crate::graph::Op;

/// Runs an op of this family.
pub fn run(op: &Op, inputs: &[In<'_>], outputs: &mut [Out<'_>]) -> Result<(), KernelError> {
    let _ = (inputs, outputs);
    Err(KernelError::unsupported(op, "kernel not written yet"))
}
