//! NEON row kernels. Each function processes whole groups of 16 pixels and
//! returns how many pixels it converted; the caller finishes the row with
//! the scalar reference. Callers have checked that the slices hold `w`
//! pixels (see `simd::fits`) and that the CPU has NEON.
//!
//! Intrinsic calls sit in `unsafe` blocks because they are unsafe
//! functions on older compilers (the crate's declared minimum is 1.80);
//! newer ones treat some as safe inside `#[target_feature]` functions,
//! hence `unused_unsafe` is allowed here.
#![allow(unused_unsafe)]

use core::arch::aarch64::*;
use core::arch::asm;

use crate::kernels::quant::{Rounding, ROUNDING};

use super::{FixedCoeffs, NormCoeffs, QuantCoeffs, Sink};

/// `tbx` indices that build the 16-byte output vectors of a blocked row
/// (`c2` bytes per pixel) from the four channel vectors viewed as one
/// 64-byte table: byte `j` of output `k` is global byte `g = 16k + j`,
/// pixel `g / c2`, channel `g % c2`; channels below `c` index
/// `16 * channel + pixel`, the rest is out of range (0xff) so `tbx` keeps
/// the pad byte already in the destination register.
const fn block_indices(c: usize, c2: usize) -> [[u8; 16]; 16] {
    let mut idx = [[0xffu8; 16]; 16];
    let mut k = 0;
    while k < c2 {
        let mut j = 0;
        while j < 16 {
            let g = 16 * k + j;
            let (p, ch) = (g / c2, g % c2);
            if ch < c {
                idx[k][j] = (16 * ch + p) as u8;
            }
            j += 1;
        }
        k += 1;
    }
    idx
}

/// Splits 16 pixels of `C` interleaved bytes at `src` into `C` vectors.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn load_channels<const C: usize>(src: *const u8, fill: uint8x16_t) -> [uint8x16_t; 4] {
    // SAFETY: the caller guarantees 16 * C readable bytes at `src`.
    unsafe {
        match C {
            1 => [vld1q_u8(src), fill, fill, fill],
            2 => {
                let v = vld2q_u8(src);
                [v.0, v.1, fill, fill]
            }
            3 => {
                let v = vld3q_u8(src);
                [v.0, v.1, v.2, fill]
            }
            _ => {
                let v = vld4q_u8(src);
                [v.0, v.1, v.2, v.3]
            }
        }
    }
}

/// 16 bytes to four vectors of 4 f32.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn widen(v: uint8x16_t) -> [float32x4_t; 4] {
    // SAFETY: register-only intrinsics; NEON is enabled for this function.
    unsafe {
        let lo = vmovl_u8(vget_low_u8(v));
        let hi = vmovl_high_u8(v);
        [
            vcvtq_f32_u32(vmovl_u16(vget_low_u16(lo))),
            vcvtq_f32_u32(vmovl_high_u16(lo)),
            vcvtq_f32_u32(vmovl_u16(vget_low_u16(hi))),
            vcvtq_f32_u32(vmovl_high_u16(hi)),
        ]
    }
}

/// `round(x * a + b)` as i32 lanes in one instruction: `fcvtas` rounds
/// half away from zero exactly like `f32::round` (`fcvtns`: ties to even)
/// and saturates out-of-range values to the i32 limits.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn round4(x: float32x4_t, a: float32x4_t, b: float32x4_t) -> int32x4_t {
    // SAFETY: register-only intrinsics; NEON is enabled for this function.
    unsafe {
        let t = vaddq_f32(vmulq_f32(x, a), b);
        match ROUNDING {
            Rounding::HalfAwayFromZero => vcvtaq_s32_f32(t),
            Rounding::HalfToEven => vcvtnq_s32_f32(t),
        }
    }
}

