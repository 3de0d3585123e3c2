//! Integer arithmetic shared by every int8 kernel: the one rounding mode
//! and the requantization step (see docs/numerics.md).

/// How real values are rounded to integers everywhere in int8 paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Halves go away from zero (C `round`).
    HalfAwayFromZero,
    /// Halves go to the even neighbour (IEEE default).
    HalfToEven,
}

/// The rounding mode of this build: the single switch for every int8 path.
pub const ROUNDING: Rounding = Rounding::HalfAwayFromZero;

/// Rounds `x` to an integral f32 with [`ROUNDING`].
#[inline(always)]
pub fn round(x: f32) -> f32 {
    match ROUNDING {
        Rounding::HalfAwayFromZero => x.round(),
        Rounding::HalfToEven => x.round_ties_even(),
    }
}

/// Quantizes a real value to int8: `clamp(round(x / scale) + zp)`.
#[inline(always)]
pub fn quantize_i8(x: f32, inv_scale: f32, zp: i32) -> i8 {
    (round(x * inv_scale) + zp as f32).clamp(-128.0, 127.0) as i8
}

/// Requantizes an int32 accumulator: `clamp(round(acc * multiplier) + zp)`
/// where `multiplier = in_scale * weight_scale / out_scale`.
#[inline(always)]
pub fn requantize_i8(acc: i32, multiplier: f32, zp: i32) -> i8 {
    (round(acc as f32 * multiplier) + zp as f32).clamp(-128.0, 127.0) as i8
}

/// Dequantizes: `(q - zp) * scale`.
#[inline(always)]
pub fn dequantize(q: i32, scale: f32, zp: i32) -> f32 {
    (q - zp) as f32 * scale
}
