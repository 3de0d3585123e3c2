//! Row kernels for the image hot path: one row of `C`-channel uint8 pixels
//! (`C` = 1..=4, NHWC order) converted to int8 (fused normalize +
//! quantize), f32 or f16, written planar (NCHW) or pixel-blocked (NHWC /
//! NC1HWC2 with one block).
//!
//! Each kernel has one scalar reference here; the AVX2 (x86_64) and NEON
//! (aarch64) versions process 16 pixels per step and finish the row with
//! the scalar reference, and the shared test suite below checks every
//! implementation for exact equality with it.

#[cfg(target_arch = "aarch64")]
mod aarch64;
mod fixed;
#[cfg(target_arch = "x86_64")]
mod x86;

pub(crate) use fixed::{FixedChan, FixedCoeffs, UNUSED};

use half::f16;

use crate::kernels::quant;

/// Fused per-channel int8 coefficients: `q = clamp(round(x * a + b) + zp)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct QuantCoeffs {
    /// Multiplier per channel, `1 / (std * scale)`.
    pub a: [f32; 4],
    /// Offset per channel, `-mean / (std * scale)`.
    pub b: [f32; 4],
    /// Zero point per channel (an integer stored as f32).
    pub zp: [f32; 4],
    /// Byte written into padding channels of blocked rows.
    pub pad: u8,
}

/// Per-channel normalization for float destinations: `(x - mean) / std`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NormCoeffs {
    /// Mean per channel.
    pub mean: [f32; 4],
    /// Standard deviation per channel.
    pub std: [f32; 4],
}

/// Where one row's results go (element offsets relative to the slice).
#[derive(Debug)]
pub(crate) enum Sink<'a> {
    /// Channel `ch` of pixel `x` at element `ch * plane + x`.
    Planar { dst: &'a mut [u8], plane: usize },
    /// Pixel `x` fills elements `x * c2 .. (x + 1) * c2`; channels from `C`
    /// on receive the pad byte.
    Blocked { dst: &'a mut [u8], c2: usize },
}

/// The fused int8 formula, shared by every implementation.
#[inline(always)]
pub(crate) fn fused_i8(x: u8, a: f32, b: f32, zp: f32) -> u8 {
    (quant::round(x as f32 * a + b) + zp).clamp(-128.0, 127.0) as i8 as u8
}

/// The float normalization, shared by every implementation.
#[inline(always)]
fn norm(x: u8, mean: f32, std: f32) -> f32 {
    (x as f32 - mean) / std
}

/// Scalar reference: pixels `x0..x1` of a `c`-channel row to int8.
pub(crate) fn scalar_u8_i8(
    c: usize,
    src: &[u8],
    x0: usize,
    x1: usize,
    q: &QuantCoeffs,
    sink: &mut Sink,
) {
    match sink {
        Sink::Planar { dst, plane } => {
            for x in x0..x1 {
                for ch in 0..c {
                    dst[ch * *plane + x] = fused_i8(src[x * c + ch], q.a[ch], q.b[ch], q.zp[ch]);
                }
            }
        }
        Sink::Blocked { dst, c2 } => {
            for x in x0..x1 {
                for ch in 0..*c2 {
                    dst[x * *c2 + ch] = if ch < c {
                        fused_i8(src[x * c + ch], q.a[ch], q.b[ch], q.zp[ch])
                    } else {
                        q.pad
                    };
                }
            }
        }
    }
}

/// Scalar reference of the fixed-point kernels: pixels `x0..x1` of a
/// `c`-channel row to int8 with [`FixedChan::eval`].
pub(crate) fn scalar_u8_i8_fixed(
    c: usize,
    src: &[u8],
    x0: usize,
    x1: usize,
    f: &FixedCoeffs,
    sink: &mut Sink,
) {
    match sink {
        Sink::Planar { dst, plane } => {
            for x in x0..x1 {
                for ch in 0..c {
                    dst[ch * *plane + x] = f.ch[ch].eval(src[x * c + ch]);
                }
            }
        }
        Sink::Blocked { dst, c2 } => {
            for x in x0..x1 {
                for ch in 0..*c2 {
                    dst[x * *c2 + ch] = if ch < c {
                        f.ch[ch].eval(src[x * c + ch])
                    } else {
                        f.pad
                    };
                }
            }
        }
    }
}

/// Scalar reference: pixels `x0..x1` of a `c`-channel row to planar f32.
pub(crate) fn scalar_u8_f32(
    c: usize,
    src: &[u8],
    x0: usize,
    x1: usize,
    n: &NormCoeffs,
    dst: &mut [u8],
    plane: usize,
) {
    for x in x0..x1 {
        for ch in 0..c {
            let o = (ch * plane + x) * 4;
            let v = norm(src[x * c + ch], n.mean[ch], n.std[ch]);
            dst[o..o + 4].copy_from_slice(&v.to_ne_bytes());
        }
    }
}

/// Scalar reference: pixels `x0..x1` of a `c`-channel row to planar f16.
pub(crate) fn scalar_u8_f16(
    c: usize,
    src: &[u8],
    x0: usize,
    x1: usize,
    n: &NormCoeffs,
    dst: &mut [u8],
    plane: usize,
) {
    for x in x0..x1 {
        for ch in 0..c {
            let o = (ch * plane + x) * 2;
            let v = f16::from_f32(norm(src[x * c + ch], n.mean[ch], n.std[ch]));
            dst[o..o + 2].copy_from_slice(&v.to_bits().to_ne_bytes());
        }
    }
}

/// The implementation chosen for this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// Portable code only.
    Scalar,
    /// x86_64 AVX2 (f16 outputs also need F16C).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Avx2 {
        /// F16C is available.
        f16c: bool,
    },
    /// aarch64 Advanced SIMD.
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    Neon,
}