/// Quantizes one channel vector of 16 pixels to 16 int8 (as bytes):
/// `sat8(sat16(sat16(round(x * a + b)) + zp))`, which equals
/// `clamp(round(x * a + b) + zp, -128, 127)` for `|zp| <= 255` (every
/// saturation happens only where the true value is already outside the
/// int8 range on the same side).
#[inline]
#[target_feature(enable = "neon")]
unsafe fn quant16(v: uint8x16_t, a: float32x4_t, b: float32x4_t, zp: int16x8_t) -> uint8x16_t {
    // SAFETY: register-only intrinsics; NEON is enabled for this function.
    unsafe {
        let f = widen(v);
        let lo = vcombine_s16(
            vqmovn_s32(round4(f[0], a, b)),
            vqmovn_s32(round4(f[1], a, b)),
        );
        let hi = vcombine_s16(
            vqmovn_s32(round4(f[2], a, b)),
            vqmovn_s32(round4(f[3], a, b)),
        );
        let (lo, hi) = (vqaddq_s16(lo, zp), vqaddq_s16(hi, zp));
        vreinterpretq_u8_s8(vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi)))
    }
}

/// Broadcasts four per-channel zero points as i16.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn splat_zp(zp: &[f32; 4]) -> [int16x8_t; 4] {
    // SAFETY: register-only intrinsics; NEON is enabled for this function.
    unsafe {
        [
            vdupq_n_s16(zp[0] as i16),
            vdupq_n_s16(zp[1] as i16),
            vdupq_n_s16(zp[2] as i16),
            vdupq_n_s16(zp[3] as i16),
        ]
    }
}

/// Broadcasts four per-channel values.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn splat4(v: &[f32; 4]) -> [float32x4_t; 4] {
    // SAFETY: register-only intrinsics; NEON is enabled for this function.
    unsafe {
        [
            vdupq_n_f32(v[0]),
            vdupq_n_f32(v[1]),
            vdupq_n_f32(v[2]),
            vdupq_n_f32(v[3]),
        ]
    }
}

#[target_feature(enable = "neon")]
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
    // (C - 1) * plane + w bytes (checked by the dispatcher); NEON is
    // enabled for this function.
    unsafe {
        let (a, b, zp) = (splat4(&q.a), splat4(&q.b), splat_zp(&q.zp));
        let zero = vdupq_n_u8(0);
        while x + 16 <= w {
            let ch = load_channels::<C>(sp.add(x * C), zero);
            for i in 0..C {
                vst1q_u8(dp.add(i * plane + x), quant16(ch[i], a[i], b[i], zp[i]));
            }
            x += 16;
        }
    }
    x
}

#[target_feature(enable = "neon")]
unsafe fn i8_blocked<const C: usize, const C2: usize>(
    src: &[u8],
    w: usize,
    q: &QuantCoeffs,
    dst: &mut [u8],
) -> usize {
    let idx = const { block_indices(C, C2) };
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut x = 0;
    // SAFETY: x + 16 <= w, src holds w * C bytes and dst holds w * C2
    // bytes (checked by the dispatcher); the index arrays are 16 bytes
    // long; NEON is enabled for this function.
    unsafe {
        let (a, b, zp) = (splat4(&q.a), splat4(&q.b), splat_zp(&q.zp));
        let pad = vdupq_n_u8(q.pad);
        while x + 16 <= w {
            let ch = load_channels::<C>(sp.add(x * C), pad);
            let mut r = [pad; 4];
            for i in 0..C {
                r[i] = quant16(ch[i], a[i], b[i], zp[i]);
            }
            let table = uint8x16x4_t(r[0], r[1], r[2], r[3]);
            for (k, ik) in idx.iter().enumerate().take(C2) {
                let out = vqtbx4q_u8(pad, table, vld1q_u8(ik.as_ptr()));
                vst1q_u8(dp.add(x * C2 + 16 * k), out);
            }
            x += 16;
        }
    }
    x
}

