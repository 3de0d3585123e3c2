//! Float micro-kernels: an `mr` × `nr` tile of `A · B` over `kc` steps,
//! from A packed `mr` values per step and B packed `nr` values per step,
//! written (not accumulated) to a row-major `mr` × `nr` tile.
//!
//! Each family's `run` checks the slice lengths and the CPU feature and
//! falls back to the portable code otherwise, so a call is always safe.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;
pub(crate) mod scalar;

use super::isa::FloatIsa;

/// `run(rows, kc, a, b, out)`: `rows` ≤ `mr` live rows of the tile.
pub(crate) type FloatKernel = fn(usize, usize, &[f32], &[f32], &mut [f32]);

/// A family's tile shape and kernel.
#[derive(Clone, Copy)]
pub(crate) struct FloatTile {
    /// Rows of the tile.
    pub mr: usize,
    /// Columns of the tile (the panel width of packed B).
    pub nr: usize,
    /// The kernel.
    pub run: FloatKernel,
}

/// Largest `mr * nr` of any family.
pub(crate) const MAX_TILE: usize = 256;

/// The tile of `isa` (the portable one where the family does not exist
/// for this target).
pub(crate) fn tile(isa: FloatIsa) -> FloatTile {
    match isa {
        #[cfg(target_arch = "x86_64")]
        FloatIsa::Avx512 => FloatTile {
            mr: avx512::MR,
            nr: avx512::NR,
            run: avx512::run,
        },
        #[cfg(target_arch = "x86_64")]
        FloatIsa::Avx2 => FloatTile {
            mr: avx2::MR,
            nr: avx2::NR,
            run: avx2::run,
        },
        #[cfg(target_arch = "aarch64")]
        FloatIsa::Neon => FloatTile {
            mr: neon::MR,
            nr: neon::NR,
            run: neon::run,
        },
        _ => FloatTile {
            mr: scalar::MR,
            nr: scalar::NR,
            run: scalar::run,
        },
    }
}

/// Display name of a family.
pub(crate) fn name(isa: FloatIsa) -> &'static str {
    match isa {
        FloatIsa::Scalar => "scalar",
        FloatIsa::Avx2 => "avx2+fma",
        FloatIsa::Avx512 => "avx512f",
        FloatIsa::Neon => "neon",
    }
}
