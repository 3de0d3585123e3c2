//! Errors of the fast GEMM entry points.

use super::super::core::GemmShapeError;

/// Why a GEMM or a packing could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GemmError {
    /// The operands do not fit their buffers, or zero-point / scale arrays
    /// have the wrong length.
    #[error("gemm: operand sizes do not match their shapes")]
    Shape,
    /// The requested kernel family cannot run on this CPU.
    #[error("gemm: kernel family {0} is not supported by this CPU")]
    IsaUnavailable(&'static str),
}

impl From<GemmShapeError> for GemmError {
    fn from(_: GemmShapeError) -> GemmError {
        GemmError::Shape
    }
}

impl From<GemmError> for GemmShapeError {
    fn from(_: GemmError) -> GemmShapeError {
        GemmShapeError
    }
}
