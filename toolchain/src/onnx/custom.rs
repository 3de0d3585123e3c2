//! ONNX nodes that become custom ops (`docs/custom_ops.md`): op types
//! outside the standard ONNX set (the vendor convention is a `cst`
//! prefix), nodes of another domain, and standard types the user gave a
//! rule for (an op replaced by the application's own). Their attributes
//! are kept as typed values; their output shapes and element types come
//! from a [`CustomRule`]; a standard type this importer converts to one
//! built-in op keeps that op as the node's fallback.

use std::collections::BTreeMap;
use std::str::FromStr;

use rknnrt::graph::{AttrValue, CustomAttr, CustomOp, DType, Op, TensorId};

use super::attr::Attrs;
use super::ctx::{Ctx, Val};
use super::ops::{self, Node};
use super::proto::{attribute_proto::AttributeType, AttributeProto, NodeProto};
use super::tensor::decode;

/// Shape and element type of each output of a node.
pub type Outputs = Vec<(Vec<usize>, DType)>;

/// How the compiler learns a custom op's output shapes and types (it
/// cannot run the op).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CustomRule {
    /// Output `k` has input `k`'s shape and type (input 0's when there are
    /// fewer inputs), as the vendor's `shape_infer` examples do.
    SameAsInput,
    /// The outputs of the standard op of the same type (its built-in
    /// implementation also becomes the fallback).
    Builtin,
    /// Explicit shapes and types, one per output.
    Outputs(Outputs),
}

/// Output types a rule may name.
fn dtype(s: &str) -> Result<DType, String> {
    match s {
        "float32" | "float" | "f32" => Ok(DType::F32),
        "int64" | "i64" => Ok(DType::I64),
        other => Err(format!(
            "'{other}' is not an output type of a custom op (float32 or int64)"
        )),
    }
}

impl FromStr for CustomRule {
    type Err = String;

