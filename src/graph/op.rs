//! The op set shared by the compiler and the runtime (DESIGN.md rule 1).
//!
//! Semantics are ONNX's, with every attribute resolved to a concrete value
//! (no defaults left to the reader). 4-D activations are NCHW. The output
//! shapes of a node are stored on its output tensors; `graph::shape`
//! checks them against what the op computes from its inputs.

use serde::{Deserialize, Serialize};

use super::custom::CustomOp;
use super::tensor::DType;

/// An element-wise activation, used standalone ([`Op::Unary`]) or fused
/// into the op that produces a tensor (`activation` fields).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Activation {
    /// max(x, 0)
    Relu,
    /// min(max(x, 0), 6)
    Relu6,
    /// min(max(x, min), max)
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// x if x >= 0 else alpha * x
    LeakyRelu {
        /// Negative slope.
        alpha: f32,
    },
    /// 1 / (1 + exp(-x))
    Sigmoid,
    /// tanh(x)
    Tanh,
    /// max(0, min(1, alpha * x + beta))
    HardSigmoid {
        /// Slope.
        alpha: f32,
        /// Offset.
        beta: f32,
    },
    /// x * max(0, min(1, x / 6 + 1 / 2))
    HardSwish,
    /// x * sigmoid(x)
    Silu,
    /// Gaussian error linear unit: exact (erf) or the tanh approximation.
    Gelu {
        /// Use the tanh approximation.
        tanh_approx: bool,
    },
    /// exp(x)
    Exp,
    /// sqrt(x)
    Sqrt,
}

/// Element-wise binary operation with numpy (ONNX multidirectional)
/// broadcasting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    /// a + b
    Add,
    /// a - b
    Sub,
    /// a * b
    Mul,
    /// a / b
    Div,
    /// max(a, b)
    Max,
    /// min(a, b)
    Min,
}

/// Reduction kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReduceOp {
    /// Arithmetic mean.
    Mean,
    /// Sum.
    Sum,
    /// Maximum.
    Max,
}

/// Padding mode of [`Op::Pad`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PadMode {
    /// Fill with a constant (in real units; int8 tensors store its
    /// quantized value).
    Constant {
        /// The fill value.
        value: f32,
    },
    /// Mirror without repeating the edge.
    Reflect,
    /// Repeat the edge value.
    Edge,
}

/// Interpolation of [`Op::Resize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    /// Nearest neighbour.
    Nearest,
    /// Bilinear (ONNX `linear` on the two innermost axes).
    Linear,
}

/// ONNX `coordinate_transformation_mode` of [`Op::Resize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordMode {
    /// (x_out + 0.5) / scale - 0.5
    HalfPixel,
    /// Like half_pixel, but 0 when the output length is 1.
    PytorchHalfPixel,
    /// x_out * (in - 1) / (out - 1)
    AlignCorners,
    /// x_out / scale
    Asymmetric,
}

/// ONNX `nearest_mode` of [`Op::Resize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NearestMode {
    /// Round half down.
    RoundPreferFloor,
    /// Round half up.
    RoundPreferCeil,
    /// Floor.
    Floor,
    /// Ceil.
    Ceil,
}

/// 2-D window geometry shared by convolution and pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride along H and W.
    pub stride: [usize; 2],
    /// Padding: top, left, bottom, right.
    pub pads: [usize; 4],
    /// Dilation along H and W.
    pub dilation: [usize; 2],
}

impl Window {
    /// Output length along one axis (`axis` 0 = H, 1 = W) for an input of
    /// length `len`, flooring or (with `ceil`) ceiling the division.
    /// `None` when the window does not fit.
    pub fn out_len(&self, axis: usize, len: usize, ceil: bool) -> Option<usize> {
        let padded = len
            .checked_add(self.pads[axis])?
            .checked_add(self.pads[axis + 2])?;
        let span = self.dilation[axis]
            .checked_mul(self.kernel[axis].checked_sub(1)?)?
            .checked_add(1)?;
        if padded < span || self.stride[axis] == 0 {
            return None;
        }
        let steps = padded - span;
        let mut out = steps / self.stride[axis] + 1;
        if ceil && steps % self.stride[axis] != 0 {
            out += 1;
            // ONNX: the last window must start inside the input or left padding.
            let last_start = (out - 1).checked_mul(self.stride[axis])?;
            if last_start >= len.checked_add(self.pads[axis])? {
                out -= 1;
            }
        }
        Some(out)
    }
}

