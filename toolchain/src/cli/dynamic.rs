//! The conversion of a dynamic-shape model (`docs/dynamic_shapes.md`):
//! the sets are checked against the ONNX model's declared inputs, the
//! model is imported and optimized at every set, calibrated on the largest
//! set (int8) and lowered at every set with the same parameters, and one
//! file holds the largest set's model with every set's differences.

use std::collections::BTreeMap;
use std::time::Instant;

use super::pipeline::{self, Outcome, Plan};
use crate::dynamic;
use crate::error::BuildError;
use crate::model::BuiltModel;
use crate::onnx::{self, ImportOptions};
use crate::passes::PassReport;

/// Converts `plan`, whose `dynamic_input` has at least one set.
pub fn convert(plan: &Plan) -> Result<Outcome, BuildError> {
    let start = Instant::now();
    pipeline::check_custom_string(plan)?;
    let sets = &plan.dynamic_input;
    let opts = ImportOptions {
        platform: plan.platform,
        input_shapes: BTreeMap::new(),
        inputs: plan.inputs.clone(),
        outputs: plan.outputs.clone(),
        custom_ops: plan.custom_ops.clone(),
    };
    let decls = onnx::input_decls(&plan.model, &opts)
        .map_err(|e| BuildError::Data(format!("{}: {e}", plan.model.display())))?;
    dynamic::check(sets, &decls)?;
    let max = dynamic::largest(sets);
    let in_set = |k: usize, e: BuildError| {
        BuildError::Config(format!("dynamic_input set {k} {:?}: {e}", sets[k]))
    };
    let float_at = |k: usize| -> Result<(BuiltModel, PassReport), BuildError> {
        let mut p = plan.clone();
        p.input_shapes = decls
            .iter()
            .map(|d| d.name.clone())
            .zip(sets[k].iter().cloned())
            .collect();
        pipeline::float_model(&p).map_err(|e| in_set(k, e))
    };

    let (float_max, report) = float_at(max)?;
    let config = pipeline::calibration(plan, &float_max)?;
    let lower = |float: &BuiltModel| -> Result<BuiltModel, BuildError> {
        let mut m = pipeline::lower(float, config.as_ref())?;
        m.custom_string = plan.custom_string.clone();
        Ok(m)
    };
    let base = lower(&float_max)?;
    let mut shape_sets = Vec::with_capacity(sets.len());
    for k in 0..sets.len() {
        if k == max {
            shape_sets.push(rknnrt::graph::ShapeSet::between(&base.graph, &base.graph));
            continue;
        }
        let (float, _) = float_at(k)?;
        let differs = |e: String| in_set(k, BuildError::Invalid(e));
        dynamic::same_structure(&float_max, &float).map_err(differs)?;
        let model = lower(&float)?;
        dynamic::same_structure(&base, &model).map_err(differs)?;
        shape_sets.push(rknnrt::graph::ShapeSet::between(&base.graph, &model.graph));
    }
    let bytes = dynamic::write(&base, shape_sets)?;
    Ok(Outcome {
        model: base,
        bytes,
        passes: report,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The note printed after a dynamic-shape build, as the vendor prints it
/// at `rknn.config` (the largest set decides quantization and memory).
pub fn note(sets: &dynamic::DynamicInput) -> String {
    let max = dynamic::largest(sets);
    format!(
        "dynamic_input: {} shape sets; the largest is dynamic_input[{max}] = {:?} (the calibration dataset must fit it; memory is planned for it)",
        sets.len(),
        sets[max]
    )
}
