//! The one seam every kernel call of the NPU devices goes through, the
//! Linux `_IOC` request encoding, and the generic DRM / dma-buf ioctls
//! both NPU drivers share (version, GEM close, PRIME, dma-buf sync).
//!
//! Devices never call `libc::ioctl` directly: they hold an
//! `Arc<dyn IoctlSeam>`, the real one being [`Kernel`]. Unit tests give
//! them a fake that decodes the argument bytes, plays the driver and
//! injects errno values, so error mapping and messages are tested without
//! hardware.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use bytemuck::{Pod, Zeroable};
use nix::errno::Errno;

use super::DriverError;

/// `_IOC_WRITE`: userspace writes the argument (the kernel reads it).
const IOC_WRITE: u32 = 1;
/// `_IOC_READ`: the kernel writes the argument back.
const IOC_READ: u32 = 2;

/// The generic Linux `_IOC(dir, type, nr, size)` encoding (arm, arm64,
/// x86: 8 bits nr, 8 bits type, 14 bits size, 2 bits direction).
pub const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
    assert!(size < (1 << 14), "ioctl argument too large for _IOC");
    (dir << 30) | ((size as u32) << 16) | ((ty as u32) << 8) | nr as u32
}

/// `_IOWR(ty, nr, size)`.
pub const fn iowr(ty: u8, nr: u8, size: usize) -> u32 {
    ioc(IOC_READ | IOC_WRITE, ty, nr, size)
}

/// `_IOW(ty, nr, size)`.
pub const fn iow(ty: u8, nr: u8, size: usize) -> u32 {
    ioc(IOC_WRITE, ty, nr, size)
}

/// `_IOC_SIZE(request)`: the argument size encoded in a request.
pub const fn ioc_size(request: u32) -> usize {
    ((request >> 16) & 0x3fff) as usize
}

/// `_IOC_NR(request)`.
pub const fn ioc_nr(request: u32) -> u8 {
    (request & 0xff) as u8
}

/// `DRM_IOCTL_BASE`, the ioctl type of every DRM (and accel) node.
pub const DRM_TYPE: u8 = b'd';
/// `DRM_COMMAND_BASE`: driver-specific DRM ioctls start here.
pub const DRM_COMMAND_BASE: u8 = 0x40;

