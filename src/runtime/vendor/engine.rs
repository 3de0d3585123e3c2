//! A vendor model's NPU program on one context's device, and the runs
//! of its steps: NPU segments submitted as jobs (one per node when layer
//! times or dumps are wanted), CPU steps run by the CPU kernels between
//! them. Tensors the context keeps elsewhere (its input and output
//! buffers, zero-copy user memory, internal and weight memory given from
//! outside) are moved there by re-patching the regcmd words that address
//! them (`npu::program::LoadedProgram::bind`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{CpuStep, Step, VendorPlan};
use crate::driver::{Buffer, Device, Job, SyncDir, TaskRange};
use crate::graph::{Graph, TensorId};
use crate::kernels::{self, In, Out};
use crate::model::InputPreprocess;
use crate::npu::program::{JobPlan, LoadedProgram, ProgramError, Region};
use crate::runtime::dump::{DumpTensor, Dumper};
use crate::runtime::error::{Error, ErrorKind, Result};
use crate::runtime::io::{self, LayoutSpec};
use crate::runtime::plan::Location;

/// Buffers of the caller's, with the device that made them (for cache
/// maintenance).
#[derive(Clone, Copy, Debug)]
pub struct Mem<'a> {
    /// The buffer.
    pub buffer: &'a Buffer,
    /// Its device.
    pub device: &'a dyn Device,
}

/// The memory of one run.
#[derive(Debug)]
pub struct RunMemory<'a> {
    /// One buffer per model input (the context's own or bound user memory).
    pub inputs: Vec<&'a Buffer>,
    /// One buffer per model output.
    pub outputs: Vec<&'a Buffer>,
    /// Internal memory given from outside (`rknn_set_internal_mem`).
    pub internal: Option<Mem<'a>>,
    /// Weight memory given from outside (`rknn_set_weight_mem`).
    pub weights: Option<Mem<'a>>,
}

/// What a run records besides computing.
#[derive(Debug, Default)]
pub struct RunObserver<'a> {
    /// Per-layer times (indexed like [`VendorPlan::layers`]), when wanted.
    pub timings: Option<&'a mut Vec<Duration>>,
    /// Layer dumps, when wanted.
    pub dumper: Option<&'a Dumper>,
}

/// The program of one context.
#[derive(Debug)]
pub struct Engine {
    loaded: LoadedProgram,
    /// Tensors moved out of the program's own memory: (address, size).
    moved: HashMap<TensorId, (u64, u64)>,
}

fn program_err(e: ProgramError) -> Error {
    match e {
        ProgramError::Model(m) => m.into(),
        ProgramError::Driver(d) => d.into(),
    }
}

fn fail(msg: String) -> Error {
    Error::new(ErrorKind::Fail, msg)
}

impl Engine {
    /// Loads `plan`'s program (read from `file`) on `device`.
    pub fn load(plan: &VendorPlan, device: &dyn Device, file: &[u8]) -> Result<Engine> {
        let loaded = plan.program.load(device, file).map_err(program_err)?;
        Ok(Engine {
            loaded,
            moved: HashMap::new(),
        })
    }

    /// The program's own internal memory.
    pub fn internal(&self) -> &Buffer {
        self.loaded.internal()
    }

    /// The weight memory image (what `rknn_set_weight_mem` receives).
    pub fn weight_image(&self) -> &[u8] {
        self.loaded
            .buffer(Region::Weights)
            .map_or(&[], Buffer::as_slice)
    }

    /// Bytes of every buffer the program allocated.
    pub fn allocated(&self) -> u64 {
        let regions = [
            Region::Weights,
            Region::Aux,
            Region::Internal,
            Region::Extra,
        ];
        let own: usize = regions
            .iter()
            .filter_map(|&r| self.loaded.buffer(r))
            .map(Buffer::size)
            .sum();
        (own + self.loaded.regcmd().size() + self.loaded.task_buffer().size()) as u64
    }

