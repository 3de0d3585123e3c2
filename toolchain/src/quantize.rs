//! Quantization of a float model with given parameters, and fp16
//! conversion.
//!
//! # Int8 rules
//!
//! * **Activations** are asymmetric int8, per tensor. The caller gives, for
//!   every float activation tensor that ends up int8, either
//!   `(scale, zero_point)` or a `[min, max]` range. A range is first widened
//!   to contain 0, then `scale = (max - min) / 255` and
//!   `zero_point = clamp(round(-128 - min / scale), -128, 127)`; a
//!   zero-width range gets scale 1. Outputs of ops that only move or select
//!   values (MaxPool, GlobalMaxPool, ReduceMax, Reshape, Transpose, Slice,
//!   Split, Pad, Gather, nearest Resize, and Concat whose inputs share one
//!   set of parameters) take their input's parameters when none are given.
//! * **Weights** of Conv (axis 0), ConvTranspose (axis 1, output channels;
//!   per layer when grouped), Gemm (the N axis of B) and MatMul with a
//!   constant B (its last axis) are symmetric int8, per channel or (option)
//!   per layer: `scale = max|w| / 127` (1 for an all-zero channel),
//!   `q = clamp(round(w / scale), -128, 127)`, zero point 0.
//! * **Biases** (Conv, ConvTranspose, Gemm C of shape `[N]` or `[1, N]`)
//!   are int32 with `scale[c] = s_x * s_w[c]`, zero point 0,
//!   `q = round(b / scale[c])` saturated to int32. Gemm `alpha`/`beta` are
//!   folded into B and C (the node gets alpha = beta = 1); a C of another
//!   shape makes that node's weights per layer.
//! * **Other float constants** read by int8 ops (a Binary operand, PRelu
//!   slopes, Concat parts) are int8: PRelu slopes symmetric per layer, the
//!   rest asymmetric per tensor from their own range (or the parameters
//!   given for them).
//! * **Placement** follows [`crate::placement`]: compute ops run in int8
//!   (when their weights are constant), data-movement ops follow their first
//!   input, float-only ops (Softmax, LayerNorm, ReduceMean/Sum, Cast) get
//!   explicit `Dequantize` / `Quantize` nodes around them. A model input is
//!   int8 when an int8 compute op reads it (or parameters are given for it
//!   and a data-movement op reads it); outputs keep their producer's type.
//! * **Custom ops** are float-only CPU ops (their callbacks take float32).
//!   Everything computed from a custom op without a built-in fallback
//!   stays float: the compiler cannot run the op, so nothing after it is
//!   calibrated.
//!
//! # fp16
//!
//! Every float32 tensor and weight becomes fp16, except the tensors of
//! custom ops, which stay float32: `Cast` nodes convert on the way in and
//! out (weights read only by custom ops keep their float32 data).
//!
//! All rounding goes through `rknnrt::kernels::quant`, so the compiler and
//! the runtime agree.

use std::collections::{BTreeMap, HashMap, HashSet};

use half::f16;
use rknnrt::graph::{
    DType, Graph, Node, Op, Quant, ReduceOp, ResizeMode, Storage, Target, TensorId, TensorInfo,
};
use rknnrt::kernels::quant;

use crate::builder;
use crate::calibrate::interp::uncomputable;
use crate::data::ConstData;
use crate::error::BuildError;
use crate::model::BuiltModel;
use crate::placement::{self, Int8Support, Precision};

/// Quantization of one activation tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActQuant {
    /// Explicit parameters.
    Params {
        /// Scale (> 0).
        scale: f32,
        /// Zero point in [-128, 127].
        zero_point: i32,
    },
    /// A calibrated range; parameters are derived as the module documents.
    Range {
        /// Smallest value.
        min: f32,
        /// Largest value.
        max: f32,
    },
}

impl ActQuant {
    /// The `(scale, zero_point)` pair.
    pub fn resolve(&self) -> Result<(f32, i32), BuildError> {
        match *self {
            ActQuant::Params { scale, zero_point } => {
                if !(scale.is_finite() && scale > 0.0 && (-128..=127).contains(&zero_point)) {
                    return Err(BuildError::Quantize(format!(
                        "invalid parameters scale={scale}, zero_point={zero_point}"
                    )));
                }
                Ok((scale, zero_point))
            }
            ActQuant::Range { min, max } => {
                if !(min.is_finite() && max.is_finite()) || min > max {
                    return Err(BuildError::Quantize(format!(
                        "invalid range [{min}, {max}]"
                    )));
                }
                Ok(params_from_range(min, max))
            }
        }
    }
}

/// Asymmetric int8 parameters of the range `[min, max]` (widened to
/// contain 0).
pub fn params_from_range(min: f32, max: f32) -> (f32, i32) {
    let (min, max) = (min.min(0.0), max.max(0.0));
    let width = max - min;
    let scale = if width > 0.0 { width / 255.0 } else { 1.0 };
    let zp = quant::round(-128.0 - min / scale).clamp(-128.0, 127.0) as i32;
    (scale, zp)
}

/// Per-channel or per-layer weight scales.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WeightGranularity {
    /// One scale per output channel.
    #[default]
    PerChannel,
    /// One scale per weight tensor.
    PerLayer,
}

/// What the caller knows about the model's value ranges.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuantConfig {
    /// Parameters per tensor id of the float model.
    pub activations: BTreeMap<TensorId, ActQuant>,
    /// Weight scale granularity.
    pub weights: WeightGranularity,
}

impl QuantConfig {
    /// Empty configuration (per-channel weights).
    pub fn new() -> Self {
        QuantConfig::default()
    }

