//! Cast, QuantizeLinear and DequantizeLinear.

use rknnrt::graph::{DType, Op, Quant};

use super::{axis, constant, Node};
use crate::onnx::ctx::{Ctx, Val};
use crate::onnx::tensor::{dtype_of, onnx_type};

/// Cast to the `to` type, CastLike to the type of the second input.
pub fn cast(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let to = if n.op_type == "CastLike" {
        ctx.meta(n.input(1)?)?.dtype
    } else {
        let to = n.attrs.int("to")?.ok_or("attribute 'to' is required")?;
        i32::try_from(to)
            .map_err(|_| format!("'to' {to} is not a data type"))
            .and_then(dtype_of)?
    };
    // `saturate` only concerns float8 targets, which are refused above.
    n.attrs.ignore(&["saturate"]);
    ctx.emit(Op::Cast { to }, std::slice::from_ref(x), &[], to, None)
}

/// Scale and zero point constants as a [`Quant`] along `axis` of `x`.
fn params(ctx: &Ctx, n: &Node<'_>, x: &Val, zp_type: DType) -> Result<Quant, String> {
    let xm = ctx.meta(x)?;
    if n.attrs.int_or("block_size", 0)? != 0 {
        return Err("blocked quantization (block_size) is not supported".into());
    }
    let scale = constant(n.input(1)?, "scale")?;
    let zp = n.opt_const(2, "zero_point")?;
    let scales = scale.to_f32();
    let zps: Vec<i32> = match &zp {
        Some(z) => {
            if z.shape != scale.shape {
                return Err(format!(
                    "zero point shape {:?} differs from scale shape {:?}",
                    z.shape, scale.shape
                ));
            }
            if z.dtype != zp_type {
                return Err(format!("zero point is {:?}, expected {zp_type:?}", z.dtype));
            }
            z.to_i64().iter().map(|&v| v as i32).collect()
        }
        None => vec![0; scales.len()],
    };
    // `axis` (default 1) only matters for per-axis parameters.
    let raw_axis = n.attrs.int_or("axis", 1)?;
    if scales.is_empty() {
        return Err("scale is empty".into());
    }
    if scale.shape.is_empty() || (scale.shape.len() == 1 && scales.len() == 1) {
        return Ok(Quant::per_tensor(scales[0], zps[0]));
    }
    let ax = axis(raw_axis, xm.shape.len())?;
    if scale.shape.len() == 1 && n.opset >= 13 && xm.shape.get(ax) == Some(&scales.len()) {
        return Ok(Quant::per_channel(scales, zps, ax as u32));
    }
    Err(format!(
        "scale of shape {:?} is neither per tensor nor per axis {ax} of {:?}",
        scale.shape, xm.shape
    ))
}

/// QuantizeLinear: float to int8/uint8.
pub fn quantize(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let out_type = match (n.opt(2), n.attrs.int("output_dtype")?) {
        (Some(z), _) => ctx.meta(z)?.dtype,
        (None, Some(t)) if t != 0 => i32::try_from(t)
            .map_err(|_| format!("output_dtype {t} is not a data type"))
            .and_then(dtype_of)?,
        _ => dtype_of(onnx_type::UINT8)?,
    };
    if !matches!(out_type, DType::I8 | DType::U8) {
        return Err(format!(
            "quantizing to {out_type:?} is not supported (int8 and uint8 only)"
        ));
    }
    if !n.attrs.flag("saturate", true)? {
        return Err("saturate = 0 only concerns float8 and is not supported".into());
    }
    let q = params(ctx, n, x, out_type)?;
    let xm = ctx.meta(x)?;
    let scale_type = constant(n.input(1)?, "scale")?.dtype;
    if scale_type != xm.dtype {
        return Err(format!("scale is {scale_type:?}, input is {:?}", xm.dtype));
    }
    ctx.emit(
        Op::Quantize,
        std::slice::from_ref(x),
        &[],
        out_type,
        Some(q),
    )
}

/// DequantizeLinear: integer to float (the scale's type).
pub fn dequantize(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let xm = ctx.meta(x)?;
    if !matches!(xm.dtype, DType::I8 | DType::U8) {
        return Err(format!(
            "dequantizing {:?} is not supported (int8 and uint8 only)",
            xm.dtype
        ));
    }
    let q = params(ctx, n, x, xm.dtype)?;
    let out_type = constant(n.input(1)?, "scale")?.dtype;
    if !out_type.is_float() {
        return Err(format!("scale is {out_type:?}, not float"));
    }
    if n.attrs.has("output_dtype") {
        let t = n.attrs.int_or("output_dtype", 0)?;
        if t != 0 && i32::try_from(t).ok().and_then(|t| dtype_of(t).ok()) != Some(out_type) {
            return Err(format!("output_dtype {t} differs from the scale's type"));
        }
    }
    let x = match x {
        Val::Const(t) => {
            let mut t = (**t).clone();
            t.quant = Some(q);
            Val::Const(std::rc::Rc::new(t))
        }
        Val::Act(id) => {
            match ctx.quant.get(id) {
                Some(old) if *old != q => {
                    return Err(format!(
                        "input is already quantized with {old:?}, this node uses {q:?}"
                    ))
                }
                _ => {
                    ctx.quant.insert(*id, q);
                }
            }
            x.clone()
        }
    };
    ctx.emit(Op::Dequantize, &[x], &[], out_type, None)
}
