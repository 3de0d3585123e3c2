//! The host device: no NPU. Buffers are `memfd_create` + `mmap`, so their
//! fds are real and can be shared; every step runs on the CPU kernels.

use std::ffi::CStr;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use nix::sys::mman::{mmap, MapFlags, ProtFlags};

use super::{Buffer, Device, DeviceInfo, DriverError};
use crate::platform::Platform;

/// A close-on-exec memfd named `name`. The raw system call (Linux 3.17)
/// rather than glibc's wrapper, which only exists since glibc 2.27: the
/// released library keeps the vendor's glibc 2.17 floor.
fn memfd(name: &CStr) -> std::io::Result<OwnedFd> {
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
        }
    }

    fn alloc(&self, size: usize) -> Result<Buffer, DriverError> {
        let fail = |reason: String| DriverError::Alloc { size, reason };
        let page = 4096usize;
        let map_len = size
            .max(1)
            .checked_next_multiple_of(page)
            .ok_or_else(|| fail("size overflows".into()))?;
        let name: &CStr = c"rknnrt";
        let fd = memfd(name).map_err(|e| fail(format!("memfd_create: {e}")))?;
        nix::unistd::ftruncate(fd.as_fd(), map_len as libc::off_t)
            .map_err(|e| fail(format!("ftruncate: {e}")))?;
        let len = NonZeroUsize::new(map_len).ok_or_else(|| fail("zero length".into()))?;
        // SAFETY: a fresh shared mapping of a file we own; no other mapping
        // aliases it yet.
        let ptr = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED | MapFlags::MAP_POPULATE,
                fd.as_fd(),
                0,
            )
        }
        .map_err(|e| fail(format!("mmap: {e}")))?;
        let ptr: NonNull<u8> = ptr.cast();
        let addr = ptr.as_ptr() as u64;
        // SAFETY: `ptr` is the live `map_len`-byte mapping made above,
        // owned by the buffer from now on.
        Ok(unsafe { Buffer::from_raw(ptr, size, map_len, fd, addr) })
    }
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
