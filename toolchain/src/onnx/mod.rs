//! ONNX import: an `.onnx` file (protobuf, default-domain opsets 7–24)
//! to a float [`BuiltModel`].
//!
//! Every node maps to rknnrt ops (`ops`), with attribute defaults as the
//! ONNX spec gives them for the model's opset; nodes outside the standard
//! ONNX op set become custom ops (`custom`). Nodes whose inputs are all
//! constants are evaluated at import time with the runtime's CPU kernels,
//! so shape sub-graphs (`Shape`, `Gather`, `Unsqueeze`, `Concat`, ...)
//! vanish. Anything unsupported or malformed is a one-line
//! [`BuildError::Onnx`] naming the node, its op type and the opset.

mod attr;
mod ctx;
pub mod custom;
mod graph;
mod ops;
pub mod proto;
pub mod standard;
mod tensor;

use std::collections::BTreeMap;
use std::path::Path;

use prost::Message;

use rknnrt::platform::Platform;

use crate::error::BuildError;
use crate::model::BuiltModel;

/// How to import a model.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Target platform recorded in the model.
    pub platform: Platform,
    /// Shapes for inputs, by name: fix symbolic or unknown dimensions.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
    /// Use only these graph inputs (cut the graph there); empty: all.
    pub inputs: Vec<String>,
    /// Use only these graph outputs (cut the graph there); empty: all.
    pub outputs: Vec<String>,
    /// Output rules of custom ops, by op type (`docs/custom_ops.md`); a
    /// rule for a standard op type makes its nodes custom ops too.
    pub custom_ops: BTreeMap<String, CustomRule>,
}

impl ImportOptions {
    /// Defaults for `platform`: every input and output, shapes from the file.
    pub fn new(platform: Platform) -> ImportOptions {
        ImportOptions {
            platform,
            input_shapes: BTreeMap::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            custom_ops: BTreeMap::new(),
        }
    }
}

pub use custom::CustomRule;
pub use graph::{DimDecl, InputDecl, OPSETS};
pub use ops::{FOLDED, SUPPORTED};
pub use tensor::Tensor;

/// Decodes a serialized ONNX `TensorProto` (e.g. a backend test's
/// `input_0.pb`) into a [`Tensor`].
pub fn decode_tensor(bytes: &[u8]) -> Result<Tensor, BuildError> {
    let t = proto::TensorProto::decode(bytes)
        .map_err(|e| BuildError::Onnx(format!("malformed TensorProto: {e}").replace('\n', " ")))?;
    tensor::decode(&t, None).map_err(BuildError::Onnx)
}

/// Imports the ONNX model at `path` (external data files are resolved
/// relative to its directory).
pub fn import(path: &Path, opts: &ImportOptions) -> Result<BuiltModel, BuildError> {
    let bytes = std::fs::read(path).map_err(|e| BuildError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let base = path.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        }
    });
    import_from(&bytes, base, opts)
}

/// The graph inputs of the ONNX model at `path` (the cut points of
/// `opts`, or every declared non-initializer input) with the shapes the
/// model declares for them.
pub fn input_decls(path: &Path, opts: &ImportOptions) -> Result<Vec<InputDecl>, BuildError> {
    let bytes = std::fs::read(path).map_err(|e| BuildError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let model = proto::ModelProto::decode(&bytes[..]).map_err(|e| {
        BuildError::Onnx(format!("malformed ONNX protobuf: {e}").replace('\n', " "))
    })?;
    graph::input_decls(&model, opts)
}

/// Imports an ONNX model held in memory. Tensors with external data are
/// refused (there is no directory to resolve them against).
pub fn import_bytes(bytes: &[u8], opts: &ImportOptions) -> Result<BuiltModel, BuildError> {
    import_from(bytes, None, opts)
}

fn import_from(
    bytes: &[u8],
    base: Option<&Path>,
    opts: &ImportOptions,
) -> Result<BuiltModel, BuildError> {
    let model = proto::ModelProto::decode(bytes).map_err(|e| {
        BuildError::Onnx(format!("malformed ONNX protobuf: {e}").replace('\n', " "))
    })?;
    graph::import_model(&model, base, opts)
}