/// The kernel-call seam: one `ioctl(2)` on `fd` with the argument struct
/// given as its bytes. Returns the (non-negative) return value or the
/// errno.
pub trait IoctlSeam: Send + Sync + std::fmt::Debug {
    /// Issues `request` on `fd` with `arg` as the argument struct.
    ///
    /// # Safety
    /// `arg.len()` must equal `_IOC_SIZE(request)`, and every user pointer
    /// stored inside `arg` (DRM version name buffers, rocket job and task
    /// arrays) must be valid for the reads and writes the kernel does
    /// through it for the duration of the call.
    unsafe fn ioctl(&self, fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno>;
}

/// The real kernel. Retries on `EINTR`/`EAGAIN` the way libdrm's
/// `drmIoctl` does (a signal during a blocking submit is not a failure).
#[derive(Debug, Default, Clone, Copy)]
pub struct Kernel;

impl IoctlSeam for Kernel {
    unsafe fn ioctl(&self, fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        if arg.len() != ioc_size(request) {
            return Err(Errno::EINVAL);
        }
        loop {
            // SAFETY: `arg` is a live, writable buffer of exactly the size
            // the request encodes (checked above), so the kernel's copy in
            // and out stays inside it; the caller guarantees the embedded
            // user pointers (see the trait contract). The request value is
            // reinterpreted as the platform's ioctl request type
            // (`c_ulong` on glibc, `c_int` on musl/Android): the same bits.
            let ret = unsafe { libc::ioctl(fd, request as libc::Ioctl, arg.as_mut_ptr()) };
            if ret >= 0 {
                return Ok(ret);
            }
            match Errno::last() {
                Errno::EINTR | Errno::EAGAIN => continue,
                e => return Err(e),
            }
        }
    }
}

/// Calls `seam` with `arg` as the argument of `request`.
///
/// # Safety
/// Every user pointer inside `arg` must be valid for the kernel's accesses
/// during the call (plain structs without pointers are always fine).
pub unsafe fn call<T: Pod>(
    seam: &dyn IoctlSeam,
    fd: RawFd,
    request: u32,
    arg: &mut T,
) -> Result<i32, Errno> {
    debug_assert_eq!(std::mem::size_of::<T>(), ioc_size(request));
    // SAFETY: the bytes are exactly `T`, whose size the request encodes;
    // pointers inside are the caller's responsibility (contract above).
    unsafe { seam.ioctl(fd, request, bytemuck::bytes_of_mut(arg)) }
}

/// Calls `seam` with a pointer-free argument struct.
pub fn call_plain<T: Pod>(
    seam: &dyn IoctlSeam,
    fd: RawFd,
    request: u32,
    arg: &mut T,
) -> Result<i32, Errno> {
    // SAFETY: the callers only pass structs without user pointers
    // (integers, handles, kernel tokens), so the kernel touches nothing
    // but `arg` itself.
    unsafe { call(seam, fd, request, arg) }
}

/// `errno` as `ENAME (n): description` for log lines.
pub fn errno_text(e: Errno) -> String {
    format!("{} (errno {})", e, e as i32)
}

/// The `DriverError` of a failed kernel call on `device`: a timeout for
/// `ETIMEDOUT`/`ETIME`, an unsupported call for `ENOTTY`/`ENOSYS` (the
/// driver does not know the ioctl), an invalid request for `EINVAL`/`EBADF`/`ENOENT`
/// (bad handle, bad argument), the generic ioctl failure otherwise. The
/// message names the call, what it was for, and the errno.
pub fn map_errno(device: &'static str, call: &'static str, what: &str, e: Errno) -> DriverError {
    let text = format!("{call} ({what}): {}", errno_text(e));
    match e {
        Errno::ETIMEDOUT | Errno::ETIME => DriverError::Timeout(text),
        Errno::ENOTTY | Errno::ENOSYS => DriverError::Unsupported {
            device,
            what: format!("{text}: the {device} driver does not know this ioctl"),
        },
        Errno::EINVAL | Errno::EBADF | Errno::ENOENT => DriverError::Invalid(text),
        _ => DriverError::Ioctl {
            call,
            reason: format!("{what}: {}", errno_text(e)),
        },
    }
}

/// `struct drm_version` for the pointer width of the target: three `int`
/// then `{size_t len; char *ptr}` for name, date and description.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct DrmVersion {
    /// Major version.
    pub version_major: i32,
    /// Minor version.
    pub version_minor: i32,
    /// Patch level.
    pub version_patchlevel: i32,
    #[cfg(target_pointer_width = "64")]
    _pad: u32,
    /// Length of the name buffer in, of the name out.
    pub name_len: usize,
    /// User pointer to the name buffer.
    pub name: usize,
    /// Length of the date buffer.
    pub date_len: usize,
    /// User pointer to the date buffer.
    pub date: usize,
    /// Length of the description buffer.
    pub desc_len: usize,
    /// User pointer to the description buffer.
    pub desc: usize,
}

/// `DRM_IOCTL_VERSION`.
pub const DRM_IOCTL_VERSION: u32 = iowr(DRM_TYPE, 0x00, std::mem::size_of::<DrmVersion>());

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(std::mem::size_of::<DrmVersion>() == 64);
    assert!(std::mem::offset_of!(DrmVersion, name_len) == 16);
    assert!(std::mem::offset_of!(DrmVersion, desc) == 56);
    assert!(DRM_IOCTL_VERSION == 0xC040_6400);
};
#[cfg(target_pointer_width = "32")]
const _: () = {
    assert!(std::mem::size_of::<DrmVersion>() == 36);
    assert!(std::mem::offset_of!(DrmVersion, name_len) == 12);
    assert!(DRM_IOCTL_VERSION == 0xC024_6400);
};

/// `struct drm_gem_close`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct DrmGemClose {
    /// GEM handle to release.
    pub handle: u32,
    /// Padding, zero.
    pub pad: u32,
}

/// `struct drm_prime_handle` (PRIME export and import).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct DrmPrimeHandle {
    /// GEM handle (in for export, out for import).
    pub handle: u32,
    /// `DRM_CLOEXEC | DRM_RDWR` for export.
    pub flags: u32,
    /// dma-buf fd (out for export, in for import).
    pub fd: i32,
}

/// `struct dma_buf_sync` (CPU access brackets on a dma-buf fd).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct DmaBufSync {
    /// `DMA_BUF_SYNC_*`.
    pub flags: u64,
}

