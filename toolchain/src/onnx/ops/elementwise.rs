//! Element-wise ops: broadcasting binaries, activations, Clip, PRelu.

use std::rc::Rc;

use rknnrt::graph::{Activation, BinaryOp, DType, Op};

use super::{constant, Node};
use crate::onnx::ctx::{Ctx, Val};
use crate::onnx::tensor::Tensor;

/// Add, Sub, Mul, Div (two inputs) and Max, Min, Sum (one or more
/// inputs).
pub fn binary(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let op = match n.op_type {
        "Add" => BinaryOp::Add,
        "Sub" => BinaryOp::Sub,
        "Mul" => BinaryOp::Mul,
        "Div" => BinaryOp::Div,
        "Max" => BinaryOp::Max,
        "Sum" => BinaryOp::Add,
        _ => BinaryOp::Min,
    };
    if n.opset < 7 || n.attrs.has("broadcast") || n.attrs.has("axis") {
        return Err("the legacy broadcast/axis attributes (opset < 7) are not supported".into());
    }
    let ins: Vec<&Val> = n.inputs.iter().flatten().collect();
    let variadic = matches!(n.op_type, "Max" | "Min" | "Sum");
    if ins.len() != n.inputs.len() || (!variadic && ins.len() != 2) || ins.is_empty() {
        return Err(format!(
            "takes {} inputs, got {}",
            if variadic { "1 or more" } else { "2" },
            ins.len()
        ));
    }
    let mut acc = ins[0].clone();
    if ins.len() == 1 {
        // Max/Min/Sum of one input is the input.
        return Ok(vec![acc]);
    }
    for v in &ins[1..] {
        acc = apply(ctx, op, &acc, v)?;
    }
    Ok(vec![acc])
}

/// One binary node.
pub fn apply(ctx: &mut Ctx, op: BinaryOp, a: &Val, b: &Val) -> Result<Val, String> {
    let (ma, mb) = (ctx.meta(a)?, ctx.meta(b)?);
    if ma.dtype != mb.dtype {
        return Err(format!(
            "operands have different types {:?} and {:?}",
            ma.dtype, mb.dtype
        ));
    }
    if !matches!(ma.dtype, DType::F32 | DType::F16 | DType::I32 | DType::I64) {
        return Err(format!(
            "{:?} operands are not supported (float, int32 and int64 only)",
            ma.dtype
        ));
    }
    let out = ctx.emit(
        Op::Binary {
            op,
            activation: None,
        },
        &[a.clone(), b.clone()],
        &[],
        ma.dtype,
        None,
    )?;
    Ok(out[0].clone())
}

/// One activation node.
pub fn activation(ctx: &mut Ctx, x: &Val, act: Activation) -> Result<Val, String> {
    let m = ctx.meta(x)?;
    if !m.dtype.is_float() {
        return Err(format!(
            "{} takes float input, got {:?}",
            act.type_name(),
            m.dtype
        ));
    }
    Ok(ctx.emit(
        Op::Unary { act },
        std::slice::from_ref(x),
        &[],
        m.dtype,
        None,
    )?[0]
        .clone())
}

/// Single-input activations.
pub fn unary(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    let act = match n.op_type {
        "Relu" => Activation::Relu,
        "Sigmoid" => Activation::Sigmoid,
        "Tanh" => Activation::Tanh,
        "Exp" => Activation::Exp,
        "Sqrt" => Activation::Sqrt,
        "HardSwish" => Activation::HardSwish,
        "LeakyRelu" => Activation::LeakyRelu {
            alpha: a.float_or("alpha", 0.01)?,
        },
        "HardSigmoid" => Activation::HardSigmoid {
            alpha: a.float_or("alpha", 0.2)?,
            beta: a.float_or("beta", 0.5)?,
        },
        _ => match a.string_or("approximate", "none")?.as_str() {
            "none" => Activation::Gelu { tanh_approx: false },
            "tanh" => Activation::Gelu { tanh_approx: true },
            o => return Err(format!("approximate '{o}' is not 'none' or 'tanh'")),
        },
    };
    a.ignore(&["consumed_inputs"]);
    Ok(vec![activation(ctx, n.input(0)?, act)?])
}

/// Clip: bounds as attributes (opset < 11) or constant inputs (>= 11).
pub fn clip(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let (lo, hi) = if n.opset < 11 {
        let a = &n.attrs;
        let lo = a.has("min").then(|| a.float_or("min", 0.0)).transpose()?;
        let hi = a.has("max").then(|| a.float_or("max", 0.0)).transpose()?;
        (
            lo.map(|v| scalar(v, m.dtype)).transpose()?,
            hi.map(|v| scalar(v, m.dtype)).transpose()?,
        )
    } else {
        let c = |i: usize, what: &str| -> Result<Option<Tensor>, String> {
            match n.opt(i) {
                None => Ok(None),
                Some(v) => {
                    let t = constant(v, what)?;
                    if t.elems() != 1 {
                        return Err(format!("{what} must be a scalar, has shape {:?}", t.shape));
                    }
                    Ok(Some((*t).clone()))
                }
            }
        };
        (c(1, "min")?, c(2, "max")?)
    };
    for t in [&lo, &hi].into_iter().flatten() {
        if t.dtype != m.dtype && n.opset >= 11 {
            return Err(format!(
                "bound of type {:?} for input of type {:?}",
                t.dtype, m.dtype
            ));
        }
    }
    let as_f32 = |t: &Option<Tensor>| t.as_ref().map(|t| t.to_f32()[0]);
    if let (DType::F32 | DType::F16, Some(l), Some(h)) = (m.dtype, as_f32(&lo), as_f32(&hi)) {
        if l <= h && l.is_finite() && h.is_finite() {
            return Ok(vec![activation(
                ctx,
                x,
                Activation::Clip { min: l, max: h },
            )?]);
        }
    }
    // One bound, infinite bounds or min > max: Max then Min, exactly
    // min(max(x, lo), hi) as ONNX defines it.
    let mut y = x.clone();
    let cast = |t: Tensor| Val::Const(Rc::new(t));
    if let Some(l) = lo {
        y = apply(ctx, BinaryOp::Max, &y, &cast(l))?;
    }
    if let Some(h) = hi {
        y = apply(ctx, BinaryOp::Min, &y, &cast(h))?;
    }
    Ok(vec![y])
}

