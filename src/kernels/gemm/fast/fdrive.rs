//! Float GEMM driver: `C[m×n] += A[m×k] · B` against a [`PackedB`].
//!
//! Blocking: `KC` steps of the reduction at a time; within that, up to
//! `MC` rows of A are packed (`mr` rows interleaved, widened to f32) and
//! swept over every panel of B, whose `KC` × `nr` slice stays in L1 while
//! all row tiles of the block use it. Threads take disjoint ranges of
//! panels ([`super::threads`]).

use half::f16;

use super::super::core::MatRef;
use super::error::GemmError;
use super::f16::f16_to_f32;
use super::fkern::{self, FloatTile, MAX_TILE};
use super::fpack::PackedB;
use super::threads::{run_dynamic, split, Threads};

/// Reduction steps per block.
const KC: usize = 256;
/// Rows of A per packed block.
const MC: usize = 240;
/// Column chunks per thread in a parallel GEMM (load balancing).
const CHUNKS_PER_THREAD: usize = 4;

/// A float A operand.
#[derive(Clone, Copy, Debug)]
pub enum FloatA<'a> {
    /// fp32 values.
    F32(MatRef<'a, f32>),
    /// fp16 values (widened while packing).
    F16(MatRef<'a, f16>),
}

impl FloatA<'_> {
    fn fits(&self, rows: usize, cols: usize) -> bool {
        match self {
            FloatA::F32(m) => m.fits(rows, cols),
            FloatA::F16(m) => m.fits(rows, cols),
        }
    }

    #[inline(always)]
    fn at(&self, i: usize, p: usize) -> f32 {
        match self {
            FloatA::F32(m) => m.at(i, p),
            FloatA::F16(m) => m.at(i, p).to_f32(),
        }
    }
}

/// True when an `m` × `n` output with row stride `ldc` fits in `len`.
pub(crate) fn c_fits(m: usize, n: usize, ldc: usize, len: usize) -> bool {
    m == 0
        || n == 0
        || (ldc >= n
            && (m - 1)
                .checked_mul(ldc)
                .and_then(|v| v.checked_add(n))
                .is_some_and(|end| end <= len))
}

/// `C[m×n] += A[m×k] · B` with f32 accumulation; C row-major with row
/// stride `ldc`. `k` and `n` come from `b`.
pub fn gemm_f32(
    m: usize,
    a: FloatA<'_>,
    b: &PackedB,
    c: &mut [f32],
    ldc: usize,
    threads: Threads,
) -> Result<(), GemmError> {
    let (k, n) = (b.k(), b.n());
    if !a.fits(m, k) || !c_fits(m, n, ldc, c.len()) {
        return Err(GemmError::Shape);
    }
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    let nr = b.nr();
    let panels = n.div_ceil(nr);
    let t = threads.count(m * n * k, panels);
    if t <= 1 {
        block(m, &a, b, 0..panels, c, ldc, 0, None);
        return Ok(());
    }
    // A is packed once for all threads; panels are handed out in chunks
    // to whichever thread is free.
    let mr = fkern::tile(b.isa()).mr;
    let pre = pack_all(m, &a, k, mr);
    let chunks = split(panels, (t * CHUNKS_PER_THREAD).min(panels));
    let parts = run_dynamic(&chunks, t, |r| {
        let j0 = r.start * nr;
        let w = (r.end * nr).min(n) - j0;
        let mut tmp = vec![0f32; m * w];
        block(m, &a, b, r.clone(), &mut tmp, w, j0, Some(&pre));
        (r, tmp)
    });
    for (r, tmp) in parts {
        let j0 = r.start * nr;
        let w = (r.end * nr).min(n) - j0;
        for (crow, trow) in c.chunks_mut(ldc).zip(tmp.chunks_exact(w)) {
            for (x, &v) in crow[j0..j0 + w].iter_mut().zip(trow) {
                *x += v;
            }
        }
    }
    Ok(())
}

