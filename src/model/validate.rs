//! Semantic checks of [`ModelMeta`] beyond the graph: pre-processing,
//! strings and sizes (docs/format.md, section 5).

use super::{InputPreprocess, ModelError, ModelMeta};
use crate::graph::{Layout, Op, TensorInfo};

/// Longest custom string in bytes (the vendor `rknn_custom_string` buffer
/// is 1024 bytes including the NUL).
pub const MAX_CUSTOM_STRING_LEN: usize = 1023;
/// Longest producer string in bytes.
pub const MAX_PRODUCER_LEN: usize = 1023;
/// Largest internal arena a model may ask for (1 TiB).
pub const MAX_INTERNAL_SIZE: u64 = 1 << 40;
/// Largest `rknn_batch_size`.
pub const MAX_BATCH_SIZE: u32 = 256;

fn invalid<T>(msg: String) -> Result<T, ModelError> {
    Err(ModelError::Invalid(msg))
}

/// Number of channels that per-channel mean/std values of `t` cover: the
/// C axis of NCHW (1) and NHWC (3) tensors, C1 × C2 of NC1HWC2, and for
/// other layouts axis 1 (axis 0 for rank 1, 1 channel for scalars).
pub fn channel_count(t: &TensorInfo) -> usize {
    let s = &t.shape;
    match (t.layout, s.len()) {
        (Layout::Nhwc, 4) => s[3],
        (Layout::Nc1hwc2, 5) => s[1].saturating_mul(s[4]),
        (_, 0) => 1,
        (_, 1) => s[0],
        _ => s[1],
    }
}

fn check_string(s: &str, what: &str, max: usize) -> Result<(), ModelError> {
    if s.len() > max {
        return invalid(format!(
            "{what} is {} bytes, more than the limit {max}",
            s.len()
        ));
    }
    if s.contains('\0') {
        return invalid(format!("{what} contains a NUL byte"));
    }
    Ok(())
}

pub(super) fn check_preprocess(
    i: usize,
    p: &InputPreprocess,
    t: &TensorInfo,
) -> Result<(), ModelError> {
    let c = channel_count(t);
    for (values, what) in [(&p.mean, "mean"), (&p.std, "std")] {
        if !values.is_empty() && values.len() != c {
            return invalid(format!(
                "input {i} '{}' has {} {what} values, but {c} channels (give 0 or {c})",
                t.name,
                values.len()
            ));
        }
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return invalid(format!(
                "input {i} '{}' has a non-finite {what} value {v}",
                t.name
            ));
        }
    }
    if p.std.contains(&0.0) {
        return invalid(format!("input {i} '{}' has a std value of 0", t.name));
    }
    Ok(())
}

impl ModelMeta {
    /// Checks the whole model against a weights section of `weights_len`
    /// bytes: the graph ([`crate::graph::Graph::validate`]), one
    /// pre-processing entry per input with 0 or channel-count mean/std
    /// values (finite, std non-zero), the custom and producer strings, and
    /// the internal size, and the shape sets of a dynamic-shape model
    /// ([`ModelMeta::shape_set_graphs`]).
    pub fn validate(&self, weights_len: u64) -> Result<(), ModelError> {
        self.graph
            .validate(weights_len)
            .map_err(|e| ModelError::Invalid(format!("graph: {e}")))?;
        let inputs = &self.graph.inputs;
        if self.preprocess.len() != inputs.len() {
            return invalid(format!(
                "{} pre-processing entries for {} graph inputs",
                self.preprocess.len(),
                inputs.len()
            ));
        }
        for (i, (p, &id)) in self.preprocess.iter().zip(inputs).enumerate() {
            check_preprocess(i, p, &self.graph.tensors[id])?;
        }
        check_string(&self.custom_string, "custom string", MAX_CUSTOM_STRING_LEN)?;
        check_string(&self.producer, "producer string", MAX_PRODUCER_LEN)?;
        if self.internal_size > MAX_INTERNAL_SIZE {
            return invalid(format!(
                "internal size {} is more than the limit {MAX_INTERNAL_SIZE}",
                self.internal_size
            ));
        }
        self.check_batch()?;
        self.shape_set_graphs(weights_len)?;
        Ok(())
    }

    /// A multi-batch model: `batch_size` in 1 ..= [`MAX_BATCH_SIZE`]; when
    /// above 1 every input and output has batch dimension 1 (the graph
    /// computes one batch) and stays below 2³² bytes when multiplied.
    fn check_batch(&self) -> Result<(), ModelError> {
        let n = self.batch_size;
        if !(1..=MAX_BATCH_SIZE).contains(&n) {
            return invalid(format!(
                "batch size {n} out of range (1 ..= {MAX_BATCH_SIZE})"
            ));
        }
        if n == 1 {
            return Ok(());
        }
        let g = &self.graph;
        for &t in g.inputs.iter().chain(&g.outputs) {
            let info = &g.tensors[t];
            if info.shape.first() != Some(&1) {
                return invalid(format!(
                    "batch size {n}: tensor '{}' of shape {:?} does not have batch dimension 1",
                    info.name, info.shape
                ));
            }
            if (info.bytes() as u64) * u64::from(n) > u64::from(u32::MAX) {
                return invalid(format!(
                    "batch size {n}: tensor '{}' would exceed 4 GiB",
                    info.name
                ));
            }
        }
        if let Some(node) = g.nodes.iter().find(|n| matches!(n.op, Op::Custom(_))) {
            return invalid(format!(
                "batch size {n} with custom op '{}' (node '{}'): custom ops run in single-batch models only",
                node.op.type_name(),
                node.name
            ));
        }
        if !self.shape_sets.is_empty() {
            return invalid(format!(
                "batch size {n} with {} dynamic shape sets: a model is either multi-batch or dynamic-shape",
                self.shape_sets.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::DType;

    #[test]
    fn channel_counts() {
        let mut t = TensorInfo::activation("x", vec![1, 3, 5, 7], DType::U8);
        assert_eq!(channel_count(&t), 3);
        t.layout = Layout::Nhwc;
        assert_eq!(channel_count(&t), 7);
        t.layout = Layout::Nc1hwc2;
        t.shape = vec![1, 2, 5, 7, 16];
        assert_eq!(channel_count(&t), 32);
        let t = TensorInfo::activation("x", vec![9], DType::F32);
        assert_eq!(channel_count(&t), 9);
        let t = TensorInfo::activation("x", vec![], DType::F32);
        assert_eq!(channel_count(&t), 1);
        let t = TensorInfo::activation("x", vec![2, 6, 4], DType::F32);
        assert_eq!(channel_count(&t), 6);
    }
}
