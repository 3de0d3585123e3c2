//! [`ModelBuilder`]: a small API to build a float graph with weights.
//!
//! Output shapes come from `rknnrt::graph::shape::infer` (the single source
//! of truth shared with the runtime). The only shapes the builder computes
//! itself are the ones an op cannot know from its inputs because ONNX gives
//! them as arguments: the target of a reshape, split lengths, slice ends and
//! resize sizes.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use rknnrt::graph::{
    shape, Activation, BinaryOp, CoordMode, CustomOp, DType, Graph, NearestMode, Node, Op, PadMode,
    ReduceOp, ResizeMode, Storage, Target, TensorId, TensorInfo, Window,
};
use rknnrt::model::InputPreprocess;
use rknnrt::platform::Platform;

use crate::data::ConstData;
use crate::error::BuildError;
use crate::model::BuiltModel;

/// Longest custom string the C API can return (`rknn_custom_string` holds
/// 1024 bytes including the terminating NUL).
pub const MAX_CUSTOM_STRING: usize = 1023;

/// A float constant with its shape (row-major data).
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Weights {
    /// Checks that `data` has as many elements as `shape` describes.
    pub fn new(shape: &[usize], data: Vec<f32>) -> Result<Weights, BuildError> {
        let elems: usize = shape.iter().product();
        if elems != data.len() {
            return Err(BuildError::arg(
                "weights",
                format!("shape {shape:?} needs {elems} values, got {}", data.len()),
            ));
        }
        Ok(Weights {
            shape: shape.to_vec(),
            data,
        })
    }

    /// A 1-D constant.
    pub fn vector(data: Vec<f32>) -> Weights {
        Weights {
            shape: vec![data.len()],
            data,
        }
    }

    /// Dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Values.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
}

/// Geometry of a 2-D convolution. The default is stride 1, no padding,
/// dilation 1, one group and no fused activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvParams {
    /// Stride along H and W.
    pub stride: [usize; 2],
    /// Padding: top, left, bottom, right.
    pub pads: [usize; 4],
    /// Dilation along H and W.
    pub dilation: [usize; 2],
    /// Number of groups.
    pub group: usize,
    /// Fused activation.
    pub activation: Option<Activation>,
}

impl Default for ConvParams {
    fn default() -> Self {
        ConvParams {
            stride: [1, 1],
            pads: [0; 4],
            dilation: [1, 1],
            group: 1,
            activation: None,
        }
    }
}

impl ConvParams {
    /// The same stride along H and W.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = [s, s];
        self
    }

    /// The same padding on all four sides.
    pub fn pads(mut self, p: usize) -> Self {
        self.pads = [p; 4];
        self
    }

    /// The same dilation along H and W.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = [d, d];
        self
    }

    /// Number of groups.
    pub fn group(mut self, g: usize) -> Self {
        self.group = g;
        self
    }

    /// Fused activation.
    pub fn activation(mut self, act: Activation) -> Self {
        self.activation = Some(act);
        self
    }

    /// Fused ReLU.
    pub fn relu(self) -> Self {
        self.activation(Activation::Relu)
    }
}

/// Geometry of a 2-D transposed convolution (default: stride 1, no
/// padding, dilation 1, one group, no output padding, no activation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvTransposeParams {
    /// Stride along H and W.
    pub stride: [usize; 2],
    /// Padding trimmed from the full output: top, left, bottom, right.
    pub pads: [usize; 4],
    /// Dilation along H and W.
    pub dilation: [usize; 2],
    /// Number of groups.
    pub group: usize,
    /// Extra size at the bottom/right of the output.
    pub output_padding: [usize; 2],
    /// Fused activation.
    pub activation: Option<Activation>,
}

impl Default for ConvTransposeParams {
    fn default() -> Self {
        ConvTransposeParams {
            stride: [1, 1],
            pads: [0; 4],
            dilation: [1, 1],
            group: 1,
            output_padding: [0, 0],
            activation: None,
        }
    }
}

/// Attributes of a Gemm (default: alpha = beta = 1, no transposes, no
/// activation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GemmParams {
    /// Multiplier of A·B.
    pub alpha: f32,
    /// Multiplier of C.
    pub beta: f32,
    /// Transpose A.
    pub trans_a: bool,
    /// Transpose B.
    pub trans_b: bool,
    /// Fused activation.
    pub activation: Option<Activation>,
}

impl Default for GemmParams {
    fn default() -> Self {
        GemmParams {
            alpha: 1.0,
            beta: 1.0,
            trans_a: false,
            trans_b: false,
            activation: None,
        }
    }
}

/// Geometry of a 2-D pooling window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolParams {
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Stride along H and W.
    pub stride: [usize; 2],
    /// Padding: top, left, bottom, right.
    pub pads: [usize; 4],
    /// ONNX ceil_mode.
    pub ceil_mode: bool,
}

impl PoolParams {
    /// A square `k`×`k` window with stride `k` and no padding.
    pub fn new(k: usize) -> Self {
        PoolParams {
            kernel: [k, k],
            stride: [k, k],
            pads: [0; 4],
            ceil_mode: false,
        }
    }

    /// The same stride along H and W.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = [s, s];
        self
    }

    /// The same padding on all four sides.
    pub fn pads(mut self, p: usize) -> Self {
        self.pads = [p; 4];
        self
    }

    /// Round the output size up (ONNX ceil_mode).
    pub fn ceil_mode(mut self) -> Self {
        self.ceil_mode = true;
        self
    }

    fn window(&self) -> Window {
        Window {
            kernel: self.kernel,
            stride: self.stride,
            pads: self.pads,
            dilation: [1, 1],
        }
    }
}

/// Interpolation settings of a resize (default: ONNX's defaults, nearest
/// with half_pixel coordinates and round_prefer_floor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResizeParams {
    /// Interpolation.
    pub mode: ResizeMode,
    /// Coordinate transformation.
    pub coord: CoordMode,
    /// Rounding of nearest mode.
    pub nearest: NearestMode,
}

