//! The recovered op graph: Graph slot 0 (tensors) and slot 1 (nodes) of
//! the Toolkit2 FlatBuffer (`rknn-vendor-format.md` section 3.2).

use std::ops::Range;

use super::flatbuf::Table;
use super::invalid;
use crate::graph::{DType, Layout};
use crate::model::ModelError;

/// Most tensors in a graph.
pub const MAX_TENSORS: usize = 1 << 16;
/// Most nodes in a graph.
pub const MAX_NODES: usize = 1 << 16;
/// Most dimensions of a logical shape.
pub const MAX_RANK: usize = 16;
/// Most entries of a native shape (weight layouts nest up to 12).
pub const MAX_NATIVE_RANK: usize = 32;
/// Most quantization parameters per tensor.
pub const MAX_QUANT_PARAMS: usize = 1 << 16;

/// Role of a tensor (Tensor slot 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorKind {
    /// Slot absent (the empty tensor 0).
    Unset,
    /// 1: model input.
    Input,
    /// 2: model output.
    Output,
    /// 3: intermediate activation in internal memory.
    Activation,
    /// 4: constant for the NPU (native layout), in weight memory.
    NpuConst,
    /// 5: constant for CPU ops (e.g. an int64 Reshape shape).
    CpuConst,
    /// 8: auxiliary constant (fill-stride bias/mask and the like).
    AuxConst,
    /// 9: the `regcmd` buffer.
    Regcmd,
    /// 10: the `task` buffer.
    Task,
    /// Any other value.
    Other(u8),
}

impl TensorKind {
    fn from_code(c: Option<u8>) -> TensorKind {
        match c {
            None | Some(0) => TensorKind::Unset,
            Some(1) => TensorKind::Input,
            Some(2) => TensorKind::Output,
            Some(3) => TensorKind::Activation,
            Some(4) => TensorKind::NpuConst,
            Some(5) => TensorKind::CpuConst,
            Some(8) => TensorKind::AuxConst,
            Some(9) => TensorKind::Regcmd,
            Some(10) => TensorKind::Task,
            Some(v) => TensorKind::Other(v),
        }
    }

    /// Whether the tensor's data is a constant buffer of the file.
    pub fn is_const(self) -> bool {
        matches!(
            self,
            TensorKind::NpuConst | TensorKind::CpuConst | TensorKind::AuxConst
        )
    }

    /// Short name for tables.
    pub fn name(self) -> String {
        match self {
            TensorKind::Unset => "-".into(),
            TensorKind::Input => "input".into(),
            TensorKind::Output => "output".into(),
            TensorKind::Activation => "internal".into(),
            TensorKind::NpuConst => "const".into(),
            TensorKind::CpuConst => "cpu-const".into(),
            TensorKind::AuxConst => "aux-const".into(),
            TensorKind::Regcmd => "regcmd".into(),
            TensorKind::Task => "task".into(),
            TensorKind::Other(v) => format!("kind{v}"),
        }
    }
}

/// Memory layout of a tensor (Tensor slot 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VendorLayout {
    /// 0 or absent: plain, undefined.
    Undefined,
    /// 2: NCHW.
    Nchw,
    /// 64: NC1HWC2 feature map (native shape `[N, C1, H, W, C2]`).
    Nc1hwc2,
    /// 65: the NPU's native weight layout.
    NativeWeight,
    /// Any other value.
    Other(u8),
}

impl VendorLayout {
    fn from_code(c: Option<u8>) -> VendorLayout {
        match c {
            None | Some(0) => VendorLayout::Undefined,
            Some(2) => VendorLayout::Nchw,
            Some(64) => VendorLayout::Nc1hwc2,
            Some(65) => VendorLayout::NativeWeight,
            Some(v) => VendorLayout::Other(v),
        }
    }

    /// The runtime layout this corresponds to, where there is one.
    pub fn to_layout(self) -> Option<Layout> {
        match self {
            VendorLayout::Undefined => Some(Layout::Undefined),
            VendorLayout::Nchw => Some(Layout::Nchw),
            VendorLayout::Nc1hwc2 => Some(Layout::Nc1hwc2),
            VendorLayout::NativeWeight | VendorLayout::Other(_) => None,
        }
    }

