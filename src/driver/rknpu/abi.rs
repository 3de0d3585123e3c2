//! The vendor `rknpu` UAPI (driver 0.9.8, `rknpu_ioctl.h`): argument
//! structs, ioctl numbers for the DRM build (`/dev/dri/*`, type `'d'`,
//! `DRM_COMMAND_BASE + nr`) and the misc build (`/dev/rknpu`, type `'r'`,
//! `nr`), action codes and flags. Every size, offset and request number is
//! pinned against `reference/rknpu-driver.md` §1.2–1.6 by compile-time
//! asserts below.

use std::mem::{offset_of, size_of};

use bytemuck::{Pod, Zeroable};

use crate::driver::ioctl::{iowr, DRM_COMMAND_BASE, DRM_TYPE};

/// `struct rknpu_action`: an action code and an in/out value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Action {
    /// One `RKNPU_*` action code (not a bit mask).
    pub flags: u32,
    /// In/out value.
    pub value: u32,
}

/// `struct rknpu_mem_create`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct MemCreate {
    /// 0: allocate; an existing GEM handle: report on it (DRM build);
    /// a dma-buf fd to import (misc build). Out: the new handle / fd.
    pub handle: u32,
    /// `RKNPU_MEM_*` flags.
    pub flags: u32,
    /// Bytes in; page-aligned bytes out.
    pub size: u64,
    /// Out: the kernel's object token (SUBMIT/MEM_SYNC/MEM_DESTROY).
    pub obj_addr: u64,
    /// Out: NPU-visible address.
    pub dma_addr: u64,
    /// SRAM bytes wanted (0: as much as possible) / given.
    pub sram_size: u64,
    /// IOMMU domain to map into.
    pub iommu_domain_id: i32,
    /// NBUF partition (0.9.8; reserved before).
    pub core_mask: u32,
}

/// `struct rknpu_mem_map`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct MemMap {
    /// GEM handle.
    pub handle: u32,
    /// Zero.
    pub reserved: u32,
    /// Out: fake mmap offset on the DRM fd.
    pub offset: u64,
}

/// `struct rknpu_mem_destroy`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct MemDestroy {
    /// GEM handle (DRM build).
    pub handle: u32,
    /// Zero.
    pub reserved: u32,
    /// Object token (misc build).
    pub obj_addr: u64,
}

/// `struct rknpu_mem_sync`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct MemSync {
    /// `MEM_SYNC_TO_DEVICE` / `MEM_SYNC_FROM_DEVICE`.
    pub flags: u32,
    /// Zero.
    pub reserved: u32,
    /// Object token.
    pub obj_addr: u64,
    /// Byte offset in the object.
    pub offset: u64,
    /// Bytes.
    pub size: u64,
}

/// `struct rknpu_task` (packed in C, naturally aligned anyway): one task
/// record of the array a SUBMIT points at.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq, Eq)]
pub struct Task {
    /// Unused by the kernel.
    pub flags: u32,
    /// Runtime bookkeeping.
    pub op_idx: u32,
    /// Block enable mask of the task.
    pub enable_mask: u32,
    /// Completion interrupt mask, pair form (`0x300` DPU, `0xC00` PPU).
    pub int_mask: u32,
    /// Interrupts to clear.
    pub int_clear: u32,
    /// Written back by the kernel into the last task.
    pub int_status: u32,
    /// Body regcmd qwords, excluding the 4-qword PC tail.
    pub regcfg_amount: u32,
    /// Unused by the kernel.
    pub regcfg_offset: u32,
    /// NPU address of the task's regcmd stream.
    pub regcmd_addr: u64,
}

/// `struct rknpu_subcore_task`: a task range for one core.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq, Eq)]
pub struct SubcoreTask {
    /// First task index.
    pub task_start: u32,
    /// Number of tasks.
    pub task_number: u32,
}

