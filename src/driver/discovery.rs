//! Finding NPU device nodes: `/dev/dri/renderD*` (then `card*`) whose DRM
//! driver is `rknpu`, then the misc node `/dev/rknpu`; `/dev/accel/accel*`
//! whose driver is `rocket`. The `/dev` and `/sys` roots are injectable
//! ([`DevRoot`]) so tests run discovery against a fake tree.
//!
//! How a node's driver name is learned, in order:
//! 1. `DRM_IOCTL_VERSION` on the opened node (authoritative; what the
//!    real system uses whenever the node can be opened and is a DRM node);
//! 2. when the node cannot be opened or does not answer the ioctl (no
//!    permission, or a plain file in a test tree): sysfs,
//!    `<sys>/class/<drm|accel>/<node>/device/driver` (the link's last
//!    component), else the `DRIVER=` line of `.../device/uevent`.
//!
//! Names compare case-insensitively (the vendor's platform driver
//! registers as `RKNPU` while its DRM name is `rknpu`).

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::ioctl::{drm_version, IoctlSeam};
use super::rknpu::abi::Node;
use crate::platform::Platform;

/// Where `/dev` and `/sys` are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevRoot {
    dev: PathBuf,
    sys: PathBuf,
}

impl DevRoot {
    /// The real system: `/dev` and `/sys`.
    pub fn system() -> DevRoot {
        DevRoot {
            dev: PathBuf::from("/dev"),
            sys: PathBuf::from("/sys"),
        }
    }

    /// A tree under `root`: `root/dev` and `root/sys`.
    pub fn under(root: impl AsRef<Path>) -> DevRoot {
        DevRoot {
            dev: root.as_ref().join("dev"),
            sys: root.as_ref().join("sys"),
        }
    }

    /// The `/dev` directory.
    pub fn dev(&self) -> &Path {
        &self.dev
    }

    /// The `/sys` directory.
    pub fn sys(&self) -> &Path {
        &self.sys
    }
}

/// Which driver a found node belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverKind {
    /// The vendor driver, DRM or misc build.
    Rknpu(Node),
    /// The mainline accel driver.
    Rocket,
}

/// How a node's driver name was learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameSource {
    /// `DRM_IOCTL_VERSION` on the opened node.
    Ioctl,
    /// The sysfs driver link or uevent.
    Sysfs,
    /// The node's path alone (`/dev/rknpu`, confirmed when opened).
    Path,
}

/// A device node that looks like an NPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The node (`/dev/dri/renderD129`).
    pub path: PathBuf,
    /// Its driver.
    pub kind: DriverKind,
    /// How the driver was recognised.
    pub source: NameSource,
    /// Its sysfs class directory (`/sys/class/drm/renderD129`), for
    /// platform detection.
    pub sysfs: PathBuf,
}

/// Opens a device node read-write, close-on-exec.
pub fn open_node(path: &Path) -> std::io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)?;
    Ok(OwnedFd::from(file))
}

/// The driver name sysfs gives for class device `dir`: the last component
/// of `dir/device/driver`, else `DRIVER=` of `dir/device/uevent`.
pub fn sysfs_driver_name(dir: &Path) -> Option<String> {
    let device = dir.join("device");
    if let Ok(target) = std::fs::read_link(device.join("driver")) {
        if let Some(name) = target.file_name().and_then(OsStr::to_str) {
            return Some(name.to_string());
        }
    }
    let uevent = std::fs::read_to_string(device.join("uevent")).ok()?;
    uevent
        .lines()
        .find_map(|l| l.strip_prefix("DRIVER="))
        .map(|s| s.trim().to_string())
}

/// The driver name of node `path` (sysfs class directory `sysfs`) and how
/// it was learned (module docs).
pub fn node_driver_name(
    seam: &dyn IoctlSeam,
    path: &Path,
    sysfs: &Path,
) -> Option<(String, NameSource)> {
    if let Ok(fd) = open_node(path) {
        if let Ok(v) = drm_version(seam, fd.as_raw_fd()) {
            return Some((v.name, NameSource::Ioctl));
        }
    }
    sysfs_driver_name(sysfs).map(|n| (n, NameSource::Sysfs))
}

/// Entries of `dir` named `prefix<number>`, in numeric order.
fn numbered_nodes(dir: &Path, prefix: &str) -> Vec<(u32, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut nodes: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let n = name.to_str()?.strip_prefix(prefix)?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    nodes.sort();
    nodes
}

/// Nodes `dev/<subdir>/<prefix>N` whose driver is `driver`.
fn scan(
    seam: &dyn IoctlSeam,
    root: &DevRoot,
    subdir: &str,
    prefix: &str,
    class: &str,
    driver: &str,
    kind: DriverKind,
) -> Vec<Candidate> {
    numbered_nodes(&root.dev.join(subdir), prefix)
        .into_iter()
        .filter_map(|(_, path)| {
            let node = path.file_name()?.to_owned();
            let sysfs = root.sys.join("class").join(class).join(node);
            let (name, source) = node_driver_name(seam, &path, &sysfs)?;
            name.eq_ignore_ascii_case(driver).then_some(Candidate {
                path,
                kind,
                source,
                sysfs,
            })
        })
        .collect()
}

