//! Element-type, quantization and attribute rules of every [`Op`].
//!
//! These are structural rules (ONNX type constraints, int8 tensors that
//! carry real values need quantization parameters, index types), not a
//! list of what each kernel implements: a kernel may still refuse a valid
//! combination with `KernelError::Unsupported`.

use super::GraphError;
use crate::graph::{Activation, DType, Op, PadMode, ReduceOp, TensorInfo};

fn err<T>(msg: String) -> Result<T, GraphError> {
    Err(GraphError(msg))
}

fn is_q8(t: &TensorInfo) -> bool {
    matches!(t.dtype, DType::I8 | DType::U8)
}

fn is_int(dt: DType) -> bool {
    matches!(
        dt,
        DType::I8 | DType::U8 | DType::I16 | DType::U16 | DType::I32
    )
}

/// Checks a tensor's quantization parameters: only on integer tensors,
/// one scale per channel (or one), finite positive scales, zero points in
/// the element type's range, a channel axis inside the rank.
pub fn check_quant(t: &TensorInfo) -> Result<(), GraphError> {
    let Some(q) = &t.quant else { return Ok(()) };
    let name = &t.name;
    let (lo, hi): (i64, i64) = match t.dtype {
        DType::I8 => (-128, 127),
        DType::U8 => (0, 255),
        DType::I16 => (-32768, 32767),
        DType::U16 => (0, 65535),
        DType::I32 | DType::U32 | DType::I64 => (i32::MIN as i64, i32::MAX as i64),
        DType::F32 | DType::F16 | DType::Bool => {
            return err(format!(
                "tensor '{name}' of type {:?} has quantization parameters (only integer tensors are quantized)",
                t.dtype
            ))
        }
    };
    if q.scale.is_empty() || q.scale.len() != q.zero_point.len() {
        return err(format!(
            "tensor '{name}' quantization has {} scales and {} zero points (need the same non-zero number)",
            q.scale.len(),
            q.zero_point.len()
        ));
    }
    if let Some(s) = q.scale.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return err(format!(
            "tensor '{name}' has quantization scale {s}; scales must be finite and positive"
        ));
    }
    if let Some(z) = q
        .zero_point
        .iter()
        .find(|&&z| !(lo..=hi).contains(&(z as i64)))
    {
        return err(format!(
            "tensor '{name}' zero point {z} is outside the range of {:?}",
            t.dtype
        ));
    }
    if q.scale.len() > 1 {
        let axis = q.axis as usize;
        match t.shape.get(axis) {
            None => {
                return err(format!(
                    "tensor '{name}' quantization axis {axis} is out of range for shape {:?}",
                    t.shape
                ))
            }
            Some(&c) if c != q.scale.len() => {
                return err(format!(
                    "tensor '{name}' has {} per-channel scales but {c} channels along axis {axis}",
                    q.scale.len()
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn need_quant(t: &TensorInfo, role: &str) -> Result<(), GraphError> {
    if t.quant.is_none() {
        return err(format!(
            "{role} '{}' is {:?} but has no quantization parameters",
            t.name, t.dtype
        ));
    }
    Ok(())
}

fn per_tensor(t: &TensorInfo, role: &str) -> Result<(), GraphError> {
    match &t.quant {
        Some(q) if !q.is_per_tensor() => err(format!(
            "{role} '{}' must have per-tensor quantization",
            t.name
        )),
        _ => Ok(()),
    }
}

fn same_type(ts: &[&TensorInfo]) -> Result<(), GraphError> {
    if let Some(t) = ts.iter().find(|t| t.dtype != ts[0].dtype) {
        return err(format!(
            "tensor '{}' is {:?} but '{}' is {:?}; the op needs one element type",
            t.name, t.dtype, ts[0].name, ts[0].dtype
        ));
    }
    Ok(())
}

fn not_bool(t: &TensorInfo) -> Result<(), GraphError> {
    if t.dtype == DType::Bool {
        return err(format!(
            "tensor '{}' is Bool; the op does arithmetic",
            t.name
        ));
    }
    Ok(())
}

/// Arithmetic on int8 values needs every int8 operand quantized.
fn arithmetic(ts: &[&TensorInfo]) -> Result<(), GraphError> {
    same_type(ts)?;
    not_bool(ts[0])?;
    for t in ts {
        if is_q8(t) {
            need_quant(t, "tensor")?;
        }
    }
    Ok(())
}

/// Data movement keeps the element type; quantization passes through.
fn movement(data: &[&TensorInfo]) -> Result<(), GraphError> {
    same_type(data)?;
    let q = data[0].quant.is_some();
    if let Some(t) = data.iter().find(|t| t.quant.is_some() != q) {
        return err(format!(
            "tensor '{}' {} quantization parameters but '{}' {}; data movement keeps them",
            t.name,
            if t.quant.is_some() { "has" } else { "has no" },
            data[0].name,
            if q { "has" } else { "has none" }
        ));
    }
    Ok(())
}

/// Conv, ConvTranspose, Gemm and MatMul: float throughout, or int8 x/w/y
/// with quantization and an int32 bias. `w_axis` is the output-channel
/// axis of the weight, the only allowed per-channel axis.
fn linear(
    op: &Op,
    ins: &[&TensorInfo],
    y: &TensorInfo,
    w_axis: Option<u32>,
) -> Result<(), GraphError> {
    let (x, w) = (ins[0], ins[1]);
    if x.dtype.is_float() {
        same_type(&[x, w, y])?;
        if let Some(b) = ins.get(2) {
            if !b.dtype.is_float() {
                return err(format!(
                    "bias '{}' is {:?}; a float {} needs a float bias",
                    b.name,
                    b.dtype,
                    op.type_name()
                ));
            }
        }
        return Ok(());
    }
    if !is_q8(x) {
        return err(format!(
            "input '{}' is {:?}; {} takes f32, f16, int8 or uint8",
            x.name,
            x.dtype,
            op.type_name()
        ));
    }
    for (t, role) in [(x, "input"), (w, "weight"), (y, "output")] {
        if !is_q8(t) {
            return err(format!(
                "{role} '{}' is {:?}; a quantized {} needs int8/uint8 input, weight and output",
                t.name,
                t.dtype,
                op.type_name()
            ));
        }
        need_quant(t, role)?;
    }
    per_tensor(x, "input")?;
    per_tensor(y, "output")?;
    if let Some(q) = &w.quant {
        if !q.is_per_tensor() && Some(q.axis) != w_axis {
            return err(format!(
                "weight '{}' is quantized per channel along axis {}, but only the output-channel axis {} is allowed",
                w.name,
                q.axis,
                w_axis.map_or("(none)".to_string(), |a| a.to_string())
            ));
        }
    }
    if let Some(b) = ins.get(2) {
        if b.dtype != DType::I32 {
            return err(format!(
                "bias '{}' is {:?}; a quantized {} needs an int32 bias",
                b.name,
                b.dtype,
                op.type_name()
            ));
        }
    }
    Ok(())
}

fn finite(v: f32, what: &str) -> Result<(), GraphError> {
    if !v.is_finite() {
        return err(format!("{what} is {v}; attributes must be finite"));
    }
    Ok(())
}

fn check_activation(a: &Activation) -> Result<(), GraphError> {
    match *a {
        Activation::Clip { min, max } => {
            finite(min, "Clip min")?;
            finite(max, "Clip max")?;
            if min > max {
                return err(format!("Clip min {min} is greater than max {max}"));
            }
        }
        Activation::LeakyRelu { alpha } => finite(alpha, "LeakyRelu alpha")?,
        Activation::HardSigmoid { alpha, beta } => {
            finite(alpha, "HardSigmoid alpha")?;
            finite(beta, "HardSigmoid beta")?;
        }
        _ => {}
    }
    Ok(())
}

/// Checks the float attributes of `op` (finite, in range).
fn check_attributes(op: &Op) -> Result<(), GraphError> {
    match op {
        Op::Conv { activation, .. }
        | Op::ConvTranspose { activation, .. }
        | Op::Binary { activation, .. } => activation.as_ref().map_or(Ok(()), check_activation),
        Op::Gemm {
            alpha,
            beta,
            activation,
            ..
        } => {
            finite(*alpha, "Gemm alpha")?;
            finite(*beta, "Gemm beta")?;
            activation.as_ref().map_or(Ok(()), check_activation)
        }
        Op::Unary { act } => check_activation(act),
        Op::LayerNorm { epsilon, .. } => {
            if !(epsilon.is_finite() && *epsilon >= 0.0) {
                return err(format!(
                    "LayerNormalization epsilon {epsilon} must be finite and non-negative"
                ));
            }
            Ok(())
        }
        Op::Pad {
            mode: PadMode::Constant { value },
            ..
        } => finite(*value, "Pad value"),
        _ => Ok(()),
    }
}

/// Checks the element types and quantization of a node's tensors against
/// its op, and the op's float attributes (an arity other than
/// [`super::input_arity`] / [`super::output_arity`] is an error).
pub fn check_types(op: &Op, ins: &[&TensorInfo], outs: &[&TensorInfo]) -> Result<(), GraphError> {
    if !super::input_arity(op).contains(&ins.len())
        || !super::output_arity(op).contains(&outs.len())
    {
        return err(format!(
            "{} cannot take {} inputs and {} outputs",
            op.type_name(),
            ins.len(),
            outs.len()
        ));
    }
    check_attributes(op)?;
    if let Op::Custom(c) = op {
        return super::custom::check(c, ins, outs);
    }
    let y = outs[0];
    match op {
        Op::Conv { .. } => linear(op, ins, y, Some(0)),
        Op::ConvTranspose { .. } => linear(op, ins, y, Some(1)),
        Op::Gemm { trans_b, .. } => linear(op, ins, y, Some(if *trans_b { 0 } else { 1 })),
        Op::MatMul => {
            let axis = (ins[1].shape.len() >= 2).then(|| ins[1].shape.len() as u32 - 1);
            linear(op, ins, y, axis)
        }
        Op::Binary { .. } | Op::PRelu => arithmetic(&[ins[0], ins[1], y]),
        Op::Unary { .. }
        | Op::MaxPool { .. }
        | Op::AveragePool { .. }
        | Op::GlobalAveragePool
        | Op::GlobalMaxPool
        | Op::Softmax { .. } => arithmetic(&[ins[0], y]),
        Op::LayerNorm { .. } => {
            arithmetic(&[ins[0], y])?;
            for (t, role) in ins[1..].iter().zip(["scale", "bias"]) {
                if !(t.dtype.is_float() || t.dtype == ins[0].dtype) {
                    return err(format!(
                        "{role} '{}' is {:?}; it must be float or the input's type {:?}",
                        t.name, t.dtype, ins[0].dtype
                    ));
                }
                if is_q8(t) {
                    need_quant(t, role)?;
                }
            }
            Ok(())
        }
        Op::Reduce { op: r, .. } => match r {
            ReduceOp::Max => movement(&[ins[0], y]).and_then(|_| not_bool(y)),
            ReduceOp::Mean | ReduceOp::Sum => arithmetic(&[ins[0], y]),
        },
        Op::Concat { .. } | Op::Split { .. } => {
            let all: Vec<&TensorInfo> = ins.iter().chain(outs).copied().collect();
            movement(&all)
        }
        Op::Pad { mode, .. } => {
            movement(&[ins[0], y])?;
            if let PadMode::Constant { value } = mode {
                if *value != 0.0 && is_q8(y) {
                    need_quant(y, "output")?;
                }
            }
            not_bool_pad(mode, y)
        }
        Op::Slice { .. } | Op::Reshape | Op::Transpose { .. } | Op::Resize { .. } => {
            movement(&[ins[0], y])
        }
        Op::Gather { .. } => {
            if !matches!(ins[1].dtype, DType::I32 | DType::I64) {
                return err(format!(
                    "indices '{}' are {:?}; Gather takes int32 or int64 indices",
                    ins[1].name, ins[1].dtype
                ));
            }
            movement(&[ins[0], y])
        }
        Op::ArgMax { .. } => {
            not_bool(ins[0])?;
            if y.dtype != DType::I64 || y.quant.is_some() {
                return err(format!(
                    "output '{}' is {:?}; ArgMax produces unquantized int64",
                    y.name, y.dtype
                ));
            }
            Ok(())
        }
        Op::Cast { to } => {
            if y.dtype != *to {
                return err(format!(
                    "output '{}' is {:?}, but the Cast is to {to:?}",
                    y.name, y.dtype
                ));
            }
            Ok(())
        }
        Op::Quantize => {
            let x = ins[0];
            if !x.dtype.is_float() || !is_int(y.dtype) {
                return err(format!(
                    "QuantizeLinear converts float to integer, got {:?} '{}' to {:?} '{}'",
                    x.dtype, x.name, y.dtype, y.name
                ));
            }
            need_quant(y, "output")
        }
        Op::Dequantize => {
            let x = ins[0];
            if !is_int(x.dtype) || !y.dtype.is_float() {
                return err(format!(
                    "DequantizeLinear converts integer to float, got {:?} '{}' to {:?} '{}'",
                    x.dtype, x.name, y.dtype, y.name
                ));
            }
            need_quant(x, "input")
        }
        Op::Custom(_) => Ok(()),
    }
}

/// A constant fill of a Bool tensor must be 0 or 1.
fn not_bool_pad(mode: &PadMode, y: &TensorInfo) -> Result<(), GraphError> {
    match mode {
        PadMode::Constant { value } if y.dtype == DType::Bool && *value != 0.0 && *value != 1.0 => {
            err(format!(
                "Pad value {value} is not a Bool (0 or 1) for '{}'",
                y.name
            ))
        }
        _ => Ok(()),
    }
}
