//! The seam between the runtime and the hardware (DESIGN.md, "The driver
//! layer"): DMA-capable buffers and, on NPU devices, job submission.

mod buffer;
pub mod host;

pub use buffer::Buffer;

use crate::platform::Platform;

/// Errors from a device.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The device is not present or cannot be opened.
    #[error("device unavailable: {0}")]
    Unavailable(String),
    /// Allocation or mapping failed.
    #[error("allocation of {size} bytes failed: {reason}")]
    Alloc {
        /// Requested size.
        size: usize,
        /// What the system said.
        reason: String,
    },
}

/// What a device reports about itself.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    /// Platform whose rules apply (core masks, layouts).
    pub platform: Platform,
    /// Kernel driver version string ("0.9.8"), or a description for
    /// devices without a kernel driver.
    pub driver_version: String,
}

/// A place to allocate buffers and run NPU jobs.
pub trait Device: Send + Sync + std::fmt::Debug {
    /// Short name used in logs and `RKNNRT_DEVICE` (`host`, `rknpu`, ...).
    fn name(&self) -> &'static str;
    /// Platform and driver version.
    fn info(&self) -> DeviceInfo;
    /// Allocates a zeroed buffer of at least `size` bytes (a zero size gets
    /// a one-page buffer so every buffer has a real mapping and fd).
    fn alloc(&self, size: usize) -> Result<Buffer, DriverError>;
}

/// Opens the device named by `RKNNRT_DEVICE` (`auto` or unset: the best
/// one present; only `host` exists so far).
pub fn open_default() -> Result<Box<dyn Device>, DriverError> {
    let choice = std::env::var("RKNNRT_DEVICE").unwrap_or_else(|_| "auto".to_string());
    match choice.as_str() {
        "auto" | "" | "host" => Ok(Box::new(host::HostDevice::new())),
        other => Err(DriverError::Unavailable(format!(
            "RKNNRT_DEVICE={other}: this build supports only 'host' and 'auto'"
        ))),
    }
}
