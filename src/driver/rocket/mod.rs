//! The mainline `rocket` accel driver (`/dev/accel/accel*`, Linux 6.18,
//! `reference/rknpu-driver.md` §2): CREATE_BO + mmap, PREP_BO/FINI_BO
//! around CPU access, SUBMIT. Its limits, and how this device meets them:
//!
//! * the kernel runs each task separately (TASK_NUMBER 1, an interrupt
//!   between tasks): every task record of a job becomes one
//!   `drm_rocket_task` with its own regcmd address and length;
//! * completion is only detected on the DPU interrupts (0x300): a task
//!   whose `int_mask` is anything else (PPU-only pooling) is refused before
//!   submitting, because it would never finish;
//! * there is no fence out of SUBMIT: the job is waited for with PREP_BO
//!   on the buffers it writes (`Job::writes`, at least one), bounded by
//!   `Job::timeout_ms`; the kernel itself resets a core after 500 ms per
//!   job and does not report it, so a job that needs longer is reported
//!   as a timeout when the wait runs out;
//! * the scheduler picks cores itself: `core_mask` cannot pin a core; a
//!   multi-core job (`core_tasks`) becomes one rocket job per range, which
//!   the kernel spreads over the cores;
//! * BOs are always cached shmem (the buffer reports `cacheable`), have a
//!   32-bit size, no SRAM, and the NPU address of an imported dma-buf
//!   cannot be learned, so `import_fd`/`import_phys` are unsupported.

pub mod abi;

#[cfg(test)]
mod tests;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

use nix::errno::Errno;

use super::discovery::{detect_platform, open_node, DevRoot};
use super::ioctl::{
    call, call_plain, drm_version, errno_text, gem_close, map_errno, prime_export, IoctlSeam,
};
use super::map::{dup_raw, map_shared};
use super::{rknpu::abi::Task as RknpuTask, TaskRange};
use super::{AllocRequest, Buffer, CachePolicy, Device, DeviceInfo, DriverError, Job, SyncDir};
use crate::platform::Platform;

#[derive(Debug)]
struct Shared {
    fd: OwnedFd,
    seam: Arc<dyn IoctlSeam>,
}

impl Shared {
    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A rocket buffer object (a `Buffer`'s backing), closed when the buffer
/// drops.
#[derive(Debug)]
pub struct RocketBo {
    shared: Arc<Shared>,
    handle: u32,
}

impl RocketBo {
    /// GEM handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }
}

impl Drop for RocketBo {
    fn drop(&mut self) {
        if let Err(e) = gem_close(&*self.shared.seam, self.shared.raw(), self.handle) {
            tracing::warn!(
                "rocket: DRM_IOCTL_GEM_CLOSE of handle {}: {}",
                self.handle,
                errno_text(e)
            );
        }
    }
}

/// A device driven by the mainline `rocket` driver.
#[derive(Debug)]
pub struct RocketDevice {
    shared: Arc<Shared>,
    path: PathBuf,
    info: DeviceInfo,
}

/// CLOCK_MONOTONIC now + `ms`, in nanoseconds (PREP_BO deadlines are
/// absolute).
fn deadline_ns(ms: u32) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    // `time_t`/`c_long` are 32-bit on armv7: the conversions are real there.
    #[allow(clippy::useless_conversion)]
    let now = i64::from(ts.tv_sec)
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(ts.tv_nsec));
    now.saturating_add(i64::from(ms) * 1_000_000)
}

