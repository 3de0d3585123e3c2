//! The shape sets of a dynamic-shape model (docs/format.md, section 5.3;
//! `docs/dynamic_shapes.md`): each set must fit the graph, the sets must
//! differ, and the graph itself must be stored at one of them.

use super::validate::check_preprocess;
use super::{ModelError, ModelMeta};
use crate::graph::Graph;

/// Most shape sets a model may have (the vendor
/// `RKNN_MAX_DYNAMIC_SHAPE_NUM`).
pub const MAX_SHAPE_SETS: usize = 512;

fn invalid<T>(msg: String) -> Result<T, ModelError> {
    Err(ModelError::Invalid(msg))
}

impl ModelMeta {
    /// Whether the model has dynamic input shapes (at least one shape set).
    pub fn is_dynamic(&self) -> bool {
        !self.shape_sets.is_empty()
    }

    /// The graph at each shape set, in set order (empty for a static
    /// model), each checked like the graph itself
    /// ([`Graph::at_shape_set`]), with the pre-processing checked against
    /// each set's inputs. Fails when there are more than
    /// [`MAX_SHAPE_SETS`] sets, two sets have the same input shapes, or
    /// the graph's own input shapes are not one of the sets.
    pub fn shape_set_graphs(&self, weights_len: u64) -> Result<Vec<Graph>, ModelError> {
        let sets = &self.shape_sets;
        if sets.len() > MAX_SHAPE_SETS {
            return invalid(format!(
                "{} shape sets, more than the limit {MAX_SHAPE_SETS}",
                sets.len()
            ));
        }
        let mut graphs = Vec::with_capacity(sets.len());
        for (k, set) in sets.iter().enumerate() {
            if let Some(j) = sets[..k].iter().position(|s| s.inputs == set.inputs) {
                return invalid(format!(
                    "shape sets {j} and {k} have the same input shapes {:?}",
                    set.inputs
                ));
            }
            let g = self
                .graph
                .at_shape_set(set, weights_len)
                .map_err(|e| ModelError::Invalid(format!("shape set {k}: {e}")))?;
            for (i, (p, &t)) in self.preprocess.iter().zip(&g.inputs).enumerate() {
                check_preprocess(i, p, &g.tensors[t])
                    .map_err(|e| ModelError::Invalid(format!("shape set {k}: {e}")))?;
            }
            graphs.push(g);
        }
        if !sets.is_empty() {
            let stored: Vec<&[usize]> = self
                .graph
                .inputs
                .iter()
                .map(|&t| self.graph.tensors[t].shape.as_slice())
                .collect();
            let is_stored = |s: &crate::graph::ShapeSet| {
                s.inputs.len() == stored.len()
                    && s.inputs
                        .iter()
                        .zip(&stored)
                        .all(|(a, b)| a.as_slice() == *b)
            };
            if !sets.iter().any(is_stored) {
                return invalid(format!(
                    "the graph's input shapes {stored:?} are not one of its {} shape sets",
                    sets.len()
                ));
            }
        }
        Ok(graphs)
    }
}
