//! Reading what a `rknn_custom_op` points to, and attribute buffers owned
//! by the runtime but written into C structs.

use core::ffi::c_char;
use std::path::PathBuf;

use crate::abi::{rknn_custom_op, RKNN_TARGET_TYPE_GPU};

/// Largest OpenCL source text accepted (`cl_source_size`).
pub const MAX_CL_SOURCE: usize = 16 << 20;
/// Longest OpenCL source path accepted (`cl_source_size` 0).
pub const MAX_CL_PATH: usize = 4096;

/// Where a GPU op's OpenCL source is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClSource {
    /// The text itself (`cl_source_size` > 0).
    Text(Vec<u8>),
    /// A file holding it (`cl_source_size` 0: `cl_kernel_source` is a path).
    Path(PathBuf),
}

/// A copy of a `rknn_custom_op` with the memory its pointer field refers
/// to read into owned values. `op.cl_kernel_source` must not be used.
#[derive(Clone, Debug)]
pub struct OwnedOp {
    /// The struct (fixed arrays, callbacks and scalars are plain values).
    pub op: rknn_custom_op,
    /// The OpenCL source of a GPU op; `None` for other targets or when
    /// `cl_kernel_source` is NULL.
    pub cl_source: Option<Result<ClSource, String>>,
}

/// Length of the NUL-terminated string at `p`, looking at most `max`
/// bytes; `None` when there is no NUL within them.
///
/// # Safety
/// `p` must be readable up to its NUL or `max` bytes, whichever is first.
unsafe fn bounded_len(p: *const c_char, max: usize) -> Option<usize> {
    // SAFETY: each `i` is at most the NUL's index and below `max`, so
    // readable (the contract); the search stops at the first NUL.
    (0..max).find(|&i| unsafe { *p.add(i) } == 0)
}

/// Copies the op at `p` and reads the OpenCL source it points to.
///
/// # Safety
/// `p` must point to a readable `rknn_custom_op`. For a GPU op with a
/// non-NULL `cl_kernel_source`, that pointer must reference
/// `cl_source_size` readable bytes, or, when the size is 0, a
/// NUL-terminated path (the vendor contract of the struct).
pub unsafe fn read_op(p: *const rknn_custom_op) -> OwnedOp {
    // SAFETY: `p` points to a readable struct (the contract); the copy is
    // unaligned-safe and every bit pattern is a valid value of its fields
    // (integers, byte arrays, raw and nullable function pointers).
    let op = unsafe { p.read_unaligned() };
    let src = op.cl_kernel_source.cast_const();
    let cl_source = (op.target == RKNN_TARGET_TYPE_GPU && !src.is_null()).then(|| {
        match usize::try_from(op.cl_source_size) {
            Ok(0) => {
                // SAFETY: with size 0 the pointer is a NUL-terminated path
                // (the contract); at most MAX_CL_PATH bytes are read.
                match unsafe { bounded_len(src, MAX_CL_PATH) } {
                    Some(n) => {
                        // SAFETY: `n` bytes before the NUL are readable.
                        let bytes = unsafe { std::slice::from_raw_parts(src.cast::<u8>(), n) };
                        match std::str::from_utf8(bytes) {
                            Ok(s) => Ok(ClSource::Path(PathBuf::from(s))),
                            Err(_) => Err("cl_kernel_source (a path, cl_source_size is 0) is not valid UTF-8".to_string()),
                        }
                    }
                    None => Err(format!(
                        "cl_kernel_source (a path, cl_source_size is 0) has no NUL within {MAX_CL_PATH} bytes"
                    )),
                }
            }
            Ok(n) if n <= MAX_CL_SOURCE => {
                // SAFETY: the pointer references `cl_source_size` readable
                // bytes (the contract).
                let text = unsafe { std::slice::from_raw_parts(src.cast::<u8>(), n) };
                Ok(ClSource::Text(text.to_vec()))
            }
            _ => Err(format!(
                "cl_source_size {} is larger than the limit of {MAX_CL_SOURCE} bytes",
                op.cl_source_size
            )),
        }
    });
    OwnedOp { op, cl_source }
}

/// A zero-initialised, 8-byte-aligned buffer allocated by the runtime
/// whose address is given to C (`rknn_custom_op_attr.data`). No Rust
/// reference to the bytes exists after construction, so C may even write
/// through the pointer without breaking Rust's aliasing rules.
#[derive(Debug)]
pub struct RawBuf {
    ptr: *mut u64,
    words: usize,
}

// SAFETY: the buffer is a plain heap allocation owned by this value;
// Rust never reads it after construction, and C code receiving the
// pointer may use it from any thread.
unsafe impl Send for RawBuf {}
// SAFETY: see `Send`.
unsafe impl Sync for RawBuf {}

impl RawBuf {
    /// A buffer holding `bytes` (zero-padded to a multiple of 8).
    pub fn new(bytes: &[u8]) -> RawBuf {
        let mut words = vec![0u64; bytes.len().div_ceil(8)].into_boxed_slice();
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        let n = words.len();
        RawBuf {
            ptr: Box::into_raw(words).cast::<u64>(),
            words: n,
        }
    }

    /// The address handed to C.
    pub fn as_ptr(&self) -> *mut core::ffi::c_void {
        self.ptr.cast()
    }
}

impl Drop for RawBuf {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.ptr, self.words);
        // SAFETY: `ptr`/`words` came from `Box::into_raw` of a boxed slice
        // of exactly that length in `new` and are released only here.
        drop(unsafe { Box::from_raw(slice) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_buf_keeps_its_bytes_aligned() {
        let b = RawBuf::new(&[1, 2, 3]);
        assert_eq!(b.as_ptr() as usize % 8, 0);
        // SAFETY: the buffer holds at least 3 bytes and lives until the end.
        let bytes = unsafe { std::slice::from_raw_parts(b.as_ptr().cast::<u8>(), 3) };
        assert_eq!(bytes, [1, 2, 3]);
        let empty = RawBuf::new(&[]);
        drop(empty);
    }

    #[test]
    fn gpu_source_text_and_path_are_read() {
        let text = b"__kernel void k() {}";
        let mut op = rknn_custom_op {
            target: RKNN_TARGET_TYPE_GPU,
            cl_kernel_source: text.as_ptr().cast_mut().cast(),
            cl_source_size: text.len() as u64,
            ..Default::default()
        };
        // SAFETY: the struct and the text it points to are live.
        let o = unsafe { read_op(&op) };
        assert_eq!(o.cl_source, Some(Ok(ClSource::Text(text.to_vec()))));
        let path = c"/tmp/k.cl";
        op.cl_kernel_source = path.as_ptr().cast_mut();
        op.cl_source_size = 0;
        // SAFETY: as above, with a NUL-terminated path.
        let o = unsafe { read_op(&op) };
        assert_eq!(o.cl_source, Some(Ok(ClSource::Path("/tmp/k.cl".into()))));
        op.target = crate::abi::RKNN_TARGET_TYPE_CPU;
        // SAFETY: a CPU op's source pointer is never read.
        assert!(unsafe { read_op(&op) }.cl_source.is_none());
    }
}
