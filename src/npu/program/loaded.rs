//! A vendor program on a device: its buffers, the patched streams and
//! task records, tensor addresses, and the jobs of a run.

use std::collections::HashMap;

use super::{ProgramError, Region, VendorProgram};
use crate::driver::{
    AllocRequest, Buffer, CachePolicy, Device, DriverError, Job, SyncDir, TaskRange,
};
use crate::model::vendor::TASK_RECORD_LEN;
use crate::model::ModelError;

/// One job of a run: what [`crate::driver::Job`] needs besides buffers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobPlan {
    /// Device core mask (0: the driver picks one core).
    pub core_mask: u32,
    /// First task of the job.
    pub task_start: u32,
    /// Tasks from `task_start` spanned by the job.
    pub task_count: u32,
    /// With several cores: each core's tasks, lowest core first.
    pub core_tasks: Vec<TaskRange>,
}

/// A program whose buffers live on a device, ready to run.
#[derive(Debug)]
pub struct LoadedProgram {
    program: VendorProgram,
    regcmd: Buffer,
    tasks: Buffer,
    weights: Buffer,
    aux: Option<Buffer>,
    extra: Option<Buffer>,
    internal: Buffer,
    /// Tensors placed outside the program's own memory: device address.
    bound: HashMap<usize, u64>,
}

fn alloc(
    device: &dyn Device,
    size: u64,
    cache: CachePolicy,
    kernel: bool,
) -> Result<Buffer, DriverError> {
    let size = usize::try_from(size).map_err(|_| DriverError::Alloc {
        size: usize::MAX,
        reason: format!("{size} bytes do not fit the address space"),
    })?;
    device.allocate(&AllocRequest {
        size,
        cache,
        try_sram: false,
        kernel_mapping: kernel,
    })
}

fn addr32(addr: u64, what: &str) -> Result<u32, ModelError> {
    u32::try_from(addr).map_err(|_| {
        ModelError::Invalid(format!(
            "{what}: device address {addr:#x} does not fit the NPU's 32-bit addresses"
        ))
    })
}

/// Writes `value` into the value field (bits 47..16) of word `index`.
fn patch(stream: &mut [u8], index: u32, value: u32) {
    let at = index as usize * 8;
    let mut w = u64::from_le_bytes(stream[at..at + 8].try_into().expect("8 bytes"));
    w = (w & !(0xFFFF_FFFFu64 << 16)) | (u64::from(value) << 16);
    stream[at..at + 8].copy_from_slice(&w.to_le_bytes());
}

impl LoadedProgram {
    /// Allocates the program's buffers on `device` (regcmd, weights and
    /// auxiliary memory write-combined, the task records with a kernel
    /// mapping, internal memory cacheable), copies the streams and
    /// constants from `file`, and patches every relocated word, every
    /// task's regcmd address and every chain word with device addresses.
    pub fn load(
        program: &VendorProgram,
        device: &dyn Device,
        file: &[u8],
    ) -> Result<LoadedProgram, ProgramError> {
        let layout = &program.layout;
        let wc = CachePolicy::WriteCombine;
        let stream = &file[program.regcmd.clone()];
        let mut regcmd = alloc(device, stream.len() as u64, wc, false)?;
        regcmd.as_mut_slice()[..stream.len()].copy_from_slice(stream);
        let tasks = alloc(
            device,
            (program.tasks.len() * TASK_RECORD_LEN) as u64,
            wc,
            true,
        )?;
        let mut weights = alloc(device, layout.weight_size, wc, false)?;
        let mut aux = if layout.aux_size > 0 {
            Some(alloc(device, layout.aux_size, wc, false)?)
        } else {
            None
        };
        let mut extra = if layout.extra_size > 0 {
            Some(alloc(
                device,
                layout.extra_size,
                CachePolicy::Cacheable,
                false,
            )?)
        } else {
            None
        };
        let internal = alloc(device, layout.internal_size, CachePolicy::Cacheable, false)?;
        for c in &layout.consts {
            let dst = match c.region {
                Region::Aux => aux.as_mut().map(Buffer::as_mut_slice),
                Region::Extra => extra.as_mut().map(Buffer::as_mut_slice),
                Region::Weights => Some(weights.as_mut_slice()),
                Region::Internal => None,
            };
            let dst = dst.ok_or_else(|| {
                ModelError::Invalid(format!(
                    "a constant in {} without that memory",
                    c.region.name()
                ))
            })?;
            let at = c.offset as usize;
            dst[at..at + c.file.len()].copy_from_slice(&file[c.file.clone()]);
        }
        let mut loaded = LoadedProgram {
            program: program.clone(),
            regcmd,
            tasks,
            weights,
            aux,
            extra,
            internal,
            bound: HashMap::new(),
        };
        loaded.write_tasks()?;
        loaded.patch_chains()?;
        for t in 0..program.layout.tensors.len() {
            loaded.patch_tensor(t)?;
        }
        Ok(loaded)
    }

