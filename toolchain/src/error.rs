//! Errors of the model builder and the writer.

/// Why a model could not be built, quantized or written.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A tensor id that this builder did not hand out.
    #[error("unknown tensor id {0}")]
    UnknownTensor(usize),
    /// Two tensors with the same name.
    #[error("duplicate tensor name '{0}'")]
    DuplicateName(String),
    /// An argument that does not fit the op or the tensors given.
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// Op (or builder method) concerned.
        op: String,
        /// What is wrong.
        reason: String,
    },
    /// Shape inference refused the node.
    #[error("{op}: shape inference failed: {reason}")]
    Shape {
        /// Op type name.
        op: String,
        /// What `graph::shape::infer` reported.
        reason: String,
    },
    /// The finished graph did not validate.
    #[error("graph is not valid: {0}")]
    Invalid(String),
    /// Quantization could not be done.
    #[error("quantization: {0}")]
    Quantize(String),
    /// A calibration dataset or an input file is unusable (the message
    /// names the dataset line and the file).
    #[error("{0}")]
    Data(String),
    /// The float or quantized graph could not be run on the host.
    #[error("run: {0}")]
    Run(String),
    /// A conversion configuration (command line or yml) is invalid.
    #[error("config: {0}")]
    Config(String),
    /// An ONNX model could not be imported: the message names the node,
    /// its op type and the opset (or the file-level problem), on one line.
    #[error("ONNX import: {0}")]
    Onnx(String),
    /// The model file could not be written.
    #[error("cannot write {path}: {reason}")]
    Io {
        /// The path given.
        path: String,
        /// What the system said.
        reason: String,
    },
}

impl BuildError {
    /// An [`BuildError::InvalidArgument`] for `op`.
    pub(crate) fn arg(op: impl Into<String>, reason: impl Into<String>) -> BuildError {
        BuildError::InvalidArgument {
            op: op.into(),
            reason: reason.into(),
        }
    }
}
