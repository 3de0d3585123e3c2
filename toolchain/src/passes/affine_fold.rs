//! Per-channel Mul/Add folding (the form BatchNormalization takes after
//! import: a per-channel `Mul` then `Add` with constant `[C,1,1]`
//! tensors).
//!
//! * **After** a Conv, ConvTranspose or Gemm without a fused activation,
//!   whose output only this Mul/Add/Sub/Div reads: `y * s` scales the
//!   weights and bias of each output channel, `y + a` adds to the bias
//!   (one is created when missing), `y / d` multiplies by `1 / d` and
//!   `y - a` adds `-a`. The constant must broadcast per output channel
//!   without enlarging the output. The Mul/Add's own fused activation
//!   moves to the layer.
//! * **Before** a Conv whose input only this Mul/Add/Sub/Div produces,
//!   with a constant per input channel: `conv(x * s)` scales the weights
//!   of each input channel (exact whatever the padding, `0 * s = 0`);
//!   `conv(x + a)` adds `sum(w * a)` to the bias, which is exact only
//!   when the convolution has no padding (padded cells would otherwise
//!   read `a` instead of 0). Likewise before a Gemm (A not transposed)
//!   with a constant per column of A: `s` scales the rows of B and
//!   `alpha * a B` goes into C.
//!
//! Weights are changed in new constant tensors (a weight may be shared).

use rknnrt::graph::{Activation, BinaryOp, Op, TensorId};

use super::edit;
use crate::data::ConstData;
use crate::model::BuiltModel;

/// A per-channel affine map `x * scale + shift`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Affine {
    /// Multiplier per channel.
    pub scale: Vec<f32>,
    /// Addend per channel (after scaling).
    pub shift: Vec<f32>,
}

/// Folds every eligible pair; returns how many were folded.
pub(crate) fn run(model: &mut BuiltModel, changes: &mut Vec<String>) -> usize {
    let mut count = 0;
    while let Some(msg) = fold_one(model) {
        changes.push(msg);
        count += 1;
        edit::sweep(model);
    }
    count
}

fn fold_one(model: &mut BuiltModel) -> Option<String> {
    let uses = edit::consumers(model);
    let prod = edit::producers(model);
    for b in 0..model.graph.nodes.len() {
        let node = &model.graph.nodes[b];
        let Op::Binary { op, activation } = node.op else {
            continue;
        };
        let (inputs, out) = (node.inputs.clone(), node.outputs[0]);
        for slot in 0..2 {
            let (t, c) = (inputs[slot], inputs[1 - slot]);
            let swapped_operands = slot == 1 && matches!(op, BinaryOp::Sub | BinaryOp::Div);
            if swapped_operands
                || !model.consts.contains_key(&c)
                || model.consts.contains_key(&t)
                || model.graph.tensors[t].shape != model.graph.tensors[out].shape
            {
                continue;
            }
            // After a layer.
            if let Some(p) = prod[t].filter(|_| edit::private_intermediate(model, &uses, t)) {
                if let Some(msg) = fold_after(model, p, b, c, op, activation) {
                    return Some(msg);
                }
            }
            // Before a conv.
            if activation.is_none() && edit::private_intermediate(model, &uses, out) {
                let conv = uses[out][0];
                if let Some(msg) = fold_before(model, b, conv, t, c, op) {
                    return Some(msg);
                }
            }
        }
    }
    None
}

/// The per-channel affine map of `x op c` along `axis` of `shape`.
fn affine_of(
    model: &BuiltModel,
    op: BinaryOp,
    c: TensorId,
    shape: &[usize],
    axis: usize,
) -> Option<Affine> {
    let v = edit::per_channel(model, c, shape, axis)?;
    let n = v.len();
    let (scale, shift) = match op {
        BinaryOp::Mul => (v, vec![0.0; n]),
        BinaryOp::Div => (v.iter().map(|d| 1.0 / d).collect(), vec![0.0; n]),
        BinaryOp::Add => (vec![1.0; n], v),
        BinaryOp::Sub => (vec![1.0; n], v.iter().map(|a| -a).collect()),
        BinaryOp::Max | BinaryOp::Min => return None,
    };
    let finite = scale.iter().chain(&shift).all(|x| x.is_finite());
    finite.then_some(Affine { scale, shift })
}

