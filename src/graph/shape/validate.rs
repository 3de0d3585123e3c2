//! [`Graph::validate`]: everything the runtime relies on before it plans
//! memory and runs kernels on a graph read from an untrusted file.

use std::collections::HashMap;

use super::{
    check_quant, check_types, checked_bytes, infer_given, input_arity, output_arity, GraphError,
    MAX_NAME_LEN, MAX_NODES, MAX_NODE_NAME_LEN, MAX_TENSORS,
};
use crate::graph::{Graph, Layout, Node, Storage, TensorId, TensorInfo};

/// Alignment of every weight inside the weights section.
pub const WEIGHT_ALIGN: u64 = 64;

fn err<T>(msg: String) -> Result<T, GraphError> {
    Err(GraphError(msg))
}

impl Graph {
    /// Checks that the graph is safe to execute against a weights section
    /// of `weights_len` bytes: ids in range, tensor sizes and names within
    /// the limits of [`super`], weights aligned and inside the section,
    /// inputs and outputs well formed, every activation produced exactly
    /// once and before use, node arities, element types, quantization, and
    /// every node's output shapes equal to [`super::infer_given`].
    pub fn validate(&self, weights_len: u64) -> Result<(), GraphError> {
        if self.tensors.len() > MAX_TENSORS {
            return err(format!(
                "graph has {} tensors, more than the limit {MAX_TENSORS}",
                self.tensors.len()
            ));
        }
        if self.nodes.len() > MAX_NODES {
            return err(format!(
                "graph has {} nodes, more than the limit {MAX_NODES}",
                self.nodes.len()
            ));
        }
        for (id, t) in self.tensors.iter().enumerate() {
            check_tensor(t, weights_len)
                .map_err(|e| GraphError(format!("tensor {id}: {}", e.0)))?;
        }
        let mut available = self.check_io()?;
        for (i, node) in self.nodes.iter().enumerate() {
            self.check_node(node, &mut available).map_err(|e| {
                GraphError(format!(
                    "node {i} '{}' ({}): {}",
                    node.name,
                    node.op.type_name(),
                    e.0
                ))
            })?;
        }
        for &o in &self.outputs {
            if !available[o] {
                return err(format!(
                    "graph output '{}' (tensor {o}) is never produced",
                    self.tensors[o].name
                ));
            }
        }
        if let Some((id, t)) = self
            .tensors
            .iter()
            .enumerate()
            .find(|(id, t)| !t.is_weight() && !available[*id])
        {
            return err(format!(
                "activation '{}' (tensor {id}) is neither a graph input nor produced by a node",
                t.name
            ));
        }
        Ok(())
    }

    fn tensor(&self, id: TensorId, role: &str) -> Result<&TensorInfo, GraphError> {
        self.tensors.get(id).ok_or_else(|| {
            GraphError(format!(
                "{role} refers to tensor {id}, but the graph has {} tensors",
                self.tensors.len()
            ))
        })
    }

    /// Checks graph inputs and outputs; returns which tensors are available
    /// before the first node runs (graph inputs and weights).
    fn check_io(&self) -> Result<Vec<bool>, GraphError> {
        if self.inputs.is_empty() || self.outputs.is_empty() {
            return err(format!(
                "graph has {} inputs and {} outputs; it needs at least one of each",
                self.inputs.len(),
                self.outputs.len()
            ));
        }
        let mut available: Vec<bool> = self.tensors.iter().map(|t| t.is_weight()).collect();
        let mut names: HashMap<&str, TensorId> = HashMap::new();
        for (list, role) in [
            (&self.inputs, "graph input"),
            (&self.outputs, "graph output"),
        ] {
            let mut seen = vec![false; self.tensors.len()];
            for &id in list.iter() {
                let t = self.tensor(id, role)?;
                if t.is_weight() {
                    return err(format!(
                        "{role} '{}' (tensor {id}) is a weight, not an activation",
                        t.name
                    ));
                }
                if std::mem::replace(&mut seen[id], true) {
                    return err(format!("{role} '{}' (tensor {id}) is listed twice", t.name));
                }
                if let Some(&other) = names.get(t.name.as_str()) {
                    if other != id {
                        return err(format!(
                            "graph inputs and outputs must have distinct names: tensors {other} and {id} are both '{}'",
                            t.name
                        ));
                    }
                }
                names.insert(&t.name, id);
            }
        }
        for &id in &self.inputs {
            available[id] = true;
        }
        Ok(available)
    }

