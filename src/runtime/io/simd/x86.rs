//! AVX2 (+ F16C) row kernels. Each function processes whole groups of 16
//! pixels and returns how many pixels it converted; the caller finishes
//! the row with the scalar reference. Callers have checked that the slices
//! hold `w` pixels (see `simd::fits`) and that the CPU has the features.
//!
//! Helpers are `unsafe fn` with `#[target_feature]` and wrap intrinsic
//! calls in `unsafe` blocks: intrinsics are unsafe functions up to Rust
//! 1.86 (the crate's declared minimum is 1.80) and safe inside
//! `#[target_feature]` functions afterwards, hence `unused_unsafe` is
//! allowed here.
#![allow(unused_unsafe)]

use core::arch::x86_64::*;

use crate::kernels::quant::{Rounding, ROUNDING};

use super::{FixedCoeffs, NormCoeffs, QuantCoeffs, Sink};

/// Pixel order of the channel vectors fed to the int8 kernels: with it,
/// `cvtepu8_epi32` of the low and high halves followed by `packs_epi32`
/// yields the 16 results in natural order (pack interleaves 128-bit lanes).
const INT8_ORDER: [usize; 16] = [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15];

/// Natural pixel order (float kernels).
const NATURAL: [usize; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// `pshufb` masks that gather channel `ch` of 16 pixels from the `C`
/// 16-byte loads covering them: `m[ch][k][j]` is the byte of load `k`
/// holding pixel `order[j]`, or 0x80 (zero) when that pixel is in another
/// load.
const fn deinterleave_masks(c: usize, order: &[usize; 16]) -> [[[u8; 16]; 4]; 4] {
    let mut m = [[[0x80u8; 16]; 4]; 4];
    let mut ch = 0;
    while ch < c {
        let mut j = 0;
        while j < 16 {
            let byte = order[j] * c + ch;
            m[ch][byte / 16][j] = (byte % 16) as u8;
            j += 1;
        }
        ch += 1;
    }
    m
}

/// Masks that build 16 output vectors of a blocked row (`c2` bytes per
/// pixel) from 4 "quad" vectors (pixels 4q..4q+3, 4 bytes each): byte `j`
/// of output `k` is global byte `g = 16k + j`, pixel `g / c2`, channel
/// `g % c2`; channels below `c` come from the quads, the rest is padding.
struct BlockMasks {
    quad: [[[u8; 16]; 4]; 16],
    used: [[bool; 4]; 16],
    pad: [[u8; 16]; 16],
    has_pad: [bool; 16],
}

const fn block_masks(c: usize, c2: usize) -> BlockMasks {
    let mut b = BlockMasks {
        quad: [[[0x80u8; 16]; 4]; 16],
        used: [[false; 4]; 16],
        pad: [[0u8; 16]; 16],
        has_pad: [false; 16],
    };
    let mut k = 0;
    while k < c2 {
        let mut j = 0;
        while j < 16 {
            let g = 16 * k + j;
            let (p, ch) = (g / c2, g % c2);
            if ch < c {
                b.quad[k][p / 4][j] = ((p % 4) * 4 + ch) as u8;
                b.used[k][p / 4] = true;
            } else {
                b.pad[k][j] = 0xff;
                b.has_pad[k] = true;
            }
            j += 1;
        }
        k += 1;
    }
    b
}

#[inline(always)]
unsafe fn load16(p: *const u8) -> __m128i {
    // SAFETY: callers pass pointers with 16 readable bytes; loadu has no
    // alignment requirement.
    unsafe { _mm_loadu_si128(p as *const __m128i) }
}

/// Splits 16 pixels of `C` interleaved bytes at `src` into `C` vectors,
/// pixels in [`INT8_ORDER`] when `PERM`, in natural order otherwise.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_channels<const C: usize, const PERM: bool>(src: *const u8) -> [__m128i; 4] {
    let masks = const {
        if PERM {
            deinterleave_masks(C, &INT8_ORDER)
        } else {
            deinterleave_masks(C, &NATURAL)
        }
    };
    // SAFETY: the caller guarantees 16 * C readable bytes at `src`; the
    // mask arrays are 16 bytes long; AVX2 is enabled for this function.
    unsafe {
        let mut v = [_mm_setzero_si128(); 4];
        for (k, slot) in v.iter_mut().enumerate().take(C) {
            *slot = load16(src.add(16 * k));
        }
        if C == 1 && !PERM {
            return v;
        }
        let mut out = [_mm_setzero_si128(); 4];
        for (ch, o) in out.iter_mut().enumerate().take(C) {
            let mut acc = _mm_setzero_si128();
            for (k, vk) in v.iter().enumerate().take(C) {
                let m = load16(masks[ch][k].as_ptr());
                acc = if C == 1 {
                    _mm_shuffle_epi8(*vk, m)
                } else {
                    _mm_or_si128(acc, _mm_shuffle_epi8(*vk, m))
                };
            }
            *o = acc;
        }
        out
    }
}