    /// Sets explicit parameters for tensor `t`.
    pub fn params(mut self, t: TensorId, scale: f32, zero_point: i32) -> Self {
        self.activations
            .insert(t, ActQuant::Params { scale, zero_point });
        self
    }

    /// Sets a range for tensor `t`.
    pub fn range(mut self, t: TensorId, min: f32, max: f32) -> Self {
        self.activations.insert(t, ActQuant::Range { min, max });
        self
    }

    /// Uses one scale per weight tensor.
    pub fn per_layer(mut self) -> Self {
        self.weights = WeightGranularity::PerLayer;
        self
    }
}

/// Symmetric int8 quantization of `data` (shaped `shape`) with one scale
/// per index of `axis`, or one scale overall for `None`. Returns the values
/// and the scales.
pub fn quantize_symmetric(
    data: &[f32],
    shape: &[usize],
    axis: Option<usize>,
) -> (Vec<i8>, Vec<f32>) {
    let (channels, inner) = match axis {
        Some(a) if a < shape.len() => (shape[a], shape[a + 1..].iter().product::<usize>()),
        _ => (1, 1),
    };
    let channel = |i: usize| (i / inner.max(1)) % channels.max(1);
    let mut amax = vec![0f32; channels.max(1)];
    for (i, &v) in data.iter().enumerate() {
        let c = channel(i);
        amax[c] = amax[c].max(v.abs());
    }
    let scales: Vec<f32> = amax
        .iter()
        .map(|&m| if m > 0.0 { m / 127.0 } else { 1.0 })
        .collect();
    let q = data
        .iter()
        .enumerate()
        .map(|(i, &v)| quant::quantize_i8(v, 1.0 / scales[channel(i)], 0))
        .collect();
    (q, scales)
}

/// Int32 bias with `scale[c] = input_scale * weight_scales[c]` (one weight
/// scale applies to every element).
pub fn quantize_bias(
    bias: &[f32],
    input_scale: f32,
    weight_scales: &[f32],
) -> (Vec<i32>, Vec<f32>) {
    let scales: Vec<f32> = weight_scales.iter().map(|&s| input_scale * s).collect();
    let q = bias
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let s = if scales.len() == 1 {
                scales[0]
            } else {
                scales[i]
            };
            (quant::round(b / s) as f64).clamp(i32::MIN as f64, i32::MAX as f64) as i32
        })
        .collect();
    (q, scales)
}

/// Asymmetric int8 values of `data` with the given parameters.
fn quantize_asymmetric(data: &[f32], scale: f32, zp: i32) -> Vec<i8> {
    data.iter()
        .map(|&v| quant::quantize_i8(v, 1.0 / scale, zp))
        .collect()
}

/// Converts every float tensor and weight of `model` to fp16; compute ops
/// go to the NPU, float-only ops to the CPU.
pub fn to_fp16(model: &BuiltModel) -> Result<BuiltModel, BuildError> {
    check_float_model(model)?;
    let mut out = model.clone();
    let keep = custom_f32(&out.graph);
    for (id, t) in out.graph.tensors.iter_mut().enumerate() {
        if t.dtype == DType::F32 && !keep[id] {
            t.dtype = DType::F16;
            if let Storage::Weight { len, .. } = &mut t.storage {
                *len /= 2;
            }
        }
    }
    for (&id, data) in out.consts.iter_mut() {
        if let ConstData::F32(v) = data {
            if !keep[id] {
                *data = ConstData::F16(v.iter().map(|&x| f16::from_f32(x)).collect());
            }
        }
    }
    for n in &mut out.graph.nodes {
        if let Op::Cast { to } = &mut n.op {
            if *to == DType::F32 {
                *to = DType::F16;
            }
        }
    }
    fence_custom_ops(&mut out.graph);
    placement::assign(&mut out.graph, out.platform);
    Ok(out)
}

/// Quantizes a float model to int8 following the module's rules.
pub fn quantize_int8(model: &BuiltModel, cfg: &QuantConfig) -> Result<BuiltModel, BuildError> {
    check_float_model(model)?;
    let mut q = Quantizer::new(model, cfg);
    q.run()?;
    placement::assign(&mut q.out, model.platform);
    Ok(BuiltModel {
        platform: model.platform,
        graph: q.out,
        consts: q.consts,
        preprocess: model.preprocess.clone(),
        custom_string: model.custom_string.clone(),
    })
}

/// Float32 tensors that stay float32 in an fp16 model: outputs of custom
/// ops, and weights only custom ops read.
fn custom_f32(g: &Graph) -> Vec<bool> {
    let mut keep = vec![false; g.tensors.len()];
    let mut other_reader = vec![false; g.tensors.len()];
    for n in &g.nodes {
        let custom = matches!(n.op, Op::Custom(_));
        for &t in &n.inputs {
            if custom && g.tensors[t].is_weight() {
                keep[t] = true;
            } else {
                other_reader[t] = true;
            }
        }
        if custom {
            for &t in &n.outputs {
                keep[t] = true;
            }
        }
    }
    for (t, k) in keep.iter_mut().enumerate() {
        if g.tensors[t].is_weight() && other_reader[t] {
            *k = false;
        }
    }
    keep
}