/// Maps a flat weight index to its output channel.
type ChannelOf = Box<dyn Fn(usize) -> usize>;

/// Output-channel count of a layer and the output channel of each weight
/// element, or None for other ops / non-constant weights.
fn out_channels(model: &BuiltModel, node: usize) -> Option<(usize, ChannelOf)> {
    let n = &model.graph.nodes[node];
    let w = &model.graph.tensors[*n.inputs.get(1)?].shape;
    edit::const_f32(model, n.inputs[1])?;
    match (&n.op, w.as_slice()) {
        (Op::Conv { .. }, &[m, ..]) if m > 0 => {
            let per = w.iter().product::<usize>() / m;
            Some((m, Box::new(move |i| i / per)))
        }
        (Op::ConvTranspose { group, .. }, &[c, mg, kh, kw]) if *group > 0 => {
            let cg = c / group;
            Some((
                mg * group,
                Box::new(move |i| {
                    let ci = i / (mg * kh * kw);
                    let j = (i / (kh * kw)) % mg;
                    (ci / cg) * mg + j
                }),
            ))
        }
        (Op::Gemm { trans_b, .. }, &[r, k]) => {
            if *trans_b {
                Some((r, Box::new(move |i| i / k)))
            } else {
                Some((k, Box::new(move |i| i % k)))
            }
        }
        _ => None,
    }
}

/// Folds binary node `b` (reading layer `p`'s output and constant `c`)
/// into layer `p`.
fn fold_after(
    model: &mut BuiltModel,
    p: usize,
    b: usize,
    c: TensorId,
    op: BinaryOp,
    activation: Option<Activation>,
) -> Option<String> {
    let layer = &model.graph.nodes[p];
    let has_act = match &layer.op {
        Op::Conv { activation, .. }
        | Op::ConvTranspose { activation, .. }
        | Op::Gemm { activation, .. } => activation.is_some(),
        _ => return None,
    };
    if has_act {
        return None;
    }
    let (m, channel) = out_channels(model, p)?;
    let y = layer.outputs[0];
    let affine = affine_of(model, op, c, &model.graph.tensors[y].shape, 1)?;
    if affine.scale.len() != m {
        return None;
    }
    let (w_id, bias_id) = (layer.inputs[1], layer.inputs.get(2).copied());
    let mut gemm_beta = 1.0;
    if let Op::Gemm { beta, .. } = layer.op {
        gemm_beta = beta;
    }
    // The bias as one value per output channel (Gemm C of shape [N] or
    // [1, N] only).
    let bias: Option<Vec<f32>> = match bias_id {
        None => None,
        Some(id) => {
            let shape = &model.graph.tensors[id].shape;
            let per_n = shape.iter().product::<usize>() == m && shape.last() == Some(&m);
            if !per_n {
                return None;
            }
            Some(edit::const_f32(model, id)?.to_vec())
        }
    };
    let mut w = edit::const_f32(model, w_id)?.to_vec();
    for (i, v) in w.iter_mut().enumerate() {
        *v *= affine.scale[channel(i)];
    }
    let beta_used = bias.is_some() && gemm_beta != 0.0;
    let new_bias: Vec<f32> = (0..m)
        .map(|k| {
            let old = bias
                .as_ref()
                .filter(|_| beta_used)
                .map_or(0.0, |v| v[k] * gemm_beta);
            (old * affine.scale[k] + affine.shift[k]) / if beta_used { gemm_beta } else { 1.0 }
        })
        .collect();
    let any_bias = bias_id.is_some() || affine.shift.iter().any(|&a| a != 0.0);
    let new_w = edit::new_const_like(model, w_id, w);
    let new_b = any_bias.then(|| match bias_id {
        Some(id) => edit::new_const_like(model, id, new_bias.clone()),
        None => {
            let base = format!("{}_bias", model.graph.nodes[p].name);
            edit::add_const(model, &base, vec![m], ConstData::F32(new_bias.clone()))
        }
    });
    let bin = model.graph.nodes[b].clone();
    let layer = &mut model.graph.nodes[p];
    layer.inputs[1] = new_w;
    if let Some(nb) = new_b {
        if layer.inputs.len() > 2 {
            layer.inputs[2] = nb;
        } else {
            layer.inputs.push(nb);
        }
    }
    match &mut layer.op {
        Op::Conv { activation: a, .. } | Op::ConvTranspose { activation: a, .. } => *a = activation,
        Op::Gemm {
            activation: a,
            beta,
            ..
        } => {
            *a = activation;
            if !beta_used {
                *beta = 1.0;
            }
        }
        _ => {}
    }
    layer.outputs[0] = bin.outputs[0];
    let msg = format!(
        "folded {} '{}' into {} '{}'",
        bin.op.type_name(),
        bin.name,
        layer.op.type_name(),
        layer.name
    );
    model.graph.nodes.remove(b);
    Some(msg)
}