    /// The program this was loaded from.
    pub fn program(&self) -> &VendorProgram {
        &self.program
    }

    fn write_tasks(&mut self) -> Result<(), ModelError> {
        let base = self.regcmd.dev_addr();
        let records = self.tasks.as_mut_slice();
        for (i, t) in self.program.tasks.iter().enumerate() {
            let addr = addr32(base + t.regcmd_addr, &format!("task {i}"))?;
            let fields = [
                t.flags,
                t.op_idx,
                t.enable_mask,
                t.int_mask,
                t.int_clear,
                0,
                t.regcfg_amount,
                t.regcfg_offset,
            ];
            let rec = &mut records[i * TASK_RECORD_LEN..(i + 1) * TASK_RECORD_LEN];
            for (k, f) in fields.iter().enumerate() {
                rec[4 * k..4 * k + 4].copy_from_slice(&f.to_le_bytes());
            }
            rec[32..40].copy_from_slice(&u64::from(addr).to_le_bytes());
        }
        Ok(())
    }

    fn patch_chains(&mut self) -> Result<(), ModelError> {
        let base = self.regcmd.dev_addr();
        for &(word, next) in &self.program.chain_words {
            let addr = addr32(base + u64::from(next), &format!("chain word {word}"))?;
            patch(self.regcmd.as_mut_slice(), word, addr);
        }
        Ok(())
    }

    /// Rewrites every word relocated for tensor `t` with its current address.
    fn patch_tensor(&mut self, t: usize) -> Result<(), ModelError> {
        let Some(base) = self.tensor_address(t) else {
            return Ok(());
        };
        let name = self.program.tensor_name(t).to_string();
        for r in self.program.relocs.iter().filter(|r| r.tensor == t) {
            let addr = addr32(base + u64::from(r.offset), &format!("tensor {name}"))?;
            patch(self.regcmd.as_mut_slice(), r.word, addr);
        }
        Ok(())
    }

    /// The buffer holding `region`.
    pub fn buffer(&self, region: Region) -> Option<&Buffer> {
        match region {
            Region::Weights => Some(&self.weights),
            Region::Aux => self.aux.as_ref(),
            Region::Extra => self.extra.as_ref(),
            Region::Internal => Some(&self.internal),
        }
    }

    /// The program's internal memory (activations, and the inputs and
    /// outputs not bound elsewhere).
    pub fn internal(&self) -> &Buffer {
        &self.internal
    }

    /// The program's internal memory, mutably.
    pub fn internal_mut(&mut self) -> &mut Buffer {
        &mut self.internal
    }

    /// The patched regcmd stream.
    pub fn regcmd(&self) -> &Buffer {
        &self.regcmd
    }

    /// The task records with device addresses.
    pub fn task_buffer(&self) -> &Buffer {
        &self.tasks
    }

    /// The device address tensor `t` currently has (its own memory, or
    /// where [`bind`](Self::bind) put it); `None` for tensors without
    /// memory.
    pub fn tensor_address(&self, t: usize) -> Option<u64> {
        if let Some(&a) = self.bound.get(&t) {
            return Some(a);
        }
        let p = (*self.program.layout.tensors.get(t)?)?;
        Some(self.buffer(p.region)?.dev_addr() + p.offset)
    }

    /// The bytes of tensor `t` in the program's own memory (even while it
    /// is bound elsewhere).
    pub fn tensor_bytes(&self, t: usize) -> Option<&[u8]> {
        let p = (*self.program.layout.tensors.get(t)?)?;
        let buf = self.buffer(p.region)?;
        buf.as_slice()
            .get(p.offset as usize..(p.offset + p.size) as usize)
    }

    /// The bytes of tensor `t` in the program's own internal memory,
    /// mutably (inputs are written here unless bound elsewhere).
    pub fn tensor_bytes_mut(&mut self, t: usize) -> Option<&mut [u8]> {
        let p = (*self.program.layout.tensors.get(t)?)?;
        if p.region != Region::Internal {
            return None;
        }
        self.internal
            .as_mut_slice()
            .get_mut(p.offset as usize..(p.offset + p.size) as usize)
    }