impl RocketDevice {
    /// Opens accel node `path` (`sysfs`: its sysfs class directory, `root`:
    /// the tree, for platform detection).
    pub fn open(
        path: &Path,
        sysfs: &Path,
        root: &DevRoot,
        seam: Arc<dyn IoctlSeam>,
        fallback_platform: Option<Platform>,
    ) -> Result<RocketDevice, DriverError> {
        let shown = path.display();
        let fd = open_node(path)
            .map_err(|e| DriverError::Unavailable(format!("rocket: cannot open {shown}: {e}")))?;
        let v = drm_version(&*seam, fd.as_raw_fd()).map_err(|e| {
            DriverError::Unavailable(format!(
                "rocket: {shown}: DRM_IOCTL_VERSION: {}: not an accel node",
                errno_text(e)
            ))
        })?;
        if !v.name.eq_ignore_ascii_case("rocket") {
            return Err(DriverError::Unavailable(format!(
                "rocket: {shown} belongs to driver '{}', not 'rocket'",
                v.name
            )));
        }
        let (major, minor, patch) = v.version;
        let mut driver_version = format!("rocket {major}.{minor}.{patch}");
        if !v.date.is_empty() {
            driver_version = format!("{driver_version} ({})", v.date);
        }
        // Upstream rocket drives RK3588 only.
        let platform = detect_platform(root, sysfs, None)
            .or(fallback_platform)
            .unwrap_or(Platform::Rk3588);
        let info = DeviceInfo {
            platform,
            driver_version,
            hw_version: None,
            cores: platform.cores(),
            sram_total: 0,
            sram_free: 0,
            iommu: true,
        };
        Ok(RocketDevice {
            shared: Arc::new(Shared { fd, seam }),
            path: path.to_path_buf(),
            info,
        })
    }

    /// The node this device was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn bo_of<'b>(&self, buf: &'b Buffer) -> Option<&'b RocketBo> {
        buf.backing::<RocketBo>()
            .filter(|b| Arc::ptr_eq(&b.shared, &self.shared))
    }

    fn prep(&self, handle: u32, timeout_ns: i64) -> Result<i32, Errno> {
        let mut arg = abi::PrepBo {
            handle,
            reserved: 0,
            timeout_ns,
        };
        // PREP_BO returns the remaining jiffies on success: any `>= 0`.
        call_plain(
            &*self.shared.seam,
            self.shared.raw(),
            abi::PREP_BO,
            &mut arg,
        )
    }

    fn fini(&self, handle: u32) -> Result<i32, Errno> {
        let mut arg = abi::FiniBo {
            handle,
            reserved: 0,
        };
        call_plain(
            &*self.shared.seam,
            self.shared.raw(),
            abi::FINI_BO,
            &mut arg,
        )
    }

    /// The handles of `bufs`, which must be this device's BOs.
    fn handles(&self, bufs: &[&Buffer], what: &str) -> Result<Vec<u32>, DriverError> {
        bufs.iter()
            .enumerate()
            .map(|(i, b)| {
                self.bo_of(b).map(RocketBo::handle).ok_or_else(|| {
                    DriverError::Invalid(format!(
                        "rocket: {what} buffer {i} was not allocated by this device"
                    ))
                })
            })
            .collect()
    }
}

/// The rocket tasks of `range` of the rknpu task records in `bytes`.
pub fn rocket_tasks(bytes: &[u8], range: TaskRange) -> Result<Vec<abi::Task>, DriverError> {
    const SIZE: usize = std::mem::size_of::<RknpuTask>();
    let available = (bytes.len() / SIZE) as u64;
    let end = u64::from(range.start) + u64::from(range.count);
    if range.count == 0 || end > available {
        return Err(DriverError::Invalid(format!(
            "rocket: tasks {}..{end} do not fit the task buffer of {available} records",
            range.start
        )));
    }
    (range.start..range.start + range.count)
        .map(|i| {
            let at = i as usize * SIZE;
            let t: RknpuTask = bytemuck::pod_read_unaligned(&bytes[at..at + SIZE]);
            let regcmd = u32::try_from(t.regcmd_addr)
                .ok()
                .filter(|&a| a != 0)
                .ok_or_else(|| {
                    DriverError::Invalid(format!(
                        "rocket: task {i} has regcmd address {:#x} (must be nonzero and 32-bit)",
                        t.regcmd_addr
                    ))
                })?;
            if t.int_mask == 0 || t.int_mask & !abi::DPU_INT_MASK != 0 {
                return Err(DriverError::Unsupported {
                    device: "rocket",
                    what: format!(
                        "task {i} completes on interrupts {:#x}; rocket detects completion only \
                         on the DPU ({:#x}), so a task ending elsewhere (PPU pooling) would never \
                         finish",
                        t.int_mask,
                        abi::DPU_INT_MASK
                    ),
                });
            }
            let regcmd_count = t
                .regcfg_amount
                .checked_add(abi::PC_TAIL_ENTRIES)
                .filter(|_| t.regcfg_amount > 0)
                .ok_or_else(|| {
                    DriverError::Invalid(format!(
                        "rocket: task {i} has regcfg_amount {}",
                        t.regcfg_amount
                    ))
                })?;
            Ok(abi::Task {
                regcmd,
                regcmd_count,
            })
        })
        .collect()
}

