//! Calibration: runs the float model on every calibration sample, collects
//! statistics of every float activation tensor and chooses the int8 range
//! of each with the vendor's `quantized_algorithm`:
//!
//! * `normal`: the smallest and largest value seen (one pass);
//! * `kl_divergence`: the TensorRT-style KL threshold search on a
//!   2048-bin histogram of `|x|` ([`kl`]; two passes: range, histogram);
//! * `mmse`: the clipping range minimising the quantization MSE on a
//!   2048-bin histogram of `x` ([`mmse`]; two passes).
//!
//! The ranges go into a [`QuantConfig`] for [`crate::quantize::quantize_int8`]
//! together with the weight granularity (`quantized_method`: `layer` or
//! `channel`). Outputs of ops that only move or select values (MaxPool,
//! GlobalMaxPool, ReduceMax, Reshape, Transpose, Slice, Split, Pad,
//! Gather, nearest Resize) get no range of their own: they inherit their
//! input's parameters, as the quantizer documents. Custom ops run their
//! built-in fallback; tensors that depend on a custom op without one are
//! not calibrated (the quantizer keeps them float).

pub mod interp;
pub mod kl;
pub mod mmse;
mod progress;
pub mod stats;

use std::collections::BTreeMap;
use std::str::FromStr;

use rknnrt::graph::{DType, Op, ReduceOp, ResizeMode, TensorId};

use crate::error::BuildError;
use crate::model::BuiltModel;
use crate::quantize::{QuantConfig, WeightGranularity};
use interp::{Program, TensorBuf};
use stats::{Histogram, MinMax};

/// How activation ranges are chosen (`quantized_algorithm`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Algorithm {
    /// Min/max of the calibration data.
    #[default]
    Normal,
    /// KL-divergence threshold search.
    KlDivergence,
    /// Minimum quantization MSE.
    Mmse,
}

impl Algorithm {
    /// The vendor name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Normal => "normal",
            Algorithm::KlDivergence => "kl_divergence",
            Algorithm::Mmse => "mmse",
        }
    }
}

impl FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "normal" => Ok(Algorithm::Normal),
            "kl_divergence" => Ok(Algorithm::KlDivergence),
            "mmse" => Ok(Algorithm::Mmse),
            other => Err(format!(
                "unknown quantized_algorithm '{other}' (normal, kl_divergence or mmse)"
            )),
        }
    }
}

/// The vendor `quantized_method` name of `w`.
pub fn method_name(w: WeightGranularity) -> &'static str {
    match w {
        WeightGranularity::PerChannel => "channel",
        WeightGranularity::PerLayer => "layer",
    }
}

/// Parses a vendor `quantized_method` (`layer` or `channel`).
pub fn parse_method(s: &str) -> Result<WeightGranularity, String> {
    match s {
        "channel" => Ok(WeightGranularity::PerChannel),
        "layer" => Ok(WeightGranularity::PerLayer),
        other => Err(format!(
            "unknown quantized_method '{other}' (layer or channel)"
        )),
    }
}

/// Calibration settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalibOptions {
    /// Range algorithm.
    pub algorithm: Algorithm,
    /// Weight granularity.
    pub weights: WeightGranularity,
    /// Show progress bars (only drawn when stderr is a terminal).
    pub progress: bool,
}

impl Default for CalibOptions {
    fn default() -> Self {
        CalibOptions {
            algorithm: Algorithm::Normal,
            weights: WeightGranularity::PerChannel,
            progress: true,
        }
    }
}

/// Calibration samples: for each sample, one f32 buffer per graph input,
/// holding the values the graph input receives (pre-processing applied).
pub trait Samples {
    /// Number of samples.
    fn count(&self) -> usize;
    /// Sample `i`.
    fn sample(&self, i: usize) -> Result<Vec<Vec<f32>>, BuildError>;
}

impl Samples for Vec<Vec<Vec<f32>>> {
    fn count(&self) -> usize {
        self.len()
    }
    fn sample(&self, i: usize) -> Result<Vec<Vec<f32>>, BuildError> {
        self.get(i)
            .cloned()
            .ok_or_else(|| BuildError::Data(format!("no calibration sample {i}")))
    }
}

/// What calibration found.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// Observed min/max per float activation tensor.
    pub observed: BTreeMap<TensorId, (f32, f32)>,
    /// Chosen range per tensor that needs its own parameters.
    pub ranges: BTreeMap<TensorId, (f32, f32)>,
    /// Weight granularity to quantize with.
    pub weights: WeightGranularity,
}

impl Calibration {
    /// The quantizer configuration.
    pub fn config(&self) -> QuantConfig {
        let mut cfg = QuantConfig::new();
        for (&t, &(lo, hi)) in &self.ranges {
            cfg = cfg.range(t, lo, hi);
        }
        cfg.weights = self.weights;
        cfg
    }
}

/// True when `op`'s output takes its input's parameters.
fn inherits(op: &Op) -> bool {
    match op {
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
        _ => false,
    }
}