/// Packs rows `i0..i0 + mc`, steps `p0..p0 + kc` of A: per tile of `mr`
/// rows, `kc` groups of `mr` values (missing rows zero). Row-major rows
/// are widened as slices (F16C / `fcvtl`) into `row` first.
fn pack_a(
    a: &FloatA<'_>,
    (i0, mc): (usize, usize),
    (p0, kc): (usize, usize),
    mr: usize,
    buf: &mut [f32],
    row: &mut [f32],
) {
    for (t, tile) in buf
        .chunks_exact_mut(mr * kc)
        .take(mc.div_ceil(mr))
        .enumerate()
    {
        let rows = mr.min(mc - t * mr);
        for r in 0..mr {
            let i = i0 + t * mr + r;
            let src: &[f32] = if r >= rows {
                row[..kc].fill(0.0);
                &row[..kc]
            } else {
                match a {
                    FloatA::F32(m) if m.cs == 1 => {
                        let s = i * m.rs + p0;
                        m.data.get(s..s + kc).unwrap_or(&[])
                    }
                    FloatA::F16(m) if m.cs == 1 => {
                        let s = i * m.rs + p0;
                        f16_to_f32(m.data.get(s..s + kc).unwrap_or(&[]), &mut row[..kc]);
                        &row[..kc]
                    }
                    _ => {
                        for (p, x) in row[..kc].iter_mut().enumerate() {
                            *x = a.at(i, p0 + p);
                        }
                        &row[..kc]
                    }
                }
            };
            for (x, &v) in tile.iter_mut().skip(r).step_by(mr).zip(src) {
                *x = v;
            }
        }
    }
}

/// Every block of A packed as [`block`] uses it, in its loop order
/// (reduction blocks outer, row blocks inner).
fn pack_all(m: usize, a: &FloatA<'_>, k: usize, mr: usize) -> Vec<Vec<f32>> {
    let mut row = vec![0f32; KC.min(k)];
    let mut out = Vec::new();
    for p0 in (0..k).step_by(KC) {
        let kc = KC.min(k - p0);
        for i0 in (0..m).step_by(MC) {
            let mc = MC.min(m - i0);
            let mut buf = vec![0f32; mc.div_ceil(mr) * mr * kc];
            pack_a(a, (i0, mc), (p0, kc), mr, &mut buf, &mut row);
            out.push(buf);
        }
    }
    out
}

/// Computes output columns of `panels` into `out` (row stride `ldo`,
/// column 0 of `out` is column `col0` of C), packing A as it goes unless
/// `pre` holds it packed ([`pack_all`]).
#[allow(clippy::too_many_arguments)]
fn block(
    m: usize,
    a: &FloatA<'_>,
    b: &PackedB,
    panels: std::ops::Range<usize>,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
    pre: Option<&[Vec<f32>]>,
) {
    let FloatTile { mr, nr, run } = fkern::tile(b.isa());
    let (k, n) = (b.k(), b.n());
    let mc_max = MC.min(m.div_ceil(mr) * mr);
    let mut own = vec![0f32; if pre.is_some() { 0 } else { mc_max * KC.min(k) }];
    let mut blk = 0;
    let mut scratch = vec![0f32; KC.min(k) * nr];
    let mut row = vec![0f32; KC.min(k)];
    let mut acc = [0f32; MAX_TILE];
    for p0 in (0..k).step_by(KC) {
        let kc = KC.min(k - p0);
        for i0 in (0..m).step_by(MC) {
            let mc = MC.min(m - i0);
            let apack: &[f32] = match pre {
                Some(pre) => pre.get(blk).map_or(&[], |v| v.as_slice()),
                None => {
                    pack_a(a, (i0, mc), (p0, kc), mr, &mut own, &mut row);
                    &own
                }
            };
            blk += 1;
            for panel in panels.clone() {
                let bs = b.rows(panel, p0, kc, &mut scratch);
                let j0 = panel * nr;
                let w = nr.min(n - j0);
                let oc = j0 - col0;
                for (t, at) in apack
                    .chunks_exact(mr * kc)
                    .take(mc.div_ceil(mr))
                    .enumerate()
                {
                    let rows = mr.min(mc - t * mr);
                    run(rows, kc, at, bs, &mut acc);
                    let r0 = i0 + t * mr;
                    for (r, tr) in acc.chunks_exact(nr).take(rows).enumerate() {
                        let o = (r0 + r) * ldo + oc;
                        if let Some(dst) = out.get_mut(o..o + w) {
                            for (x, &v) in dst.iter_mut().zip(tr) {
                                *x += v;
                            }
                        }
                    }
                }
            }
        }
    }
}
