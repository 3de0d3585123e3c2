//! Type conversion: Cast between every stored element type, QuantizeLinear
//! (float to 8-bit with the output's quantization) and DequantizeLinear
//! (8-bit or int32 to float with the input's quantization), per-tensor or
//! per-channel.
//!
//! Cast follows onnxruntime where ONNX is silent, except that float to
//! integer saturates: float to integer truncates toward zero and
//! saturates (NaN gives 0); integer to narrower integer wraps (two's
//! complement, like a C cast); anything to bool is `x != 0`; bool is 0 or 1.

use half::f16;

use super::b_q8;
use super::b_shape::check_arity;
use super::{In, KernelError, Out};
use crate::graph::{DType, Op};

/// A stored boolean (one byte, 0 or 1).
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(transparent)]
struct Bool(u8);

/// An element type as Cast sees it.
trait Elem: bytemuck::Pod {
    /// Floating-point source: converted through f64; integers through i64.
    const FLOAT: bool;
    fn to_f64(self) -> f64;
    fn to_i64(self) -> i64;
    /// From a float: truncate toward zero and saturate for integers.
    fn from_f64(v: f64) -> Self;
    /// From an integer: wrap for integers, round to nearest for floats.
    fn from_i64(v: i64) -> Self;
}

macro_rules! int_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            const FLOAT: bool = false;
            fn to_f64(self) -> f64 { self as f64 }
            fn to_i64(self) -> i64 { self as i64 }
            fn from_f64(v: f64) -> Self { v as $t }
            fn from_i64(v: i64) -> Self { v as $t }
        }
    )*};
}
int_elem!(i8, u8, i16, u16, i32, u32, i64);

impl Elem for f32 {
    const FLOAT: bool = true;
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn to_i64(self) -> i64 {
        self as i64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn from_i64(v: i64) -> Self {
        v as f32
    }
}

impl Elem for f16 {
    const FLOAT: bool = true;
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn to_i64(self) -> i64 {
        self.to_f64() as i64
    }
    fn from_f64(v: f64) -> Self {
        f16::from_f64(v)
    }
    fn from_i64(v: i64) -> Self {
        f16::from_f32(v as f32)
    }
}

impl Elem for Bool {
    const FLOAT: bool = false;
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self.0 != 0))
    }
    fn to_i64(self) -> i64 {
        i64::from(self.0 != 0)
    }
    fn from_f64(v: f64) -> Self {
        Bool(u8::from(v != 0.0))
    }
    fn from_i64(v: i64) -> Self {
        Bool(u8::from(v != 0))
    }
}

fn cast_t<S: Elem, D: Elem>(op: &Op, src: &[u8], dst: &mut [u8]) -> Result<(), KernelError> {
    let s: &[S] = bytemuck::try_cast_slice(src)
        .map_err(|e| KernelError::invalid(op, format!("buffer: {e}")))?;
    let d: &mut [D] = bytemuck::try_cast_slice_mut(dst)
        .map_err(|e| KernelError::invalid(op, format!("buffer: {e}")))?;
    if s.len() != d.len() {
        return Err(KernelError::invalid(op, "element counts differ"));
    }
    if S::FLOAT {
        d.iter_mut()
            .zip(s)
            .for_each(|(d, &s)| *d = D::from_f64(s.to_f64()));
    } else {
        d.iter_mut()
            .zip(s)
            .for_each(|(d, &s)| *d = D::from_i64(s.to_i64()));
    }
    Ok(())
}

/// Runs `$body` with `$t` bound to the Rust type stored for `$dt`.
macro_rules! with_type {
    ($dt:expr, |$t:ident| $body:expr) => {
        with_type!(@match $dt, $t, $body;
            F32 => f32, F16 => f16, I8 => i8, U8 => u8, I16 => i16,
            U16 => u16, I32 => i32, U32 => u32, I64 => i64, Bool => Bool)
    };
    (@match $dt:expr, $t:ident, $body:expr; $($v:ident => $ty:ty),*) => {
        match $dt {
            $(DType::$v => {
                type $t = $ty;
                $body
            })*
        }
    };
}

