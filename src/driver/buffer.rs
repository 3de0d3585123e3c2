//! A CPU-visible device buffer: fd, CPU pointer, device address, size.

use std::any::Any;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;

/// How the CPU view of a buffer came to be, which decides what dropping
/// the buffer undoes.
#[derive(Debug)]
enum Mapping {
    /// An `mmap` this buffer made (`base`, `len`); unmapped on drop.
    Owned { base: NonNull<u8>, len: usize },
    /// Memory somebody else owns (a caller's virtual address); left alone.
    Borrowed,
}

/// Device-specific state of a buffer (a GEM handle, a BO handle ...),
/// dropped after the CPU mapping is gone so it can free the object.
pub type Backing = Box<dyn Any + Send + Sync>;

/// A buffer the CPU can read and write and the device can address.
///
/// On the host device it is a memfd mapping; on NPU devices a GEM/BO object
/// mapped into this process. Dropping it unmaps what it mapped, then drops
/// the device backing (which frees the object), then closes its fd.
pub struct Buffer {
    ptr: NonNull<u8>,
    size: usize,
    mapping: Mapping,
    dev_addr: u64,
    cacheable: bool,
    backing: Option<Backing>,
    fd: Option<OwnedFd>,
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffer")
            .field("ptr", &self.ptr)
            .field("size", &self.size)
            .field("mapping", &self.mapping)
            .field("dev_addr", &format_args!("{:#x}", self.dev_addr))
            .field("cacheable", &self.cacheable)
            .field("fd", &self.fd())
            .finish()
    }
}

// SAFETY: the buffer owns its mapping (or, for borrowed memory, the creator
// promised it stays valid for the buffer's life); access to the bytes goes
// through `&self`/`&mut self` or through raw pointers whose users uphold the
// aliasing rules, so moving or sharing the handle across threads is sound.
// The backing is `Send + Sync` by its type.
unsafe impl Send for Buffer {}
// SAFETY: see `Send`; shared references only hand out shared slices.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// Wraps a mapping this buffer will own: `map_len` bytes at `base`, of
    /// which the buffer's bytes are `size` bytes starting `offset` bytes in.
    ///
    /// # Safety
    /// `base` must point to a live, writable `mmap` mapping of `map_len`
    /// bytes owned by the new `Buffer` alone, and `offset + size <= map_len`.
    pub unsafe fn from_mapping(
        base: NonNull<u8>,
        map_len: usize,
        offset: usize,
        size: usize,
        fd: Option<OwnedFd>,
        dev_addr: u64,
    ) -> Buffer {
        debug_assert!(offset.checked_add(size).is_some_and(|end| end <= map_len));
        Buffer {
            // SAFETY (of the add): the caller guarantees offset <= map_len.
            ptr: unsafe { NonNull::new_unchecked(base.as_ptr().add(offset)) },
            size,
            mapping: Mapping::Owned { base, len: map_len },
            dev_addr,
            cacheable: true,
            backing: None,
            fd,
        }
    }

    /// Wraps memory the buffer does not own (a caller's virtual address).
    ///
    /// # Safety
    /// `ptr .. ptr + size` must stay valid and writable for as long as the
    /// buffer lives, and must not be accessed through other references
    /// while the buffer hands out slices.
    pub unsafe fn from_borrowed(
        ptr: NonNull<u8>,
        size: usize,
        fd: Option<OwnedFd>,
        dev_addr: u64,
    ) -> Buffer {
        Buffer {
            ptr,
            size,
            mapping: Mapping::Borrowed,
            dev_addr,
            cacheable: true,
            backing: None,
            fd,
        }
    }

    /// Attaches device-specific state, dropped after the mapping.
    pub fn with_backing(mut self, backing: Backing) -> Buffer {
        self.backing = Some(backing);
        self
    }

    /// Records whether the CPU mapping is cached (and so needs syncs).
    pub fn with_cacheable(mut self, cacheable: bool) -> Buffer {
        self.cacheable = cacheable;
        self
    }

    /// Usable size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// File descriptor of the backing memory, or -1 when there is none
    /// (memory imported by physical address).
    pub fn fd(&self) -> i32 {
        self.fd.as_ref().map_or(-1, |fd| fd.as_raw_fd())
    }

    /// A close-on-exec duplicate of the buffer's fd (the `export_fd` of
    /// devices whose buffers are memfd or dma-buf backed).
    pub fn dup_fd(&self) -> Result<OwnedFd, super::DriverError> {
        let raw = self.fd();
        match super::map::dup_raw(raw) {
            None => Err(super::DriverError::Invalid("the buffer has no fd".into())),
            Some(r) => r.map_err(|e| super::DriverError::Invalid(format!("dup of fd {raw}: {e}"))),
        }
    }

    /// Checks that `size` bytes at `offset` lie inside the buffer (the
    /// argument check of every device's `sync`).
    pub fn check_range(&self, offset: usize, size: usize) -> Result<(), super::DriverError> {
        match offset.checked_add(size) {
            Some(end) if end <= self.size() => Ok(()),
            _ => Err(super::DriverError::Invalid(format!(
                "sync of {size} bytes at {offset} exceeds the {}-byte buffer",
                self.size()
            ))),
        }
    }

    /// Device (DMA) address of the first byte; on the host device, the CPU
    /// address.
    pub fn dev_addr(&self) -> u64 {
        self.dev_addr
    }

    /// Whether the CPU mapping is cached.
    pub fn cacheable(&self) -> bool {
        self.cacheable
    }

    /// The device-specific state, if it is a `T`.
    pub fn backing<T: Any>(&self) -> Option<&T> {
        self.backing.as_ref().and_then(|b| b.downcast_ref::<T>())
    }

    /// CPU address of the first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the memory is live for `self`'s lifetime and `size` bytes
        // long (constructor contracts); `&self` forbids `&mut` access.
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
        if let Mapping::Owned { base, len } = self.mapping {
            // SAFETY: `base`/`len` describe the mapping this buffer owns; it
            // is unmapped once, here. The backing and the fd drop afterwards.
            unsafe {
                libc::munmap(base.as_ptr().cast(), len);
            }
        }
    }
}