/// 16 bytes to two vectors of 8 f32 (pixels 0..8, 8..16).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn widen(v: __m128i) -> (__m256, __m256) {
    // SAFETY: register-only intrinsics; AVX2 is enabled for this function.
    unsafe {
        let lo = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
        let hi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128::<8>(v)));
        (lo, hi)
    }
}

/// Rounds to integral values with the build's rounding switch; half away
/// from zero is `trunc(t + copysign(0.5 - 2^-25, t))`, which equals
/// `f32::round` for every finite `t` (the largest float below 0.5 keeps
/// `0.49999997` from rounding up).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn round(t: __m256) -> __m256 {
    // SAFETY: register-only intrinsics; AVX2 is enabled for this function.
    unsafe {
        match ROUNDING {
            Rounding::HalfAwayFromZero => {
                let sign = _mm256_and_ps(t, _mm256_set1_ps(-0.0));
                let half = _mm256_or_ps(sign, _mm256_set1_ps(0.499_999_97));
                _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(_mm256_add_ps(
                    t, half,
                ))
            }
            Rounding::HalfToEven => {
                _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(t)
            }
        }
    }
}

/// `round(x * a + b)` as i32 lanes (exact while `|x * a + b| < 2^30`,
/// which `u8_i8_row` checks). Half away from zero converts
/// `t + copysign(0.5 - 2^-25, t)` with truncation: the same integer as
/// [`round`] followed by truncation.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn round8(x: __m256, a: __m256, b: __m256) -> __m256i {
    // SAFETY: register-only intrinsics; AVX2 is enabled for this function.
    unsafe {
        let t = _mm256_add_ps(_mm256_mul_ps(x, a), b);
        match ROUNDING {
            Rounding::HalfAwayFromZero => {
                let sign = _mm256_and_ps(t, _mm256_set1_ps(-0.0));
                let half = _mm256_or_ps(sign, _mm256_set1_ps(0.499_999_97));
                _mm256_cvttps_epi32(_mm256_add_ps(t, half))
            }
            Rounding::HalfToEven => _mm256_cvttps_epi32(round(t)),
        }
    }
}

/// One channel vector of 16 pixels (in [`INT8_ORDER`]) to 16 i16 lanes in
/// natural order: `sat16(sat16(round(x * a + b)) + zp)`. With `|zp| <= 255`
/// the later saturation to int8 gives exactly
/// `clamp(round(x * a + b) + zp, -128, 127)`: whenever a step saturates,
/// the true value is already far outside the int8 range on the same side.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn quant16(v: __m128i, a: __m256, b: __m256, zp: __m256i) -> __m256i {
    // SAFETY: register-only intrinsics; AVX2 is enabled for this function.
    unsafe {
        let lo = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
        let hi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128::<8>(v)));
        let p = _mm256_packs_epi32(round8(lo, a, b), round8(hi, a, b));
        _mm256_adds_epi16(p, zp)
    }
}

/// Two channels of 16 i16 (natural order) to int8: channel `p` in the low
/// 128 bits, channel `q` in the high 128 bits.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn narrow2(p: __m256i, q: __m256i) -> __m256i {
    // SAFETY: register-only intrinsics; AVX2 is enabled for this function.
    unsafe { _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi16(p, q)) }
}

/// Quantizes the first `C` channel vectors to int8 (natural pixel order).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn quant_channels<const C: usize>(
    ch: &[__m128i; 4],
    a: &[__m256; 4],
    b: &[__m256; 4],
    zp: &[__m256i; 4],
    fill: __m128i,
) -> [__m128i; 4] {
    // SAFETY: register-only intrinsics; AVX2 is enabled for this function.
    unsafe {
        let mut r = [fill; 4];
        let mut i = 0;
        while i < C {
            let p = quant16(ch[i], a[i], b[i], zp[i]);
            let q = if i + 1 < C {
                quant16(ch[i + 1], a[i + 1], b[i + 1], zp[i + 1])
            } else {
                p
            };
            let n = narrow2(p, q);
            r[i] = _mm256_castsi256_si128(n);
            if i + 1 < C {
                r[i + 1] = _mm256_extracti128_si256::<1>(n);
            }
            i += 2;
        }
        r
    }
}

