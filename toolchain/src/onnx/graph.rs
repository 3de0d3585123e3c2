//! The import driver: opset checks, graph inputs with their shapes,
//! initializers, the nodes needed for the requested outputs, outputs.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

use rknnrt::graph::DType;

use super::attr::Attrs;
use super::ctx::{Ctx, Val};
use super::ops::{self, Node};
use super::proto::{type_proto, GraphProto, ModelProto, NodeProto, ValueInfoProto};
use super::tensor::{decode, dtype_of};
use super::ImportOptions;
use super::{custom, standard};
use crate::builder::ModelBuilder;
use crate::error::BuildError;
use crate::model::BuiltModel;

/// Lowest and highest default-domain opset accepted. Opsets 22–24 only
/// widened the type lists of the ops converted here (bfloat16, float8,
/// 4-bit types); attributes added by later opsets are refused as unknown.
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=24;

fn err(msg: impl Into<String>) -> BuildError {
    BuildError::Onnx(msg.into())
}

/// The default-domain opset of `model`.
pub fn opset_of(model: &ModelProto) -> Result<i64, BuildError> {
    let v = model
        .opset_import
        .iter()
        .find(|o| matches!(o.domain(), "" | "ai.onnx"))
        .map(|o| o.version())
        .ok_or_else(|| err("the model imports no default-domain (ai.onnx) opset"))?;
    if !OPSETS.contains(&v) {
        return Err(err(format!(
            "opset {v} is not supported (supported: {}–{})",
            OPSETS.start(),
            OPSETS.end()
        )));
    }
    Ok(v)
}

/// Imports a decoded model.
pub fn import_model(
    model: &ModelProto,
    base: Option<&Path>,
    opts: &ImportOptions,
) -> Result<BuiltModel, BuildError> {
    let opset = opset_of(model)?;
    let g = model
        .graph
        .as_ref()
        .ok_or_else(|| err("the model has no graph"))?;
    if !g.sparse_initializer.is_empty() {
        return Err(err("sparse initializers are not supported"));
    }
    let mut ctx = Ctx::new(ModelBuilder::new(opts.platform));
    for t in &g.initializer {
        let v = decode(t, base).map_err(|e| err(format!("initializer {e}")))?;
        ctx.define(t.name(), Val::Const(Rc::new(v)), 0);
    }
    let input_names = graph_inputs(g, opts);
    let output_names: Vec<String> = if opts.outputs.is_empty() {
        g.output.iter().map(|o| o.name().to_string()).collect()
    } else {
        opts.outputs.clone()
    };
    if output_names.is_empty() {
        return Err(err("the graph has no outputs"));
    }
    for name in &input_names {
        let (shape, dtype) = input_type(g, name, opts)?;
        // A scalar input is declared as [1] and reshaped to [].
        let declared = if shape.is_empty() {
            vec![1]
        } else {
            shape.clone()
        };
        let id = ctx
            .b
            .input_typed(name, &declared, dtype)
            .map_err(|e| err(format!("input '{name}': {e}")))?;
        let mut v = Val::Act(id);
        if shape.is_empty() {
            ctx.node = format!("{name}_scalar");
            let out = ctx
                .b
                .node(rknnrt::graph::Op::Reshape, &[id], &[vec![]], dtype)
                .map_err(|e| err(format!("input '{name}': {e}")))?;
            v = Val::Act(out[0]);
        }
        ctx.vals.insert(name.clone(), v);
    }
    let needed = needed_nodes(g, &input_names, &output_names)?;
    for (i, node) in g.node.iter().enumerate() {
        if needed[i] {
            convert_node(&mut ctx, node, i, opset, opts)?;
        }
    }
    finish(ctx, &input_names, &output_names)
}

/// The graph inputs: the cut points, or every declared input that is not
/// an initializer.
fn graph_inputs(g: &GraphProto, opts: &ImportOptions) -> Vec<String> {
    if !opts.inputs.is_empty() {
        return opts.inputs.clone();
    }
    let initializers: HashSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
    g.input
        .iter()
        .map(|i| i.name())
        .filter(|n| !initializers.contains(n))
        .map(str::to_string)
        .collect()
}

/// One dimension of a declared input shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DimDecl {
    /// A fixed length.
    Fixed(usize),
    /// A dynamic axis, with its symbolic name when it has one.
    Dynamic(Option<String>),
}

/// A graph input as the model declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputDecl {
    /// Its name.
    pub name: String,
    /// Its dimensions; `None` when the model declares no shape.
    pub dims: Option<Vec<DimDecl>>,
}

