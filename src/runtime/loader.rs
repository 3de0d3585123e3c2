//! Gets a model's bytes into memory: a file is mapped read-only (weights
//! used in place), a caller's buffer is copied once into a device buffer
//! (the caller may free it after `rknn_init`).

use std::fs::File;
use std::sync::Arc;

use memmap2::Mmap;

use super::error::{Error, ErrorKind, Result};
use crate::driver::Device;
use crate::model::{Model, ModelError};

/// Maps the model file at `path` and parses it.
pub fn from_path(path: &str) -> Result<Model> {
    let io = |reason: String| ModelError::Io {
        path: path.to_string(),
        reason,
    };
    let file = File::open(path).map_err(|e| io(e.to_string()))?;
    let len = file.metadata().map_err(|e| io(e.to_string()))?.len();
    if len == 0 {
        return Err(ModelError::Invalid(format!("model file {path} is empty")).into());
    }
    // SAFETY: the mapping is read-only and private to this process. Its
    // contents can still change if another process rewrites the file while
    // the model is loaded; the parser validates everything once at load,
    // and later reads go only to weight bytes (plain data, any value is
    // acceptable), so a concurrent rewrite can change results but cannot
    // cause memory unsafety. A truncation would raise SIGBUS, as with any
    // mapped file; users must not truncate a model file in use.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| io(format!("mmap: {e}")))?;
    Ok(Model::load(Box::new(map))?)
}

/// Copies the caller's model bytes into a device buffer and parses them.
pub fn from_bytes(device: &dyn Device, bytes: &[u8]) -> Result<Model> {
    if bytes.is_empty() {
        return Err(Error::new(ErrorKind::ModelInvalid, "model buffer is empty"));
    }
    let mut buf = device.alloc(bytes.len())?;
    buf.as_mut_slice().copy_from_slice(bytes);
    Ok(Model::load(Box::new(buf))?)
}

/// `model` using the weights of `owner` instead of its own
/// (`RKNN_FLAG_SHARE_WEIGHT_MEM`): its graph and the rest of its metadata
/// are kept, its own bytes can be freed. The two weights sections must be
/// byte for byte the same (models converted from one network, e.g. at two
/// input sizes); otherwise `ParamInvalid`.
pub fn share_weights(model: &Model, owner: Arc<Model>) -> Result<Model> {
    if model.vendor().is_some() || owner.vendor().is_some() {
        return Err(Error::new(
            ErrorKind::ParamInvalid,
            "RKNN_FLAG_SHARE_WEIGHT_MEM: models made by the vendor toolkit cannot share weights yet; create the context without the flag",
        ));
    }
    let (mine, theirs) = (model.weights(), owner.weights());
    if mine != theirs {
        return Err(Error::new(
            ErrorKind::ParamInvalid,
            format!(
                "RKNN_FLAG_SHARE_WEIGHT_MEM: the model's weights ({} bytes) differ from those of the context in rknn_init_extend.ctx ({} bytes); weights can be shared only between models with the same weights",
                mine.len(),
                theirs.len()
            ),
        ));
    }
    Ok(Model::with_weights_of(model.meta.clone(), owner))
}
