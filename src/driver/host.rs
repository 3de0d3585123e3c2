//! The host device: no NPU. Buffers are `memfd_create` + `mmap`, so their
//! fds are real and can be shared; every step runs on the CPU kernels.

use std::ffi::CStr;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use nix::sys::mman::{mmap, MapFlags, ProtFlags};

use super::{AllocRequest, Buffer, Device, DeviceInfo, DriverError, Job, SyncDir};
use crate::platform::Platform;

/// A close-on-exec memfd named `name`. The raw system call (Linux 3.17)
/// rather than glibc's wrapper, which only exists since glibc 2.27: the
/// released library keeps the vendor's glibc 2.17 floor.
pub(super) fn memfd(name: &CStr) -> std::io::Result<OwnedFd> {
    // SAFETY: memfd_create takes a NUL-terminated name and flags and
    // returns a new fd or -1; it touches no memory of ours otherwise.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_memfd_create,
            name.as_ptr(),
            libc::MFD_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(fd).map_err(|_| std::io::Error::other("fd out of range"))?;
    // SAFETY: `fd` is a new descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The CPU-only device.
#[derive(Debug)]
pub struct HostDevice {
    platform: Platform,
}

impl HostDevice {
    /// A host device emulating `RKNNRT_PLATFORM` (default rk3588).
    pub fn new() -> HostDevice {
        let platform = std::env::var("RKNNRT_PLATFORM")
            .ok()
            .and_then(|p| Platform::from_name(&p))
            .unwrap_or(Platform::Rk3588);
        HostDevice { platform }
    }
}

impl Default for HostDevice {
    fn default() -> Self {
        HostDevice::new()
    }
}

impl Device for HostDevice {
    fn name(&self) -> &'static str {
        "host"
    }

    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            platform: self.platform,
            driver_version: "host".to_string(),
            hw_version: None,
            cores: 0,
            sram_total: 0,
            sram_free: 0,
            iommu: false,
        }
    }

    fn allocate(&self, req: &AllocRequest) -> Result<Buffer, DriverError> {
        let size = req.size;
        let fail = |reason: String| DriverError::Alloc { size, reason };
        let map_len = size
            .max(1)
            .checked_next_multiple_of(PAGE)
            .ok_or_else(|| fail("size overflows".into()))?;
        let name: &CStr = c"rknnrt";
        let fd = memfd(name).map_err(|e| fail(format!("memfd_create: {e}")))?;
        let len = libc::off_t::try_from(map_len)
            .map_err(|_| fail("size exceeds the file offset range".into()))?;
        nix::unistd::ftruncate(fd.as_fd(), len).map_err(|e| fail(format!("ftruncate: {e}")))?;
        let (base, map_len) =
            map_shared(fd.as_fd(), 0, map_len, true).map_err(|e| fail(format!("mmap: {e}")))?;
        let addr = base.as_ptr() as u64;
        // SAFETY: `base` is the live `map_len`-byte mapping made above,
        // owned by the buffer from now on; `size <= map_len`.
        Ok(unsafe { Buffer::from_mapping(base, map_len, 0, size, Some(fd), addr) })
    }

    fn import_fd(
        &self,
        fd: BorrowedFd<'_>,
        size: usize,
        offset: usize,
    ) -> Result<Buffer, DriverError> {
        let own = super::map::dup_range(fd, size, offset)?;
        let page_off = offset - offset % PAGE;
        let lead = offset - page_off;
        let (base, map_len) = map_shared(own.as_fd(), page_off, lead + size.max(1), false)
            .map_err(|e| DriverError::Invalid(format!("fd {}: mmap: {e}", fd.as_raw_fd())))?;
        let addr = base.as_ptr() as u64 + lead as u64;
        // SAFETY: `base` is the live `map_len`-byte mapping made above and
        // owned by the buffer; `lead + size <= map_len`.
        Ok(unsafe { Buffer::from_mapping(base, map_len, lead, size, Some(own), addr) })
    }

    unsafe fn import_phys(
        &self,
        phys: u64,
        _virt: NonNull<u8>,
        _size: usize,
    ) -> Result<Buffer, DriverError> {
        Err(DriverError::Unsupported {
            device: "host",
            what: format!(
                "physical address {phys:#x}: the host device has no physical memory access"
            ),
        })
    }

    fn sync(
        &self,
        buf: &Buffer,
        offset: usize,
        size: usize,
        _dir: SyncDir,
    ) -> Result<(), DriverError> {
        // The CPU is the only agent: caches are coherent with themselves.
        buf.check_range(offset, size)
    }

    fn export_fd(&self, buf: &Buffer) -> Result<OwnedFd, DriverError> {
        buf.dup_fd()
    }

    fn submit(&self, _job: &Job<'_>) -> Result<(), DriverError> {
        Err(DriverError::Unsupported {
            device: "host",
            what: "job submission (every step runs on the CPU)".into(),
        })
    }
}

const PAGE: usize = 4096;

/// Maps `len` bytes (rounded up to pages) of `fd` from the page-aligned
/// `offset`, shared and writable; `populate` pre-faults the pages.
fn map_shared(
    fd: BorrowedFd<'_>,
    offset: usize,
    len: usize,
    populate: bool,
) -> Result<(NonNull<u8>, usize), String> {
    let map_len = len
        .checked_next_multiple_of(PAGE)
        .ok_or_else(|| "size overflows".to_string())?;
    let nz = NonZeroUsize::new(map_len).ok_or_else(|| "zero length".to_string())?;
    let off = libc::off_t::try_from(offset).map_err(|_| "offset out of range".to_string())?;
    let mut flags = MapFlags::MAP_SHARED;
    if populate {
        flags |= MapFlags::MAP_POPULATE;
    }
    // SAFETY: a new shared mapping of a file we hold open; nothing else in
    // this process aliases the new address range.
    let ptr = unsafe {
        mmap(
            None,
            nz,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            flags,
            fd,
            off,
        )
    }
    .map_err(|e| e.to_string())?;
    Ok((ptr.cast(), map_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn memfd_is_a_named_close_on_exec_file() {
        let fd = memfd(c"rknnrt-test").expect("memfd");
        // SAFETY: F_GETFD on a live descriptor reads its flags only.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("link");
        assert!(
            link.to_string_lossy().starts_with("/memfd:rknnrt-test"),
            "{link:?}"
        );
        nix::unistd::ftruncate(fd.as_fd(), 8192).expect("ftruncate");
        let meta = std::fs::File::from(fd).metadata().expect("metadata");
        assert_eq!(meta.len(), 8192);
    }

    #[test]
    fn alloc_gives_a_shared_writable_buffer() {
        let mut buf = HostDevice::new().alloc(5000).expect("alloc");
        assert_eq!(buf.size(), 5000);
        buf.as_mut_slice()[4999] = 7;
        // The same bytes through the fd: the mapping is shared.
        let mut file = std::fs::File::from(
            nix::unistd::dup(buf.fd())
                .map(|fd| {
                    // SAFETY: `dup` returned a new descriptor we own.
                    unsafe { OwnedFd::from_raw_fd(fd) }
                })
                .expect("dup"),
        );
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).expect("read");
        assert_eq!(bytes.len(), 8192);
        assert_eq!(bytes[4999], 7);
    }
}