/// rknpu nodes, best first: render nodes, then primary nodes, then the
/// misc node `/dev/rknpu`.
pub fn find_rknpu(seam: &dyn IoctlSeam, root: &DevRoot) -> Vec<Candidate> {
    let kind = DriverKind::Rknpu(Node::Drm);
    let mut found = scan(seam, root, "dri", "renderD", "drm", "rknpu", kind);
    found.extend(scan(seam, root, "dri", "card", "drm", "rknpu", kind));
    let misc = root.dev.join("rknpu");
    if misc.exists() {
        found.push(Candidate {
            path: misc,
            kind: DriverKind::Rknpu(Node::Misc),
            source: NameSource::Path,
            sysfs: root.sys.join("class/misc/rknpu"),
        });
    }
    found
}

/// rocket nodes (`/dev/accel/accel*` with driver `rocket`).
pub fn find_rocket(seam: &dyn IoctlSeam, root: &DevRoot) -> Vec<Candidate> {
    scan(
        seam,
        root,
        "accel",
        "accel",
        "accel",
        "rocket",
        DriverKind::Rocket,
    )
}

/// The platform named by a device-tree `compatible` property (NUL-separated
/// strings such as `rockchip,rk3588-rknpu\0rockchip,rknpu`).
pub fn platform_from_compatible(compatible: &[u8]) -> Option<Platform> {
    compatible
        .split(|&b| b == 0)
        .filter_map(|s| std::str::from_utf8(s).ok())
        .find_map(|s| {
            let chip = s.strip_prefix("rockchip,")?;
            Platform::ALL
                .into_iter()
                .find(|p| chip.starts_with(p.name()))
        })
}

/// The platform from the `GET_HW_VERSION` value (RK3588 and RK3576 only;
/// RK356x reads 0).
pub fn platform_from_hw_version(v: u64) -> Option<Platform> {
    match v {
        0x4649_5245 => Some(Platform::Rk3588),
        0x4649_5247 => Some(Platform::Rk3576),
        _ => None,
    }
}

/// The platform of a device: the node's device-tree `compatible`, then the
/// machine's, then the hardware version.
pub fn detect_platform(root: &DevRoot, sysfs: &Path, hw_version: Option<u64>) -> Option<Platform> {
    [
        sysfs.join("device/of_node/compatible"),
        root.sys.join("firmware/devicetree/base/compatible"),
    ]
    .iter()
    .filter_map(|p| std::fs::read(p).ok())
    .find_map(|c| platform_from_compatible(&c))
    .or_else(|| hw_version.and_then(platform_from_hw_version))
}

#[cfg(test)]
pub(crate) mod fake_tree {
    //! A temporary `/dev` + `/sys` tree for discovery tests.

    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A temporary directory removed on drop.
    pub struct TempTree(pub PathBuf);

    impl TempTree {
        /// A fresh empty tree.
        pub fn new(tag: &str) -> TempTree {
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "rknnrt-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            TempTree(dir)
        }

        /// A plain file standing for a device node, `len` bytes (sparse).
        pub fn node(&self, rel: &str, len: u64) -> PathBuf {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            let f = std::fs::File::create(&p).expect("create");
            f.set_len(len).expect("set_len");
            p
        }

        /// `sys/class/<class>/<node>/device/driver` → `.../drivers/<driver>`.
        pub fn driver_link(&self, class: &str, node: &str, driver: &str) {
            let dev = self.0.join(format!("sys/class/{class}/{node}/device"));
            std::fs::create_dir_all(&dev).expect("mkdir");
            let target = self.0.join(format!("sys/bus/platform/drivers/{driver}"));
            std::fs::create_dir_all(&target).expect("mkdir");
            std::os::unix::fs::symlink(&target, dev.join("driver")).expect("symlink");
        }

        /// `sys/class/<class>/<node>/device/uevent` with `DRIVER=<driver>`.
        pub fn uevent(&self, class: &str, node: &str, driver: &str) {
            self.file(
                &format!("sys/class/{class}/{node}/device/uevent"),
                format!("OF_NAME=npu\nDRIVER={driver}\n").as_bytes(),
            );
        }

        /// A file with `bytes`.
        pub fn file(&self, rel: &str, bytes: &[u8]) {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, bytes).expect("write");
        }

        /// The tree's root.
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    /// An unlinked scratch file of `len` bytes (stands for a dma-buf or
    /// memfd in fakes).
    pub fn scratch_fd(len: u64) -> std::os::fd::OwnedFd {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "rknnrt-scratch-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&p)
            .expect("scratch file");
        f.set_len(len).expect("set_len");
        std::fs::remove_file(&p).expect("unlink");
        f.into()
    }

