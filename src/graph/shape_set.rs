//! Shape sets of a dynamic-shape graph (`docs/dynamic_shapes.md`).
//!
//! A dynamic-shape model is stored as one graph whose tensors carry the
//! shapes of one of its sets (the largest), plus one [`ShapeSet`] per set
//! that says what changes when the inputs take that set's shapes. Every
//! other tensor shape of the set is computed by [`Graph::at_shape_set`]
//! with the same shape inference that checks any graph
//! ([`super::shape::infer_given`]), so a set cannot carry a shape the ops
//! do not produce.

use serde::{Deserialize, Serialize};

use super::shape::{checked_elems, infer, takes_output_shape, GraphError};
use super::{Graph, Op, TensorId};

/// A shape an op cannot compute from its inputs (the output of a Reshape,
/// Split, Slice or Resize node), at one shape set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetShape {
    /// The output tensor.
    pub tensor: TensorId,
    /// Its shape at this set.
    pub shape: Vec<usize>,
}

/// A node whose resolved attributes differ at one shape set (a Slice
/// start clamped to a shorter axis, padding from ONNX `auto_pad`, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetOp {
    /// Index of the node in the graph's execution order.
    pub node: usize,
    /// The op at this set: the same kind of op as the graph's node.
    pub op: Op,
}

/// One input shape set of a dynamic-shape graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShapeSet {
    /// The shape of every graph input, in input order and in each
    /// tensor's own layout (NCHW for 4-D inputs).
    pub inputs: Vec<Vec<usize>>,
    /// Output shapes of Reshape, Split, Slice and Resize nodes that differ
    /// from the shapes stored on the graph.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<SetShape>,
    /// Nodes whose attributes differ from the graph's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<SetOp>,
}

impl ShapeSet {
    /// What distinguishes `graph` at the shapes of `at` from `graph`
    /// itself: the inputs' shapes, the given output shapes that differ and
    /// the ops that differ. `at` must be `graph` at another set: the same
    /// tensors and nodes, only shapes and attributes changed (the compiler
    /// checks this before calling).
    pub fn between(graph: &Graph, at: &Graph) -> ShapeSet {
        let inputs = at
            .inputs
            .iter()
            .map(|&t| at.tensors[t].shape.clone())
            .collect();
        let mut outputs = Vec::new();
        let mut ops = Vec::new();
        for (i, (base, node)) in graph.nodes.iter().zip(&at.nodes).enumerate() {
            if base.op != node.op {
                ops.push(SetOp {
                    node: i,
                    op: node.op.clone(),
                });
            }
            if takes_output_shape(&node.op) {
                for &t in &node.outputs {
                    if graph.tensors[t].shape != at.tensors[t].shape {
                        outputs.push(SetShape {
                            tensor: t,
                            shape: at.tensors[t].shape.clone(),
                        });
                    }
                }
            }
        }
        ShapeSet {
            inputs,
            outputs,
            ops,
        }
    }
}

fn err<T>(msg: String) -> Result<T, GraphError> {
    Err(GraphError(msg))
}

impl Graph {
    /// This graph at the shapes of `set`: input shapes, given output
    /// shapes and ops replaced, every other activation shape recomputed
    /// in execution order, and the result checked with
    /// [`Graph::validate`] against a weights section of `weights_len`
    /// bytes. Fails when the set does not fit the graph (wrong number of
    /// inputs, a changed rank, an entry that names no such tensor or node,
    /// a replaced op of another kind) or the shapes do not flow through
    /// the ops.
    pub fn at_shape_set(&self, set: &ShapeSet, weights_len: u64) -> Result<Graph, GraphError> {
        let mut g = self.clone();
        if set.inputs.len() != g.inputs.len() {
            return err(format!(
                "{} input shapes for a graph with {} inputs",
                set.inputs.len(),
                g.inputs.len()
            ));
        }
        for (k, (&t, shape)) in g.inputs.iter().zip(&set.inputs).enumerate() {
            let info = g.tensors.get_mut(t).ok_or_else(|| {
                GraphError(format!("graph input {k} refers to a missing tensor {t}"))
            })?;
            if shape.len() != info.shape.len() {
                return err(format!(
                    "input {k} '{}' has shape {shape:?} of rank {}, the graph's input has rank {}",
                    info.name,
                    shape.len(),
                    info.shape.len()
                ));
            }
            checked_elems(shape, &format!("input {k} '{}'", info.name))?;
            info.shape = shape.clone();
        }
        let mut replaced = vec![false; g.nodes.len()];
        for o in &set.ops {
            let Some(node) = g.nodes.get_mut(o.node) else {
                return err(format!(
                    "an op is given for node {}, but the graph has {} nodes",
                    o.node,
                    self.nodes.len()
                ));
            };
            if std::mem::discriminant(&node.op) != std::mem::discriminant(&o.op) {
                return err(format!(
                    "node {} '{}' is a {}, the set gives a {}",
                    o.node,
                    node.name,
                    node.op.type_name(),
                    o.op.type_name()
                ));
            }
            if std::mem::replace(&mut replaced[o.node], true) {
                return err(format!("node {} '{}' is given twice", o.node, node.name));
            }
            node.op = o.op.clone();
        }
        let mut given = vec![false; g.tensors.len()];
        for s in &set.outputs {
            if s.tensor >= g.tensors.len() {
                return err(format!(
                    "a shape is given for tensor {}, but the graph has {} tensors",
                    s.tensor,
                    g.tensors.len()
                ));
            }
            let producer = g.nodes.iter().find(|n| n.outputs.contains(&s.tensor));
            match producer {
                Some(n) if takes_output_shape(&n.op) => {}
                _ => {
                    return err(format!(
                        "a shape is given for tensor {}, which is not the output of a Reshape, Split, Slice or Resize node",
                        s.tensor
                    ))
                }
            }
            if std::mem::replace(&mut given[s.tensor], true) {
                return err(format!("tensor {} is given twice", s.tensor));
            }
            g.tensors[s.tensor].shape = s.shape.clone();
        }
        for i in 0..g.nodes.len() {
            let node = &g.nodes[i];
            if takes_output_shape(&node.op) {
                continue;
            }
            let mut ins = Vec::with_capacity(node.inputs.len());
            for &t in &node.inputs {
                ins.push(g.tensors.get(t).ok_or_else(|| {
                    GraphError(format!(
                        "node {i} '{}' reads a missing tensor {t}",
                        node.name
                    ))
                })?);
            }
            let shapes = infer(&node.op, &ins).map_err(|e| {
                GraphError(format!(
                    "node {i} '{}' ({}): {}",
                    node.name,
                    node.op.type_name(),
                    e.0
                ))
            })?;
            let outputs = node.outputs.clone();
            for (t, shape) in outputs.into_iter().zip(shapes) {
                let info = g
                    .tensors
                    .get_mut(t)
                    .ok_or_else(|| GraphError(format!("node {i} writes a missing tensor {t}")))?;
                info.shape = shape;
            }
        }
        g.validate(weights_len)?;
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Activation, DType, Node, Target, TensorInfo, Window};

