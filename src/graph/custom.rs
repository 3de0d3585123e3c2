//! Custom ops: nodes whose computation the application supplies at run
//! time (`rknn_register_custom_ops`, `librkcst_*.so` plugins), not the
//! runtime's kernels.
//!
//! A custom node keeps what the source model said about it: its op type
//! (`cstSoftmax`, or a standard type the model author replaced), its
//! attributes as typed values (read back by `rknn_custom_op_get_op_attr`),
//! and, when the compiler knows a built-in op of the same meaning, that op
//! as a fallback (used when the application's `init` callback returns
//! `RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE`). Output shapes and element types
//! are recorded on the output tensors at compile time.

use serde::{Deserialize, Serialize};

use super::op::Op;

/// Longest op type in bytes (`rknn_custom_op.op_type` is 256 bytes with
/// the NUL).
pub const MAX_OP_TYPE_LEN: usize = 255;
/// Longest attribute name in bytes (`rknn_custom_op_attr.name` is 256
/// bytes with the NUL).
pub const MAX_ATTR_NAME_LEN: usize = 255;
/// Most attributes on one custom node.
pub const MAX_ATTRS: usize = 1024;
/// Most elements in one attribute value (bytes for strings).
pub const MAX_ATTR_ELEMS: usize = 1 << 20;

/// The value of one attribute, typed as the C API reports it
/// (`rknn_custom_op_attr.dtype`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum AttrValue {
    /// One int64 (ONNX `INT`); reported as INT64 with one element.
    Int(i64),
    /// int64 values (ONNX `INTS`, or an int64 `TENSOR`); INT64.
    Ints(Vec<i64>),
    /// One float (ONNX `FLOAT`); FLOAT32 with one element.
    Float(f32),
    /// Float values (ONNX `FLOATS`, or a float `TENSOR`); FLOAT32.
    Floats(Vec<f32>),
    /// int32 values (an int32 `TENSOR`); INT32.
    Int32s(Vec<i32>),
    /// Booleans (a bool `TENSOR`); BOOL, one byte each.
    Bools(Vec<bool>),
    /// Text (ONNX `STRING`, UTF-8 without NUL); UINT8 bytes.
    String(String),
}

impl AttrValue {
    /// Number of elements the C API reports (bytes for a string).
    pub fn elems(&self) -> usize {
        match self {
            AttrValue::Int(_) | AttrValue::Float(_) => 1,
            AttrValue::Ints(v) => v.len(),
            AttrValue::Floats(v) => v.len(),
            AttrValue::Int32s(v) => v.len(),
            AttrValue::Bools(v) => v.len(),
            AttrValue::String(s) => s.len(),
        }
    }
}

/// A named attribute of a custom node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomAttr {
    /// Attribute name (the source model's).
    pub name: String,
    /// Its value.
    pub value: AttrValue,
}

/// A custom op: its type, attributes and optional built-in equivalent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomOp {
    /// The op type the application registers (`rknn_custom_op.op_type`).
    pub op_type: String,
    /// Attributes, in the source model's order.
    #[serde(default)]
    pub attrs: Vec<CustomAttr>,
    /// A built-in op computing the same outputs from the same inputs, run
    /// when the application's `init` asks to skip its compute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Box<Op>>,
}

impl CustomOp {
    /// The attribute called `name`, if the node has one.
    pub fn attr(&self, name: &str) -> Option<&AttrValue> {
        self.attrs.iter().find(|a| a.name == name).map(|a| &a.value)
    }
}