    /// Answers a `DRM_IOCTL_VERSION` argument as driver `name` (date
    /// `date`, version 0.9.8) would.
    pub fn answer_version(arg: &mut [u8], name: &str, date: &str) {
        let v: &mut crate::driver::ioctl::DrmVersion = bytemuck::from_bytes_mut(arg);
        for (text, ptr, len) in [
            (name, v.name, &mut v.name_len),
            (date, v.date, &mut v.date_len),
        ] {
            let n = text.len().min(*len);
            // SAFETY: `drm_version` passes live buffers of the given lengths;
            // at most that many bytes are written.
            unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), ptr as *mut u8, n) };
            *len = text.len();
        }
        v.desc_len = 0;
        (v.version_major, v.version_minor, v.version_patchlevel) = (0, 9, 8);
    }

    impl Drop for TempTree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake_tree::TempTree;
    use super::*;
    use crate::driver::ioctl::{Kernel, DRM_IOCTL_VERSION};
    use nix::errno::Errno;
    use std::os::fd::RawFd;

    #[test]
    fn sysfs_names_render_nodes_in_numeric_order_then_misc() {
        let t = TempTree::new("disc");
        for n in ["renderD128", "renderD129", "renderD130", "card0", "card1"] {
            t.node(&format!("dev/dri/{n}"), 0);
        }
        t.driver_link("drm", "renderD128", "panfrost");
        t.uevent("drm", "renderD130", "RKNPU");
        t.driver_link("drm", "renderD129", "rockchip-drm");
        t.driver_link("drm", "card1", "RKNPU");
        t.node("dev/rknpu", 0);
        let found = find_rknpu(&Kernel, &DevRoot::under(t.path()));
        let names: Vec<_> = found
            .iter()
            .map(|c| c.path.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["renderD130", "card1", "rknpu"]);
        assert_eq!(found[0].source, NameSource::Sysfs);
        assert_eq!(found[0].kind, DriverKind::Rknpu(Node::Drm));
        assert_eq!(found[2].kind, DriverKind::Rknpu(Node::Misc));
        assert_eq!(found[2].source, NameSource::Path);
        assert!(found[0].sysfs.ends_with("sys/class/drm/renderD130"));
    }

    #[test]
    fn rocket_is_found_by_its_accel_node() {
        let t = TempTree::new("disc");
        t.node("dev/accel/accel0", 0);
        t.node("dev/accel/accel1", 0);
        t.driver_link("accel", "accel0", "ethosu");
        t.driver_link("accel", "accel1", "rocket");
        let root = DevRoot::under(t.path());
        let found = find_rocket(&Kernel, &root);
        assert_eq!(found.len(), 1);
        assert!(found[0].path.ends_with("dev/accel/accel1"));
        assert!(find_rknpu(&Kernel, &root).is_empty());
    }

    #[test]
    fn nothing_in_an_empty_tree() {
        let t = TempTree::new("disc");
        let root = DevRoot::under(t.path());
        assert!(find_rknpu(&Kernel, &root).is_empty());
        assert!(find_rocket(&Kernel, &root).is_empty());
    }

    /// A seam answering DRM_IOCTL_VERSION with a fixed name.
    #[derive(Debug)]
    struct Named(&'static str);

    impl IoctlSeam for Named {
        unsafe fn ioctl(&self, _fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
            if request != DRM_IOCTL_VERSION {
                return Err(Errno::ENOTTY);
            }
            super::fake_tree::answer_version(arg, self.0, "");
            Ok(0)
        }
    }

    #[test]
    fn the_version_ioctl_wins_over_sysfs() {
        let t = TempTree::new("disc");
        t.node("dev/dri/renderD128", 0);
        // sysfs says something else: the ioctl answer is used.
        t.driver_link("drm", "renderD128", "panfrost");
        let root = DevRoot::under(t.path());
        let found = find_rknpu(&Named("rknpu"), &root);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].source, NameSource::Ioctl);
        assert!(find_rknpu(&Named("panfrost"), &root).is_empty());
    }

    #[test]
    fn platform_detection_order() {
        assert_eq!(
            platform_from_compatible(b"rockchip,rk3588-rknpu\0rockchip,rknpu\0"),
            Some(Platform::Rk3588)
        );
        assert_eq!(
            platform_from_compatible(b"radxa,rock-5b\0rockchip,rk3588s\0"),
            Some(Platform::Rk3588)
        );
        assert_eq!(
            platform_from_compatible(b"rockchip,rk3568-rknpu"),
            Some(Platform::Rk3568)
        );
        assert_eq!(platform_from_compatible(b"rockchip,rknpu"), None);
        let t = TempTree::new("disc");
        let root = DevRoot::under(t.path());
        let node = t.path().join("sys/class/drm/renderD129");
        assert_eq!(
            detect_platform(&root, &node, Some(0x4649_5247)),
            Some(Platform::Rk3576)
        );
        assert_eq!(detect_platform(&root, &node, Some(0)), None);
        t.file(
            "sys/firmware/devicetree/base/compatible",
            b"rockchip,rk3562\0",
        );
        assert_eq!(
            detect_platform(&root, &node, Some(0x4649_5247)),
            Some(Platform::Rk3562)
        );
        t.file(
            "sys/class/drm/renderD129/device/of_node/compatible",
            b"rockchip,rk3566-rknpu\0",
        );
        assert_eq!(detect_platform(&root, &node, None), Some(Platform::Rk3566));
    }
}
