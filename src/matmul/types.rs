//! Matmul types, operand element types, layouts and quantization kinds, as
//! plain Rust enums decoded (and checked) from the C `rknn_matmul_info`.

use crate::abi::*;

use super::MatmulError;

/// Element type of one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elem {
    /// IEEE half precision (2 bytes).
    F16,
    /// bfloat16 (2 bytes).
    Bf16,
    /// IEEE single precision (4 bytes).
    F32,
    /// Signed 4-bit, two per byte: even linear index in the low nibble.
    I4,
    /// Signed 8-bit.
    I8,
    /// Signed 16-bit.
    I16,
    /// Signed 32-bit.
    I32,
}

impl Elem {
    /// Bytes taken by `count` elements (int4: rounded up to whole bytes).
    pub fn bytes_for(self, count: usize) -> usize {
        match self {
            Elem::I4 => count.div_ceil(2),
            Elem::I8 => count,
            Elem::F16 | Elem::Bf16 | Elem::I16 => count * 2,
            Elem::F32 | Elem::I32 => count * 4,
        }
    }

    /// The `rknn_tensor_type` reported in `rknn_matmul_tensor_attr.type`.
    pub fn tensor_type(self) -> rknn_tensor_type {
        match self {
            Elem::F16 => RKNN_TENSOR_FLOAT16,
            Elem::Bf16 => RKNN_TENSOR_BFLOAT16,
            Elem::F32 => RKNN_TENSOR_FLOAT32,
            Elem::I4 => RKNN_TENSOR_INT4,
            Elem::I8 => RKNN_TENSOR_INT8,
            Elem::I16 => RKNN_TENSOR_INT16,
            Elem::I32 => RKNN_TENSOR_INT32,
        }
    }

    /// Whether values are integers (quantized operands).
    pub fn is_int(self) -> bool {
        matches!(self, Elem::I4 | Elem::I8 | Elem::I16 | Elem::I32)
    }
}

/// One `rknn_matmul_type` (values 1–12 and 15).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulType(pub rknn_matmul_type);

impl MatmulType {
    /// Every defined type, in enum order.
    pub const ALL: [MatmulType; 13] = [
        MatmulType(RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32),
        MatmulType(RKNN_INT8_MM_INT8_TO_INT32),
        MatmulType(RKNN_INT8_MM_INT8_TO_INT8),
        MatmulType(RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16),
        MatmulType(RKNN_FLOAT16_MM_INT8_TO_FLOAT32),
        MatmulType(RKNN_FLOAT16_MM_INT8_TO_FLOAT16),
        MatmulType(RKNN_FLOAT16_MM_INT4_TO_FLOAT32),
        MatmulType(RKNN_FLOAT16_MM_INT4_TO_FLOAT16),
        MatmulType(RKNN_INT8_MM_INT8_TO_FLOAT32),
        MatmulType(RKNN_INT4_MM_INT4_TO_INT16),
        MatmulType(RKNN_INT8_MM_INT4_TO_INT32),
        MatmulType(RKNN_FLOAT16_MM_INT4_TO_BFLOAT16),
        MatmulType(RKNN_INT8_MM_INT4_TO_FLOAT16),
    ];

    /// Decodes a C value; values 13, 14 and out-of-range ones are refused.
    pub fn from_raw(raw: rknn_matmul_type) -> Result<MatmulType, MatmulError> {
        MatmulType::ALL
            .into_iter()
            .find(|t| t.0 == raw)
            .ok_or_else(|| {
                MatmulError::param(format!("unknown matmul type {raw} (valid: 1-12, 15)"))
            })
    }

    /// Element types of A, B and C.
    pub fn elems(self) -> (Elem, Elem, Elem) {
        use Elem::*;
        match self.0 {
            RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32 => (F16, F16, F32),
            RKNN_INT8_MM_INT8_TO_INT32 => (I8, I8, I32),
            RKNN_INT8_MM_INT8_TO_INT8 => (I8, I8, I8),
            RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16 => (F16, F16, F16),
            RKNN_FLOAT16_MM_INT8_TO_FLOAT32 => (F16, I8, F32),
            RKNN_FLOAT16_MM_INT8_TO_FLOAT16 => (F16, I8, F16),
            RKNN_FLOAT16_MM_INT4_TO_FLOAT32 => (F16, I4, F32),
            RKNN_FLOAT16_MM_INT4_TO_FLOAT16 => (F16, I4, F16),
            RKNN_INT8_MM_INT8_TO_FLOAT32 => (I8, I8, F32),
            RKNN_INT4_MM_INT4_TO_INT16 => (I4, I4, I16),
            RKNN_INT8_MM_INT4_TO_INT32 => (I8, I4, I32),
            RKNN_FLOAT16_MM_INT4_TO_BFLOAT16 => (F16, I4, Bf16),
            _ => (I8, I4, F16),
        }
    }