/// Folds binary node `b` (`x op c`, output read only by node `conv`) into
/// the convolution.
fn fold_before(
    model: &mut BuiltModel,
    b: usize,
    layer: usize,
    x: TensorId,
    c: TensorId,
    op: BinaryOp,
) -> Option<String> {
    let out = model.graph.nodes[b].outputs[0];
    let rank = model.graph.tensors[x].shape.len();
    if model.graph.nodes[layer].inputs[0] != out {
        return None;
    }
    let affine = affine_of(model, op, c, &model.graph.tensors[x].shape, 1)?;
    match model.graph.nodes[layer].op {
        Op::Conv { .. } if rank == 4 => fold_into_conv_input(model, layer, &affine)?,
        Op::Gemm { trans_a: false, .. } if rank == 2 => {
            fold_into_gemm_input(model, layer, &affine)?
        }
        _ => return None,
    }
    let bin = model.graph.nodes[b].clone();
    let target = &mut model.graph.nodes[layer];
    target.inputs[0] = x;
    let msg = format!(
        "folded {} '{}' into the input of {} '{}'",
        bin.op.type_name(),
        bin.name,
        target.op.type_name(),
        target.name
    );
    model.graph.nodes.remove(b);
    Some(msg)
}

/// Rewrites Gemm node `gemm` (A not transposed) so that reading `x` gives
/// what it gave reading `x * scale + shift` (per column of A):
/// `alpha (x s + a) B + beta C = alpha x (s B) + (alpha a B + beta C)`.
/// None (and no change) when B or C is not constant, or C is not one value
/// per output column.
fn fold_into_gemm_input(model: &mut BuiltModel, gemm: usize, affine: &Affine) -> Option<()> {
    let node = &model.graph.nodes[gemm];
    let Op::Gemm {
        alpha,
        beta,
        trans_b,
        ..
    } = node.op
    else {
        return None;
    };
    let b_id = *node.inputs.get(1)?;
    let c_id = node.inputs.get(2).copied();
    let &[r, q] = model.graph.tensors[b_id].shape.as_slice() else {
        return None;
    };
    let (k, n) = if trans_b { (q, r) } else { (r, q) };
    if affine.scale.len() != k {
        return None;
    }
    let b = edit::const_f32(model, b_id)?.to_vec();
    let c = match c_id {
        Some(id) => {
            let shape = &model.graph.tensors[id].shape;
            if shape.iter().product::<usize>() != n || shape.last() != Some(&n) {
                return None;
            }
            Some(edit::const_f32(model, id)?.to_vec())
        }
        None => None,
    };
    let at = |kk: usize, nn: usize| if trans_b { nn * k + kk } else { kk * n + nn };
    let mut new_b = b.clone();
    let mut shift = vec![0.0f64; n];
    for kk in 0..k {
        for (nn, acc) in shift.iter_mut().enumerate() {
            let i = at(kk, nn);
            *acc += affine.shift[kk] as f64 * b[i] as f64;
            new_b[i] = b[i] * affine.scale[kk];
        }
    }
    let has_shift = affine.shift.iter().any(|&a| a != 0.0);
    let beta_used = c.is_some() && beta != 0.0;
    let new_c: Vec<f32> = (0..n)
        .map(|j| {
            let old = c
                .as_ref()
                .filter(|_| beta_used)
                .map_or(0.0, |v| v[j] * beta);
            let total = old as f64 + alpha as f64 * shift[j];
            (total / if beta_used { beta as f64 } else { 1.0 }) as f32
        })
        .collect();
    let b_new = edit::new_const_like(model, b_id, new_b);
    model.graph.nodes[gemm].inputs[1] = b_new;
    if has_shift {
        let c_new = match c_id {
            Some(id) => edit::new_const_like(model, id, new_c),
            None => {
                let base = format!("{}_bias", model.graph.nodes[gemm].name);
                edit::add_const(model, &base, vec![n], ConstData::F32(new_c))
            }
        };
        let node = &mut model.graph.nodes[gemm];
        if node.inputs.len() > 2 {
            node.inputs[2] = c_new;
        } else {
            node.inputs.push(c_new);
        }
        if let Op::Gemm { beta, .. } = &mut node.op {
            if !beta_used {
                *beta = 1.0;
            }
        }
    }
    Some(())
}

