//! RKNPU_SUBMIT: validation of a job against what the kernel trusts
//! blindly (the task buffer's `obj_addr`, task ranges, core mask, the
//! completion mask), the `subcore_task` layout, and errors that say which
//! tasks, which cores and what the driver reported (§1.6).

use super::abi::{int_mask_is_pair_form, job, Node, SubcoreTask, Submit, Task};
use super::RknpuDevice;
use crate::driver::ioctl::{call_plain, errno_text};
use crate::driver::{DriverError, Job, TaskRange};
use nix::errno::Errno;

const TASK_SIZE: usize = std::mem::size_of::<Task>();

/// The task record `index` of the job's task buffer.
fn task_at(bytes: &[u8], index: u32) -> Task {
    let at = index as usize * TASK_SIZE;
    bytemuck::pod_read_unaligned(&bytes[at..at + TASK_SIZE])
}

/// "core 1" / "cores 0, 2" / "a core the driver picks".
pub(super) fn cores_text(mask: u32) -> String {
    if mask == 0 {
        return "a core the driver picks".into();
    }
    let cores: Vec<String> = (0..32)
        .filter(|b| mask & (1 << b) != 0)
        .map(|b| b.to_string())
        .collect();
    let plural = if cores.len() == 1 { "core" } else { "cores" };
    format!("{plural} {}", cores.join(", "))
}

/// Checks one core's task range: inside the buffer, a first task the PC
/// can fetch, a last task whose completion mask the kernel can match.
fn check_range(bytes: &[u8], r: TaskRange, what: &str) -> Result<(), DriverError> {
    let available = (bytes.len() / TASK_SIZE) as u64;
    let end = u64::from(r.start) + u64::from(r.count);
    if r.count == 0 || end > available {
        return Err(DriverError::Invalid(format!(
            "rknpu: {what}: tasks {}..{end} do not fit the task buffer of {available} records",
            r.start
        )));
    }
    let first = task_at(bytes, r.start);
    if first.regcmd_addr == 0 || first.regcmd_addr > u64::from(u32::MAX) {
        return Err(DriverError::Invalid(format!(
            "rknpu: {what}: task {} has regcmd address {:#x} (must be nonzero and 32-bit)",
            r.start, first.regcmd_addr
        )));
    }
    if first.regcfg_amount == 0 {
        return Err(DriverError::Invalid(format!(
            "rknpu: {what}: task {} has no register commands (regcfg_amount 0)",
            r.start
        )));
    }
    let last_index = r.start + r.count - 1;
    let last = task_at(bytes, last_index);
    if !int_mask_is_pair_form(last.int_mask) {
        return Err(DriverError::Invalid(format!(
            "rknpu: {what}: task {last_index} has int_mask {:#x}; the driver's completion test \
             needs pair form (0x300 DPU, 0xC00 PPU) or the job would time out",
            last.int_mask
        )));
    }
    Ok(())
}

/// The `subcore_task` slots for a job on `chip_cores` cores (§1.6 table).
pub(super) fn subcore_slots(
    chip_cores: u32,
    core_mask: u32,
    whole: TaskRange,
    core_tasks: &[TaskRange],
) -> Result<[SubcoreTask; 5], DriverError> {
    let mut slots = [SubcoreTask::default(); 5];
    let slot = |r: TaskRange| SubcoreTask {
        task_start: r.start,
        task_number: r.count,
    };
    let used = core_mask.count_ones();
    if used <= 1 {
        if !core_tasks.is_empty() {
            return Err(DriverError::Invalid(format!(
                "rknpu: core_tasks lists {} ranges but the job runs on {}",
                core_tasks.len(),
                cores_text(core_mask)
            )));
        }
        if chip_cores == 1 || core_mask == 0 {
            // Auto: whichever core the driver picks reads its own slot.
            for s in slots.iter_mut().take(chip_cores.max(1) as usize) {
                *s = slot(whole);
            }
        } else {
            slots[core_mask.trailing_zeros() as usize] = slot(whole);
        }
        return Ok(slots);
    }
    if core_tasks.len() != used as usize {
        return Err(DriverError::Invalid(format!(
            "rknpu: the job runs on {} but core_tasks lists {} ranges (one per core needed)",
            cores_text(core_mask),
            core_tasks.len()
        )));
    }
    let base = if used == 3 { 2 } else { 0 };
    let cores = (0..32u32).filter(|b| core_mask & (1 << b) != 0);
    for (core, r) in cores.zip(core_tasks) {
        let inside = r.start >= whole.start
            && u64::from(r.start) + u64::from(r.count)
                <= u64::from(whole.start) + u64::from(whole.count);
        if !inside || r.count == 0 {
            return Err(DriverError::Invalid(format!(
                "rknpu: core {core}: tasks {}..{} are empty or outside the job's tasks {}..{}",
                r.start,
                r.start + r.count,
                whole.start,
                whole.start + whole.count
            )));
        }
        slots[base + core as usize] = slot(*r);
    }
    Ok(slots)
}

