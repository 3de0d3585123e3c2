//! The graph shared by the runtime and the compiler: tensors, ops, nodes
//! and the checks that make a graph safe to execute.

mod custom;
mod op;
pub mod shape;
mod shape_set;
mod tensor;

use serde::{Deserialize, Serialize};

pub use custom::{
    AttrValue, CustomAttr, CustomOp, MAX_ATTRS, MAX_ATTR_ELEMS, MAX_ATTR_NAME_LEN, MAX_OP_TYPE_LEN,
};
pub use op::{
    erf, Activation, BinaryOp, CoordMode, NearestMode, Op, PadMode, ReduceOp, ResizeMode, Window,
};
pub use shape::GraphError;
pub use shape_set::{SetOp, SetShape, ShapeSet};
pub use tensor::{DType, Layout, Quant, Storage, TensorInfo};

/// Index of a tensor in [`Graph::tensors`].
pub type TensorId = usize;

/// Where a node runs on a board. On the host device every node runs on the
/// CPU kernels; NPU nodes use NPU arithmetic there (DESIGN.md rule 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The NPU.
    Npu,
    /// The CPU.
    Cpu,
}

/// One operation applied to tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Node name (the source model's, for perf tables and errors).
    pub name: String,
    /// The operation and its attributes.
    pub op: Op,
    /// Input tensors in the op's order.
    pub inputs: Vec<TensorId>,
    /// Output tensors.
    pub outputs: Vec<TensorId>,
    /// Placement.
    pub target: Target,
}

/// A dataflow graph whose nodes are stored in execution order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// Every tensor: activations and weights.
    pub tensors: Vec<TensorInfo>,
    /// Nodes in a valid execution order.
    pub nodes: Vec<Node>,
    /// Graph inputs (activations), in model input order.
    pub inputs: Vec<TensorId>,
    /// Graph outputs, in model output order.
    pub outputs: Vec<TensorId>,
}

impl Graph {
    /// Adds a tensor and returns its id.
    pub fn add_tensor(&mut self, info: TensorInfo) -> TensorId {
        self.tensors.push(info);
        self.tensors.len() - 1
    }

    /// Adds a node at the end of the execution order.
    pub fn add_node(&mut self, node: Node) {
        self.nodes.push(node);
    }
}