/// Rewrites Conv node `conv` so that reading `x` gives what it gave
/// reading `x * scale + shift` (per input channel). None (and no change)
/// when that is not exact: not a Conv, weights not constant, or a shift
/// with padding.
pub(crate) fn fold_into_conv_input(
    model: &mut BuiltModel,
    conv: usize,
    affine: &Affine,
) -> Option<()> {
    let node = &model.graph.nodes[conv];
    let Op::Conv { window, group, .. } = &node.op else {
        return None;
    };
    let has_shift = affine.shift.iter().any(|&a| a != 0.0);
    if has_shift && window.pads != [0; 4] {
        return None;
    }
    let w_id = *node.inputs.get(1)?;
    let shape = model.graph.tensors[w_id].shape.clone();
    let &[m, cg, kh, kw] = shape.as_slice() else {
        return None;
    };
    let group = *group;
    if group == 0 || m % group != 0 || cg * group != affine.scale.len() {
        return None;
    }
    let bias_id = node.inputs.get(2).copied();
    let w = edit::const_f32(model, w_id)?.to_vec();
    let mut bias = match bias_id {
        Some(id) => edit::const_f32(model, id)?.to_vec(),
        None => vec![0.0; m],
    };
    let mg = m / group;
    let k = kh * kw;
    let mut new_w = w.clone();
    for (mo, b) in bias.iter_mut().enumerate() {
        let g = mo / mg;
        let mut acc = 0.0f64;
        for ci in 0..cg {
            let ch = g * cg + ci;
            let base = (mo * cg + ci) * k;
            for j in 0..k {
                acc += w[base + j] as f64 * affine.shift[ch] as f64;
                new_w[base + j] = w[base + j] * affine.scale[ch];
            }
        }
        *b += acc as f32;
    }
    let new_w = edit::new_const_like(model, w_id, new_w);
    model.graph.nodes[conv].inputs[1] = new_w;
    if has_shift {
        let nb = match bias_id {
            Some(id) => edit::new_const_like(model, id, bias),
            None => {
                let base = format!("{}_bias", model.graph.nodes[conv].name);
                edit::add_const(model, &base, vec![m], ConstData::F32(bias))
            }
        };
        let node = &mut model.graph.nodes[conv];
        if node.inputs.len() > 2 {
            node.inputs[2] = nb;
        } else {
            node.inputs.push(nb);
        }
    }
    Some(())
}
