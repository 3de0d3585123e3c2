//! rknpu buffers: MEM_CREATE + MEM_MAP + mmap, PRIME import/export,
//! MEM_SYNC, and MEM_DESTROY / GEM_CLOSE when the buffer drops (§1.5,
//! §1.7, §1.8 of the reference).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;

use nix::errno::Errno;

use super::abi::{mem, MemCreate, MemDestroy, MemMap, MemSync, Node};
use super::{HandleRef, RknpuDevice, Shared};
use crate::driver::ioctl::{
    call_plain, dma_buf_sync_flags, errno_text, gem_close, map_errno, prime_export, prime_import,
    DmaBufSync, DMA_BUF_IOCTL_SYNC,
};
use crate::driver::map::{dup, map_shared, unmap, PAGE};
use crate::driver::{AllocRequest, Buffer, CachePolicy, DriverError, SyncDir};

/// The driver object behind an rknpu buffer (its `Backing`): released when
/// the buffer drops, after the CPU mapping is gone.
#[derive(Debug)]
pub struct RknpuObject {
    pub(super) shared: Arc<Shared>,
    handle: u32,
    obj_addr: u64,
    flags: u32,
    /// Where the buffer's first byte is in the object.
    offset: u64,
    /// Imported from a foreign dma-buf (synced through the dma-buf).
    imported: bool,
}

impl RknpuObject {
    /// GEM handle (DRM build) or dma-buf fd number (misc build).
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// The kernel's token for SUBMIT/MEM_SYNC; valid while this lives.
    pub fn obj_addr(&self) -> u64 {
        self.obj_addr
    }

    /// `RKNPU_MEM_*` flags it was created with.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether it was imported from a dma-buf fd.
    pub fn imported(&self) -> bool {
        self.imported
    }
}

impl Drop for RknpuObject {
    fn drop(&mut self) {
        let s = &self.shared;
        let result = match s.node {
            Node::Drm => {
                let created = {
                    let mut handles = s.handles.lock().unwrap_or_else(|p| p.into_inner());
                    match handles.get_mut(&self.handle) {
                        Some(r) if r.count > 1 => {
                            r.count -= 1;
                            return;
                        }
                        Some(r) => {
                            let created = r.created;
                            handles.remove(&self.handle);
                            created
                        }
                        None => !self.imported,
                    }
                };
                if created {
                    destroy(s, self.handle, self.obj_addr).map(|_| "RKNPU_MEM_DESTROY")
                } else {
                    gem_close(&*s.seam, s.raw(), self.handle).map(|_| "DRM_IOCTL_GEM_CLOSE")
                }
            }
            Node::Misc => destroy(s, self.handle, self.obj_addr).map(|_| "RKNPU_MEM_DESTROY"),
        };
        if let Err(e) = result {
            tracing::warn!(
                "rknpu: releasing object (handle {}, obj_addr {:#x}) failed: {}",
                self.handle,
                self.obj_addr,
                errno_text(e)
            );
        }
    }
}

fn destroy(s: &Shared, handle: u32, obj_addr: u64) -> Result<i32, Errno> {
    let mut d = MemDestroy {
        handle,
        reserved: 0,
        obj_addr,
    };
    call_plain(&*s.seam, s.raw(), s.req.mem_destroy, &mut d)
}

/// Counts one more buffer on GEM `handle` (DRM build).
fn retain(s: &Shared, handle: u32, created: bool) {
    let mut handles = s.handles.lock().unwrap_or_else(|p| p.into_inner());
    handles
        .entry(handle)
        .and_modify(|r| r.count += 1)
        .or_insert(HandleRef { count: 1, created });
}

/// The `RKNPU_MEM_*` flags for `req` on `dev`.
pub(super) fn alloc_flags(dev: &RknpuDevice, req: &AllocRequest) -> u32 {
    let mut flags = mem::ZEROING;
    flags |= match req.cache {
        CachePolicy::Cacheable => mem::CACHEABLE,
        CachePolicy::NonCacheable => mem::NON_CACHEABLE,
        CachePolicy::WriteCombine => mem::WRITE_COMBINE,
    };
    if req.kernel_mapping {
        flags |= mem::KERNEL_MAPPING;
    }
    if req.try_sram && dev.info.sram_total > 0 {
        flags |= mem::TRY_ALLOC_SRAM;
    }
    // With an IOMMU the DRM build can back buffers with scattered pages
    // (no CMA pressure); the misc build rejects the flag.
    if dev.info.iommu && dev.shared.node == Node::Drm {
        flags |= mem::NON_CONTIGUOUS;
    }
    flags
}

