//! Graph passes on a float [`BuiltModel`] before quantization.
//!
//! Each pass lives in its own module, keeps the model's numerics (up to
//! f32 rounding of folded constants) and reports what it changed. The
//! order is fixed by [`optimize_with`]; `docs/compiler.md` describes every
//! pass and when it applies.

mod act_fuse;
mod affine_fold;
mod const_fold;
mod edit;
mod memory;
mod pad_fold;
mod preprocess;
mod reshape;

pub use memory::{memory_report, MemoryReport};

use crate::error::BuildError;
use crate::model::BuiltModel;

/// Options of the pass pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassOptions {
    /// Run the graph passes (dead-node removal, constant folding,
    /// Reshape/Transpose clean-up, Pad, Mul/Add and activation folding).
    pub graph_passes: bool,
    /// Fold an input's mean/std pre-processing into the first layer when
    /// that is exact (otherwise the runtime's input conversion applies
    /// it).
    pub fold_mean_std: bool,
    /// Make every 3-channel 4-D input take its channels in reverse order
    /// (BGR data for a model trained on RGB, or the other way round): the
    /// swap is folded into the consuming convolutions' weights when they
    /// all are plain (group 1) convolutions with constant weights,
    /// otherwise a channel Gather is inserted after the input. Mean/std
    /// are reordered with it.
    pub swap_input_channels: bool,
}

impl Default for PassOptions {
    fn default() -> Self {
        PassOptions {
            graph_passes: true,
            fold_mean_std: true,
            swap_input_channels: false,
        }
    }
}

impl PassOptions {
    /// The options of the vendor's `optimization_level` (0 to 3, default
    /// 3): 0 turns every optimization off; 1 and 2 keep the graph passes,
    /// which are exact, but leave mean/std to the runtime, because folding
    /// them changes what the quantizer sees at the input; 3 turns
    /// everything on. Levels above 3 count as 3. The channel swap is a
    /// request, not an optimization, and stays off.
    pub fn for_level(level: u8) -> PassOptions {
        PassOptions {
            graph_passes: level >= 1,
            fold_mean_std: level >= 3,
            swap_input_channels: false,
        }
    }
}

/// What the passes did, for the build summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    /// One line per change ("folded BatchNormalization 'bn1' into 'conv1'").
    pub changes: Vec<String>,
    /// Internal memory of the optimized float model: the runtime's
    /// liveness-based arena against the naive sum of intermediate sizes.
    pub memory: MemoryReport,
    /// Nodes before the passes.
    pub nodes_before: usize,
    /// Nodes after the passes.
    pub nodes_after: usize,
}

/// Runs every pass on `model` with the default [`PassOptions`].
pub fn optimize(model: BuiltModel) -> Result<(BuiltModel, PassReport), BuildError> {
    optimize_with(model, &PassOptions::default())
}

/// Runs every pass on `model`: constant folding, Reshape/Transpose
/// clean-up, Pad folding, per-channel Mul/Add (BatchNorm) folding,
/// activation fusion, input pre-processing folding, then the memory
/// report. The result is validated like a model about to be written.
pub fn optimize_with(
    mut model: BuiltModel,
    options: &PassOptions,
) -> Result<(BuiltModel, PassReport), BuildError> {
    model.to_meta()?;
    let mut report = PassReport {
        nodes_before: model.graph.nodes.len(),
        ..PassReport::default()
    };
    let changes = &mut report.changes;
    if options.graph_passes {
        let dead = edit::sweep(&mut model);
        if dead > 0 {
            changes.push(format!(
                "removed {dead} node(s) whose outputs nothing reads"
            ));
        }
        const_fold::run(&mut model, changes);
        reshape::run(&mut model, changes);
        pad_fold::run(&mut model, changes);
        affine_fold::run(&mut model, changes);
        act_fuse::run(&mut model, changes);
    }
    preprocess::run(&mut model, options, changes);
    if options.graph_passes {
        // Folding may expose more constant sub-graphs and identity moves.
        const_fold::run(&mut model, changes);
        reshape::run(&mut model, changes);
        edit::sweep(&mut model);
    }
    crate::placement::assign(&mut model.graph, model.platform);
    model.to_meta()?;
    report.memory = memory_report(&model)?;
    report.nodes_after = model.graph.nodes.len();
    Ok((model, report))
}