/// Inserts `Cast` nodes so custom ops read and write float32 in a graph
/// whose other float tensors are fp16: fp16 inputs of a custom node are
/// cast to float32 before it, and float32 outputs of a custom node are
/// cast to fp16 for the other nodes that read them.
fn fence_custom_ops(g: &mut Graph) {
    let mut names: HashSet<String> = g.tensors.iter().map(|t| t.name.clone()).collect();
    let custom_out: HashSet<TensorId> = g
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Custom(_)))
        .flat_map(|n| n.outputs.iter().copied())
        .filter(|&t| g.tensors[t].dtype == DType::F32)
        .collect();
    let mut copies: HashMap<(TensorId, DType), TensorId> = HashMap::new();
    let old = std::mem::take(&mut g.nodes);
    for mut node in old {
        let custom = matches!(node.op, Op::Custom(_));
        for i in 0..node.inputs.len() {
            let t = node.inputs[i];
            let to = match (custom, g.tensors[t].dtype) {
                (true, DType::F16) => DType::F32,
                (false, DType::F32) if custom_out.contains(&t) => DType::F16,
                _ => continue,
            };
            let id = match copies.get(&(t, to)) {
                Some(&id) => id,
                None => {
                    let mut info = g.tensors[t].clone();
                    info.name = builder::fresh_name(
                        &mut names,
                        &format!(
                            "{}_{}",
                            info.name,
                            if to == DType::F32 { "f32" } else { "f16" }
                        ),
                    );
                    info.dtype = to;
                    info.storage = Storage::Activation;
                    let id = g.add_tensor(info);
                    let name =
                        builder::fresh_name(&mut names, &format!("{}_cast", g.tensors[t].name));
                    g.nodes.push(Node {
                        name,
                        op: Op::Cast { to },
                        inputs: vec![t],
                        outputs: vec![id],
                        target: Target::Cpu,
                    });
                    copies.insert((t, to), id);
                    id
                }
            };
            node.inputs[i] = id;
        }
        g.nodes.push(node);
    }
}

fn check_float_model(model: &BuiltModel) -> Result<(), BuildError> {
    if let Some(n) = model
        .graph
        .nodes
        .iter()
        .find(|n| matches!(n.op, Op::Quantize | Op::Dequantize))
    {
        return Err(BuildError::Quantize(format!(
            "node '{}' shows the model is already quantized",
            n.name
        )));
    }
    if let Some(t) = model
        .graph
        .tensors
        .iter()
        .find(|t| t.dtype == DType::F16 || t.quant.is_some())
    {
        return Err(BuildError::Quantize(format!(
            "tensor '{}' is not a plain float32/integer tensor",
            t.name
        )));
    }
    Ok(())
}

/// Role of a constant read by an int8 node.
enum ConstRole {
    /// Symmetric weights along an axis (`None`: per layer).
    Weights(Option<usize>),
    /// Int32 bias quantized against the node's weights; the axis of its
    /// per-channel scale.
    Bias(usize),
    /// Symmetric per-layer int8 (PRelu slopes).
    Symmetric,
    /// Asymmetric per-tensor int8 (operands of element-wise ops etc.).
    Asymmetric,
}

struct Quantizer<'a> {
    src: &'a BuiltModel,
    cfg: &'a QuantConfig,
    out: Graph,
    consts: BTreeMap<TensorId, ConstData>,
    names: HashSet<String>,
    /// Old tensor -> new tensor in its original type.
    plain_of: HashMap<TensorId, TensorId>,
    /// Old float tensor -> new int8 tensor.
    int8_of: HashMap<TensorId, TensorId>,
    /// Old activations whose producer (or input) is int8.
    primary_int8: HashSet<TensorId>,
    /// Resolved int8 parameters per old tensor.
    params: HashMap<TensorId, (f32, i32)>,
    /// Old tensor -> nodes that read it.
    consumers: HashMap<TensorId, Vec<usize>>,
    /// Old tensors computed from a custom op without a fallback: they
    /// stay float.
    opaque: Vec<bool>,
}

impl<'a> Quantizer<'a> {
    fn new(src: &'a BuiltModel, cfg: &'a QuantConfig) -> Self {
        let mut consumers: HashMap<TensorId, Vec<usize>> = HashMap::new();
        for (i, n) in src.graph.nodes.iter().enumerate() {
            for &t in &n.inputs {
                consumers.entry(t).or_default().push(i);
            }
        }
        Quantizer {
            src,
            cfg,
            out: Graph::default(),
            consts: BTreeMap::new(),
            names: src.graph.tensors.iter().map(|t| t.name.clone()).collect(),
            plain_of: HashMap::new(),
            int8_of: HashMap::new(),
            primary_int8: HashSet::new(),
            params: HashMap::new(),
            consumers,
            opaque: uncomputable(&src.graph),
        }
    }