impl Default for ResizeParams {
    fn default() -> Self {
        ResizeParams {
            mode: ResizeMode::Nearest,
            coord: CoordMode::HalfPixel,
            nearest: NearestMode::RoundPreferFloor,
        }
    }
}

/// Builds a float graph with weights, inputs, outputs and pre-processing.
///
/// Every method that adds a node returns the id of its output tensor (or
/// ids, for [`ModelBuilder::split`] and [`ModelBuilder::node`]). Nodes are
/// named `<OpType>_<n>`, their outputs `<node>_out`, their weights
/// `<node>_weight` / `<node>_bias`; [`ModelBuilder::set_name`] renames a
/// tensor.
#[derive(Clone, Debug)]
pub struct ModelBuilder {
    platform: Platform,
    graph: Graph,
    consts: BTreeMap<TensorId, ConstData>,
    preprocess: BTreeMap<TensorId, InputPreprocess>,
    custom_string: String,
    names: HashSet<String>,
    node_count: usize,
}

impl ModelBuilder {
    /// An empty model for `platform`.
    pub fn new(platform: Platform) -> Self {
        ModelBuilder {
            platform,
            graph: Graph::default(),
            consts: BTreeMap::new(),
            preprocess: BTreeMap::new(),
            custom_string: String::new(),
            names: HashSet::new(),
            node_count: 0,
        }
    }

    /// The graph built so far.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Description of tensor `id`.
    pub fn tensor(&self, id: TensorId) -> Result<&TensorInfo, BuildError> {
        self.graph
            .tensors
            .get(id)
            .ok_or(BuildError::UnknownTensor(id))
    }

    /// Shape of tensor `id`.
    pub fn shape(&self, id: TensorId) -> Result<&[usize], BuildError> {
        Ok(&self.tensor(id)?.shape)
    }

    // ---- inputs, outputs, metadata ------------------------------------

    /// Adds a float32 model input (4-D inputs are NCHW).
    pub fn input(&mut self, name: &str, shape: &[usize]) -> Result<TensorId, BuildError> {
        self.input_typed(name, shape, DType::F32)
    }

    /// Adds a model input of any element type (e.g. int64 indices).
    pub fn input_typed(
        &mut self,
        name: &str,
        shape: &[usize],
        dtype: DType,
    ) -> Result<TensorId, BuildError> {
        if shape.is_empty() || shape.contains(&0) {
            return Err(BuildError::arg(
                "input",
                format!("input '{name}' needs a non-empty shape without zeros, got {shape:?}"),
            ));
        }
        self.claim_name(name)?;
        let id = self
            .graph
            .add_tensor(TensorInfo::activation(name, shape.to_vec(), dtype));
        self.graph.inputs.push(id);
        Ok(id)
    }

    /// Marks `t` as a model output (in call order).
    pub fn output(&mut self, t: TensorId) -> Result<(), BuildError> {
        let info = self.tensor(t)?;
        if info.is_weight() {
            return Err(BuildError::arg(
                "output",
                format!("'{}' is a constant, not an activation", info.name),
            ));
        }
        if self.graph.outputs.contains(&t) {
            return Err(BuildError::arg(
                "output",
                format!("'{}' is already an output", info.name),
            ));
        }
        self.graph.outputs.push(t);
        Ok(())
    }

    /// Renames tensor `t` (names must stay unique).
    pub fn set_name(&mut self, t: TensorId, name: &str) -> Result<(), BuildError> {
        let old = self.tensor(t)?.name.clone();
        if old == name {
            return Ok(());
        }
        self.claim_name(name)?;
        self.names.remove(&old);
        self.graph.tensors[t].name = name.to_string();
        Ok(())
    }

    /// Per-channel pre-processing of model input `x`: the runtime computes
    /// `(value - mean[c]) / std[c]` before feeding the model, so a model
    /// with float inputs can take uint8 images. `mean` and `std` have one
    /// entry per channel (dim 1 of a 4-D NCHW input, the last dim
    /// otherwise) or a single entry for all channels.
    pub fn mean_std(&mut self, x: TensorId, mean: &[f32], std: &[f32]) -> Result<(), BuildError> {
        let info = self.tensor(x)?;
        if !self.graph.inputs.contains(&x) {
            return Err(BuildError::arg(
                "mean_std",
                format!("'{}' is not a model input", info.name),
            ));
        }
        if !info.dtype.is_float() {
            return Err(BuildError::arg(
                "mean_std",
                format!("input '{}' is {:?}, not float", info.name, info.dtype),
            ));
        }
        let channels = if info.shape.len() == 4 {
            info.shape[1]
        } else {
            *info.shape.last().unwrap_or(&1)
        };
        for (what, v) in [("mean", mean), ("std", std)] {
            if v.len() != channels && v.len() != 1 {
                return Err(BuildError::arg(
                    "mean_std",
                    format!(
                        "{what} has {} values; input '{}' has {channels} channels",
                        v.len(),
                        info.name
                    ),
                ));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(BuildError::arg(
                    "mean_std",
                    format!("{what} must be finite"),
                ));
            }
        }
        if std.contains(&0.0) {
            return Err(BuildError::arg("mean_std", "std must not be 0"));
        }
        let widen = |v: &[f32]| {
            if v.len() == 1 {
                vec![v[0]; channels]
            } else {
                v.to_vec()
            }
        };
        self.preprocess.insert(
            x,
            InputPreprocess {
                mean: widen(mean),
                std: widen(std),
            },
        );
        Ok(())
    }

    /// The string returned by `RKNN_QUERY_CUSTOM_STRING` (at most 1023
    /// bytes, no NUL).
    pub fn custom_string(&mut self, s: &str) -> Result<(), BuildError> {
        if s.len() > MAX_CUSTOM_STRING || s.contains('\0') {
            return Err(BuildError::arg(
                "custom_string",
                format!(
                    "must be at most {MAX_CUSTOM_STRING} bytes without NUL, got {} bytes",
                    s.len()
                ),
            ));
        }
        self.custom_string = s.to_string();
        Ok(())
    }