/// Whether the int8 kernels' integer shortcuts are exact for `q`: every
/// `x * a + b` of a byte stays below 2^30 and the zero points fit in
/// `[-255, 255]`.
fn int8_preconditions(c: usize, q: &QuantCoeffs) -> bool {
    (0..c).all(|i| {
        let bound = q.a[i].abs() as f64 * 255.0 + q.b[i].abs() as f64 + 1.0;
        bound < (1u64 << 30) as f64 && q.zp[i].abs() <= 255.0 && q.zp[i].fract() == 0.0
    })
}

/// Broadcasts four per-channel zero points as i16.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn splat_zp(zp: &[f32; 4]) -> [__m256i; 4] {
    // SAFETY: register-only intrinsics; AVX2 is enabled for this function.
    unsafe {
        [
            _mm256_set1_epi16(zp[0] as i16),
            _mm256_set1_epi16(zp[1] as i16),
            _mm256_set1_epi16(zp[2] as i16),
            _mm256_set1_epi16(zp[3] as i16),
        ]
    }
}

/// Broadcasts four per-channel values.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn splat4(v: &[f32; 4]) -> [__m256; 4] {
    // SAFETY: register-only intrinsics; AVX2 is enabled for this function.
    unsafe {
        [
            _mm256_set1_ps(v[0]),
            _mm256_set1_ps(v[1]),
            _mm256_set1_ps(v[2]),
            _mm256_set1_ps(v[3]),
        ]
    }
}

#[target_feature(enable = "avx2")]
unsafe fn i8_planar<const C: usize>(
    src: &[u8],
    w: usize,
    q: &QuantCoeffs,
    dst: &mut [u8],
    plane: usize,
) -> usize {
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut x = 0;
    // SAFETY: x + 16 <= w, src holds w * C bytes and dst holds
    // (C - 1) * plane + w bytes (checked by the dispatcher), so every load
    // and store below is in bounds; AVX2 is enabled for this function.
    unsafe {
        let (a, b, zp) = (splat4(&q.a), splat4(&q.b), splat_zp(&q.zp));
        let zero = _mm_setzero_si128();
        while x + 16 <= w {
            let ch = load_channels::<C, true>(sp.add(x * C));
            let r = quant_channels::<C>(&ch, &a, &b, &zp, zero);
            for (i, ri) in r.iter().enumerate().take(C) {
                _mm_storeu_si128(dp.add(i * plane + x) as *mut __m128i, *ri);
            }
            x += 16;
        }
    }
    x
}

#[target_feature(enable = "avx2")]
unsafe fn i8_blocked<const C: usize, const C2: usize>(
    src: &[u8],
    w: usize,
    q: &QuantCoeffs,
    dst: &mut [u8],
) -> usize {
    let masks = const { block_masks(C, C2) };
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut x = 0;
    // SAFETY: x + 16 <= w, src holds w * C bytes and dst holds w * C2
    // bytes (checked by the dispatcher); the mask arrays are 16 bytes
    // long; AVX2 is enabled for this function.
    unsafe {
        let (a, b, zp) = (splat4(&q.a), splat4(&q.b), splat_zp(&q.zp));
        let pad = _mm_set1_epi8(q.pad as i8);
        while x + 16 <= w {
            let ch = load_channels::<C, true>(sp.add(x * C));
            let r = quant_channels::<C>(&ch, &a, &b, &zp, pad);
            let lo01 = _mm_unpacklo_epi8(r[0], r[1]);
            let hi01 = _mm_unpackhi_epi8(r[0], r[1]);
            let lo23 = _mm_unpacklo_epi8(r[2], r[3]);
            let hi23 = _mm_unpackhi_epi8(r[2], r[3]);
            let quads = [
                _mm_unpacklo_epi16(lo01, lo23),
                _mm_unpackhi_epi16(lo01, lo23),
                _mm_unpacklo_epi16(hi01, hi23),
                _mm_unpackhi_epi16(hi01, hi23),
            ];
            for k in 0..C2 {
                let mut out = _mm_setzero_si128();
                if masks.has_pad[k] {
                    out = _mm_and_si128(pad, load16(masks.pad[k].as_ptr()));
                }
                for (qi, quad) in quads.iter().enumerate() {
                    if masks.used[k][qi] {
                        let m = load16(masks.quad[k][qi].as_ptr());
                        out = _mm_or_si128(out, _mm_shuffle_epi8(*quad, m));
                    }
                }
                _mm_storeu_si128(dp.add(x * C2 + 16 * k) as *mut __m128i, out);
            }
            x += 16;
        }
    }
    x
}