    /// Short name for tables.
    pub fn name(self) -> String {
        match self {
            VendorLayout::Undefined => "-".into(),
            VendorLayout::Nchw => "NCHW".into(),
            VendorLayout::Nc1hwc2 => "NC1HWC2".into(),
            VendorLayout::NativeWeight => "weight".into(),
            VendorLayout::Other(v) => format!("layout{v}"),
        }
    }
}

/// Element type code of Tensor slot 0 (ONNX `TensorProto.DataType`
/// numbering) as a runtime [`DType`]; `None` for types the runtime has
/// no counterpart for (uint64 of `regcmd`/`task`, float64, ...).
pub fn dtype_of(code: u8) -> Option<DType> {
    Some(match code {
        1 => DType::F32,
        2 => DType::U8,
        3 => DType::I8,
        4 => DType::U16,
        5 => DType::I16,
        6 => DType::I32,
        7 => DType::I64,
        9 => DType::Bool,
        10 => DType::F16,
        12 => DType::U32,
        _ => return None,
    })
}

/// Name of an element type code.
pub fn dtype_name(code: u8) -> &'static str {
    match code {
        0 => "-",
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "?",
    }
}

/// One tensor of the vendor graph.
#[derive(Clone, Debug, PartialEq)]
pub struct VendorTensor {
    /// Name (the source model's where one exists; empty for tensor 0).
    pub name: String,
    /// Element type code (ONNX numbering; see [`dtype_of`]).
    pub dtype_code: u8,
    /// Memory layout.
    pub layout: VendorLayout,
    /// Role.
    pub kind: TensorKind,
    /// Shape in memory (e.g. `[N, C1, H, W, C2]` for NC1HWC2).
    pub native_shape: Vec<i32>,
    /// Logical shape in source-model order.
    pub shape: Vec<i32>,
    /// Quantization method (`layer`, `channel`); empty for float tensors.
    pub qnt_method: String,
    /// Quantized type name (`int8`); empty for float tensors.
    pub qnt_type: String,
    /// Calibrated minimum per channel or layer.
    pub min: Vec<f32>,
    /// Calibrated maximum.
    pub max: Vec<f32>,
    /// Scales.
    pub scale: Vec<f32>,
    /// Zero points.
    pub zero_point: Vec<i32>,
    /// Byte size in native layout.
    pub size: Option<u32>,
    /// Offset inside internal (or IO) memory; 0 when absent.
    pub mem_offset: u32,
    /// Index into [`super::VendorModel::buffers`] for constants, regcmd and task.
    pub buffer: Option<usize>,
    /// Tensor slot 20, present on inputs whose native layout is NHWC
    /// (1, 3 or 4 channels): the row alignment in pixels (observed 16 for
    /// int8, 8 for fp16); the row pitch is the width rounded up to it.
    pub w_align: Option<u32>,
}

impl VendorTensor {
    /// The runtime element type, where there is one.
    pub fn dtype(&self) -> Option<DType> {
        dtype_of(self.dtype_code)
    }
}

/// One node (fused op) of the vendor graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VendorNode {
    /// Fused op type, e.g. `ConvRelu`, `OutputOperator`.
    pub op_type: String,
    /// `<source op type>:<source node name>`.
    pub name: String,
    /// Execution target code (Node slot 3): 2 = NPU, absent/0 = CPU.
    pub target: u8,
    /// Input tensor indices.
    pub inputs: Vec<usize>,
    /// Output tensor indices.
    pub outputs: Vec<usize>,
    /// Node slot 7 (observed 1 for convolutions, 3 for pooling).
    pub engine: u8,
    /// Byte range in the file of the source op's attributes (a BSON document; may be empty).
    pub attrs: Range<usize>,
}

impl VendorNode {
    /// Whether the node runs on the NPU.
    pub fn on_npu(&self) -> bool {
        self.target == 2
    }
}

fn dims(v: Vec<i32>, limit: usize, what: &str) -> Result<Vec<i32>, ModelError> {
    if v.len() > limit {
        return invalid(format!(
            "{what}: {} dimensions exceed the limit {limit}",
            v.len()
        ));
    }
    if let Some(d) = v.iter().find(|&&d| d < -1) {
        return invalid(format!("{what}: dimension {d} is negative"));
    }
    Ok(v)
}

