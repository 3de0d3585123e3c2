//! Ops outside the rknnrt op set that exporters put into shape
//! sub-graphs (comparisons, logic, Where, Mod, Floor, Ceil, Abs, Expand):
//! evaluated at import time when every input is a constant. Expand of a
//! run-time tensor becomes a broadcasting Mul (float) or Add (integer)
//! with a constant of the target shape.

use std::rc::Rc;

use rknnrt::graph::{shape::broadcast, BinaryOp, DType};

use super::elementwise::apply;
use super::{constant, Node};
use crate::onnx::ctx::{Ctx, Val};
use crate::onnx::tensor::{elem_count, Tensor};

/// Largest constant these ops may create (elements).
const MAX_ELEMS: usize = 1 << 24;

/// Op types handled here.
pub const OPS: &[&str] = &[
    "Abs",
    "And",
    "Ceil",
    "Equal",
    "Expand",
    "Floor",
    "Greater",
    "GreaterOrEqual",
    "Less",
    "LessOrEqual",
    "Mod",
    "Not",
    "Or",
    "Where",
    "Xor",
];

/// Converts one of [`OPS`].
pub fn convert(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    if n.op_type == "Expand" {
        return expand(ctx, n);
    }
    let ins: Vec<Rc<Tensor>> = n
        .inputs
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let v = v.as_ref().ok_or_else(|| format!("input {i} is missing"))?;
            match v {
                Val::Const(t) => Ok(t.clone()),
                Val::Act(_) => Err(format!(
                    "{} is only supported on constant inputs (folded at import time)",
                    n.op_type
                )),
            }
        })
        .collect::<Result<_, _>>()?;
    let arity = match n.op_type {
        "Abs" | "Ceil" | "Floor" | "Not" => 1,
        "Where" => 3,
        _ => 2,
    };
    if ins.len() != arity {
        return Err(format!("takes {arity} inputs, got {}", ins.len()));
    }
    let fmod = n.op_type == "Mod" && n.attrs.flag("fmod", false)?;
    let mut shape: Vec<usize> = ins[0].shape.clone();
    for t in &ins[1..] {
        shape = broadcast(&shape, &t.shape).map_err(|e| e.to_string())?;
    }
    let count = elem_count(&shape)
        .filter(|&c| c <= MAX_ELEMS)
        .ok_or_else(|| format!("result of shape {shape:?} is too large"))?;
    let vals: Vec<Vec<f64>> = ins.iter().map(|t| values(t)).collect();
    let int = !ins[0].dtype.is_float();
    let out_type = match n.op_type {
        "Equal" | "Less" | "LessOrEqual" | "Greater" | "GreaterOrEqual" | "Not" | "And" | "Or"
        | "Xor" => DType::Bool,
        "Where" => ins[1].dtype,
        _ => ins[0].dtype,
    };
    if matches!(n.op_type, "Floor" | "Ceil") && int {
        return Err(format!("{} takes float input", n.op_type));
    }
    if n.op_type == "Mod" && !fmod && !int {
        return Err("Mod of floats needs fmod = 1".into());
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let at = |k: usize| vals[k][source(i, &shape, &ins[k].shape)];
        let b = |v: f64| v != 0.0;
        let r = match n.op_type {
            "Abs" => at(0).abs(),
            "Ceil" => at(0).ceil(),
            "Floor" => at(0).floor(),
            "Not" => (!b(at(0))) as u8 as f64,
            "Equal" => (at(0) == at(1)) as u8 as f64,
            "Less" => (at(0) < at(1)) as u8 as f64,
            "LessOrEqual" => (at(0) <= at(1)) as u8 as f64,
            "Greater" => (at(0) > at(1)) as u8 as f64,
            "GreaterOrEqual" => (at(0) >= at(1)) as u8 as f64,
            "And" => (b(at(0)) && b(at(1))) as u8 as f64,
            "Or" => (b(at(0)) || b(at(1))) as u8 as f64,
            "Xor" => (b(at(0)) != b(at(1))) as u8 as f64,
            "Where" => {
                if b(at(0)) {
                    at(1)
                } else {
                    at(2)
                }
            }
            _ => {
                let (x, y) = (at(0), at(1));
                if y == 0.0 && int {
                    return Err("integer Mod by zero".into());
                }
                if fmod {
                    x % y
                } else {
                    // Python-style: the result takes the divisor's sign.
                    let r = x % y;
                    if r != 0.0 && (r < 0.0) != (y < 0.0) {
                        r + y
                    } else {
                        r
                    }
                }
            }
        };
        out.push(r);
    }
    Ok(vec![Val::Const(Rc::new(tensor(out_type, shape, &out)?))])
}

