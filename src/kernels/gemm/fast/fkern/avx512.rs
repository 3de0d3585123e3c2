//! AVX-512F float micro-kernel: 8 × 32 tile, two zmm accumulators per
//! row, A broadcast from memory.
//!
//! The AVX-512 intrinsics are stable since Rust 1.89, the crate's MSRV.

use std::arch::x86_64::*;

use super::scalar;

/// Tile rows.
pub(crate) const MR: usize = 8;
/// Tile columns.
pub(crate) const NR: usize = 32;

/// Safe entry: checks lengths and the CPU, else the portable kernel.
pub(crate) fn run(rows: usize, kc: usize, a: &[f32], b: &[f32], out: &mut [f32]) {
    let ok = (1..=MR).contains(&rows)
        && a.len() >= kc * MR
        && b.len() >= kc * NR
        && out.len() >= MR * NR
        && crate::kernels::gemm::fast::isa::x86_avx512();
    if !ok {
        return scalar::generic(MR, NR, rows, kc, a, b, out);
    }
    let (a, b, o) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    // SAFETY: AVX-512F is present; `a` holds kc·MR values, `b` kc·NR and
    // `out` MR·NR, which is all the kernel reads and writes.
    unsafe {
        match rows {
            1 => tile::<1>(kc, a, b, o),
            2 => tile::<2>(kc, a, b, o),
            3 => tile::<3>(kc, a, b, o),
            4 => tile::<4>(kc, a, b, o),
            5 => tile::<5>(kc, a, b, o),
            6 => tile::<6>(kc, a, b, o),
            7 => tile::<7>(kc, a, b, o),
            _ => tile::<8>(kc, a, b, o),
        }
    }
}

/// # Safety
/// AVX-512F available; `a`: kc·MR, `b`: kc·NR, `out`: MR·NR values.
#[target_feature(enable = "avx512f")]
unsafe fn tile<const R: usize>(kc: usize, a: *const f32, b: *const f32, out: *mut f32) {
    // SAFETY: the caller upholds the contract in `# Safety`.
    unsafe {
        let mut c0 = [_mm512_setzero_ps(); R];
        let mut c1 = [_mm512_setzero_ps(); R];
        for p in 0..kc {
            let bp = b.add(p * NR);
            let b0 = _mm512_loadu_ps(bp);
            let b1 = _mm512_loadu_ps(bp.add(16));
            let ap = a.add(p * MR);
            for i in 0..R {
                let av = _mm512_set1_ps(*ap.add(i));
                c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
                c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
            }
        }
        for i in 0..R {
            _mm512_storeu_ps(out.add(i * NR), c0[i]);
            _mm512_storeu_ps(out.add(i * NR + 16), c1[i]);
        }
    }
}
