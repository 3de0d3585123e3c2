//! `sim`: a virtual RKNPU (`RKNNRT_DEVICE=sim`, `docs/sim.md`).
//!
//! Memory is host memory (memfd + mmap, so fds are real and can be
//! imported and exported) placed in a simulated 32-bit NPU address space
//! ([`memory`]). `submit` runs each selected core's task range the way the
//! kernel and the PC would ([`pc`]): the first task's regcmd from its
//! record, the rest through the tail chain, register writes into a
//! per-core register file, and on each op-enable word the enabled blocks'
//! engines ([`engines`]). Every memory access is bounds-checked; anything
//! the simulator does not understand fails the job with the task, the
//! register and the value.

mod engines;
mod memory;
mod pc;
mod regfile;

#[cfg(test)]
mod tests;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;

use super::{
    AllocRequest, Buffer, CachePolicy, Device, DeviceInfo, DriverError, Job, SyncDir, TaskRange,
};
use crate::model::vendor::TASK_RECORD_LEN;
use crate::platform::Platform;
use memory::{RegionKeep, Space};

/// The virtual NPU.
#[derive(Debug)]
pub struct SimDevice {
    platform: Platform,
    space: Space,
    /// Serialises jobs (one job at a time, like the vendor driver's queue).
    jobs: std::sync::Mutex<()>,
}

impl SimDevice {
    /// A virtual NPU of `platform`.
    pub fn new(platform: Platform) -> SimDevice {
        SimDevice {
            platform,
            space: Arc::default(),
            jobs: std::sync::Mutex::new(()),
        }
    }

    /// A virtual NPU of the platform `RKNNRT_PLATFORM` names (default
    /// rk3588).
    pub fn from_env() -> SimDevice {
        let platform = std::env::var("RKNNRT_PLATFORM")
            .ok()
            .and_then(|p| Platform::from_name(&p))
            .unwrap_or(Platform::Rk3588);
        SimDevice::new(platform)
    }

    fn mine<'b>(&self, buf: &'b Buffer, what: &str) -> Result<&'b RegionKeep, DriverError> {
        buf.backing::<RegionKeep>()
            .filter(|k| k.belongs_to(&self.space))
            .ok_or_else(|| DriverError::Invalid(format!("sim: {what} was not made by this device")))
    }

    /// Each selected core and its tasks.
    fn core_ranges(&self, job: &Job<'_>) -> Result<Vec<(u32, TaskRange)>, DriverError> {
        let chip = self.platform.cores();
        if job.core_mask >> chip != 0 {
            return Err(DriverError::Invalid(format!(
                "sim: core mask {:#x} selects cores the {} does not have ({chip})",
                job.core_mask,
                self.platform.name()
            )));
        }
        let whole = TaskRange {
            start: job.task_start,
            count: job.task_count,
        };
        let cores: Vec<u32> = (0..chip)
            .filter(|c| job.core_mask & (1 << c) != 0)
            .collect();
        if cores.len() <= 1 {
            if !job.core_tasks.is_empty() {
                return Err(DriverError::Invalid(format!(
                    "sim: core_tasks lists {} ranges for a single-core job",
                    job.core_tasks.len()
                )));
            }
            return Ok(vec![(cores.first().copied().unwrap_or(0), whole)]);
        }
        if job.core_tasks.len() != cores.len() {
            return Err(DriverError::Invalid(format!(
                "sim: the job runs on {} cores but core_tasks lists {} ranges",
                cores.len(),
                job.core_tasks.len()
            )));
        }
        let end = u64::from(whole.start) + u64::from(whole.count);
        for r in job.core_tasks {
            if r.count == 0
                || r.start < whole.start
                || u64::from(r.start) + u64::from(r.count) > end
            {
                return Err(DriverError::Invalid(format!(
                    "sim: core tasks {}..{} are empty or outside the job's tasks {}..{end}",
                    r.start,
                    u64::from(r.start) + u64::from(r.count),
                    whole.start
                )));
            }
        }
        Ok(cores
            .into_iter()
            .zip(job.core_tasks.iter().copied())
            .collect())
    }
}

impl Device for SimDevice {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            platform: self.platform,
            driver_version: "sim".to_string(),
            hw_version: None,
            cores: self.platform.cores(),
            sram_total: 0,
            sram_free: 0,
            iommu: true,
        }
    }

    fn allocate(&self, req: &AllocRequest) -> Result<Buffer, DriverError> {
        let size = req.size;
        let map_len = size
            .max(1)
            .checked_next_multiple_of(map_page())
            .ok_or_else(|| DriverError::Alloc {
                size,
                reason: "size overflows".into(),
            })?;
        let fd =
            memory::new_memfd(map_len).map_err(|reason| DriverError::Alloc { size, reason })?;
        let own = fd.try_clone().map_err(|e| DriverError::Alloc {
            size,
            reason: format!("dup: {e}"),
        })?;
        let buf = memory::map_into(&self.space, fd.as_fd(), 0, 0, size, own)?;
        Ok(buf.with_cacheable(req.cache == CachePolicy::Cacheable))
    }

    fn import_fd(
        &self,
        fd: BorrowedFd<'_>,
        size: usize,
        offset: usize,
    ) -> Result<Buffer, DriverError> {
        let own = crate::driver::map::dup_range(fd, size, offset)?;
        let page_off = offset - offset % map_page();
        memory::map_into(&self.space, fd, page_off, offset - page_off, size, own)
            .map_err(|e| DriverError::Invalid(format!("fd {}: {e}", fd.as_raw_fd())))
    }

    unsafe fn import_phys(
        &self,
        phys: u64,
        _virt: NonNull<u8>,
        _size: usize,
    ) -> Result<Buffer, DriverError> {
        Err(DriverError::Unsupported {
            device: "sim",
            what: format!("physical address {phys:#x}: the virtual NPU has no physical memory"),
        })
    }

    fn sync(
        &self,
        buf: &Buffer,
        offset: usize,
        size: usize,
        _dir: SyncDir,
    ) -> Result<(), DriverError> {
        // Host memory is coherent with itself; only the range is checked.
        buf.check_range(offset, size)
    }

    fn export_fd(&self, buf: &Buffer) -> Result<OwnedFd, DriverError> {
        buf.dup_fd()
    }

    fn submit(&self, job: &Job<'_>) -> Result<(), DriverError> {
        self.mine(job.tasks, "the task buffer")?;
        let records = job.tasks.as_slice();
        let available = (records.len() / TASK_RECORD_LEN) as u64;
        if job.task_count == 0 || u64::from(job.task_start) + u64::from(job.task_count) > available
        {
            return Err(DriverError::Invalid(format!(
                "sim: tasks {}..{} do not fit the task buffer of {available} records",
                job.task_start,
                u64::from(job.task_start) + u64::from(job.task_count)
            )));
        }
        let ranges = self.core_ranges(job)?;
        let _queue = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let space = memory::lock(&self.space);
        for (core, range) in ranges {
            let mut state = pc::CoreState::new(self.platform);
            pc::run_core(&space, records, range, core, &mut state)
                .map_err(|e| DriverError::Job(format!("sim: {e}")))?;
        }
        Ok(())
    }
}

fn map_page() -> usize {
    super::map::PAGE
}
