//! Packed B for float GEMM: columns grouped in panels of the kernel's
//! `NR`, each panel `K` rows of `NR` contiguous values (tail columns zero).
//! fp32, fp16 and dequantised int8 are kept in their own element type
//! (fp16 and int8 stay half / quarter size in memory) and widened to f32
//! one cache-sized slice at a time while the GEMM runs.

use half::f16;

use super::super::core::MatRef;
use super::error::GemmError;
use super::f16::f16_to_f32;
use super::fkern;
use super::isa::FloatIsa;

/// A float B operand, as given by the caller.
#[derive(Clone, Copy, Debug)]
pub enum FloatB<'a> {
    /// fp32 values.
    F32(MatRef<'a, f32>),
    /// fp16 values.
    F16(MatRef<'a, f16>),
    /// int8 values dequantised per column as `(b - zp[j]) * scale[j]`;
    /// `scale` and `zp` hold one entry (per tensor) or `n` (per column).
    I8 {
        /// The int8 matrix.
        b: MatRef<'a, i8>,
        /// Scales.
        scale: &'a [f32],
        /// Zero points.
        zp: &'a [i32],
    },
}

/// Element storage of a packed float B.
#[derive(Clone, Debug)]
enum Store {
    F32(Vec<f32>),
    F16(Vec<f16>),
    I8 {
        data: Vec<i8>,
        scale: Vec<f32>,
        zp: Vec<f32>,
    },
}

/// B packed once for many float GEMMs against it (model weights at init,
/// the matmul API at `rknn_matmul_set_io_mem`).
#[derive(Clone, Debug)]
pub struct PackedB {
    isa: FloatIsa,
    k: usize,
    n: usize,
    nr: usize,
    store: Store,
}

fn per_col<T: Copy>(v: &[T], n: usize) -> Result<impl Fn(usize) -> T + '_, GemmError> {
    if v.len() == 1 || v.len() == n {
        Ok(move |j: usize| if v.len() == 1 { v[0] } else { v[j] })
    } else {
        Err(GemmError::Shape)
    }
}

/// Lays `b` out in panels of `nr` columns, zero padded: row slices are
/// copied when `b` is row-major, elements gathered otherwise.
fn panels<T: Copy + Default>(k: usize, n: usize, nr: usize, b: &MatRef<'_, T>) -> Vec<T> {
    if b.cs != 1 {
        return panels_by(k, n, nr, |p, j| b.at(p, j));
    }
    let np = n.div_ceil(nr);
    let mut out = vec![T::default(); np * k * nr];
    for (pi, panel) in out.chunks_exact_mut((k * nr).max(1)).enumerate().take(np) {
        let j0 = pi * nr;
        let w = nr.min(n - j0);
        for (p, row) in panel.chunks_exact_mut(nr).enumerate() {
            let s = p * b.rs + j0;
            if let Some(src) = b.data.get(s..s + w) {
                row[..w].copy_from_slice(src);
            }
        }
    }
    out
}

/// Lays `get(p, j)` out in panels of `nr` columns, zero padded.
fn panels_by<T: Copy + Default>(
    k: usize,
    n: usize,
    nr: usize,
    get: impl Fn(usize, usize) -> T,
) -> Vec<T> {
    let np = n.div_ceil(nr);
    let mut out = vec![T::default(); np * k * nr];
    for (pi, panel) in out.chunks_exact_mut((k * nr).max(1)).enumerate().take(np) {
        let j0 = pi * nr;
        let w = nr.min(n - j0);
        for (p, row) in panel.chunks_exact_mut(nr).enumerate() {
            for (j, x) in row.iter_mut().enumerate().take(w) {
                *x = get(p, j0 + j);
            }
        }
    }
    out
}

impl PackedB {
    /// Packs the `k` × `n` matrix `b` for the fastest kernel of this CPU.
    pub fn pack(k: usize, n: usize, b: FloatB<'_>) -> Result<PackedB, GemmError> {
        PackedB::pack_for(FloatIsa::best(), k, n, b)
    }

    /// Packs `b` for the kernel family `isa` (an error if this CPU cannot
    /// run it).
    pub fn pack_for(
        isa: FloatIsa,
        k: usize,
        n: usize,
        b: FloatB<'_>,
    ) -> Result<PackedB, GemmError> {
        if !isa.available() {
            return Err(GemmError::IsaUnavailable(fkern::name(isa)));
        }
        let nr = fkern::tile(isa).nr;
        let store = match b {
            FloatB::F32(m) => {
                fit(&m, k, n)?;
                Store::F32(panels(k, n, nr, &m))
            }
            FloatB::F16(m) => {
                fit(&m, k, n)?;
                Store::F16(panels(k, n, nr, &m))
            }
            FloatB::I8 { b: m, scale, zp } => {
                fit(&m, k, n)?;
                let s = per_col(scale, n)?;
                let z = per_col(zp, n)?;
                let cols = n.div_ceil(nr) * nr;
                Store::I8 {
                    data: panels(k, n, nr, &m),
                    scale: (0..cols).map(|j| if j < n { s(j) } else { 0.0 }).collect(),
                    zp: (0..cols)
                        .map(|j| if j < n { z(j) as f32 } else { 0.0 })
                        .collect(),
                }
            }
        };
        Ok(PackedB {
            isa,
            k,
            n,
            nr,
            store,
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
    pub fn isa(&self) -> FloatIsa {
        self.isa
    }

    /// Panel width.
    pub(crate) fn nr(&self) -> usize {
        self.nr
    }

    /// Rows `p0..p0 + kc` of panel `panel` as f32 (`kc * nr` values),
    /// borrowed when stored as f32, otherwise widened into `scratch`.
    pub(crate) fn rows<'s>(
        &'s self,
        panel: usize,
        p0: usize,
        kc: usize,
        scratch: &'s mut [f32],
    ) -> &'s [f32] {
        let nr = self.nr;
        let lo = panel * self.k * nr + p0 * nr;
        let len = kc * nr;
        let cap = len.min(scratch.len());
        match &self.store {
            Store::F32(d) => d.get(lo..lo + len).unwrap_or(&[]),
            Store::F16(d) => {
                let src = d.get(lo..lo + len).unwrap_or(&[]);
                let dst = &mut scratch[..cap];
                f16_to_f32(src, dst);
                dst
            }
            Store::I8 { data, scale, zp } => {
                let src = data.get(lo..lo + len).unwrap_or(&[]);
                let c0 = panel * nr;
                let (s, z) = (&scale[c0..c0 + nr], &zp[c0..c0 + nr]);
                let dst = &mut scratch[..cap];
                for (drow, srow) in dst.chunks_exact_mut(nr).zip(src.chunks_exact(nr)) {
                    for (((d, &v), &sc), &zz) in drow.iter_mut().zip(srow).zip(s).zip(z) {
                        *d = (v as f32 - zz) * sc;
                    }
                }
                dst
            }
        }
    }
}

fn fit<T: Copy>(m: &MatRef<'_, T>, rows: usize, cols: usize) -> Result<(), GemmError> {
    if m.fits(rows, cols) {
        Ok(())
    } else {
        Err(GemmError::Shape)
    }
}
