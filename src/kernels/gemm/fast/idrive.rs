//! Int8 GEMM driver: `C[m×n] += Σ_p (A[i,p] − za[i]) · (B[p,j] − zb[j])`
//! against a [`PackedI8B`], exact in int32 (wrapping arithmetic, so the
//! result is exact whenever the true sum fits in int32).
//!
//! The kernels accumulate raw `Σ a'·b` where `a' = a + off` (`off` = 128
//! for VNNI, else 0); the zero points and the offset are folded in
//! afterwards from row sums of A and column sums of B:
//! `Σ(a−za)(b−zb) = Σa'b − (za+off)·Σb − zb·Σa + k·za·zb`.
//! Blocking and threading follow the float driver.

use super::super::core::MatRef;
use super::error::GemmError;
use super::fdrive::c_fits;
use super::ikern::{self, IntTile, MAX_TILE};
use super::ipack::PackedI8B;
use super::threads::{run_dynamic, split, Threads};

/// Reduction steps per block (a multiple of 4).
const KC: usize = 512;
/// Rows of A per packed block.
const MC: usize = 240;
/// Column chunks per thread in a parallel GEMM (load balancing).
const CHUNKS_PER_THREAD: usize = 4;

/// Zero points: one entry or one per row / column.
fn zp_at(zp: &[i32], i: usize) -> i32 {
    if zp.len() == 1 {
        zp[0]
    } else {
        zp[i]
    }
}

/// `C[m×n] += (A − a_zp) · (B − b_zp)` with int32 accumulation; `a_zp`
/// holds one entry or `m`, `b_zp` one entry or `n`. C row-major with row
/// stride `ldc`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_i8(
    m: usize,
    a: MatRef<'_, i8>,
    a_zp: &[i32],
    b: &PackedI8B,
    b_zp: &[i32],
    c: &mut [i32],
    ldc: usize,
    threads: Threads,
) -> Result<(), GemmError> {
    let (k, n) = (b.k(), b.n());
    let zp_ok = |zp: &[i32], len: usize| zp.len() == 1 || zp.len() == len;
    if !a.fits(m, k) || !c_fits(m, n, ldc, c.len()) || !zp_ok(a_zp, m) || !zp_ok(b_zp, n) {
        return Err(GemmError::Shape);
    }
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    let rowsum: Vec<i32> = (0..m)
        .map(|i| match a.data.get(i * a.rs..i * a.rs + k) {
            Some(row) if a.cs == 1 => row.iter().fold(0i32, |s, &v| s.wrapping_add(v as i32)),
            _ => (0..k).fold(0i32, |s, p| s.wrapping_add(a.at(i, p) as i32)),
        })
        .collect();
    let job = Job {
        m,
        a,
        a_zp,
        b,
        b_zp,
        rowsum: &rowsum,
    };
    let nr = b.nr();
    let panels = n.div_ceil(nr);
    let t = threads.count(m * n * k, panels);
    if t <= 1 {
        job.block(0..panels, c, ldc, 0, None);
        return Ok(());
    }
    // A is packed once for all threads; panels are handed out in chunks
    // to whichever thread is free.
    let pre = job.pack_all();
    let chunks = split(panels, (t * CHUNKS_PER_THREAD).min(panels));
    let parts = run_dynamic(&chunks, t, |r| {
        let j0 = r.start * nr;
        let w = (r.end * nr).min(n) - j0;
        let mut tmp = vec![0i32; m * w];
        job.block(r.clone(), &mut tmp, w, j0, Some(&pre));
        (r, tmp)
    });
    for (r, tmp) in parts {
        let j0 = r.start * nr;
        let w = (r.end * nr).min(n) - j0;
        for (crow, trow) in c.chunks_mut(ldc).zip(tmp.chunks_exact(w)) {
            for (x, &v) in crow[j0..j0 + w].iter_mut().zip(trow) {
                *x = x.wrapping_add(v);
            }
        }
    }
    Ok(())
}

/// One int8 GEMM's operands.
struct Job<'a> {
    m: usize,
    a: MatRef<'a, i8>,
    a_zp: &'a [i32],
    b: &'a PackedI8B,
    b_zp: &'a [i32],
    rowsum: &'a [i32],
}