    fn info(&self, old: TensorId) -> &'a TensorInfo {
        &self.src.graph.tensors[old]
    }

    fn is_float_activation(&self, old: TensorId) -> bool {
        let t = self.info(old);
        t.dtype == DType::F32 && !t.is_weight()
    }

    fn run(&mut self) -> Result<(), BuildError> {
        let graph = &self.src.graph;
        for &x in &graph.inputs {
            let int8 = self.is_float_activation(x) && self.input_is_int8(x);
            let new = if int8 {
                let p = self.given_params(x)?;
                self.params.insert(x, p);
                self.primary_int8.insert(x);
                let id = self.add_int8(x, self.info(x).name.clone(), p);
                self.int8_of.insert(x, id);
                id
            } else {
                self.plain(x)
            };
            self.out.inputs.push(new);
        }
        for (i, node) in graph.nodes.iter().enumerate() {
            if self.node_is_int8(i) {
                self.int8_node(node)?;
            } else {
                self.float_node(node)?;
            }
        }
        for &o in &graph.outputs {
            let new = if self.primary_int8.contains(&o) {
                self.int8_of[&o]
            } else {
                self.plain(o)
            };
            self.out.outputs.push(new);
        }
        Ok(())
    }

    /// Parameters the caller gave for `old`.
    fn given_params(&self, old: TensorId) -> Result<(f32, i32), BuildError> {
        match self.cfg.activations.get(&old) {
            Some(q) => q.resolve().map_err(|e| {
                BuildError::Quantize(format!("tensor '{}': {e}", self.info(old).name))
            }),
            None => Err(BuildError::Quantize(format!(
                "no quantization parameters for activation '{}' (tensor id {old})",
                self.info(old).name
            ))),
        }
    }

    fn input_is_int8(&self, x: TensorId) -> bool {
        if self.opaque[x] {
            return false;
        }
        let consumers = self.consumers.get(&x).map(Vec::as_slice).unwrap_or(&[]);
        consumers.iter().any(|&n| {
            let node = &self.src.graph.nodes[n];
            match placement::rule(&node.op).int8 {
                Int8Support::Compute => self.compute_capable(node),
                Int8Support::FollowsInput => {
                    node.inputs.first() == Some(&x) && self.cfg.activations.contains_key(&x)
                }
                Int8Support::FloatOnly => false,
            }
        })
    }

    /// Int8 compute ops need constant weights (and a constant bias/C).
    fn compute_capable(&self, node: &Node) -> bool {
        let is_const = |i: usize| {
            node.inputs
                .get(i)
                .is_some_and(|&t| self.src.consts.contains_key(&t))
        };
        let absent_or_const = |i: usize| node.inputs.len() <= i || is_const(i);
        let float_in = node
            .inputs
            .first()
            .is_some_and(|&t| self.info(t).dtype == DType::F32);
        float_in
            && match node.op {
                Op::Conv { .. } | Op::ConvTranspose { .. } | Op::Gemm { .. } => {
                    is_const(1) && absent_or_const(2)
                }
                Op::PRelu => is_const(1),
                _ => node
                    .inputs
                    .iter()
                    .all(|&t| self.info(t).dtype == DType::F32),
            }
    }

    fn node_is_int8(&self, i: usize) -> bool {
        let node = &self.src.graph.nodes[i];
        if node.inputs.iter().any(|&t| self.opaque[t]) {
            return false;
        }
        match placement::rule(&node.op).int8 {
            Int8Support::Compute => self.compute_capable(node),
            Int8Support::FollowsInput => node
                .inputs
                .first()
                .is_some_and(|t| self.primary_int8.contains(t)),
            Int8Support::FloatOnly => false,
        }
    }

    fn fresh_name(&mut self, base: &str) -> String {
        builder::fresh_name(&mut self.names, base)
    }

    /// New-graph tensor for `old` in its original type (constants copied).
    fn plain(&mut self, old: TensorId) -> TensorId {
        if let Some(&id) = self.plain_of.get(&old) {
            return id;
        }
        let info = self.info(old).clone();
        let id = self.out.add_tensor(info);
        if let Some(data) = self.src.consts.get(&old) {
            self.consts.insert(id, data.clone());
        }
        self.plain_of.insert(old, id);
        id
    }

    fn add_int8(&mut self, old: TensorId, name: String, (scale, zp): (f32, i32)) -> TensorId {
        let src = self.info(old);
        let mut info = TensorInfo::activation(name, src.shape.clone(), DType::I8);
        info.layout = src.layout;
        info.quant = Some(Quant::per_tensor(scale, zp));
        self.out.add_tensor(info)
    }

    fn add_const(
        &mut self,
        old: TensorId,
        suffix: &str,
        data: ConstData,
        quant: Option<Quant>,
    ) -> TensorId {
        let src = self.info(old);
        let name = self.fresh_name(&format!("{}{suffix}", src.name));
        let mut info = TensorInfo::activation(name, src.shape.clone(), data.dtype());
        info.layout = src.layout;
        info.quant = quant;
        info.storage = Storage::Weight {
            offset: 0,
            len: (data.len() * data.dtype().size()) as u64,
        };
        let id = self.out.add_tensor(info);
        self.consts.insert(id, data);
        id
    }

    /// Float version of activation `old`, dequantizing when it is int8.
    fn float_input(&mut self, old: TensorId) -> TensorId {
        if !self.primary_int8.contains(&old) {
            return self.plain(old);
        }
        if let Some(&id) = self.plain_of.get(&old) {
            return id;
        }
        let name = self.fresh_name(&format!("{}_f32", self.info(old).name));
        let mut info = self.info(old).clone();
        info.name = name;
        let id = self.out.add_tensor(info);
        let node = self.fresh_name(&format!("{}_dequantize", self.info(old).name));
        self.out.add_node(Node {
            name: node,
            op: Op::Dequantize,
            inputs: vec![self.int8_of[&old]],
            outputs: vec![id],
            target: placement::target(&Op::Dequantize, Precision::F32),
        });
        self.plain_of.insert(old, id);
        id
    }

    /// Int8 version of float activation `old`, quantizing when needed.
    fn int8_input(&mut self, old: TensorId) -> Result<TensorId, BuildError> {
        if let Some(&id) = self.int8_of.get(&old) {
            return Ok(id);
        }
        let p = match self.params.get(&old) {
            Some(&p) => p,
            None => self.given_params(old)?,
        };
        self.params.insert(old, p);
        let f = self.plain(old);
        let name = self.fresh_name(&format!("{}_i8", self.info(old).name));
        let id = self.add_int8(old, name, p);
        let node = self.fresh_name(&format!("{}_quantize", self.info(old).name));
        self.out.add_node(Node {
            name: node,
            op: Op::Quantize,
            inputs: vec![f],
            outputs: vec![id],
            target: placement::target(&Op::Quantize, Precision::F32),
        });
        self.int8_of.insert(old, id);
        Ok(id)
    }

    fn float_node(&mut self, node: &Node) -> Result<(), BuildError> {
        let inputs = node
            .inputs
            .iter()
            .map(|&t| {
                if self.is_float_activation(t) {
                    self.float_input(t)
                } else {
                    self.plain(t)
                }
            })
            .collect();
        let outputs = node.outputs.iter().map(|&t| self.plain(t)).collect();
        self.out.add_node(Node {
            name: node.name.clone(),
            op: node.op.clone(),
            inputs,
            outputs,
            target: placement::target(&node.op, Precision::F32),
        });
        Ok(())
    }

    fn int8_node(&mut self, node: &Node) -> Result<(), BuildError> {
        let mut op = node.op.clone();
        let (weight_axis, bias_axis, alpha, beta) = self.weight_plan(node);
        let mut inputs = Vec::with_capacity(node.inputs.len());
        let mut weight_scales: Vec<f32> = Vec::new();
        for (slot, &t) in node.inputs.iter().enumerate() {
            let info = self.info(t);
            let new = if let Some(data) = self.src.consts.get(&t).and_then(ConstData::as_f32) {
                let role = match (&node.op, slot) {
                    (Op::Conv { .. } | Op::ConvTranspose { .. } | Op::Gemm { .. }, 1) => {
                        ConstRole::Weights(weight_axis)
                    }
                    (Op::MatMul, 1) if info.shape.len() >= 2 => ConstRole::Weights(weight_axis),
                    (Op::Conv { .. } | Op::ConvTranspose { .. } | Op::Gemm { .. }, 2) => {
                        ConstRole::Bias(bias_axis)
                    }
                    (Op::PRelu, 1) => ConstRole::Symmetric,
                    _ => ConstRole::Asymmetric,
                };
                let scale_by = match slot {
                    1 => alpha,
                    2 => beta,
                    _ => 1.0,
                };
                self.const_for_int8(node, t, data, scale_by, role, &mut weight_scales)?
            } else if self.is_float_activation(t) {
                self.int8_input(t)?
            } else {
                self.plain(t)
            };
            inputs.push(new);
        }
        if let Op::Gemm { alpha, beta, .. } = &mut op {
            *alpha = 1.0;
            *beta = 1.0;
        }
        let mut outputs = Vec::with_capacity(node.outputs.len());
        for &o in &node.outputs {
            if self.info(o).dtype != DType::F32 {
                outputs.push(self.plain(o));
                continue;
            }
            let p = self.output_params(node, o)?;
            self.params.insert(o, p);
            let id = self.add_int8(o, self.info(o).name.clone(), p);
            self.int8_of.insert(o, id);
            self.primary_int8.insert(o);
            outputs.push(id);
        }
        self.out.add_node(Node {
            name: node.name.clone(),
            target: placement::target(&op, Precision::Int8),
            op,
            inputs,
            outputs,
        });
        Ok(())
    }

    /// Weight axis (None: per layer), bias scale axis and the Gemm
    /// alpha/beta to fold into B and C.
    fn weight_plan(&self, node: &Node) -> (Option<usize>, usize, f32, f32) {
        let per_channel = self.cfg.weights == WeightGranularity::PerChannel;
        let rank_of = |slot: usize| {
            node.inputs
                .get(slot)
                .map(|&t| self.info(t).shape.len())
                .unwrap_or(0)
        };
        match node.op {
            Op::Conv { .. } => (per_channel.then_some(0), 0, 1.0, 1.0),
            Op::ConvTranspose { group, .. } => {
                (per_channel.then_some(1).filter(|_| group == 1), 0, 1.0, 1.0)
            }
            Op::Gemm {
                alpha,
                beta,
                trans_b,
                ..
            } => {
                let n_axis = if trans_b { 0 } else { 1 };
                let n = node
                    .inputs
                    .get(1)
                    .map(|&t| self.info(t).shape.get(n_axis).copied().unwrap_or(0))
                    .unwrap_or(0);
                let c_shape = node.inputs.get(2).map(|&t| self.info(t).shape.clone());
                let (c_ok, bias_axis) = match c_shape.as_deref() {
                    None => (true, 0),
                    Some([m]) if *m == n => (true, 0),
                    Some([1, m]) if *m == n => (true, 1),
                    Some(_) => (false, 0),
                };
                let axis = (per_channel && c_ok).then_some(n_axis);
                (axis, bias_axis, alpha, beta)
            }
            Op::MatMul => {
                let r = rank_of(1);
                (per_channel.then_some(r.saturating_sub(1)), 0, 1.0, 1.0)
            }
            _ => (None, 0, 1.0, 1.0),
        }
    }

    fn const_for_int8(
        &mut self,
        node: &Node,
        old: TensorId,
        data: &[f32],
        scale_by: f32,
        role: ConstRole,
        weight_scales: &mut Vec<f32>,
    ) -> Result<TensorId, BuildError> {
        let scaled: Vec<f32>;
        let data = if scale_by != 1.0 {
            scaled = data.iter().map(|&v| v * scale_by).collect();
            &scaled[..]
        } else {
            data
        };
        let shape = self.info(old).shape.clone();
        Ok(match role {
            ConstRole::Weights(axis) => {
                let (q, scales) = quantize_symmetric(data, &shape, axis);
                let quant = match axis {
                    Some(a) => Quant::per_channel(scales.clone(), vec![0; scales.len()], a as u32),
                    None => Quant::per_tensor(scales[0], 0),
                };
                *weight_scales = scales;
                self.add_const(old, "_i8", ConstData::I8(q), Some(quant))
            }
            ConstRole::Bias(axis) => {
                let x = node.inputs[0];
                let sx = self.params.get(&x).map(|p| p.0).ok_or_else(|| {
                    BuildError::Quantize(format!(
                        "{}: input '{}' has no int8 parameters",
                        node.name,
                        self.info(x).name
                    ))
                })?;
                let (q, scales) = quantize_bias(data, sx, weight_scales);
                let quant = if scales.len() == 1 {
                    Quant::per_tensor(scales[0], 0)
                } else {
                    Quant::per_channel(scales.clone(), vec![0; scales.len()], axis as u32)
                };
                self.add_const(old, "_i32", ConstData::I32(q), Some(quant))
            }
            ConstRole::Symmetric => {
                let (q, scales) = quantize_symmetric(data, &shape, None);
                self.add_const(
                    old,
                    "_i8",
                    ConstData::I8(q),
                    Some(Quant::per_tensor(scales[0], 0)),
                )
            }
            ConstRole::Asymmetric => {
                let (scale, zp) = match self.cfg.activations.get(&old) {
                    Some(q) => q.resolve()?,
                    None => {
                        let min = data.iter().copied().fold(f32::INFINITY, f32::min);
                        let max = data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        params_from_range(min.min(0.0), max.max(0.0))
                    }
                };
                let q = quantize_asymmetric(data, scale, zp);
                self.add_const(
                    old,
                    "_i8",
                    ConstData::I8(q),
                    Some(Quant::per_tensor(scale, zp)),
                )
            }
        })
    }

    /// Given parameters for output `o`, or the input's for ops that only
    /// move or select values.
    fn output_params(&self, node: &Node, o: TensorId) -> Result<(f32, i32), BuildError> {
        if self.cfg.activations.contains_key(&o) {
            return self.given_params(o);
        }
        let inherits = match &node.op {
            Op::MaxPool { .. }
            | Op::GlobalMaxPool
            | Op::Reshape
            | Op::Transpose { .. }
            | Op::Slice { .. }
            | Op::Split { .. }
            | Op::Pad { .. }
            | Op::Gather { .. } => true,
            Op::Reduce { op, .. } => *op == ReduceOp::Max,
            Op::Resize { mode, .. } => *mode == ResizeMode::Nearest,
            Op::Concat { .. } => {
                let first = node.inputs.first().and_then(|t| self.params.get(t));
                first.is_some() && node.inputs.iter().all(|t| self.params.get(t) == first)
            }
            _ => false,
        };
        match node.inputs.first().and_then(|t| self.params.get(t)) {
            Some(&p) if inherits => Ok(p),
            _ => self.given_params(o),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::ModelBuilder;
    use rknnrt::graph::{Activation, Target, Window};
    use rknnrt::platform::Platform;

    /// conv(relu) -> maxpool -> reshape -> gemm -> softmax, built through
    /// the escape hatch so these tests do not depend on shape inference.
    struct Net {
        model: BuiltModel,
        x: TensorId,
        conv: TensorId,
        pool: TensorId,
        flat: TensorId,
        fc: TensorId,
        prob: TensorId,
        w: Vec<f32>,
        bias: Vec<f32>,
        fc_w: Vec<f32>,
        fc_b: Vec<f32>,
    }

    fn net() -> Net {
        let mut b = ModelBuilder::new(Platform::Rk3588);
        let x = b.input("x", &[1, 2, 4, 4]).unwrap();
        let w: Vec<f32> = (0..3 * 2 * 3 * 3)
            .map(|i| ((i * 7) % 11) as f32 / 10.0 - 0.5)
            .collect();
        let bias = vec![0.1, -0.2, 0.05];
        let wt = b
            .constant("w", &[3, 2, 3, 3], ConstData::F32(w.clone()))
            .unwrap();
        let bt = b.constant("b", &[3], ConstData::F32(bias.clone())).unwrap();
        let conv_op = Op::Conv {
            window: Window {
                kernel: [3, 3],
                stride: [1, 1],
                pads: [1, 1, 1, 1],
                dilation: [1, 1],
            },
            group: 1,
            activation: Some(Activation::Relu),
        };
        let conv = b
            .node(conv_op, &[x, wt, bt], &[vec![1, 3, 4, 4]], DType::F32)
            .unwrap()[0];
        let pool_op = Op::MaxPool {
            window: Window {
                kernel: [2, 2],
                stride: [2, 2],
                pads: [0; 4],
                dilation: [1, 1],
            },
            ceil_mode: false,
        };
        let pool = b
            .node(pool_op, &[conv], &[vec![1, 3, 2, 2]], DType::F32)
            .unwrap()[0];
        let flat = b.reshape(pool, &[1, -1]).unwrap();
        let fc_w: Vec<f32> = (0..5 * 12)
            .map(|i| ((i * 5) % 13) as f32 / 13.0 - 0.4)
            .collect();
        let fc_b: Vec<f32> = vec![0.3, -0.1, 0.0, 0.2, -0.25];
        let fw = b
            .constant("fc_w", &[5, 12], ConstData::F32(fc_w.clone()))
            .unwrap();
        let fb = b
            .constant("fc_b", &[5], ConstData::F32(fc_b.clone()))
            .unwrap();
        let gemm = Op::Gemm {
            alpha: 2.0,
            beta: 0.5,
            trans_a: false,
            trans_b: true,
            activation: None,
        };
        let fc = b
            .node(gemm, &[flat, fw, fb], &[vec![1, 5]], DType::F32)
            .unwrap()[0];
        let prob = b
            .node(Op::Softmax { axis: 1 }, &[fc], &[vec![1, 5]], DType::F32)
            .unwrap()[0];
        b.set_name(prob, "prob").unwrap();
        b.output(prob).unwrap();
        b.mean_std(x, &[127.5], &[127.5]).unwrap();
        Net {
            model: b.build().unwrap(),
            x,
            conv,
            pool,
            flat,
            fc,
            prob,
            w,
            bias,
            fc_w,
            fc_b,
        }
    }

    fn node<'g>(g: &'g Graph, op_name: &str) -> &'g Node {
        g.nodes
            .iter()
            .find(|n| n.op.type_name() == op_name)
            .unwrap_or_else(|| panic!("no {op_name} node"))
    }

    fn const_of(m: &BuiltModel, id: TensorId) -> &ConstData {
        m.consts.get(&id).expect("constant data")
    }

    #[test]
    fn ranges_give_asymmetric_params() {
        let (s, zp) = params_from_range(-1.0, 1.0);
        assert_eq!(s, 2.0 / 255.0);
        assert_eq!(zp, quant::round(-128.0 + 1.0 / s) as i32);
        assert_eq!(params_from_range(0.0, 6.0), (6.0 / 255.0, -128));
        assert_eq!(params_from_range(1.0, 2.0), (2.0 / 255.0, -128));
        assert_eq!(params_from_range(-4.0, -1.0), (4.0 / 255.0, 127));
        assert_eq!(params_from_range(0.0, 0.0), (1.0, -128));
        assert!(ActQuant::Range { min: 1.0, max: 0.0 }.resolve().is_err());
        assert!(ActQuant::Params {
            scale: 0.0,
            zero_point: 0
        }
        .resolve()
        .is_err());
        assert!(ActQuant::Params {
            scale: 1.0,
            zero_point: 128
        }
        .resolve()
        .is_err());
    }

    #[test]
    fn symmetric_weights_per_channel_and_per_layer() {
        let w = [1.0, -2.0, 0.5, 0.25, 0.0, 0.0];
        let (q, s) = quantize_symmetric(&w, &[3, 2], Some(0));
        assert_eq!(s, vec![2.0 / 127.0, 0.5 / 127.0, 1.0]);
        assert_eq!(q, vec![64, -127, 127, 64, 0, 0]);
        let (q, s) = quantize_symmetric(&w, &[3, 2], None);
        assert_eq!(s, vec![2.0 / 127.0]);
        assert_eq!(q, vec![64, -127, 32, 16, 0, 0]);
        let (q, s) = quantize_symmetric(&w, &[3, 2], Some(1));
        assert_eq!(s, vec![1.0 / 127.0, 2.0 / 127.0]);
        assert_eq!(q[0], 127);
        assert_eq!(q[1], -127);
        let (b, bs) = quantize_bias(&[0.5, -1.0], 0.1, &[0.5, 0.25]);
        assert_eq!(bs, vec![0.1 * 0.5, 0.1 * 0.25]);
        assert_eq!(b, vec![10, -40]);
        let (b, _) = quantize_bias(&[1e30], 1e-10, &[1.0]);
        assert_eq!(b, vec![i32::MAX]);
    }

    #[test]
    fn int8_cnn_follows_the_rules() {
        let n = net();
        let cfg = QuantConfig::new()
            .range(n.x, -1.0, 1.0)
            .params(n.conv, 0.05, -128)
            .params(n.fc, 0.1, 3)
            .range(n.prob, 0.0, 1.0);
        let q = quantize_int8(&n.model, &cfg).unwrap();
        let g = &q.graph;
        let t = |id: TensorId| &g.tensors[id];

        // Input: int8 with the range's parameters, same name, preprocess kept.
        let (sx, zx) = params_from_range(-1.0, 1.0);
        let input = t(g.inputs[0]);
        assert_eq!(input.name, "x");
        assert_eq!(input.dtype, DType::I8);
        assert_eq!(input.quant, Some(Quant::per_tensor(sx, zx)));
        assert_eq!(q.preprocess, n.model.preprocess);

        // Conv: per-channel symmetric weights, int32 bias with sx * sw.
        let conv = node(g, "Conv");
        assert_eq!(conv.target, Target::Npu);
        let w = t(conv.inputs[1]);
        assert_eq!(w.dtype, DType::I8);
        let (qw, sw) = quantize_symmetric(&n.w, &[3, 2, 3, 3], Some(0));
        for (chunk, &scale) in n.w.chunks(18).zip(&sw) {
            let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert_eq!(scale, amax / 127.0);
        }
        assert_eq!(w.quant, Some(Quant::per_channel(sw.clone(), vec![0; 3], 0)));
        assert_eq!(const_of(&q, conv.inputs[1]), &ConstData::I8(qw.clone()));
        for (i, &v) in n.w.iter().enumerate() {
            let expect = quant::round(v * (1.0 / sw[i / 18])).clamp(-128.0, 127.0) as i8;
            assert_eq!(qw[i], expect);
        }
        let bias = t(conv.inputs[2]);
        assert_eq!(bias.dtype, DType::I32);
        let bs: Vec<f32> = sw.iter().map(|s| sx * s).collect();
        assert_eq!(
            bias.quant,
            Some(Quant::per_channel(bs.clone(), vec![0; 3], 0))
        );
        let qb: Vec<i32> = n
            .bias
            .iter()
            .zip(&bs)
            .map(|(b, s)| quant::round(b / s) as i32)
            .collect();
        assert_eq!(const_of(&q, conv.inputs[2]), &ConstData::I32(qb));
        assert_eq!(
            t(conv.outputs[0]).quant,
            Some(Quant::per_tensor(0.05, -128))
        );

        // MaxPool and Reshape inherit the conv output's parameters.
        let pool = node(g, "MaxPool");
        assert_eq!(
            t(pool.outputs[0]).quant,
            Some(Quant::per_tensor(0.05, -128))
        );
        assert_eq!(t(pool.outputs[0]).name, n.model.graph.tensors[n.pool].name);
        let reshape = node(g, "Reshape");
        assert_eq!(t(reshape.outputs[0]).dtype, DType::I8);
        assert_eq!(
            t(reshape.outputs[0]).name,
            n.model.graph.tensors[n.flat].name
        );

        // Gemm: alpha and beta folded, per-channel along N (axis 0 of B^T).
        let gemm = node(g, "Gemm");
        assert!(matches!(gemm.op, Op::Gemm { alpha, beta, .. } if alpha == 1.0 && beta == 1.0));
        let scaled: Vec<f32> = n.fc_w.iter().map(|v| v * 2.0).collect();
        let (qf, sf) = quantize_symmetric(&scaled, &[5, 12], Some(0));
        assert_eq!(const_of(&q, gemm.inputs[1]), &ConstData::I8(qf));
        assert_eq!(t(gemm.inputs[1]).quant.as_ref().unwrap().axis, 0);
        let sflat = 0.05;
        let fb: Vec<f32> = n.fc_b.iter().map(|v| v * 0.5).collect();
        let (qfb, _) = quantize_bias(&fb, sflat, &sf);
        assert_eq!(const_of(&q, gemm.inputs[2]), &ConstData::I32(qfb));

        // Softmax stays float behind a Dequantize; the output is float.
        let deq = node(g, "DequantizeLinear");
        assert_eq!(deq.inputs, gemm.outputs);
        assert_eq!(deq.target, Target::Cpu);
        let softmax = node(g, "Softmax");
        assert_eq!(softmax.inputs, deq.outputs);
        assert_eq!(softmax.target, Target::Cpu);
        let out = t(g.outputs[0]);
        assert_eq!(out.name, "prob");
        assert_eq!(out.dtype, DType::F32);
        assert!(out.quant.is_none());
        assert!(q.to_meta().is_ok());
    }

    #[test]
    fn per_layer_weights_use_one_scale() {
        let n = net();
        let cfg = QuantConfig::new()
            .range(n.x, -1.0, 1.0)
            .params(n.conv, 0.05, -128)
            .params(n.fc, 0.1, 3)
            .per_layer();
        let q = quantize_int8(&n.model, &cfg).unwrap();
        let conv = node(&q.graph, "Conv");
        let amax = n.w.iter().fold(0f32, |m, v| m.max(v.abs()));
        let w = &q.graph.tensors[conv.inputs[1]];
        assert_eq!(w.quant, Some(Quant::per_tensor(amax / 127.0, 0)));
        let b = &q.graph.tensors[conv.inputs[2]];
        let (sx, _) = params_from_range(-1.0, 1.0);
        assert_eq!(b.quant, Some(Quant::per_tensor(sx * (amax / 127.0), 0)));
    }

    #[test]
    fn missing_parameters_name_the_tensor() {
        let n = net();
        let cfg = QuantConfig::new()
            .range(n.x, -1.0, 1.0)
            .params(n.conv, 0.05, -128);
        let err = quantize_int8(&n.model, &cfg).unwrap_err().to_string();
        let fc_name = &n.model.graph.tensors[n.fc].name;
        assert!(err.contains(fc_name.as_str()), "{err}");
    }

    #[test]
    fn float_only_producer_feeding_int8_gets_a_quantize() {
        let mut b = ModelBuilder::new(Platform::Rk3576);
        let x = b.input("x", &[1, 4]).unwrap();
        let s = b
            .node(Op::Softmax { axis: 1 }, &[x], &[vec![1, 4]], DType::F32)
            .unwrap()[0];
        let relu = Op::Unary {
            act: Activation::Relu,
        };
        let r = b.node(relu, &[s], &[vec![1, 4]], DType::F32).unwrap()[0];
        b.output(r).unwrap();
        let m = b.build().unwrap();
        let cfg = QuantConfig::new().range(s, 0.0, 1.0).params(r, 0.01, 0);
        let q = quantize_int8(&m, &cfg).unwrap();
        let g = &q.graph;
        assert_eq!(
            g.tensors[g.inputs[0]].dtype,
            DType::F32,
            "softmax input stays float"
        );
        let quantize = node(g, "QuantizeLinear");
        assert_eq!(
            g.tensors[quantize.outputs[0]].quant,
            Some(Quant::per_tensor(1.0 / 255.0, -128))
        );
        let relu = node(g, "Relu");
        assert_eq!(relu.inputs, quantize.outputs);
        assert_eq!(relu.target, Target::Npu);
        assert_eq!(g.tensors[g.outputs[0]].dtype, DType::I8);
        let order: Vec<&str> = g.nodes.iter().map(|n| n.op.type_name()).collect();
        assert_eq!(order, vec!["Softmax", "QuantizeLinear", "Relu"]);
    }

    #[test]
    fn fp16_converts_everything_float() {
        let n = net();
        let h = to_fp16(&n.model).unwrap();
        assert!(h
            .graph
            .tensors
            .iter()
            .all(|t| t.dtype == DType::F16 || t.dtype == DType::I64));
        assert!(h.consts.values().all(|c| c.dtype() == DType::F16));
        assert_eq!(node(&h.graph, "Conv").target, Target::Npu);
        assert_eq!(node(&h.graph, "Softmax").target, Target::Cpu);
        let conv = node(&h.graph, "Conv");
        assert_eq!(
            h.consts[&conv.inputs[2]],
            ConstData::F16(n.bias.iter().map(|&v| f16::from_f32(v)).collect())
        );
        assert!(h.to_meta().is_ok());
        assert!(
            quantize_int8(&h, &QuantConfig::new()).is_err(),
            "fp16 is not a float32 model"
        );
    }
}
