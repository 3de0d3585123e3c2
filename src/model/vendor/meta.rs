//! The runtime's logical view of a vendor model: a [`ModelMeta`] whose
//! graph holds every vendor tensor under its own index (so the NPU
//! program's relocations and the vendor node lists index it directly),
//! with logical shapes, element types and quantization. The graph has no
//! nodes: a vendor model runs as its NPU program plus the CPU-placed ops
//! of its own node list (`runtime::vendor`), never through the CPU
//! executor.

use super::graph::{TensorKind, VendorTensor};
use super::reader::{InputNorm, VendorModel};
use super::{dtype_name, invalid};
use crate::graph::{DType, Graph, Layout, Quant, Storage, TensorInfo};
use crate::model::{InputPreprocess, ModelError, ModelMeta};
use crate::platform::Platform;

/// Whether `t` carries data the runtime computes or reads (IO,
/// activations, constants), as opposed to the program buffers and the
/// empty tensor 0.
pub fn is_data(t: &VendorTensor) -> bool {
    matches!(
        t.kind,
        TensorKind::Input | TensorKind::Output | TensorKind::Activation
    ) || t.kind.is_const()
}

fn what(i: usize, t: &VendorTensor) -> String {
    format!("tensor {i} ('{}')", t.name)
}

/// The element type of a data tensor; program buffers are opaque bytes.
fn dtype(i: usize, t: &VendorTensor) -> Result<DType, ModelError> {
    if !is_data(t) {
        return Ok(DType::U8);
    }
    t.dtype().map_or_else(
        || {
            invalid(format!(
                "{}: element type {} (code {}) is not supported by this runtime",
                what(i, t),
                dtype_name(t.dtype_code),
                t.dtype_code
            ))
        },
        Ok,
    )
}

fn shape(i: usize, t: &VendorTensor) -> Result<Vec<usize>, ModelError> {
    if !is_data(t) {
        return Ok(Vec::new());
    }
    t.shape
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| {
                ModelError::Invalid(format!(
                    "{}: dimension {d} in shape {:?} (dynamic-shape vendor models are not supported)",
                    what(i, t),
                    t.shape
                ))
            })
        })
        .collect()
}

/// Per-tensor or per-channel (axis 0) parameters of an integer tensor;
/// float tensors carry none.
fn quant(i: usize, t: &VendorTensor, dtype: DType) -> Result<Option<Quant>, ModelError> {
    if dtype.is_float() || t.scale.is_empty() {
        return Ok(None);
    }
    let zp = if t.zero_point.is_empty() {
        vec![0; t.scale.len()]
    } else {
        t.zero_point.clone()
    };
    if zp.len() != t.scale.len() {
        return invalid(format!(
            "{}: {} scales but {} zero points",
            what(i, t),
            t.scale.len(),
            zp.len()
        ));
    }
    if let Some(s) = t.scale.iter().find(|s| !s.is_finite() || **s <= 0.0) {
        return invalid(format!("{}: quantization scale {s}", what(i, t)));
    }
    Ok(Some(if t.scale.len() == 1 {
        Quant::per_tensor(t.scale[0], zp[0])
    } else {
        Quant::per_channel(t.scale.clone(), zp, 0)
    }))
}

/// One vendor tensor as a graph tensor. Constants point at their buffer
/// as a byte range of the file (`Storage::Weight` offsets are file
/// offsets for vendor models, whose weights section is empty).
fn tensor_info(m: &VendorModel, i: usize, t: &VendorTensor) -> Result<TensorInfo, ModelError> {
    let dtype = dtype(i, t)?;
    let shape = shape(i, t)?;
    let layout = if shape.len() == 4 {
        Layout::Nchw
    } else {
        Layout::Undefined
    };
    let storage = match t.buffer {
        Some(b) if t.kind.is_const() => {
            let r = &m.buffers[b];
            Storage::Weight {
                offset: r.start as u64,
                len: r.len() as u64,
            }
        }
        _ => Storage::Activation,
    };
    Ok(TensorInfo {
        name: t.name.clone(),
        shape,
        dtype,
        layout,
        quant: quant(i, t, dtype)?,
        storage,
    })
}

