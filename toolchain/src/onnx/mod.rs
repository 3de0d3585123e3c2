//! ONNX import: an `.onnx` file (protobuf, opsets 7–21) to a float
//! [`BuiltModel`].

use std::collections::BTreeMap;
use std::path::Path;

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
}

impl ImportOptions {
    /// Defaults for `platform`: every input and output, shapes from the file.
    pub fn new(platform: Platform) -> ImportOptions {
        ImportOptions {
            platform,
            input_shapes: BTreeMap::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }
}

/// Imports the ONNX model at `path` (external data files are resolved
/// relative to its directory).
pub fn import(path: &Path, opts: &ImportOptions) -> Result<BuiltModel, BuildError> {
    let _ = opts;
    Err(BuildError::Invalid(format!(
        "{}: the ONNX importer is not built yet",
        path.display()
    )))
}
