//! The seam between the runtime and the hardware (DESIGN.md, "The driver
//! layer"): DMA-capable buffers, cache maintenance and, on NPU devices, job
//! submission.

mod buffer;
pub mod discovery;
pub mod host;
pub mod ioctl;
mod map;
pub mod rknpu;
pub mod rocket;
pub mod select;
pub mod sim;

pub use buffer::{Backing, Buffer};

use std::os::fd::{BorrowedFd, OwnedFd};

use crate::platform::Platform;

/// Errors from a device.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The device is not present or cannot be opened.
    #[error("device unavailable: {0}")]
    Unavailable(String),
    /// Allocation or mapping failed.
    #[error("allocation of {size} bytes failed: {reason}")]
    Alloc {
        /// Requested size.
        size: usize,
        /// What the system said.
        reason: String,
    },
    /// The request is invalid for this device or this buffer (bad fd,
    /// offset beyond the end, unsupported flag combination ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The device cannot do this at all (e.g. `submit` on the host device).
    #[error("not supported by the {device} device: {what}")]
    Unsupported {
        /// Device name.
        device: &'static str,
        /// The operation.
        what: String,
    },
    /// A kernel call failed.
    #[error("{call} failed: {reason}")]
    Ioctl {
        /// Which call (ioctl name).
        call: &'static str,
        /// The errno text and context.
        reason: String,
    },
    /// A submitted job failed.
    #[error("job failed: {0}")]
    Job(String),
    /// A submitted job did not finish in time.
    #[error("job timed out: {0}")]
    Timeout(String),
}

/// How the CPU maps a buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CachePolicy {
    /// Cached; the owner must sync around device access.
    #[default]
    Cacheable,
    /// Uncached.
    NonCacheable,
    /// Write-combined (uncached reads, batched writes).
    WriteCombine,
}

/// What to allocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocRequest {
    /// Bytes (a zero size gets a one-page buffer so every buffer has a real
    /// mapping and fd).
    pub size: usize,
    /// CPU mapping type.
    pub cache: CachePolicy,
    /// Put the first bytes in on-chip SRAM where the device has it (the
    /// rest in DRAM); ignored where there is none.
    pub try_sram: bool,
    /// The kernel must be able to read the buffer (task arrays).
    pub kernel_mapping: bool,
}

impl AllocRequest {
    /// A cacheable DRAM buffer of `size` bytes.
    pub fn new(size: usize) -> AllocRequest {
        AllocRequest {
            size,
            cache: CachePolicy::Cacheable,
            try_sram: false,
            kernel_mapping: false,
        }
    }
}

/// Direction of a cache sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncDir {
    /// Write back CPU caches before the device reads.
    ToDevice,
    /// Invalidate CPU caches before the CPU reads what the device wrote.
    FromDevice,
    /// Both.
    Bidirectional,
}

/// A run of consecutive task records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskRange {
    /// Index of the first task.
    pub start: u32,
    /// Number of tasks.
    pub count: u32,
}

/// One NPU job: a run of task records in a buffer, on a set of cores.
///
/// The task records are the vendor's `rknpu_task` (40 bytes each,
/// `driver::rknpu::abi::Task`); on `rocket` each record becomes one
/// `drm_rocket_task` (its regcmd address and length).
#[derive(Debug)]
pub struct Job<'a> {
    /// The buffer holding the task records (on `rknpu` allocated with
    /// `kernel_mapping`).
    pub tasks: &'a Buffer,
    /// Index of the first task.
    pub task_start: u32,
    /// Number of tasks.
    pub task_count: u32,
    /// Core mask (bit per core; 0 = let the driver choose).
    pub core_mask: u32,
    /// Timeout in milliseconds.
    pub timeout_ms: u32,
    /// With more than one bit in `core_mask`: the tasks each selected core
    /// runs, lowest core first, each inside `task_start .. task_start +
    /// task_count`. Empty otherwise.
    pub core_tasks: &'a [TaskRange],
    /// Buffers the job reads (rocket orders jobs by them).
    pub reads: &'a [&'a Buffer],
    /// Buffers the job writes (rocket orders jobs by them and waits for
    /// the job through them: at least one is needed there).
    pub writes: &'a [&'a Buffer],
}