/// PRelu: the slope broadcasts to X.
pub fn prelu(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let (x, s) = (n.input(0)?, n.input(1)?);
    let m = ctx.meta(x)?;
    n.attrs.ignore(&["consumed_inputs"]);
    ctx.emit(Op::PRelu, &[x.clone(), s.clone()], &[], m.dtype, None)
}

/// A scalar constant `v` of type `dtype` (float, int32 or int64; `v` is
/// an integer for the integer types).
pub fn scalar(v: f32, dtype: DType) -> Result<Tensor, String> {
    match dtype {
        DType::F32 => Ok(Tensor::from_f32(vec![], &[v])),
        DType::F16 => Ok(Tensor {
            dtype,
            shape: vec![],
            bytes: half::f16::from_f32(v).to_le_bytes().to_vec(),
            quant: None,
        }),
        DType::I64 => Ok(Tensor::from_i64(vec![], &[v as i64])),
        DType::I32 => Tensor::new(dtype, vec![], (v as i32).to_le_bytes().to_vec())
            .ok_or_else(|| "int32 scalar".to_string()),
        d => Err(format!("a float attribute cannot apply to {d:?} input")),
    }
}

/// Neg (`x * -1`) and Reciprocal (`1 / x`), exact in float (integer
/// Reciprocal truncates, as ONNX's integer division does).
pub fn neg_reciprocal(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let c = |v: f32| -> Result<Val, String> { Ok(Val::Const(Rc::new(scalar(v, m.dtype)?))) };
    Ok(vec![if n.op_type == "Neg" {
        apply(ctx, BinaryOp::Mul, x, &c(-1.0)?)?
    } else {
        apply(ctx, BinaryOp::Div, &c(1.0)?, x)?
    }])
}

/// Mean of one or more inputs: their sum times `1 / n` (float only).
pub fn mean(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let ins: Vec<&Val> = n.inputs.iter().flatten().collect();
    let first = *ins.first().ok_or("needs at least one input")?;
    let m = ctx.meta(first)?;
    if !m.dtype.is_float() {
        return Err(format!(
            "Mean of {:?} is not supported (float only)",
            m.dtype
        ));
    }
    let mut acc = first.clone();
    for v in &ins[1..] {
        acc = apply(ctx, BinaryOp::Add, &acc, v)?;
    }
    if ins.len() == 1 {
        return Ok(vec![acc]);
    }
    let k = Val::Const(Rc::new(scalar(1.0 / ins.len() as f32, m.dtype)?));
    Ok(vec![apply(ctx, BinaryOp::Mul, &acc, &k)?])
}

/// Pow: evaluated when both inputs are constants; otherwise the exponent
/// must be a constant scalar 1, 2, 3 (multiplications) or 0.5 (Sqrt).
pub fn pow(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let (x, y) = (n.input(0)?, n.input(1)?);
    let m = ctx.meta(x)?;
    if !m.dtype.is_float() {
        return Err(format!(
            "Pow of {:?} is not supported (float only)",
            m.dtype
        ));
    }
    let e = constant(y, "Y")?;
    if let Val::Const(base) = x {
        let shape =
            rknnrt::graph::shape::broadcast(&base.shape, &e.shape).map_err(|er| er.to_string())?;
        if shape != base.shape || e.elems() != 1 {
            return Err("constant Pow needs a scalar exponent".into());
        }
        let p = e.to_f32()[0];
        let v: Vec<f32> = base.to_f32().iter().map(|b| b.powf(p)).collect();
        let t = match m.dtype {
            DType::F16 => Tensor::new(
                DType::F16,
                shape,
                v.iter()
                    .flat_map(|&f| half::f16::from_f32(f).to_le_bytes())
                    .collect(),
            )
            .ok_or("fp16 constant")?,
            _ => Tensor::from_f32(shape, &v),
        };
        return Ok(vec![Val::Const(Rc::new(t))]);
    }
    if e.elems() != 1 {
        return Err(format!("exponent of shape {:?} is not a scalar", e.shape));
    }
    let p = e.to_f32()[0];
    let y = if p == 1.0 {
        x.clone()
    } else if p == 2.0 {
        apply(ctx, BinaryOp::Mul, x, x)?
    } else if p == 3.0 {
        let sq = apply(ctx, BinaryOp::Mul, x, x)?;
        apply(ctx, BinaryOp::Mul, &sq, x)?
    } else if p == 0.5 {
        activation(ctx, x, Activation::Sqrt)?
    } else {
        return Err(format!("exponent {p} is not supported (1, 2, 3 or 0.5)"));
    };
    Ok(vec![y])
}
