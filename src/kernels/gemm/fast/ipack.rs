//! Packed B for int8 GEMM: panels of the kernel's `nr` columns; within a
//! panel, the reduction is grouped by four (`k` padded with zeros to a
//! multiple of 4) and each group stores `nr` columns × 4 consecutive
//! int8 values — the operand layout of `vpdpbusd`, `sdot` and of the
//! 16-bit `vpmaddwd` / `smull` paths. Column sums are kept for the
//! zero-point and `+128` corrections.

use super::super::core::MatRef;
use super::error::GemmError;
use super::ikern;
use super::isa::IntIsa;

/// Int8 B packed once for many GEMMs against it.
#[derive(Clone, Debug)]
pub struct PackedI8B {
    isa: IntIsa,
    k: usize,
    kp: usize,
    n: usize,
    nr: usize,
    data: Vec<i8>,
    colsum: Vec<i32>,
}

impl PackedI8B {
    /// Packs the `k` × `n` matrix `b` for the fastest kernel of this CPU.
    pub fn pack(k: usize, n: usize, b: MatRef<'_, i8>) -> Result<PackedI8B, GemmError> {
        PackedI8B::pack_for(IntIsa::best(), k, n, b)
    }

    /// Packs `b` for the kernel family `isa` (an error if this CPU cannot
    /// run it).
    pub fn pack_for(
        isa: IntIsa,
        k: usize,
        n: usize,
        b: MatRef<'_, i8>,
    ) -> Result<PackedI8B, GemmError> {
        if !isa.available() {
            return Err(GemmError::IsaUnavailable(ikern::name(isa)));
        }
        if !b.fits(k, n) {
            return Err(GemmError::Shape);
        }
        let nr = ikern::tile(isa).nr;
        let kp = k.div_ceil(4) * 4;
        let panels = n.div_ceil(nr);
        let mut data = vec![0i8; panels * kp * nr];
        let mut colsum = vec![0i32; panels * nr];
        for (pi, panel) in data
            .chunks_exact_mut((kp * nr).max(1))
            .enumerate()
            .take(panels)
        {
            let j0 = pi * nr;
            let w = nr.min(n - j0);
            for (q, group) in panel.chunks_exact_mut(nr * 4).enumerate() {
                for t in 0..4 {
                    let p = q * 4 + t;
                    if p >= k {
                        break;
                    }
                    let dst = group.iter_mut().skip(t).step_by(4);
                    if b.cs == 1 {
                        let s = p * b.rs + j0;
                        for (x, &v) in dst.zip(b.data.get(s..s + w).unwrap_or(&[])) {
                            *x = v;
                        }
                    } else {
                        for (j, x) in dst.take(w).enumerate() {
                            *x = b.at(p, j0 + j);
                        }
                    }
                }
            }
            for (j, sum) in colsum[j0..j0 + w].iter_mut().enumerate() {
                *sum = panel
                    .chunks_exact(4)
                    .skip(j)
                    .step_by(nr)
                    .flatten()
                    .map(|&v| v as i32)
                    .sum();
            }
        }
        Ok(PackedI8B {
            isa,
            k,
            kp,
            n,
            nr,
            data,
            colsum,
        })
    }

    /// Rows of B (the reduction length).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of B.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The kernel family this B was packed for.
    pub fn isa(&self) -> IntIsa {
        self.isa
    }

    /// Panel width.
    pub(crate) fn nr(&self) -> usize {
        self.nr
    }

    /// Reduction length padded to a multiple of 4.
    pub(crate) fn kp(&self) -> usize {
        self.kp
    }

    /// Sum over the reduction of each column (`nr` per panel).
    pub(crate) fn colsum(&self) -> &[i32] {
        &self.colsum
    }

    /// Steps `p0..p0 + kc` (multiples of 4 within `kp`) of panel `panel`.
    pub(crate) fn rows(&self, panel: usize, p0: usize, kc: usize) -> &[i8] {
        let lo = panel * self.kp * self.nr + p0 * self.nr;
        self.data.get(lo..lo + kc * self.nr).unwrap_or(&[])
    }
}
