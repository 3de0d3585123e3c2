//! Every `unsafe` operation of the custom-op support, each with its
//! `// SAFETY:` argument: calling the application's callbacks, reading
//! the C strings a `rknn_custom_op` points to, runtime-owned attribute
//! buffers handed to C, `dlopen`/`dlsym` for plugins and OpenCL, and the
//! OpenCL entry points. The rest of `custom_op` is safe code.

pub mod callback;
pub mod cl;
pub mod dl;
pub mod raw;
