//! Contexts, memory planning and execution: everything between the C API
//! and the kernels and devices.

pub mod attrs;
pub mod batch;
pub mod bindings;
pub mod context;
pub mod cores;
pub mod dump;
pub mod dynamic;
pub mod error;
pub mod exec;
pub mod io;
pub mod loader;
pub mod perf;
pub mod plan;
pub mod vendor;

pub use context::Context;
pub use error::{Error, ErrorKind, Result};

/// Batch workers a multi-batch model gets by default: one per NPU core of
/// the platform, at most one per batch (the vendor makes two internal
/// copies of the context for three cores, `docs/multicore.md`).
pub fn batch_workers_default(platform: crate::platform::Platform, batch: usize) -> usize {
    (platform.cores() as usize).min(batch).max(1)
}
