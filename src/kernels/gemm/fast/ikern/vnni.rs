//! AVX-512 VNNI int8 micro-kernel: 8 × 32 tile, `vpdpbusd` of A + 128
//! (unsigned) with int8 B; the driver subtracts `128 · colsum(B)`.
//!
//! The AVX-512 intrinsics are stable since Rust 1.89, the crate's MSRV.

use std::arch::x86_64::*;

use super::scalar;

/// Tile rows.
pub(crate) const MR: usize = 8;
/// Tile columns.
pub(crate) const NR: usize = 32;

/// Safe entry: checks lengths and the CPU, else the portable kernel.
pub(crate) fn run(rows: usize, kq: usize, a: &[u8], b: &[i8], out: &mut [i32]) {
    let ok = (1..=MR).contains(&rows)
        && a.len() >= kq * MR * 4
        && b.len() >= kq * NR * 4
        && out.len() >= MR * NR
        && crate::kernels::gemm::fast::isa::x86_vnni();
    if !ok {
        return scalar::generic(MR, NR, rows, kq, a, b, out, 128);
    }
    let (a, b, o) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    // SAFETY: AVX-512F/BW/VNNI are present; `a` holds kq·MR·4 bytes, `b`
    // kq·NR·4 and `out` MR·NR values, which is all the kernel touches.
    unsafe {
        match rows {
            1 => tile::<1>(kq, a, b, o),
            2 => tile::<2>(kq, a, b, o),
            3 => tile::<3>(kq, a, b, o),
            4 => tile::<4>(kq, a, b, o),
            5 => tile::<5>(kq, a, b, o),
            6 => tile::<6>(kq, a, b, o),
            7 => tile::<7>(kq, a, b, o),
            _ => tile::<8>(kq, a, b, o),
        }
    }
}

/// # Safety
/// AVX-512F/BW/VNNI available; `a`: kq·MR·4 bytes, `b`: kq·NR·4 bytes,
/// `out`: MR·NR values.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile<const R: usize>(kq: usize, a: *const u8, b: *const i8, out: *mut i32) {
    // SAFETY: the caller upholds the contract in `# Safety`.
    unsafe {
        let mut c0 = [_mm512_setzero_si512(); R];
        let mut c1 = [_mm512_setzero_si512(); R];
        for q in 0..kq {
            let bp = b.add(q * NR * 4);
            let b0 = _mm512_loadu_si512(bp as *const _);
            let b1 = _mm512_loadu_si512(bp.add(64) as *const _);
            let ap = a.add(q * MR * 4);
            for i in 0..R {
                let av = _mm512_set1_epi32((ap.add(i * 4) as *const i32).read_unaligned());
                c0[i] = _mm512_dpbusd_epi32(c0[i], av, b0);
                c1[i] = _mm512_dpbusd_epi32(c1[i], av, b1);
            }
        }
        for i in 0..R {
            _mm512_storeu_si512(out.add(i * NR) as *mut _, c0[i]);
            _mm512_storeu_si512(out.add(i * NR + 16) as *mut _, c1[i]);
        }
    }
}
