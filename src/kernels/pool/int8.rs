//! int8 pooling.
//!
//! Max: the maximum is taken on the stored int8 values (dequantization
//! is increasing, so this is the maximum of the real values) and copied
//! when input and output quantization are equal, else requantized:
//! `y = clamp(round((q - zx) * sx / sy) + zy)`.
//!
//! Average: `S = Σ (q - zx)` over the counted input cells in int32
//! (padding cells are real zeros and add nothing), then
//! `y = clamp(round(S * (sx / (count * sy))) + zy)` with the build's
//! rounding switch (`quant::requantize_i8`).

use super::{Kind, Plan};
use crate::graph::Op;
use crate::kernels::{qparams, quant, In, KernelError, Out};

/// int8 max or average pooling. A window without any counted cell
/// yields the output zero point (real 0).
pub(super) fn pool(op: &Op, p: &Plan, x: &In<'_>, out: &mut Out<'_>) -> Result<(), KernelError> {
    let (sx, zx) = qparams::per_tensor(op, x.info)?;
    let (sy, zy) = qparams::per_tensor(op, out.info)?;
    if p.h * p.w > (i32::MAX / 256) as usize {
        return Err(KernelError::unsupported(
            op,
            "window too large for an int32 sum",
        ));
    }
    let same = sx == sy && zx == zy;
    let max_mult = sx / sy;
    let x = x.i8(op)?;
    let y = out.i8_mut(op)?;
    p.walk(x, y, zy.clamp(-128, 127) as i8, |cells, n| match p.kind {
        Kind::Max => {
            let m = cells.iter().fold(i8::MIN, |m, &v| m.max(v));
            if same {
                m
            } else {
                quant::requantize_i8(m as i32 - zx, max_mult, zy)
            }
        }
        Kind::AvgExcludePad | Kind::AvgIncludePad => {
            let s: i32 = cells.iter().map(|&v| v as i32 - zx).sum();
            quant::requantize_i8(s, sx / (n as f32 * sy), zy)
        }
    });
    Ok(())
}
