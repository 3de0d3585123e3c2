//! The dynamic-shape side of a [`Context`] (`docs/dynamic_shapes.md`):
//! which shape set is in use, the graph and plan runs use, the memory
//! sizes that cover every set, and the state a switch of sets resets.
//!
//! Every set's graph and plan are made once when the context is created
//! ([`ShapeTable::build`]); the context's arena and IO buffers are sized
//! for the largest set, so `rknn_set_input_shapes` only swaps the plan.

use std::sync::Arc;

use super::Context;
use crate::graph::Graph;
use crate::model::Model;
use crate::runtime::dynamic::{ShapeRequest, ShapeTable};
use crate::runtime::error::{Error, ErrorKind, Result};

/// The dynamic-shape state of a context.
#[derive(Clone, Debug)]
pub(super) struct DynamicState {
    table: Arc<ShapeTable>,
    /// The set in use; `None` until `rknn_set_input_shapes`.
    current: Option<usize>,
    /// Inputs and outputs whose `rknn_set_io_mem` memory was set for
    /// another set than the current one.
    stale_in: Vec<bool>,
    stale_out: Vec<bool>,
}

impl DynamicState {
    /// The state of a new context for `model` (`None` for a static model).
    pub(super) fn for_model(model: &Model) -> Result<Option<DynamicState>> {
        let g = &model.meta.graph;
        Ok(ShapeTable::build(model)?.map(|table| DynamicState {
            table,
            current: None,
            stale_in: vec![false; g.inputs.len()],
            stale_out: vec![false; g.outputs.len()],
        }))
    }

    /// Bytes of the internal arena covering every set.
    pub(super) fn arena_size(&self) -> usize {
        self.table.arena_size()
    }

    /// Bytes of input `i` (`input`) or output `i` at its largest set.
    pub(super) fn io_bytes(&self, input: bool, i: usize) -> usize {
        if input {
            self.table.input_bytes(i)
        } else {
            self.table.output_bytes(i)
        }
    }
}

impl Context {
    /// Whether the model has dynamic input shapes.
    pub fn is_dynamic(&self) -> bool {
        self.shapes.is_some()
    }

    /// The shape sets of a dynamic-shape model.
    pub fn shape_table(&self) -> Option<&ShapeTable> {
        self.shapes.as_ref().map(|d| &*d.table)
    }

    /// The shape set in use (`None` for a static model, or before the
    /// first `rknn_set_input_shapes`).
    pub fn current_shape_set(&self) -> Option<usize> {
        self.shapes.as_ref().and_then(|d| d.current)
    }

    /// The graph runs use: the current set's graph, or the model's graph
    /// (a static model, or no set chosen yet).
    pub fn graph(&self) -> &Graph {
        current_graph(self.shapes.as_ref(), &self.model)
    }

    /// Chooses the shape set `requests` give (`rknn_set_input_shapes`).
    /// Choosing another set than the current one swaps the plan (no
    /// memory is allocated), forgets the inputs set with
    /// `rknn_inputs_set` and the last run's outputs, and makes the memory
    /// set with `rknn_set_io_mem` stale until it is set again; choosing
    /// the current set changes nothing.
    pub fn set_input_shapes(&mut self, requests: &[ShapeRequest]) -> Result<()> {
        let Some(d) = self.shapes.as_mut() else {
            let g = &self.model.meta.graph;
            let shapes: Vec<&[usize]> = g
                .inputs
                .iter()
                .map(|&t| g.tensors[t].shape.as_slice())
                .collect();
            return Err(Error::new(
                ErrorKind::ModelInvalid,
                format!(
                    "rknn model is static shape type (input shapes {shapes:?}), please export rknn with dynamic_input (rknn-convert build --dynamic-input)"
                ),
            ));
        };
        let s = d.table.find(requests)?;
        if d.current == Some(s) {
            return Ok(());
        }
        let plan = d
            .table
            .set(s)
            .map(|p| p.plan.clone())
            .ok_or_else(|| Error::new(ErrorKind::Fail, format!("shape set {s} is missing")))?;
        d.current = Some(s);
        for (stale, bound) in d.stale_in.iter_mut().zip(&self.in_bind) {
            *stale = bound.is_some();
        }
        for (stale, bound) in d.stale_out.iter_mut().zip(&self.out_bind) {
            *stale = bound.is_some();
        }
        self.plan = plan;
        self.inputs_set.fill(false);
        self.has_run = false;
        self.perf.nodes.clear();
        tracing::debug!("input shapes: shape set {s}");
        Ok(())
    }

