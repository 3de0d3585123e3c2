//! Pad folding: a constant-mode `Pad` of the two spatial axes of an NCHW
//! tensor is folded into the padding of the Conv, MaxPool or AveragePool
//! that reads it, when the result is exactly the same:
//!
//! * Conv: the pad value is 0 (a convolution pads with zeros).
//! * MaxPool (floor mode): the pad value is -inf or the lowest finite
//!   f32 (`f32::MIN`, what exporters write since graph attributes must be
//!   finite; exact unless a whole window of the input is -inf), or it is <= 0 and the
//!   input is known to be >= 0 (it comes from Relu, Relu6, a Clip with a
//!   non-negative minimum or Sigmoid); and every window keeps at least one
//!   real element (each total pad is smaller than the kernel).
//! * AveragePool (floor mode): the pad value is 0 and the pool counts
//!   padding cells (`count_include_pad`), or it had no padding of its own
//!   (it then counts the folded padding, as the explicit Pad did).
//!
//! The Pad node stays when another node still reads its output.

use rknnrt::graph::{shape, Activation, Op, PadMode, Window};

use super::edit;
use crate::model::BuiltModel;

/// Folds every eligible Pad/consumer pair; returns how many were folded.
pub(crate) fn run(model: &mut BuiltModel, changes: &mut Vec<String>) -> usize {
    let uses = edit::consumers(model);
    let prod = edit::producers(model);
    let mut count = 0;
    for p in 0..model.graph.nodes.len() {
        let pad_node = &model.graph.nodes[p];
        let Op::Pad {
            pads,
            mode: PadMode::Constant { value },
        } = &pad_node.op
        else {
            continue;
        };
        let (x, t) = (pad_node.inputs[0], pad_node.outputs[0]);
        let Some(extra) = spatial_pads(pads, model.graph.tensors[x].shape.len()) else {
            continue;
        };
        let value = *value;
        let pad_name = pad_node.name.clone();
        let nonneg = prod[x].is_some_and(|q| non_negative(&model.graph.nodes[q].op));
        for &c in &uses[t] {
            let consumer = &model.graph.nodes[c];
            if consumer.inputs[0] != t || consumer.inputs[1..].contains(&t) {
                continue;
            }
            let Some(op) = folded(&consumer.op, extra, value, nonneg) else {
                continue;
            };
            let mut infos = vec![&model.graph.tensors[x]];
            infos.extend(
                consumer.inputs[1..]
                    .iter()
                    .map(|&i| &model.graph.tensors[i]),
            );
            let want: Vec<&[usize]> = consumer
                .outputs
                .iter()
                .map(|&o| model.graph.tensors[o].shape.as_slice())
                .collect();
            let same = shape::infer(&op, &infos)
                .is_ok_and(|got| got.iter().map(Vec::as_slice).eq(want.iter().copied()));
            if !same {
                continue;
            }
            changes.push(format!(
                "folded Pad '{pad_name}' into {} '{}'",
                op.type_name(),
                consumer.name
            ));
            let consumer = &mut model.graph.nodes[c];
            consumer.op = op;
            consumer.inputs[0] = x;
            count += 1;
        }
    }
    if count > 0 {
        edit::sweep(model);
    }
    count
}

/// `[top, left, bottom, right]` of a Pad that pads only axes 2 and 3 of a
/// rank-4 tensor.
fn spatial_pads(pads: &[usize], rank: usize) -> Option<[usize; 4]> {
    if rank != 4 || pads.len() != 8 || pads[0] + pads[1] + pads[4] + pads[5] != 0 {
        return None;
    }
    Some([pads[2], pads[3], pads[6], pads[7]])
}

/// Whether `op`'s output is never negative.
fn non_negative(op: &Op) -> bool {
    let act = match op {
        Op::Unary { act } => Some(*act),
        Op::Conv { activation, .. }
        | Op::ConvTranspose { activation, .. }
        | Op::Gemm { activation, .. }
        | Op::Binary { activation, .. } => *activation,
        _ => None,
    };
    matches!(
        act,
        Some(Activation::Relu | Activation::Relu6 | Activation::Sigmoid)
    ) || matches!(act, Some(Activation::Clip { min, .. }) if min >= 0.0)
}

fn widen(window: &Window, extra: [usize; 4]) -> Window {
    let mut w = *window;
    for (p, e) in w.pads.iter_mut().zip(extra) {
        *p += e;
    }
    w
}

/// The consumer op with the Pad folded in, or None when that is not exact.
fn folded(op: &Op, extra: [usize; 4], value: f32, nonneg_input: bool) -> Option<Op> {
    match op {
        Op::Conv {
            window,
            group,
            activation,
        } if value == 0.0 => Some(Op::Conv {
            window: widen(window, extra),
            group: *group,
            activation: *activation,
        }),
        Op::MaxPool {
            window,
            ceil_mode: false,
        } => {
            let lowest = value == f32::NEG_INFINITY || value == f32::MIN;
            let exact_value = lowest || (value <= 0.0 && nonneg_input);
            let w = widen(window, extra);
            let keeps_real = (0..4).all(|i| w.pads[i] < w.kernel[i % 2]);
            (exact_value && keeps_real).then_some(Op::MaxPool {
                window: w,
                ceil_mode: false,
            })
        }
        Op::AveragePool {
            window,
            ceil_mode: false,
            count_include_pad,
        } if value == 0.0 && (*count_include_pad || window.pads == [0; 4]) => {
            Some(Op::AveragePool {
                window: widen(window, extra),
                ceil_mode: false,
                count_include_pad: true,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn win(p: usize) -> Window {
        Window {
            kernel: [3, 3],
            stride: [1, 1],
            pads: [p; 4],
            dilation: [1, 1],
        }
    }

    #[test]
    fn only_exact_folds_are_made() {
        let conv = Op::Conv {
            window: win(0),
            group: 1,
            activation: None,
        };
        assert!(folded(&conv, [1; 4], 0.0, false).is_some());
        assert!(folded(&conv, [1; 4], 1.0, false).is_none());
        let max = Op::MaxPool {
            window: win(0),
            ceil_mode: false,
        };
        assert!(folded(&max, [1; 4], f32::NEG_INFINITY, false).is_some());
        assert!(folded(&max, [1; 4], f32::MIN, false).is_some());
        assert!(folded(&max, [1; 4], -1e30, false).is_none());
        assert!(folded(&max, [1; 4], 0.0, false).is_none());
        assert!(folded(&max, [1; 4], 0.0, true).is_some());
        assert!(folded(&max, [3; 4], f32::NEG_INFINITY, false).is_none());
        let avg = |p, count| Op::AveragePool {
            window: win(p),
            ceil_mode: false,
            count_include_pad: count,
        };
        assert!(folded(&avg(0, false), [1; 4], 0.0, false).is_some());
        assert!(folded(&avg(1, false), [1; 4], 0.0, false).is_none());
        assert!(folded(&avg(1, true), [1; 4], 0.0, false).is_some());
        assert_eq!(
            spatial_pads(&[0, 0, 1, 2, 0, 0, 3, 4], 4),
            Some([1, 2, 3, 4])
        );
        assert_eq!(spatial_pads(&[0, 1, 1, 2, 0, 0, 3, 4], 4), None);
    }
}
