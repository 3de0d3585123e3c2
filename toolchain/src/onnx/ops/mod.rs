//! Converters from ONNX nodes to rknnrt ops, one function per ONNX op
//! type. Attribute defaults and input forms follow the ONNX spec of the
//! model's opset.

mod constant;
mod elementwise;
mod fold;
mod movement;
mod nn;
mod quant;
mod resize;

use std::rc::Rc;

use super::attr::Attrs;
use super::ctx::{Ctx, Val};
use super::tensor::Tensor;

/// ONNX op types (default domain) this importer converts.
pub const SUPPORTED: &[&str] = &[
    "Add",
    "ArgMax",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "CastLike",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "ConvTranspose",
    "DequantizeLinear",
    "Div",
    "Dropout",
    "Exp",
    "Flatten",
    "Gather",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "LayerNormalization",
    "LeakyRelu",
    "MatMul",
    "Max",
    "MaxPool",
    "Mean",
    "Min",
    "Mul",
    "Neg",
    "PRelu",
    "Pad",
    "Pow",
    "QuantizeLinear",
    "Range",
    "Reciprocal",
    "ReduceMax",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Resize",
    "Shape",
    "Sigmoid",
    "Size",
    "Slice",
    "Softmax",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Unsqueeze",
    "Upsample",
];

/// ONNX op types outside the rknnrt op set that are evaluated at import
/// time when all their inputs are constants (shape sub-graphs); `Expand`
/// also takes run-time data (a broadcasting Mul or Add).
pub const FOLDED: &[&str] = fold::OPS;

/// One ONNX node being converted.
pub struct Node<'a> {
    /// ONNX op type.
    pub op_type: &'a str,
    /// Opset of the default domain.
    pub opset: i64,
    /// Attributes.
    pub attrs: Attrs<'a>,
    /// Inputs; `None` for an omitted optional input (empty name).
    pub inputs: Vec<Option<Val>>,
    /// Which outputs the model uses (non-empty names).
    pub outputs: Vec<bool>,
}

impl Node<'_> {
    /// Required input `i`.
    pub fn input(&self, i: usize) -> Result<&Val, String> {
        self.opt(i)
            .ok_or_else(|| format!("input {i} is missing (required)"))
    }

    /// Optional input `i`.
    pub fn opt(&self, i: usize) -> Option<&Val> {
        self.inputs.get(i).and_then(|v| v.as_ref())
    }

    /// Optional input `i`, which must be a constant.
    pub fn opt_const(&self, i: usize, what: &str) -> Result<Option<Rc<Tensor>>, String> {
        self.opt(i).map(|v| constant(v, what)).transpose()
    }

    /// Fails when an output past the first `n` is used.
    pub fn only_outputs(&self, n: usize, why: &str) -> Result<(), String> {
        if self.outputs.iter().skip(n).any(|&u| u) {
            return Err(format!("output {n} and later are not supported ({why})"));
        }
        Ok(())
    }
}

/// The constant behind `v`, or an error naming `what`.
pub fn constant(v: &Val, what: &str) -> Result<Rc<Tensor>, String> {
    match v {
        Val::Const(t) => Ok(t.clone()),
        Val::Act(_) => Err(format!(
            "input '{what}' must be a constant (computed at run time here)"
        )),
    }
}

/// Resolves a possibly negative axis against `rank`.
pub fn axis(a: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    if a < -r || a >= r {
        return Err(format!("axis {a} is out of range for rank {rank}"));
    }
    Ok(if a < 0 { a + r } else { a } as usize)
}

/// Converts `n`, returning one value per used output (unused outputs may
/// be missing from the end).
pub fn convert(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let out = match n.op_type {
        "Add" | "Sub" | "Mul" | "Div" | "Max" | "Min" | "Sum" => elementwise::binary(ctx, n)?,
        "Neg" | "Reciprocal" => elementwise::neg_reciprocal(ctx, n)?,
        "Mean" => elementwise::mean(ctx, n)?,
        "Pow" => elementwise::pow(ctx, n)?,
        "Relu" | "Sigmoid" | "Tanh" | "Exp" | "Sqrt" | "HardSwish" | "LeakyRelu"
        | "HardSigmoid" | "Gelu" => elementwise::unary(ctx, n)?,
        "Clip" => elementwise::clip(ctx, n)?,
        "PRelu" => elementwise::prelu(ctx, n)?,
        "Conv" => nn::conv(ctx, n)?,
        "ConvTranspose" => nn::conv_transpose(ctx, n)?,
        "Gemm" => nn::gemm(ctx, n)?,
        "MatMul" => nn::matmul(ctx, n)?,
        "MaxPool" | "AveragePool" => nn::pool(ctx, n)?,
        "GlobalAveragePool" | "GlobalMaxPool" => nn::global_pool(ctx, n)?,
        "Softmax" => nn::softmax(ctx, n)?,
        "LayerNormalization" => nn::layer_norm(ctx, n)?,
        "BatchNormalization" => nn::batch_norm(ctx, n)?,
        "ReduceMean" | "ReduceSum" | "ReduceMax" => nn::reduce(ctx, n)?,
        "ArgMax" => nn::argmax(ctx, n)?,
        "Concat" => movement::concat(ctx, n)?,
        "Split" => movement::split(ctx, n)?,
        "Slice" => movement::slice(ctx, n)?,
        "Reshape" => movement::reshape(ctx, n)?,
        "Flatten" => movement::flatten(ctx, n)?,
        "Squeeze" | "Unsqueeze" => movement::squeeze(ctx, n)?,
        "Transpose" => movement::transpose(ctx, n)?,
        "Pad" => movement::pad(ctx, n)?,
        "Gather" => movement::gather(ctx, n)?,
        "Resize" | "Upsample" => resize::resize(ctx, n)?,
        "Cast" | "CastLike" => quant::cast(ctx, n)?,
        "QuantizeLinear" => quant::quantize(ctx, n)?,
        "DequantizeLinear" => quant::dequantize(ctx, n)?,
        "Identity" => vec![n.input(0)?.clone()],
        "Dropout" => constant::dropout(ctx, n)?,
        "Constant" => constant::constant(n)?,
        "ConstantOfShape" => constant::constant_of_shape(n)?,
        "Shape" | "Size" => constant::shape(ctx, n)?,
        "Range" => constant::range(n)?,
        t if fold::OPS.contains(&t) => fold::convert(ctx, n)?,
        other => return Err(format!("op type '{other}' is not supported")),
    };
    n.attrs.finish()?;
    Ok(out)
}