/// Validates and submits `job`, blocking until it completes.
pub(super) fn submit(dev: &RknpuDevice, job: &Job<'_>) -> Result<(), DriverError> {
    let obj = dev.object_of(job.tasks).ok_or_else(|| {
        DriverError::Invalid(
            "rknpu: the task buffer was not allocated by this device (the kernel dereferences \
             its obj_addr)"
                .into(),
        )
    })?;
    if obj.imported() || obj.flags() & super::abi::mem::KERNEL_MAPPING == 0 {
        return Err(DriverError::Invalid(
            "rknpu: the task buffer needs a kernel mapping (allocate it with kernel_mapping)"
                .into(),
        ));
    }
    let chip = dev.chip_mask();
    if job.core_mask & !chip != 0 {
        return Err(DriverError::Invalid(format!(
            "rknpu: core mask {:#x} names cores this {} does not have (mask {chip:#x})",
            job.core_mask,
            dev.info.platform.name()
        )));
    }
    let whole = TaskRange {
        start: job.task_start,
        count: job.task_count,
    };
    let bytes = job.tasks.as_slice();
    let slots = subcore_slots(dev.info.cores, job.core_mask, whole, job.core_tasks)?;
    let ranges: Vec<(String, TaskRange)> = if job.core_tasks.is_empty() {
        vec![(format!("job on {}", cores_text(job.core_mask)), whole)]
    } else {
        let cores = (0..32u32).filter(|b| job.core_mask & (1 << b) != 0);
        cores
            .zip(job.core_tasks)
            .map(|(c, r)| (format!("core {c}"), *r))
            .collect()
    };
    for (what, r) in &ranges {
        check_range(bytes, *r, what)?;
    }
    let mut arg = Submit {
        flags: job::PC | job::BLOCK | job::PINGPONG,
        timeout: job.timeout_ms,
        task_start: job.task_start,
        task_number: job.task_count,
        task_obj_addr: obj.obj_addr(),
        core_mask: job.core_mask,
        fence_fd: -1,
        subcore_task: slots,
        ..Submit::default()
    };
    let s = &dev.shared;
    let result = {
        let _serial = dev.submit_lock.lock().unwrap_or_else(|p| p.into_inner());
        call_plain(&*s.seam, s.raw(), s.req.submit, &mut arg)
    };
    let Err(e) = result else {
        tracing::trace!(
            "rknpu: tasks {}..{} on {} done in {} ns",
            job.task_start,
            job.task_start + job.task_count,
            cores_text(job.core_mask),
            arg.hw_elapse_time
        );
        return Ok(());
    };
    let node = match s.node {
        Node::Drm => "DRM",
        Node::Misc => "misc",
    };
    let done = arg.task_counter.min(job.task_count);
    let context = format!(
        "RKNPU_SUBMIT of tasks {}..{} on {} ({node} node {}, timeout {} ms): {}; the driver \
         reports {done} of {} tasks completed",
        job.task_start,
        job.task_start + job.task_count,
        cores_text(job.core_mask),
        dev.path.display(),
        job.timeout_ms,
        errno_text(e),
        job.task_count
    );
    let stuck = job.task_start + done;
    Err(match e {
        Errno::ETIMEDOUT | Errno::ETIME => DriverError::Timeout(format!(
            "{context}, task {stuck} did not finish; the driver soft-reset the NPU"
        )),
        Errno::EINVAL => DriverError::Job(format!(
            "{context}; the driver rejected the job's parameters (task count, core mask or \
             flags) or aborted it"
        )),
        _ => DriverError::Job(format!("{context}, task {stuck} did not finish")),
    })
}