/// MEM_CREATE + map for `req`.
pub(super) fn allocate(dev: &RknpuDevice, req: &AllocRequest) -> Result<Buffer, DriverError> {
    let s = &dev.shared;
    let size = req.size;
    let flags = alloc_flags(dev, req);
    let mut mc = MemCreate {
        flags,
        size: size.max(1) as u64,
        ..MemCreate::default()
    };
    call_plain(&*s.seam, s.raw(), s.req.mem_create, &mut mc).map_err(|e| match e {
        Errno::ENOMEM | Errno::ENOSPC => DriverError::Alloc {
            size,
            reason: format!("RKNPU_MEM_CREATE (flags {flags:#x}): {}", errno_text(e)),
        },
        e => map_errno(
            "rknpu",
            "RKNPU_MEM_CREATE",
            &format!("{size} bytes, flags {flags:#x}"),
            e,
        ),
    })?;
    let map_len = usize::try_from(mc.size)
        .ok()
        .filter(|&n| n >= size)
        .ok_or_else(|| DriverError::Alloc {
            size,
            reason: format!("RKNPU_MEM_CREATE returned {} bytes", mc.size),
        })?;
    // Misc build: the handle is a new dma-buf fd, owned from here on
    // (declared before the object so it closes after the destroy).
    let misc_fd = match s.node {
        Node::Misc => {
            let raw = i32::try_from(mc.handle).map_err(|_| DriverError::Ioctl {
                call: "RKNPU_MEM_CREATE",
                reason: format!("returned fd {} out of range", mc.handle),
            })?;
            // SAFETY: on the misc build MEM_CREATE returns a new dma-buf fd
            // in `handle` that nobody else owns.
            Some(unsafe { OwnedFd::from_raw_fd(raw) })
        }
        Node::Drm => {
            retain(s, mc.handle, true);
            None
        }
    };
    let obj = RknpuObject {
        shared: Arc::clone(s),
        handle: mc.handle,
        obj_addr: mc.obj_addr,
        flags,
        offset: 0,
        imported: false,
    };
    let what = format!("handle {}, {} bytes", mc.handle, mc.size);
    let (fd, map_offset) = match misc_fd {
        Some(fd) => (fd, 0),
        None => {
            let mut mm = MemMap {
                handle: mc.handle,
                ..MemMap::default()
            };
            call_plain(&*s.seam, s.raw(), s.req.mem_map, &mut mm)
                .map_err(|e| map_errno("rknpu", "RKNPU_MEM_MAP", &what, e))?;
            let fd = prime_export(&*s.seam, s.raw(), mc.handle)
                .map_err(|e| map_errno("rknpu", "DRM_IOCTL_PRIME_HANDLE_TO_FD", &what, e))?;
            (fd, mm.offset)
        }
    };
    let map_fd = match s.node {
        Node::Drm => s.fd.as_fd(),
        Node::Misc => fd.as_fd(),
    };
    let (base, mapped) =
        map_shared(map_fd, map_offset, map_len).map_err(|e| DriverError::Alloc {
            size,
            reason: format!(
                "mmap of rknpu {what} at offset {map_offset:#x}: {}",
                errno_text(e)
            ),
        })?;
    // SAFETY: `base` is the live `mapped`-byte mapping made above, owned by
    // the buffer from now on; `size <= map_len <= mapped`.
    let buf = unsafe { Buffer::from_mapping(base, mapped, 0, size, Some(fd), mc.dma_addr) };
    Ok(buf
        .with_cacheable(req.cache == CachePolicy::Cacheable)
        .with_backing(Box::new(obj)))
}

/// PRIME (DRM) or MEM_CREATE-with-fd (misc) import of a dma-buf.
pub(super) fn import_fd(
    dev: &RknpuDevice,
    fd: BorrowedFd<'_>,
    size: usize,
    offset: usize,
) -> Result<Buffer, DriverError> {
    let s = &dev.shared;
    let raw = fd.as_raw_fd();
    let end = offset
        .checked_add(size)
        .ok_or_else(|| DriverError::Invalid("offset + size overflows".into()))?;
    let own = dup(fd)
        .map_err(|e| DriverError::Invalid(format!("rknpu: dup of fd {raw}: {}", errno_text(e))))?;
    let not_dmabuf = |call: &'static str, e: Errno| {
        DriverError::Invalid(format!(
            "fd {raw} is not a dma-buf the rknpu driver can import ({call}: {}); the NPU can \
             only address dma-buf memory (DRM/dma-heap buffers)",
            errno_text(e)
        ))
    };
    let mut mc = MemCreate::default();
    match s.node {
        Node::Drm => {
            let handle = prime_import(&*s.seam, s.raw(), raw)
                .map_err(|e| not_dmabuf("DRM_IOCTL_PRIME_FD_TO_HANDLE", e))?;
            retain(s, handle, false);
            mc.handle = handle;
        }
        Node::Misc => {
            mc.handle =
                u32::try_from(own.as_raw_fd()).map_err(|_| not_dmabuf("dup", Errno::EBADF))?;
            mc.size = end as u64;
        }
    }
    let query = call_plain(&*s.seam, s.raw(), s.req.mem_create, &mut mc);
    if let (Err(e), Node::Misc) = (query, s.node) {
        // Nothing was created on the misc build: there is nothing to free.
        return Err(not_dmabuf("RKNPU_MEM_CREATE", e));
    }
    // From here the object exists (DRM: the imported handle) and dropping
    // it releases it.
    let obj = RknpuObject {
        shared: Arc::clone(s),
        handle: mc.handle,
        obj_addr: mc.obj_addr,
        flags: mc.flags,
        offset: offset as u64,
        imported: true,
    };
    if let Err(e) = query {
        return Err(map_errno(
            "rknpu",
            "RKNPU_MEM_CREATE",
            &format!("query of imported handle {}", mc.handle),
            e,
        ));
    }
    if end as u64 > mc.size {
        return Err(DriverError::Invalid(format!(
            "fd {raw}: {size} bytes at offset {offset} exceed the {}-byte dma-buf",
            mc.size
        )));
    }
    let page_off = offset - offset % PAGE;
    let lead = offset - page_off;
    let (base, mapped) = map_shared(own.as_fd(), page_off as u64, lead + size).map_err(|e| {
        DriverError::Invalid(format!(
            "fd {raw}: the dma-buf cannot be mapped by the CPU (mmap: {})",
            errno_text(e)
        ))
    })?;
    if lead + size > mapped {
        // SAFETY: the mapping was just made and is not used.
        unsafe { unmap(base, mapped) };
        return Err(DriverError::Invalid(
            "mapping shorter than requested".into(),
        ));
    }
    // SAFETY: `base` is the live `mapped`-byte mapping made above and owned
    // by the buffer; `lead + size <= mapped`.
    let buf = unsafe {
        Buffer::from_mapping(
            base,
            mapped,
            lead,
            size,
            Some(own),
            mc.dma_addr + offset as u64,
        )
    };
    Ok(buf.with_cacheable(true).with_backing(Box::new(obj)))
}