/// `DRM_IOCTL_GEM_CLOSE`.
pub const DRM_IOCTL_GEM_CLOSE: u32 = iow(DRM_TYPE, 0x09, std::mem::size_of::<DrmGemClose>());
/// `DRM_IOCTL_PRIME_HANDLE_TO_FD`.
pub const DRM_IOCTL_PRIME_HANDLE_TO_FD: u32 =
    iowr(DRM_TYPE, 0x2d, std::mem::size_of::<DrmPrimeHandle>());
/// `DRM_IOCTL_PRIME_FD_TO_HANDLE`.
pub const DRM_IOCTL_PRIME_FD_TO_HANDLE: u32 =
    iowr(DRM_TYPE, 0x2e, std::mem::size_of::<DrmPrimeHandle>());
/// `DMA_BUF_IOCTL_SYNC` (`_IOW('b', 0, struct dma_buf_sync)`).
pub const DMA_BUF_IOCTL_SYNC: u32 = iow(b'b', 0, std::mem::size_of::<DmaBufSync>());

/// `DRM_CLOEXEC` (= `O_CLOEXEC`).
pub const DRM_CLOEXEC: u32 = 0o2000000;
/// `DRM_RDWR` (= `O_RDWR`).
pub const DRM_RDWR: u32 = 2;
/// `DMA_BUF_SYNC_READ`.
pub const DMA_BUF_SYNC_READ: u64 = 1;
/// `DMA_BUF_SYNC_WRITE`.
pub const DMA_BUF_SYNC_WRITE: u64 = 2;
/// `DMA_BUF_SYNC_START`.
pub const DMA_BUF_SYNC_START: u64 = 0;
/// `DMA_BUF_SYNC_END`.
pub const DMA_BUF_SYNC_END: u64 = 4;

const _: () = {
    assert!(std::mem::size_of::<DrmGemClose>() == 8);
    assert!(std::mem::size_of::<DrmPrimeHandle>() == 12);
    assert!(std::mem::offset_of!(DrmPrimeHandle, fd) == 8);
    assert!(std::mem::size_of::<DmaBufSync>() == 8);
    assert!(DRM_IOCTL_GEM_CLOSE == 0x4008_6409);
    assert!(DRM_IOCTL_PRIME_HANDLE_TO_FD == 0xC00C_642D);
    assert!(DRM_IOCTL_PRIME_FD_TO_HANDLE == 0xC00C_642E);
    assert!(DMA_BUF_IOCTL_SYNC == 0x4008_6200);
    assert!(DRM_CLOEXEC as i32 == libc::O_CLOEXEC);
    assert!(DRM_RDWR as i32 == libc::O_RDWR);
};

/// What `DRM_IOCTL_VERSION` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrmVersionInfo {
    /// Driver name (`rknpu`, `rocket`).
    pub name: String,
    /// Driver date string.
    pub date: String,
    /// `major.minor.patch`.
    pub version: (i32, i32, i32),
}

/// Asks the DRM node `fd` for its driver name, date and version.
pub fn drm_version(seam: &dyn IoctlSeam, fd: RawFd) -> Result<DrmVersionInfo, Errno> {
    let mut name = [0u8; 64];
    let mut date = [0u8; 64];
    let mut v = DrmVersion {
        name_len: name.len(),
        name: name.as_mut_ptr() as usize,
        date_len: date.len(),
        date: date.as_mut_ptr() as usize,
        ..DrmVersion::default()
    };
    // SAFETY: the only user pointers are `name` and `date`, live local
    // buffers of the lengths given; the kernel copies at most that many
    // bytes into them (and only writes the returned lengths back).
    unsafe { call(seam, fd, DRM_IOCTL_VERSION, &mut v)? };
    let text = |buf: &[u8], len: usize| {
        let len = len.min(buf.len());
        let bytes = &buf[..len];
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(len);
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    };
    Ok(DrmVersionInfo {
        name: text(&name, v.name_len),
        date: text(&date, v.date_len),
        version: (v.version_major, v.version_minor, v.version_patchlevel),
    })
}

/// Exports GEM `handle` of `fd` as a close-on-exec, read-write dma-buf fd.
pub fn prime_export(seam: &dyn IoctlSeam, fd: RawFd, handle: u32) -> Result<OwnedFd, Errno> {
    let mut arg = DrmPrimeHandle {
        handle,
        flags: DRM_CLOEXEC | DRM_RDWR,
        fd: -1,
    };
    call_plain(seam, fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &mut arg)?;
    if arg.fd < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: the kernel just created this descriptor for us; nobody else
    // owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(arg.fd) })
}

