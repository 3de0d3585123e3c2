//! Fast GEMM kernels: explicit SIMD micro-kernels over packed panels for
//! float (fp32 / fp16 / dequantised int8 operands, f32 accumulation) and
//! int8 (exact int32 accumulation with zero points), B packed once and
//! reused, large products split over the cores.
//!
//! Kernel families are chosen at run time ([`FloatIsa::best`],
//! [`IntIsa::best`]) or forced (`pack_for`), every family has the
//! portable kernel as its reference and fallback. See `docs/gemm.md`.

mod error;
pub mod f16;
mod fdrive;
mod fkern;
mod fpack;
mod idrive;
mod ikern;
pub mod int4;
mod ipack;
pub mod isa;
#[cfg(test)]
mod tests;
pub mod threads;

pub use super::core::MatRef;
pub use error::GemmError;
pub use fdrive::{gemm_f32, FloatA};
pub use fpack::{FloatB, PackedB};
pub use idrive::gemm_i8;
pub use ipack::PackedI8B;
pub use isa::{FloatIsa, IntIsa};
pub use threads::Threads;