/// The graph inputs of `model` (the cut points of `opts`, or every
/// declared non-initializer input) with their declared shapes.
pub fn input_decls(model: &ModelProto, opts: &ImportOptions) -> Result<Vec<InputDecl>, BuildError> {
    let g = model
        .graph
        .as_ref()
        .ok_or_else(|| err("the model has no graph"))?;
    let decl = |name: String| {
        use super::proto::tensor_shape_proto::dimension::Value;
        let info = g
            .input
            .iter()
            .chain(&g.value_info)
            .chain(&g.output)
            .find(|v| v.name() == name);
        let shape = info
            .and_then(|i| i.r#type.as_ref())
            .and_then(|t| t.value.as_ref())
            .and_then(|v| match v {
                type_proto::Value::TensorType(t) => t.shape.as_ref(),
                _ => None,
            });
        let dims = shape.map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(Value::DimValue(v)) if *v > 0 => DimDecl::Fixed(*v as usize),
                    Some(Value::DimParam(p)) => DimDecl::Dynamic(Some(p.clone())),
                    _ => DimDecl::Dynamic(None),
                })
                .collect()
        });
        InputDecl { name, dims }
    };
    Ok(graph_inputs(g, opts).into_iter().map(decl).collect())
}

/// Shape and type of graph input (or cut point) `name`.
fn input_type(
    g: &GraphProto,
    name: &str,
    opts: &ImportOptions,
) -> Result<(Vec<usize>, DType), BuildError> {
    let info: Option<&ValueInfoProto> = g
        .input
        .iter()
        .chain(&g.value_info)
        .chain(&g.output)
        .find(|v| v.name() == name);
    let given = opts.input_shapes.get(name);
    let Some(info) = info else {
        return match given {
            Some(s) => Ok((s.clone(), DType::F32)),
            None => Err(err(format!(
                "input '{name}' is not a graph value with a known type; give its shape"
            ))),
        };
    };
    let tensor = match info.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) => t,
        _ => return Err(err(format!("input '{name}' is not a tensor"))),
    };
    let dtype = dtype_of(tensor.elem_type()).map_err(|e| err(format!("input '{name}': {e}")))?;
    let dims = tensor.shape.as_ref().map(|s| &s.dim[..]);
    let shape = match (dims, given) {
        (None, Some(s)) => s.clone(),
        (None, None) => {
            return Err(err(format!(
                "input '{name}' has no shape in the model; give its shape"
            )))
        }
        (Some(dims), given) => {
            if let Some(s) = given {
                if s.len() != dims.len() {
                    return Err(err(format!(
                        "input '{name}' has rank {} in the model, the given shape {s:?} has rank {}",
                        dims.len(),
                        s.len()
                    )));
                }
            }
            let mut out = Vec::with_capacity(dims.len());
            for (i, d) in dims.iter().enumerate() {
                use super::proto::tensor_shape_proto::dimension::Value;
                let fixed = match &d.value {
                    Some(Value::DimValue(v)) if *v > 0 => Some(*v as usize),
                    _ => None,
                };
                match (fixed, given.map(|s| s[i])) {
                    (Some(f), Some(g)) if f != g => {
                        return Err(err(format!(
                            "input '{name}' has dimension {i} = {f} in the model, the given shape says {g}"
                        )))
                    }
                    (Some(f), _) => out.push(f),
                    (None, Some(g)) => out.push(g),
                    (None, None) => {
                        let label = match &d.value {
                            Some(Value::DimParam(p)) => format!(" ('{p}')"),
                            _ => String::new(),
                        };
                        return Err(err(format!(
                            "input '{name}' has an unknown dimension {i}{label}; give its shape"
                        )));
                    }
                }
            }
            out
        }
    };
    Ok((shape, dtype))
}

/// Which nodes the outputs need, stopping at the cut inputs.
fn needed_nodes(
    g: &GraphProto,
    inputs: &[String],
    outputs: &[String],
) -> Result<Vec<bool>, BuildError> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            producer.insert(o.as_str(), i);
        }
    }
    let stop: HashSet<&str> = inputs.iter().map(|s| s.as_str()).collect();
    let mut needed = vec![false; g.node.len()];
    let mut todo: Vec<&str> = outputs.iter().map(|s| s.as_str()).collect();
    while let Some(v) = todo.pop() {
        if stop.contains(v) {
            continue;
        }
        if let Some(&i) = producer.get(v) {
            if !needed[i] {
                needed[i] = true;
                todo.extend(g.node[i].input.iter().map(|s| s.as_str()));
            }
        }
    }
    Ok(needed)
}

