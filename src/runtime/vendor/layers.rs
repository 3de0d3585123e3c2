//! The vendor node list as layers (rows of the perf table, points of the
//! layer dumps) and as steps: runs of NPU-placed nodes, executed by the
//! NPU program, and the CPU-placed nodes between them, executed by the
//! CPU kernels.

use std::ops::Range;

use crate::graph::{Graph, Op, Target, TensorId};
use crate::model::vendor::{decode_attrs, AttrValue, VendorModel, VendorNode};
use crate::model::ModelError;

/// One node of the vendor graph, for perf tables and dumps.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// The vendor's (fused) op type, e.g. `ConvRelu`, `OutputOperator`.
    pub op_type: String,
    /// `<source op>:<source name>`, e.g. `Conv:Conv_3`.
    pub name: String,
    /// Where it runs.
    pub target: Target,
    /// Input tensors (data, weights, auxiliary constants).
    pub inputs: Vec<TensorId>,
    /// Output tensors.
    pub outputs: Vec<TensorId>,
}

/// A CPU-placed node the runtime executes with its kernels.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuStep {
    /// Index of the node.
    pub node: usize,
    /// The kernel's op.
    pub op: Op,
    /// The feature tensors it reads, in the kernel's order.
    pub inputs: Vec<TensorId>,
    /// The feature tensors it writes.
    pub outputs: Vec<TensorId>,
}

/// One step of a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// The NPU program's tasks of these consecutive nodes.
    Npu(Range<usize>),
    /// A CPU op.
    Cpu(CpuStep),
}

fn err<T>(i: usize, n: &VendorNode, msg: String) -> Result<T, ModelError> {
    Err(ModelError::Invalid(format!(
        "node {i} '{}' ({}): {msg}",
        n.name, n.op_type
    )))
}

/// An axis attribute normalised against `rank` (ONNX: negative counts
/// from the end).
fn axis(i: usize, n: &VendorNode, v: Option<&AttrValue>, rank: usize) -> Result<usize, ModelError> {
    let a = match v {
        None => -1,
        Some(AttrValue::Int(a)) => *a,
        Some(other) => return err(i, n, format!("attribute axis is {other:?}, not an integer")),
    };
    let r = rank as i64;
    if a < -r || a >= r {
        return err(i, n, format!("axis {a} is outside a rank-{rank} tensor"));
    }
    Ok(((a + r) % r.max(1)) as usize)
}

/// The kernel op of a CPU-placed node; `None` for the operators whose
/// work is the input and output conversion itself.
fn cpu_op(
    i: usize,
    n: &VendorNode,
    file: &[u8],
    graph: &Graph,
) -> Result<Option<(Op, Vec<TensorId>)>, ModelError> {
    let data = |k: usize| -> Result<TensorId, ModelError> {
        n.inputs
            .get(k)
            .copied()
            .map_or_else(|| err(i, n, format!("has no input {k}")), Ok)
    };
    let attrs = || decode_attrs(&file[n.attrs.clone()], &format!("Graph.nodes[{i}].attrs"));
    let rank = |t: TensorId| graph.tensors[t].shape.len();
    let op = match n.op_type.as_str() {
        "InputOperator" | "OutputOperator" => return Ok(None),
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => Op::Reshape,
        "Softmax" | "exSoftmax" | "exSoftmax13" => {
            let a = attrs()?;
            Op::Softmax {
                axis: axis(i, n, a.get("axis"), rank(data(0)?))?,
            }
        }
        "Transpose" => {
            let r = rank(data(0)?);
            let perm = match attrs()?.get("perm") {
                Some(AttrValue::Ints(p)) => p.clone(),
                None => (0..r as i64).rev().collect(),
                Some(other) => return err(i, n, format!("attribute perm is {other:?}")),
            };
            let mut seen = vec![false; r];
            for &p in &perm {
                match usize::try_from(p).ok().filter(|&p| p < r) {
                    Some(p) if !seen[p] => seen[p] = true,
                    _ => {
                        return err(
                            i,
                            n,
                            format!("perm {perm:?} is not a permutation of {r} axes"),
                        )
                    }
                }
            }
            if perm.len() != r {
                return err(
                    i,
                    n,
                    format!("perm {perm:?} is not a permutation of {r} axes"),
                );
            }
            Op::Transpose {
                perm: perm.iter().map(|&p| p as usize).collect(),
            }
        }
        "exDataConvert" | "Cast" => {
            let (from, to) = (graph.tensors[data(0)?].dtype, {
                let o = n.outputs.first().copied();
                match o {
                    Some(o) => graph.tensors[o].dtype,
                    None => return err(i, n, "has no output".into()),
                }
            });
            match (from.is_float(), to.is_float()) {
                (false, true) if graph.tensors[data(0)?].quant.is_some() => Op::Dequantize,
                (true, false) => Op::Quantize,
                _ => Op::Cast { to },
            }
        }
        other => {
            return err(
                i,
                n,
                format!(
                    "op type {other} is placed on the CPU, and this runtime does not run it \
                     there (CPU ops of vendor models: Reshape, Flatten, Squeeze, Unsqueeze, \
                     Softmax, Transpose, exDataConvert)"
                ),
            )
        }
    };
    Ok(Some((op, vec![data(0)?])))
}