fn params<T>(v: Vec<T>, what: &str) -> Result<Vec<T>, ModelError> {
    if v.len() > MAX_QUANT_PARAMS {
        return invalid(format!(
            "{what}: {} values exceed the limit {MAX_QUANT_PARAMS}",
            v.len()
        ));
    }
    Ok(v)
}

/// Reads one Tensor table; `buffers` is the number of Model buffers.
pub fn tensor(t: &Table<'_>, buffers: usize, what: &str) -> Result<VendorTensor, ModelError> {
    let f = |s: &str| format!("{what}.{s}");
    let qm = t.string(6, &f("qnt_method"))?;
    let buffer = match t.i32(18, &f("buffer"))? {
        None => None,
        Some(b) if b > 0 && (b as usize) < buffers => Some(b as usize),
        Some(b) => {
            return invalid(format!(
                "{}: buffer index {b} is outside 1..{buffers}",
                f("buffer")
            ))
        }
    };
    let size = t.i32(12, &f("size"))?;
    if let Some(s) = size.filter(|&s| s < 0) {
        return invalid(format!("{}: negative size {s}", f("size")));
    }
    let mem_offset = t.i32(13, &f("mem_offset"))?.unwrap_or(0);
    let w_align = match t.i32(20, &f("w_align"))? {
        None => None,
        Some(a) if (1..=4096).contains(&a) => Some(a as u32),
        Some(a) => {
            return invalid(format!(
                "{}: row alignment {a} is outside 1..=4096",
                f("w_align")
            ))
        }
    };
    if mem_offset < 0 {
        return invalid(format!("{}: negative offset {mem_offset}", f("mem_offset")));
    }
    Ok(VendorTensor {
        name: t.string(5, &f("name"))?,
        dtype_code: t.u8(0, &f("dtype"))?.unwrap_or(0),
        layout: VendorLayout::from_code(t.u8(1, &f("layout"))?),
        kind: TensorKind::from_code(t.u8(2, &f("kind"))?),
        native_shape: dims(
            t.i32s(3, &f("native_shape"))?,
            MAX_NATIVE_RANK,
            &f("native_shape"),
        )?,
        shape: dims(t.i32s(4, &f("shape"))?, MAX_RANK, &f("shape"))?,
        qnt_method: qm,
        qnt_type: t.string(7, &f("qnt_type"))?,
        min: params(t.f32s(8, &f("min"))?, &f("min"))?,
        max: params(t.f32s(9, &f("max"))?, &f("max"))?,
        scale: params(t.f32s(10, &f("scale"))?, &f("scale"))?,
        zero_point: params(t.i32s(11, &f("zero_point"))?, &f("zero_point"))?,
        size: size.map(|s| s as u32),
        mem_offset: mem_offset as u32,
        buffer,
        w_align,
    })
}

/// Converts tensor indices, checking them against `tensors`.
pub fn indices(v: Vec<i32>, tensors: usize, what: &str) -> Result<Vec<usize>, ModelError> {
    v.into_iter()
        .map(|i| {
            if i >= 0 && (i as usize) < tensors {
                Ok(i as usize)
            } else {
                invalid(format!(
                    "{what}: tensor index {i} is outside the {tensors} tensors"
                ))
            }
        })
        .collect()
}

/// Reads one Node table; `payload_start` is the payload's file offset.
pub fn node(
    t: &Table<'_>,
    tensors: usize,
    payload_start: usize,
    what: &str,
) -> Result<VendorNode, ModelError> {
    let f = |s: &str| format!("{what}.{s}");
    let attrs = t.vector(9, 1, &f("attrs"))?;
    let start = payload_start + attrs.start;
    Ok(VendorNode {
        op_type: t.string(1, &f("type"))?,
        name: t.string(2, &f("name"))?,
        target: t.u8(3, &f("target"))?.unwrap_or(0),
        inputs: indices(t.i32s(4, &f("inputs"))?, tensors, &f("inputs"))?,
        outputs: indices(t.i32s(5, &f("outputs"))?, tensors, &f("outputs"))?,
        engine: t.u8(7, &f("engine"))?.unwrap_or(0),
        attrs: start..start + attrs.len,
    })
}