impl<'a> Job<'a> {
    /// Default wait for a job, in milliseconds.
    pub const DEFAULT_TIMEOUT_MS: u32 = 3000;

    /// A job running `task_count` tasks from `task_start` of `tasks` on a
    /// core the driver chooses, with the default timeout and no buffer
    /// lists.
    pub fn new(tasks: &'a Buffer, task_start: u32, task_count: u32) -> Job<'a> {
        Job {
            tasks,
            task_start,
            task_count,
            core_mask: 0,
            timeout_ms: Self::DEFAULT_TIMEOUT_MS,
            core_tasks: &[],
            reads: &[],
            writes: &[],
        }
    }
}

/// What a device reports about itself.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    /// Platform whose rules apply (core masks, layouts).
    pub platform: Platform,
    /// Kernel driver version string ("0.9.8"), or a description for
    /// devices without a kernel driver.
    pub driver_version: String,
    /// NPU hardware version, when the driver reports one.
    pub hw_version: Option<u64>,
    /// Number of NPU cores (0 on the host device).
    pub cores: u32,
    /// On-chip SRAM: total and free bytes (0 when absent).
    pub sram_total: usize,
    /// Free SRAM bytes.
    pub sram_free: usize,
    /// Whether the NPU sits behind an IOMMU.
    pub iommu: bool,
}

/// A place to allocate buffers and run NPU jobs.
pub trait Device: Send + Sync + std::fmt::Debug {
    /// Short name used in logs and `RKNNRT_DEVICE` (`host`, `rknpu`, ...).
    fn name(&self) -> &'static str;
    /// Platform, driver version, cores and SRAM.
    fn info(&self) -> DeviceInfo;
    /// Allocates a zeroed buffer as `req` says.
    fn allocate(&self, req: &AllocRequest) -> Result<Buffer, DriverError>;
    /// Allocates a zeroed cacheable buffer of at least `size` bytes.
    fn alloc(&self, size: usize) -> Result<Buffer, DriverError> {
        self.allocate(&AllocRequest::new(size))
    }
    /// Wraps `size` bytes at `offset` of a dma-buf/memfd `fd` owned by the
    /// caller; the buffer keeps its own duplicate of the fd.
    fn import_fd(
        &self,
        fd: BorrowedFd<'_>,
        size: usize,
        offset: usize,
    ) -> Result<Buffer, DriverError>;
    /// Wraps physically contiguous memory at `phys` that the caller has
    /// mapped at `virt` (`size` bytes).
    ///
    /// # Safety
    /// `virt .. virt + size` must stay mapped and writable while the buffer
    /// lives.
    unsafe fn import_phys(
        &self,
        phys: u64,
        virt: std::ptr::NonNull<u8>,
        size: usize,
    ) -> Result<Buffer, DriverError>;
    /// Cache maintenance on `size` bytes at `offset` of `buf`.
    fn sync(
        &self,
        buf: &Buffer,
        offset: usize,
        size: usize,
        dir: SyncDir,
    ) -> Result<(), DriverError>;
    /// A new fd for `buf` that another process or API can import.
    fn export_fd(&self, buf: &Buffer) -> Result<OwnedFd, DriverError>;
    /// Runs `job` and waits for it.
    fn submit(&self, job: &Job<'_>) -> Result<(), DriverError>;
}

/// Opens the device named by `RKNNRT_DEVICE` (`auto` or unset: rknpu,
/// then rocket, else host; see [`select`]) and logs the choice.
pub fn open_default() -> Result<Box<dyn Device>, DriverError> {
    select::open_from_env()
}

/// [`open_default`] for a model that runs as `work` (see
/// [`select::open_for`]: vendor-compiled models fall back to `sim`).
pub fn open_default_for(work: select::Workload) -> Result<Box<dyn Device>, DriverError> {
    select::open_from_env_for(work)
}
