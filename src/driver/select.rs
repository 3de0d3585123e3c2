//! Device selection: `RKNNRT_DEVICE=auto|rknpu|rocket|host|sim`.
//!
//! * unset, empty or `auto`: the first rknpu node that opens, else the
//!   first rocket node, else the host device — quietly when there is no
//!   NPU node at all (the choice is logged at info level, failed probes at
//!   debug level, and a warning when nodes exist but none opens);
//! * `rknpu` / `rocket`: that driver or `DriverError::Unavailable` saying
//!   what was looked for and why each node failed (the C API turns it into
//!   `RKNN_ERR_DEVICE_UNAVAILABLE` at `rknn_init`);
//! * `host`: the CPU device;
//! * `sim`: the virtual NPU (`driver::sim`) of `RKNNRT_PLATFORM`;
//! * anything else: `DriverError::Invalid` listing the valid names.

use std::path::Path;
use std::sync::Arc;

use super::discovery::{find_rknpu, find_rocket, Candidate, DevRoot, DriverKind};
use super::host::HostDevice;
use super::ioctl::{IoctlSeam, Kernel};
use super::rknpu::RknpuDevice;
use super::rocket::RocketDevice;
use super::sim::SimDevice;
use super::{Device, DriverError};
use crate::platform::Platform;

/// What `RKNNRT_DEVICE` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// rknpu, then rocket, else host.
    Auto,
    /// The vendor driver.
    Rknpu,
    /// The mainline accel driver.
    Rocket,
    /// The CPU.
    Host,
    /// The virtual NPU.
    Sim,
}

/// The names `RKNNRT_DEVICE` accepts.
pub const VALID_NAMES: &str = "auto, rknpu, rocket, host, sim";

impl Choice {
    /// Parses a `RKNNRT_DEVICE` value (case-insensitive; empty is `auto`).
    pub fn parse(value: &str) -> Result<Choice, DriverError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Choice::Auto),
            "rknpu" => Ok(Choice::Rknpu),
            "rocket" => Ok(Choice::Rocket),
            "host" => Ok(Choice::Host),
            "sim" => Ok(Choice::Sim),
            _ => Err(DriverError::Invalid(format!(
                "RKNNRT_DEVICE={value}: unknown device; valid values: {VALID_NAMES}"
            ))),
        }
    }
}

/// A one-line description of an opened device for the log.
pub fn describe(dev: &dyn Device, node: Option<&Path>) -> String {
    let info = dev.info();
    let mut text = format!("device: {}", dev.name());
    if let Some(p) = node {
        text.push_str(&format!(" ({})", p.display()));
    }
    text.push_str(&format!(
        ", driver {}, platform {}, {} core(s)",
        info.driver_version,
        info.platform.name(),
        info.cores
    ));
    if info.sram_total > 0 {
        text.push_str(&format!(
            ", SRAM {} KiB ({} KiB free)",
            info.sram_total / 1024,
            info.sram_free / 1024
        ));
    }
    if info.iommu {
        text.push_str(", IOMMU");
    }
    text
}

/// Opens candidate `c`.
fn open_candidate(
    c: &Candidate,
    root: &DevRoot,
    seam: &Arc<dyn IoctlSeam>,
    platform: Option<Platform>,
) -> Result<Box<dyn Device>, DriverError> {
    match c.kind {
        DriverKind::Rknpu(node) => Ok(Box::new(RknpuDevice::open(
            &c.path,
            node,
            &c.sysfs,
            root,
            Arc::clone(seam),
            platform,
        )?)),
        DriverKind::Rocket => Ok(Box::new(RocketDevice::open(
            &c.path,
            &c.sysfs,
            root,
            Arc::clone(seam),
            platform,
        )?)),
    }
}

/// The first of `found` that opens, or every failure.
fn first_that_opens(
    found: &[Candidate],
    root: &DevRoot,
    seam: &Arc<dyn IoctlSeam>,
    platform: Option<Platform>,
) -> Result<Box<dyn Device>, Vec<String>> {
    let mut failures = Vec::new();
    for c in found {
        match open_candidate(c, root, seam, platform) {
            Ok(dev) => {
                tracing::info!("{}", describe(&*dev, Some(&c.path)));
                return Ok(dev);
            }
            Err(e) => {
                tracing::debug!("{}: {e}", c.path.display());
                failures.push(e.to_string());
            }
        }
    }
    Err(failures)
}

