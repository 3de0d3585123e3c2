//! Int8 micro-kernels: the raw int32 dot products `Σ a·b` of an `mr` ×
//! `nr` tile over `kq` groups of four reduction steps, written (not
//! accumulated) to a row-major tile. A is packed per family (see
//! [`IntTile::a_bytes`] and [`IntTile::a_offset`]); B as
//! [`super::ipack::PackedI8B`]. All arithmetic wraps modulo 2³², so the
//! final corrected result is exact whenever it fits in int32.
//!
//! Each family's `run` checks slice lengths and the CPU feature and falls
//! back to the portable code otherwise.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "aarch64")]
mod neondot;
pub(crate) mod scalar;
#[cfg(target_arch = "x86_64")]
mod vnni;

use super::isa::IntIsa;

/// `run(rows, kq, a, b, out)`.
pub(crate) type IntKernel = fn(usize, usize, &[u8], &[i8], &mut [i32]);

/// A family's tile shape, A format and kernel.
#[derive(Clone, Copy)]
pub(crate) struct IntTile {
    /// Rows of the tile.
    pub mr: usize,
    /// Columns of the tile (the panel width of packed B).
    pub nr: usize,
    /// Bytes per packed A element: 1 (int8 / uint8) or 2 (int16 LE).
    pub a_bytes: usize,
    /// Added to A while packing (128 for `vpdpbusd`'s unsigned operand).
    pub a_offset: i32,
    /// The kernel.
    pub run: IntKernel,
}

/// Largest `mr * nr` of any family.
pub(crate) const MAX_TILE: usize = 256;

/// The tile of `isa` (the portable one where the family does not exist
/// for this target).
pub(crate) fn tile(isa: IntIsa) -> IntTile {
    match isa {
        #[cfg(target_arch = "x86_64")]
        IntIsa::Avx512Vnni => IntTile {
            mr: vnni::MR,
            nr: vnni::NR,
            a_bytes: 1,
            a_offset: 128,
            run: vnni::run,
        },
        #[cfg(target_arch = "x86_64")]
        IntIsa::Avx2 => IntTile {
            mr: avx2::MR,
            nr: avx2::NR,
            a_bytes: 2,
            a_offset: 0,
            run: avx2::run,
        },
        #[cfg(target_arch = "aarch64")]
        IntIsa::NeonDot => IntTile {
            mr: neondot::MR,
            nr: neondot::NR,
            a_bytes: 1,
            a_offset: 0,
            run: neondot::run,
        },
        #[cfg(target_arch = "aarch64")]
        IntIsa::Neon => IntTile {
            mr: neon::MR,
            nr: neon::NR,
            a_bytes: 1,
            a_offset: 0,
            run: neon::run,
        },
        _ => IntTile {
            mr: scalar::MR,
            nr: scalar::NR,
            a_bytes: 1,
            a_offset: 0,
            run: scalar::run,
        },
    }
}

/// Display name of a family.
pub(crate) fn name(isa: IntIsa) -> &'static str {
    match isa {
        IntIsa::Scalar => "scalar",
        IntIsa::Avx2 => "avx2",
        IntIsa::Avx512Vnni => "avx512-vnni",
        IntIsa::Neon => "neon",
        IntIsa::NeonDot => "neon-dotprod",
    }
}
