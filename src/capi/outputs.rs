//! Filling the caller's `rknn_output` list (`rknn_outputs_get`) from a
//! source of output tensors: the context's own outputs, or the previous
//! frame's kept by `RKNN_FLAG_ASYNC_MASK` (`capi::frames`).

use std::collections::HashMap;

use super::guard::ApiError;
use crate::abi::*;
use crate::graph::{DType, TensorInfo};
use crate::runtime::io::{self, LayoutSpec};

/// Buffers lent to the caller by `rknn_outputs_get`, keyed by address.
pub type Lent = HashMap<usize, Box<[u8]>>;

/// An output as the caller receives it and as the executor stored it.
#[derive(Clone, Copy, Debug)]
pub struct Stored<'a> {
    /// The output tensor (shape, type and size the caller gets).
    pub info: &'a TensorInfo,
    /// The description the stored bytes follow (`info`, or the 4-D view
    /// of a vector an NPU program stores in NC1HWC2 blocks).
    pub view: &'a TensorInfo,
    /// The stored layout (`Undefined`: model order).
    pub layout: LayoutSpec,
    /// The stored bytes.
    pub bytes: &'a [u8],
}

impl Stored<'_> {
    /// Converts to the model order, as float32 (`want_float`) or the
    /// stored type, into `dst`.
    fn convert(&self, want_float: bool, dst: &mut [u8]) -> io::IoResult<usize> {
        let ty = if want_float {
            DType::F32
        } else {
            self.view.dtype
        };
        io::convert_output_from(
            self.bytes,
            self.layout,
            self.view,
            ty,
            LayoutSpec::UNDEFINED,
            dst,
        )
    }
}

/// Output `i` as stored, or why there is none.
pub type Source<'a> = dyn Fn(usize) -> Result<Stored<'a>, ApiError> + 'a;

/// Converts every requested output of `list` from `source` into the
/// caller's preallocated buffer or a new buffer recorded in `lent`. If any
/// output fails, the buffers this call lent are taken back (their `buf`
/// set to NULL) and the error is returned.
pub fn fill(
    list: &mut [rknn_output],
    lent: &mut Lent,
    source: &Source<'_>,
) -> Result<i32, ApiError> {
    let mut lent_now: Vec<usize> = Vec::new();
    let result = fill_each(list, lent, &mut lent_now, source);
    if result.is_err() {
        for out in list.iter_mut().filter(|o| o.is_prealloc == 0) {
            let addr = out.buf as usize;
            if lent_now.contains(&addr) {
                lent.remove(&addr);
                out.buf = std::ptr::null_mut();
                out.size = 0;
            }
        }
    }
    result
}

fn fill_each(
    list: &mut [rknn_output],
    lent: &mut Lent,
    lent_now: &mut Vec<usize>,
    source: &Source<'_>,
) -> Result<i32, ApiError> {
    for out in list.iter_mut() {
        let i = out.index as usize;
        let stored = source(i)?;
        let want_float = out.want_float != 0;
        let need = io::output_size(stored.info, want_float)
            .map_err(|e| ApiError::new(RKNN_ERR_OUTPUT_INVALID, format!("output[{i}]: {e}")))?;
        if out.is_prealloc != 0 {
            if out.buf.is_null() || (out.size as usize) < need {
                return Err(ApiError::new(
                    RKNN_ERR_OUTPUT_INVALID,
                    format!(
                        "output[{i}]: preallocated buffer {:p} of {} bytes, need {need}",
                        out.buf, out.size
                    ),
                ));
            }
            // SAFETY: the caller guarantees `size` writable bytes at `buf`.
            let dst = unsafe { std::slice::from_raw_parts_mut(out.buf.cast::<u8>(), need) };
            stored
                .convert(want_float, dst)
                .map_err(|e| ApiError::new(RKNN_ERR_OUTPUT_INVALID, format!("output[{i}]: {e}")))?;
        } else {
            let mut buf = vec![0u8; need].into_boxed_slice();
            stored
                .convert(want_float, &mut buf)
                .map_err(|e| ApiError::new(RKNN_ERR_OUTPUT_INVALID, format!("output[{i}]: {e}")))?;
            let size = u32::try_from(need).map_err(|_| {
                ApiError::new(
                    RKNN_ERR_OUTPUT_INVALID,
                    format!("output[{i}] exceeds 4 GiB"),
                )
            })?;
            let addr = buf.as_mut_ptr() as usize;
            out.buf = buf.as_mut_ptr().cast();
            out.size = size;
            lent.insert(addr, buf);
            lent_now.push(addr);
        }
    }
    Ok(RKNN_SUCC)
}

/// Frees the buffers of `list` found in `lent` (setting their `buf` to
/// NULL) and returns the indices of the non-preallocated outputs whose
/// buffer was not there.
pub fn release(list: &mut [rknn_output], lent: &mut Lent) -> Vec<usize> {
    let mut missing = Vec::new();
    for (k, out) in list.iter_mut().enumerate() {
        if out.is_prealloc != 0 {
            continue;
        }
        if lent.remove(&(out.buf as usize)).is_some() {
            out.buf = std::ptr::null_mut();
        } else {
            missing.push(k);
        }
    }
    missing
}
