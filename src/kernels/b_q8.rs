//! 8-bit quantized tensors (int8 and uint8) handled byte-wise: every
//! 8-bit kernel works on raw bytes and goes through these helpers, so the
//! rounding of [`super::quant`] is applied in exactly one way.

use super::{quant, In, KernelError, Out};
use crate::graph::{DType, Op, Quant, TensorInfo};

/// True for the 8-bit quantized element types.
pub fn is_q8(dtype: DType) -> bool {
    matches!(dtype, DType::I8 | DType::U8)
}

/// The integer value of a raw byte of an 8-bit tensor.
#[inline(always)]
pub fn byte_value(dtype: DType, b: u8) -> i32 {
    if dtype == DType::I8 {
        b as i8 as i32
    } else {
        b as i32
    }
}

/// Quantizes a real value to a raw byte of `dtype` (int8 or uint8):
/// `clamp(round(x * inv_scale) + zp)` with the build's rounding.
#[inline(always)]
pub fn quantize_byte(dtype: DType, x: f32, inv_scale: f32, zp: i32) -> u8 {
    if dtype == DType::I8 {
        quant::quantize_i8(x, inv_scale, zp) as u8
    } else {
        (quant::round(x * inv_scale) + zp as f32).clamp(0.0, 255.0) as u8
    }
}

/// Per-tensor scale and zero point of a quantized tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QParams {
    /// Real value of one step.
    pub scale: f32,
    /// Integer that represents 0.0.
    pub zp: i32,
}

impl QParams {
    /// 1 / scale, the multiplier used when quantizing.
    pub fn inv_scale(&self) -> f32 {
        1.0 / self.scale
    }
}

fn quant_of<'a>(op: &Op, info: &'a TensorInfo) -> Result<&'a Quant, KernelError> {
    let q = info.quant.as_ref().ok_or_else(|| {
        KernelError::invalid(op, format!("tensor '{}' has no quantization", info.name))
    })?;
    if q.scale.is_empty() || q.scale.len() != q.zero_point.len() {
        return Err(KernelError::invalid(
            op,
            format!("tensor '{}' has malformed quantization", info.name),
        ));
    }
    if q.scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(KernelError::invalid(
            op,
            format!(
                "tensor '{}' has a non-positive or non-finite scale",
                info.name
            ),
        ));
    }
    Ok(q)
}

/// Per-tensor parameters of an 8-bit tensor; errors when the quantization
/// is missing or per-channel.
pub fn per_tensor(op: &Op, info: &TensorInfo) -> Result<QParams, KernelError> {
    let q = quant_of(op, info)?;
    if !q.is_per_tensor() {
        return Err(KernelError::unsupported(
            op,
            format!("per-channel quantization of tensor '{}'", info.name),
        ));
    }
    Ok(QParams {
        scale: q.scale[0],
        zp: q.zero_point[0],
    })
}

/// Real value of every possible byte of an 8-bit tensor.
pub fn dequant_table(dtype: DType, p: QParams) -> [f32; 256] {
    let mut t = [0f32; 256];
    for (b, v) in t.iter_mut().enumerate() {
        *v = quant::dequantize(byte_value(dtype, b as u8), p.scale, p.zp);
    }
    t
}

/// Byte-to-byte table `quantize_out(f(dequantize_in(b)))` (the int8 LUT of
/// unary functions and of requantization).
pub fn lut(
    in_dtype: DType,
    inp: QParams,
    out_dtype: DType,
    out: QParams,
    f: impl Fn(f32) -> f32,
) -> [u8; 256] {
    let deq = dequant_table(in_dtype, inp);
    let inv = out.inv_scale();
    let mut t = [0u8; 256];
    for (d, &x) in t.iter_mut().zip(deq.iter()) {
        *d = quantize_byte(out_dtype, f(x), inv, out.zp);
    }
    t
}

/// The requantization table from `src`'s to `dst`'s quantization, or
/// `None` when no conversion is needed (not 8-bit, or the same
/// parameters).
pub fn requant_table(
    op: &Op,
    src: &TensorInfo,
    dst: &TensorInfo,
) -> Result<Option<[u8; 256]>, KernelError> {
    if !is_q8(src.dtype) || src.dtype != dst.dtype || src.quant == dst.quant {
        return Ok(None);
    }
    if src.quant.is_none() || dst.quant.is_none() {
        // A raw integer tensor moved into a quantized one (or back) keeps
        // its integers.
        return Ok(None);
    }
    let a = per_tensor(op, src)?;
    let b = per_tensor(op, dst)?;
    if a == b {
        return Ok(None);
    }
    Ok(Some(lut(src.dtype, a, dst.dtype, b, |x| x)))
}

/// Channel layout of a tensor's quantization: per element, the index of
/// its (scale, zero point) pair is `(i / inner) % channels`.
fn channel_geometry(op: &Op, info: &TensorInfo, q: &Quant) -> Result<(usize, usize), KernelError> {
    if q.is_per_tensor() {
        return Ok((1, 1));
    }
    let axis = q.axis as usize;
    if axis >= info.shape.len() || info.shape[axis] != q.scale.len() {
        return Err(KernelError::invalid(
            op,
            format!(
                "tensor '{}': {} channel scales do not match axis {} of {:?}",
                info.name,
                q.scale.len(),
                q.axis,
                info.shape
            ),
        ));
    }
    Ok((q.scale.len(), info.shape[axis + 1..].iter().product()))
}