/// `struct rknpu_submit` (0.9.7/0.9.8 layout; zeroed unused fields keep it
/// valid for the older pre-IOMMU-domain layout of the same size).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Submit {
    /// `JOB_*` flags.
    pub flags: u32,
    /// Blocking wait in milliseconds.
    pub timeout: u32,
    /// First task (single-core chips).
    pub task_start: u32,
    /// Number of tasks (nonzero).
    pub task_number: u32,
    /// Out: tasks completed.
    pub task_counter: u32,
    /// Unused by 0.9.8.
    pub priority: i32,
    /// `obj_addr` of the task-array buffer (KERNEL_MAPPING).
    pub task_obj_addr: u64,
    /// IOMMU domain of the job.
    pub iommu_domain_id: u32,
    /// Zero.
    pub reserved: u32,
    /// Base added by the PC to every DMA address; 0.
    pub task_base_addr: u64,
    /// Out: nanoseconds between commit and interrupt.
    pub hw_elapse_time: i64,
    /// 0: auto, else core bits.
    pub core_mask: u32,
    /// sync_file fd for fences, -1 otherwise.
    pub fence_fd: i32,
    /// Per-core task ranges.
    pub subcore_task: [SubcoreTask; 5],
}

/// The six driver ioctls, by `nr`.
pub const NR_ACTION: u8 = 0x00;
/// `RKNPU_SUBMIT`.
pub const NR_SUBMIT: u8 = 0x01;
/// `RKNPU_MEM_CREATE`.
pub const NR_MEM_CREATE: u8 = 0x02;
/// `RKNPU_MEM_MAP`.
pub const NR_MEM_MAP: u8 = 0x03;
/// `RKNPU_MEM_DESTROY`.
pub const NR_MEM_DESTROY: u8 = 0x04;
/// `RKNPU_MEM_SYNC`.
pub const NR_MEM_SYNC: u8 = 0x05;

/// Which node type a request number is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// The DRM build (`/dev/dri/renderD*` / `card*`).
    Drm,
    /// The misc/dma-heap build (`/dev/rknpu`).
    Misc,
}

/// `RKNPU_IOC_MAGIC` of the misc build.
pub const MISC_TYPE: u8 = b'r';

/// The request number of ioctl `nr` with argument size `size` on `node`.
pub const fn request(node: Node, nr: u8, size: usize) -> u32 {
    match node {
        Node::Drm => iowr(DRM_TYPE, DRM_COMMAND_BASE + nr, size),
        Node::Misc => iowr(MISC_TYPE, nr, size),
    }
}

/// The request numbers of one node type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requests {
    /// `RKNPU_ACTION`.
    pub action: u32,
    /// `RKNPU_SUBMIT`.
    pub submit: u32,
    /// `RKNPU_MEM_CREATE`.
    pub mem_create: u32,
    /// `RKNPU_MEM_MAP`.
    pub mem_map: u32,
    /// `RKNPU_MEM_DESTROY`.
    pub mem_destroy: u32,
    /// `RKNPU_MEM_SYNC`.
    pub mem_sync: u32,
}

impl Requests {
    /// The numbers for `node`.
    pub const fn of(node: Node) -> Requests {
        Requests {
            action: request(node, NR_ACTION, size_of::<Action>()),
            submit: request(node, NR_SUBMIT, size_of::<Submit>()),
            mem_create: request(node, NR_MEM_CREATE, size_of::<MemCreate>()),
            mem_map: request(node, NR_MEM_MAP, size_of::<MemMap>()),
            mem_destroy: request(node, NR_MEM_DESTROY, size_of::<MemDestroy>()),
            mem_sync: request(node, NR_MEM_SYNC, size_of::<MemSync>()),
        }
    }
}

/// DRM-build request numbers.
pub const DRM: Requests = Requests::of(Node::Drm);
/// Misc-build request numbers.
pub const MISC: Requests = Requests::of(Node::Misc);