/// 256-bit `pshufb` masks for NC1HWC2 rows with C2 = 8 or 16, applied to
/// a quad (4 pixels x 4 bytes) broadcast to both 128-bit lanes: `m[j]`
/// produces the 32 output bytes of pixels `4 * 32 / C2 * j / 4 ..` — for
/// C2 = 16 pixels `2j` (low lane) and `2j + 1` (high lane) at byte 0 of
/// their blocks; for C2 = 8 pixels 0, 1 (low lane) and 2, 3 (high lane) at
/// bytes 0 and 8. Unused bytes are 0x80 (zero). `keep[j]` is 0xff where a
/// pixel byte lands, 0 where padding goes.
const fn wide_masks(c2: usize) -> ([[u8; 32]; 2], [u8; 32]) {
    let mut m = [[0x80u8; 32]; 2];
    let mut keep = [0u8; 32];
    let per_vec = 32 / c2;
    let mut j = 0;
    while j < 4 / per_vec {
        let mut s = 0;
        while s < per_vec {
            let pixel = j * per_vec + s;
            let lane = (s * c2) / 16;
            let at = lane * 16 + (s * c2) % 16;
            let mut b = 0;
            while b < 4 {
                m[j][at + b] = (pixel * 4 + b) as u8;
                keep[at + b] = 0xff;
                b += 1;
            }
            s += 1;
        }
        j += 1;
    }
    (m, keep)
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load32(p: *const u8) -> __m256i {
    // SAFETY: callers pass pointers with 32 readable bytes.
    unsafe { _mm256_loadu_si256(p as *const __m256i) }
}

/// int8 NC1HWC2 rows with one block of C2 = 8 or 16 channels (C <= 4):
/// two output pixels (C2 = 16) or four (C2 = 8) per 32-byte store.
#[target_feature(enable = "avx2")]
unsafe fn i8_blocked_wide<const C: usize, const C2: usize>(
    src: &[u8],
    w: usize,
    q: &QuantCoeffs,
    dst: &mut [u8],
) -> usize {
    let (masks, keep) = const { wide_masks(C2) };
    let stores = 4 * C2 / 32;
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut x = 0;
    // SAFETY: x + 16 <= w, src holds w * C bytes and dst holds w * C2
    // bytes (checked by the dispatcher); the mask arrays are 32 bytes
    // long; AVX2 is enabled for this function.
    unsafe {
        let (a, b, zp) = (splat4(&q.a), splat4(&q.b), splat_zp(&q.zp));
        let pad = _mm_set1_epi8(q.pad as i8);
        let template = _mm256_andnot_si256(load32(keep.as_ptr()), _mm256_set1_epi8(q.pad as i8));
        let m0 = load32(masks[0].as_ptr());
        let m1 = load32(masks[1].as_ptr());
        while x + 16 <= w {
            let ch = load_channels::<C, true>(sp.add(x * C));
            let r = quant_channels::<C>(&ch, &a, &b, &zp, pad);
            let lo01 = _mm_unpacklo_epi8(r[0], r[1]);
            let hi01 = _mm_unpackhi_epi8(r[0], r[1]);
            let lo23 = _mm_unpacklo_epi8(r[2], r[3]);
            let hi23 = _mm_unpackhi_epi8(r[2], r[3]);
            let quads = [
                _mm_unpacklo_epi16(lo01, lo23),
                _mm_unpackhi_epi16(lo01, lo23),
                _mm_unpacklo_epi16(hi01, hi23),
                _mm_unpackhi_epi16(hi01, hi23),
            ];
            for (qi, quad) in quads.iter().enumerate() {
                let both = _mm256_broadcastsi128_si256(*quad);
                let o = dp.add((x + 4 * qi) * C2) as *mut __m256i;
                let v0 = _mm256_or_si256(_mm256_shuffle_epi8(both, m0), template);
                _mm256_storeu_si256(o, v0);
                if stores == 2 {
                    let v1 = _mm256_or_si256(_mm256_shuffle_epi8(both, m1), template);
                    _mm256_storeu_si256(o.add(1), v1);
                }
            }
            x += 16;
        }
    }
    x
}

/// int8 row; returns the pixels converted (a multiple of 16).
pub(super) fn u8_i8_row(c: usize, src: &[u8], w: usize, q: &QuantCoeffs, sink: &mut Sink) -> usize {
    if !int8_preconditions(c, q) {
        return 0;
    }
    // SAFETY (all calls): the dispatcher detected AVX2 and checked the
    // slice lengths for `w` pixels.
    match sink {
        Sink::Planar { dst, plane } => unsafe {
            match c {
                1 => i8_planar::<1>(src, w, q, dst, *plane),
                2 => i8_planar::<2>(src, w, q, dst, *plane),
                3 => i8_planar::<3>(src, w, q, dst, *plane),
                _ => i8_planar::<4>(src, w, q, dst, *plane),
            }
        },
        Sink::Blocked { dst, c2 } => unsafe {
            match (c, *c2) {
                (1, 1) => i8_blocked::<1, 1>(src, w, q, dst),
                (1, 8) => i8_blocked_wide::<1, 8>(src, w, q, dst),
                (1, 16) => i8_blocked_wide::<1, 16>(src, w, q, dst),
                (2, 2) => i8_blocked::<2, 2>(src, w, q, dst),
                (2, 8) => i8_blocked_wide::<2, 8>(src, w, q, dst),
                (2, 16) => i8_blocked_wide::<2, 16>(src, w, q, dst),
                (3, 3) => i8_blocked::<3, 3>(src, w, q, dst),
                (3, 8) => i8_blocked_wide::<3, 8>(src, w, q, dst),
                (3, 16) => i8_blocked_wide::<3, 16>(src, w, q, dst),
                (4, 4) => i8_blocked::<4, 4>(src, w, q, dst),
                (4, 8) => i8_blocked_wide::<4, 8>(src, w, q, dst),
                (4, 16) => i8_blocked_wide::<4, 16>(src, w, q, dst),
                _ => 0,
            }
        },
    }
}

/// The fixed-point parameters of up to four channels, broadcast.
struct FixedVecs {
    lo: [__m256i; 4],
    n: [__m256i; 4],
    o: [__m256i; 4],
    m: [__m256i; 4],
    b: [__m256i; 4],
    r: [__m128i; 4],
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn fixed_vecs(f: &FixedCoeffs) -> FixedVecs {
    // SAFETY: register-only intrinsics; AVX2 is enabled for this function.
    unsafe {
        let per = |g: &dyn Fn(usize) -> __m256i| [g(0), g(1), g(2), g(3)];
        FixedVecs {
            lo: per(&|i| _mm256_set1_epi8(f.ch[i].lo as i8)),
            n: per(&|i| _mm256_set1_epi8(f.ch[i].n as i8)),
            o: per(&|i| _mm256_set1_epi8(f.ch[i].o as i8)),
            m: per(&|i| _mm256_set1_epi16(f.ch[i].m as i16)),
            b: per(&|i| _mm256_set1_epi16(f.ch[i].b as i16)),
            r: [0, 1, 2, 3].map(|i| _mm_cvtsi32_si128(f.ch[i].r as i32)),
        }
    }
}

/// `vpmulhuw` (unsigned 16-bit multiply-high) as an instruction: written
/// with the intrinsic, LLVM rewrites it next to the byte unpacks into a
/// widened 32-bit multiply with packs and lane permutes, twice the work.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn mulhi_u16(a: __m256i, b: __m256i) -> __m256i {
    let out: __m256i;
    // SAFETY: a register-only instruction of AVX2, enabled here.
    unsafe {
        core::arch::asm!(
            "vpmulhuw {o}, {a}, {b}",
            o = lateout(ymm_reg) out,
            a = in(ymm_reg) a,
            b = in(ymm_reg) b,
            options(pure, nomem, nostack, preserves_flags)
        )
    };
    out
}

/// 32 bytes of channel `i` to 32 int8 results in the same order
/// (`simd::fixed`): clamp, unpack under the offset byte, multiply-high,
/// add, shift, pack. Unpack and pack both work within 128-bit lanes, so
/// the order is kept.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn fixed32(v: __m256i, k: &FixedVecs, i: usize) -> __m256i {
    // SAFETY: register-only intrinsics; AVX2 is enabled for this function.
    unsafe {
        let xc = _mm256_min_epu8(_mm256_subs_epu8(v, k.lo[i]), k.n[i]);
        let step = |w: __m256i| {
            let v = _mm256_add_epi16(mulhi_u16(w, k.m[i]), k.b[i]);
            _mm256_sra_epi16(v, k.r[i])
        };
        let lo = step(_mm256_unpacklo_epi8(k.o[i], xc));
        let hi = step(_mm256_unpackhi_epi8(k.o[i], xc));
        _mm256_packs_epi16(lo, hi)
    }
}