    /// Moves tensor `t` to `size` bytes at device address `addr`, unless
    /// it is there already.
    fn place(&mut self, t: TensorId, addr: u64, size: u64) -> Result<()> {
        if self.moved.get(&t) == Some(&(addr, size)) {
            return Ok(());
        }
        self.loaded.bind(t, addr, size).map_err(program_err)?;
        self.moved.insert(t, (addr, size));
        Ok(())
    }

    /// Points every tensor at the memory of this run: inputs and outputs
    /// at their buffers, internal and weight tensors at memory given from
    /// outside when there is some.
    fn bind(&mut self, plan: &VendorPlan, graph: &Graph, mem: &RunMemory<'_>) -> Result<()> {
        let io = graph
            .inputs
            .iter()
            .zip(&mem.inputs)
            .chain(graph.outputs.iter().zip(&mem.outputs));
        for (&t, b) in io {
            self.place(t, b.dev_addr(), b.size() as u64)?;
        }
        for (t, p) in plan.program.layout.tensors.iter().enumerate() {
            let Some(p) = p else { continue };
            let outside = match p.region {
                Region::Internal
                    if !matches!(
                        plan.plan.locations[t],
                        Location::Input(_) | Location::Output(_)
                    ) =>
                {
                    mem.internal
                }
                Region::Weights => mem.weights,
                _ => None,
            };
            if let Some(m) = outside {
                self.place(t, m.buffer.dev_addr() + p.offset, p.size)?;
            }
        }
        Ok(())
    }

    /// CPU address and bytes available of feature tensor `t` in this run.
    fn region(
        &self,
        plan: &VendorPlan,
        mem: &RunMemory<'_>,
        t: TensorId,
    ) -> Result<(*mut u8, usize)> {
        let whole = |b: &Buffer| (b.as_ptr(), b.size());
        match plan.plan.locations.get(t) {
            Some(Location::Input(i)) => mem.inputs.get(*i).map(|b| whole(b)),
            Some(Location::Output(j)) => mem.outputs.get(*j).map(|b| whole(b)),
            _ => plan
                .program
                .layout
                .tensors
                .get(t)
                .copied()
                .flatten()
                .filter(|p| p.region == Region::Internal)
                .and_then(|p| {
                    let b = mem.internal.map_or(self.loaded.internal(), |m| m.buffer);
                    let off = usize::try_from(p.offset).ok()?;
                    (off <= b.size()).then(|| (b.as_ptr().wrapping_add(off), b.size() - off))
                }),
        }
        .ok_or_else(|| fail(format!("tensor {t} has no memory in this run")))
    }