    fn check_node(&self, node: &Node, available: &mut [bool]) -> Result<(), GraphError> {
        if node.name.len() > MAX_NODE_NAME_LEN {
            return err(format!(
                "node name is {} bytes, more than the limit {MAX_NODE_NAME_LEN}",
                node.name.len()
            ));
        }
        let (ia, oa) = (input_arity(&node.op), output_arity(&node.op));
        if !ia.contains(&node.inputs.len()) || !oa.contains(&node.outputs.len()) {
            return err(format!(
                "has {} inputs and {} outputs; the op takes {}..={} inputs and {}..={} outputs",
                node.inputs.len(),
                node.outputs.len(),
                ia.start(),
                ia.end(),
                oa.start(),
                oa.end()
            ));
        }
        let mut ins = Vec::with_capacity(node.inputs.len());
        for (k, &id) in node.inputs.iter().enumerate() {
            let t = self.tensor(id, &format!("input {k}"))?;
            if !available[id] {
                return err(format!(
                    "input {k} '{}' (tensor {id}) is used before it is produced (nodes must be in execution order)",
                    t.name
                ));
            }
            ins.push(t);
        }
        let mut outs = Vec::with_capacity(node.outputs.len());
        for (k, &id) in node.outputs.iter().enumerate() {
            let t = self.tensor(id, &format!("output {k}"))?;
            if t.is_weight() {
                return err(format!(
                    "output {k} '{}' (tensor {id}) is a weight; nodes produce activations",
                    t.name
                ));
            }
            if available[id] {
                let what = if self.inputs.contains(&id) {
                    "is a graph input"
                } else {
                    "is already produced by another node"
                };
                return err(format!(
                    "output {k} '{}' (tensor {id}) {what}; every activation is produced exactly once",
                    t.name
                ));
            }
            available[id] = true;
            outs.push(t);
        }
        let given: Vec<&[usize]> = outs.iter().map(|t| t.shape.as_slice()).collect();
        let shapes = infer_given(&node.op, &ins, &given)?;
        for (k, (t, s)) in outs.iter().zip(&shapes).enumerate() {
            if t.shape != *s {
                return err(format!(
                    "output {k} '{}' has shape {:?}, but the op computes {s:?}",
                    t.name, t.shape
                ));
            }
        }
        check_types(&node.op, &ins, &outs)
    }
}

/// Checks one tensor on its own: name, size, layout, quantization, and
/// for weights the placement inside the weights section.
fn check_tensor(t: &TensorInfo, weights_len: u64) -> Result<(), GraphError> {
    if t.name.len() > MAX_NAME_LEN {
        return err(format!(
            "name is {} bytes, more than the limit {MAX_NAME_LEN}",
            t.name.len()
        ));
    }
    if t.name.contains('\0') {
        return err(format!("name {:?} contains a NUL byte", t.name));
    }
    let bytes = checked_bytes(t)?;
    let rank = match t.layout {
        Layout::Nchw | Layout::Nhwc => Some(4),
        Layout::Nc1hwc2 => Some(5),
        Layout::Undefined => None,
    };
    if let Some(r) = rank {
        if t.shape.len() != r {
            return err(format!(
                "'{}' has layout {:?} but rank {} (shape {:?}); the layout needs rank {r}",
                t.name,
                t.layout,
                t.shape.len(),
                t.shape
            ));
        }
    }
    check_quant(t)?;
    if let Storage::Weight { offset, len } = t.storage {
        if offset % WEIGHT_ALIGN != 0 {
            return err(format!(
                "weight '{}' offset {offset} is not a multiple of {WEIGHT_ALIGN}",
                t.name
            ));
        }
        if len != bytes {
            return err(format!(
                "weight '{}' has length {len}, but its shape {:?} and type {:?} need {bytes} bytes",
                t.name, t.shape, t.dtype
            ));
        }
        match offset.checked_add(len) {
            Some(end) if end <= weights_len => {}
            _ => {
                return err(format!(
                    "weight '{}' at offset {offset} + length {len} exceeds the weights section of {weights_len} bytes",
                    t.name
                ))
            }
        }
    }
    Ok(())
}