/// Splits 32 pixels of `C` interleaved bytes at `src` into `C` vectors in
/// natural order (pixels 0..16 in the low lane, 16..32 in the high lane):
/// each lane runs the 16-pixel `pshufb` deinterleave on its half.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_channels32<const C: usize>(
    src: *const u8,
    masks: &[[__m256i; 4]; 4],
) -> [__m256i; 4] {
    // SAFETY: the caller guarantees 32 * C readable bytes at `src`; AVX2
    // is enabled for this function.
    unsafe {
        let mut out = [_mm256_setzero_si256(); 4];
        if C == 1 {
            out[0] = load32(src);
            return out;
        }
        let mut v = [_mm256_setzero_si256(); 4];
        for (k, slot) in v.iter_mut().enumerate().take(C) {
            let lo = _mm256_castsi128_si256(load16(src.add(16 * k)));
            *slot = _mm256_inserti128_si256::<1>(lo, load16(src.add(16 * C + 16 * k)));
        }
        for (ch, o) in out.iter_mut().enumerate().take(C) {
            let mut acc = _mm256_shuffle_epi8(v[0], masks[ch][0]);
            for k in 1..C {
                acc = _mm256_or_si256(acc, _mm256_shuffle_epi8(v[k], masks[ch][k]));
            }
            *o = acc;
        }
        out
    }
}

