//! Graph editing helpers shared by the passes: who reads a tensor,
//! constant access, fresh names, and the dead-code sweep that renumbers
//! tensors after a pass.

use std::collections::{BTreeMap, HashSet};

use rknnrt::graph::{Storage, TensorId, TensorInfo};

use crate::data::ConstData;
use crate::model::BuiltModel;

/// For every tensor, the indices of the nodes that read it (in node
/// order, a node listed once per input slot that reads it).
pub(crate) fn consumers(model: &BuiltModel) -> Vec<Vec<usize>> {
    let mut uses = vec![Vec::new(); model.graph.tensors.len()];
    for (i, node) in model.graph.nodes.iter().enumerate() {
        for &t in &node.inputs {
            if let Some(u) = uses.get_mut(t) {
                u.push(i);
            }
        }
    }
    uses
}

/// For every tensor, the node that writes it.
pub(crate) fn producers(model: &BuiltModel) -> Vec<Option<usize>> {
    let mut prod = vec![None; model.graph.tensors.len()];
    for (i, node) in model.graph.nodes.iter().enumerate() {
        for &t in &node.outputs {
            if let Some(p) = prod.get_mut(t) {
                *p = Some(i);
            }
        }
    }
    prod
}

/// True when `t` is a graph input or output (its name and shape are what
/// the user sees, so passes never remove or reshape it).
pub(crate) fn is_io(model: &BuiltModel, t: TensorId) -> bool {
    model.graph.inputs.contains(&t) || model.graph.outputs.contains(&t)
}

/// True when `t` is an intermediate read by exactly one node input slot:
/// the only condition under which a pass may change how `t` is computed.
pub(crate) fn private_intermediate(model: &BuiltModel, uses: &[Vec<usize>], t: TensorId) -> bool {
    !is_io(model, t) && uses.get(t).is_some_and(|u| u.len() == 1)
}

/// The float values of constant `t` (None for activations and non-f32
/// constants).
pub(crate) fn const_f32(model: &BuiltModel, t: TensorId) -> Option<&[f32]> {
    model.consts.get(&t).and_then(ConstData::as_f32)
}

/// A tensor name not used yet, derived from `base`.
pub(crate) fn fresh_name(model: &BuiltModel, base: &str) -> String {
    let names: HashSet<&str> = model
        .graph
        .tensors
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let mut name = base.to_string();
    let mut k = 1;
    while names.contains(name.as_str()) {
        name = format!("{base}_{k}");
        k += 1;
    }
    name
}

/// Adds a constant tensor of `shape` holding `data` and returns its id.
pub(crate) fn add_const(
    model: &mut BuiltModel,
    base: &str,
    shape: Vec<usize>,
    data: ConstData,
) -> TensorId {
    let name = fresh_name(model, base);
    let mut info = TensorInfo::activation(name, shape, data.dtype());
    info.storage = Storage::Weight {
        offset: 0,
        len: (data.len() * data.dtype().size()) as u64,
    };
    let id = model.graph.add_tensor(info);
    model.consts.insert(id, data);
    id
}

/// Replaces constant `t` by a fresh f32 constant of the same shape holding
/// `data` (constants may be shared between nodes, so a folded weight is
/// always a new tensor) and returns the new id.
pub(crate) fn new_const_like(model: &mut BuiltModel, t: TensorId, data: Vec<f32>) -> TensorId {
    let base = model.graph.tensors[t].name.clone();
    let shape = model.graph.tensors[t].shape.clone();
    add_const(model, &base, shape, ConstData::F32(data))
}

