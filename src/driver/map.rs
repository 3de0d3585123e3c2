//! CPU mappings and fd duplication shared by the devices.

use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;

use nix::errno::Errno;
use nix::sys::mman::{mmap, MapFlags, ProtFlags};

/// The page size assumed for offsets and lengths (all supported SoCs run
/// 4 KiB-page kernels; the kernel rejects misaligned offsets anyway).
pub const PAGE: usize = 4096;

/// Maps `len` bytes (rounded up to pages) of `fd` at `offset` (a page
/// multiple or a DRM fake offset), shared and writable. Returns the base
/// and the mapped length.
pub fn map_shared(
    fd: BorrowedFd<'_>,
    offset: u64,
    len: usize,
) -> Result<(NonNull<u8>, usize), Errno> {
    let map_len = len
        .max(1)
        .checked_next_multiple_of(PAGE)
        .ok_or(Errno::EOVERFLOW)?;
    let nz = NonZeroUsize::new(map_len).ok_or(Errno::EINVAL)?;
    let off = libc::off_t::try_from(offset).map_err(|_| Errno::EOVERFLOW)?;
    // SAFETY: a new shared mapping of a file we hold open; the kernel picks
    // an address range nothing else in this process uses.
    let ptr = unsafe {
        mmap(
            None,
            nz,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
            fd,
            off,
        )
    }?;
    Ok((ptr.cast(), map_len))
}

/// Unmaps a mapping made by [`map_shared`] that was not handed to a
/// `Buffer` (error paths).
///
/// # Safety
/// `base`/`len` must be a live mapping from [`map_shared`] that nothing
/// uses any more.
pub unsafe fn unmap(base: NonNull<u8>, len: usize) {
    // SAFETY: per the contract, a live mapping nobody uses.
    unsafe {
        libc::munmap(base.as_ptr().cast(), len);
    }
}

/// A close-on-exec duplicate of `fd`.
pub fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    fd.try_clone_to_owned()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)))
}

/// A close-on-exec duplicate of a buffer's raw fd (`-1`: none).
pub fn dup_raw(raw: i32) -> Option<Result<OwnedFd, Errno>> {
    if raw < 0 {
        return None;
    }
    // SAFETY: `raw` is a buffer's own open fd, alive for this call.
    let fd = unsafe { BorrowedFd::borrow_raw(raw) };
    debug_assert_eq!(fd.as_raw_fd(), raw);
    Some(dup(fd))
}

/// Checks that `size` bytes at `offset` lie inside the file behind `fd`
/// and returns a close-on-exec duplicate of it (the `import_fd` of the
/// devices that map the caller's memory themselves: `host`, `sim`).
pub fn dup_range(
    fd: BorrowedFd<'_>,
    size: usize,
    offset: usize,
) -> Result<OwnedFd, super::DriverError> {
    let raw = fd.as_raw_fd();
    let invalid = |m: String| super::DriverError::Invalid(format!("fd {raw}: {m}"));
    let st = nix::sys::stat::fstat(raw).map_err(|e| invalid(format!("fstat: {e}")))?;
    let file_len = u64::try_from(st.st_size).unwrap_or(0);
    let end = offset
        .checked_add(size)
        .ok_or_else(|| invalid("offset + size overflows".into()))?;
    if end as u64 > file_len {
        return Err(invalid(format!(
            "{size} bytes at offset {offset} exceed its {file_len} bytes"
        )));
    }
    fd.try_clone_to_owned()
        .map_err(|e| invalid(format!("dup: {e}")))
}