/// The deinterleave masks of [`load_channels32`], one per lane.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn deinterleave_masks32<const C: usize>() -> [[__m256i; 4]; 4] {
    let m = const { deinterleave_masks(C, &NATURAL) };
    // SAFETY: the mask arrays are 16 bytes long; AVX2 is enabled.
    unsafe { m.map(|row| row.map(|k| _mm256_broadcastsi128_si256(load16(k.as_ptr())))) }
}

/// `pshufb` masks for blocked rows (C2 = 8 or 16) from a quad vector
/// (pixels 0..4 of 4 bytes, the same in both lanes): `m[s]` yields output
/// bytes `32 s .. 32 s + 32` of the 4 pixels. Channels `>= c` index a pad
/// byte of the pixel (channel `c` of the quad holds the pad byte when
/// `c < 4`); for `c = 4` they are zeroed and `fill[j]` is 0xff there so a
/// pad template can be ORed in.
const fn fixed_block_masks(c: usize, c2: usize) -> ([[u8; 32]; 2], [u8; 32]) {
    let mut m = [[0x80u8; 32]; 2];
    let mut fill = [0u8; 32];
    let mut s = 0;
    while s < 4 * c2 / 32 {
        let mut j = 0;
        while j < 32 {
            let g = 32 * s + j;
            let (p, ch) = (g / c2, g % c2);
            if ch < c {
                m[s][j] = (4 * p + ch) as u8;
            } else if c < 4 {
                m[s][j] = (4 * p + c) as u8;
            } else {
                fill[j] = 0xff;
            }
            j += 1;
        }
        s += 1;
    }
    (m, fill)
}

