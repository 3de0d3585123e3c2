//! Custom operators (`rknn_custom_op.h`, `docs/custom_ops.md`): ops of a
//! model that the application computes.
//!
//! * [`def`]: a checked `rknn_custom_op` (op type, target, callbacks,
//!   OpenCL program of a GPU op) and who registered it.
//! * [`registry`]: the ops of one context ([`CustomOps`]): registration
//!   (each type once), the plugin search for types nobody registered, and
//!   the run of a custom node.
//! * [`instance`]: one custom node bound to its op: `init` at
//!   registration, `prepare` + `compute` on every run, `destroy` when the
//!   context goes away, or the built-in fallback op when `init` returns
//!   `RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE`.
//! * [`attrs`]: node attributes as `rknn_custom_op_get_op_attr` returns
//!   them.
//! * [`plugin`]: `librkcst_*.so` discovery and loading.
//! * [`ffi`]: every `unsafe` call (callbacks, `dlopen`, OpenCL).
//!
//! Callbacks run on the thread that calls `rknn_register_custom_ops`
//! (`init`), `rknn_run` (`prepare`, `compute`) or `rknn_destroy`
//! (`destroy`).

pub mod attrs;
pub mod def;
pub mod ffi;
pub mod instance;
pub mod plugin;
pub mod registry;

pub use def::{OpDef, Origin};
pub use instance::{Place, TensorMem};
pub use registry::CustomOps;