/// One operation. Inputs and outputs are listed on the [`super::Node`];
/// the order of inputs is ONNX's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// 2-D convolution. Inputs: x [N,C,H,W], w [M,C/group,kh,kw], optional
    /// bias [M]. Depthwise when group == C == M.
    Conv {
        /// Window geometry.
        window: Window,
        /// Number of groups.
        group: usize,
        /// Fused activation.
        activation: Option<Activation>,
    },
    /// 2-D transposed convolution. Inputs: x [N,C,H,W], w [C,M/group,kh,kw],
    /// optional bias [M].
    ConvTranspose {
        /// Window geometry (pads trim the full output).
        window: Window,
        /// Number of groups.
        group: usize,
        /// Extra size added to the bottom/right of the output.
        output_padding: [usize; 2],
        /// Fused activation.
        activation: Option<Activation>,
    },
    /// alpha * op(A) * op(B) + beta * C, A and B 2-D, C broadcast to the
    /// output (fully connected layers).
    Gemm {
        /// Multiplier of the product.
        alpha: f32,
        /// Multiplier of C.
        beta: f32,
        /// Transpose A.
        trans_a: bool,
        /// Transpose B.
        trans_b: bool,
        /// Fused activation.
        activation: Option<Activation>,
    },
    /// numpy matmul with batch broadcasting (inputs of rank >= 1).
    MatMul,
    /// Element-wise binary op with broadcasting.
    Binary {
        /// Which operation.
        op: BinaryOp,
        /// Fused activation.
        activation: Option<Activation>,
    },
    /// Element-wise activation.
    Unary {
        /// Which function.
        act: Activation,
    },
    /// x if x >= 0 else slope * x; slope broadcast to x.
    PRelu,
    /// Max pooling (NCHW).
    MaxPool {
        /// Window geometry.
        window: Window,
        /// ONNX ceil_mode.
        ceil_mode: bool,
    },
    /// Average pooling (NCHW).
    AveragePool {
        /// Window geometry.
        window: Window,
        /// ONNX ceil_mode.
        ceil_mode: bool,
        /// Count padding cells in the divisor.
        count_include_pad: bool,
    },
    /// Mean over H and W, keeping [N,C,1,1].
    GlobalAveragePool,
    /// Max over H and W, keeping [N,C,1,1].
    GlobalMaxPool,
    /// Concatenation along `axis` (non-negative).
    Concat {
        /// Axis.
        axis: usize,
    },
    /// Split along `axis` into the lengths of the outputs.
    Split {
        /// Axis.
        axis: usize,
    },
    /// Strided slice: for each listed axis, start and step (end is implied
    /// by the output shape). Steps may be negative.
    Slice {
        /// Axes sliced (others are taken whole).
        axes: Vec<usize>,
        /// Start index per axis, clamped to the valid range.
        starts: Vec<i64>,
        /// Step per axis (non-zero).
        steps: Vec<i64>,
    },
    /// Same data, new shape (Reshape, Flatten, Squeeze, Unsqueeze).
    Reshape,
    /// Axis permutation.
    Transpose {
        /// Output axis i takes input axis perm[i].
        perm: Vec<usize>,
    },
    /// Padding: `pads` holds the begin amounts of every axis, then the end
    /// amounts.
    Pad {
        /// Begin and end padding per axis.
        pads: Vec<usize>,
        /// Fill mode.
        mode: PadMode,
    },
    /// Resize of the two innermost axes to the output tensor's size.
    Resize {
        /// Interpolation.
        mode: ResizeMode,
        /// Coordinate transformation.
        coord: CoordMode,
        /// Rounding for nearest mode.
        nearest: NearestMode,
    },
    /// Softmax along `axis` (ONNX opset >= 13 semantics).
    Softmax {
        /// Axis.
        axis: usize,
    },
    /// Layer normalization over the axes from `axis` to the last. Inputs:
    /// x, scale, optional bias.
    LayerNorm {
        /// First normalized axis.
        axis: usize,
        /// Added to the variance.
        epsilon: f32,
    },
    /// Reduction over `axes`.
    Reduce {
        /// Which reduction.
        op: ReduceOp,
        /// Axes reduced (sorted, unique).
        axes: Vec<usize>,
        /// Keep reduced axes as length 1.
        keepdims: bool,
    },
    /// Gather along `axis` with int32/int64 indices (negative indices count
    /// from the end).
    Gather {
        /// Axis.
        axis: usize,
    },
    /// Index of the maximum along `axis`, as int64.
    ArgMax {
        /// Axis.
        axis: usize,
        /// Keep the axis as length 1.
        keepdims: bool,
        /// Report the last maximal index instead of the first.
        select_last_index: bool,
    },
    /// Element type conversion (float to int truncates toward zero and
    /// saturates).
    Cast {
        /// Target type.
        to: DType,
    },
    /// Float to integer with the output tensor's quantization
    /// (round, add zero point, saturate).
    Quantize,
    /// Integer to float with the input tensor's quantization.
    Dequantize,
    /// An op the application computes (`rknn_register_custom_ops`); see
    /// [`CustomOp`]. Any number of inputs, at least one output; the
    /// output shapes and types are the output tensors'.
    Custom(CustomOp),
}

