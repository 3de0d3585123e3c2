//! The conversion pipeline shared by `rknn-convert build` and the yml
//! mode: ONNX import → mean/std → graph passes → fp16 or calibrated int8 →
//! `.rknn` bytes and the summary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use rknnrt::model::InputPreprocess;
use rknnrt::platform::Platform;

use crate::calibrate::{self, Algorithm, CalibOptions};
use crate::dataset::{Dataset, ImageOptions};
use crate::dynamic::DynamicInput;
use crate::error::BuildError;
use crate::model::BuiltModel;
use crate::onnx::{self, CustomRule, ImportOptions};
use crate::passes::{self, PassReport};
use crate::quantize::{self, QuantConfig, WeightGranularity};

/// Output precision.
#[derive(Clone, Debug, PartialEq)]
pub enum Precision {
    /// fp16 everywhere (`do_quantization: false`).
    Fp16,
    /// Asymmetric int8 calibrated on a dataset.
    Int8 {
        /// The `dataset.txt`.
        dataset: PathBuf,
        /// Range algorithm.
        algorithm: Algorithm,
        /// Weight granularity.
        method: WeightGranularity,
        /// Swap R and B of calibration images.
        rgb2bgr: bool,
    },
}

/// Everything one conversion needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The ONNX file.
    pub model: PathBuf,
    /// Target platform.
    pub platform: Platform,
    /// Shapes for inputs, by name.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
    /// Inputs to cut the graph at (empty: all).
    pub inputs: Vec<String>,
    /// Outputs to cut the graph at (empty: all).
    pub outputs: Vec<String>,
    /// Means: empty, one list for every input, or one list per input.
    pub mean: Vec<Vec<f32>>,
    /// Standard deviations, like `mean`.
    pub std: Vec<Vec<f32>>,
    /// Precision.
    pub precision: Precision,
    /// `RKNN_QUERY_CUSTOM_STRING`.
    pub custom_string: String,
    /// `rknn_batch_size`: batches per run (inputs and outputs with batch
    /// dimension 1 become this many times larger).
    pub batch_size: u32,
    /// Output rules of custom ops, by op type (`docs/custom_ops.md`).
    pub custom_ops: BTreeMap<String, CustomRule>,
    /// Show progress bars.
    pub progress: bool,
    /// Input shape sets of a dynamic-shape model (vendor `dynamic_input`);
    /// empty for a static model.
    pub dynamic_input: DynamicInput,
}

impl Plan {
    /// A plan for `model` on `platform` at `precision` with every other
    /// setting at its default: all inputs and outputs at the model's
    /// shapes, no mean/std, one batch, no custom ops, static shapes, no
    /// progress bars.
    pub fn new(model: PathBuf, platform: Platform, precision: Precision) -> Plan {
        Plan {
            model,
            platform,
            input_shapes: BTreeMap::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            mean: Vec::new(),
            std: Vec::new(),
            precision,
            custom_string: String::new(),
            batch_size: 1,
            custom_ops: BTreeMap::new(),
            progress: false,
            dynamic_input: Vec::new(),
        }
    }
}

impl Precision {
    /// Int8 calibrated on `dataset` with the defaults: the normal
    /// (min/max) algorithm, per-channel weights, no R/B swap.
    pub fn int8(dataset: PathBuf) -> Precision {
        Precision::Int8 {
            dataset,
            algorithm: Algorithm::Normal,
            method: WeightGranularity::PerChannel,
            rgb2bgr: false,
        }
    }
}

/// The result of a conversion.
#[derive(Debug)]
pub struct Outcome {
    /// The converted model.
    pub model: BuiltModel,
    /// Its `.rknn` bytes.
    pub bytes: Vec<u8>,
    /// What the passes changed.
    pub passes: PassReport,
    /// Seconds the conversion took.
    pub seconds: f64,
}

