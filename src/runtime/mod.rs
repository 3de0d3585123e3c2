//! Contexts, memory planning and execution: everything between the C API
//! and the kernels and devices.

pub mod attrs;
pub mod bindings;
pub mod context;
pub mod dump;
pub mod error;
pub mod exec;
pub mod io;
pub mod loader;
pub mod perf;
pub mod plan;
pub mod vendor;

pub use context::Context;
pub use error::{Error, ErrorKind, Result};