impl Device for RocketDevice {
    fn name(&self) -> &'static str {
        "rocket"
    }

    fn info(&self) -> DeviceInfo {
        self.info.clone()
    }

    fn allocate(&self, req: &AllocRequest) -> Result<Buffer, DriverError> {
        let size = req.size;
        let s = &self.shared;
        let bo_size = u32::try_from(size.max(1)).map_err(|_| DriverError::Alloc {
            size,
            reason: "rocket buffer objects are at most 4 GiB - 1 bytes (a u32 size)".into(),
        })?;
        if req.cache != CachePolicy::Cacheable {
            tracing::debug!(
                "rocket: {:?} requested; rocket BOs are always cached (synced with PREP/FINI_BO)",
                req.cache
            );
        }
        let mut arg = abi::CreateBo {
            size: bo_size,
            ..abi::CreateBo::default()
        };
        call_plain(&*s.seam, s.raw(), abi::CREATE_BO, &mut arg).map_err(|e| match e {
            Errno::ENOMEM | Errno::ENOSPC => DriverError::Alloc {
                size,
                reason: format!("ROCKET_CREATE_BO: {}", errno_text(e)),
            },
            e => map_errno("rocket", "ROCKET_CREATE_BO", &format!("{size} bytes"), e),
        })?;
        let bo = RocketBo {
            shared: Arc::clone(s),
            handle: arg.handle,
        };
        let (base, mapped) =
            map_shared(s.fd.as_fd(), arg.offset, size).map_err(|e| DriverError::Alloc {
                size,
                reason: format!(
                    "mmap of rocket BO {} at offset {:#x}: {}",
                    arg.handle,
                    arg.offset,
                    errno_text(e)
                ),
            })?;
        let fd = match prime_export(&*s.seam, s.raw(), arg.handle) {
            Ok(fd) => Some(fd),
            Err(e) => {
                tracing::warn!(
                    "rocket: PRIME export of BO {} failed ({}); the buffer has no fd",
                    arg.handle,
                    errno_text(e)
                );
                None
            }
        };
        // SAFETY: `base` is the live `mapped`-byte mapping made above, owned
        // by the buffer from now on; `size <= mapped`.
        let buf = unsafe { Buffer::from_mapping(base, mapped, 0, size, fd, arg.dma_address) };
        Ok(buf.with_cacheable(true).with_backing(Box::new(bo)))
    }

    fn import_fd(
        &self,
        fd: BorrowedFd<'_>,
        _size: usize,
        _offset: usize,
    ) -> Result<Buffer, DriverError> {
        Err(DriverError::Unsupported {
            device: "rocket",
            what: format!(
                "importing fd {}: the rocket UAPI has no ioctl that returns the NPU address of \
                 an imported dma-buf",
                fd.as_raw_fd()
            ),
        })
    }

    unsafe fn import_phys(
        &self,
        phys: u64,
        _virt: NonNull<u8>,
        _size: usize,
    ) -> Result<Buffer, DriverError> {
        Err(DriverError::Unsupported {
            device: "rocket",
            what: format!(
                "physical address {phys:#x}: every rocket fd has a private IOMMU space that only \
                 its own buffer objects are mapped into"
            ),
        })
    }

    fn sync(
        &self,
        buf: &Buffer,
        offset: usize,
        size: usize,
        dir: SyncDir,
    ) -> Result<(), DriverError> {
        buf.check_range(offset, size)?;
        let bo = self.bo_of(buf).ok_or_else(|| {
            DriverError::Invalid("rocket: sync of a buffer this device did not create".into())
        })?;
        // Rocket syncs whole BOs: FINI_BO hands the BO to the NPU (writes
        // back CPU caches), PREP_BO hands it to the CPU (waits for the NPU,
        // then invalidates).
        let what = format!("handle {}", bo.handle);
        if matches!(dir, SyncDir::ToDevice | SyncDir::Bidirectional) {
            self.fini(bo.handle)
                .map_err(|e| map_errno("rocket", "ROCKET_FINI_BO", &what, e))?;
        }
        if matches!(dir, SyncDir::FromDevice | SyncDir::Bidirectional) {
            self.prep(bo.handle, i64::MAX)
                .map_err(|e| map_errno("rocket", "ROCKET_PREP_BO", &what, e))?;
        }
        Ok(())
    }

    fn export_fd(&self, buf: &Buffer) -> Result<OwnedFd, DriverError> {
        match dup_raw(buf.fd()) {
            None => Err(DriverError::Unsupported {
                device: "rocket",
                what: "export of a buffer whose PRIME export failed at allocation".into(),
            }),
            Some(r) => r.map_err(|e| {
                DriverError::Invalid(format!(
                    "rocket: dup of buffer fd {}: {}",
                    buf.fd(),
                    errno_text(e)
                ))
            }),
        }
    }

    fn submit(&self, job: &Job<'_>) -> Result<(), DriverError> {
        let whole = TaskRange {
            start: job.task_start,
            count: job.task_count,
        };
        let ranges: Vec<TaskRange> = if job.core_tasks.is_empty() {
            vec![whole]
        } else {
            job.core_tasks.to_vec()
        };
        if job.writes.is_empty() {
            return Err(DriverError::Invalid(
                "rocket: the job lists no buffer it writes; rocket has no job fence, so it is \
                 waited for through its output buffers (Job::writes)"
                    .into(),
            ));
        }
        let reads = self.handles(job.reads, "read")?;
        let writes = self.handles(job.writes, "written")?;
        let bytes = job.tasks.as_slice();
        let tasks: Vec<Vec<abi::Task>> = ranges
            .iter()
            .map(|r| rocket_tasks(bytes, *r))
            .collect::<Result<_, _>>()?;
        let jobs: Vec<abi::Job> = tasks
            .iter()
            .map(|t| abi::Job {
                tasks: t.as_ptr() as u64,
                in_bo_handles: reads.as_ptr() as u64,
                out_bo_handles: writes.as_ptr() as u64,
                task_count: t.len() as u32,
                task_struct_size: std::mem::size_of::<abi::Task>() as u32,
                in_bo_handle_count: reads.len() as u32,
                out_bo_handle_count: writes.len() as u32,
            })
            .collect();
        let mut arg = abi::Submit {
            jobs: jobs.as_ptr() as u64,
            job_count: jobs.len() as u32,
            job_struct_size: std::mem::size_of::<abi::Job>() as u32,
            reserved: 0,
        };
        let span = format!(
            "tasks {}..{} as {} job(s)",
            job.task_start,
            job.task_start + job.task_count,
            jobs.len()
        );
        let s = &self.shared;
        // SAFETY: the user pointers in `arg` and in each job point into
        // `jobs`, `tasks`, `reads` and `writes`, which are alive and
        // unchanged until this call returns; the kernel only reads them.
        unsafe { call(&*s.seam, s.raw(), abi::SUBMIT, &mut arg) }
            .map_err(|e| map_errno("rocket", "ROCKET_SUBMIT", &span, e))?;
        let deadline = deadline_ns(job.timeout_ms);
        for (&h, i) in writes.iter().zip(0..) {
            self.prep(h, deadline).map_err(|e| {
                let text = format!(
                    "rocket: {span}: output buffer {i} (BO {h}) not ready after {} ms \
                     (ROCKET_PREP_BO: {}); the kernel resets a core after {} ms per job",
                    job.timeout_ms,
                    errno_text(e),
                    abi::KERNEL_JOB_TIMEOUT_MS
                );
                match e {
                    Errno::ETIMEDOUT | Errno::EBUSY | Errno::ETIME => DriverError::Timeout(text),
                    _ => DriverError::Job(text),
                }
            })?;
        }
        Ok(())
    }
}
