//! Activation fusion: a standalone activation (`Unary`: Relu, Relu6,
//! Clip, LeakyRelu, Sigmoid, HardSwish, …, every [`Activation`]) that
//! reads the output of a Conv, ConvTranspose, Gemm or element-wise Binary
//! node without a fused activation moves into that node's `activation`
//! field, when the intermediate tensor is not a graph output and has no
//! other reader. The fused node then writes the activation's output
//! tensor, so names the user sees are kept. The kernels apply a fused
//! activation with the same f32 function as the standalone op, so the
//! float result is identical.

use rknnrt::graph::{Activation, Op};

use super::edit;
use crate::model::BuiltModel;

/// Fuses every eligible pair; returns how many were fused.
pub(crate) fn run(model: &mut BuiltModel, changes: &mut Vec<String>) -> usize {
    let mut count = 0;
    while let Some(msg) = fuse_one(model) {
        changes.push(msg);
        count += 1;
    }
    if count > 0 {
        edit::sweep(model);
    }
    count
}

fn fuse_one(model: &mut BuiltModel) -> Option<String> {
    let uses = edit::consumers(model);
    let prod = edit::producers(model);
    for u in 0..model.graph.nodes.len() {
        let Op::Unary { act } = model.graph.nodes[u].op else {
            continue;
        };
        let t = model.graph.nodes[u].inputs[0];
        if !edit::private_intermediate(model, &uses, t) {
            continue;
        }
        let Some(p) = prod[t] else {
            continue;
        };
        let Some(slot) = activation_slot(&mut model.graph.nodes[p].op) else {
            continue;
        };
        if slot.is_some() {
            continue;
        }
        *slot = Some(act);
        let unary = model.graph.nodes.remove(u);
        let layer = &mut model.graph.nodes[p];
        layer.outputs[0] = unary.outputs[0];
        return Some(format!(
            "fused {} '{}' into {} '{}'",
            act.type_name(),
            unary.name,
            layer.op.type_name(),
            layer.name
        ));
    }
    None
}

/// The fused-activation field of ops that have one.
fn activation_slot(op: &mut Op) -> Option<&mut Option<Activation>> {
    match op {
        Op::Conv { activation, .. }
        | Op::ConvTranspose { activation, .. }
        | Op::Gemm { activation, .. }
        | Op::Binary { activation, .. } => Some(activation),
        _ => None,
    }
}
