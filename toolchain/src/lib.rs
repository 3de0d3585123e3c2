//! The rknnrt offline compiler.
//!
//! Today it offers a model builder API: build a float graph with weights
//! ([`ModelBuilder`]), optionally quantize it to int8 with given activation
//! parameters or convert it to fp16 ([`quantize`]), and write a `.rknn` file
//! that the rknnrt runtime loads ([`BuiltModel::save`]).
//!
//! ```no_run
//! use rknn_toolchain::{ConvParams, ModelBuilder, Weights};
//! use rknnrt::platform::Platform;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut b = ModelBuilder::new(Platform::Rk3588);
//! let x = b.input("x", &[1, 3, 8, 8])?;
//! let w = Weights::new(&[4, 3, 3, 3], vec![0.1; 4 * 27])?;
//! let y = b.conv2d(x, w, Some(vec![0.0; 4]), ConvParams::default().pads(1).relu())?;
//! b.output(y)?;
//! b.save("model.rknn")?;
//! # Ok(())
//! # }
//! ```

pub mod accuracy;
mod builder;
pub mod calibrate;
pub mod cli;
mod data;
pub mod dataset;
pub mod dynamic;
mod error;
mod model;
pub use rknnrt::npy;
pub mod onnx;
pub mod passes;
pub mod placement;
pub mod quantize;

pub use builder::{
    ConvParams, ConvTransposeParams, GemmParams, ModelBuilder, PoolParams, ResizeParams, Weights,
};
pub use data::ConstData;
pub use error::BuildError;
pub use model::{BuiltModel, PRODUCER};