impl Job<'_> {
    /// Packs rows `i0..i0 + mc`, steps `p0..p0 + kc` (kc a multiple of 4,
    /// steps past `k` zero) of A in the family's format: per tile of `mr`
    /// rows, per group of four steps, `mr` × 4 elements.
    fn pack_a(
        &self,
        tile: &IntTile,
        (i0, mc): (usize, usize),
        (p0, kc): (usize, usize),
        buf: &mut [u8],
    ) {
        let (mr, eb, off) = (tile.mr, tile.a_bytes, tile.a_offset);
        let k = self.b.k();
        let live = kc.min(k.saturating_sub(p0));
        for (t, dst) in buf
            .chunks_exact_mut(mr * kc * eb)
            .take(mc.div_ceil(mr))
            .enumerate()
        {
            dst.fill(0);
            for r in 0..mr.min(mc - t * mr) {
                let i = i0 + t * mr + r;
                let put = |dst: &mut [u8], p: usize, v: i8| {
                    let at = (p / 4) * mr * 4 * eb + r * 4 * eb + (p % 4) * eb;
                    let v = v as i32 + off;
                    if eb == 1 {
                        dst[at] = v as u8;
                    } else {
                        dst[at..at + 2].copy_from_slice(&(v as i16).to_le_bytes());
                    }
                };
                if self.a.cs == 1 {
                    let s = i * self.a.rs + p0;
                    for (p, &v) in self
                        .a
                        .data
                        .get(s..s + live)
                        .unwrap_or(&[])
                        .iter()
                        .enumerate()
                    {
                        put(dst, p, v);
                    }
                } else {
                    for p in 0..live {
                        put(dst, p, self.a.at(i, p0 + p));
                    }
                }
            }
        }
    }

    /// Every block of A packed as [`Job::block`] uses it, in its loop
    /// order (reduction blocks outer, row blocks inner).
    fn pack_all(&self) -> Vec<Vec<u8>> {
        let tile = ikern::tile(self.b.isa());
        let (m, kp) = (self.m, self.b.kp());
        let mut out = Vec::new();
        for p0 in (0..kp).step_by(KC) {
            let kc = KC.min(kp - p0);
            for i0 in (0..m).step_by(MC) {
                let mc = MC.min(m - i0);
                let mut buf = vec![0u8; mc.div_ceil(tile.mr) * tile.mr * kc * tile.a_bytes];
                self.pack_a(&tile, (i0, mc), (p0, kc), &mut buf);
                out.push(buf);
            }
        }
        out
    }

    /// Computes output columns of `panels` into `out` (row stride `ldo`,
    /// column 0 of `out` is column `col0` of C), corrections included;
    /// packs A as it goes unless `pre` holds it packed.
    fn block(
        &self,
        panels: std::ops::Range<usize>,
        out: &mut [i32],
        ldo: usize,
        col0: usize,
        pre: Option<&[Vec<u8>]>,
    ) {
        let tile = ikern::tile(self.b.isa());
        let (mr, nr) = (tile.mr, tile.nr);
        let (m, k, kp, n) = (self.m, self.b.k(), self.b.kp(), self.b.n());
        let mc_max = MC.min(m.div_ceil(mr) * mr);
        let mut own = vec![
            0u8;
            if pre.is_some() {
                0
            } else {
                mc_max * KC.min(kp) * tile.a_bytes
            }
        ];
        let mut blk = 0;
        let mut acc = [0i32; MAX_TILE];
        for p0 in (0..kp).step_by(KC) {
            let kc = KC.min(kp - p0);
            for i0 in (0..m).step_by(MC) {
                let mc = MC.min(m - i0);
                let apack: &[u8] = match pre {
                    Some(pre) => pre.get(blk).map_or(&[], |v| v.as_slice()),
                    None => {
                        self.pack_a(&tile, (i0, mc), (p0, kc), &mut own);
                        &own
                    }
                };
                blk += 1;
                for panel in panels.clone() {
                    let bs = self.b.rows(panel, p0, kc);
                    let j0 = panel * nr;
                    let w = nr.min(n - j0);
                    let oc = j0 - col0;
                    let tile_len = mr * kc * tile.a_bytes;
                    for (t, at) in apack
                        .chunks_exact(tile_len)
                        .take(mc.div_ceil(mr))
                        .enumerate()
                    {
                        let rows = mr.min(mc - t * mr);
                        (tile.run)(rows, kc / 4, at, bs, &mut acc);
                        let r0 = i0 + t * mr;
                        for (r, tr) in acc.chunks_exact(nr).take(rows).enumerate() {
                            let o = (r0 + r) * ldo + oc;
                            if let Some(dst) = out.get_mut(o..o + w) {
                                for (x, &v) in dst.iter_mut().zip(tr) {
                                    *x = x.wrapping_add(v);
                                }
                            }
                        }
                    }
                }
            }
        }
        let colsum = self.b.colsum();
        let kk = k as i32;
        let cols = (panels.end * nr).min(n) - panels.start * nr;
        for i in 0..m {
            let za = zp_at(self.a_zp, i);
            let zaoff = za.wrapping_add(tile.a_offset);
            let rs = self.rowsum[i];
            let o = i * ldo;
            let Some(row) = out.get_mut(o..o + cols) else {
                continue;
            };
            for (jj, x) in row.iter_mut().enumerate() {
                let j = col0 + jj;
                let zb = zp_at(self.b_zp, j);
                let corr = kk
                    .wrapping_mul(za)
                    .wrapping_mul(zb)
                    .wrapping_sub(zaoff.wrapping_mul(colsum[j]))
                    .wrapping_sub(zb.wrapping_mul(rs));
                *x = x.wrapping_add(corr);
            }
        }
    }
}
