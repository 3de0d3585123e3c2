//! The host device: no NPU. Buffers are `memfd_create` + `mmap`, so their
//! fds are real and can be shared; every step runs on the CPU kernels.

use std::ffi::CStr;
use std::num::NonZeroUsize;
use std::os::fd::AsFd;
use std::ptr::NonNull;

use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::mman::{mmap, MapFlags, ProtFlags};

use super::{Buffer, Device, DeviceInfo, DriverError};
use crate::platform::Platform;

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
        let fd = memfd_create(name, MemFdCreateFlag::MFD_CLOEXEC)
            .map_err(|e| fail(format!("memfd_create: {e}")))?;
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