/// Imports dma-buf `dmabuf` into `fd`, returning its GEM handle (the same
/// handle for every import of the same buffer on one fd).
pub fn prime_import(seam: &dyn IoctlSeam, fd: RawFd, dmabuf: RawFd) -> Result<u32, Errno> {
    let mut arg = DrmPrimeHandle {
        fd: dmabuf,
        ..DrmPrimeHandle::default()
    };
    call_plain(seam, fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &mut arg)?;
    Ok(arg.handle)
}

/// Releases GEM `handle` of `fd`.
pub fn gem_close(seam: &dyn IoctlSeam, fd: RawFd, handle: u32) -> Result<(), Errno> {
    let mut arg = DrmGemClose { handle, pad: 0 };
    call_plain(seam, fd, DRM_IOCTL_GEM_CLOSE, &mut arg).map(|_| ())
}

/// `DMA_BUF_IOCTL_SYNC` flags for a sync direction: the end of a CPU
/// write (`ToDevice`) or the start of a CPU read (`FromDevice`).
pub fn dma_buf_sync_flags(dir: super::SyncDir) -> Vec<u64> {
    let rw = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE;
    match dir {
        super::SyncDir::ToDevice => vec![DMA_BUF_SYNC_END | rw],
        super::SyncDir::FromDevice => vec![DMA_BUF_SYNC_START | rw],
        super::SyncDir::Bidirectional => vec![DMA_BUF_SYNC_END | rw, DMA_BUF_SYNC_START | rw],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioc_fields_round_trip() {
        let r = iowr(b'd', 0x45, 32);
        assert_eq!(ioc_size(r), 32);
        assert_eq!(ioc_nr(r), 0x45);
        assert_eq!(r >> 30, 3);
        assert_eq!(iow(b'b', 0, 8) >> 30, 1);
    }

    #[test]
    fn kernel_seam_rejects_a_size_mismatch_and_reports_enotty() {
        let file = std::fs::File::open("/proc/self/stat").expect("open");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        let mut short = [0u8; 4];
        // SAFETY: no user pointers; the size check fails before any call.
        let e = unsafe { Kernel.ioctl(fd, DRM_IOCTL_GEM_CLOSE, &mut short) };
        assert_eq!(e, Err(Errno::EINVAL));
        // A DRM ioctl on a plain file: the kernel says ENOTTY (qemu-user,
        // which the 32-bit suites run under, says ENOSYS for ioctls it does
        // not know).
        let e = gem_close(&Kernel, fd, 1);
        assert!(
            matches!(e, Err(Errno::ENOTTY | Errno::ENOSYS)),
            "GEM_CLOSE on /proc/self/stat: {e:?}"
        );
        assert!(drm_version(&Kernel, fd).is_err());
    }

    #[test]
    fn errno_mapping_names_the_call_and_the_errno() {
        let e = map_errno("rknpu", "RKNPU_SUBMIT", "tasks 0..3", Errno::ETIMEDOUT);
        assert!(
            matches!(e, DriverError::Timeout(ref m) if m.contains("RKNPU_SUBMIT") && m.contains("ETIMEDOUT"))
        );
        let e = map_errno("rknpu", "RKNPU_MEM_SYNC", "handle 3", Errno::EINVAL);
        assert!(matches!(e, DriverError::Invalid(ref m) if m.contains("handle 3")));
        let e = map_errno("rocket", "ROCKET_SUBMIT", "job", Errno::ENOTTY);
        assert!(
            matches!(e, DriverError::Unsupported { device: "rocket", ref what } if what.contains("does not know"))
        );
        let e = map_errno("rknpu", "RKNPU_MEM_MAP", "handle 1", Errno::EIO);
        assert!(
            matches!(e, DriverError::Ioctl { call: "RKNPU_MEM_MAP", ref reason } if reason.contains("EIO") && reason.contains("errno 5"))
        );
    }

    #[test]
    fn dma_buf_sync_brackets() {
        use super::super::SyncDir;
        assert_eq!(dma_buf_sync_flags(SyncDir::ToDevice), vec![7]);
        assert_eq!(dma_buf_sync_flags(SyncDir::FromDevice), vec![3]);
        assert_eq!(dma_buf_sync_flags(SyncDir::Bidirectional), vec![7, 3]);
    }
}