    /// The stored bytes of feature tensor `t`.
    fn bytes<'m>(
        &self,
        plan: &VendorPlan,
        mem: &'m RunMemory<'_>,
        t: TensorId,
    ) -> Result<&'m [u8]> {
        let s = plan
            .stored(t)
            .ok_or_else(|| fail(format!("tensor {t} is not a feature map")))?;
        let (ptr, len) = self.region(plan, mem, t)?;
        if len < s.bytes {
            return Err(fail(format!(
                "tensor '{}' needs {} bytes but its memory has {len}",
                s.view.name, s.bytes
            )));
        }
        // SAFETY: `region` points inside a live buffer of this run with
        // at least `len >= s.bytes` bytes; nothing writes it while the
        // slice lives (the device is idle between jobs and the caller
        // holds the context exclusively).
        Ok(unsafe { std::slice::from_raw_parts(ptr.cast_const(), s.bytes) })
    }

    /// The jobs of `core_mask`'s schedule restricted to nodes `nodes`,
    /// split per node when `per_node`: `(node, job)` in order.
    fn jobs(
        &self,
        core_mask: u32,
        nodes: std::ops::Range<usize>,
        per_node: bool,
    ) -> Result<Vec<(usize, JobPlan)>> {
        let tasks = &self.loaded.program().tasks;
        let op = |k: u32| tasks[k as usize].op_idx as usize;
        let mut out = Vec::new();
        for plan in self.loaded.jobs(core_mask)? {
            if plan.core_tasks.is_empty() {
                // One core: cut the range into runs of one node (or of the
                // segment's nodes).
                let end = plan.task_start + plan.task_count;
                let mut k = plan.task_start;
                while k < end {
                    let node = op(k);
                    let mut j = k + 1;
                    while j < end
                        && nodes.contains(&op(j)) == nodes.contains(&node)
                        && (!per_node || op(j) == node)
                    {
                        j += 1;
                    }
                    if nodes.contains(&node) {
                        out.push((
                            node,
                            JobPlan {
                                core_mask: plan.core_mask,
                                task_start: k,
                                task_count: j - k,
                                core_tasks: Vec::new(),
                            },
                        ));
                    }
                    k = j;
                }
                continue;
            }
            let node = op(plan.core_tasks[0].start);
            let same = plan
                .core_tasks
                .iter()
                .all(|r: &TaskRange| (r.start..r.start + r.count).all(|k| op(k) == node));
            if !same {
                return Err(fail(format!(
                    "a multi-core step of the program mixes operations (tasks from {})",
                    plan.task_start
                )));
            }
            if nodes.contains(&node) {
                out.push((node, plan));
            }
        }
        Ok(out)
    }

    fn submit(&self, device: &dyn Device, plan: &JobPlan, mem: &RunMemory<'_>) -> Result<()> {
        let own = |r: Region| self.loaded.buffer(r);
        let internal = mem.internal.map_or(self.loaded.internal(), |m| m.buffer);
        let weights = mem
            .weights
            .map(|m| m.buffer)
            .or_else(|| own(Region::Weights));
        let mut reads: Vec<&Buffer> = vec![self.loaded.regcmd(), internal];
        reads.extend(weights);
        reads.extend(own(Region::Aux));
        reads.extend(own(Region::Extra));
        reads.extend(mem.inputs.iter().copied());
        let mut writes: Vec<&Buffer> = vec![internal];
        writes.extend(own(Region::Extra));
        writes.extend(mem.outputs.iter().copied());
        let job = Job {
            core_mask: plan.core_mask,
            core_tasks: &plan.core_tasks,
            reads: &reads,
            writes: &writes,
            ..Job::new(self.loaded.task_buffer(), plan.task_start, plan.task_count)
        };
        device.submit(&job).map_err(Error::from)
    }

    fn sync_internal(&self, device: &dyn Device, mem: &RunMemory<'_>, dir: SyncDir) -> Result<()> {
        let (b, d) = match mem.internal {
            Some(m) => (m.buffer, m.device),
            None => (self.loaded.internal(), device),
        };
        d.sync(b, 0, b.size(), dir).map_err(Error::from)
    }

    /// Runs every step of `plan` with `mem` on `core_mask`.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        plan: &VendorPlan,
        graph: &Graph,
        device: &dyn Device,
        mem: &RunMemory<'_>,
        core_mask: u32,
        obs: RunObserver<'_>,
    ) -> Result<()> {
        self.bind(plan, graph, mem)?;
        let RunObserver {
            mut timings,
            dumper,
        } = obs;
        if let Some(t) = timings.as_deref_mut() {
            t.clear();
            t.resize(plan.layers.len(), Duration::ZERO);
        }
        let per_node = timings.is_some() || dumper.is_some();
        for b in &mem.inputs {
            device.sync(b, 0, b.size(), SyncDir::ToDevice)?;
        }
        for step in &plan.steps {
            match step {
                Step::Npu(nodes) => {
                    self.sync_internal(device, mem, SyncDir::ToDevice)?;
                    let jobs = self.jobs(core_mask, nodes.clone(), per_node)?;
                    let mut k = 0;
                    while k < jobs.len() {
                        let node = jobs[k].0;
                        let start = Instant::now();
                        while k < jobs.len() && (!per_node || jobs[k].0 == node) {
                            self.submit(device, &jobs[k].1, mem)?;
                            k += 1;
                        }
                        if per_node {
                            let spent = start.elapsed();
                            if let Some(t) = timings.as_deref_mut() {
                                t[node] += spent;
                            }
                            if let Some(d) = dumper {
                                self.sync_internal(device, mem, SyncDir::FromDevice)?;
                                self.dump(plan, graph, mem, node, d)?;
                            }
                        }
                    }
                    self.sync_internal(device, mem, SyncDir::FromDevice)?;
                    for b in &mem.outputs {
                        device.sync(b, 0, b.size(), SyncDir::FromDevice)?;
                    }
                }
                Step::Cpu(c) => {
                    let start = Instant::now();
                    self.run_cpu(plan, graph, mem, c)?;
                    if let Some(t) = timings.as_deref_mut() {
                        t[c.node] += start.elapsed();
                    }
                    if let Some(d) = dumper {
                        self.dump(plan, graph, mem, c.node, d)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A CPU step: inputs from their storage into model order, the kernel,
    /// the output back into its storage.
    fn run_cpu(
        &self,
        plan: &VendorPlan,
        graph: &Graph,
        mem: &RunMemory<'_>,
        c: &CpuStep,
    ) -> Result<()> {
        let what = |e: String| fail(format!("node {} ({}): {e}", c.node, c.op.type_name()));
        let mut dense = Vec::with_capacity(c.inputs.len());
        for &t in &c.inputs {
            let s = plan
                .stored(t)
                .ok_or_else(|| what(format!("tensor {t} is not a feature map")))?;
            let src = self.bytes(plan, mem, t)?;
            let n = io::output_size_to(&s.view, s.view.dtype, LayoutSpec::UNDEFINED)
                .map_err(|e| what(e.to_string()))?;
            let mut d = vec![0u8; n];
            io::convert_output_from(
                src,
                s.spec,
                &s.view,
                s.view.dtype,
                LayoutSpec::UNDEFINED,
                &mut d,
            )
            .map_err(|e| what(e.to_string()))?;
            dense.push(d);
        }
        let inputs: Vec<In<'_>> = c
            .inputs
            .iter()
            .zip(&dense)
            .map(|(&t, d)| In {
                info: &graph.tensors[t],
                data: d,
            })
            .collect();
        let t = c.outputs[0];
        let out_info = &graph.tensors[t];
        let mut result = vec![0u8; out_info.bytes()];
        kernels::execute(
            &c.op,
            &inputs,
            &mut [Out {
                info: out_info,
                data: &mut result,
            }],
        )
        .map_err(|e| what(e.to_string()))?;
        let s = plan
            .stored(t)
            .ok_or_else(|| what(format!("tensor {t} is not a feature map")))?;
        let (ptr, len) = self.region(plan, mem, t)?;
        if len < s.bytes {
            return Err(what(format!(
                "output '{}' needs {} bytes but its memory has {len}",
                s.view.name, s.bytes
            )));
        }
        // SAFETY: `region` points inside a live buffer of this run with at
        // least `s.bytes` bytes; the inputs were copied out above, so no
        // other view of these bytes exists while this one lives, and the
        // device is idle.
        let dst = unsafe { std::slice::from_raw_parts_mut(ptr, s.bytes) };
        let src = io::InputBuf {
            data: &result,
            dtype: out_info.dtype,
            layout: LayoutSpec::UNDEFINED,
            pass_through: true,
        };
        io::convert_input(&src, &InputPreprocess::default(), &s.view, s.spec, dst)
            .map_err(|e| what(e.to_string()))?;
        Ok(())
    }

    fn dump(
        &self,
        plan: &VendorPlan,
        graph: &Graph,
        mem: &RunMemory<'_>,
        node: usize,
        d: &Dumper,
    ) -> Result<()> {
        let layer = &plan.layers[node];
        for &t in &layer.outputs {
            let Some(s) = plan.stored(t) else { continue };
            match self.bytes(plan, mem, t) {
                Ok(bytes) => {
                    let dt = DumpTensor {
                        info: &graph.tensors[t],
                        view: &s.view,
                        layout: s.spec,
                        bytes,
                    };
                    d.write(node, &layer.op_type, dt);
                }
                Err(e) => tracing::warn!("layer dump of '{}' skipped: {}", s.view.name, e.message),
            }
        }
        Ok(())
    }
}