impl Op {
    /// The op's type name as shown in perf tables and error messages
    /// (ONNX spelling; a custom op's own type, e.g. `cstSoftmax`).
    pub fn type_name(&self) -> &str {
        match self {
            Op::Conv { .. } => "Conv",
            Op::ConvTranspose { .. } => "ConvTranspose",
            Op::Gemm { .. } => "Gemm",
            Op::MatMul => "MatMul",
            Op::Binary { op, .. } => match op {
                BinaryOp::Add => "Add",
                BinaryOp::Sub => "Sub",
                BinaryOp::Mul => "Mul",
                BinaryOp::Div => "Div",
                BinaryOp::Max => "Max",
                BinaryOp::Min => "Min",
            },
            Op::Unary { act } => act.type_name(),
            Op::PRelu => "PRelu",
            Op::MaxPool { .. } => "MaxPool",
            Op::AveragePool { .. } => "AveragePool",
            Op::GlobalAveragePool => "GlobalAveragePool",
            Op::GlobalMaxPool => "GlobalMaxPool",
            Op::Concat { .. } => "Concat",
            Op::Split { .. } => "Split",
            Op::Slice { .. } => "Slice",
            Op::Reshape => "Reshape",
            Op::Transpose { .. } => "Transpose",
            Op::Pad { .. } => "Pad",
            Op::Resize { .. } => "Resize",
            Op::Softmax { .. } => "Softmax",
            Op::LayerNorm { .. } => "LayerNormalization",
            Op::Reduce { op, .. } => match op {
                ReduceOp::Mean => "ReduceMean",
                ReduceOp::Sum => "ReduceSum",
                ReduceOp::Max => "ReduceMax",
            },
            Op::Gather { .. } => "Gather",
            Op::ArgMax { .. } => "ArgMax",
            Op::Cast { .. } => "Cast",
            Op::Quantize => "QuantizeLinear",
            Op::Dequantize => "DequantizeLinear",
            Op::Custom(c) => &c.op_type,
        }
    }
}

impl Activation {
    /// ONNX op type name of the activation.
    pub fn type_name(&self) -> &'static str {
        match self {
            Activation::Relu => "Relu",
            Activation::Relu6 => "Relu6",
            Activation::Clip { .. } => "Clip",
            Activation::LeakyRelu { .. } => "LeakyRelu",
            Activation::Sigmoid => "Sigmoid",
            Activation::Tanh => "Tanh",
            Activation::HardSigmoid { .. } => "HardSigmoid",
            Activation::HardSwish => "HardSwish",
            Activation::Silu => "SiLU",
            Activation::Gelu { .. } => "Gelu",
            Activation::Exp => "Exp",
            Activation::Sqrt => "Sqrt",
        }
    }

    /// The function in f32 (the reference every kernel follows).
    pub fn apply(&self, x: f32) -> f32 {
        match *self {
            Activation::Relu => x.max(0.0),
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::Clip { min, max } => x.max(min).min(max),
            Activation::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Tanh => x.tanh(),
            Activation::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Activation::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Activation::Silu => x / (1.0 + (-x).exp()),
            Activation::Gelu { tanh_approx } => {
                if tanh_approx {
                    let c = (2.0f32 / std::f32::consts::PI).sqrt();
                    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
                } else {
                    0.5 * x * (1.0 + erf(x / std::f32::consts::SQRT_2))
                }
            }
            Activation::Exp => x.exp(),
            Activation::Sqrt => x.sqrt(),
        }
    }
}

/// Error function, computed in f64 (Abramowitz–Stegun 7.1.26 is too coarse
/// for GELU goldens, so this uses the series / continued fraction split).
pub fn erf(x: f32) -> f32 {
    let x = x as f64;
    let ax = x.abs();
    let r = if ax < 2.5 {
        // Maclaurin series: 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)).
        let mut term = ax;
        let mut sum = ax;
        let x2 = ax * ax;
        let mut n = 0.0f64;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x2 / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // Continued fraction for erfc, evaluated bottom-up.
        let mut f = 0.0f64;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (ax + f);
        }
        1.0 - (-ax * ax).exp() / (std::f64::consts::PI.sqrt() * (ax + f))
    };
    (if x < 0.0 { -r } else { r }) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(k: usize, s: usize, p: usize, d: usize) -> Window {
        Window {
            kernel: [k, k],
            stride: [s, s],
            pads: [p; 4],
            dilation: [d, d],
        }
    }

    #[test]
    fn out_len_follows_onnx() {
        assert_eq!(window(3, 1, 1, 1).out_len(0, 16, false), Some(16));
        assert_eq!(window(3, 2, 0, 1).out_len(1, 32, false), Some(15));
        assert_eq!(window(2, 2, 0, 1).out_len(0, 5, false), Some(2));
        assert_eq!(window(2, 2, 0, 1).out_len(0, 5, true), Some(3));
        assert_eq!(window(3, 1, 0, 2).out_len(0, 4, false), None);
        assert_eq!(window(3, 0, 0, 1).out_len(0, 4, false), None);
    }

    #[test]
    fn out_len_never_overflows() {
        let huge = window(usize::MAX, usize::MAX, usize::MAX, usize::MAX);
        assert_eq!(huge.out_len(0, usize::MAX, true), None);
        assert_eq!(
            window(1, 1, usize::MAX / 2, 1).out_len(0, usize::MAX, false),
            None
        );
    }

    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [
            (0.0f32, 0.0f32),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (3.0, 0.999_977_9),
        ] {
            assert!((erf(x) - want).abs() < 1e-6, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + want).abs() < 1e-6);
        }
    }
}
