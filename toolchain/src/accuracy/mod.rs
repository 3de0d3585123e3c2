//! Per-layer accuracy analysis: a float reference model against a
//! quantized (int8 or fp16) model, tensor by tensor, matched by name.
//!
//! * **entire error**: the quantized model runs end to end; each of its
//!   tensors is compared with the float tensor of the same name. Errors
//!   accumulate layer by layer.
//! * **single error**: each node of the quantized model is fed the float
//!   model's values for its inputs (converted to the input's type and
//!   quantization), so the error is that node's own. Inputs with no float
//!   counterpart (tensors the quantizer added, such as a `Quantize` output)
//!   take the value this pass computed for them.
//!
//! Each comparison gives the cosine similarity and the Euclidean distance
//! of the dequantized values. [`Report::to_text`] renders the vendor-style
//! `error_analysis.txt` table.

mod report;

use std::collections::HashMap;

use rknnrt::graph::TensorId;

use crate::calibrate::interp::{self, Program, TensorBuf};
use crate::error::BuildError;

pub use report::Report;

/// The distance between a tensor and its reference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorError {
    /// Cosine similarity (1 for identical direction; 1 when both are zero).
    pub cos: f64,
    /// Euclidean distance.
    pub euc: f64,
}

/// Cosine similarity of `a` and `b` (1 when both are all zero, 0 when one
/// is).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 && bb == 0.0 {
        1.0
    } else if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// Euclidean distance of `a` and `b`.
pub fn euclidean(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

fn compare(reference: &[f32], value: &[f32]) -> TensorError {
    TensorError {
        cos: cosine(reference, value),
        euc: euclidean(reference, value),
    }
}

/// One tensor of the quantized model.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Producing op type (`Input` for graph inputs).
    pub op: String,
    /// Tensor name.
    pub tensor: String,
    /// Error of the end-to-end run.
    pub entire: TensorError,
    /// Error of the node fed float inputs (graph inputs: as `entire`).
    pub single: Option<TensorError>,
}

/// Every tensor of a run, dequantized, by name.
fn capture(
    program: &Program,
    inputs: Vec<TensorBuf>,
) -> Result<HashMap<String, Vec<f32>>, BuildError> {
    let g = program.graph();
    let mut values = HashMap::new();
    program.run(inputs, &mut |t, buf| {
        let info = &g.tensors[t];
        values.insert(info.name.clone(), interp::to_f32(info, buf.bytes())?);
        Ok(())
    })?;
    Ok(values)
}

/// Compares `quant` with `float`, each given its graph inputs (in its own
/// graph types).
pub fn analyze(
    float: &Program,
    float_inputs: Vec<TensorBuf>,
    quant: &Program,
    quant_inputs: Vec<TensorBuf>,
) -> Result<Report, BuildError> {
    let reference = capture(float, float_inputs.clone())?;
    let g = quant.graph();
    let entire = capture(quant, quant_inputs.clone())?;
    let matched = |t: TensorId| -> Option<(&Vec<f32>, &Vec<f32>)> {
        let name = &g.tensors[t].name;
        let r = reference.get(name)?;
        let v = entire.get(name)?;
        (r.len() == v.len()).then_some((r, v))
    };

    let mut rows = Vec::new();
    for &t in &g.inputs {
        if let Some((r, v)) = matched(t) {
            let e = compare(r, v);
            rows.push(Row {
                op: "Input".into(),
                tensor: g.tensors[t].name.clone(),
                entire: e,
                single: Some(e),
            });
        }
    }

    // Values of the single-error pass, by tensor id of the quantized graph.
    let mut single: HashMap<TensorId, TensorBuf> = HashMap::new();
    for (&t, buf) in g.inputs.iter().zip(quant_inputs) {
        single.insert(t, buf);
    }
    for node in &g.nodes {
        let mut ins: Vec<TensorBuf> = Vec::with_capacity(node.inputs.len());
        let mut fed = true;
        for &t in &node.inputs {
            let info = &g.tensors[t];
            let buf = if let Some(c) = quant.constant(t) {
                c.clone()
            } else if let Some(r) = reference
                .get(&info.name)
                .filter(|r| r.len() == info.elems())
            {
                interp::from_f32(info, r)?
            } else if let Some(b) = single.get(&t) {
                b.clone()
            } else {
                fed = false;
                break;
            };
            ins.push(buf);
        }
        let outs = if fed {
            let refs: Vec<&TensorBuf> = ins.iter().collect();
            Some(quant.run_node(node, &refs)?)
        } else {
            None
        };
        for (k, &o) in node.outputs.iter().enumerate() {
            let info = &g.tensors[o];
            let single_err = match outs.as_ref().and_then(|v| v.get(k)) {
                Some(buf) => {
                    let vals = interp::to_f32(info, buf.bytes())?;
                    let e = reference
                        .get(&info.name)
                        .filter(|r| r.len() == vals.len())
                        .map(|r| compare(r, &vals));
                    single.insert(o, buf.clone());
                    e
                }
                None => None,
            };
            if let Some((r, v)) = matched(o) {
                rows.push(Row {
                    op: node.op.type_name().to_string(),
                    tensor: info.name.clone(),
                    entire: compare(r, v),
                    single: single_err,
                });
            }
        }
    }
    let outputs = g
        .outputs
        .iter()
        .map(|&t| g.tensors[t].name.clone())
        .collect();
    Ok(Report { rows, outputs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_and_distance() {
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-12);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-12);
        assert_eq!(cosine(&[0.0], &[0.0]), 1.0);
        assert_eq!(cosine(&[0.0], &[1.0]), 0.0);
        assert_eq!(euclidean(&[0.0, 3.0], &[4.0, 0.0]), 5.0);
    }
}