/// Fixed-point int8, 32 pixels per step; planar (`C2 == 0`) or blocked
/// rows of `C2` = 8 or 16 bytes. Returns the pixels converted.
#[target_feature(enable = "avx2")]
unsafe fn fixed_rows<const C: usize, const C2: usize>(
    src: &[u8],
    w: usize,
    f: &FixedCoeffs,
    dst: &mut [u8],
    plane: usize,
) -> usize {
    let (bm, fill) = const {
        if C2 == 0 {
            ([[0u8; 32]; 2], [0u8; 32])
        } else {
            fixed_block_masks(C, C2)
        }
    };
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut x = 0;
    // SAFETY: x + 32 <= w, src holds w * C bytes and dst holds
    // (C - 1) * plane + w bytes (planar) or w * C2 bytes (blocked),
    // checked by the dispatcher; the mask arrays are 32 bytes long; AVX2
    // is enabled for this function.
    unsafe {
        let k = fixed_vecs(f);
        let masks = deinterleave_masks32::<C>();
        let pad = _mm256_set1_epi8(f.pad as i8);
        let template = _mm256_and_si256(load32(fill.as_ptr()), pad);
        let (m0, m1) = (load32(bm[0].as_ptr()), load32(bm[1].as_ptr()));
        while x + 32 <= w {
            let ch = load_channels32::<C>(sp.add(x * C), &masks);
            let mut r = [pad; 4];
            for i in 0..C {
                r[i] = fixed32(ch[i], &k, i);
            }
            if C2 == 0 {
                for (i, ri) in r.iter().enumerate().take(C) {
                    _mm256_storeu_si256(dp.add(i * plane + x) as *mut __m256i, *ri);
                }
                x += 32;
                continue;
            }
            let lo01 = _mm256_unpacklo_epi8(r[0], r[1]);
            let hi01 = _mm256_unpackhi_epi8(r[0], r[1]);
            let lo23 = _mm256_unpacklo_epi8(r[2], r[3]);
            let hi23 = _mm256_unpackhi_epi8(r[2], r[3]);
            // Pixels 4j..4j+4 (low lane) and 16+4j.. (high lane).
            let quads = [
                _mm256_unpacklo_epi16(lo01, lo23),
                _mm256_unpackhi_epi16(lo01, lo23),
                _mm256_unpacklo_epi16(hi01, hi23),
                _mm256_unpackhi_epi16(hi01, hi23),
            ];
            for (j, q) in quads.iter().enumerate() {
                let halves = [
                    _mm256_permute4x64_epi64::<0b01_00_01_00>(*q),
                    _mm256_permute4x64_epi64::<0b11_10_11_10>(*q),
                ];
                for (lane, h) in halves.iter().enumerate() {
                    let o = dp.add((x + 16 * lane + 4 * j) * C2) as *mut __m256i;
                    let mut v0 = _mm256_shuffle_epi8(*h, m0);
                    if C == 4 {
                        v0 = _mm256_or_si256(v0, template);
                    }
                    _mm256_storeu_si256(o, v0);
                    if C2 == 16 {
                        let mut v1 = _mm256_shuffle_epi8(*h, m1);
                        if C == 4 {
                            v1 = _mm256_or_si256(v1, template);
                        }
                        _mm256_storeu_si256(o.add(1), v1);
                    }
                }
            }
            x += 32;
        }
    }
    x
}

/// Fixed-point int8 row; returns the pixels converted (a multiple of 32).
pub(super) fn u8_i8_fixed_row(
    c: usize,
    src: &[u8],
    w: usize,
    f: &FixedCoeffs,
    sink: &mut Sink,
) -> usize {
    let (dst, plane, c2) = match sink {
        Sink::Planar { dst, plane } => (&mut **dst, *plane, 0),
        Sink::Blocked { dst, c2 } => (&mut **dst, 0, *c2),
    };
    // SAFETY (all calls): the dispatcher detected AVX2 and checked the
    // slice lengths for `w` pixels.
    unsafe {
        match (c, c2) {
            (1, 0) => fixed_rows::<1, 0>(src, w, f, dst, plane),
            (2, 0) => fixed_rows::<2, 0>(src, w, f, dst, plane),
            (3, 0) => fixed_rows::<3, 0>(src, w, f, dst, plane),
            (4, 0) => fixed_rows::<4, 0>(src, w, f, dst, plane),
            (1, 8) => fixed_rows::<1, 8>(src, w, f, dst, plane),
            (2, 8) => fixed_rows::<2, 8>(src, w, f, dst, plane),
            (3, 8) => fixed_rows::<3, 8>(src, w, f, dst, plane),
            (4, 8) => fixed_rows::<4, 8>(src, w, f, dst, plane),
            (1, 16) => fixed_rows::<1, 16>(src, w, f, dst, plane),
            (2, 16) => fixed_rows::<2, 16>(src, w, f, dst, plane),
            (3, 16) => fixed_rows::<3, 16>(src, w, f, dst, plane),
            (4, 16) => fixed_rows::<4, 16>(src, w, f, dst, plane),
            _ => 0,
        }
    }
}