/// Detects the best implementation at run time.
pub(crate) fn detect() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            return Level::Avx2 {
                f16c: std::arch::is_x86_feature_detected!("f16c"),
            };
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            return Level::Neon;
        }
    }
    Level::Scalar
}

/// Whether the vector int8 kernel handles `c` channels into `sink_c2`
/// (`None`: planar; `Some(c2)`: blocked rows of `c2` elements).
pub(crate) fn u8_i8_vector_ok(c: usize, sink_c2: Option<usize>) -> bool {
    (1..=4).contains(&c)
        && match sink_c2 {
            None => true,
            Some(c2) => c2 == c || c2 == 8 || c2 == 16,
        }
}

/// Whether the vector fixed-point kernel handles `c` channels into
/// `sink_c2` (`None`: planar; `Some(c2)`: blocked rows of `c2` elements).
pub(crate) fn u8_i8_fixed_ok(c: usize, sink_c2: Option<usize>) -> bool {
    (1..=4).contains(&c) && matches!(sink_c2, None | Some(8) | Some(16))
}

/// Converts the first `w` pixels of `src` (`c` channels each) to int8 with
/// the fixed-point form `f`, at `level`.
pub(crate) fn u8_i8_fixed_row(
    level: Level,
    c: usize,
    src: &[u8],
    w: usize,
    f: &FixedCoeffs,
    mut sink: Sink,
) {
    let (sized, c2) = int8_sink_fits(&sink, c, src, w);
    let done = if sized && u8_i8_fixed_ok(c, c2) {
        match level {
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 { .. } => x86::u8_i8_fixed_row(c, src, w, f, &mut sink),
            #[cfg(target_arch = "aarch64")]
            Level::Neon => aarch64::u8_i8_fixed_row(c, src, w, f, &mut sink),
            _ => 0,
        }
    } else {
        0
    };
    scalar_u8_i8_fixed(c, src, done, w, f, &mut sink);
}

/// Whether `src` and the int8 `sink` are large enough for `w` pixels of
/// `c` channels, and the sink's C2 when it is blocked (NC1HWC2).
fn int8_sink_fits(sink: &Sink, c: usize, src: &[u8], w: usize) -> (bool, Option<usize>) {
    match sink {
        Sink::Planar { dst, plane } => (fits(c, src, w, dst.len(), *plane, 1), None),
        Sink::Blocked { dst, c2 } => (
            src.len() >= w * c && dst.len() >= w * c2 && *c2 >= c,
            Some(*c2),
        ),
    }
}

/// Whether the slices are large enough for `w` pixels.
fn fits(c: usize, src: &[u8], w: usize, dst_len: usize, plane: usize, elem: usize) -> bool {
    src.len() >= w * c && (c == 1 || plane >= w) && dst_len >= ((c - 1) * plane + w) * elem
}

/// Converts the first `w` pixels of `src` (`c` channels each) to int8 with
/// the fused formula, at `level`.
pub(crate) fn u8_i8_row(
    level: Level,
    c: usize,
    src: &[u8],
    w: usize,
    q: &QuantCoeffs,
    mut sink: Sink,
) {
    let (sized, c2) = int8_sink_fits(&sink, c, src, w);
    let done = if sized && u8_i8_vector_ok(c, c2) {
        match level {
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 { .. } => x86::u8_i8_row(c, src, w, q, &mut sink),
            #[cfg(target_arch = "aarch64")]
            Level::Neon => aarch64::u8_i8_row(c, src, w, q, &mut sink),
            _ => 0,
        }
    } else {
        0
    };
    scalar_u8_i8(c, src, done, w, q, &mut sink);
}

/// Converts the first `w` pixels of `src` to planar f32 (`plane` elements
/// between channels), at `level`.
pub(crate) fn u8_f32_row(
    level: Level,
    c: usize,
    src: &[u8],
    w: usize,
    n: &NormCoeffs,
    dst: &mut [u8],
    plane: usize,
) {
    let done = if (1..=4).contains(&c) && fits(c, src, w, dst.len(), plane, 4) {
        match level {
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 { .. } => x86::u8_f32_row(c, src, w, n, dst, plane),
            #[cfg(target_arch = "aarch64")]
            Level::Neon => aarch64::u8_f32_row(c, src, w, n, dst, plane),
            _ => 0,
        }
    } else {
        0
    };
    scalar_u8_f32(c, src, done, w, n, dst, plane);
}

/// Converts the first `w` pixels of `src` to planar f16 (round to nearest
/// even), at `level`.
pub(crate) fn u8_f16_row(
    level: Level,
    c: usize,
    src: &[u8],
    w: usize,
    n: &NormCoeffs,
    dst: &mut [u8],
    plane: usize,
) {
    let done = if (1..=4).contains(&c) && fits(c, src, w, dst.len(), plane, 2) {
        match level {
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 { f16c: true } => x86::u8_f16_row(c, src, w, n, dst, plane),
            #[cfg(target_arch = "aarch64")]
            Level::Neon => aarch64::u8_f16_row(c, src, w, n, dst, plane),
            _ => 0,
        }
    } else {
        0
    };
    scalar_u8_f16(c, src, done, w, n, dst, plane);
}

#[cfg(test)]
mod tests;
