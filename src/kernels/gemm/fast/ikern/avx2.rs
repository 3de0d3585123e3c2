//! AVX2 int8 micro-kernel: 6 × 8 tile. B is sign-extended to 16 bits
//! (`vpmovsxbw`), A is packed as int16, and `vpmaddwd` forms exact pair
//! sums (no `vpmaddubsw` saturation); a final `vphaddd` folds the pairs.

use std::arch::x86_64::*;

use super::scalar;

/// Tile rows.
pub(crate) const MR: usize = 6;
/// Tile columns.
pub(crate) const NR: usize = 8;

/// Safe entry: checks lengths and the CPU, else the portable kernel.
pub(crate) fn run(rows: usize, kq: usize, a: &[u8], b: &[i8], out: &mut [i32]) {
    let ok = (1..=MR).contains(&rows)
        && a.len() >= kq * MR * 8
        && b.len() >= kq * NR * 4
        && out.len() >= MR * NR
        && crate::kernels::gemm::fast::isa::x86_avx2();
    if !ok {
        return scalar::generic16(MR, NR, rows, kq, a, b, out);
    }
    let (a, b, o) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    // SAFETY: AVX2 is present; `a` holds kq·MR·8 bytes, `b` kq·NR·4 and
    // `out` MR·NR values, which is all the kernel touches.
    unsafe {
        match rows {
            1 => tile::<1>(kq, a, b, o),
            2 => tile::<2>(kq, a, b, o),
            3 => tile::<3>(kq, a, b, o),
            4 => tile::<4>(kq, a, b, o),
            5 => tile::<5>(kq, a, b, o),
            _ => tile::<6>(kq, a, b, o),
        }
    }
}

/// # Safety
/// AVX2 available; `a`: kq·MR·8 bytes, `b`: kq·NR·4 bytes, `out`: MR·NR
/// values.
#[target_feature(enable = "avx2")]
unsafe fn tile<const R: usize>(kq: usize, a: *const u8, b: *const i8, out: *mut i32) {
    // SAFETY: the caller upholds the contract in `# Safety`.
    unsafe {
        let mut lo = [_mm256_setzero_si256(); R];
        let mut hi = [_mm256_setzero_si256(); R];
        for q in 0..kq {
            let bv = _mm256_loadu_si256(b.add(q * NR * 4) as *const __m256i);
            // Columns 0..4 and 4..8, four int16 steps each.
            let b0 = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(bv));
            let b1 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(bv));
            let ap = a.add(q * MR * 8);
            for i in 0..R {
                let av = _mm256_set1_epi64x((ap.add(i * 8) as *const i64).read_unaligned());
                lo[i] = _mm256_add_epi32(lo[i], _mm256_madd_epi16(b0, av));
                hi[i] = _mm256_add_epi32(hi[i], _mm256_madd_epi16(b1, av));
            }
        }
        for i in 0..R {
            // [c0 c1 c4 c5 | c2 c3 c6 c7] -> [c0 .. c7]
            let s = _mm256_hadd_epi32(lo[i], hi[i]);
            let s = _mm256_permute4x64_epi64::<0xD8>(s);
            _mm256_storeu_si256(out.add(i * NR) as *mut __m256i, s);
        }
    }
}
