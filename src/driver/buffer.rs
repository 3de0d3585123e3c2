//! A mapped, fd-backed buffer.

use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;

/// A CPU-mapped buffer with a file descriptor (memfd on the host device,
/// dma-buf on NPU devices). Unmapped and closed on drop.
#[derive(Debug)]
pub struct Buffer {
    ptr: NonNull<u8>,
    size: usize,
    map_len: usize,
    fd: OwnedFd,
    dev_addr: u64,
}

// SAFETY: the buffer owns its mapping exclusively; access to the bytes goes
// through `&self`/`&mut self` (or through raw pointers whose users uphold
// aliasing rules), so moving or sharing the handle across threads is sound.
unsafe impl Send for Buffer {}
// SAFETY: see `Send`; shared references only hand out shared slices.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// Wraps a mapping.
    ///
    /// # Safety
    /// `ptr` must point to a live, writable mapping of `map_len >= size`
    /// bytes created with `mmap`, owned by the new `Buffer` alone.
    pub(crate) unsafe fn from_raw(
        ptr: NonNull<u8>,
        size: usize,
        map_len: usize,
        fd: OwnedFd,
        dev_addr: u64,
    ) -> Buffer {
        Buffer {
            ptr,
            size,
            map_len,
            fd,
            dev_addr,
        }
    }

    /// Usable size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// File descriptor of the backing memory.
    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Device (DMA) address; on the host device, the CPU address.
    pub fn dev_addr(&self) -> u64 {
        self.dev_addr
    }

    /// CPU address of the first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is live for `self`'s lifetime and `size`
        // bytes long; `&self` forbids concurrent `&mut` access.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.size) }
    }

    /// The bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, with exclusive access through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.size) }
    }
}

impl AsRef<[u8]> for Buffer {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`map_len` describe the mapping this buffer owns; it
        // is unmapped once, here. The fd closes when `OwnedFd` drops.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.map_len);
        }
    }
}