/// Normalizes one channel vector of 16 pixels to two vectors of 8 f32.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn norm16(v: __m128i, m: __m256, s: __m256) -> (__m256, __m256) {
    // SAFETY: register-only intrinsics; AVX2 is enabled for this function.
    unsafe {
        let (lo, hi) = widen(v);
        (
            _mm256_div_ps(_mm256_sub_ps(lo, m), s),
            _mm256_div_ps(_mm256_sub_ps(hi, m), s),
        )
    }
}

#[target_feature(enable = "avx2")]
unsafe fn f32_planar<const C: usize>(
    src: &[u8],
    w: usize,
    n: &NormCoeffs,
    dst: &mut [u8],
    plane: usize,
) -> usize {
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut x = 0;
    // SAFETY: x + 16 <= w, src holds w * C bytes and dst holds
    // ((C - 1) * plane + w) * 4 bytes (checked by the dispatcher); AVX2 is
    // enabled for this function.
    unsafe {
        let (m, s) = (splat4(&n.mean), splat4(&n.std));
        while x + 16 <= w {
            let ch = load_channels::<C, false>(sp.add(x * C));
            for i in 0..C {
                let (lo, hi) = norm16(ch[i], m[i], s[i]);
                let o = dp.add((i * plane + x) * 4) as *mut f32;
                _mm256_storeu_ps(o, lo);
                _mm256_storeu_ps(o.add(8), hi);
            }
            x += 16;
        }
    }
    x
}

#[target_feature(enable = "avx2,f16c")]
unsafe fn f16_planar<const C: usize>(
    src: &[u8],
    w: usize,
    n: &NormCoeffs,
    dst: &mut [u8],
    plane: usize,
) -> usize {
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut x = 0;
    // SAFETY: x + 16 <= w, src holds w * C bytes and dst holds
    // ((C - 1) * plane + w) * 2 bytes (checked by the dispatcher); AVX2
    // and F16C are enabled for this function.
    unsafe {
        let (m, s) = (splat4(&n.mean), splat4(&n.std));
        while x + 16 <= w {
            let ch = load_channels::<C, false>(sp.add(x * C));
            for i in 0..C {
                let (lo, hi) = norm16(ch[i], m[i], s[i]);
                let lo = _mm256_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT }>(lo);
                let hi = _mm256_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT }>(hi);
                let o = dp.add((i * plane + x) * 2) as *mut __m128i;
                _mm_storeu_si128(o, lo);
                _mm_storeu_si128(o.add(1), hi);
            }
            x += 16;
        }
    }
    x
}

/// Planar f32 row; returns the pixels converted.
pub(super) fn u8_f32_row(
    c: usize,
    src: &[u8],
    w: usize,
    n: &NormCoeffs,
    dst: &mut [u8],
    plane: usize,
) -> usize {
    // SAFETY: the dispatcher detected AVX2 and checked the slice lengths.
    unsafe {
        match c {
            1 => f32_planar::<1>(src, w, n, dst, plane),
            2 => f32_planar::<2>(src, w, n, dst, plane),
            3 => f32_planar::<3>(src, w, n, dst, plane),
            _ => f32_planar::<4>(src, w, n, dst, plane),
        }
    }
}

/// Planar f16 row; returns the pixels converted.
pub(super) fn u8_f16_row(
    c: usize,
    src: &[u8],
    w: usize,
    n: &NormCoeffs,
    dst: &mut [u8],
    plane: usize,
) -> usize {
    // SAFETY: the dispatcher detected AVX2 and F16C and checked the slice
    // lengths.
    unsafe {
        match c {
            1 => f16_planar::<1>(src, w, n, dst, plane),
            2 => f16_planar::<2>(src, w, n, dst, plane),
            3 => f16_planar::<3>(src, w, n, dst, plane),
            _ => f16_planar::<4>(src, w, n, dst, plane),
        }
    }
}

/// Exposes the vector rounding for the tests.
#[cfg(test)]
pub(super) fn round_lanes(t: [f32; 8]) -> [f32; 8] {
    #[target_feature(enable = "avx2")]
    unsafe fn go(t: [f32; 8]) -> [f32; 8] {
        let mut out = [0f32; 8];
        // SAFETY: both arrays hold 8 floats.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), round(_mm256_loadu_ps(t.as_ptr()))) };
        out
    }
    // SAFETY: only called by tests after detecting AVX2.
    unsafe { go(t) }
}