/// Expand: constant data is broadcast here; run-time data through a
/// broadcasting Mul by ones (float) or Add of zeros (integer).
fn expand(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let target = constant(n.input(1)?, "shape")?.to_i64();
    let target = target
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("invalid shape {target:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    let shape = broadcast(&m.shape, &target).map_err(|e| e.to_string())?;
    let count = elem_count(&shape)
        .filter(|&c| c <= MAX_ELEMS)
        .ok_or_else(|| format!("result of shape {shape:?} is too large"))?;
    if let Val::Const(t) = x {
        let v = values(t);
        let out: Vec<f64> = (0..count).map(|i| v[source(i, &shape, &t.shape)]).collect();
        return Ok(vec![Val::Const(Rc::new(tensor(t.dtype, shape, &out)?))]);
    }
    let (op, fill) = if m.dtype.is_float() {
        (BinaryOp::Mul, 1.0)
    } else {
        (BinaryOp::Add, 0.0)
    };
    let c = Val::Const(Rc::new(tensor(m.dtype, shape, &vec![fill; count])?));
    Ok(vec![apply(ctx, op, x, &c)?])
}

/// The values of `t` as f64.
fn values(t: &Tensor) -> Vec<f64> {
    if t.dtype.is_float() {
        t.to_f32().iter().map(|&v| v as f64).collect()
    } else {
        t.to_i64().iter().map(|&v| v as f64).collect()
    }
}

/// Index into a tensor of shape `src` broadcast to `out` for output
/// element `i`.
fn source(mut i: usize, out: &[usize], src: &[usize]) -> usize {
    let mut idx = 0;
    let mut stride = 1;
    for k in 0..out.len() {
        let d = out.len() - 1 - k;
        let coord = i % out[d];
        i /= out[d];
        if k < src.len() {
            let s = src.len() - 1 - k;
            if src[s] != 1 {
                idx += coord * stride;
            }
            stride *= src[s];
        }
    }
    idx
}

/// A tensor of `dtype` from f64 values.
fn tensor(dtype: DType, shape: Vec<usize>, v: &[f64]) -> Result<Tensor, String> {
    let bytes: Vec<u8> = match dtype {
        DType::F32 => v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect(),
        DType::F16 => v
            .iter()
            .flat_map(|&x| half::f16::from_f64(x).to_le_bytes())
            .collect(),
        DType::I64 => v.iter().flat_map(|&x| (x as i64).to_le_bytes()).collect(),
        DType::I32 => v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect(),
        DType::U32 => v.iter().flat_map(|&x| (x as u32).to_le_bytes()).collect(),
        DType::I16 => v.iter().flat_map(|&x| (x as i16).to_le_bytes()).collect(),
        DType::U16 => v.iter().flat_map(|&x| (x as u16).to_le_bytes()).collect(),
        DType::I8 => v.iter().map(|&x| x as i8 as u8).collect(),
        DType::U8 => v.iter().map(|&x| x as u8).collect(),
        DType::Bool => v.iter().map(|&x| (x != 0.0) as u8).collect(),
    };
    Tensor::new(dtype, shape, bytes).ok_or_else(|| "inconsistent constant".to_string())
}

#[cfg(test)]
mod tests {
    use super::source;

    #[test]
    fn broadcast_sources_follow_numpy() {
        // [2, 3] from [3]: columns repeat.
        let got: Vec<usize> = (0..6).map(|i| source(i, &[2, 3], &[3])).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2]);
        // [2, 3] from [2, 1]: rows repeat.
        let got: Vec<usize> = (0..6).map(|i| source(i, &[2, 3], &[2, 1])).collect();
        assert_eq!(got, [0, 0, 0, 1, 1, 1]);
        assert_eq!(source(5, &[2, 3], &[]), 0);
    }
}