    /// Fails when the model has dynamic shapes and none is chosen yet
    /// (`what` names the call).
    pub(super) fn require_shape_set(&self, what: &str) -> Result<()> {
        match &self.shapes {
            Some(d) if d.current.is_none() => Err(Error::new(
                ErrorKind::Fail,
                format!(
                    "{what} is not allowed yet: the model has dynamic input shapes and none is chosen; call rknn_set_input_shapes with one of its {} shape sets first (RKNN_QUERY_INPUT_DYNAMIC_RANGE lists them)",
                    d.table.len()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Everything a run of a dynamic-shape model needs beyond a static
    /// one: a chosen set, data for every input given since it was chosen,
    /// and `rknn_set_io_mem` memory set for it.
    pub(super) fn check_shape_state(&self) -> Result<()> {
        self.require_shape_set("rknn_run")?;
        let Some(d) = &self.shapes else {
            return Ok(());
        };
        let fail = |m: String| Err(Error::new(ErrorKind::Fail, m));
        for i in 0..self.in_bind.len() {
            if d.stale_in[i] {
                return fail(format!("the memory set for input {i} with rknn_set_io_mem was set for other input shapes: call rknn_set_io_mem again after rknn_set_input_shapes"));
            }
            if self.in_bind[i].is_none() && !self.inputs_set[i] {
                return fail(format!("input {i} has no data for the current input shapes: call rknn_inputs_set (or rknn_set_io_mem) after rknn_set_input_shapes"));
            }
        }
        if let Some(j) = d.stale_out.iter().position(|&s| s) {
            return fail(format!("the memory set for output {j} with rknn_set_io_mem was set for other input shapes: call rknn_set_io_mem again after rknn_set_input_shapes"));
        }
        Ok(())
    }

    /// Marks the memory just set on input `i` (`input`) or output `i` as
    /// set for the current shapes.
    pub(super) fn note_bound(&mut self, input: bool, i: usize) {
        if let Some(d) = self.shapes.as_mut() {
            let list = if input {
                &mut d.stale_in
            } else {
                &mut d.stale_out
            };
            if let Some(s) = list.get_mut(i) {
                *s = false;
            }
        }
    }

    /// Bytes of the internal arena: the plan's, or the largest over the
    /// shape sets.
    pub(super) fn arena_capacity(&self) -> usize {
        self.shapes
            .as_ref()
            .map_or(self.plan.arena_size, DynamicState::arena_size)
    }
}

/// The graph of `model` at the current set of `shapes` (the model's own
/// graph without one).
pub(super) fn current_graph<'a>(shapes: Option<&'a DynamicState>, model: &'a Model) -> &'a Graph {
    shapes
        .and_then(|d| d.table.set(d.current?))
        .map_or(&model.meta.graph, |s| &s.graph)
}

/// Bytes of the context buffer for input `i` (`input`) or output `i` of
/// `model`, with the dynamic-shape state `shapes`.
pub(super) fn io_capacity(
    shapes: Option<&DynamicState>,
    model: &Model,
    input: bool,
    i: usize,
) -> usize {
    let g = &model.meta.graph;
    let ids = if input { &g.inputs } else { &g.outputs };
    // All batches of a multi-batch model (which has no shape sets).
    let batches = model.meta.batch_size.max(1) as usize;
    let own = ids.get(i).map_or(0, |&t| g.tensors[t].bytes() * batches);
    shapes.map_or(own, |d| d.io_bytes(input, i).max(own))
}
