//! Our container: reader and writer (see docs/format.md).

use std::ops::Range;

use super::{ModelError, ModelMeta};

/// Magic bytes at the start of every `.rknn` file (ours and the vendor's).
pub const MAGIC: &[u8; 8] = b"RKNN\0\0\0\0";
/// The container version this build writes.
pub const FORMAT_VERSION: u32 = 0x100;

/// Parses and validates a container; returns the metadata and the byte
/// range of the weights section inside `bytes`.
pub fn parse(bytes: &[u8]) -> Result<(ModelMeta, Range<usize>), ModelError> {
    let _ = bytes;
    Err(ModelError::Invalid("reader not written yet".into()))
}

/// Serializes a model; `weights` is the weights section that the graph's
/// weight offsets point into.
pub fn write(meta: &ModelMeta, weights: &[u8]) -> Vec<u8> {
    let _ = (meta, weights);
    Vec::new()
}