    /// Adds a constant tensor.
    pub fn constant(
        &mut self,
        name: &str,
        shape: &[usize],
        data: ConstData,
    ) -> Result<TensorId, BuildError> {
        let elems: usize = shape.iter().product();
        if elems != data.len() {
            return Err(BuildError::arg(
                "constant",
                format!(
                    "'{name}': shape {shape:?} needs {elems} values, got {}",
                    data.len()
                ),
            ));
        }
        self.claim_name(name)?;
        Ok(self.push_const(name.to_string(), shape.to_vec(), data))
    }

    /// Finishes the model (the builder stays usable).
    pub fn build(&self) -> Result<BuiltModel, BuildError> {
        if self.graph.inputs.is_empty() {
            return Err(BuildError::Invalid("the model has no input".into()));
        }
        if self.graph.outputs.is_empty() {
            return Err(BuildError::Invalid("the model has no output".into()));
        }
        let preprocess = self
            .graph
            .inputs
            .iter()
            .map(|id| self.preprocess.get(id).cloned().unwrap_or_default())
            .collect();
        Ok(BuiltModel {
            platform: self.platform,
            graph: self.graph.clone(),
            consts: self.consts.clone(),
            preprocess,
            custom_string: self.custom_string.clone(),
        })
    }

    /// Builds the float model and writes it to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), BuildError> {
        self.build()?.save(path)
    }

    // ---- convolution and linear layers --------------------------------

    /// 2-D convolution of NCHW `x` with weights `[M, C/group, kh, kw]` and
    /// an optional bias of `M` values.
    pub fn conv2d(
        &mut self,
        x: TensorId,
        w: Weights,
        bias: Option<Vec<f32>>,
        p: ConvParams,
    ) -> Result<TensorId, BuildError> {
        let (kh, kw, m) = conv_kernel("conv2d", &w)?;
        let op = Op::Conv {
            window: Window {
                kernel: [kh, kw],
                stride: p.stride,
                pads: p.pads,
                dilation: p.dilation,
            },
            group: p.group,
            activation: p.activation,
        };
        self.weighted(op, x, w, bias, m)
    }

    /// Depthwise 2-D convolution: weights `[C, 1, kh, kw]`, one group per
    /// input channel (`p.group` is ignored).
    pub fn depthwise_conv2d(
        &mut self,
        x: TensorId,
        w: Weights,
        bias: Option<Vec<f32>>,
        p: ConvParams,
    ) -> Result<TensorId, BuildError> {
        let shape = self.shape(x)?;
        if shape.len() != 4 {
            return Err(BuildError::arg(
                "depthwise_conv2d",
                format!("input must be 4-D NCHW, got {shape:?}"),
            ));
        }
        let c = shape[1];
        self.conv2d(x, w, bias, p.group(c))
    }

    /// 2-D transposed convolution with weights `[C, M/group, kh, kw]` and
    /// an optional bias of `M` values.
    pub fn conv_transpose2d(
        &mut self,
        x: TensorId,
        w: Weights,
        bias: Option<Vec<f32>>,
        p: ConvTransposeParams,
    ) -> Result<TensorId, BuildError> {
        let (kh, kw, _) = conv_kernel("conv_transpose2d", &w)?;
        let m = w.shape[1] * p.group;
        let op = Op::ConvTranspose {
            window: Window {
                kernel: [kh, kw],
                stride: p.stride,
                pads: p.pads,
                dilation: p.dilation,
            },
            group: p.group,
            output_padding: p.output_padding,
            activation: p.activation,
        };
        self.weighted(op, x, w, bias, m)
    }

    /// `alpha * op(a) * op(b) + beta * c` with constant `b` and optional
    /// constant `c` (broadcast to the output).
    pub fn gemm(
        &mut self,
        a: TensorId,
        b: Weights,
        c: Option<Weights>,
        p: GemmParams,
    ) -> Result<TensorId, BuildError> {
        self.tensor(a)?;
        let op = Op::Gemm {
            alpha: p.alpha,
            beta: p.beta,
            trans_a: p.trans_a,
            trans_b: p.trans_b,
            activation: p.activation,
        };
        let node = self.next_node_name(&op);
        let b_id = self.weight_tensor(&node, "weight", b.shape, ConstData::F32(b.data));
        let mut inputs = vec![a, b_id];
        if let Some(c) = c {
            inputs.push(self.weight_tensor(&node, "bias", c.shape, ConstData::F32(c.data)));
        }
        self.infer_one(node, op, inputs)
    }

    /// Fully connected layer: `x [batch, K]` times `w [N, K]` transposed,
    /// plus an optional bias of `N` values (PyTorch `Linear` layout).
    pub fn fully_connected(
        &mut self,
        x: TensorId,
        w: Weights,
        bias: Option<Vec<f32>>,
        activation: Option<Activation>,
    ) -> Result<TensorId, BuildError> {
        if w.shape.len() != 2 {
            return Err(BuildError::arg(
                "fully_connected",
                format!("weights must be [N, K], got {:?}", w.shape),
            ));
        }
        let n = w.shape[0];
        let c = match bias {
            Some(b) if b.len() != n => {
                return Err(BuildError::arg(
                    "fully_connected",
                    format!("bias has {} values, weights have {n} rows", b.len()),
                ))
            }
            Some(b) => Some(Weights::vector(b)),
            None => None,
        };
        let p = GemmParams {
            trans_b: true,
            activation,
            ..GemmParams::default()
        };
        self.gemm(x, w, c, p)
    }

    /// numpy matmul of two tensors (use [`ModelBuilder::constant`] for a
    /// constant operand).
    pub fn matmul(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, BuildError> {
        self.simple(Op::MatMul, vec![a, b])
    }

    // ---- element-wise -------------------------------------------------

    /// Element-wise binary op with broadcasting and an optional fused
    /// activation.
    pub fn binary(
        &mut self,
        op: BinaryOp,
        a: TensorId,
        b: TensorId,
        activation: Option<Activation>,
    ) -> Result<TensorId, BuildError> {
        self.simple(Op::Binary { op, activation }, vec![a, b])
    }

    /// a + b
    pub fn add(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, BuildError> {
        self.binary(BinaryOp::Add, a, b, None)
    }

    /// a - b
    pub fn sub(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, BuildError> {
        self.binary(BinaryOp::Sub, a, b, None)
    }

    /// a * b
    pub fn mul(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, BuildError> {
        self.binary(BinaryOp::Mul, a, b, None)
    }

    /// a / b
    pub fn div(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, BuildError> {
        self.binary(BinaryOp::Div, a, b, None)
    }

    /// max(a, b)
    pub fn max(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, BuildError> {
        self.binary(BinaryOp::Max, a, b, None)
    }

    /// min(a, b)
    pub fn min(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, BuildError> {
        self.binary(BinaryOp::Min, a, b, None)
    }

    /// Element-wise activation.
    pub fn activation(&mut self, x: TensorId, act: Activation) -> Result<TensorId, BuildError> {
        self.simple(Op::Unary { act }, vec![x])
    }

    /// max(x, 0)
    pub fn relu(&mut self, x: TensorId) -> Result<TensorId, BuildError> {
        self.activation(x, Activation::Relu)
    }

    /// min(max(x, 0), 6)
    pub fn relu6(&mut self, x: TensorId) -> Result<TensorId, BuildError> {
        self.activation(x, Activation::Relu6)
    }

    /// Logistic sigmoid.
    pub fn sigmoid(&mut self, x: TensorId) -> Result<TensorId, BuildError> {
        self.activation(x, Activation::Sigmoid)
    }

    /// Hyperbolic tangent.
    pub fn tanh(&mut self, x: TensorId) -> Result<TensorId, BuildError> {
        self.activation(x, Activation::Tanh)
    }

    /// x if x >= 0 else alpha * x
    pub fn leaky_relu(&mut self, x: TensorId, alpha: f32) -> Result<TensorId, BuildError> {
        self.activation(x, Activation::LeakyRelu { alpha })
    }

    /// min(max(x, min), max)
    pub fn clip(&mut self, x: TensorId, min: f32, max: f32) -> Result<TensorId, BuildError> {
        if min > max || min.is_nan() || max.is_nan() {
            return Err(BuildError::arg(
                "clip",
                format!("min {min} must not exceed max {max}"),
            ));
        }
        self.activation(x, Activation::Clip { min, max })
    }

    /// x * relu6(x + 3) / 6
    pub fn hard_swish(&mut self, x: TensorId) -> Result<TensorId, BuildError> {
        self.activation(x, Activation::HardSwish)
    }

    /// x * sigmoid(x)
    pub fn silu(&mut self, x: TensorId) -> Result<TensorId, BuildError> {
        self.activation(x, Activation::Silu)
    }

    /// GELU, exact or with the tanh approximation.
    pub fn gelu(&mut self, x: TensorId, tanh_approx: bool) -> Result<TensorId, BuildError> {
        self.activation(x, Activation::Gelu { tanh_approx })
    }

    /// x if x >= 0 else slope * x, with a constant slope broadcast to x
    /// (e.g. `[C, 1, 1]` for per-channel slopes of an NCHW tensor).
    pub fn prelu(&mut self, x: TensorId, slope: Weights) -> Result<TensorId, BuildError> {
        self.tensor(x)?;
        let op = Op::PRelu;
        let node = self.next_node_name(&op);
        let s = self.weight_tensor(&node, "slope", slope.shape, ConstData::F32(slope.data));
        self.infer_one(node, op, vec![x, s])
    }

    // ---- pooling ------------------------------------------------------

    /// Max pooling.
    pub fn max_pool2d(&mut self, x: TensorId, p: PoolParams) -> Result<TensorId, BuildError> {
        let op = Op::MaxPool {
            window: p.window(),
            ceil_mode: p.ceil_mode,
        };
        self.simple(op, vec![x])
    }

    /// Average pooling.
    pub fn avg_pool2d(
        &mut self,
        x: TensorId,
        p: PoolParams,
        count_include_pad: bool,
    ) -> Result<TensorId, BuildError> {
        let op = Op::AveragePool {
            window: p.window(),
            ceil_mode: p.ceil_mode,
            count_include_pad,
        };
        self.simple(op, vec![x])
    }

    /// Mean over H and W (`[N, C, 1, 1]`).
    pub fn global_avg_pool(&mut self, x: TensorId) -> Result<TensorId, BuildError> {
        self.simple(Op::GlobalAveragePool, vec![x])
    }

    /// Max over H and W (`[N, C, 1, 1]`).
    pub fn global_max_pool(&mut self, x: TensorId) -> Result<TensorId, BuildError> {
        self.simple(Op::GlobalMaxPool, vec![x])
    }

    // ---- data movement ------------------------------------------------

    /// Concatenation along `axis` (negative counts from the end).
    pub fn concat(&mut self, xs: &[TensorId], axis: isize) -> Result<TensorId, BuildError> {
        let first = *xs
            .first()
            .ok_or_else(|| BuildError::arg("concat", "needs at least one input"))?;
        let axis = norm_axis("concat", axis, self.shape(first)?.len())?;
        self.simple(Op::Concat { axis }, xs.to_vec())
    }

    /// Splits `x` along `axis` into pieces of the given lengths.
    pub fn split(
        &mut self,
        x: TensorId,
        axis: isize,
        lengths: &[usize],
    ) -> Result<Vec<TensorId>, BuildError> {
        let info = self.tensor(x)?;
        let axis = norm_axis("split", axis, info.shape.len())?;
        let total: usize = lengths.iter().sum();
        if lengths.is_empty() || lengths.contains(&0) || total != info.shape[axis] {
            return Err(BuildError::arg(
                "split",
                format!(
                    "lengths {lengths:?} must be positive and add up to dim {axis} of {:?}",
                    info.shape
                ),
            ));
        }
        let shapes = lengths
            .iter()
            .map(|&l| {
                let mut s = info.shape.clone();
                s[axis] = l;
                s
            })
            .collect();
        let dtype = info.dtype;
        let op = Op::Split { axis };
        let node = self.next_node_name(&op);
        self.emit(node, op, vec![x], shapes, dtype)
    }

    /// ONNX Slice: for each of `axes`, elements `starts[i]..ends[i]` with
    /// step `steps[i]` (negative indices count from the end; out-of-range
    /// values are clamped; `steps` may be empty for all-ones).
    pub fn slice(
        &mut self,
        x: TensorId,
        axes: &[isize],
        starts: &[i64],
        ends: &[i64],
        steps: &[i64],
    ) -> Result<TensorId, BuildError> {
        let info = self.tensor(x)?;
        let ones = vec![1i64; axes.len()];
        let steps = if steps.is_empty() { &ones[..] } else { steps };
        if starts.len() != axes.len() || ends.len() != axes.len() || steps.len() != axes.len() {
            return Err(BuildError::arg(
                "slice",
                "axes, starts, ends and steps need the same length",
            ));
        }
        let mut shape = info.shape.clone();
        let mut norm_axes = Vec::with_capacity(axes.len());
        let mut norm_starts = Vec::with_capacity(axes.len());
        for i in 0..axes.len() {
            let axis = norm_axis("slice", axes[i], shape.len())?;
            if norm_axes.contains(&axis) {
                return Err(BuildError::arg(
                    "slice",
                    format!("axis {axis} listed twice"),
                ));
            }
            let (start, len) = slice_range(info.shape[axis], starts[i], ends[i], steps[i])
                .ok_or_else(|| BuildError::arg("slice", "step must not be 0"))?;
            if len == 0 {
                return Err(BuildError::arg(
                    "slice",
                    format!("axis {axis} would become empty"),
                ));
            }
            shape[axis] = len;
            norm_axes.push(axis);
            norm_starts.push(start);
        }
        let dtype = info.dtype;
        let op = Op::Slice {
            axes: norm_axes,
            starts: norm_starts,
            steps: steps.to_vec(),
        };
        let node = self.next_node_name(&op);
        Ok(self.emit(node, op, vec![x], vec![shape], dtype)?[0])
    }

    /// ONNX Reshape: `0` copies the input dim, one `-1` is inferred.
    pub fn reshape(&mut self, x: TensorId, shape: &[i64]) -> Result<TensorId, BuildError> {
        let info = self.tensor(x)?;
        let target = reshape_target(&info.shape, shape)?;
        let dtype = info.dtype;
        let node = self.next_node_name(&Op::Reshape);
        Ok(self.emit(node, Op::Reshape, vec![x], vec![target], dtype)?[0])
    }

    /// ONNX Flatten: `[prod(dims[..axis]), prod(dims[axis..])]`.
    pub fn flatten(&mut self, x: TensorId, axis: usize) -> Result<TensorId, BuildError> {
        let shape = self.shape(x)?;
        if axis > shape.len() {
            return Err(BuildError::arg(
                "flatten",
                format!("axis {axis} out of range for rank {}", shape.len()),
            ));
        }
        let outer: usize = shape[..axis].iter().product();
        let inner: usize = shape[axis..].iter().product();
        self.reshape(x, &[outer as i64, inner as i64])
    }

    /// Axis permutation: output axis i is input axis `perm[i]`.
    pub fn transpose(&mut self, x: TensorId, perm: &[usize]) -> Result<TensorId, BuildError> {
        self.simple(
            Op::Transpose {
                perm: perm.to_vec(),
            },
            vec![x],
        )
    }

    /// Padding: `pads` holds the begin amounts of every axis, then the end
    /// amounts.
    pub fn pad(
        &mut self,
        x: TensorId,
        pads: &[usize],
        mode: PadMode,
    ) -> Result<TensorId, BuildError> {
        self.simple(
            Op::Pad {
                pads: pads.to_vec(),
                mode,
            },
            vec![x],
        )
    }

    /// Resizes the two innermost axes to `size` = `[h, w]`.
    pub fn resize(
        &mut self,
        x: TensorId,
        size: [usize; 2],
        p: ResizeParams,
    ) -> Result<TensorId, BuildError> {
        let info = self.tensor(x)?;
        let rank = info.shape.len();
        if rank < 2 || size.contains(&0) {
            return Err(BuildError::arg(
                "resize",
                format!("cannot resize {:?} to {size:?}", info.shape),
            ));
        }
        let mut shape = info.shape.clone();
        shape[rank - 2] = size[0];
        shape[rank - 1] = size[1];
        let dtype = info.dtype;
        let op = Op::Resize {
            mode: p.mode,
            coord: p.coord,
            nearest: p.nearest,
        };
        let node = self.next_node_name(&op);
        Ok(self.emit(node, op, vec![x], vec![shape], dtype)?[0])
    }

    /// Gathers along `axis` with an int32/int64 `indices` tensor.
    pub fn gather(
        &mut self,
        data: TensorId,
        indices: TensorId,
        axis: isize,
    ) -> Result<TensorId, BuildError> {
        let axis = norm_axis("gather", axis, self.shape(data)?.len())?;
        self.simple(Op::Gather { axis }, vec![data, indices])
    }

    // ---- normalization and reductions ---------------------------------

    /// Softmax along `axis`.
    pub fn softmax(&mut self, x: TensorId, axis: isize) -> Result<TensorId, BuildError> {
        let axis = norm_axis("softmax", axis, self.shape(x)?.len())?;
        self.simple(Op::Softmax { axis }, vec![x])
    }

    /// Layer normalization over the axes from `axis` to the last, with a
    /// constant scale and optional bias shaped like those axes.
    pub fn layer_norm(
        &mut self,
        x: TensorId,
        axis: isize,
        scale: Vec<f32>,
        bias: Option<Vec<f32>>,
        epsilon: f32,
    ) -> Result<TensorId, BuildError> {
        let shape = self.shape(x)?.to_vec();
        let axis = norm_axis("layer_norm", axis, shape.len())?;
        let norm_shape = shape[axis..].to_vec();
        let n: usize = norm_shape.iter().product();
        if scale.len() != n || bias.as_ref().is_some_and(|b| b.len() != n) {
            return Err(BuildError::arg(
                "layer_norm",
                format!("scale and bias need {n} values (shape {norm_shape:?})"),
            ));
        }
        let op = Op::LayerNorm { axis, epsilon };
        let node = self.next_node_name(&op);
        let mut inputs = vec![x];
        inputs.push(self.weight_tensor(&node, "scale", norm_shape.clone(), ConstData::F32(scale)));
        if let Some(b) = bias {
            inputs.push(self.weight_tensor(&node, "bias", norm_shape, ConstData::F32(b)));
        }
        self.infer_one(node, op, inputs)
    }

    /// Reduction over `axes` (negative counts from the end).
    pub fn reduce(
        &mut self,
        x: TensorId,
        op: ReduceOp,
        axes: &[isize],
        keepdims: bool,
    ) -> Result<TensorId, BuildError> {
        let rank = self.shape(x)?.len();
        let mut norm = axes
            .iter()
            .map(|&a| norm_axis("reduce", a, rank))
            .collect::<Result<Vec<_>, _>>()?;
        norm.sort_unstable();
        norm.dedup();
        if norm.is_empty() {
            return Err(BuildError::arg("reduce", "needs at least one axis"));
        }
        self.simple(
            Op::Reduce {
                op,
                axes: norm,
                keepdims,
            },
            vec![x],
        )
    }

    /// Index of the first maximum along `axis`, as int64.
    pub fn argmax(
        &mut self,
        x: TensorId,
        axis: isize,
        keepdims: bool,
    ) -> Result<TensorId, BuildError> {
        let axis = norm_axis("argmax", axis, self.shape(x)?.len())?;
        let op = Op::ArgMax {
            axis,
            keepdims,
            select_last_index: false,
        };
        self.typed(op, vec![x], DType::I64)
    }

    /// Element type conversion.
    pub fn cast(&mut self, x: TensorId, to: DType) -> Result<TensorId, BuildError> {
        self.typed(Op::Cast { to }, vec![x], to)
    }

    /// Escape hatch: adds a node of any op with the given output shapes,
    /// all of element type `dtype`. The shapes are checked against the op
    /// when the model is written (`Graph::validate`).
    pub fn node(
        &mut self,
        op: Op,
        inputs: &[TensorId],
        output_shapes: &[Vec<usize>],
        dtype: DType,
    ) -> Result<Vec<TensorId>, BuildError> {
        for &i in inputs {
            self.tensor(i)?;
        }
        if output_shapes.is_empty() {
            return Err(BuildError::arg(op.type_name(), "needs at least one output"));
        }
        let node = self.next_node_name(&op);
        self.emit(node, op, inputs.to_vec(), output_shapes.to_vec(), dtype)
    }

    /// A custom op node ([`CustomOp`], `docs/custom_ops.md`): the
    /// application computes it at run time (`rknn_register_custom_ops`);
    /// its outputs get the given shapes and element types (float32 or
    /// int64), checked against the fallback op when there is one.
    pub fn custom(
        &mut self,
        op: CustomOp,
        inputs: &[TensorId],
        outputs: &[(Vec<usize>, DType)],
    ) -> Result<Vec<TensorId>, BuildError> {
        for &i in inputs {
            self.tensor(i)?;
        }
        let op = Op::Custom(op);
        if outputs.is_empty() {
            return Err(BuildError::arg(op.type_name(), "needs at least one output"));
        }
        let node = self.next_node_name(&op);
        self.emit_typed(node, op, inputs.to_vec(), outputs.to_vec())
    }

    // ---- internals ----------------------------------------------------

    fn claim_name(&mut self, name: &str) -> Result<(), BuildError> {
        if name.is_empty() || name.len() > 255 {
            return Err(BuildError::arg(
                "name",
                format!("tensor names need 1 to 255 bytes, got '{name}'"),
            ));
        }
        if !self.names.insert(name.to_string()) {
            return Err(BuildError::DuplicateName(name.to_string()));
        }
        Ok(())
    }

    fn next_node_name(&mut self, op: &Op) -> String {
        let name = format!("{}_{}", op.type_name(), self.node_count);
        self.node_count += 1;
        name
    }

    fn push_const(&mut self, name: String, shape: Vec<usize>, data: ConstData) -> TensorId {
        let mut info = TensorInfo::activation(name, shape, data.dtype());
        info.storage = Storage::Weight {
            offset: 0,
            len: (data.len() * data.dtype().size()) as u64,
        };
        let id = self.graph.add_tensor(info);
        self.consts.insert(id, data);
        id
    }

    fn weight_tensor(
        &mut self,
        node: &str,
        role: &str,
        shape: Vec<usize>,
        data: ConstData,
    ) -> TensorId {
        let name = fresh_name(&mut self.names, &format!("{node}_{role}"));
        self.push_const(name, shape, data)
    }

    /// Conv-like node: constant weights plus an optional bias of `m`.
    fn weighted(
        &mut self,
        op: Op,
        x: TensorId,
        w: Weights,
        bias: Option<Vec<f32>>,
        m: usize,
    ) -> Result<TensorId, BuildError> {
        self.tensor(x)?;
        if let Some(b) = &bias {
            if b.len() != m {
                return Err(BuildError::arg(
                    op.type_name(),
                    format!("bias has {} values for {m} output channels", b.len()),
                ));
            }
        }
        let node = self.next_node_name(&op);
        let w_id = self.weight_tensor(&node, "weight", w.shape, ConstData::F32(w.data));
        let mut inputs = vec![x, w_id];
        if let Some(b) = bias {
            inputs.push(self.weight_tensor(&node, "bias", vec![m], ConstData::F32(b)));
        }
        self.infer_one(node, op, inputs)
    }

    /// A node whose output type is its first input's.
    fn simple(&mut self, op: Op, inputs: Vec<TensorId>) -> Result<TensorId, BuildError> {
        let dtype = self.tensor(inputs[0])?.dtype;
        self.typed(op, inputs, dtype)
    }

    fn typed(
        &mut self,
        op: Op,
        inputs: Vec<TensorId>,
        dtype: DType,
    ) -> Result<TensorId, BuildError> {
        let node = self.next_node_name(&op);
        let shapes = self.infer(&op, &inputs)?;
        Ok(self.emit(node, op, inputs, shapes, dtype)?[0])
    }

    fn infer_one(
        &mut self,
        node: String,
        op: Op,
        inputs: Vec<TensorId>,
    ) -> Result<TensorId, BuildError> {
        let dtype = self.tensor(inputs[0])?.dtype;
        let shapes = self.infer(&op, &inputs)?;
        Ok(self.emit(node, op, inputs, shapes, dtype)?[0])
    }

    fn infer(&self, op: &Op, inputs: &[TensorId]) -> Result<Vec<Vec<usize>>, BuildError> {
        let infos = inputs
            .iter()
            .map(|&i| self.tensor(i))
            .collect::<Result<Vec<_>, _>>()?;
        shape::infer(op, &infos).map_err(|e| BuildError::Shape {
            op: op.type_name().to_string(),
            reason: e.to_string(),
        })
    }

    fn emit(
        &mut self,
        node: String,
        op: Op,
        inputs: Vec<TensorId>,
        shapes: Vec<Vec<usize>>,
        dtype: DType,
    ) -> Result<Vec<TensorId>, BuildError> {
        let outputs = shapes.into_iter().map(|s| (s, dtype)).collect();
        self.emit_typed(node, op, inputs, outputs)
    }

    /// Adds node `node` with one output tensor per `(shape, type)`.
    fn emit_typed(
        &mut self,
        node: String,
        op: Op,
        inputs: Vec<TensorId>,
        outputs: Vec<(Vec<usize>, DType)>,
    ) -> Result<Vec<TensorId>, BuildError> {
        if shape::takes_output_shape(&op) {
            // Ops whose output shape is an argument: the graph's shape
            // rules still check it against the inputs.
            let infos = inputs
                .iter()
                .map(|&i| self.tensor(i))
                .collect::<Result<Vec<_>, _>>()?;
            let given: Vec<&[usize]> = outputs.iter().map(|(s, _)| s.as_slice()).collect();
            shape::infer_given(&op, &infos, &given).map_err(|e| BuildError::Shape {
                op: op.type_name().to_string(),
                reason: e.to_string(),
            })?;
        }
        let single = outputs.len() == 1;
        let mut ids = Vec::with_capacity(outputs.len());
        for (i, (s, dtype)) in outputs.into_iter().enumerate() {
            let base = if single {
                format!("{node}_out")
            } else {
                format!("{node}_out{i}")
            };
            let name = fresh_name(&mut self.names, &base);
            ids.push(
                self.graph
                    .add_tensor(TensorInfo::activation(name, s, dtype)),
            );
        }
        self.graph.add_node(Node {
            name: node,
            op,
            inputs,
            outputs: ids.clone(),
            target: Target::Cpu,
        });
        Ok(ids)
    }
}

/// Kernel size and output channels of conv weights `[M, C/g, kh, kw]`.
fn conv_kernel(op: &str, w: &Weights) -> Result<(usize, usize, usize), BuildError> {
    match w.shape[..] {
        [m, _, kh, kw] => Ok((kh, kw, m)),
        _ => Err(BuildError::arg(
            op,
            format!("weights must be 4-D, got {:?}", w.shape),
        )),
    }
}

/// Resolves a possibly negative axis against `rank`.
fn norm_axis(op: &str, axis: isize, rank: usize) -> Result<usize, BuildError> {
    let r = rank as isize;
    if axis < -r || axis >= r {
        return Err(BuildError::arg(
            op,
            format!("axis {axis} out of range for rank {rank}"),
        ));
    }
    Ok(if axis < 0 { axis + r } else { axis } as usize)
}

/// ONNX Slice on one axis of length `dim`: the clamped start index and the
/// output length; `None` for a zero step.
fn slice_range(dim: usize, start: i64, end: i64, step: i64) -> Option<(i64, usize)> {
    if step == 0 {
        return None;
    }
    let d = dim as i64;
    let resolve = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
    let (start, end) = (resolve(start), resolve(end));
    if step > 0 {
        let s = start.clamp(0, d);
        let e = end.clamp(0, d);
        let len = if e > s { (e - s + step - 1) / step } else { 0 };
        Some((s, len as usize))
    } else {
        let s = start.clamp(0, d - 1);
        let e = end.clamp(-1, d - 1);
        let len = if s > e {
            (s - e + (-step) - 1) / (-step)
        } else {
            0
        };
        Some((s, len as usize))
    }
}

/// ONNX Reshape target (`0` copies, one `-1` is inferred).
fn reshape_target(input: &[usize], shape: &[i64]) -> Result<Vec<usize>, BuildError> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(shape.len());
    let mut infer_at = None;
    for (i, &d) in shape.iter().enumerate() {
        match d {
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                out.push(1);
            }
            0 => out.push(*input.get(i).ok_or_else(|| {
                BuildError::arg(
                    "reshape",
                    format!("0 at axis {i} but the input has rank {}", input.len()),
                )
            })?),
            d if d > 0 => out.push(d as usize),
            _ => {
                return Err(BuildError::arg(
                    "reshape",
                    format!("invalid target shape {shape:?}"),
                ))
            }
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer_at {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(BuildError::arg(
                "reshape",
                format!("cannot reshape {input:?} to {shape:?}"),
            ));
        }
        out[i] = total / known;
    } else if known != total {
        return Err(BuildError::arg(
            "reshape",
            format!("cannot reshape {input:?} ({total} elements) to {shape:?}"),
        ));
    }
    Ok(out)
}

/// Claims and returns `base`, or `base_<k>` for the first k not yet in
/// `names`.
pub(crate) fn fresh_name(names: &mut HashSet<String>, base: &str) -> String {
    let mut name = base.to_string();
    let mut k = 1;
    while names.contains(&name) {
        name = format!("{base}_{k}");
        k += 1;
    }
    names.insert(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_ranges_follow_onnx() {
        assert_eq!(slice_range(10, 2, 8, 1), Some((2, 6)));
        assert_eq!(slice_range(10, 0, 10, 3), Some((0, 4)));
        assert_eq!(slice_range(10, -3, i64::MAX, 1), Some((7, 3)));
        assert_eq!(slice_range(10, 9, -11, -1), Some((9, 10)));
        assert_eq!(slice_range(10, i64::MAX, i64::MIN, -2), Some((9, 5)));
        assert_eq!(slice_range(10, 5, 2, 1), Some((5, 0)));
        assert_eq!(slice_range(10, 0, 5, 0), None);
    }

    #[test]
    fn reshape_targets_follow_onnx() {
        assert_eq!(reshape_target(&[2, 3, 4], &[0, -1]).unwrap(), vec![2, 12]);
        assert_eq!(reshape_target(&[2, 3, 4], &[24]).unwrap(), vec![24]);
        assert_eq!(
            reshape_target(&[2, 3, 4], &[-1, 2, 2]).unwrap(),
            vec![6, 2, 2]
        );
        assert!(reshape_target(&[2, 3, 4], &[5, -1]).is_err());
        assert!(reshape_target(&[2, 3, 4], &[-1, -1]).is_err());
        assert!(reshape_target(&[2, 3, 4], &[25]).is_err());
    }

    #[test]
    fn axes_normalize() {
        assert_eq!(norm_axis("t", -1, 4).unwrap(), 3);
        assert_eq!(norm_axis("t", 0, 4).unwrap(), 0);
        assert!(norm_axis("t", 4, 4).is_err());
        assert!(norm_axis("t", -5, 4).is_err());
    }

    #[test]
    fn inputs_outputs_names_and_metadata() {
        let mut b = ModelBuilder::new(Platform::Rk3588);
        let x = b.input("x", &[1, 3, 4, 4]).unwrap();
        assert!(matches!(
            b.input("x", &[1]),
            Err(BuildError::DuplicateName(_))
        ));
        assert!(b.input("bad", &[1, 0]).is_err());
        let r = b.reshape(x, &[1, -1]).unwrap();
        assert_eq!(b.shape(r).unwrap(), &[1, 48]);
        assert_eq!(b.tensor(r).unwrap().name, "Reshape_0_out");
        b.set_name(r, "flat").unwrap();
        assert!(b.set_name(x, "flat").is_err());
        let parts = b.split(r, 1, &[16, 32]).unwrap();
        assert_eq!(b.shape(parts[1]).unwrap(), &[1, 32]);
        assert!(b.split(r, 1, &[16, 16]).is_err());
        let s = b.slice(parts[1], &[-1], &[1], &[100], &[2]).unwrap();
        assert_eq!(b.shape(s).unwrap(), &[1, 16]);
        assert_eq!(
            b.graph().nodes.last().unwrap().op,
            Op::Slice {
                axes: vec![1],
                starts: vec![1],
                steps: vec![2]
            }
        );
        let up = b.resize(x, [8, 8], ResizeParams::default()).unwrap();
        assert_eq!(b.shape(up).unwrap(), &[1, 3, 8, 8]);
        b.output(s).unwrap();
        assert!(b.output(s).is_err());
        b.mean_std(x, &[0.0, 1.0, 2.0], &[255.0]).unwrap();
        assert!(b.mean_std(x, &[0.0, 1.0], &[1.0]).is_err());
        assert!(b.mean_std(s, &[0.0], &[1.0]).is_err());
        assert!(b.mean_std(x, &[0.0], &[0.0]).is_err());
        b.custom_string("labels=imagenet").unwrap();
        assert!(b.custom_string(&"a".repeat(1024)).is_err());
        let m = b.build().unwrap();
        assert_eq!(m.preprocess.len(), 1);
        assert_eq!(m.preprocess[0].mean, vec![0.0, 1.0, 2.0]);
        assert_eq!(m.preprocess[0].std, vec![255.0; 3]);
        assert_eq!(m.custom_string, "labels=imagenet");
        assert_eq!(m.graph.outputs, vec![s]);
        assert!(m.graph.nodes.iter().all(|n| n.target == Target::Cpu));
    }

    #[test]
    fn constants_and_escape_hatch() {
        let mut b = ModelBuilder::new(Platform::Rk3566);
        let x = b.input("x", &[2, 3]).unwrap();
        let k = b
            .constant("k", &[3, 2], ConstData::F32(vec![1.0; 6]))
            .unwrap();
        assert!(b
            .constant("k2", &[3, 3], ConstData::F32(vec![1.0; 6]))
            .is_err());
        assert!(b.tensor(k).unwrap().is_weight());
        let out = b
            .node(Op::MatMul, &[x, k], &[vec![2, 2]], DType::F32)
            .unwrap();
        assert_eq!(b.shape(out[0]).unwrap(), &[2, 2]);
        assert!(b.output(k).is_err());
        assert!(b.build().is_err(), "no output yet");
        b.output(out[0]).unwrap();
        let m = b.build().unwrap();
        assert_eq!(m.const_data(k), Some(&ConstData::F32(vec![1.0; 6])));
        assert_eq!(m.tensor_id("k"), Some(k));
        assert!(Weights::new(&[2, 2], vec![0.0; 3]).is_err());
    }
}