/// The tensor as real f32 values: f32 data as is, 8-bit data dequantized
/// with its (per-tensor or per-channel) quantization, int32 data
/// dequantized when it carries quantization.
pub fn to_real(op: &Op, t: &In<'_>) -> Result<Vec<f32>, KernelError> {
    match t.info.dtype {
        DType::F32 => Ok(t.f32(op)?.to_vec()),
        DType::I8 | DType::U8 => {
            if t.data.len() != t.info.bytes() {
                return Err(KernelError::invalid(
                    op,
                    format!("tensor '{}' size mismatch", t.info.name),
                ));
            }
            let q = quant_of(op, t.info)?;
            if q.is_per_tensor() {
                let table = dequant_table(t.info.dtype, per_tensor(op, t.info)?);
                return Ok(t.data.iter().map(|&b| table[b as usize]).collect());
            }
            let (ch, inner) = channel_geometry(op, t.info, q)?;
            Ok(t.data
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    let c = (i / inner) % ch;
                    quant::dequantize(byte_value(t.info.dtype, b), q.scale[c], q.zero_point[c])
                })
                .collect())
        }
        DType::I32 => {
            let v = t.i32(op)?;
            let q = quant_of(op, t.info)?;
            let (ch, inner) = channel_geometry(op, t.info, q)?;
            Ok(v.iter()
                .enumerate()
                .map(|(i, &x)| {
                    let c = (i / inner) % ch;
                    (x as i64 - q.zero_point[c] as i64) as f32 * q.scale[c]
                })
                .collect())
        }
        other => Err(KernelError::unsupported(op, format!("{other:?} input"))),
    }
}

/// Writes real values into an f32 or 8-bit output (quantized with the
/// output's per-tensor or per-channel parameters).
pub fn from_real(op: &Op, vals: &[f32], out: &mut Out<'_>) -> Result<(), KernelError> {
    if vals.len() != out.info.elems() {
        return Err(KernelError::invalid(op, "output size mismatch"));
    }
    match out.info.dtype {
        DType::F32 => {
            out.f32_mut(op)?.copy_from_slice(vals);
            Ok(())
        }
        DType::I8 | DType::U8 => {
            if out.data.len() != vals.len() {
                return Err(KernelError::invalid(op, "output size mismatch"));
            }
            let dtype = out.info.dtype;
            let q = quant_of(op, out.info)?;
            let (ch, inner) = channel_geometry(op, out.info, q)?;
            let inv: Vec<f32> = q.scale.iter().map(|s| 1.0 / s).collect();
            for (i, (d, &x)) in out.data.iter_mut().zip(vals).enumerate() {
                let c = (i / inner) % ch;
                *d = quantize_byte(dtype, x, inv[c], q.zero_point[c]);
            }
            Ok(())
        }
        other => Err(KernelError::unsupported(op, format!("{other:?} output"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(dtype: DType, shape: Vec<usize>, q: Quant) -> TensorInfo {
        let mut t = TensorInfo::activation("t", shape, dtype);
        t.quant = Some(q);
        t
    }

    #[test]
    fn bytes_round_trip_through_real() {
        let op = Op::Dequantize;
        let ti = info(DType::I8, vec![4], Quant::per_tensor(0.5, 3));
        let data = [(-128i8) as u8, 0, 3, 127];
        let r = to_real(
            &op,
            &In {
                info: &ti,
                data: &data,
            },
        )
        .unwrap();
        assert_eq!(r, vec![-65.5, -1.5, 0.0, 62.0]);
        let mut back = [0u8; 4];
        from_real(
            &op,
            &r,
            &mut Out {
                info: &ti,
                data: &mut back,
            },
        )
        .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn per_channel_uses_the_axis() {
        let op = Op::Dequantize;
        let ti = info(
            DType::U8,
            vec![2, 2],
            Quant::per_channel(vec![1.0, 2.0], vec![0, 10], 1),
        );
        let data = [5u8, 12, 7, 10];
        let r = to_real(
            &op,
            &In {
                info: &ti,
                data: &data,
            },
        )
        .unwrap();
        assert_eq!(r, vec![5.0, 4.0, 7.0, 0.0]);
    }

    #[test]
    fn requant_table_only_when_needed() {
        let op = Op::Concat { axis: 0 };
        let a = info(DType::I8, vec![1], Quant::per_tensor(0.5, 0));
        let b = info(DType::I8, vec![1], Quant::per_tensor(1.0, 1));
        assert!(requant_table(&op, &a, &a).unwrap().is_none());
        let t = requant_table(&op, &a, &b).unwrap().unwrap();
        // 3 * 0.5 = 1.5 -> round(1.5) + 1 = 3 (half away from zero).
        assert_eq!(t[3] as i8, quant::round(1.5) as i8 + 1);
        assert_eq!(t[(-128i8) as u8 as usize] as i8, -63);
    }

    #[test]
    fn bad_quant_is_an_error() {
        let op = Op::Dequantize;
        let ti = info(DType::I8, vec![1], Quant::per_tensor(0.0, 0));
        assert!(to_real(
            &op,
            &In {
                info: &ti,
                data: &[0]
            }
        )
        .is_err());
        let mut no_q = ti.clone();
        no_q.quant = None;
        assert!(to_real(
            &op,
            &In {
                info: &no_q,
                data: &[0]
            }
        )
        .is_err());
    }
}