const _: () = {
    assert!(size_of::<Action>() == 8);
    assert!(offset_of!(Action, value) == 4);

    assert!(size_of::<MemCreate>() == 48);
    assert!(offset_of!(MemCreate, flags) == 4);
    assert!(offset_of!(MemCreate, size) == 8);
    assert!(offset_of!(MemCreate, obj_addr) == 16);
    assert!(offset_of!(MemCreate, dma_addr) == 24);
    assert!(offset_of!(MemCreate, sram_size) == 32);
    assert!(offset_of!(MemCreate, iommu_domain_id) == 40);
    assert!(offset_of!(MemCreate, core_mask) == 44);

    assert!(size_of::<MemMap>() == 16);
    assert!(offset_of!(MemMap, offset) == 8);
    assert!(size_of::<MemDestroy>() == 16);
    assert!(offset_of!(MemDestroy, obj_addr) == 8);

    assert!(size_of::<MemSync>() == 32);
    assert!(offset_of!(MemSync, obj_addr) == 8);
    assert!(offset_of!(MemSync, offset) == 16);
    assert!(offset_of!(MemSync, size) == 24);

    assert!(size_of::<Task>() == 40);
    assert!(offset_of!(Task, op_idx) == 4);
    assert!(offset_of!(Task, enable_mask) == 8);
    assert!(offset_of!(Task, int_mask) == 12);
    assert!(offset_of!(Task, int_clear) == 16);
    assert!(offset_of!(Task, int_status) == 20);
    assert!(offset_of!(Task, regcfg_amount) == 24);
    assert!(offset_of!(Task, regcfg_offset) == 28);
    assert!(offset_of!(Task, regcmd_addr) == 32);
    assert!(size_of::<SubcoreTask>() == 8);

    assert!(size_of::<Submit>() == 104);
    assert!(offset_of!(Submit, timeout) == 4);
    assert!(offset_of!(Submit, task_start) == 8);
    assert!(offset_of!(Submit, task_number) == 12);
    assert!(offset_of!(Submit, task_counter) == 16);
    assert!(offset_of!(Submit, priority) == 20);
    assert!(offset_of!(Submit, task_obj_addr) == 24);
    assert!(offset_of!(Submit, iommu_domain_id) == 32);
    assert!(offset_of!(Submit, reserved) == 36);
    assert!(offset_of!(Submit, task_base_addr) == 40);
    assert!(offset_of!(Submit, hw_elapse_time) == 48);
    assert!(offset_of!(Submit, core_mask) == 56);
    assert!(offset_of!(Submit, fence_fd) == 60);
    assert!(offset_of!(Submit, subcore_task) == 64);

    assert!(DRM.action == 0xC008_6440);
    assert!(DRM.submit == 0xC068_6441);
    assert!(DRM.mem_create == 0xC030_6442);
    assert!(DRM.mem_map == 0xC010_6443);
    assert!(DRM.mem_destroy == 0xC010_6444);
    assert!(DRM.mem_sync == 0xC020_6445);

    assert!(MISC.action == 0xC008_7200);
    assert!(MISC.submit == 0xC068_7201);
    assert!(MISC.mem_create == 0xC030_7202);
    assert!(MISC.mem_map == 0xC010_7203);
    assert!(MISC.mem_destroy == 0xC010_7204);
    assert!(MISC.mem_sync == 0xC020_7205);
};

/// `RKNPU_ACTION` codes (§1.4) this layer uses.
pub mod action {
    /// Hardware version of core 0.
    pub const GET_HW_VERSION: u32 = 0;
    /// Driver version, `major·10000 + minor·100 + patch`.
    pub const GET_DRV_VERSION: u32 = 1;
    /// NPU clock in Hz.
    pub const GET_FREQ: u32 = 2;
    /// 1 if the NPU sits behind an IOMMU.
    pub const GET_IOMMU_EN: u32 = 18;
    /// SRAM bytes managed by the driver.
    pub const GET_TOTAL_SRAM_SIZE: u32 = 22;
    /// Free SRAM bytes.
    pub const GET_FREE_SRAM_SIZE: u32 = 23;
}