    /// The enumerator's name (`RKNN_INT8_MM_INT8_TO_INT32`).
    pub fn name(self) -> &'static str {
        match self.0 {
            RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32 => "RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32",
            RKNN_INT8_MM_INT8_TO_INT32 => "RKNN_INT8_MM_INT8_TO_INT32",
            RKNN_INT8_MM_INT8_TO_INT8 => "RKNN_INT8_MM_INT8_TO_INT8",
            RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16 => "RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16",
            RKNN_FLOAT16_MM_INT8_TO_FLOAT32 => "RKNN_FLOAT16_MM_INT8_TO_FLOAT32",
            RKNN_FLOAT16_MM_INT8_TO_FLOAT16 => "RKNN_FLOAT16_MM_INT8_TO_FLOAT16",
            RKNN_FLOAT16_MM_INT4_TO_FLOAT32 => "RKNN_FLOAT16_MM_INT4_TO_FLOAT32",
            RKNN_FLOAT16_MM_INT4_TO_FLOAT16 => "RKNN_FLOAT16_MM_INT4_TO_FLOAT16",
            RKNN_INT8_MM_INT8_TO_FLOAT32 => "RKNN_INT8_MM_INT8_TO_FLOAT32",
            RKNN_INT4_MM_INT4_TO_INT16 => "RKNN_INT4_MM_INT4_TO_INT16",
            RKNN_INT8_MM_INT4_TO_INT32 => "RKNN_INT8_MM_INT4_TO_INT32",
            RKNN_FLOAT16_MM_INT4_TO_BFLOAT16 => "RKNN_FLOAT16_MM_INT4_TO_BFLOAT16",
            _ => "RKNN_INT8_MM_INT4_TO_FLOAT16",
        }
    }

    /// Whether A and B have different element types.
    pub fn is_hetero(self) -> bool {
        let (a, b, _) = self.elems();
        a != b
    }
}

/// Memory layout of an operand (`RKNN_MM_LAYOUT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Row-major (A: M×K, B: K×N, C: M×N).
    Norm,
    /// The NPU native layout (see [`super::rules::NativeShapes`]).
    Native,
    /// B transposed: N×K row-major (B only).
    TpNorm,
}

impl Layout {
    /// Decodes an `int16_t` layout field.
    pub fn from_raw(raw: i16, what: &str) -> Result<Layout, MatmulError> {
        match i32::from(raw) as u32 {
            RKNN_MM_LAYOUT_NORM => Ok(Layout::Norm),
            RKNN_MM_LAYOUT_NATIVE => Ok(Layout::Native),
            RKNN_MM_LAYOUT_TP_NORM => Ok(Layout::TpNorm),
            _ => Err(MatmulError::param(format!(
                "{what} {raw} is not a layout (0 NORM, 1 NATIVE, 2 TP_NORM)"
            ))),
        }
    }
}

/// Granularity of B's quantization parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// One scale and zero point.
    PerLayer,
    /// One per output column (N).
    PerChannel,
    /// One per (column, group of `group_size` rows of K).
    PerGroup,
}

/// A decoded `rknn_matmul_quant_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantKind {
    /// Granularity.
    pub granularity: Granularity,
    /// Asymmetric (zero points may be non-zero); informational, zero points
    /// given are always honoured.
    pub asymmetric: bool,
}

impl QuantKind {
    /// Decodes an `int16_t` quant-type field.
    pub fn from_raw(raw: i16, what: &str) -> Result<QuantKind, MatmulError> {
        let granularity = match i32::from(raw) as u32 {
            RKNN_QUANT_TYPE_PER_LAYER_SYM | RKNN_QUANT_TYPE_PER_LAYER_ASYM => Granularity::PerLayer,
            RKNN_QUANT_TYPE_PER_CHANNEL_SYM | RKNN_QUANT_TYPE_PER_CHANNEL_ASYM => {
                Granularity::PerChannel
            }
            RKNN_QUANT_TYPE_PER_GROUP_SYM | RKNN_QUANT_TYPE_PER_GROUP_ASYM => Granularity::PerGroup,
            _ => {
                return Err(MatmulError::param(format!(
                    "{what} {raw} is not a quant type (0-5)"
                )))
            }
        };
        Ok(QuantKind {
            granularity,
            asymmetric: raw % 2 == 1,
        })
    }
}

/// One matmul shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Rows of A and C.
    pub m: usize,
    /// Columns of A, rows of B.
    pub k: usize,
    /// Columns of B and C.
    pub n: usize,
}

impl Shape {
    /// Checks and converts C `int32_t` sizes (each at least 1).
    pub fn from_c(m: i32, k: i32, n: i32) -> Result<Shape, MatmulError> {
        let pos = |v: i32, name: &str| {
            usize::try_from(v)
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| MatmulError::param(format!("{name} = {v} must be at least 1")))
        };
        Ok(Shape {
            m: pos(m, "M")?,
            k: pos(k, "K")?,
            n: pos(n, "N")?,
        })
    }
}