/// Physical memory: without an IOMMU the NPU addresses physical memory
/// directly (`dma_addr` is physical), so the buffer is the caller's
/// mapping with `phys` as its device address. With an IOMMU the driver has
/// no ioctl to map foreign physical pages, so it is refused.
///
/// # Safety
/// `virt .. virt + size` stays mapped and writable while the buffer lives.
pub(super) unsafe fn import_phys(
    dev: &RknpuDevice,
    phys: u64,
    virt: NonNull<u8>,
    size: usize,
) -> Result<Buffer, DriverError> {
    if dev.info.iommu {
        return Err(DriverError::Unsupported {
            device: "rknpu",
            what: format!(
                "physical address {phys:#x}: the NPU sits behind an IOMMU and the rknpu driver \
                 has no ioctl that maps foreign physical memory into it; import a dma-buf fd \
                 instead"
            ),
        });
    }
    let end = phys.checked_add(size as u64);
    if end.is_none_or(|e| e > 1 << 32) {
        return Err(DriverError::Invalid(format!(
            "physical range {phys:#x} + {size} bytes is beyond the NPU's 32-bit address space"
        )));
    }
    // SAFETY: the caller guarantees the mapping (contract above). The
    // buffer is marked non-cacheable: the driver cannot sync memory it
    // does not know, cache maintenance stays with the caller.
    let buf = unsafe { Buffer::from_borrowed(virt, size, None, phys) };
    Ok(buf.with_cacheable(false))
}

/// MEM_SYNC (allocated objects) or DMA_BUF_IOCTL_SYNC (imported ones);
/// nothing for non-cacheable buffers.
pub(super) fn sync(
    dev: &RknpuDevice,
    buf: &Buffer,
    offset: usize,
    size: usize,
    dir: SyncDir,
) -> Result<(), DriverError> {
    buf.check_range(offset, size)?;
    if !buf.cacheable() {
        return Ok(());
    }
    let obj = dev.object_of(buf).ok_or_else(|| {
        DriverError::Invalid("rknpu: sync of a buffer this device did not create".into())
    })?;
    let s = &dev.shared;
    if obj.imported {
        for flags in dma_buf_sync_flags(dir) {
            let mut arg = DmaBufSync { flags };
            call_plain(&*s.seam, buf.fd(), DMA_BUF_IOCTL_SYNC, &mut arg).map_err(|e| {
                map_errno(
                    "rknpu",
                    "DMA_BUF_IOCTL_SYNC",
                    &format!("dma-buf fd {}, flags {flags:#x}", buf.fd()),
                    e,
                )
            })?;
        }
        return Ok(());
    }
    let flags = match dir {
        SyncDir::ToDevice => mem::SYNC_TO_DEVICE,
        SyncDir::FromDevice => mem::SYNC_FROM_DEVICE,
        SyncDir::Bidirectional => mem::SYNC_TO_DEVICE | mem::SYNC_FROM_DEVICE,
    };
    let mut ms = MemSync {
        flags,
        reserved: 0,
        obj_addr: obj.obj_addr,
        offset: obj.offset + offset as u64,
        size: size as u64,
    };
    call_plain(&*s.seam, s.raw(), s.req.mem_sync, &mut ms).map_err(|e| {
        map_errno(
            "rknpu",
            "RKNPU_MEM_SYNC",
            &format!(
                "handle {}, {size} bytes at {offset}, direction {dir:?}",
                obj.handle
            ),
            e,
        )
    })?;
    Ok(())
}
