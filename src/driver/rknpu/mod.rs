//! The vendor `rknpu` kernel driver (`reference/rknpu-driver.md` §1):
//! the DRM build (`/dev/dri/renderD*`, GEM handles, PRIME) and the misc
//! build (`/dev/rknpu`, dma-buf fds as handles). Every ioctl goes through
//! the [`IoctlSeam`] the device was opened with.

pub mod abi;
mod memory;
mod submit;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vendor_jobs;

use std::collections::HashMap;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use self::abi::{action, Node, Requests};
use super::discovery::{detect_platform, open_node, DevRoot};
use super::ioctl::{call_plain, drm_version, errno_text, IoctlSeam};
use super::{AllocRequest, Buffer, Device, DeviceInfo, DriverError, Job, SyncDir};
use crate::platform::Platform;

pub use self::memory::RknpuObject;

/// State shared by the device and every buffer it made: the open node and
/// the GEM handle reference counts (the fd outlives all buffers).
#[derive(Debug)]
struct Shared {
    fd: OwnedFd,
    seam: Arc<dyn IoctlSeam>,
    node: Node,
    req: Requests,
    /// DRM build: references per GEM handle (one PRIME import of a buffer
    /// this fd already knows returns the same handle, so a handle is
    /// released when its last buffer goes) and whether it was created by
    /// MEM_CREATE (released with MEM_DESTROY) or imported (GEM_CLOSE).
    handles: Mutex<HashMap<u32, HandleRef>>,
}

#[derive(Debug, Clone, Copy)]
struct HandleRef {
    count: usize,
    created: bool,
}

impl Shared {
    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// `RKNPU_ACTION(code)` → value.
    fn action(&self, code: u32, value: u32) -> Result<u32, Errno> {
        let mut a = abi::Action { flags: code, value };
        call_plain(&*self.seam, self.raw(), self.req.action, &mut a)?;
        Ok(a.value)
    }
}

/// A device driven by the vendor `rknpu` driver.
#[derive(Debug)]
pub struct RknpuDevice {
    shared: Arc<Shared>,
    path: PathBuf,
    info: DeviceInfo,
    /// Submissions are serialised per device (reference §1.6: concurrent
    /// raw submits crashed boards).
    submit_lock: Mutex<()>,
}

/// `major·10000 + minor·100 + patch` as `major.minor.patch`.
pub fn version_text(v: u32) -> String {
    format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100)
}