/// Runs `Cast`, `Quantize` or `Dequantize`.
pub fn run(op: &Op, inputs: &[In<'_>], outputs: &mut [Out<'_>]) -> Result<(), KernelError> {
    // QuantizeLinear / DequantizeLinear may list scale and zero point as
    // extra inputs; the parameters used are the tensors' `quant`.
    check_arity(op, inputs.len(), 1..=3, outputs.len(), 1..=1)?;
    let (x, out) = (&inputs[0], &mut outputs[0]);
    if x.data.len() != x.info.bytes() || out.data.len() != out.info.bytes() {
        return Err(KernelError::invalid(op, "tensor size mismatch"));
    }
    if x.info.elems() != out.info.elems() {
        return Err(KernelError::invalid(op, "element counts differ"));
    }
    match op {
        Op::Cast { to } => {
            if *to != out.info.dtype {
                return Err(KernelError::invalid(
                    op,
                    format!("output is {:?}, cast to {to:?}", out.info.dtype),
                ));
            }
            with_type!(x.info.dtype, |S| with_type!(out.info.dtype, |D| cast_t::<
                S,
                D,
            >(
                op, x.data, out.data
            )))
        }
        Op::Quantize => {
            let real: Vec<f32> = match x.info.dtype {
                DType::F32 => x.f32(op)?.to_vec(),
                DType::F16 => x.f16(op)?.iter().map(|v| v.to_f32()).collect(),
                other => return Err(KernelError::unsupported(op, format!("{other:?} input"))),
            };
            if !b_q8::is_q8(out.info.dtype) {
                return Err(KernelError::unsupported(
                    op,
                    format!("{:?} output", out.info.dtype),
                ));
            }
            b_q8::from_real(op, &real, out)
        }
        Op::Dequantize => {
            let real = b_q8::to_real(op, x)?;
            match out.info.dtype {
                DType::F32 => out.f32_mut(op)?.copy_from_slice(&real),
                DType::F16 => out
                    .f16_mut(op)?
                    .iter_mut()
                    .zip(&real)
                    .for_each(|(d, &v)| *d = f16::from_f32(v)),
                other => return Err(KernelError::unsupported(op, format!("{other:?} output"))),
            }
            Ok(())
        }
        _ => Err(KernelError::unsupported(op, "not a conversion op")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::b_testutil::{run1, Rng, T};
    use super::super::quant;
    use super::*;
    use crate::graph::Quant;

    const ALL: [DType; 10] = [
        DType::F32,
        DType::F16,
        DType::I8,
        DType::U8,
        DType::I16,
        DType::U16,
        DType::I32,
        DType::U32,
        DType::I64,
        DType::Bool,
    ];

    /// Value -> bytes of `dt`, by the documented rules.
    fn encode(v: f64, is_float: bool, dt: DType) -> Vec<u8> {
        let int = |v: f64| -> i128 {
            if is_float {
                v.trunc() as i128
            } else {
                v as i128
            }
        };
        let sat = |v: f64, lo: i128, hi: i128| -> i128 {
            if v.is_nan() {
                0
            } else if is_float {
                int(v).clamp(lo, hi)
            } else {
                // Wrap to the width.
                let m = hi - lo + 1;
                (int(v) - lo).rem_euclid(m) + lo
            }
        };
        match dt {
            DType::F32 => (v as f32).to_le_bytes().to_vec(),
            DType::F16 => f16::from_f64(v).to_le_bytes().to_vec(),
            DType::I8 => (sat(v, -128, 127) as i8).to_le_bytes().to_vec(),
            DType::U8 => (sat(v, 0, 255) as u8).to_le_bytes().to_vec(),
            DType::I16 => (sat(v, i16::MIN as i128, i16::MAX as i128) as i16)
                .to_le_bytes()
                .to_vec(),
            DType::U16 => (sat(v, 0, u16::MAX as i128) as u16).to_le_bytes().to_vec(),
            DType::I32 => (sat(v, i32::MIN as i128, i32::MAX as i128) as i32)
                .to_le_bytes()
                .to_vec(),
            DType::U32 => (sat(v, 0, u32::MAX as i128) as u32).to_le_bytes().to_vec(),
            DType::I64 => (sat(v, i64::MIN as i128, i64::MAX as i128) as i64)
                .to_le_bytes()
                .to_vec(),
            DType::Bool => vec![u8::from(v != 0.0)],
        }
    }

    #[test]
    fn cast_every_pair() {
        let vals = [
            0.0f64, 1.0, -1.0, 2.75, -2.75, 300.7, -300.7, 70000.5, 1e10, -1e10, 127.0, 255.0,
        ];
        for src in ALL {
            // Values as stored in the source type.
            let stored: Vec<Vec<u8>> = vals.iter().map(|&v| encode(v, true, src)).collect();
            let bytes: Vec<u8> = stored.concat();
            let x = T::from_bytes(&[vals.len()], src, &bytes);
            // What each source element holds, as f64.
            let held: Vec<f64> = stored
                .iter()
                .map(|b| match src {
                    DType::F32 => f32::from_le_bytes(b[..4].try_into().unwrap()) as f64,
                    DType::F16 => f16::from_le_bytes(b[..2].try_into().unwrap()).to_f64(),
                    DType::I8 => b[0] as i8 as f64,
                    DType::U8 | DType::Bool => b[0] as f64,
                    DType::I16 => i16::from_le_bytes(b[..2].try_into().unwrap()) as f64,
                    DType::U16 => u16::from_le_bytes(b[..2].try_into().unwrap()) as f64,
                    DType::I32 => i32::from_le_bytes(b[..4].try_into().unwrap()) as f64,
                    DType::U32 => u32::from_le_bytes(b[..4].try_into().unwrap()) as f64,
                    DType::I64 => i64::from_le_bytes(b[..8].try_into().unwrap()) as f64,
                })
                .collect();
            for dst in ALL {
                let out = run1(&Op::Cast { to: dst }, &[&x], &[vals.len()], dst, None).unwrap();
                let want: Vec<u8> = held
                    .iter()
                    .flat_map(|&v| encode(v, src.is_float(), dst))
                    .collect();
                assert_eq!(out.bytes(), &want[..], "{src:?} -> {dst:?}");
            }
        }
    }

    #[test]
    fn cast_checks_target() {
        let x = T::f32(&[1], &[1.0]);
        assert!(run1(&Op::Cast { to: DType::I8 }, &[&x], &[1], DType::I32, None).is_err());
    }

    #[test]
    fn quantize_dequantize_per_tensor_and_per_axis() {
        let mut rng = Rng::new(51);
        let x = rng.vec(24, -6.0, 6.0);
        let per_axis = Quant::per_channel(vec![0.02, 0.05, 0.1], vec![-3, 0, 7], 1);
        for q in [Quant::per_tensor(0.04, 5), per_axis] {
            for dt in [DType::I8, DType::U8] {
                let mut q = q.clone();
                if dt == DType::U8 {
                    q.zero_point.iter_mut().for_each(|z| *z += 128);
                }
                let out = run1(
                    &Op::Quantize,
                    &[&T::f32(&[2, 3, 4], &x)],
                    &[2, 3, 4],
                    dt,
                    Some(q.clone()),
                )
                .unwrap();
                let (lo, hi) = if dt == DType::I8 {
                    (-128.0, 127.0)
                } else {
                    (0.0, 255.0)
                };
                let want: Vec<u8> = x
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        let (s, z) = q.channel((i / 4) % 3);
                        let r = (quant::round(v * (1.0 / s)) + z as f32).clamp(lo, hi);
                        if dt == DType::I8 {
                            r as i8 as u8
                        } else {
                            r as u8
                        }
                    })
                    .collect();
                assert_eq!(out.bytes(), &want[..]);
                for odt in [DType::F32, DType::F16] {
                    let back = run1(&Op::Dequantize, &[&out], &[2, 3, 4], odt, None).unwrap();
                    for (i, &b) in want.iter().enumerate() {
                        let (s, z) = q.channel((i / 4) % 3);
                        let v = if dt == DType::I8 {
                            b as i8 as i32
                        } else {
                            b as i32
                        };
                        let r = (v - z) as f32 * s;
                        let got = if odt == DType::F32 {
                            back.as_f32()[i]
                        } else {
                            f16::from_le_bytes([back.bytes()[2 * i], back.bytes()[2 * i + 1]])
                                .to_f32()
                        };
                        let tol = if odt == DType::F32 {
                            0.0
                        } else {
                            r.abs() * 1e-3
                        };
                        assert!((got - r).abs() <= tol);
                        // Within half a step of the original (inside range).
                        if r > (lo as i32 - z) as f32 * s && r < (hi as i32 - z) as f32 * s {
                            assert!((r - x[i]).abs() <= s * 0.5 + 1e-5);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn dequantize_int32() {
        let v = [i32::MIN, -5, 0, i32::MAX];
        let x = T::from_bytes(&[4], DType::I32, bytemuck::cast_slice(&v))
            .quant(Quant::per_tensor(0.5, 1));
        let out = run1(&Op::Dequantize, &[&x], &[4], DType::F32, None).unwrap();
        let want: Vec<f32> = v.iter().map(|&q| ((q as i64 - 1) as f32) * 0.5).collect();
        assert_eq!(out.as_f32(), want);
    }

    #[test]
    fn quantize_needs_parameters() {
        let x = T::f32(&[2], &[0.0, 1.0]);
        assert!(run1(&Op::Quantize, &[&x], &[2], DType::I8, None).is_err());
        assert!(run1(
            &Op::Quantize,
            &[&x],
            &[2],
            DType::I8,
            Some(Quant::per_channel(vec![1.0; 3], vec![0; 3], 0))
        )
        .is_err());
    }
}
