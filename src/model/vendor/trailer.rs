//! The JSON trailer of a Toolkit2 file: toolkit version, target platform
//! and the `norm_tensor` list of model inputs and outputs
//! (`rknn-vendor-format.md` section 2.1).

use serde::Deserialize;

use super::invalid;
use crate::model::ModelError;

/// Most `norm_tensor` entries accepted.
pub const MAX_NORM_TENSORS: usize = 4096;

/// What the reader keeps of the JSON trailer.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Trailer {
    /// Toolkit version, e.g. `2.5.0`.
    #[serde(default)]
    pub version: String,
    /// Target platforms, e.g. `["rk3588"]`.
    #[serde(default)]
    pub target_platform: Vec<String>,
    /// Source framework, e.g. `ONNX`.
    #[serde(default)]
    pub network_platform: String,
    /// Number of model inputs.
    #[serde(default)]
    pub input_num: u32,
    /// Number of model outputs.
    #[serde(default)]
    pub output_num: u32,
    /// One entry per model input and output.
    #[serde(default)]
    pub norm_tensor: Vec<NormTensor>,
}

/// One `norm_tensor` entry.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct NormTensor {
    /// Index in the JSON tensor list.
    #[serde(default)]
    pub tensor_id: u32,
    /// Tensor name.
    #[serde(default)]
    pub url: String,
    /// Logical shape (source-model order).
    #[serde(default)]
    pub size: Vec<i64>,
    /// Quantization description (empty strings for float tensors).
    #[serde(default)]
    pub dtype: NormDtype,
}

/// The `dtype` object of a `norm_tensor` entry.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct NormDtype {
    /// `layer` or `channel`; empty for float tensors.
    #[serde(default)]
    pub qnt_method: String,
    /// Quantized type, e.g. `int8`; empty for float tensors.
    #[serde(default)]
    pub qnt_type: String,
    /// Element type name; empty for float tensors.
    #[serde(default)]
    pub vx_type: String,
}

/// Parses and checks the trailer.
pub fn parse(json: &[u8]) -> Result<Trailer, ModelError> {
    let t: Trailer = match serde_json::from_slice(json) {
        Ok(t) => t,
        Err(e) => {
            return invalid(format!(
                "JSON trailer is not a Toolkit2 model description: {e}"
            ))
        }
    };
    if t.norm_tensor.len() > MAX_NORM_TENSORS {
        return invalid(format!(
            "JSON trailer norm_tensor: {} entries exceed the limit {MAX_NORM_TENSORS}",
            t.norm_tensor.len()
        ));
    }
    let io = t.input_num as u64 + t.output_num as u64;
    if !t.norm_tensor.is_empty() && io != t.norm_tensor.len() as u64 {
        return invalid(format!(
            "JSON trailer: input_num {} + output_num {} does not match {} norm_tensor entries",
            t.input_num,
            t.output_num,
            t.norm_tensor.len()
        ));
    }
    Ok(t)
}