impl RknpuDevice {
    /// Opens node `path` of the given build. `sysfs` is the node's sysfs
    /// class directory and `root` the tree it lives in (for platform
    /// detection); `platform` overrides detection when it finds nothing
    /// (`RKNNRT_PLATFORM`).
    pub fn open(
        path: &Path,
        node: Node,
        sysfs: &Path,
        root: &DevRoot,
        seam: Arc<dyn IoctlSeam>,
        fallback_platform: Option<Platform>,
    ) -> Result<RknpuDevice, DriverError> {
        let shown = path.display();
        let fd = open_node(path)
            .map_err(|e| DriverError::Unavailable(format!("rknpu: cannot open {shown}: {e}")))?;
        let mut drm_date = None;
        if node == Node::Drm {
            let v = drm_version(&*seam, fd.as_raw_fd()).map_err(|e| {
                DriverError::Unavailable(format!(
                    "rknpu: {shown}: DRM_IOCTL_VERSION: {}: not a DRM node",
                    errno_text(e)
                ))
            })?;
            if !v.name.eq_ignore_ascii_case("rknpu") {
                return Err(DriverError::Unavailable(format!(
                    "rknpu: {shown} belongs to DRM driver '{}', not 'rknpu'",
                    v.name
                )));
            }
            drm_date = Some(v.date);
        }
        let shared = Arc::new(Shared {
            fd,
            seam,
            node,
            req: Requests::of(node),
            handles: Mutex::new(HashMap::new()),
        });
        let drv = shared.action(action::GET_DRV_VERSION, 0).map_err(|e| {
            DriverError::Unavailable(format!(
                "rknpu: {shown}: RKNPU_ACTION(GET_DRV_VERSION): {}: not an rknpu device",
                errno_text(e)
            ))
        })?;
        let optional = |code: u32, name: &str| match shared.action(code, 0) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!("rknpu: RKNPU_ACTION({name}): {}", errno_text(e));
                None
            }
        };
        let hw_version = optional(action::GET_HW_VERSION, "GET_HW_VERSION").map(u64::from);
        let iommu = optional(action::GET_IOMMU_EN, "GET_IOMMU_EN").is_some_and(|v| v != 0);
        let sram_total = optional(action::GET_TOTAL_SRAM_SIZE, "GET_TOTAL_SRAM_SIZE").unwrap_or(0);
        let sram_free = if sram_total > 0 {
            optional(action::GET_FREE_SRAM_SIZE, "GET_FREE_SRAM_SIZE").unwrap_or(0)
        } else {
            0
        };
        let platform = detect_platform(root, sysfs, hw_version)
            .or(fallback_platform)
            .unwrap_or_else(|| {
                tracing::warn!(
                    "rknpu: {shown}: cannot tell the SoC (no device-tree compatible, hardware \
                     version {hw_version:?}); assuming rk3588 (set RKNNRT_PLATFORM to override)"
                );
                Platform::Rk3588
            });
        let mut driver_version = version_text(drv);
        if let Some(date) = drm_date.filter(|d| !d.is_empty()) {
            driver_version = format!("{driver_version} ({date})");
        }
        let info = DeviceInfo {
            platform,
            driver_version,
            hw_version,
            cores: platform.cores(),
            sram_total: sram_total as usize,
            sram_free: sram_free as usize,
            iommu,
        };
        Ok(RknpuDevice {
            shared,
            path: path.to_path_buf(),
            info,
            submit_lock: Mutex::new(()),
        })
    }

    /// The node this device was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The build of the driver (DRM or misc).
    pub fn node(&self) -> Node {
        self.shared.node
    }

    /// The core bits this chip has (`0x7` on RK3588).
    fn chip_mask(&self) -> u32 {
        (1u32 << self.info.cores) - 1
    }

    /// The object behind `buf` if this device made it.
    fn object_of<'b>(&self, buf: &'b Buffer) -> Option<&'b RknpuObject> {
        buf.backing::<RknpuObject>()
            .filter(|o| Arc::ptr_eq(&o.shared, &self.shared))
    }
}

impl Device for RknpuDevice {
    fn name(&self) -> &'static str {
        "rknpu"
    }

    fn info(&self) -> DeviceInfo {
        let mut info = self.info.clone();
        if info.sram_total > 0 {
            if let Ok(free) = self.shared.action(action::GET_FREE_SRAM_SIZE, 0) {
                info.sram_free = free as usize;
            }
        }
        info
    }

    fn allocate(&self, req: &AllocRequest) -> Result<Buffer, DriverError> {
        memory::allocate(self, req)
    }

    fn import_fd(
        &self,
        fd: BorrowedFd<'_>,
        size: usize,
        offset: usize,
    ) -> Result<Buffer, DriverError> {
        memory::import_fd(self, fd, size, offset)
    }

    unsafe fn import_phys(
        &self,
        phys: u64,
        virt: NonNull<u8>,
        size: usize,
    ) -> Result<Buffer, DriverError> {
        // SAFETY: the caller's contract (virt stays mapped) is passed on.
        unsafe { memory::import_phys(self, phys, virt, size) }
    }

    fn sync(
        &self,
        buf: &Buffer,
        offset: usize,
        size: usize,
        dir: SyncDir,
    ) -> Result<(), DriverError> {
        memory::sync(self, buf, offset, size, dir)
    }

    fn export_fd(&self, buf: &Buffer) -> Result<OwnedFd, DriverError> {
        match super::map::dup_raw(buf.fd()) {
            None => Err(DriverError::Invalid(
                "rknpu: the buffer has no fd to export (memory imported by physical address)"
                    .into(),
            )),
            Some(r) => r.map_err(|e| {
                DriverError::Invalid(format!(
                    "rknpu: dup of buffer fd {}: {}",
                    buf.fd(),
                    errno_text(e)
                ))
            }),
        }
    }

    fn submit(&self, job: &Job<'_>) -> Result<(), DriverError> {
        submit::submit(self, job)
    }
}
