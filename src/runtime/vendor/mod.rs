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

pub mod engine;
pub mod layers;
pub mod storage;

use std::time::Duration;

use crate::graph::{Graph, Storage, Target, TensorId};
use crate::model::{Model, ModelError};
use crate::npu::program::{Region, VendorProgram};
use crate::runtime::perf;
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
    /// The validated NPU program.
    pub program: VendorProgram,
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
        // Inputs and outputs get buffers of their own: their layout must
        // fit the size the file gives them (inside its internal memory),
        // so a hostile shape cannot ask for more.
        for &t in graph.inputs.iter().chain(&graph.outputs) {
            let (v, s) = (&vm.tensors[t], stored[t].as_ref());
            let file = v.size.unwrap_or(0) as usize;
            if let Some(s) = s.filter(|s| s.bytes > file) {
                return Err(ModelError::Invalid(format!(
                    "tensor '{}' ({}): its layout needs {} bytes but the file gives it {file}",
                    v.name,
                    v.kind.name(),
                    s.bytes
                )));
            }
        }
        let program = VendorProgram::new(vm, model.bytes())?;
        let fits = |v: u64, what: &str| {
            usize::try_from(v).map_err(|_| {
                ModelError::Invalid(format!(
                    "{what} of {v} bytes does not fit this machine's address space"
                ))
            })
        };
        let internal = fits(program.layout.internal_size, "internal memory")?;
        let mut locations = vec![Location::Unused; vm.tensors.len()];
        for (t, p) in program.layout.tensors.iter().enumerate() {
            match p {
                Some(p) if p.region == Region::Internal => {
                    locations[t] = Location::Arena(fits(p.offset, "a tensor offset")?);
                }
                _ => {}
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
        for (k, t) in program.tasks.iter().enumerate() {
            let node = vm.nodes.get(t.op_idx as usize);
            if !node.is_some_and(|n| n.on_npu()) {
                return Err(ModelError::Invalid(format!(
                    "task {k}: op_idx {} does not name an NPU-placed node ({} nodes)",
                    t.op_idx,
                    vm.nodes.len()
                )));
            }
        }
        let vp = VendorPlan {
            stored,
            layers,
            steps,
            plan,
            program,
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

    /// The rows of the perf table: one per vendor node, with its NPU or
    /// CPU target and `times[k]` for node `k`.
    pub fn perf_rows(&self, graph: &Graph, times: &[Duration]) -> Vec<perf::Row> {
        let bytes = |t: TensorId| match (&graph.tensors[t].storage, self.stored(t)) {
            (_, Some(s)) => s.bytes as u64,
            (Storage::Weight { len, .. }, None) => *len,
            _ => 0,
        };
        self.layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let features = l.inputs.iter().chain(&l.outputs).copied();
                let dtype = features
                    .filter(|&t| self.stored(t).is_some())
                    .map(|t| perf::type_word(graph.tensors[t].dtype))
                    .next()
                    .unwrap_or("FLOAT32");
                let shapes = |ids: &[TensorId]| {
                    if ids.is_empty() {
                        "\\".to_string()
                    } else {
                        perf::shapes(ids.iter().map(|&t| graph.tensors[t].shape.as_slice()))
                    }
                };
                let rw: u64 = l.inputs.iter().chain(&l.outputs).map(|&t| bytes(t)).sum();
                perf::Row {
                    op: l.op_type.clone(),
                    dtype,
                    target: match l.target {
                        Target::Npu => "NPU",
                        Target::Cpu => "CPU",
                    },
                    inputs: shapes(&l.inputs),
                    outputs: shapes(&l.outputs),
                    time_us: times.get(k).map_or(0, |d| d.as_micros() as u64),
                    rw_kb: rw.div_ceil(1024),
                    name: l.name.clone(),
                }
            })
            .collect()
    }

    /// The storage of tensor `t`, when it is a feature map.
    pub fn stored(&self, t: TensorId) -> Option<&Stored> {
        self.stored.get(t).and_then(Option::as_ref)
    }
}
