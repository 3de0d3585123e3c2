//! A context: one loaded model with its memory, ready to run.

mod shapes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::attrs::{self, AttrKind, TensorAttr};
use super::bindings::{self, InternalMem, IoBinding, IoFormat, ModelMemory, UserMemory};
use super::dump::{DumpTensor, Dumper};
use super::error::{Error, ErrorKind, Result};
use super::exec::{self, Memory, Region};
use super::io::{self, LayoutSpec};
use super::plan::{self, Location, Plan};
use super::vendor::engine::{Engine, Mem, RunMemory, RunObserver};
use super::vendor::VendorPlan;
use crate::custom_op::{CustomOps, OpDef};
use crate::driver::{Buffer, Device, SyncDir};
use crate::graph::{TensorId, TensorInfo};
use crate::kernels::fast_gemm::threads::with_thread_budget;
use crate::model::Model;
use crate::platform::Platform;

/// `RKNN_FLAG_COLLECT_PERF_MASK`.
pub const FLAG_COLLECT_PERF: u32 = 0x8;
/// `RKNN_FLAG_COLLECT_MODEL_INFO_ONLY`.
pub const FLAG_MODEL_INFO_ONLY: u32 = 0x100;
/// `RKNN_FLAG_MEM_ALLOC_OUTSIDE`: weights, internal and IO memory all
/// come from the user.
pub const FLAG_MEM_ALLOC_OUTSIDE: u32 = 0x10;
/// `RKNN_FLAG_INTERNAL_ALLOC_OUTSIDE`: internal memory comes from the user.
pub const FLAG_INTERNAL_ALLOC_OUTSIDE: u32 = 0x200;
/// `RKNN_FLAG_DISABLE_FLUSH_INPUT_MEM_CACHE`: no cache sync of bound input
/// memory before a run.
pub const FLAG_DISABLE_FLUSH_INPUT: u32 = 0x4000;
/// `RKNN_FLAG_DISABLE_FLUSH_OUTPUT_MEM_CACHE`: no cache sync of bound
/// output memory after a run.
pub const FLAG_DISABLE_FLUSH_OUTPUT: u32 = 0x8000;

/// Which of the two IO paths a context uses; they cannot be mixed
/// (reference §4.7, user guide §5.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IoPath {
    /// Neither yet.
    #[default]
    Unset,
    /// `rknn_inputs_set` / `rknn_outputs_get`.
    General,
    /// `rknn_set_io_mem`.
    ZeroCopy,
}

/// What the last run did besides computing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Bytes the run converted or copied between bound memory and the
    /// executor's buffers (0 when every bound tensor is used in place).
    pub bytes_copied: u64,
    /// Cache syncs the run made on bound memory.
    pub syncs: u32,
}

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

/// A loaded model with its memory, ready to run.
#[derive(Debug)]
pub struct Context {
    model: Arc<Model>,
    plan: Arc<Plan>,
    /// Vendor models: how their tensors are stored and the steps of a run.
    vendor: Option<Arc<VendorPlan>>,
    /// Vendor models: the NPU program on this context's device (absent
    /// with `RKNN_FLAG_COLLECT_MODEL_INFO_ONLY`).
    engine: Option<Engine>,
    device: Arc<dyn Device>,
    platform: Platform,
    flags: u32,
    /// The context's own arena (absent with the ALLOC_OUTSIDE flags or
    /// once user internal memory is set).
    arena: Option<Buffer>,
    internal: Option<InternalMem>,
    weights: Option<Arc<dyn UserMemory>>,
    /// Own IO buffers: the executor's tensors when no user memory is used
    /// in place (absent with `RKNN_FLAG_MEM_ALLOC_OUTSIDE` until needed).
    inputs: Vec<Option<Buffer>>,
    outputs: Vec<Option<Buffer>>,
    in_bind: Vec<Option<IoBinding>>,
    out_bind: Vec<Option<IoBinding>>,
    inputs_set: Vec<bool>,
    path: IoPath,
    model_memory: Option<ModelMemory>,
    stats: RunStats,
    has_run: bool,
    core_mask: u32,
    perf: Perf,
    /// Multi-batch models: input and output tensors with all batches.
    io: Option<Arc<super::batch::IoInfos>>,
    /// Multi-batch models: arenas of the batch workers beyond the first.
    batch_arenas: Vec<Buffer>,
    /// Shape sets of a dynamic-shape model (`shapes`).
    shapes: Option<shapes::DynamicState>,
    /// Registered custom ops and their nodes (`destroy` callbacks run
    /// when the context is dropped).
    custom: CustomOps,
}

/// A place user memory is set on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Input(usize),
    Output(usize),
    Weights,
    Internal,
}

fn empty_region() -> Region {
    Region {
        ptr: std::ptr::NonNull::<u8>::dangling().as_ptr(),
        len: 0,
        fd: -1,
    }
}

impl Context {
    /// Creates a context for `model` on `device`, planning and allocating
    /// its memory (only the plan with `RKNN_FLAG_COLLECT_MODEL_INFO_ONLY`;
    /// no arena with the ALLOC_OUTSIDE flags, no IO buffers with
    /// `RKNN_FLAG_MEM_ALLOC_OUTSIDE`).
    pub fn new(model: Arc<Model>, device: Arc<dyn Device>, flags: u32) -> Result<Context> {
        if model.vendor().is_some() {
            let vendor = Arc::new(VendorPlan::new(&model)?);
            let plan = Arc::new(vendor.plan.clone());
            return Context::with_plan(model, plan, Some(vendor), device, flags);
        }
        let plan = Arc::new(plan::plan(&model.meta.graph));
        Context::with_plan(model, plan, None, device, flags)
    }