/// What an explicit choice looked for, for its "not found" error.
fn looked_for(choice: Choice, root: &DevRoot) -> String {
    let dev = root.dev().display();
    match choice {
        Choice::Rocket => format!("{dev}/accel/accel* with driver 'rocket'"),
        _ => format!("{dev}/dri/renderD* and card* with DRM driver 'rknpu', and {dev}/rknpu"),
    }
}

/// What the model a device is opened for runs as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// CPU kernels (models made by `rknn-convert`): any device, `host`
    /// when there is no NPU.
    Cpu,
    /// An NPU program compiled for a platform (vendor-compiled models):
    /// an NPU, or the virtual NPU of that platform when there is none.
    NpuProgram(Platform),
}

/// Opens the device `choice` names, discovering nodes under `root` and
/// calling the kernel through `seam`; `platform` is the fallback when the
/// SoC cannot be detected.
pub fn open(
    choice: Choice,
    root: &DevRoot,
    seam: Arc<dyn IoctlSeam>,
    platform: Option<Platform>,
) -> Result<Box<dyn Device>, DriverError> {
    open_for(choice, root, seam, platform, Workload::Cpu)
}

/// [`open`] for a model that runs as `work`: under `auto` an NPU
/// program falls back to the virtual NPU (`sim`) instead of the host
/// device, and `sim` emulates the program's platform unless `platform`
/// (`RKNNRT_PLATFORM`) says otherwise.
pub fn open_for(
    choice: Choice,
    root: &DevRoot,
    seam: Arc<dyn IoctlSeam>,
    platform: Option<Platform>,
    work: Workload,
) -> Result<Box<dyn Device>, DriverError> {
    let sim_platform = match work {
        Workload::NpuProgram(p) => Some(platform.unwrap_or(p)),
        Workload::Cpu => platform,
    };
    let explicit = |name: &str, found: Vec<Candidate>| {
        if found.is_empty() {
            return Err(DriverError::Unavailable(format!(
                "RKNNRT_DEVICE={name}: no {name} device found (looked for {})",
                looked_for(choice, root)
            )));
        }
        first_that_opens(&found, root, &seam, platform).map_err(|failures| {
            DriverError::Unavailable(format!(
                "RKNNRT_DEVICE={name}: no {name} device could be opened: {}",
                failures.join("; ")
            ))
        })
    };
    match choice {
        Choice::Rknpu => explicit("rknpu", find_rknpu(&*seam, root)),
        Choice::Rocket => explicit("rocket", find_rocket(&*seam, root)),
        Choice::Host => {
            let dev = HostDevice::new();
            tracing::info!("{} (RKNNRT_DEVICE=host)", describe(&dev, None));
            Ok(Box::new(dev))
        }
        Choice::Sim => {
            let dev = match sim_platform {
                Some(p) => SimDevice::new(p),
                None => SimDevice::from_env(),
            };
            tracing::info!(
                "{} (RKNNRT_DEVICE=sim, the virtual NPU)",
                describe(&dev, None)
            );
            Ok(Box::new(dev))
        }
        Choice::Auto => {
            let mut found = find_rknpu(&*seam, root);
            found.extend(find_rocket(&*seam, root));
            match first_that_opens(&found, root, &seam, platform) {
                Ok(dev) => return Ok(dev),
                // Nodes exist but none opened (permissions, a driver that
                // does not answer): worth a warning, unlike a plain PC.
                Err(failures) if !failures.is_empty() => tracing::warn!(
                    "RKNNRT_DEVICE=auto: NPU node(s) found but none could be opened ({}); \
                     falling back to the {} device",
                    failures.join("; "),
                    if work == Workload::Cpu { "host" } else { "sim" }
                ),
                Err(_) => {}
            }
            if let (Workload::NpuProgram(_), Some(p)) = (work, sim_platform) {
                let dev = SimDevice::new(p);
                tracing::info!(
                    "{} (no NPU device found; the vendor-compiled model runs on the virtual NPU)",
                    describe(&dev, None)
                );
                return Ok(Box::new(dev));
            }
            let dev = HostDevice::new();
            tracing::info!(
                "{} (no NPU device found; every step runs on the CPU)",
                describe(&dev, None)
            );
            Ok(Box::new(dev))
        }
    }
}

/// [`open`] with `RKNNRT_DEVICE`, `RKNNRT_PLATFORM`, the real `/dev` and
/// `/sys`, and the real kernel.
pub fn open_from_env() -> Result<Box<dyn Device>, DriverError> {
    open_from_env_for(Workload::Cpu)
}

