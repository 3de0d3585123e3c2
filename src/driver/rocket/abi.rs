//! The mainline `rocket` accel UAPI (`include/uapi/drm/rocket_accel.h`,
//! Linux 6.18): argument structs and ioctl numbers, pinned by compile-time
//! asserts against `reference/rknpu-driver.md` §2.2.

use std::mem::{offset_of, size_of};

use bytemuck::{Pod, Zeroable};

use crate::driver::ioctl::{iow, iowr, DRM_COMMAND_BASE, DRM_TYPE};

/// `struct drm_rocket_create_bo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct CreateBo {
    /// Bytes (a `u32`: at most 4 GiB - 1).
    pub size: u32,
    /// Out: GEM handle.
    pub handle: u32,
    /// Out: NPU address, private to this fd.
    pub dma_address: u64,
    /// Out: mmap offset on the accel fd.
    pub offset: u64,
}

/// `struct drm_rocket_prep_bo`: start CPU access (waits for the NPU).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct PrepBo {
    /// GEM handle.
    pub handle: u32,
    /// Must be zero.
    pub reserved: u32,
    /// Absolute CLOCK_MONOTONIC deadline in nanoseconds.
    pub timeout_ns: i64,
}

/// `struct drm_rocket_fini_bo`: end CPU access (flush for the NPU).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct FiniBo {
    /// GEM handle.
    pub handle: u32,
    /// Must be zero.
    pub reserved: u32,
}

/// `struct drm_rocket_task`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq, Eq)]
pub struct Task {
    /// NPU address of the regcmd stream.
    pub regcmd: u32,
    /// Regcmd entries including the 4-entry PC tail (> 0).
    pub regcmd_count: u32,
}

/// `struct drm_rocket_job`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Job {
    /// User pointer to `Task[task_count]`.
    pub tasks: u64,
    /// User pointer to the `u32` handles the job reads.
    pub in_bo_handles: u64,
    /// User pointer to the `u32` handles the job writes.
    pub out_bo_handles: u64,
    /// Tasks (> 0).
    pub task_count: u32,
    /// `size_of::<Task>()`.
    pub task_struct_size: u32,
    /// Entries of `in_bo_handles`.
    pub in_bo_handle_count: u32,
    /// Entries of `out_bo_handles`.
    pub out_bo_handle_count: u32,
}

/// `struct drm_rocket_submit`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Submit {
    /// User pointer to `Job[job_count]`.
    pub jobs: u64,
    /// Jobs.
    pub job_count: u32,
    /// `size_of::<Job>()`.
    pub job_struct_size: u32,
    /// Must be zero.
    pub reserved: u64,
}

/// `DRM_IOCTL_ROCKET_CREATE_BO`.
pub const CREATE_BO: u32 = iowr(DRM_TYPE, DRM_COMMAND_BASE, size_of::<CreateBo>());
/// `DRM_IOCTL_ROCKET_SUBMIT`.
pub const SUBMIT: u32 = iow(DRM_TYPE, DRM_COMMAND_BASE + 1, size_of::<Submit>());
/// `DRM_IOCTL_ROCKET_PREP_BO`.
pub const PREP_BO: u32 = iow(DRM_TYPE, DRM_COMMAND_BASE + 2, size_of::<PrepBo>());
/// `DRM_IOCTL_ROCKET_FINI_BO`.
pub const FINI_BO: u32 = iow(DRM_TYPE, DRM_COMMAND_BASE + 3, size_of::<FiniBo>());

/// The kernel's per-job timeout (drm_sched), after which it resets the core.
pub const KERNEL_JOB_TIMEOUT_MS: u32 = 500;
/// The completion interrupts the kernel waits for: DPU_0 | DPU_1.
pub const DPU_INT_MASK: u32 = 0x300;
/// Entries of the PC tail that `regcmd_count` includes.
pub const PC_TAIL_ENTRIES: u32 = 4;

const _: () = {
    assert!(size_of::<CreateBo>() == 24);
    assert!(offset_of!(CreateBo, handle) == 4);
    assert!(offset_of!(CreateBo, dma_address) == 8);
    assert!(offset_of!(CreateBo, offset) == 16);
    assert!(size_of::<PrepBo>() == 16);
    assert!(offset_of!(PrepBo, timeout_ns) == 8);
    assert!(size_of::<FiniBo>() == 8);
    assert!(size_of::<Task>() == 8);
    assert!(offset_of!(Task, regcmd_count) == 4);
    assert!(size_of::<Job>() == 40);
    assert!(offset_of!(Job, in_bo_handles) == 8);
    assert!(offset_of!(Job, out_bo_handles) == 16);
    assert!(offset_of!(Job, task_count) == 24);
    assert!(offset_of!(Job, task_struct_size) == 28);
    assert!(offset_of!(Job, in_bo_handle_count) == 32);
    assert!(offset_of!(Job, out_bo_handle_count) == 36);
    assert!(size_of::<Submit>() == 24);
    assert!(offset_of!(Submit, job_count) == 8);
    assert!(offset_of!(Submit, job_struct_size) == 12);
    assert!(offset_of!(Submit, reserved) == 16);

    assert!(CREATE_BO == 0xC018_6440);
    assert!(SUBMIT == 0x4018_6441);
    assert!(PREP_BO == 0x4010_6442);
    assert!(FINI_BO == 0x4008_6443);
};
