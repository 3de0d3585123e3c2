//! A context: one loaded model with its memory, ready to run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::{Error, ErrorKind, Result};
use super::exec::{self, Memory, Region};
use super::plan::{self, Location, Plan};
use crate::driver::{Buffer, Device};
use crate::graph::TensorInfo;
use crate::model::Model;
use crate::platform::Platform;

/// `RKNN_FLAG_COLLECT_PERF_MASK`.
pub const FLAG_COLLECT_PERF: u32 = 0x8;
/// `RKNN_FLAG_COLLECT_MODEL_INFO_ONLY`.
pub const FLAG_MODEL_INFO_ONLY: u32 = 0x100;

/// Memory totals reported by `RKNN_QUERY_MEM_SIZE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemSize {
    /// Bytes of weights.
    pub weight: u64,
    /// Bytes of the internal arena (intermediates, not IO).
    pub internal: u64,
    /// Every device buffer this context allocated.
    pub dma_allocated: u64,
}

/// Timing of the last run.
#[derive(Clone, Debug, Default)]
pub struct Perf {
    /// Wall time of the last `run`.
    pub run: Duration,
    /// Per-node times of the last run (collected with
    /// `RKNN_FLAG_COLLECT_PERF_MASK` only).
    pub nodes: Vec<Duration>,
}

/// A loaded model with its arena and IO buffers.
#[derive(Debug)]
pub struct Context {
    model: Arc<Model>,
    plan: Arc<Plan>,
    device: Arc<dyn Device>,
    platform: Platform,
    flags: u32,
    arena: Option<Buffer>,
    inputs: Vec<Buffer>,
    outputs: Vec<Buffer>,
    inputs_set: Vec<bool>,
    has_run: bool,
    core_mask: u32,
    perf: Perf,
}

impl Context {
    /// Creates a context for `model` on `device`, planning and allocating
    /// its memory (only the plan with `RKNN_FLAG_COLLECT_MODEL_INFO_ONLY`).
    pub fn new(model: Arc<Model>, device: Arc<dyn Device>, flags: u32) -> Result<Context> {
        let plan = Arc::new(plan::plan(&model.meta.graph));
        Context::with_plan(model, plan, device, flags)
    }

    /// A second context sharing this one's model, weights and plan but with
    /// its own memory (`rknn_dup_context`).
    pub fn duplicate(&self) -> Result<Context> {
        Context::with_plan(
            self.model.clone(),
            self.plan.clone(),
            self.device.clone(),
            self.flags,
        )
    }