/// The layers and steps of `vm`, whose tensors `graph` describes.
pub fn build(
    vm: &VendorModel,
    file: &[u8],
    graph: &Graph,
) -> Result<(Vec<Layer>, Vec<Step>), ModelError> {
    let mut layers = Vec::with_capacity(vm.nodes.len());
    let mut steps = Vec::new();
    let mut run: Option<Range<usize>> = None;
    for (i, n) in vm.nodes.iter().enumerate() {
        let target = if n.on_npu() { Target::Npu } else { Target::Cpu };
        layers.push(Layer {
            op_type: n.op_type.clone(),
            name: n.name.clone(),
            target,
            inputs: n.inputs.clone(),
            outputs: n.outputs.clone(),
        });
        if n.on_npu() {
            run = Some(run.map_or(i..i + 1, |r| r.start..i + 1));
            continue;
        }
        let Some((op, inputs)) = cpu_op(i, n, file, graph)? else {
            continue;
        };
        if n.outputs.len() != 1 {
            return err(
                i,
                n,
                format!("{} outputs, the CPU ops here have one", n.outputs.len()),
            );
        }
        if let Some(r) = run.take() {
            steps.push(Step::Npu(r));
        }
        steps.push(Step::Cpu(CpuStep {
            node: i,
            op,
            inputs,
            outputs: n.outputs.clone(),
        }));
    }
    if let Some(r) = run {
        steps.push(Step::Npu(r));
    }
    Ok((layers, steps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{DType, Quant, TensorInfo};
    use crate::model::vendor::encode_attrs;

    /// A node whose attributes are `attrs`, placed at byte 0 of the file.
    fn node(op: &str, attrs: &[(&str, AttrValue)]) -> (VendorNode, Vec<u8>) {
        let file = if attrs.is_empty() {
            Vec::new()
        } else {
            encode_attrs(attrs)
        };
        let n = VendorNode {
            op_type: op.into(),
            name: format!("{op}:n"),
            target: 0,
            inputs: vec![0],
            outputs: vec![1],
            engine: 0,
            attrs: 0..file.len(),
        };
        (n, file)
    }

    fn graph(a: DType, b: DType) -> Graph {
        let mut g = Graph::default();
        let mut x = TensorInfo::activation("x", vec![1, 10, 2, 3], a);
        if !a.is_float() {
            x.quant = Some(Quant::per_tensor(0.1, 3));
        }
        g.add_tensor(x);
        g.add_tensor(TensorInfo::activation("y", vec![1, 10, 2, 3], b));
        g
    }

    #[test]
    fn cpu_ops_take_their_attributes() {
        let g = graph(DType::F16, DType::F16);
        let (n, f) = node("exSoftmax13", &[("axis", AttrValue::Int(-3))]);
        let (op, ins) = cpu_op(0, &n, &f, &g).unwrap().unwrap();
        assert_eq!((op, ins), (Op::Softmax { axis: 1 }, vec![0]));
        let (n, f) = node("Softmax", &[]);
        assert_eq!(
            cpu_op(0, &n, &f, &g).unwrap().unwrap().0,
            Op::Softmax { axis: 3 }
        );
        let (n, f) = node("Transpose", &[("perm", AttrValue::Ints(vec![0, 2, 3, 1]))]);
        assert_eq!(
            cpu_op(0, &n, &f, &g).unwrap().unwrap().0,
            Op::Transpose {
                perm: vec![0, 2, 3, 1]
            }
        );
        let (n, f) = node("Flatten", &[]);
        assert_eq!(cpu_op(0, &n, &f, &g).unwrap().unwrap().0, Op::Reshape);
        let (n, f) = node("OutputOperator", &[]);
        assert!(cpu_op(0, &n, &f, &g).unwrap().is_none());
        let g8 = graph(DType::I8, DType::F16);
        let (n, f) = node("exDataConvert", &[]);
        assert_eq!(cpu_op(0, &n, &f, &g8).unwrap().unwrap().0, Op::Dequantize);
        let g8 = graph(DType::F32, DType::I8);
        assert_eq!(cpu_op(0, &n, &f, &g8).unwrap().unwrap().0, Op::Quantize);
    }

    #[test]
    fn bad_attributes_and_unknown_cpu_ops_are_refused() {
        let g = graph(DType::F16, DType::F16);
        for (op, attrs, want) in [
            ("Softmax", vec![("axis", AttrValue::Int(4))], "axis 4"),
            (
                "Softmax",
                vec![("axis", AttrValue::Str("1".into()))],
                "not an integer",
            ),
            (
                "Transpose",
                vec![("perm", AttrValue::Ints(vec![0, 1, 1, 2]))],
                "not a permutation",
            ),
            (
                "Transpose",
                vec![("perm", AttrValue::Ints(vec![0, 1]))],
                "not a permutation",
            ),
            ("Conv", vec![], "placed on the CPU"),
        ] {
            let (n, f) = node(op, &attrs);
            let e = cpu_op(0, &n, &f, &g).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains(op), "{e}");
        }
    }
}
