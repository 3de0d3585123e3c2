//! rknnrt: an open, memory-safe implementation of Rockchip's RKNPU2 runtime
//! (`librknnrt.so`, the RKNN C API).
//!
//! Layers, top to bottom (see DESIGN.md): [`capi`] (the `extern "C"`
//! surface), [`runtime`] (contexts, memory plan, execution), [`kernels`]
//! (CPU kernels), [`custom_op`] (ops the application computes), [`npu`]
//! (NPU register map and programs), [`driver`] (devices and buffers),
//! [`model`] (`.rknn` containers) and [`graph`] (the op set shared with
//! the compiler).

#![deny(unsafe_op_in_unsafe_fn)]

pub mod abi;
pub mod capi;
pub mod custom_op;
pub mod driver;
pub mod graph;
pub mod kernels;
pub mod log;
pub mod matmul;
pub mod model;
pub mod npu;
pub mod npy;
pub mod platform;
pub mod runtime;

/// The version line kept verbatim in the binary, so that
/// `strings librknnrt.so | grep "librknnrt version"` finds it.
pub static VERSION_BANNER: &str = concat!(
    "librknnrt version: ",
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("RKNNRT_GIT_HASH"),
    "@",
    env!("RKNNRT_BUILD_DATE"),
    ")"
);

/// The version reported by `RKNN_QUERY_SDK_VERSION`:
/// `<version> (<git hash>@<build date>)`.
pub fn version_string() -> &'static str {
    &VERSION_BANNER["librknnrt version: ".len()..]
}