/// Whether `node` is a custom op: a type outside the standard ONNX set, a
/// node of another domain, or a type the options give a rule for.
fn is_custom(node: &NodeProto, opts: &ImportOptions) -> bool {
    !matches!(node.domain(), "" | "ai.onnx")
        || !standard::is_standard(node.op_type())
        || opts.custom_ops.contains_key(node.op_type())
}

/// Converts one node and records its outputs.
fn convert_node(
    ctx: &mut Ctx,
    node: &NodeProto,
    index: usize,
    opset: i64,
    opts: &ImportOptions,
) -> Result<(), BuildError> {
    let op_type = node.op_type();
    ctx.node = if node.name().is_empty() {
        format!("{op_type}_{index}")
    } else {
        node.name().to_string()
    };
    let fail = |ctx: &Ctx, msg: String| ctx.fail(op_type, opset, msg);
    if is_custom(node, opts) {
        return custom::convert(ctx, node, opset, &opts.custom_ops).map_err(|e| fail(ctx, e));
    }
    let attrs = Attrs::new(&node.attribute).map_err(|e| fail(ctx, e))?;
    let mut inputs = Vec::with_capacity(node.input.len());
    for name in &node.input {
        if name.is_empty() {
            inputs.push(None);
            continue;
        }
        match ctx.vals.get(name) {
            Some(v) => inputs.push(Some(v.clone())),
            None => {
                return Err(fail(
                    ctx,
                    format!(
                        "input '{name}' is not defined (no initializer, graph input or earlier node produces it)"
                    ),
                ))
            }
        }
    }
    let n = Node {
        op_type,
        opset,
        attrs,
        inputs,
        outputs: node.output.iter().map(|o| !o.is_empty()).collect(),
    };
    let first_new = ctx.b.graph().tensors.len();
    let outs = ops::convert(ctx, &n).map_err(|e| fail(ctx, e))?;
    for (i, name) in node.output.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        let v = outs
            .get(i)
            .cloned()
            .ok_or_else(|| fail(ctx, format!("output {i} ('{name}') is not supported")))?;
        ctx.define(name, v, first_new);
    }
    Ok(())
}

/// Marks the outputs (copying constants, inputs and repeated outputs into
/// their own tensors), builds, and applies node names and quantization.
fn finish(mut ctx: Ctx, inputs: &[String], outputs: &[String]) -> Result<BuiltModel, BuildError> {
    let input_ids: HashSet<usize> = inputs
        .iter()
        .filter_map(|n| match ctx.vals.get(n) {
            Some(Val::Act(id)) => Some(*id),
            _ => None,
        })
        .collect();
    let mut used = HashSet::new();
    for name in outputs {
        let v = ctx
            .vals
            .get(name)
            .cloned()
            .ok_or_else(|| err(format!("output '{name}' is not produced by the graph")))?;
        ctx.node = format!("output_{name}");
        let id = match v {
            Val::Act(id) if !input_ids.contains(&id) && !used.contains(&id) => id,
            other => {
                let id = ctx
                    .copy(&other)
                    .map_err(|e| err(format!("output '{name}': {e}")))?;
                id
            }
        };
        used.insert(id);
        keep_name(&mut ctx, id, name)?;
        ctx.b
            .output(id)
            .map_err(|e| err(format!("output '{name}': {e}")))?;
    }
    let mut model = ctx.b.build()?;
    for (i, name) in ctx.node_names {
        if let Some(n) = model.graph.nodes.get_mut(i) {
            n.name = name;
        }
    }
    for (id, q) in ctx.quant {
        if let Some(t) = model.graph.tensors.get_mut(id) {
            t.quant = Some(q);
        }
    }
    Ok(model)
}

/// Gives graph output `id` its ONNX name `name`, moving a generated
/// tensor that holds the name out of the way.
fn keep_name(ctx: &mut Ctx, id: usize, name: &str) -> Result<(), BuildError> {
    let current = ctx.b.tensor(id)?.name.clone();
    if current == name {
        return Ok(());
    }
    if let Some(other) = ctx.b.graph().tensors.iter().position(|t| t.name == name) {
        if ctx.b.graph().inputs.contains(&other) {
            return Err(err(format!(
                "output '{name}' has the name of a graph input"
            )));
        }
        // Short fresh names: the loop ends at the first unused one.
        let mut k = 0usize;
        while ctx.b.set_name(other, &format!("renamed_{k}")).is_err() {
            k += 1;
        }
    }
    ctx.b
        .set_name(id, name)
        .map_err(|e| err(format!("output '{name}': {e}")))
}
