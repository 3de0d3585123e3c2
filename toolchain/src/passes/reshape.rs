//! Reshape/Transpose clean-up: identity reshapes and transposes are
//! removed, transposes that only move unit axes become reshapes,
//! consecutive transposes are composed into one and reshape chains are
//! collapsed to their last shape. Graph inputs and outputs keep their
//! names and shapes: an identity node in front of an output is removed
//! only by letting its producer write the output tensor directly.

use rknnrt::graph::{Op, TensorId};

use super::edit;
use crate::model::BuiltModel;

/// Applies the rewrites until none applies; returns how many were made.
pub(crate) fn run(model: &mut BuiltModel, changes: &mut Vec<String>) -> usize {
    let mut count = 0;
    while let Some(change) = step(model) {
        changes.push(change);
        count += 1;
        // Bypassed nodes leave dead readers that would hide the next
        // private intermediate.
        edit::sweep(model);
    }
    count
}

/// One rewrite, or None when the graph is clean.
fn step(model: &mut BuiltModel) -> Option<String> {
    let uses = edit::consumers(model);
    let prod = edit::producers(model);
    for i in 0..model.graph.nodes.len() {
        let node = &model.graph.nodes[i];
        let (Some(&x), Some(&y)) = (node.inputs.first(), node.outputs.first()) else {
            continue;
        };
        let name = node.name.clone();
        let same_shape = model.graph.tensors[x].shape == model.graph.tensors[y].shape;
        match node.op.clone() {
            Op::Transpose { perm } => {
                if is_identity(&perm) {
                    if let Some(msg) = bypass(model, &uses, &prod, i) {
                        return Some(msg);
                    }
                }
                if !is_identity(&perm) && moves_unit_axes_only(&perm, &model.graph.tensors[x].shape)
                {
                    model.graph.nodes[i].op = Op::Reshape;
                    return Some(format!(
                        "Transpose '{name}' only moves unit axes: now a Reshape"
                    ));
                }
                if let Some(p) = private_producer(model, &uses, &prod, x) {
                    if let Op::Transpose { perm: first } = &model.graph.nodes[p].op {
                        let composed: Vec<usize> = perm.iter().map(|&a| first[a]).collect();
                        let src = model.graph.nodes[p].inputs[0];
                        let first_name = model.graph.nodes[p].name.clone();
                        let node = &mut model.graph.nodes[i];
                        node.inputs[0] = src;
                        node.op = Op::Transpose { perm: composed };
                        return Some(format!(
                            "composed Transpose '{first_name}' and '{name}' into one"
                        ));
                    }
                }
            }
            Op::Reshape => {
                if same_shape {
                    if let Some(msg) = bypass(model, &uses, &prod, i) {
                        return Some(msg);
                    }
                }
                if let Some(p) = private_producer(model, &uses, &prod, x) {
                    if model.graph.nodes[p].op == Op::Reshape {
                        let src = model.graph.nodes[p].inputs[0];
                        let first_name = model.graph.nodes[p].name.clone();
                        model.graph.nodes[i].inputs[0] = src;
                        return Some(format!(
                            "collapsed Reshape '{first_name}' into Reshape '{name}'"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// The node producing `t` when `t` is an intermediate read only once.
fn private_producer(
    model: &BuiltModel,
    uses: &[Vec<usize>],
    prod: &[Option<usize>],
    t: TensorId,
) -> Option<usize> {
    if edit::private_intermediate(model, uses, t) {
        prod[t]
    } else {
        None
    }
}

/// Removes node `i`, which copies its input to its output unchanged.
fn bypass(
    model: &mut BuiltModel,
    uses: &[Vec<usize>],
    prod: &[Option<usize>],
    i: usize,
) -> Option<String> {
    let node = &model.graph.nodes[i];
    let (x, y) = (node.inputs[0], node.outputs[0]);
    let what = format!("removed identity {} '{}'", node.op.type_name(), node.name);
    if !model.graph.outputs.contains(&y) {
        for n in &mut model.graph.nodes {
            for t in &mut n.inputs {
                if *t == y {
                    *t = x;
                }
            }
        }
    } else if let Some(p) = private_producer(model, uses, prod, x) {
        for t in &mut model.graph.nodes[p].outputs {
            if *t == x {
                *t = y;
            }
        }
    } else {
        return None;
    }
    model.graph.nodes.remove(i);
    Some(what)
}

fn is_identity(perm: &[usize]) -> bool {
    perm.iter().enumerate().all(|(i, &p)| i == p)
}

/// True when `perm` keeps the relative order of the axes of `shape` whose
/// length is not 1, so the data order is unchanged.
fn moves_unit_axes_only(perm: &[usize], shape: &[usize]) -> bool {
    let kept: Vec<usize> = perm
        .iter()
        .copied()
        .filter(|&a| shape.get(a).is_some_and(|&d| d != 1))
        .collect();
    kept.windows(2).all(|w| w[0] < w[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_axis_moves_are_detected() {
        assert!(moves_unit_axes_only(&[0, 2, 1, 3], &[1, 1, 5, 7]));
        assert!(!moves_unit_axes_only(&[0, 3, 1, 2], &[1, 4, 5, 7]));
        assert!(moves_unit_axes_only(&[1, 0], &[1, 9]));
        assert!(is_identity(&[0, 1, 2]));
        assert!(!is_identity(&[1, 0]));
    }
}