/// Sets the pre-processing of `model`'s inputs from `mean` / `std`.
pub fn apply_mean_std(
    model: &mut BuiltModel,
    mean: &[Vec<f32>],
    std: &[Vec<f32>],
) -> Result<(), BuildError> {
    let n = model.graph.inputs.len();
    let pick = |lists: &[Vec<f32>], i: usize, what: &str| -> Result<Vec<f32>, BuildError> {
        match lists.len() {
            0 => Ok(Vec::new()),
            1 => Ok(lists[0].clone()),
            k if k == n => Ok(lists[i].clone()),
            k => Err(BuildError::Config(format!(
                "{k} {what} lists for a model with {n} input(s) (give one, or one per input)"
            ))),
        }
    };
    model.preprocess.resize(n, InputPreprocess::default());
    for i in 0..n {
        let info = &model.graph.tensors[model.graph.inputs[i]];
        let (m, s) = (pick(mean, i, "mean")?, pick(std, i, "std")?);
        let channels = if info.shape.len() == 4 {
            info.shape[1]
        } else {
            0
        };
        for (what, v) in [("mean", &m), ("std", &s)] {
            if !(v.is_empty() || v.len() == 1 || v.len() == channels) {
                return Err(BuildError::Config(format!(
                    "{} {what} values for input '{}' of shape {:?} (give 1 or one per channel)",
                    v.len(),
                    info.name,
                    info.shape
                )));
            }
        }
        if let Some(z) = s.iter().find(|&&v| v == 0.0 || !v.is_finite()) {
            return Err(BuildError::Config(format!(
                "std value {z} for input '{}' (must be finite and non-zero)",
                info.name
            )));
        }
        model.preprocess[i] = InputPreprocess { mean: m, std: s };
    }
    Ok(())
}

/// [`onnx::import`] with the file named in the error.
pub fn import(path: &std::path::Path, opts: &ImportOptions) -> Result<BuiltModel, BuildError> {
    onnx::import(path, opts).map_err(|e| {
        let msg = e.to_string();
        let shown = path.display().to_string();
        if msg.contains(&shown) {
            e
        } else {
            BuildError::Data(format!("{shown}: {msg}"))
        }
    })
}

/// Imports and optimizes the float model of `plan` (mean/std applied).
pub fn float_model(plan: &Plan) -> Result<(BuiltModel, PassReport), BuildError> {
    let opts = ImportOptions {
        platform: plan.platform,
        input_shapes: plan.input_shapes.clone(),
        inputs: plan.inputs.clone(),
        outputs: plan.outputs.clone(),
        custom_ops: plan.custom_ops.clone(),
    };
    let mut model = import(&plan.model, &opts)?;
    apply_mean_std(&mut model, &plan.mean, &plan.std)?;
    passes::optimize(model)
}

/// Fails unless `plan`'s custom string fits `RKNN_QUERY_CUSTOM_STRING`.
pub fn check_custom_string(plan: &Plan) -> Result<(), BuildError> {
    if plan.custom_string.len() > 1023 || plan.custom_string.contains('\0') {
        return Err(BuildError::Config(format!(
            "custom string of {} bytes (at most 1023, no NUL)",
            plan.custom_string.len()
        )));
    }
    Ok(())
}

/// The int8 configuration of `plan` calibrated on `float` (its dataset
/// through the float model), or `None` for fp16.
pub(super) fn calibration(
    plan: &Plan,
    float: &BuiltModel,
) -> Result<Option<QuantConfig>, BuildError> {
    let Precision::Int8 {
        dataset,
        algorithm,
        method,
        rgb2bgr,
    } = &plan.precision
    else {
        return Ok(None);
    };
    let ds = Dataset::open(dataset)?;
    let samples = ds.samples(float, ImageOptions { rgb2bgr: *rgb2bgr })?;
    let opts = CalibOptions {
        algorithm: *algorithm,
        weights: *method,
        progress: plan.progress,
    };
    Ok(Some(calibrate::calibrate(float, &samples, &opts)?.config()))
}

/// `float` lowered to int8 with `config`, or to fp16 without one.
pub(super) fn lower(
    float: &BuiltModel,
    config: Option<&QuantConfig>,
) -> Result<BuiltModel, BuildError> {
    match config {
        None => quantize::to_fp16(float),
        Some(c) => quantize::quantize_int8(float, c),
    }
}

/// Runs the conversion (of every shape set when `plan.dynamic_input` has
/// sets, `super::dynamic`).
pub fn convert(plan: &Plan) -> Result<Outcome, BuildError> {
    if !plan.dynamic_input.is_empty() {
        if plan.batch_size > 1 {
            return Err(BuildError::Config(format!(
                "rknn_batch_size {} with dynamic_input: a model is either multi-batch or dynamic-shape",
                plan.batch_size
            )));
        }
        return super::dynamic::convert(plan);
    }
    let start = Instant::now();
    let (float, report) = float_model(plan)?;
    let mut model = lower(&float, calibration(plan, &float)?.as_ref())?;
    check_custom_string(plan)?;
    model.custom_string = plan.custom_string.clone();
    let bytes = model.write_batched(plan.batch_size)?;
    Ok(Outcome {
        model,
        bytes,
        passes: report,
        seconds: start.elapsed().as_secs_f64(),
    })
}