/// `RKNPU_MEM_*` allocation flags (§1.5).
pub mod mem {
    /// Physically contiguous (the zero default).
    pub const CONTIGUOUS: u32 = 0;
    /// Pages + IOMMU mapping (with an IOMMU only).
    pub const NON_CONTIGUOUS: u32 = 1 << 0;
    /// Uncached CPU mapping (the zero default).
    pub const NON_CACHEABLE: u32 = 0;
    /// Cached CPU mapping; MEM_SYNC required.
    pub const CACHEABLE: u32 = 1 << 1;
    /// Write-combined CPU mapping (without CACHEABLE).
    pub const WRITE_COMBINE: u32 = 1 << 2;
    /// Kernel vmap; required for the task array.
    pub const KERNEL_MAPPING: u32 = 1 << 3;
    /// Accepted, unused.
    pub const IOMMU: u32 = 1 << 4;
    /// Zero the allocation.
    pub const ZEROING: u32 = 1 << 5;
    /// Accepted, unused.
    pub const SECURE: u32 = 1 << 6;
    /// Force GFP_DMA32.
    pub const DMA32: u32 = 1 << 7;
    /// First `sram_size` bytes in on-chip SRAM.
    pub const TRY_ALLOC_SRAM: u32 = 1 << 8;
    /// NBUF backing (RK3562/RK3576).
    pub const TRY_ALLOC_NBUF: u32 = 1 << 9;
    /// IOVA without size alignment.
    pub const IOMMU_LIMIT_IOVA_ALIGNMENT: u32 = 1 << 10;

    /// `RKNPU_MEM_SYNC_TO_DEVICE`.
    pub const SYNC_TO_DEVICE: u32 = 1;
    /// `RKNPU_MEM_SYNC_FROM_DEVICE`.
    pub const SYNC_FROM_DEVICE: u32 = 2;
}

/// `RKNPU_JOB_*` submit flags (§1.6).
pub mod job {
    /// Register-by-register mode; rejected by 0.9.x.
    pub const SLAVE: u32 = 0;
    /// Program-counter mode.
    pub const PC: u32 = 1 << 0;
    /// The ioctl waits for completion (zero default).
    pub const BLOCK: u32 = 0;
    /// Return at once.
    pub const NONBLOCK: u32 = 1 << 1;
    /// Prefetch the next task's registers.
    pub const PINGPONG: u32 = 1 << 2;
    /// Wait on `fence_fd` first.
    pub const FENCE_IN: u32 = 1 << 3;
    /// Return a fence in `fence_fd`.
    pub const FENCE_OUT: u32 = 1 << 4;
}

/// The kernel's completion test needs `int_mask` in pair form: for each
/// bit pair {0,1}, {2,3} … {10,11} either both bits or none (§1.6).
pub fn int_mask_is_pair_form(mask: u32) -> bool {
    (0..6).all(|pair| {
        let bits = (mask >> (2 * pair)) & 0b11;
        bits == 0 || bits == 0b11
    }) && mask != 0
        && mask & !0xfff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_form_masks() {
        assert!(int_mask_is_pair_form(0x300));
        assert!(int_mask_is_pair_form(0xC00));
        assert!(int_mask_is_pair_form(0xF00));
        assert!(!int_mask_is_pair_form(0x100));
        assert!(!int_mask_is_pair_form(0));
        assert!(!int_mask_is_pair_form(0x1_0300));
    }

    #[test]
    fn misc_and_drm_requests_share_sizes() {
        for (d, m) in [
            (DRM.action, MISC.action),
            (DRM.submit, MISC.submit),
            (DRM.mem_sync, MISC.mem_sync),
        ] {
            assert_eq!(d & 0xffff_0000, m & 0xffff_0000);
            assert_eq!((d & 0xff) - 0x40, m & 0xff);
        }
    }
}