    /// Moves tensor `t` to `size` bytes at device address `addr` (a buffer
    /// of the caller's, e.g. zero-copy user memory) and re-patches every
    /// word that addresses it. `size` must cover the tensor.
    pub fn bind(&mut self, t: usize, addr: u64, size: u64) -> Result<(), ProgramError> {
        let name = self.program.tensor_name(t).to_string();
        let Some(p) = self.program.layout.tensors.get(t).copied().flatten() else {
            return Err(ModelError::Invalid(format!("tensor {name} has no memory to move")).into());
        };
        if size < p.size {
            return Err(DriverError::Invalid(format!(
                "tensor {name} needs {} bytes but the buffer has {size}",
                p.size
            ))
            .into());
        }
        addr32(addr + p.size.saturating_sub(1), &format!("tensor {name}"))?;
        self.bound.insert(t, addr);
        self.patch_tensor(t)?;
        Ok(())
    }

    /// Puts tensor `t` back into the program's own memory.
    pub fn unbind(&mut self, t: usize) -> Result<(), ProgramError> {
        if self.bound.remove(&t).is_some() {
            self.patch_tensor(t)?;
        }
        Ok(())
    }

    /// The jobs a run on `core_mask` submits, in order. Mask 0 runs the
    /// 1-core schedule on a core the driver picks; otherwise the schedule
    /// for as many cores as the mask selects (or the largest the file
    /// has), its core `k` on the `k`-th selected core.
    pub fn jobs(&self, core_mask: u32) -> Result<Vec<JobPlan>, DriverError> {
        let chip = self.program.platform.cores();
        if chip < 32 && core_mask >> chip != 0 {
            return Err(DriverError::Invalid(format!(
                "core mask {core_mask:#x} selects cores {} does not have",
                self.program.platform.name()
            )));
        }
        let selected: Vec<u32> = (0..32).filter(|b| core_mask & (1 << b) != 0).collect();
        let n = selected.len().max(1).min(self.program.schedules.len());
        let schedule = &self.program.schedules[n - 1];
        let mut plans = Vec::with_capacity(schedule.steps.len());
        for step in &schedule.steps {
            let cores: Vec<u32> = step.parts.iter().map(|p| p.core).collect();
            let physical = |k: u32| selected.get(k as usize).copied();
            let start = step.parts.iter().map(|p| p.tasks.start).min().unwrap_or(0);
            let end = step
                .parts
                .iter()
                .map(|p| p.tasks.start + p.tasks.count)
                .max()
                .unwrap_or(0);
            let mask = if core_mask == 0 {
                0
            } else {
                cores
                    .iter()
                    .map(|&k| physical(k).map(|b| 1u32 << b))
                    .sum::<Option<u32>>()
                    .ok_or_else(|| {
                        DriverError::Invalid(format!(
                            "core mask {core_mask:#x} has fewer cores than schedule {n} uses"
                        ))
                    })?
            };
            let core_tasks = if step.parts.len() > 1 {
                step.parts.iter().map(|p| p.tasks).collect()
            } else {
                Vec::new()
            };
            plans.push(JobPlan {
                core_mask: mask,
                task_start: start,
                task_count: end - start,
                core_tasks,
            });
        }
        Ok(plans)
    }

    /// Runs the program on `core_mask` (see [`jobs`](Self::jobs)) and
    /// waits for it. `extra` lists the caller's buffers the program reads
    /// or writes (tensors moved with [`bind`](Self::bind)).
    pub fn run(
        &self,
        device: &dyn Device,
        core_mask: u32,
        extra: &[&Buffer],
    ) -> Result<(), ProgramError> {
        device.sync(&self.internal, 0, self.internal.size(), SyncDir::ToDevice)?;
        let mut reads: Vec<&Buffer> = vec![&self.regcmd, &self.weights, &self.internal];
        reads.extend(self.aux.iter());
        reads.extend(self.extra.iter());
        reads.extend_from_slice(extra);
        let mut writes: Vec<&Buffer> = vec![&self.internal, &self.weights];
        writes.extend(self.extra.iter());
        writes.extend_from_slice(extra);
        for plan in self.jobs(core_mask)? {
            let mut job = Job::new(&self.tasks, plan.task_start, plan.task_count);
            job.core_mask = plan.core_mask;
            job.core_tasks = &plan.core_tasks;
            job.reads = &reads;
            job.writes = &writes;
            device.submit(&job)?;
        }
        device.sync(&self.internal, 0, self.internal.size(), SyncDir::FromDevice)?;
        Ok(())
    }
}