    fn with_plan(
        model: Arc<Model>,
        plan: Arc<Plan>,
        device: Arc<dyn Device>,
        flags: u32,
    ) -> Result<Context> {
        // The host device emulates whatever platform the model targets;
        // a real NPU must match it.
        let platform = if device.name() == "host" {
            model.meta.platform
        } else {
            device.info().platform
        };
        if platform != model.meta.platform {
            return Err(Error::new(
                ErrorKind::PlatformMismatch,
                format!(
                    "the model targets {} but the device is {}",
                    model.meta.platform.name(),
                    platform.name()
                ),
            ));
        }
        let graph = &model.meta.graph;
        let info_only = flags & FLAG_MODEL_INFO_ONLY != 0;
        let (arena, inputs, outputs) = if info_only {
            (None, Vec::new(), Vec::new())
        } else {
            let arena = device.alloc(plan.arena_size)?;
            let inputs = graph
                .inputs
                .iter()
                .map(|&t| device.alloc(graph.tensors[t].bytes()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let outputs = graph
                .outputs
                .iter()
                .map(|&t| device.alloc(graph.tensors[t].bytes()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            (Some(arena), inputs, outputs)
        };
        Ok(Context {
            inputs_set: vec![false; graph.inputs.len()],
            model,
            plan,
            device,
            platform,
            flags,
            arena,
            inputs,
            outputs,
            has_run: false,
            core_mask: 0,
            perf: Perf::default(),
        })
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The shared model (for contexts that share weights).
    pub fn shared_model(&self) -> Arc<Model> {
        self.model.clone()
    }

    /// The device's platform.
    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// The device running this context.
    pub fn device(&self) -> &dyn Device {
        &*self.device
    }

    /// The device running this context, shared.
    pub fn shared_device(&self) -> Arc<dyn Device> {
        self.device.clone()
    }

    /// Number of model inputs.
    pub fn n_inputs(&self) -> usize {
        self.model.meta.graph.inputs.len()
    }

    /// Number of model outputs.
    pub fn n_outputs(&self) -> usize {
        self.model.meta.graph.outputs.len()
    }

    /// Tensor of input `i`.
    pub fn input_info(&self, i: usize) -> Option<&TensorInfo> {
        let g = &self.model.meta.graph;
        g.inputs.get(i).map(|&t| &g.tensors[t])
    }

    /// Tensor of output `i`.
    pub fn output_info(&self, i: usize) -> Option<&TensorInfo> {
        let g = &self.model.meta.graph;
        g.outputs.get(i).map(|&t| &g.tensors[t])
    }

    /// Memory totals.
    pub fn mem_size(&self) -> MemSize {
        let buffers = self.arena.iter().chain(&self.inputs).chain(&self.outputs);
        MemSize {
            weight: self.model.weights().len() as u64,
            internal: self.plan.arena_size as u64,
            dma_allocated: buffers.map(|b| b.size() as u64).sum(),
        }
    }

    /// Whether runs record per-node times: with
    /// `RKNN_FLAG_COLLECT_PERF_MASK`, or at `RKNN_LOG_LEVEL` 4 and above
    /// (which prints the layer table after every run, as the vendor does).
    pub fn collects_perf(&self) -> bool {
        self.flags & FLAG_COLLECT_PERF != 0 || crate::log::rknn_level() >= 4
    }

    /// The flags given at init.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Timing of the last run.
    pub fn perf(&self) -> &Perf {
        &self.perf
    }

    /// Whether `run` has completed at least once.
    pub fn has_run(&self) -> bool {
        self.has_run
    }

    /// The current core mask.
    pub fn core_mask(&self) -> u32 {
        self.core_mask
    }

    /// Selects NPU cores. On the host device the mask is validated against
    /// the platform's cores and recorded; computation stays on the CPU.
    pub fn set_core_mask(&mut self, mask: u32) -> Result<()> {
        if self.platform.cores() == 1 {
            return Err(Error::new(
                ErrorKind::Fail,
                format!(
                    "core mask is not supported on {} (single-core NPU)",
                    self.platform.name()
                ),
            ));
        }
        if !self.platform.core_mask_valid(mask) {
            return Err(Error::new(
                ErrorKind::ParamInvalid,
                format!(
                    "invalid core mask {mask:#x} for {} ({} cores)",
                    self.platform.name(),
                    self.platform.cores()
                ),
            ));
        }
        self.core_mask = mask;
        Ok(())
    }

    fn require_memory(&self, what: &str) -> Result<()> {
        if self.arena.is_none() {
            return Err(Error::new(
                ErrorKind::Fail,
                format!("{what} is not allowed: the context was created with RKNN_FLAG_COLLECT_MODEL_INFO_ONLY"),
            ));
        }
        Ok(())
    }

    /// Fills input `i`'s buffer with `fill(tensor, bytes)` (the input
    /// conversion); the input counts as set only if `fill` succeeds.
    pub fn set_input(
        &mut self,
        i: usize,
        fill: impl FnOnce(&TensorInfo, &mut [u8]) -> Result<()>,
    ) -> Result<()> {
        self.require_memory("setting inputs")?;
        let g = &self.model.meta.graph;
        let (Some(&t), Some(buf)) = (g.inputs.get(i), self.inputs.get_mut(i)) else {
            return Err(Error::new(
                ErrorKind::InputInvalid,
                format!(
                    "input index {i} out of range (model has {} inputs)",
                    g.inputs.len()
                ),
            ));
        };
        let info = &g.tensors[t];
        let bytes = info.bytes();
        let dst = buf
            .as_mut_slice()
            .get_mut(..bytes)
            .ok_or_else(|| Error::new(ErrorKind::Fail, format!("input {i} buffer is too small")))?;
        fill(info, dst)?;
        self.inputs_set[i] = true;
        Ok(())
    }

    /// The bytes of output `i` after a run.
    pub fn output_bytes(&self, i: usize) -> Result<&[u8]> {
        let g = &self.model.meta.graph;
        let Some(&t) = g.outputs.get(i) else {
            return Err(Error::new(
                ErrorKind::OutputInvalid,
                format!(
                    "output index {i} out of range (model has {} outputs)",
                    g.outputs.len()
                ),
            ));
        };
        if !self.has_run {
            return Err(Error::new(
                ErrorKind::Fail,
                "no output yet: call rknn_run first",
            ));
        }
        let bytes = g.tensors[t].bytes();
        let src: Option<&[u8]> = match self.plan.locations[t] {
            Location::Output(j) => self.outputs.get(j).map(|b| b.as_slice()),
            Location::Input(j) => self.inputs.get(j).map(|b| b.as_slice()),
            Location::Weight(off) => self.model.weights().get(off..),
            Location::Arena(off) => self.arena.as_ref().and_then(|a| a.as_slice().get(off..)),
            Location::Unused => None,
        };
        src.and_then(|s| s.get(..bytes))
            .ok_or_else(|| Error::new(ErrorKind::Fail, format!("output {i} has no backing memory")))
    }

    /// Runs the model once.
    pub fn run(&mut self) -> Result<()> {
        self.require_memory("rknn_run")?;
        if let Some(i) = self.inputs_set.iter().position(|s| !s) {
            tracing::warn!("rknn_run: input {i} was never set; its buffer holds zeros");
        }
        let region = |b: &mut Buffer| Region {
            ptr: b.as_ptr(),
            len: b.size(),
        };
        let arena = match self.arena.as_mut() {
            Some(a) => region(a),
            None => return Err(Error::new(ErrorKind::Fail, "no arena")),
        };
        let inputs: Vec<Region> = self.inputs.iter_mut().map(region).collect();
        let outputs: Vec<Region> = self.outputs.iter_mut().map(region).collect();
        let mem = Memory {
            arena,
            inputs: &inputs,
            outputs: &outputs,
            weights: self.model.weights(),
        };
        let collect = self.collects_perf();
        let start = Instant::now();
        let result = exec::run(
            &self.model.meta.graph,
            &self.plan,
            &mem,
            collect.then_some(&mut self.perf.nodes),
        );
        self.perf.run = start.elapsed();
        result?;
        self.has_run = true;
        Ok(())
    }
}
