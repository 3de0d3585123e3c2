//! Vendor-compiled models (`model::vendor`) as runtime models.
//!
//! A vendor model's [`crate::model::Model`] carries the logical view of its
//! tensors (`model::vendor::model_meta`); this module adds what running it
//! needs: how each feature tensor is stored ([`storage`]), where it lives
//! during a run (a [`Plan`] built from the file's offsets: inputs and
//! outputs in their own buffers, activations in internal memory at the
//! compiler's offsets), and the steps of a run ([`layers`]): runs of
//! NPU-placed nodes executed by the NPU program, and CPU-placed nodes
//! executed by the CPU kernels between them. `docs/vendor-compat.md`
//! describes the behaviour.

pub mod layers;
pub mod storage;

use crate::graph::TensorId;
use crate::model::vendor::TensorKind;
use crate::model::{Model, ModelError};
use crate::runtime::plan::{Location, Plan};

pub use layers::{CpuStep, Layer, Step};
pub use storage::Stored;

/// Everything a context of a vendor model shares with its duplicates.
#[derive(Debug)]
pub struct VendorPlan {
    /// Storage of every feature tensor (inputs, outputs, activations),
    /// indexed by tensor id.
    pub stored: Vec<Option<Stored>>,
    /// One layer per vendor node.
    pub layers: Vec<Layer>,
    /// The steps of a run.
    pub steps: Vec<Step>,
    /// Where each tensor lives.
    pub plan: Plan,
}

impl VendorPlan {
    /// Describes the vendor model `model` (which must be one:
    /// [`Model::vendor`]).
    pub fn new(model: &Model) -> Result<VendorPlan, ModelError> {
        let vm = model
            .vendor()
            .ok_or_else(|| ModelError::Invalid("not a vendor model".into()))?;
        let graph = &model.meta.graph;
        let stored = vm
            .tensors
            .iter()
            .zip(&graph.tensors)
            .map(|(t, info)| {
                storage::is_feature(t)
                    .then(|| storage::stored(t, info))
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let internal = usize::try_from(vm.memory.internal).map_err(|_| {
            ModelError::Invalid(format!(
                "Model.memory_sizes: internal memory of {} bytes does not fit this machine's address space",
                vm.memory.internal
            ))
        })?;
        let mut locations = vec![Location::Unused; vm.tensors.len()];
        for (t, v) in vm.tensors.iter().enumerate() {
            if v.kind == TensorKind::Activation {
                locations[t] = Location::Arena(v.mem_offset as usize);
            }
        }
        for (j, &t) in graph.outputs.iter().enumerate() {
            locations[t] = Location::Output(j);
        }
        for (i, &t) in graph.inputs.iter().enumerate() {
            locations[t] = Location::Input(i);
        }
        let plan = Plan {
            locations,
            arena_size: internal,
            naive_size: internal,
        };
        let (layers, steps) = layers::build(vm, model.bytes(), graph)?;
        let vp = VendorPlan {
            stored,
            layers,
            steps,
            plan,
        };
        for step in &vp.steps {
            if let Step::Cpu(c) = step {
                for &t in c.inputs.iter().chain(&c.outputs) {
                    vp.check_cpu_tensor(c.node, t)?;
                }
            }
        }
        Ok(vp)
    }

    /// A tensor a CPU op reads or writes must be a feature tensor that
    /// lies inside its memory.
    fn check_cpu_tensor(&self, node: usize, t: TensorId) -> Result<(), ModelError> {
        let Some(s) = self.stored[t].as_ref() else {
            return Err(ModelError::Invalid(format!(
                "node {node}: the CPU op uses tensor {t}, which is not a feature map"
            )));
        };
        if let Location::Arena(off) = self.plan.locations[t] {
            if off
                .checked_add(s.bytes)
                .is_none_or(|end| end > self.plan.arena_size)
            {
                return Err(ModelError::Invalid(format!(
                    "node {node}: tensor '{}' ({} bytes at offset {off}) runs past the {}-byte internal memory",
                    s.view.name, s.bytes, self.plan.arena_size
                )));
            }
        }
        Ok(())
    }

    /// The storage of tensor `t`, when it is a feature map.
    pub fn stored(&self, t: TensorId) -> Option<&Stored> {
        self.stored.get(t).and_then(Option::as_ref)
    }
}