    /// A second context sharing this one's model, weights and plan but with
    /// its own memory (`rknn_dup_context`). User memory is not carried over.
    pub fn duplicate(&self) -> Result<Context> {
        let mut c = Context::with_plan(
            self.model.clone(),
            self.plan.clone(),
            self.vendor.clone(),
            self.device.clone(),
            self.flags,
        )?;
        c.model_memory = self.model_memory.clone();
        Ok(c)
    }

    fn with_plan(
        model: Arc<Model>,
        plan: Arc<Plan>,
        vendor: Option<Arc<VendorPlan>>,
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
        if vendor.is_some() && device.name() == "host" {
            return Err(Error::new(
                ErrorKind::DeviceUnavailable,
                "this model was compiled by the vendor toolkit and runs only as its NPU program: \
                 use RKNNRT_DEVICE=sim (the virtual NPU) on a machine without an NPU, or a board \
                 with the rknpu or rocket driver; RKNNRT_DEVICE=host runs only models made by \
                 rknn-convert",
            ));
        }
        let graph = &model.meta.graph;
        let batch = model.meta.batch_size.max(1) as usize;
        if batch > 1 {
            super::batch::check_plan(graph, &plan)?;
        }
        let io = (batch > 1).then(|| Arc::new(super::batch::IoInfos::of(graph, batch)));
        let info_only = flags & FLAG_MODEL_INFO_ONLY != 0;
        let outside = flags & FLAG_MEM_ALLOC_OUTSIDE != 0;
        let internal_outside = outside || flags & FLAG_INTERNAL_ALLOC_OUTSIDE != 0;
        let dynamic = shapes::DynamicState::for_model(&model)?;
        let alloc_io = |n: usize, input: bool| -> Result<Vec<Option<Buffer>>> {
            (0..n)
                .map(|i| {
                    if info_only || outside {
                        Ok(None)
                    } else {
                        let bytes =
                            io_buffer_bytes(vendor.as_deref(), dynamic.as_ref(), &model, input, i);
                        Ok(Some(device.alloc(bytes)?))
                    }
                })
                .collect()
        };
        // A vendor program has its own internal memory.
        let arena = if info_only || internal_outside || vendor.is_some() {
            None
        } else {
            let size = dynamic
                .as_ref()
                .map_or(plan.arena_size, shapes::DynamicState::arena_size);
            Some(device.alloc(size)?)
        };
        let inputs = alloc_io(graph.inputs.len(), true)?;
        let outputs = alloc_io(graph.outputs.len(), false)?;
        let workers = super::batch_workers_default(platform, batch);
        let batch_arenas = if info_only || internal_outside {
            Vec::new()
        } else {
            (1..workers)
                .map(|_| device.alloc(plan.arena_size).map_err(Error::from))
                .collect::<Result<Vec<_>>>()?
        };
        let engine = match &vendor {
            Some(v) if !info_only => Some(Engine::load(v, &*device, model.bytes())?),
            _ => None,
        };
        Ok(Context {
            inputs_set: vec![false; graph.inputs.len()],
            in_bind: vec![None; graph.inputs.len()],
            out_bind: vec![None; graph.outputs.len()],
            model,
            plan,
            vendor,
            engine,
            device,
            platform,
            flags,
            arena,
            internal: None,
            weights: None,
            inputs,
            outputs,
            path: IoPath::Unset,
            model_memory: None,
            stats: RunStats::default(),
            has_run: false,
            core_mask: 0,
            perf: Perf::default(),
            io,
            batch_arenas,
            shapes: dynamic,
            custom: CustomOps::default(),
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

    /// Where the model's bytes live in device memory, when they do
    /// (`RKNN_QUERY_DEVICE_MEM_INFO`).
    pub fn model_memory(&self) -> Option<&ModelMemory> {
        self.model_memory.as_ref()
    }

    /// Records where the model's bytes live (set by the loader's caller).
    pub fn set_model_memory(&mut self, mem: Option<ModelMemory>) {
        self.model_memory = mem;
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

    /// Tensor of input `i` (at the current shape set; all batches of
    /// a multi-batch model).
    pub fn input_info(&self, i: usize) -> Option<&TensorInfo> {
        if let Some(io) = &self.io {
            return io.inputs.get(i);
        }
        let g = self.graph();
        g.inputs.get(i).map(|&t| &g.tensors[t])
    }

    /// Tensor of output `i` (at the current shape set; all batches of
    /// a multi-batch model).
    pub fn output_info(&self, i: usize) -> Option<&TensorInfo> {
        if let Some(io) = &self.io {
            return io.outputs.get(i);
        }
        let g = self.graph();
        g.outputs.get(i).map(|&t| &g.tensors[t])
    }

    /// Tensor `t` as the executor stores it: the description its
    /// conversions use, its layout (`Undefined`: model order) and its size
    /// in bytes. Tensors are those of the current shape set; the inputs
    /// and outputs of a multi-batch model hold every batch.
    fn stored(&self, t: TensorId) -> Option<(&TensorInfo, LayoutSpec, usize)> {
        if let Some(v) = &self.vendor {
            return v.stored(t).map(|s| (&s.view, s.spec, s.bytes));
        }
        let g = self.graph();
        let batched = self.io.as_ref().and_then(|io| {
            let input = g.inputs.iter().position(|&x| x == t);
            let output = g.outputs.iter().position(|&x| x == t);
            input
                .and_then(|i| io.inputs.get(i))
                .or_else(|| output.and_then(|j| io.outputs.get(j)))
        });
        let info = batched.or_else(|| g.tensors.get(t))?;
        Some((info, LayoutSpec::UNDEFINED, info.bytes()))
    }

    /// Input `i` as the executor stores it: the description the input
    /// conversion fills (the model's tensor, or its 4-D view for a vector
    /// stored in NC1HWC2 blocks) and the layout it is stored in.
    pub fn input_tensor(&self, i: usize) -> Option<(&TensorInfo, LayoutSpec)> {
        let t = *self.graph().inputs.get(i)?;
        self.stored(t).map(|(info, l, _)| (info, l))
    }

    /// Output `j` as the executor stores it (see [`Context::input_tensor`]).
    pub fn output_tensor(&self, j: usize) -> Option<(&TensorInfo, LayoutSpec)> {
        let t = *self.graph().outputs.get(j)?;
        self.stored(t).map(|(info, l, _)| (info, l))
    }

    /// Whether the model was compiled by the vendor toolkit.
    pub fn is_vendor(&self) -> bool {
        self.vendor.is_some()
    }

    /// The attributes `rknn_query` reports for input (`input`) or output
    /// `index` in the view `kind`. Vendor models report their native
    /// layouts from the file (`docs/vendor-compat.md`).
    pub fn attr(&self, input: bool, index: usize, kind: AttrKind) -> Result<TensorAttr> {
        let g = &self.model.meta.graph;
        let (ids, what) = if input {
            (&g.inputs, "input")
        } else {
            (&g.outputs, "output")
        };
        let &t = ids.get(index).ok_or_else(|| {
            Error::new(
                ErrorKind::ParamInvalid,
                format!("{what} index({index}) >= model {what} num({})", ids.len()),
            )
        })?;
        let info = &g.tensors[t];
        let a = match self.vendor.as_ref().and_then(|v| v.stored(t)) {
            Some(s) => attrs::vendor_attr(index, info, s, kind),
            None => attrs::attr(index, info, kind, self.platform),
        };
        a.map_err(|e| Error::new(ErrorKind::Fail, format!("tensor '{}': {e}", info.name)))
    }

    /// `rknn_batch_size` of the model (1 for single-batch models).
    pub fn batch_size(&self) -> usize {
        self.model.meta.batch_size.max(1) as usize
    }

    /// Batches run at the same time (1 + the extra arenas).
    pub fn batch_workers(&self) -> usize {
        1 + self.batch_arenas.len()
    }

    /// `rknn_set_batch_core_num`: runs the batches of a multi-batch model
    /// on `n` workers (checked against the platform's cores; each worker
    /// beyond the first gets its own arena). On a single-batch model the
    /// number is checked and has no effect.
    pub fn set_batch_core_num(&mut self, n: i32) -> Result<()> {
        let k = super::cores::check_batch_core_num(self.platform, n)?;
        let want = k.min(self.batch_size());
        if self.batch_size() == 1 || self.arena.is_none() {
            return Ok(());
        }
        self.batch_arenas.truncate(want - 1);
        while self.batch_arenas.len() + 1 < want {
            let a = self.device.alloc(self.plan.arena_size)?;
            self.batch_arenas.push(a);
        }
        Ok(())
    }

    /// Memory totals.
    pub fn mem_size(&self) -> MemSize {
        let own = self
            .arena
            .iter()
            .chain(&self.batch_arenas)
            .chain(self.inputs.iter().flatten())
            .chain(self.outputs.iter().flatten());
        MemSize {
            weight: self.weight_size(),
            internal: self.arena_capacity() as u64,
            dma_allocated: own.map(|b| b.size() as u64).sum::<u64>()
                + self.engine.as_ref().map_or(0, Engine::allocated),
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

    /// The per-layer profile of the last run (`RKNN_QUERY_PERF_DETAIL`,
    /// and the table printed at `RKNN_LOG_LEVEL` 4): graph nodes timed on
    /// the CPU for our models, the vendor's layers with their NPU/CPU
    /// targets for vendor models.
    pub fn perf_detail(&self) -> String {
        match &self.vendor {
            Some(v) => super::perf::table(&v.perf_rows(&self.model.meta.graph, &self.perf.nodes)),
            None => super::perf::detail(self.graph(), &self.perf.nodes, "CPU"),
        }
    }

    /// Copies and syncs of the last run.
    pub fn last_run_stats(&self) -> RunStats {
        self.stats
    }

    /// Whether `run` has completed at least once.
    pub fn has_run(&self) -> bool {
        self.has_run
    }

    /// The current core mask.
    pub fn core_mask(&self) -> u32 {
        self.core_mask
    }

    /// The IO path in use.
    pub fn io_path(&self) -> IoPath {
        self.path
    }

    /// Commits the context to `path` (`what` names the call for the
    /// message); fails if it already uses the other one.
    pub fn claim_path(&mut self, path: IoPath, what: &str) -> Result<()> {
        self.check_path(path, what)?;
        self.path = path;
        Ok(())
    }

    /// Fails if the context cannot use `path` (see [`Context::claim_path`]).
    pub fn check_path(&self, path: IoPath, what: &str) -> Result<()> {
        let other = match path {
            IoPath::General => IoPath::ZeroCopy,
            IoPath::ZeroCopy => IoPath::General,
            IoPath::Unset => return Ok(()),
        };
        if self.path == other {
            let (used, by) = match other {
                IoPath::ZeroCopy => ("zero-copy", "rknn_set_io_mem"),
                _ => ("general", "rknn_inputs_set/rknn_outputs_get"),
            };
            return Err(Error::new(
                ErrorKind::Fail,
                format!(
                    "{what} cannot be used: this context already uses the {used} path ({by}); the general and zero-copy APIs cannot be mixed on one context"
                ),
            ));
        }
        if path == IoPath::General && self.flags & FLAG_MEM_ALLOC_OUTSIDE != 0 {
            return Err(Error::new(
                ErrorKind::Fail,
                format!("{what} cannot be used: the context was created with RKNN_FLAG_MEM_ALLOC_OUTSIDE, whose inputs and outputs are given with rknn_set_io_mem only"),
            ));
        }
        Ok(())
    }

    /// Selects NPU cores (`runtime::cores::check_mask`). On the host
    /// device the mask sets how many threads the kernels of this context's
    /// runs use (`runtime::cores::threads_for_mask`).
    pub fn set_core_mask(&mut self, mask: u32) -> Result<()> {
        super::cores::check_mask(self.platform, mask)?;
        self.core_mask = mask;
        Ok(())
    }

    fn require_memory(&self, what: &str) -> Result<()> {
        if self.flags & FLAG_MODEL_INFO_ONLY != 0 {
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
        fill: impl FnOnce(&TensorInfo, LayoutSpec, &mut [u8]) -> Result<()>,
    ) -> Result<()> {
        self.require_memory("setting inputs")?;
        self.require_shape_set("setting inputs")?;
        let capacity = self.io_capacity(true, i);
        let n = self.n_inputs();
        let stored = (self.graph().inputs.get(i).copied())
            .and_then(|t| self.stored(t))
            .map(|(info, l, bytes)| (info.clone(), l, bytes));
        let (Some((info, layout, bytes)), Some(slot)) = (stored, self.inputs.get_mut(i)) else {
            return Err(Error::new(
                ErrorKind::InputInvalid,
                format!("input index {i} out of range (model has {n} inputs)"),
            ));
        };
        let buf = match slot {
            Some(b) => b,
            None => slot.insert(self.device.alloc(capacity)?),
        };
        let dst = buf
            .as_mut_slice()
            .get_mut(..bytes)
            .ok_or_else(|| Error::new(ErrorKind::Fail, format!("input {i} buffer is too small")))?;
        fill(&info, layout, dst)?;
        self.inputs_set[i] = true;
        Ok(())
    }

    /// The buffer the executor reads input `i` from.
    fn input_buffer(&self, i: usize) -> Option<&Buffer> {
        match self.in_bind.get(i) {
            Some(Some(b)) if b.in_place => Some(b.mem.buffer()),
            _ => self.inputs.get(i).and_then(Option::as_ref),
        }
    }

    /// The buffer the executor writes output `j` to.
    fn output_buffer(&self, j: usize) -> Option<&Buffer> {
        match self.out_bind.get(j) {
            Some(Some(b)) if b.in_place => Some(b.mem.buffer()),
            _ => self.outputs.get(j).and_then(Option::as_ref),
        }
    }

    fn weight_bytes(&self) -> &[u8] {
        let len = self.own_weights().len();
        match &self.weights {
            Some(m) => m.buffer().as_slice().get(..len).unwrap_or(&[]),
            None => self.own_weights(),
        }
    }

    /// The weights as the model provides them: the file's weights section,
    /// or a vendor program's weight memory image.
    fn own_weights(&self) -> &[u8] {
        match &self.engine {
            Some(e) => e.weight_image(),
            None => self.model.weights(),
        }
    }

    /// Bytes of weight memory the model needs.
    fn weight_size(&self) -> u64 {
        match self.model.vendor() {
            Some(v) => v.memory.weight,
            None => self.model.weights().len() as u64,
        }
    }

    fn arena_buffer(&self) -> Option<&Buffer> {
        match &self.internal {
            Some(m) => Some(m.mem.buffer()),
            None => self
                .arena
                .as_ref()
                .or_else(|| self.engine.as_ref().map(Engine::internal)),
        }
    }

    /// The bytes of output `i` after a run.
    pub fn output_bytes(&self, i: usize) -> Result<&[u8]> {
        let g = self.graph();
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
        let bytes = self.stored(t).map_or(0, |s| s.2);
        let src: Option<&[u8]> = match self.plan.locations[t] {
            Location::Output(j) => self.output_buffer(j).map(|b| b.as_slice()),
            Location::Input(j) => self.input_buffer(j).map(|b| b.as_slice()),
            Location::Weight(off) => self.weight_bytes().get(off..),
            Location::Arena(off) => self.arena_buffer().and_then(|a| a.as_slice().get(off..)),
            Location::Unused => None,
        };
        src.and_then(|s| s.get(..bytes))
            .ok_or_else(|| Error::new(ErrorKind::Fail, format!("output {i} has no backing memory")))
    }

    /// Whether `mem` overlaps memory set on any other slot of this
    /// context (every slot but `except`).
    fn overlaps_binding(&self, mem: &dyn UserMemory, except: Slot) -> bool {
        let b = mem.buffer();
        let span = (b.as_ptr() as usize, b.as_ptr() as usize + b.size());
        let hits = |slot: Slot, m: &dyn UserMemory| {
            let ob = m.buffer();
            let os = ob.as_ptr() as usize;
            slot != except && os < span.1 && span.0 < os + ob.size()
        };
        let io = |input: bool, list: &[Option<IoBinding>]| {
            list.iter().enumerate().any(|(k, o)| {
                let slot = if input {
                    Slot::Input(k)
                } else {
                    Slot::Output(k)
                };
                o.as_ref().is_some_and(|o| hits(slot, &*o.mem))
            })
        };
        io(true, &self.in_bind)
            || io(false, &self.out_bind)
            || self
                .internal
                .as_ref()
                .is_some_and(|m| hits(Slot::Internal, &*m.mem))
            || self
                .weights
                .as_ref()
                .is_some_and(|m| hits(Slot::Weights, &**m))
    }

    /// Whether `mem` is too small for a vendor model's NPU program to use
    /// in place (it reads or writes the `stored` bytes of the tensor,
    /// `size_with_stride`, which may exceed the data: a 20-byte output in
    /// a 64-byte slot). Such memory is still accepted, converted on every
    /// run, with the vendor runtime's warning; the native size then no
    /// longer applies. Returns the native size to check and whether the
    /// memory is short.
    fn short_of_stored(
        &self,
        mem: &dyn UserMemory,
        stored: usize,
        native_size: Option<usize>,
        what: &str,
    ) -> (Option<usize>, bool) {
        let have = mem.buffer().size();
        if self.vendor.is_none() || have >= stored {
            return (native_size, false);
        }
        tracing::warn!(
            "{what}: the memory holds {have} bytes, less than the {stored} bytes (size_with_stride) \
             the NPU program reads or writes; the data is copied on every run (create the memory \
             with size_with_stride bytes to have it used in place)"
        );
        (None, true)
    }

    /// Binds user memory to input `i` (`rknn_set_io_mem`). The memory must
    /// hold the data in `format` (and at least `native_size` bytes when
    /// the format is the native one). When the format is exactly the
    /// executor's tensor, the executor reads the memory in place;
    /// otherwise each run converts it into the context's input buffer.
    pub fn bind_input(
        &mut self,
        i: usize,
        mem: Arc<dyn UserMemory>,
        format: IoFormat,
        native_size: Option<usize>,
    ) -> Result<()> {
        self.require_memory("rknn_set_io_mem")?;
        self.check_path(IoPath::ZeroCopy, "rknn_set_io_mem")?;
        self.require_shape_set("rknn_set_io_mem")?;
        let what = format!("input {i}");
        let (info, layout) = self
            .input_tensor(i)
            .map(|(info, l)| (info.clone(), l))
            .ok_or_else(|| Error::new(ErrorKind::InputInvalid, format!("{what} out of range")))?;
        if self.overlaps_binding(&*mem, Slot::Input(i)) {
            return Err(Error::new(
                ErrorKind::ParamInvalid,
                format!("{what}: the memory overlaps memory already set on another input, output, weights or internal memory of this context"),
            ));
        }
        let pre = self
            .model
            .meta
            .preprocess
            .get(i)
            .cloned()
            .unwrap_or_default();
        let capacity = self.io_capacity(true, i);
        let (native_size, short) = self.short_of_stored(&*mem, capacity, native_size, &what);
        let mut b = bindings::bind_input(mem, format, &info, layout, &pre, &what, native_size)?;
        b.in_place &= !short;
        if b.in_place {
            self.inputs[i] = None;
        } else {
            let buf = match &mut self.inputs[i] {
                Some(buf) => buf,
                slot => slot.insert(self.device.alloc(capacity)?),
            };
            // Validate the conversion once now: an unsupported type or
            // layout pair fails here, not in every run.
            convert_bound_input(&b, &pre, &info, layout, buf)?;
        }
        self.path = IoPath::ZeroCopy;
        self.in_bind[i] = Some(b);
        self.note_bound(true, i);
        Ok(())
    }

    /// Binds user memory to output `j` (`rknn_set_io_mem`): written in
    /// place by the executor when `format` is exactly its tensor,
    /// converted after every run otherwise.
    pub fn bind_output(
        &mut self,
        j: usize,
        mem: Arc<dyn UserMemory>,
        format: IoFormat,
        native_size: Option<usize>,
    ) -> Result<()> {
        self.require_memory("rknn_set_io_mem")?;
        self.check_path(IoPath::ZeroCopy, "rknn_set_io_mem")?;
        self.require_shape_set("rknn_set_io_mem")?;
        let what = format!("output {j}");
        let g = self.graph();
        let t = *g
            .outputs
            .get(j)
            .ok_or_else(|| Error::new(ErrorKind::OutputInvalid, format!("{what} out of range")))?;
        let (info, layout, bytes) = self
            .stored(t)
            .map(|(i, l, b)| (i.clone(), l, b))
            .ok_or_else(|| {
                Error::new(ErrorKind::OutputInvalid, format!("{what} has no storage"))
            })?;
        let (native_size, short) = self.short_of_stored(&*mem, bytes, native_size, &what);
        let direct = self.plan.locations[t] == Location::Output(j) && !short;
        if self.overlaps_binding(&*mem, Slot::Output(j)) {
            return Err(Error::new(
                ErrorKind::ParamInvalid,
                format!("{what}: the memory overlaps memory already set on another input, output, weights or internal memory of this context"),
            ));
        }
        let b = bindings::bind_output(
            mem,
            format,
            &info,
            (layout, bytes),
            &what,
            native_size,
            direct,
        )?;
        if b.in_place {
            self.outputs[j] = None;
        } else if self.outputs[j].is_none() {
            self.outputs[j] = Some(self.device.alloc(self.io_capacity(false, j))?);
        }
        self.path = IoPath::ZeroCopy;
        self.out_bind[j] = Some(b);
        self.note_bound(false, j);
        Ok(())
    }

    /// Gives the weights memory (`rknn_set_weight_mem`, needs
    /// `RKNN_FLAG_MEM_ALLOC_OUTSIDE`): the weights are copied into it once
    /// and read from it by every run.
    pub fn set_weight_memory(&mut self, mem: Arc<dyn UserMemory>) -> Result<()> {
        self.require_memory("rknn_set_weight_mem")?;
        if self.flags & FLAG_MEM_ALLOC_OUTSIDE == 0 {
            return Err(Error::new(
                ErrorKind::Fail,
                "weights memory can only be given to a context created with RKNN_FLAG_MEM_ALLOC_OUTSIDE",
            ));
        }
        let w = self.own_weights();
        if w.len() as u64 != self.weight_size() {
            return Err(Error::new(
                ErrorKind::Fail,
                "rknn_set_weight_mem: the context has no weights to copy (created with RKNN_FLAG_COLLECT_MODEL_INFO_ONLY)",
            ));
        }
        bindings::check_size(&*mem, w.len(), "weights", ErrorKind::ParamInvalid)?;
        if self.overlaps_binding(&*mem, Slot::Weights) {
            return Err(Error::new(
                ErrorKind::ParamInvalid,
                "weights: the memory overlaps input, output or internal memory of this context",
            ));
        }
        let dst = mem.buffer().as_ptr();
        // SAFETY: the memory holds at least `w.len()` bytes (checked above)
        // and is not the model's own bytes (those are immutable here and
        // live in another buffer or mapping); the caller holds the context
        // exclusively and, per the API contract, does not touch memory
        // while lending it to a call.
        unsafe { std::ptr::copy_nonoverlapping(w.as_ptr(), dst, w.len()) };
        self.weights = Some(mem);
        Ok(())
    }

    /// Gives the internal (intermediate) memory (`rknn_set_internal_mem`):
    /// at least `total_internal_size` bytes. Replaces the context's own
    /// arena; contexts sharing the same memory run one at a time.
    pub fn set_internal_memory(&mut self, mem: Arc<dyn UserMemory>) -> Result<()> {
        self.require_memory("rknn_set_internal_mem")?;
        bindings::check_size(
            &*mem,
            self.arena_capacity(),
            "internal memory (total_internal_size of RKNN_QUERY_MEM_SIZE)",
            ErrorKind::ParamInvalid,
        )?;
        if self.overlaps_binding(&*mem, Slot::Internal) {
            return Err(Error::new(
                ErrorKind::ParamInvalid,
                "internal memory overlaps input, output or weights memory of this context",
            ));
        }
        self.internal = Some(InternalMem::new(mem));
        self.arena = None;
        Ok(())
    }

    /// The executor's regions: arena, inputs and outputs (empty where the
    /// memory is not there).
    fn regions(&self) -> (Region, Vec<Region>, Vec<Region>) {
        let region_of = |b: Option<&Buffer>| b.map_or_else(empty_region, bindings::region);
        let arena = region_of(self.arena_buffer());
        let inputs = (0..self.n_inputs())
            .map(|i| region_of(self.input_buffer(i)))
            .collect();
        let outputs = (0..self.n_outputs())
            .map(|j| region_of(self.output_buffer(j)))
            .collect();
        (arena, inputs, outputs)
    }

    /// Registers custom ops (`rknn_register_custom_ops`): every type once
    /// per context; each node of a registered type is initialised now
    /// with its tensors' current memory.
    pub fn register_custom_ops(&mut self, defs: Vec<OpDef>) -> Result<()> {
        let mut custom = std::mem::take(&mut self.custom);
        let result = self.with_memory(|mem| {
            let graph = self.graph();
            let locate = |t| exec::tensor_mem(graph, &self.plan, mem, t);
            custom.register(defs, graph, &locate)
        });
        self.custom = custom;
        result
    }

    /// Bytes of the context's own buffer for input (`input`) or output
    /// `i` ([`io_buffer_bytes`]).
    fn io_capacity(&self, input: bool, i: usize) -> usize {
        io_buffer_bytes(
            self.vendor.as_deref(),
            self.shapes.as_ref(),
            &self.model,
            input,
            i,
        )
    }

    /// Runs `f` on the memory the executor sees now: the arena, the
    /// input and output buffers (bound or the context's own) and the
    /// weights.
    fn with_memory<R>(&self, f: impl FnOnce(&Memory<'_>) -> R) -> R {
        let (arena, inputs, outputs) = self.regions();
        f(&Memory {
            arena,
            inputs: &inputs,
            outputs: &outputs,
            weights: self.weight_bytes(),
        })
    }

    /// Whether every memory a run needs is there; the error says what is
    /// missing.
    fn check_ready(&self) -> Result<()> {
        let missing = |m: String| Err(Error::new(ErrorKind::Fail, m));
        if self.weights.is_none()
            && self.flags & FLAG_MEM_ALLOC_OUTSIDE != 0
            && self.weight_size() > 0
        {
            return missing("weights memory is not set: the context was created with RKNN_FLAG_MEM_ALLOC_OUTSIDE; call rknn_set_weight_mem first".into());
        }
        if self.arena_buffer().is_none() && self.plan.arena_size > 0 {
            return missing(format!(
                "internal memory is not set: the context was created with {}; call rknn_set_internal_mem with at least {} bytes first",
                if self.flags & FLAG_MEM_ALLOC_OUTSIDE != 0 {
                    "RKNN_FLAG_MEM_ALLOC_OUTSIDE"
                } else {
                    "RKNN_FLAG_INTERNAL_ALLOC_OUTSIDE"
                },
                self.arena_capacity()
            ));
        }
        let gone = |m: &Option<IoBinding>| m.as_ref().is_some_and(|b| b.mem.destroyed());
        let destroyed = |what: String| {
            Err(Error::new(
                ErrorKind::Fail,
                format!("{what} was destroyed with rknn_destroy_mem while still set; set new memory with rknn_set_io_mem"),
            ))
        };
        if let Some(i) = self.in_bind.iter().position(gone) {
            return destroyed(format!("the memory set for input {i}"));
        }
        if let Some(j) = self.out_bind.iter().position(gone) {
            return destroyed(format!("the memory set for output {j}"));
        }
        if self.weights.as_ref().is_some_and(|m| m.destroyed()) {
            return destroyed("the weight memory".into());
        }
        if self.internal.as_ref().is_some_and(|m| m.mem.destroyed()) {
            return destroyed("the internal memory".into());
        }
        for i in 0..self.n_inputs() {
            if self.input_buffer(i).is_none() {
                return missing(format!("input {i} has no memory: set it with rknn_set_io_mem (RKNN_FLAG_MEM_ALLOC_OUTSIDE)"));
            }
        }
        for j in 0..self.n_outputs() {
            if self.output_buffer(j).is_none() {
                return missing(format!("output {j} has no memory: set it with rknn_set_io_mem (RKNN_FLAG_MEM_ALLOC_OUTSIDE)"));
            }
        }
        Ok(())
    }

    /// Runs the model once: bound inputs are synced and converted (unless
    /// read in place), the graph runs, bound outputs are converted (unless
    /// written in place) and synced.
    pub fn run(&mut self) -> Result<()> {
        self.require_memory("rknn_run")?;
        self.check_shape_state()?;
        self.check_ready()?;
        let mut stats = RunStats::default();
        let flush_in = self.flags & FLAG_DISABLE_FLUSH_INPUT == 0;
        let flush_out = self.flags & FLAG_DISABLE_FLUSH_OUTPUT == 0;
        for i in 0..self.n_inputs() {
            let Some(b) = self.in_bind[i].clone() else {
                if !self.inputs_set[i] {
                    tracing::warn!("rknn_run: input {i} was never set; its buffer holds zeros");
                }
                continue;
            };
            if flush_in {
                sync(&*b.mem, b.bytes, SyncDir::ToDevice)?;
                stats.syncs += 1;
            }
            if !b.in_place {
                let (info, layout) = self
                    .input_tensor(i)
                    .map(|(info, l)| (info.clone(), l))
                    .ok_or_else(|| {
                        Error::new(ErrorKind::InputInvalid, format!("input {i} out of range"))
                    })?;
                let pre = self
                    .model
                    .meta
                    .preprocess
                    .get(i)
                    .cloned()
                    .unwrap_or_default();
                let buf = self.inputs[i].as_mut().ok_or_else(|| {
                    Error::new(
                        ErrorKind::Fail,
                        format!("input {i} has no conversion buffer"),
                    )
                })?;
                stats.bytes_copied += convert_bound_input(&b, &pre, &info, layout, buf)? as u64;
            }
        }
        let lock = self.internal.as_ref().map(|m| m.lock.clone());
        let guard = lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|p| p.into_inner()));
        let collect = self.collects_perf();
        let mut nodes = std::mem::take(&mut self.perf.nodes);
        let mut custom = std::mem::take(&mut self.custom);
        let dumper = Dumper::from_env();
        let timings = collect.then_some(&mut nodes);
        let start = Instant::now();
        let result = if self.engine.is_some() {
            self.run_vendor(timings, dumper.as_ref())
        } else {
            self.run_graph(&mut custom, timings, dumper.as_ref())
        };
        let elapsed = start.elapsed();
        self.custom = custom;
        drop(guard);
        self.perf.run = elapsed;
        self.perf.nodes = nodes;
        result?;
        self.has_run = true;
        for j in 0..self.n_outputs() {
            let Some(b) = self.out_bind[j].clone() else {
                continue;
            };
            if !b.in_place {
                let (info, layout) = self
                    .output_tensor(j)
                    .map(|(info, l)| (info.clone(), l))
                    .ok_or_else(|| {
                        Error::new(ErrorKind::OutputInvalid, format!("output {j} out of range"))
                    })?;
                let src = self.output_bytes(j)?;
                let dst = b.mem.buffer();
                if dst.size() < b.bytes {
                    return Err(Error::new(
                        ErrorKind::Fail,
                        format!("output {j}: memory shrank"),
                    ));
                }
                // SAFETY: the memory holds `b.bytes` bytes (checked at bind
                // and just above) and overlaps none of the context's own
                // buffers nor other bound memory (checked at bind), so it
                // does not alias `src`; the context is held exclusively
                // and the user does not touch memory lent to a run.
                let out = unsafe { std::slice::from_raw_parts_mut(dst.as_ptr(), b.bytes) };
                let n = io::convert_output_from(
                    src,
                    layout,
                    &info,
                    b.format.dtype,
                    b.format.layout,
                    out,
                )
                .map_err(|e| Error::new(ErrorKind::OutputInvalid, format!("output {j}: {e}")))?;
                stats.bytes_copied += n as u64;
            }
            if flush_out {
                sync(&*b.mem, b.bytes, SyncDir::FromDevice)?;
                stats.syncs += 1;
            }
        }
        self.stats = stats;
        Ok(())
    }

    /// The CPU executor over the graph (our own models): custom ops bound
    /// first, then the nodes on the core mask's kernel threads, once per
    /// batch of a multi-batch model (layer dumps of single-batch models).
    fn run_graph(
        &self,
        custom: &mut CustomOps,
        timings: Option<&mut Vec<Duration>>,
        dumper: Option<&Dumper>,
    ) -> Result<()> {
        self.with_memory(|mem| self.run_graph_in(mem, custom, timings, dumper))
    }

    /// [`Context::run_graph`] on the memory `mem`.
    fn run_graph_in(
        &self,
        mem: &Memory<'_>,
        custom: &mut CustomOps,
        timings: Option<&mut Vec<Duration>>,
        dumper: Option<&Dumper>,
    ) -> Result<()> {
        let graph = self.graph();
        let locate = |t| exec::tensor_mem(graph, &self.plan, mem, t);
        custom.prepare_run(graph, &locate)?;
        let threads = super::cores::threads_for_mask(self.platform, self.core_mask);
        with_thread_budget(threads, || {
            if self.batch_size() > 1 {
                let arenas: Vec<Region> = std::iter::once(mem.arena)
                    .chain(self.batch_arenas.iter().map(bindings::region))
                    .collect();
                return super::batch::BatchRun {
                    graph,
                    plan: &self.plan,
                    arenas: &arenas,
                    inputs: mem.inputs,
                    outputs: mem.outputs,
                    weights: mem.weights,
                    batch: self.batch_size(),
                }
                .run(timings);
            }
            let mut dump = |k: usize, outs: &[crate::kernels::Out<'_>]| {
                if let Some(d) = dumper {
                    for o in outs {
                        let t = DumpTensor {
                            info: o.info,
                            view: o.info,
                            layout: LayoutSpec::UNDEFINED,
                            bytes: o.data,
                        };
                        d.write(k, graph.nodes[k].op.type_name(), t);
                    }
                }
            };
            exec::run_observed(graph, &self.plan, mem, custom, timings, &mut dump)
        })
    }

    /// A vendor model's steps on the device (`runtime::vendor::engine`).
    fn run_vendor(
        &mut self,
        timings: Option<&mut Vec<Duration>>,
        dumper: Option<&Dumper>,
    ) -> Result<()> {
        let (Some(mut engine), Some(vendor)) = (self.engine.take(), self.vendor.clone()) else {
            return Err(Error::new(
                ErrorKind::Fail,
                "the vendor program is not loaded",
            ));
        };
        let result = (|| {
            let missing =
                |what: String| Error::new(ErrorKind::Fail, format!("{what} has no memory"));
            let mem = RunMemory {
                inputs: (0..self.n_inputs())
                    .map(|i| {
                        self.input_buffer(i)
                            .ok_or_else(|| missing(format!("input {i}")))
                    })
                    .collect::<Result<_>>()?,
                outputs: (0..self.n_outputs())
                    .map(|j| {
                        self.output_buffer(j)
                            .ok_or_else(|| missing(format!("output {j}")))
                    })
                    .collect::<Result<_>>()?,
                internal: self.internal.as_ref().map(|m| Mem {
                    buffer: m.mem.buffer(),
                    device: m.mem.device(),
                }),
                weights: self.weights.as_ref().map(|m| Mem {
                    buffer: m.buffer(),
                    device: m.device(),
                }),
            };
            let obs = RunObserver { timings, dumper };
            engine.run(
                &vendor,
                &self.model.meta.graph,
                &*self.device,
                &mem,
                npu_core_mask(self.core_mask, self.platform),
                obs,
            )
        })();
        self.engine = Some(engine);
        result
    }
}

/// The device core mask of an `rknn_core_mask`: `RKNN_NPU_CORE_ALL`
/// (0xffff) is every core of the platform, `RKNN_NPU_CORE_AUTO` (0) lets
/// the driver pick one.
fn npu_core_mask(mask: u32, platform: Platform) -> u32 {
    if mask == 0xffff {
        (1u32 << platform.cores()) - 1
    } else {
        mask
    }
}

/// Bytes of the context's own buffer for input (`input`) or output `i` of
/// `model`: a vendor model's stored layout, else the tensor's (every
/// batch, the largest over the shape sets of `shapes`).
fn io_buffer_bytes(
    vendor: Option<&VendorPlan>,
    shapes: Option<&shapes::DynamicState>,
    model: &Model,
    input: bool,
    i: usize,
) -> usize {
    let g = &model.meta.graph;
    let ids = if input { &g.inputs } else { &g.outputs };
    match vendor {
        Some(v) => ids.get(i).and_then(|&t| v.stored(t)).map_or(0, |s| s.bytes),
        None => shapes::io_capacity(shapes, model, input, i),
    }
}

/// Converts bound input memory into the context's buffer `dst`, which
/// stores `info` as `layout`.
fn convert_bound_input(
    b: &IoBinding,
    pre: &crate::model::InputPreprocess,
    info: &TensorInfo,
    layout: LayoutSpec,
    dst: &mut Buffer,
) -> Result<usize> {
    let data =
        b.mem.buffer().as_slice().get(..b.bytes).ok_or_else(|| {
            Error::new(ErrorKind::InputInvalid, "bound input memory is too small")
        })?;
    let src = io::InputBuf {
        data,
        dtype: b.format.dtype,
        layout: b.format.layout,
        pass_through: b.format.pass_through,
    };
    let out = dst.as_mut_slice();
    io::convert_input(&src, pre, info, layout, out).map_err(|e| {
        Error::new(
            ErrorKind::InputInvalid,
            format!("input '{}': {e}", info.name),
        )
    })
}

fn sync(mem: &dyn UserMemory, bytes: usize, dir: SyncDir) -> Result<()> {
    mem.device()
        .sync(mem.buffer(), 0, bytes.min(mem.buffer().size()), dir)
        .map_err(Error::from)
}