/// int8 row; returns the pixels converted (a multiple of 16).
pub(super) fn u8_i8_row(c: usize, src: &[u8], w: usize, q: &QuantCoeffs, sink: &mut Sink) -> usize {
    if !(0..c).all(|i| q.zp[i].abs() <= 255.0 && q.zp[i].fract() == 0.0) {
        return 0;
    }
    // SAFETY (all calls): the dispatcher detected NEON and checked the
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
                (1, 8) => i8_blocked::<1, 8>(src, w, q, dst),
                (1, 16) => i8_blocked::<1, 16>(src, w, q, dst),
                (2, 2) => i8_blocked::<2, 2>(src, w, q, dst),
                (2, 8) => i8_blocked::<2, 8>(src, w, q, dst),
                (2, 16) => i8_blocked::<2, 16>(src, w, q, dst),
                (3, 3) => i8_blocked::<3, 3>(src, w, q, dst),
                (3, 8) => i8_blocked::<3, 8>(src, w, q, dst),
                (3, 16) => i8_blocked::<3, 16>(src, w, q, dst),
                (4, 4) => i8_blocked::<4, 4>(src, w, q, dst),
                (4, 8) => i8_blocked::<4, 8>(src, w, q, dst),
                (4, 16) => i8_blocked::<4, 16>(src, w, q, dst),
                _ => 0,
            }
        },
    }
}

/// The fixed-point parameters of one channel, broadcast.
#[derive(Clone, Copy)]
struct FixedVec {
    lo: uint8x16_t,
    n: uint8x16_t,
    o: uint8x16_t,
    m: uint16x8_t,
    b: uint16x8_t,
    /// Minus the shift: `sshl` by a negative amount shifts right.
    r: int16x8_t,
}

#[inline]
#[target_feature(enable = "neon")]
unsafe fn fixed_vecs(f: &FixedCoeffs) -> [FixedVec; 4] {
    // SAFETY: register-only intrinsics; NEON is enabled for this function.
    unsafe {
        f.ch.map(|c| FixedVec {
            lo: vdupq_n_u8(c.lo),
            n: vdupq_n_u8(c.n),
            o: vdupq_n_u8(c.o),
            m: vdupq_n_u16(c.m),
            b: vdupq_n_u16(c.b),
            r: vdupq_n_s16(-(c.r as i16)),
        })
    }
}

/// 16 bytes of one channel to 16 int8 results (`simd::fixed`): clamp,
/// zip under the offset byte, multiply-high (`umull`/`umull2` + `uzp2`),
/// add, arithmetic shift, saturating narrow.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn fixed16(v: uint8x16_t, k: &FixedVec) -> uint8x16_t {
    // SAFETY: register-only intrinsics; NEON is enabled for this function.
    unsafe {
        let xc = vminq_u8(vqsubq_u8(v, k.lo), k.n);
        let step = |w: uint8x16_t| {
            let w = vreinterpretq_u16_u8(w);
            let lo = vmull_u16(vget_low_u16(w), vget_low_u16(k.m));
            let hi = vmull_high_u16(w, k.m);
            let h = vuzp2q_u16(vreinterpretq_u16_u32(lo), vreinterpretq_u16_u32(hi));
            let v = vreinterpretq_s16_u16(vaddq_u16(h, k.b));
            vqmovn_s16(vshlq_s16(v, k.r))
        };
        let lo = step(vzip1q_u8(k.o, xc));
        let hi = step(vzip2q_u8(k.o, xc));
        vreinterpretq_u8_s8(vcombine_s8(lo, hi))
    }
}

/// Fixed-point int8, 16 pixels per step; planar (`C2 == 0`) or blocked
/// rows of `C2` = 8 or 16 bytes. Returns the pixels converted.
#[target_feature(enable = "neon")]
unsafe fn fixed_rows<const C: usize, const C2: usize>(
    src: &[u8],
    w: usize,
    f: &FixedCoeffs,
    dst: &mut [u8],
    plane: usize,
) -> usize {
    let idx = const { block_indices(C, if C2 == 0 { 1 } else { C2 }) };
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut x = 0;
    // SAFETY: x + 16 <= w, src holds w * C bytes and dst holds
    // (C - 1) * plane + w bytes (planar) or w * C2 bytes (blocked),
    // checked by the dispatcher; the index arrays are 16 bytes long; NEON
    // is enabled for this function.
    unsafe {
        let k = fixed_vecs(f);
        let pad = vdupq_n_u8(f.pad);
        while x + 16 <= w {
            let ch = load_channels::<C>(sp.add(x * C), pad);
            let mut r = [pad; 4];
            for i in 0..C {
                r[i] = fixed16(ch[i], &k[i]);
            }
            if C2 == 0 {
                for (i, ri) in r.iter().enumerate().take(C) {
                    vst1q_u8(dp.add(i * plane + x), *ri);
                }
            } else {
                let table = uint8x16x4_t(r[0], r[1], r[2], r[3]);
                for (j, ij) in idx.iter().enumerate().take(C2) {
                    let out = vqtbx4q_u8(pad, table, vld1q_u8(ij.as_ptr()));
                    vst1q_u8(dp.add(x * C2 + 16 * j), out);
                }
            }
            x += 16;
        }
    }
    x
}

