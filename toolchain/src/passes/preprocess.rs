//! Input pre-processing folded into the first layer.
//!
//! * **Channel swap** (option [`PassOptions::swap_input_channels`], the
//!   `quant_img_RGB2BGR`-style reversal of a 3-channel image input): when
//!   every reader of the input is a group-1 Conv with constant weights,
//!   the weights' input channels are reversed; otherwise a `Gather` along
//!   the channel axis (indices 2, 1, 0) is inserted after the input. The
//!   input's mean/std are reversed with it.
//! * **Mean/std**: the runtime computes `(x - mean[c]) / std[c]` for 4-D
//!   inputs before the model runs. When every reader of the input is a
//!   Conv with constant weights whose padding is zero (or every mean is 0,
//!   so a padded 0 stays 0), `x * (1 / std) - mean / std` is folded into
//!   the weights and bias of those convolutions and the input's
//!   pre-processing is cleared. Otherwise it stays with the runtime.

use rknnrt::graph::{DType, Node, Op, Target, TensorId};
use rknnrt::model::InputPreprocess;

use super::affine_fold::{fold_into_conv_input, Affine};
use super::edit;
use super::PassOptions;
use crate::data::ConstData;
use crate::model::BuiltModel;

/// Runs the swap (when asked for) and the mean/std folding.
pub(crate) fn run(model: &mut BuiltModel, options: &PassOptions, changes: &mut Vec<String>) {
    let before = changes.len();
    if options.swap_input_channels {
        for i in 0..model.graph.inputs.len() {
            if let Some(msg) = swap_channels(model, i) {
                changes.push(msg);
            }
        }
    }
    if options.fold_mean_std {
        for i in 0..model.graph.inputs.len() {
            if let Some(msg) = fold_mean_std(model, i) {
                changes.push(msg);
            }
        }
    }
    if changes.len() > before {
        // Replaced weights are no longer read.
        edit::sweep(model);
    }
}

/// The Conv nodes reading input `x` in their first slot, when those are
/// all its readers and their weights are constant; None otherwise.
fn conv_readers(model: &BuiltModel, x: TensorId, group_one: bool) -> Option<Vec<usize>> {
    if model.graph.outputs.contains(&x) {
        return None;
    }
    let uses = edit::consumers(model);
    let readers = &uses[x];
    if readers.is_empty() {
        return None;
    }
    for &r in readers {
        let node = &model.graph.nodes[r];
        let Op::Conv { group, .. } = node.op else {
            return None;
        };
        let only_data_slot = node.inputs[0] == x && !node.inputs[1..].contains(&x);
        let weights_const = node.inputs[1..]
            .iter()
            .all(|t| edit::const_f32(model, *t).is_some());
        if !only_data_slot || !weights_const || (group_one && group != 1) {
            return None;
        }
    }
    let mut readers = readers.clone();
    readers.dedup();
    Some(readers)
}

fn swap_channels(model: &mut BuiltModel, i: usize) -> Option<String> {
    let x = model.graph.inputs[i];
    let info = &model.graph.tensors[x];
    if info.shape.len() != 4 || info.shape[1] != 3 {
        return None;
    }
    let name = info.name.clone();
    let pre = &mut model.preprocess[i];
    pre.mean.reverse();
    pre.std.reverse();
    if let Some(convs) = conv_readers(model, x, true) {
        for &c in &convs {
            let w_id = model.graph.nodes[c].inputs[1];
            let shape = model.graph.tensors[w_id].shape.clone();
            let w = edit::const_f32(model, w_id)?;
            let k = shape[2] * shape[3];
            let mut out = w.to_vec();
            for m in 0..shape[0] {
                for ch in 0..3 {
                    let dst = (m * 3 + ch) * k;
                    let src = (m * 3 + 2 - ch) * k;
                    out[dst..dst + k].copy_from_slice(&w[src..src + k]);
                }
            }
            let new_w = edit::new_const_like(model, w_id, out);
            model.graph.nodes[c].inputs[1] = new_w;
        }
        return Some(format!(
            "input '{name}' takes reversed channels: folded into {} Conv weight(s)",
            convs.len()
        ));
    }
    let mut swapped = model.graph.tensors[x].clone();
    swapped.name = edit::fresh_name(model, &format!("{name}_swapped"));
    let xs = model.graph.add_tensor(swapped);
    for node in &mut model.graph.nodes {
        for t in &mut node.inputs {
            if *t == x {
                *t = xs;
            }
        }
    }
    let idx = edit::add_const(
        model,
        &format!("{name}_swap_index"),
        vec![3],
        ConstData::I64(vec![2, 1, 0]),
    );
    model.graph.nodes.insert(
        0,
        Node {
            name: format!("{name}_channel_swap"),
            op: Op::Gather { axis: 1 },
            inputs: vec![x, idx],
            outputs: vec![xs],
            target: Target::Cpu,
        },
    );
    Some(format!(
        "input '{name}' takes reversed channels: inserted a channel Gather"
    ))
}

fn fold_mean_std(model: &mut BuiltModel, i: usize) -> Option<String> {
    let x = model.graph.inputs[i];
    let info = &model.graph.tensors[x];
    if info.shape.len() != 4 || info.dtype != DType::F32 {
        return None;
    }
    let channels = info.shape[1];
    let name = info.name.clone();
    let pre = model.preprocess.get(i)?.clone();
    let mean = if pre.mean.is_empty() {
        vec![0.0; channels]
    } else {
        pre.mean.clone()
    };
    let std = if pre.std.is_empty() {
        vec![1.0; channels]
    } else {
        pre.std.clone()
    };
    if mean.len() != channels || std.len() != channels {
        return None;
    }
    if mean.iter().all(|&m| m == 0.0) && std.iter().all(|&s| s == 1.0) {
        return None;
    }
    let affine = Affine {
        scale: std.iter().map(|s| 1.0 / s).collect(),
        shift: mean.iter().zip(&std).map(|(m, s)| -m / s).collect(),
    };
    let convs = conv_readers(model, x, false)?;
    let has_shift = affine.shift.iter().any(|&a| a != 0.0);
    let exact = convs.iter().all(|&c| match &model.graph.nodes[c].op {
        Op::Conv { window, .. } => !has_shift || window.pads == [0; 4],
        _ => false,
    });
    if !exact {
        return None;
    }
    // All convolutions or none: work on a copy.
    let mut folded = model.clone();
    for &c in &convs {
        fold_into_conv_input(&mut folded, c, &affine)?;
    }
    folded.preprocess[i] = InputPreprocess::default();
    *model = folded;
    Some(format!(
        "folded mean/std of input '{name}' into {} Conv layer(s)",
        convs.len()
    ))
}