/// [`open_for`] with `RKNNRT_DEVICE`, `RKNNRT_PLATFORM`, the real `/dev`
/// and `/sys`, and the real kernel.
pub fn open_from_env_for(work: Workload) -> Result<Box<dyn Device>, DriverError> {
    let choice = Choice::parse(&std::env::var("RKNNRT_DEVICE").unwrap_or_default())?;
    let platform = std::env::var("RKNNRT_PLATFORM")
        .ok()
        .and_then(|p| Platform::from_name(&p));
    open_for(choice, &DevRoot::system(), Arc::new(Kernel), platform, work)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::discovery::fake_tree::TempTree;

    #[test]
    fn names_parse_case_insensitively_and_unknown_ones_list_the_valid_ones() {
        assert_eq!(Choice::parse("").unwrap(), Choice::Auto);
        assert_eq!(Choice::parse(" AUTO ").unwrap(), Choice::Auto);
        assert_eq!(Choice::parse("Rknpu").unwrap(), Choice::Rknpu);
        assert_eq!(Choice::parse("rocket").unwrap(), Choice::Rocket);
        assert_eq!(Choice::parse("host").unwrap(), Choice::Host);
        assert_eq!(Choice::parse("SIM").unwrap(), Choice::Sim);
        let e = Choice::parse("tpu").unwrap_err().to_string();
        assert!(e.contains("RKNNRT_DEVICE=tpu"), "{e}");
        assert!(e.contains(VALID_NAMES), "{e}");
    }

    #[test]
    fn npu_programs_fall_back_to_the_virtual_npu_of_their_platform() {
        let t = TempTree::new("select");
        let root = DevRoot::under(t.path());
        let seam: Arc<dyn IoctlSeam> = Arc::new(Kernel);
        let work = Workload::NpuProgram(Platform::Rk3576);
        let dev = open_for(Choice::Auto, &root, Arc::clone(&seam), None, work).unwrap();
        assert_eq!((dev.name(), dev.info().platform), ("sim", Platform::Rk3576));
        let dev = open_for(Choice::Sim, &root, Arc::clone(&seam), None, work).unwrap();
        assert_eq!(dev.info().platform, Platform::Rk3576);
        let dev = open_for(
            Choice::Sim,
            &root,
            Arc::clone(&seam),
            Some(Platform::Rk3588),
            work,
        )
        .unwrap();
        assert_eq!(dev.info().platform, Platform::Rk3588);
        let dev = open_for(Choice::Host, &root, Arc::clone(&seam), None, work).unwrap();
        assert_eq!(dev.name(), "host");
        let dev = open_for(Choice::Auto, &root, seam, None, Workload::Cpu).unwrap();
        assert_eq!(dev.name(), "host");
    }

    #[test]
    fn auto_without_devices_is_host_and_explicit_choices_are_unavailable() {
        let t = TempTree::new("select");
        let root = DevRoot::under(t.path());
        let seam: Arc<dyn IoctlSeam> = Arc::new(Kernel);
        let dev = open(Choice::Auto, &root, Arc::clone(&seam), None).unwrap();
        assert_eq!(dev.name(), "host");
        assert_eq!(
            open(Choice::Host, &root, Arc::clone(&seam), None)
                .unwrap()
                .name(),
            "host"
        );
        for (choice, name, looked) in [
            (Choice::Rknpu, "rknpu", "/dri/renderD*"),
            (Choice::Rocket, "rocket", "/accel/accel*"),
        ] {
            let e = open(choice, &root, Arc::clone(&seam), None).unwrap_err();
            let DriverError::Unavailable(msg) = &e else {
                panic!("{choice:?}: {e:?}");
            };
            assert!(msg.contains(&format!("RKNNRT_DEVICE={name}")), "{msg}");
            assert!(msg.contains(looked), "{msg}");
            let rt: crate::runtime::error::Error = e.into();
            assert_eq!(rt.kind.code(), -3);
        }
    }

    #[test]
    fn a_node_that_does_not_open_as_a_device_is_reported_or_skipped() {
        // sysfs says rknpu, but the node is a plain file: the ioctls fail.
        let t = TempTree::new("select");
        t.node("dev/dri/renderD128", 0);
        t.driver_link("drm", "renderD128", "RKNPU");
        let root = DevRoot::under(t.path());
        let seam: Arc<dyn IoctlSeam> = Arc::new(Kernel);
        let e = open(Choice::Rknpu, &root, Arc::clone(&seam), None).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("renderD128"), "{msg}");
        assert!(msg.contains("DRM_IOCTL_VERSION"), "{msg}");
        assert!(msg.contains("ENOTTY"), "{msg}");
        assert_eq!(
            open(Choice::Auto, &root, seam, None).unwrap().name(),
            "host"
        );
    }
}