/// Removes nodes whose outputs nobody reads (repeatedly) and every tensor
/// no node or graph input/output refers to, renumbering tensor ids.
/// Returns the number of nodes removed.
pub(crate) fn sweep(model: &mut BuiltModel) -> usize {
    let before = model.graph.nodes.len();
    loop {
        let uses = consumers(model);
        let outputs: HashSet<TensorId> = model.graph.outputs.iter().copied().collect();
        let n = model.graph.nodes.len();
        model.graph.nodes.retain(|node| {
            node.outputs
                .iter()
                .any(|&t| outputs.contains(&t) || !uses[t].is_empty())
        });
        if model.graph.nodes.len() == n {
            break;
        }
    }
    let mut keep = vec![false; model.graph.tensors.len()];
    for node in &model.graph.nodes {
        for &t in node.inputs.iter().chain(&node.outputs) {
            keep[t] = true;
        }
    }
    for &t in model.graph.inputs.iter().chain(&model.graph.outputs) {
        keep[t] = true;
    }
    let mut map = vec![usize::MAX; keep.len()];
    let mut tensors = Vec::new();
    for (old, info) in std::mem::take(&mut model.graph.tensors)
        .into_iter()
        .enumerate()
    {
        if keep[old] {
            map[old] = tensors.len();
            tensors.push(info);
        }
    }
    model.graph.tensors = tensors;
    for node in &mut model.graph.nodes {
        for t in node.inputs.iter_mut().chain(node.outputs.iter_mut()) {
            *t = map[*t];
        }
    }
    for t in model
        .graph
        .inputs
        .iter_mut()
        .chain(model.graph.outputs.iter_mut())
    {
        *t = map[*t];
    }
    let consts: BTreeMap<TensorId, ConstData> = std::mem::take(&mut model.consts)
        .into_iter()
        .filter(|(old, _)| keep.get(*old).copied().unwrap_or(false))
        .map(|(old, data)| (map[old], data))
        .collect();
    model.consts = consts;
    before - model.graph.nodes.len()
}

/// The per-channel values of constant `c` broadcast (numpy rules) onto a
/// tensor of `shape` whose channel axis is `axis`, one per channel; None
/// when `c` is not an f32 constant, varies along another axis or would
/// enlarge `shape`.
pub(crate) fn per_channel(
    model: &BuiltModel,
    c: TensorId,
    shape: &[usize],
    axis: usize,
) -> Option<Vec<f32>> {
    let values = const_f32(model, c)?;
    let cshape = &model.graph.tensors[c].shape;
    if cshape.len() > shape.len() || axis >= shape.len() {
        return None;
    }
    let channels = shape[axis];
    // Align the constant's dims to the right of `shape` (numpy rules).
    let offset = shape.len() - cshape.len();
    let mut per_axis_len = 1;
    for (i, &d) in cshape.iter().enumerate() {
        let target = i + offset;
        if target == axis {
            if d != channels && d != 1 {
                return None;
            }
            per_axis_len = d;
        } else if d != 1 {
            return None;
        }
    }
    Some(if per_axis_len == 1 {
        vec![*values.first()?; channels]
    } else {
        values.to_vec()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelBuilder;
    use rknnrt::platform::Platform;

    #[test]
    fn per_channel_accepts_bn_shapes_only() {
        let mut b = ModelBuilder::new(Platform::Rk3588);
        let x = b.input("x", &[1, 3, 2, 2]).unwrap();
        let c3 = b
            .constant("c3", &[3, 1, 1], ConstData::F32(vec![1.0, 2.0, 3.0]))
            .unwrap();
        let s = b.constant("s", &[1], ConstData::F32(vec![5.0])).unwrap();
        let w = b
            .constant("w", &[1, 1, 2], ConstData::F32(vec![1.0, 2.0]))
            .unwrap();
        let y = b.add(x, c3).unwrap();
        b.output(y).unwrap();
        let m = b.build().unwrap();
        let shape = [1, 3, 2, 2];
        assert_eq!(per_channel(&m, c3, &shape, 1), Some(vec![1.0, 2.0, 3.0]));
        assert_eq!(per_channel(&m, s, &shape, 1), Some(vec![5.0; 3]));
        assert_eq!(per_channel(&m, w, &shape, 1), None);
        assert_eq!(per_channel(&m, x, &shape, 1), None);
    }

    #[test]
    fn sweep_drops_dead_nodes_and_renumbers() {
        let mut b = ModelBuilder::new(Platform::Rk3588);
        let x = b.input("x", &[1, 4]).unwrap();
        let dead = b.relu(x).unwrap();
        let _dead2 = b.sigmoid(dead).unwrap();
        let y = b.tanh(x).unwrap();
        b.output(y).unwrap();
        let mut m = b.build().unwrap();
        assert_eq!(sweep(&mut m), 2);
        assert_eq!(m.graph.nodes.len(), 1);
        assert_eq!(m.graph.tensors.len(), 2);
        m.to_meta().unwrap();
    }
}