/// Float activation tensors of `model` (model inputs and node outputs).
fn tracked(model: &BuiltModel) -> Vec<bool> {
    model
        .graph
        .tensors
        .iter()
        .map(|t| t.dtype == DType::F32 && !t.is_weight())
        .collect()
}

fn inputs_of(model: &BuiltModel, values: Vec<Vec<f32>>) -> Result<Vec<TensorBuf>, BuildError> {
    let g = &model.graph;
    if values.len() != g.inputs.len() {
        return Err(BuildError::Data(format!(
            "a sample has {} inputs, the model {}",
            values.len(),
            g.inputs.len()
        )));
    }
    g.inputs
        .iter()
        .zip(values)
        .map(|(&t, v)| interp::from_f32(&g.tensors[t], &v))
        .collect()
}

fn f32s(buf: &TensorBuf) -> &[f32] {
    bytemuck::cast_slice(buf.bytes())
}

/// Runs the float model over `samples`, calling `visit` with every tracked
/// tensor's values.
fn sweep(
    model: &BuiltModel,
    program: &Program,
    samples: &dyn Samples,
    bar: &progress::Bar,
    visit: &mut dyn FnMut(TensorId, &[f32]),
) -> Result<(), BuildError> {
    let track = tracked(model);
    for i in 0..samples.count() {
        let inputs = inputs_of(model, samples.sample(i)?)?;
        program.run_partial(inputs, &mut |t, buf| {
            if track[t] {
                visit(t, f32s(buf));
            }
            Ok(())
        })?;
        bar.inc();
    }
    bar.finish();
    Ok(())
}

/// Calibrates the float `model` on `samples`.
pub fn calibrate(
    model: &BuiltModel,
    samples: &dyn Samples,
    opts: &CalibOptions,
) -> Result<Calibration, BuildError> {
    let n = samples.count();
    if n == 0 {
        return Err(BuildError::Data(
            "the calibration dataset has no samples".into(),
        ));
    }
    let program = Program::from_built(model);
    let two_pass = opts.algorithm != Algorithm::Normal;
    let passes = if two_pass { 2 } else { 1 };

    let mut minmax: BTreeMap<TensorId, MinMax> = BTreeMap::new();
    let bar = progress::Bar::new(opts.progress, n, &format!("calibrating 1/{passes}: ranges"));
    sweep(model, &program, samples, &bar, &mut |t, v| {
        minmax.entry(t).or_default().update(v)
    })?;

    let mut hists: BTreeMap<TensorId, Histogram> = BTreeMap::new();
    if two_pass {
        let kl = opts.algorithm == Algorithm::KlDivergence;
        for (&t, m) in &minmax {
            if m.is_set() {
                let h = if kl {
                    Histogram::new(0.0, m.abs_max())
                } else {
                    Histogram::new(m.min, m.max)
                };
                hists.insert(t, h);
            }
        }
        let label = format!("calibrating 2/2: {} histograms", opts.algorithm.name());
        let bar = progress::Bar::new(opts.progress, n, &label);
        sweep(model, &program, samples, &bar, &mut |t, v| {
            if let Some(h) = hists.get_mut(&t) {
                if kl {
                    h.add_abs(v);
                } else {
                    h.add(v);
                }
            }
        })?;
    }

    let skip: Vec<bool> = {
        let mut skip = vec![false; model.graph.tensors.len()];
        for node in &model.graph.nodes {
            let float_in = node
                .inputs
                .first()
                .is_some_and(|&t| minmax.contains_key(&t));
            if inherits(&node.op) && float_in {
                for &o in &node.outputs {
                    skip[o] = true;
                }
            }
        }
        skip
    };
    let mut observed = BTreeMap::new();
    let mut ranges = BTreeMap::new();
    for (&t, m) in &minmax {
        let seen = if m.is_set() {
            (m.min, m.max)
        } else {
            (0.0, 0.0)
        };
        observed.insert(t, seen);
        if skip[t] {
            continue;
        }
        let range = match (opts.algorithm, hists.get(&t)) {
            (Algorithm::Normal, _) | (_, None) => seen,
            (Algorithm::KlDivergence, Some(h)) => {
                let one_sided = m.min >= 0.0 || m.max <= 0.0;
                let levels = if one_sided { 255 } else { 128 };
                let th = kl::threshold(h, levels) as f32;
                (m.min.max(-th), m.max.min(th))
            }
            (Algorithm::Mmse, Some(h)) => mmse::range(h),
        };
        ranges.insert(t, range);
    }
    Ok(Calibration {
        observed,
        ranges,
        weights: opts.weights,
    })
}

/// Calibrates `model` on `samples` and quantizes it to int8.
pub fn quantize(
    model: &BuiltModel,
    samples: &dyn Samples,
    opts: &CalibOptions,
) -> Result<BuiltModel, BuildError> {
    let cal = calibrate(model, samples, opts)?;
    crate::quantize::quantize_int8(model, &cal.config())
}