/// `c` per-channel values from the file's list, which the toolkit pads to
/// four entries by repeating the first (mean 10, 20, 30 is stored as
/// `[10, 20, 30, 10]`): the first `c` entries, or one value for any
/// number of channels when all entries are equal.
fn per_channel(v: &[f32], c: usize, what: &str) -> Result<Vec<f32>, ModelError> {
    if v.is_empty() {
        return Ok(Vec::new());
    }
    if c <= v.len() {
        return Ok(v[..c].to_vec());
    }
    if v.iter().all(|&x| x == v[0]) {
        return Ok(vec![v[0]]);
    }
    invalid(format!(
        "{what}: {} values for {c} channels ({v:?})",
        v.len()
    ))
}

/// The `rknn_inputs_set` pre-processing of input `k` (tensor `info`)
/// from Graph slot 4. Only the identity channel order is accepted: what
/// another order does is not known.
fn preprocess(
    k: usize,
    info: &TensorInfo,
    norm: Option<&InputNorm>,
) -> Result<InputPreprocess, ModelError> {
    let Some(n) = norm else {
        return Ok(InputPreprocess::default());
    };
    let c = if info.shape.len() == 4 {
        info.shape[1]
    } else {
        1
    };
    if n.order.iter().enumerate().any(|(i, &o)| o != i as i32) {
        return invalid(format!(
            "Graph.normalisation[{k}] of input '{}': channel order {:?} is not supported (only the identity order)",
            info.name, n.order
        ));
    }
    let mean = per_channel(&n.mean, c, &format!("Graph.normalisation[{k}].mean"))?;
    let std = per_channel(&n.std, c, &format!("Graph.normalisation[{k}].std"))?;
    if let Some(s) = std.iter().find(|s| !s.is_finite() || **s == 0.0) {
        return invalid(format!(
            "Graph.normalisation[{k}].std of input '{}': {s} cannot divide",
            info.name
        ));
    }
    if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
        return invalid(format!(
            "Graph.normalisation[{k}].mean of input '{}': {m}",
            info.name
        ));
    }
    Ok(InputPreprocess { mean, std })
}

/// Builds the logical model description of `m`.
pub fn model_meta(m: &VendorModel) -> Result<ModelMeta, ModelError> {
    let platform = Platform::from_name(&m.target).ok_or_else(|| {
        ModelError::Invalid(format!(
            "Model.target: platform '{}' is not one this runtime knows (rk3588, rk3576, rk3566, rk3568, rk3562)",
            m.target
        ))
    })?;
    let tensors = m
        .tensors
        .iter()
        .enumerate()
        .map(|(i, t)| tensor_info(m, i, t))
        .collect::<Result<Vec<_>, _>>()?;
    for (role, ids, kind) in [
        ("input", &m.inputs, TensorKind::Input),
        ("output", &m.outputs, TensorKind::Output),
    ] {
        for (k, &t) in ids.iter().enumerate() {
            if m.tensors[t].kind != kind {
                return invalid(format!(
                    "Graph {role} {k}: {} has kind {}, not {role}",
                    what(t, &m.tensors[t]),
                    m.tensors[t].kind.name()
                ));
            }
        }
    }
    let preprocess = m
        .inputs
        .iter()
        .enumerate()
        .map(|(k, &t)| preprocess(k, &tensors[t], m.normalisation.get(k)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ModelMeta {
        graph: Graph {
            tensors,
            nodes: Vec::new(),
            inputs: m.inputs.clone(),
            outputs: m.outputs.clone(),
        },
        preprocess,
        platform,
        custom_string: String::new(),
        producer: m.compiler.clone(),
        internal_size: m.memory.internal,
        batch_size: 1,
        shape_sets: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_lists_follow_the_padding_rule() {
        let v = [123.675, 116.28, 103.53, 123.675];
        assert_eq!(per_channel(&v, 3, "m").unwrap(), v[..3].to_vec());
        assert_eq!(per_channel(&[0.0; 4], 8, "m").unwrap(), vec![0.0]);
        assert!(per_channel(&[1.0, 2.0, 3.0, 1.0], 8, "m").is_err());
        assert!(per_channel(&[], 3, "m").unwrap().is_empty());
    }
}
