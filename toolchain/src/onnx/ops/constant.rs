//! Ops whose results are known at import time: Constant,
//! ConstantOfShape, Shape, Size, Range; and the inference forms of
//! Dropout.

use std::rc::Rc;

use rknnrt::graph::DType;

use super::{constant as const_input, Node};
use crate::onnx::ctx::{Ctx, Val};
use crate::onnx::tensor::{decode, elem_count, Tensor};

/// Largest constant an import-time op may create (elements).
const MAX_FOLDED: usize = 1 << 24;

/// Constant: one of the value attributes.
pub fn constant(n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    let t = if let Some(t) = a.tensor("value")? {
        decode(t, None)?
    } else if a.has("value_float") {
        Tensor::from_f32(vec![], &[a.float_or("value_float", 0.0)?])
    } else if let Some(v) = a.floats("value_floats")? {
        Tensor::from_f32(vec![v.len()], &v)
    } else if let Some(v) = a.int("value_int")? {
        Tensor::from_i64(vec![], &[v])
    } else if let Some(v) = a.ints("value_ints")? {
        Tensor::from_i64(vec![v.len()], &v)
    } else {
        return Err("needs a value attribute (value, value_float(s), value_int(s)); sparse and string values are not supported".into());
    };
    Ok(vec![Val::Const(Rc::new(t))])
}

/// ConstantOfShape: `value` (one element, default float 0) repeated.
pub fn constant_of_shape(n: &Node<'_>) -> Result<Vec<Val>, String> {
    let shape = const_input(n.input(0)?, "input")?.to_i64();
    let value = match n.attrs.tensor("value")? {
        Some(t) => decode(t, None)?,
        None => Tensor::from_f32(vec![1], &[0.0]),
    };
    if value.elems() != 1 {
        return Err(format!(
            "value must have one element, has shape {:?}",
            value.shape
        ));
    }
    let dims = shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension in {shape:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    let count = elem_count(&dims)
        .filter(|&c| c <= MAX_FOLDED)
        .ok_or_else(|| format!("shape {dims:?} is too large"))?;
    let bytes = value.bytes.repeat(count);
    let t = Tensor::new(value.dtype, dims, bytes).ok_or("inconsistent constant")?;
    Ok(vec![Val::Const(Rc::new(t))])
}

/// Shape (with `start`/`end` from opset 15) and Size, as int64 constants.
pub fn shape(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let m = ctx.meta(n.input(0)?)?;
    let dims: Vec<i64> = m.shape.iter().map(|&d| d as i64).collect();
    let t = if n.op_type == "Size" {
        Tensor::from_i64(vec![], &[dims.iter().product()])
    } else {
        let r = dims.len() as i64;
        let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
        let start = clamp(n.attrs.int_or("start", 0)?);
        let end = clamp(n.attrs.int_or("end", r)?);
        let part = if start < end {
            &dims[start..end]
        } else {
            &[][..]
        };
        Tensor::from_i64(vec![part.len()], part)
    };
    Ok(vec![Val::Const(Rc::new(t))])
}

/// Range: `start + i * delta` for i in 0..max(ceil((limit - start) /
/// delta), 0).
pub fn range(n: &Node<'_>) -> Result<Vec<Val>, String> {
    let get = |i: usize, w: &str| -> Result<Rc<Tensor>, String> {
        let t = const_input(n.input(i)?, w)?;
        if t.elems() != 1 {
            return Err(format!("{w} must be a scalar, has shape {:?}", t.shape));
        }
        Ok(t)
    };
    let (s, l, d) = (get(0, "start")?, get(1, "limit")?, get(2, "delta")?);
    let t = match s.dtype {
        DType::F32 => {
            let (s, l, d) = (s.to_f32()[0], l.to_f32()[0], d.to_f32()[0]);
            let count = ((l - s) / d).ceil().max(0.0);
            if !count.is_finite() || count > MAX_FOLDED as f32 {
                return Err(format!("range {s}..{l} step {d} is invalid or too long"));
            }
            let v: Vec<f32> = (0..count as usize).map(|i| s + i as f32 * d).collect();
            Tensor::from_f32(vec![v.len()], &v)
        }
        DType::I64 | DType::I32 => {
            let (s0, l0, d0) = (s.to_i64()[0], l.to_i64()[0], d.to_i64()[0]);
            if d0 == 0 {
                return Err("delta must not be 0".into());
            }
            let span = (l0 as i128 - s0 as i128).max(0) as u128;
            let span_neg = (s0 as i128 - l0 as i128).max(0) as u128;
            let count = if d0 > 0 {
                span.div_ceil(d0 as u128)
            } else {
                span_neg.div_ceil(d0.unsigned_abs() as u128)
            };
            if count > MAX_FOLDED as u128 {
                return Err("range is too long".into());
            }
            let v: Vec<i64> = (0..count as i64).map(|i| s0 + i * d0).collect();
            let t = Tensor::from_i64(vec![v.len()], &v);
            if s.dtype == DType::I32 {
                let bytes = v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect();
                Tensor::new(DType::I32, vec![v.len()], bytes).ok_or("inconsistent constant")?
            } else {
                t
            }
        }
        d => return Err(format!("Range of {d:?} is not supported")),
    };
    Ok(vec![Val::Const(Rc::new(t))])
}

/// Dropout at inference: the input unchanged; the mask (if used) is all
/// true.
pub fn dropout(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    a.ignore(&["ratio", "seed", "is_test", "consumed_inputs"]);
    if let Some(t) = n.opt(2) {
        let t = const_input(t, "training_mode")?;
        if t.to_i64().iter().any(|&v| v != 0) {
            return Err("training_mode = true is not supported (inference only)".into());
        }
    }
    let x = n.input(0)?;
    let mut out = vec![x.clone()];
    if n.outputs.get(1) == Some(&true) {
        let m = ctx.meta(x)?;
        let count = elem_count(&m.shape).ok_or("shape overflows")?;
        let mask = Tensor::new(DType::Bool, m.shape, vec![1u8; count]).ok_or("mask")?;
        out.push(Val::Const(Rc::new(mask)));
    }
    Ok(out)
}