/// Fixed-point int8 row; returns the pixels converted (a multiple of 16).
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
    // SAFETY (all calls): the dispatcher detected NEON and checked the
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

/// Normalizes 16 pixels of one channel: `(x - mean) / std`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn norm16(v: uint8x16_t, m: float32x4_t, s: float32x4_t) -> [float32x4_t; 4] {
    // SAFETY: register-only intrinsics; NEON is enabled for this function.
    unsafe {
        let f = widen(v);
        [
            vdivq_f32(vsubq_f32(f[0], m), s),
            vdivq_f32(vsubq_f32(f[1], m), s),
            vdivq_f32(vsubq_f32(f[2], m), s),
            vdivq_f32(vsubq_f32(f[3], m), s),
        ]
    }
}

/// Eight f32 to eight f16 bit patterns with `fcvtn`/`fcvtn2` (base
/// Armv8.0 Advanced SIMD; rounding from FPCR, round to nearest even by
/// default, the same as `half::f16::from_f32`).
#[inline]
#[target_feature(enable = "neon")]
unsafe fn to_f16(lo: float32x4_t, hi: float32x4_t) -> uint16x8_t {
    let out: uint16x8_t;
    // SAFETY: register-only instructions; `out` is a distinct register
    // from both inputs (`out`, not `lateout`).
    unsafe {
        asm!(
            "fcvtn {o:v}.4h, {a:v}.4s",
            "fcvtn2 {o:v}.8h, {b:v}.4s",
            a = in(vreg) lo,
            b = in(vreg) hi,
            o = out(vreg) out,
            options(pure, nomem, nostack),
        );
    }
    out
}

#[target_feature(enable = "neon")]
unsafe fn float_planar<const C: usize, const HALF: bool>(
    src: &[u8],
    w: usize,
    n: &NormCoeffs,
    dst: &mut [u8],
    plane: usize,
) -> usize {
    let e = if HALF { 2 } else { 4 };
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut x = 0;
    // SAFETY: x + 16 <= w, src holds w * C bytes and dst holds
    // ((C - 1) * plane + w) * e bytes (checked by the dispatcher); NEON is
    // enabled for this function.
    unsafe {
        let (m, s) = (splat4(&n.mean), splat4(&n.std));
        let zero = vdupq_n_u8(0);
        while x + 16 <= w {
            let ch = load_channels::<C>(sp.add(x * C), zero);
            for i in 0..C {
                let v = norm16(ch[i], m[i], s[i]);
                let o = dp.add((i * plane + x) * e);
                if HALF {
                    let o = o as *mut u16;
                    vst1q_u16(o, to_f16(v[0], v[1]));
                    vst1q_u16(o.add(8), to_f16(v[2], v[3]));
                } else {
                    let o = o as *mut f32;
                    for (j, vj) in v.iter().enumerate() {
                        vst1q_f32(o.add(4 * j), *vj);
                    }
                }
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
    // SAFETY: the dispatcher detected NEON and checked the slice lengths.
    unsafe {
        match c {
            1 => float_planar::<1, false>(src, w, n, dst, plane),
            2 => float_planar::<2, false>(src, w, n, dst, plane),
            3 => float_planar::<3, false>(src, w, n, dst, plane),
            _ => float_planar::<4, false>(src, w, n, dst, plane),
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
    // SAFETY: the dispatcher detected NEON and checked the slice lengths.
    unsafe {
        match c {
            1 => float_planar::<1, true>(src, w, n, dst, plane),
            2 => float_planar::<2, true>(src, w, n, dst, plane),
            3 => float_planar::<3, true>(src, w, n, dst, plane),
            _ => float_planar::<4, true>(src, w, n, dst, plane),
        }
    }
}
