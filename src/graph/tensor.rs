//! Tensor descriptions shared by the compiler and the runtime: element types,
//! layouts, quantization parameters and where a tensor's data lives.

use serde::{Deserialize, Serialize};

/// Element type of a tensor. The discriminants are the vendor
/// `rknn_tensor_type` values, so conversion to the ABI is a cast.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u32)]
pub enum DType {
    /// 32-bit IEEE float.
    F32 = 0,
    /// 16-bit IEEE float (`half::f16`).
    F16 = 1,
    /// Signed 8-bit integer.
    I8 = 2,
    /// Unsigned 8-bit integer.
    U8 = 3,
    /// Signed 16-bit integer.
    I16 = 4,
    /// Unsigned 16-bit integer.
    U16 = 5,
    /// Signed 32-bit integer.
    I32 = 6,
    /// Unsigned 32-bit integer.
    U32 = 7,
    /// Signed 64-bit integer.
    I64 = 8,
    /// Boolean stored as one byte (0 or 1).
    Bool = 9,
}

impl DType {
    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::F16 | DType::I16 | DType::U16 => 2,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::I64 => 8,
        }
    }

    /// The vendor `rknn_tensor_type` value.
    pub fn to_rknn(self) -> u32 {
        self as u32
    }

    /// Parses a vendor `rknn_tensor_type` value; `None` for values this
    /// runtime does not store tensors in (INT4, BF16, out of range).
    pub fn from_rknn(v: u32) -> Option<DType> {
        Some(match v {
            0 => DType::F32,
            1 => DType::F16,
            2 => DType::I8,
            3 => DType::U8,
            4 => DType::I16,
            5 => DType::U16,
            6 => DType::I32,
            7 => DType::U32,
            8 => DType::I64,
            9 => DType::Bool,
            _ => return None,
        })
    }

    /// True for F32 and F16.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16)
    }
}

/// Memory layout of a tensor. The discriminants are the vendor
/// `rknn_tensor_format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u32)]
pub enum Layout {
    /// Batch, channel, height, width (ONNX order).
    Nchw = 0,
    /// Batch, height, width, channel.
    Nhwc = 1,
    /// Channel-blocked NPU layout: C2 channels innermost, then W, H, C1, N.
    Nc1hwc2 = 2,
    /// Not an image tensor; dimensions are as in the source model.
    Undefined = 3,
}

impl Layout {
    /// Parses a vendor `rknn_tensor_format` value.
    pub fn from_rknn(v: u32) -> Option<Layout> {
        Some(match v {
            0 => Layout::Nchw,
            1 => Layout::Nhwc,
            2 => Layout::Nc1hwc2,
            3 => Layout::Undefined,
            _ => return None,
        })
    }
}

/// Affine quantization: `real = (q - zero_point) * scale`.
///
/// Per-tensor when `scale` has one element; per-channel along `axis`
/// otherwise (then `scale` and `zero_point` have one entry per channel).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quant {
    /// One scale, or one per channel along `axis`.
    pub scale: Vec<f32>,
    /// Zero points, same length as `scale`.
    pub zero_point: Vec<i32>,
    /// Channel axis for per-channel parameters.
    #[serde(default)]
    pub axis: u32,
}

impl Quant {
    /// Per-tensor parameters.
    pub fn per_tensor(scale: f32, zero_point: i32) -> Quant {
        Quant {
            scale: vec![scale],
            zero_point: vec![zero_point],
            axis: 0,
        }
    }

    /// Per-channel parameters along `axis` (symmetric weights use zero
    /// points of 0).
    pub fn per_channel(scale: Vec<f32>, zero_point: Vec<i32>, axis: u32) -> Quant {
        Quant {
            scale,
            zero_point,
            axis,
        }
    }

    /// True when one scale covers the whole tensor.
    pub fn is_per_tensor(&self) -> bool {
        self.scale.len() == 1
    }

    /// Scale and zero point of channel `c` (or the single pair).
    pub fn channel(&self, c: usize) -> (f32, i32) {
        if self.is_per_tensor() {
            (self.scale[0], self.zero_point[0])
        } else {
            (self.scale[c], self.zero_point[c])
        }
    }
}

/// Where a tensor's bytes live.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Storage {
    /// Computed at run time: graph inputs, outputs and intermediates.
    Activation,
    /// Constant data inside the model's weights section.
    Weight {
        /// Byte offset from the start of the weights section (64-aligned).
        offset: u64,
        /// Length in bytes.
        len: u64,
    },
}

/// A tensor of the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorInfo {
    /// Name (ONNX value name); reported through the C API, at most 255 bytes.
    pub name: String,
    /// Dimensions in the tensor's `layout`.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: DType,
    /// Layout of `shape`. Activations of the CPU executor are NCHW for
    /// 4-D tensors and `Undefined` otherwise.
    pub layout: Layout,
    /// Quantization, for integer tensors that carry real values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quant: Option<Quant>,
    /// Where the data lives.
    pub storage: Storage,
}

impl TensorInfo {
    /// An activation tensor.
    pub fn activation(name: impl Into<String>, shape: Vec<usize>, dtype: DType) -> TensorInfo {
        let layout = if shape.len() == 4 {
            Layout::Nchw
        } else {
            Layout::Undefined
        };
        TensorInfo {
            name: name.into(),
            shape,
            dtype,
            layout,
            quant: None,
            storage: Storage::Activation,
        }
    }

    /// Number of elements (1 for a scalar).
    pub fn elems(&self) -> usize {
        self.shape.iter().product()
    }

    /// Size in bytes.
    pub fn bytes(&self) -> usize {
        self.elems() * self.dtype.size()
    }

    /// True for constant tensors stored in the weights section.
    pub fn is_weight(&self) -> bool {
        matches!(self.storage, Storage::Weight { .. })
    }
}