    /// x [1,2,H,W] -> conv 3x3 pad 1 -> h -> Reshape [1, 2*H*W] -> y.
    fn graph(h: usize, w: usize) -> Graph {
        let mut g = Graph::default();
        let x = g.add_tensor(TensorInfo::activation("x", vec![1, 2, h, w], DType::F32));
        let mut wt = TensorInfo::activation("w", vec![2, 2, 3, 3], DType::F32);
        wt.storage = crate::graph::Storage::Weight {
            offset: 0,
            len: 144,
        };
        let wt = g.add_tensor(wt);
        let hid = g.add_tensor(TensorInfo::activation("h", vec![1, 2, h, w], DType::F32));
        let y = g.add_tensor(TensorInfo::activation("y", vec![1, 2 * h * w], DType::F32));
        g.inputs.push(x);
        g.outputs.push(y);
        g.add_node(Node {
            name: "conv".into(),
            op: Op::Conv {
                window: Window {
                    kernel: [3, 3],
                    stride: [1, 1],
                    pads: [1; 4],
                    dilation: [1, 1],
                },
                group: 1,
                activation: Some(Activation::Relu),
            },
            inputs: vec![x, wt],
            outputs: vec![hid],
            target: Target::Npu,
        });
        g.add_node(Node {
            name: "flatten".into(),
            op: Op::Reshape,
            inputs: vec![hid],
            outputs: vec![y],
            target: Target::Cpu,
        });
        g
    }

    #[test]
    fn a_set_recomputes_every_shape() {
        let (big, small) = (graph(8, 6), graph(4, 5));
        let set = ShapeSet::between(&big, &small);
        assert_eq!(set.inputs, vec![vec![1, 2, 4, 5]]);
        assert_eq!(
            set.outputs,
            vec![SetShape {
                tensor: 3,
                shape: vec![1, 40]
            }]
        );
        assert!(set.ops.is_empty());
        assert_eq!(big.at_shape_set(&set, 144).unwrap(), small);
    }

    #[test]
    fn sets_that_do_not_fit_are_refused() {
        let big = graph(8, 6);
        let mut set = ShapeSet::between(&big, &graph(4, 5));
        let msg = |s: &ShapeSet| big.at_shape_set(s, 144).unwrap_err().to_string();

        let mut wrong_rank = set.clone();
        wrong_rank.inputs[0] = vec![1, 2, 4];
        assert!(msg(&wrong_rank).contains("rank 3"), "{}", msg(&wrong_rank));

        let mut two = set.clone();
        two.inputs.push(vec![1]);
        assert!(msg(&two).contains("2 input shapes"));

        // The flatten target no longer matches the input's element count.
        let mut stale = set.clone();
        stale.outputs.clear();
        assert!(
            msg(&stale).contains("changes the element count"),
            "{}",
            msg(&stale)
        );

        let mut not_given = set.clone();
        not_given.outputs[0].tensor = 2;
        assert!(msg(&not_given).contains("not the output of a Reshape"));

        let mut other_op = set.clone();
        other_op.ops.push(SetOp {
            node: 1,
            op: Op::MatMul,
        });
        assert!(msg(&other_op).contains("is a Reshape, the set gives a MatMul"));

        let mut missing = set.clone();
        missing.ops.push(SetOp {
            node: 9,
            op: Op::Reshape,
        });
        assert!(msg(&missing).contains("the graph has 2 nodes"));

        // A 3x3 window does not fit a 1x1 input without padding.
        set.ops.push(SetOp {
            node: 0,
            op: Op::Conv {
                window: Window {
                    kernel: [3, 3],
                    stride: [1, 1],
                    pads: [0; 4],
                    dilation: [1, 1],
                },
                group: 1,
                activation: None,
            },
        });
        set.inputs[0] = vec![1, 2, 1, 1];
        set.outputs[0].shape = vec![1, 2];
        assert!(msg(&set).contains("node 0 'conv'"), "{}", msg(&set));
    }
}
