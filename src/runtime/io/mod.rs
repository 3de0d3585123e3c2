//! Data conversions behind `rknn_inputs_set` and `rknn_outputs_get`, and the
//! NC1HWC2 layout helpers used by the native-attribute queries and zero-copy.
//!
//! * [`convert_input`]: user buffer (U8/I8/F16/F32 in NHWC, NCHW or model
//!   order, or the model's own type with `pass_through`) into the tensor the
//!   executor reads, with per-channel `(x - mean) / std` and quantization in
//!   one fused pass. The uint8 NHWC image case is vectorised (AVX2 on
//!   x86_64, NEON on aarch64) and bit-exact with the scalar definition.
//! * [`convert_output`] / [`convert_output_to`]: executor tensor into f32
//!   (dequantized) or the model's type, in NCHW, NHWC or NC1HWC2.
//! * [`pack_nc1hwc2`], [`unpack_nc1hwc2`], [`native_input_attr`],
//!   [`native_output_attr`], [`native_nhwc_output_attr`]: the NPU layout.
//!
//! The rules implemented here, with their sources, are in `docs/io.md`.

mod engine;
mod input;
mod layout;
mod output;
mod simd;

pub use input::{convert_input, input_size, reads_in_place, source_size, InputBuf};
pub use layout::{
    native_input_attr, native_nhwc_output_attr, native_output_attr, pack_nc1hwc2, unpack_nc1hwc2,
    Dims4, LayoutSpec, NativeAttr,
};
pub use output::{
    convert_output, convert_output_from, convert_output_to, output_size, output_size_to,
    writes_in_place, writes_in_place_from,
};

static COPIED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Total bytes written by [`convert_input`] and [`convert_output_to`]
/// (and so [`convert_output`]) in this process since it started: every
/// copy the runtime makes of input or output data goes through them. A
/// measurement aid (`examples/bench_zero_copy.rs`); one relaxed atomic
/// add per conversion.
pub fn copied_bytes() -> u64 {
    COPIED.load(std::sync::atomic::Ordering::Relaxed)
}

fn count_copied(n: usize) {
    COPIED.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
}

/// Why a conversion was refused. Nothing is written to the destination
/// when an error is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IoError {
    /// A buffer is smaller than the tensor it must hold.
    #[error("{what} buffer too small: {required} bytes required, {given} given")]
    BufferTooSmall {
        /// Which buffer (`"input"`, `"output"`, `"destination"`).
        what: &'static str,
        /// Bytes the conversion needs.
        required: usize,
        /// Bytes supplied.
        given: usize,
    },
    /// A type or layout combination this runtime does not convert.
    #[error("unsupported conversion: {0}")]
    Unsupported(String),
    /// Inconsistent arguments (pre-processing, strides, shapes).
    #[error("invalid argument: {0}")]
    Invalid(String),
}

/// Result of the conversions in this module.
pub type IoResult<T> = Result<T, IoError>;
