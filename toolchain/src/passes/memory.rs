//! The memory report: the internal arena the runtime's liveness-based
//! plan (`rknnrt::runtime::plan`) gives a model, against the naive sum of
//! its intermediate tensors, plus the weights and IO sizes.

use rknnrt::graph::Storage;
use rknnrt::runtime::plan;

use crate::error::BuildError;
use crate::model::BuiltModel;

/// Memory sizes of a model, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryReport {
    /// Internal arena with liveness-based reuse (what `rknn_init`
    /// allocates for intermediates).
    pub arena: usize,
    /// Sum of every intermediate's (64-byte aligned) size: the arena
    /// without reuse.
    pub naive: usize,
    /// Constant data (weights and biases), unaligned.
    pub weights: usize,
    /// Graph inputs and outputs.
    pub io: usize,
}

impl MemoryReport {
    /// `arena / naive` (1 when there are no intermediates).
    pub fn reuse_ratio(&self) -> f64 {
        if self.naive == 0 {
            1.0
        } else {
            self.arena as f64 / self.naive as f64
        }
    }
}

/// The memory report of `model` (validated first, as the plan needs a
/// valid graph).
pub fn memory_report(model: &BuiltModel) -> Result<MemoryReport, BuildError> {
    let (meta, weights) = model.to_meta()?;
    let p = plan::plan(&meta.graph);
    let io = meta
        .graph
        .inputs
        .iter()
        .chain(&meta.graph.outputs)
        .map(|&t| meta.graph.tensors[t].bytes())
        .sum();
    let consts = meta
        .graph
        .tensors
        .iter()
        .filter(|t| matches!(t.storage, Storage::Weight { .. }))
        .map(|t| t.bytes())
        .sum::<usize>();
    debug_assert!(consts <= weights.len());
    Ok(MemoryReport {
        arena: p.arena_size,
        naive: p.naive_size,
        weights: consts,
        io,
    })
}
