//! fp16 ↔ fp32 conversion of slices: F16C (`vcvtph2ps` / `vcvtps2ph`) on
//! x86_64, `fcvtl` / `fcvtn` on aarch64, the `half` crate elsewhere and
//! for tails. Rounding to fp16 is to nearest, ties to even.

use half::f16;

/// Widens `src` into `dst` (the shorter length of the two).
pub fn f16_to_f32(src: &[f16], dst: &mut [f32]) {
    let n = src.len().min(dst.len());
    let done = simd_widen(&src[..n], &mut dst[..n]);
    for (d, s) in dst[done..n].iter_mut().zip(&src[done..n]) {
        *d = s.to_f32();
    }
}

/// Narrows `src` into `dst` (the shorter length of the two).
pub fn f32_to_f16(src: &[f32], dst: &mut [f16]) {
    let n = src.len().min(dst.len());
    let done = simd_narrow(&src[..n], &mut dst[..n]);
    for (d, s) in dst[done..n].iter_mut().zip(&src[done..n]) {
        *d = f16::from_f32(*s);
    }
}

/// Converts whole groups of 8; returns how many elements were done.
#[cfg(target_arch = "x86_64")]
fn simd_widen(src: &[f16], dst: &mut [f32]) -> usize {
    if !super::isa::x86_avx2() {
        return 0;
    }
    let n = src.len() / 8 * 8;
    // SAFETY: F16C is present (checked above); both slices hold `n`
    // elements, read and written 8 at a time below `n`.
    unsafe { x86::widen(src.as_ptr(), dst.as_mut_ptr(), n) };
    n
}

#[cfg(target_arch = "x86_64")]
fn simd_narrow(src: &[f32], dst: &mut [f16]) -> usize {
    if !super::isa::x86_avx2() {
        return 0;
    }
    let n = src.len() / 8 * 8;
    // SAFETY: as in `simd_widen`.
    unsafe { x86::narrow(src.as_ptr(), dst.as_mut_ptr(), n) };
    n
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use half::f16;
    use std::arch::x86_64::*;

    /// # Safety
    /// F16C must be available; `src` and `dst` valid for `n` elements,
    /// `n` a multiple of 8.
    #[target_feature(enable = "avx,f16c")]
    pub(super) unsafe fn widen(src: *const f16, dst: *mut f32, n: usize) {
        // SAFETY: the caller upholds the contract in `# Safety`.
        unsafe {
            for i in (0..n).step_by(8) {
                let h = _mm_loadu_si128(src.add(i) as *const __m128i);
                _mm256_storeu_ps(dst.add(i), _mm256_cvtph_ps(h));
            }
        }
    }

    /// # Safety
    /// As [`widen`].
    #[target_feature(enable = "avx,f16c")]
    pub(super) unsafe fn narrow(src: *const f32, dst: *mut f16, n: usize) {
        // SAFETY: the caller upholds the contract in `# Safety`.
        unsafe {
            for i in (0..n).step_by(8) {
                let v = _mm256_loadu_ps(src.add(i));
                let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
                _mm_storeu_si128(dst.add(i) as *mut __m128i, h);
            }
        }
    }
}

#[cfg(target_arch = "aarch64")]
fn simd_widen(src: &[f16], dst: &mut [f32]) -> usize {
    let n = src.len() / 8 * 8;
    for i in (0..n).step_by(8) {
        // SAFETY: 8 halves are read from `src[i..i + 8]` and 8 floats
        // written to `dst[i..i + 8]`, both in bounds (`i + 8 <= n`);
        // `fcvtl` is base ARMv8 and uses the current (nearest) rounding.
        unsafe {
            std::arch::asm!(
                "ld1 {{v0.8h}}, [{s}]",
                "fcvtl v1.4s, v0.4h",
                "fcvtl2 v2.4s, v0.8h",
                "st1 {{v1.4s, v2.4s}}, [{d}]",
                s = in(reg) src.as_ptr().add(i),
                d = in(reg) dst.as_mut_ptr().add(i),
                out("v0") _, out("v1") _, out("v2") _,
                options(nostack),
            );
        }
    }
    n
}

#[cfg(target_arch = "aarch64")]
fn simd_narrow(src: &[f32], dst: &mut [f16]) -> usize {
    let n = src.len() / 8 * 8;
    for i in (0..n).step_by(8) {
        // SAFETY: 8 floats read from `src[i..i + 8]`, 8 halves written to
        // `dst[i..i + 8]`, in bounds; `fcvtn` rounds to nearest even.
        unsafe {
            std::arch::asm!(
                "ld1 {{v1.4s, v2.4s}}, [{s}]",
                "fcvtn v0.4h, v1.4s",
                "fcvtn2 v0.8h, v2.4s",
                "st1 {{v0.8h}}, [{d}]",
                s = in(reg) src.as_ptr().add(i),
                d = in(reg) dst.as_mut_ptr().add(i),
                out("v0") _, out("v1") _, out("v2") _,
                options(nostack),
            );
        }
    }
    n
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn simd_widen(_: &[f16], _: &mut [f32]) -> usize {
    0
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn simd_narrow(_: &[f32], _: &mut [f16]) -> usize {
    0
}