    /// `same-as-input`, `builtin`, or outputs separated by `,`, each
    /// `DIMxDIMx...[:float32|int64]` (float32 by default), e.g.
    /// `1x1x4x4:int64,1x10`.
    fn from_str(s: &str) -> Result<CustomRule, String> {
        match s.trim() {
            "same-as-input" => return Ok(CustomRule::SameAsInput),
            "builtin" => return Ok(CustomRule::Builtin),
            "" => return Err("the rule is empty".into()),
            _ => {}
        }
        let outputs = s
            .split(',')
            .map(|o| {
                if o.trim().is_empty() {
                    return Err(format!(
                        "'{s}' has an empty output (outputs are separated by ',')"
                    ));
                }
                let (dims, ty) = match o.trim().split_once(':') {
                    Some((d, t)) => (d, dtype(t.trim())?),
                    None => (o.trim(), DType::F32),
                };
                let shape = dims
                    .split('x')
                    .map(|d| {
                        d.trim()
                            .parse::<usize>()
                            .ok()
                            .filter(|&v| v > 0)
                            .ok_or_else(|| {
                                format!("'{d}' in '{o}' is not a dimension (a positive integer)")
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((shape, ty))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(CustomRule::Outputs(outputs))
    }
}

/// Parses `TYPE=RULE` (the `--custom-op` argument).
pub fn parse_assignment(s: &str) -> Result<(String, CustomRule), String> {
    let (ty, rule) = s.split_once('=').ok_or_else(|| {
        format!("--custom-op '{s}' is not TYPE=RULE (e.g. cstSoftmax=same-as-input)")
    })?;
    let ty = ty.trim();
    if ty.is_empty() {
        return Err(format!("--custom-op '{s}' names no op type"));
    }
    let rule = rule
        .parse()
        .map_err(|e| format!("--custom-op '{s}': {e}"))?;
    Ok((ty.to_string(), rule))
}

/// The error for a custom op of `domain` without a rule.
pub fn missing_rule(op_type: &str, domain: &str) -> String {
    let what = if matches!(domain, "" | "ai.onnx") {
        "not a standard ONNX op".to_string()
    } else {
        format!("domain '{domain}'")
    };
    format!(
        "'{op_type}' is a custom op ({what}); give its output shapes: --custom-op {op_type}=same-as-input (or explicit shapes, e.g. {op_type}=1x1000:float32), or a custom_ops entry in the yml config"
    )
}

/// A node attribute as a typed value.
fn attr_value(a: &AttributeProto) -> Result<AttrValue, String> {
    let name = a.name();
    let finite = |v: f32| {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!(
                "attribute '{name}' holds {v}; values must be finite"
            ))
        }
    };
    Ok(match a.r#type() {
        AttributeType::Int => AttrValue::Int(a.i()),
        AttributeType::Float => AttrValue::Float(finite(a.f())?),
        AttributeType::Ints => AttrValue::Ints(a.ints.clone()),
        AttributeType::Floats => AttrValue::Floats(
            a.floats
                .iter()
                .map(|&v| finite(v))
                .collect::<Result<_, _>>()?,
        ),
        AttributeType::String => {
            let s = String::from_utf8(a.s().to_vec())
                .map_err(|_| format!("attribute '{name}' is not UTF-8 text"))?;
            if s.contains('\0') {
                return Err(format!("attribute '{name}' contains a NUL byte"));
            }
            AttrValue::String(s)
        }
        AttributeType::Tensor => {
            let t = a
                .t
                .as_ref()
                .ok_or_else(|| format!("tensor attribute '{name}' has no tensor"))?;
            let t = decode(t, None).map_err(|e| format!("attribute '{name}': {e}"))?;
            let b = &t.bytes;
            match t.dtype {
                DType::F32 => AttrValue::Floats(
                    b.chunks_exact(4)
                        .map(|c| finite(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                        .collect::<Result<_, _>>()?,
                ),
                DType::I64 => AttrValue::Ints(
                    b.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                        .collect(),
                ),
                DType::I32 => AttrValue::Int32s(
                    b.chunks_exact(4)
                        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                ),
                DType::Bool => AttrValue::Bools(b.iter().map(|&v| v != 0).collect()),
                other => {
                    return Err(format!(
                        "tensor attribute '{name}' is {other:?}; custom ops take bool, int32, int64 or float tensors"
                    ))
                }
            }
        }
        other => {
            return Err(format!(
                "attribute '{name}' has type {}; custom op attributes are int, float, string, ints, floats or a tensor",
                other.as_str_name()
            ))
        }
    })
}

/// The built-in op of a standard `op_type` applied to `ids`, with its
/// output shapes and types, when this importer converts the node to
/// exactly one op reading exactly those tensors.
fn builtin(ctx: &Ctx, node: &NodeProto, opset: i64, ids: &[TensorId]) -> Option<(Op, Outputs)> {
    if !ops::SUPPORTED.contains(&node.op_type()) {
        return None;
    }
    let mut scratch = ctx.clone();
    let before = scratch.b.graph().nodes.len();
    let n = Node {
        op_type: node.op_type(),
        opset,
        attrs: Attrs::new(&node.attribute).ok()?,
        inputs: ids.iter().map(|&id| Some(Val::Act(id))).collect(),
        outputs: node.output.iter().map(|o| !o.is_empty()).collect(),
    };
    let vals = ops::convert(&mut scratch, &n).ok()?;
    let g = scratch.b.graph();
    let [added] = &g.nodes[before..] else {
        return None;
    };
    let outs_match = vals.len() == node.output.len()
        && vals
            .iter()
            .zip(&added.outputs)
            .all(|(v, &o)| matches!(v, Val::Act(id) if *id == o));
    if added.inputs != ids || !outs_match {
        return None;
    }
    let outputs = added
        .outputs
        .iter()
        .map(|&o| (g.tensors[o].shape.clone(), g.tensors[o].dtype))
        .collect();
    Some((added.op.clone(), outputs))
}

/// Converts `node` into a custom op node, recording its outputs.
pub fn convert(
    ctx: &mut Ctx,
    node: &NodeProto,
    opset: i64,
    rules: &BTreeMap<String, CustomRule>,
) -> Result<(), String> {
    let op_type = node.op_type();
    let rule = rules
        .get(op_type)
        .ok_or_else(|| missing_rule(op_type, node.domain()))?;
    let mut ids = Vec::with_capacity(node.input.len());
    for (k, name) in node.input.iter().enumerate() {
        if name.is_empty() {
            return Err(format!(
                "input {k} is omitted; a custom op receives every input it declares"
            ));
        }
        let v = ctx.vals.get(name).cloned().ok_or_else(|| {
            format!("input '{name}' is not defined (no initializer, graph input or earlier node produces it)")
        })?;
        ids.push(ctx.tensor_id(&v)?);
    }
    let fallback = builtin(ctx, node, opset, &ids);
    let outputs: Outputs = match rule {
        CustomRule::SameAsInput => {
            if ids.is_empty() {
                return Err("rule same-as-input needs an input".into());
            }
            (0..node.output.len())
                .map(|k| {
                    let t = ctx
                        .b
                        .tensor(*ids.get(k).unwrap_or(&ids[0]))
                        .map_err(|e| e.to_string())?;
                    Ok((t.shape.clone(), t.dtype))
                })
                .collect::<Result<_, String>>()?
        }
        CustomRule::Builtin => fallback.as_ref().map(|(_, o)| o.clone()).ok_or_else(|| {
            format!(
                "rule builtin needs a standard ONNX op this compiler converts to one op on the same inputs; '{op_type}' is not one (give its shapes instead)"
            )
        })?,
        CustomRule::Outputs(o) => {
            if o.len() != node.output.len() {
                return Err(format!(
                    "the rule gives {} output shapes, the node has {} outputs",
                    o.len(),
                    node.output.len()
                ));
            }
            o.clone()
        }
    };
    if let Some((_, dt)) = outputs
        .iter()
        .find(|(_, dt)| !matches!(dt, DType::F32 | DType::I64))
    {
        return Err(format!(
            "an output would be {dt:?}; custom ops produce float32 or int64 (give explicit output types)"
        ));
    }
    let attrs = node
        .attribute
        .iter()
        .map(|a| {
            Ok(CustomAttr {
                name: a.name().to_string(),
                value: attr_value(a)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    // The fallback only stands in for the node when it computes the same
    // outputs.
    let fallback = fallback
        .filter(|(_, o)| *o == outputs)
        .map(|(op, _)| Box::new(op));
    let op = CustomOp {
        op_type: op_type.to_string(),
        attrs,
        fallback,
    };
    let first_new = ctx.b.graph().tensors.len();
    let outs = ctx
        .b
        .custom(op, &ids, &outputs)
        .map_err(|e| e.to_string())?;
    ctx.node_names
        .insert(ctx.b.graph().nodes.len() - 1, ctx.node.clone());
    for (name, id) in node.output.iter().zip(outs) {
        if !name.is_empty() {
            ctx.define(name, Val::Act(id), first_new);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse() {
        assert_eq!("same-as-input".parse(), Ok(CustomRule::SameAsInput));
        assert_eq!("builtin".parse(), Ok(CustomRule::Builtin));
        assert_eq!(
            "1x1x4x4:int64, 1x10".parse(),
            Ok(CustomRule::Outputs(vec![
                (vec![1, 1, 4, 4], DType::I64),
                (vec![1, 10], DType::F32)
            ]))
        );
        assert!("1x0".parse::<CustomRule>().unwrap_err().contains("'0'"));
        assert!("2:int8".parse::<CustomRule>().unwrap_err().contains("int8"));
        assert!("".parse::<CustomRule>().is_err());
        assert_eq!(
            parse_assignment("cstA=same-as-input"),
            Ok(("cstA".into(), CustomRule::SameAsInput))
        );
        assert!(parse_assignment("cstA").unwrap_err().contains("TYPE=RULE"));
        assert!(parse_assignment("=builtin").is_err());
    }
}
