//! The `rknn_tensor_mem` objects handed to C, and the device memory behind
//! each. The C struct is allocated here and its address is the key, so a
//! pointer the library did not create (or already freed) is detected
//! instead of dereferenced.
//!
//! Ownership: the table holds one `Arc` per object; whoever uses the memory
//! (a context it is set on, a matmul context) holds another clone.
//! Destroying an object frees its C struct at once and its memory with the
//! last `Arc`; a holder sees [`MemObject::destroyed`] and refuses to run on
//! it, so destroying memory still set on a context never leaves a dangling
//! pointer, and the vendor's cleanup order (memory, then context) frees
//! everything.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::guard::ApiError;
use crate::abi::{rknn_context, rknn_tensor_mem, RKNN_ERR_PARAM_INVALID};
use crate::driver::{Buffer, Device};

/// Device memory behind one `rknn_tensor_mem`.
#[derive(Debug)]
pub struct MemObject {
    /// The memory (its `as_ptr()` is the struct's `virt_addr`).
    pub buffer: Buffer,
    /// The device that made or imported it.
    pub device: Arc<dyn Device>,
    /// The context it was created on (0: none).
    pub ctx: rknn_context,
    /// Set by `rknn_destroy_mem` when a context still held the memory.
    pub destroyed: AtomicBool,
}

#[derive(Default)]
struct Table {
    live: HashMap<usize, Arc<MemObject>>,
}

fn table() -> MutexGuard<'static, Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl crate::runtime::bindings::UserMemory for MemObject {
    fn buffer(&self) -> &Buffer {
        &self.buffer
    }

    fn device(&self) -> &dyn Device {
        &*self.device
    }

    fn destroyed(&self) -> bool {
        self.destroyed.load(Ordering::Acquire)
    }
}

/// Registers `obj` and returns the new C struct describing it, with
/// `flags` (an `RKNN_TENSOR_MEMORY_FLAGS_*` value) and `offset` as given.
pub fn register(obj: MemObject, offset: i32, flags: u32) -> *mut rknn_tensor_mem {
    let desc = rknn_tensor_mem {
        virt_addr: obj.buffer.as_ptr().cast(),
        phys_addr: obj.buffer.dev_addr(),
        fd: obj.buffer.fd(),
        offset,
        size: u32::try_from(obj.buffer.size()).unwrap_or(u32::MAX),
        flags,
        priv_data: std::ptr::null_mut(),
    };
    register_described(obj, desc)
}

/// Registers `obj` with a C struct filled as `desc` says (memory the
/// caller describes itself: its own `virt_addr`, fd and offset).
pub fn register_described(obj: MemObject, desc: rknn_tensor_mem) -> *mut rknn_tensor_mem {
    let ptr = Box::into_raw(Box::new(desc));
    table().live.insert(ptr as usize, Arc::new(obj));
    ptr
}

fn unknown(ptr: *const rknn_tensor_mem) -> ApiError {
    ApiError::new(
        RKNN_ERR_PARAM_INVALID,
        format!("rknn_tensor_mem {ptr:p} was not created by this library or is already destroyed"),
    )
}

/// The object behind `ptr`.
pub fn lookup(ptr: *const rknn_tensor_mem) -> Result<Arc<MemObject>, ApiError> {
    if ptr.is_null() {
        return Err(ApiError::new(RKNN_ERR_PARAM_INVALID, "mem is NULL"));
    }
    table()
        .live
        .get(&(ptr as usize))
        .cloned()
        .ok_or_else(|| unknown(ptr))
}

/// The object whose memory holds the `len` bytes at CPU address `addr`,
/// if any (a model buffer given with `RKNN_FLAG_MODEL_BUFFER_ZERO_COPY`).
pub fn containing(addr: usize, len: usize) -> Option<Arc<MemObject>> {
    let end = addr.checked_add(len)?;
    table()
        .live
        .values()
        .find(|o| {
            let start = o.buffer.as_ptr() as usize;
            start <= addr && end <= start + o.buffer.size()
        })
        .cloned()
}

/// Unregisters `ptr` and frees its C struct. The memory itself is freed
/// when its last user lets go: at once, or — when a context still has it
/// set (the vendor examples destroy memory before the context) — when that
/// context is destroyed or given other memory; until then runs of that
/// context refuse the destroyed memory.
// The pointer is only dereferenced after it was found in the table, which
// holds exactly the pointers `register` made.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn destroy(ptr: *mut rknn_tensor_mem) -> Result<(), ApiError> {
    if ptr.is_null() {
        return Err(ApiError::new(RKNN_ERR_PARAM_INVALID, "mem is NULL"));
    }
    let mut t = table();
    let obj = t.live.get(&(ptr as usize)).ok_or_else(|| unknown(ptr))?;
    if Arc::strong_count(obj) > 1 {
        obj.destroyed.store(true, Ordering::Release);
        tracing::debug!(
            "rknn_tensor_mem {ptr:p} destroyed while still set; its memory is freed with the context that holds it"
        );
    }
    t.live.remove(&(ptr as usize));
    drop(t);
    // SAFETY: `ptr` came from `Box::into_raw` in `register` (it was in the
    // table) and was removed from the table above, so it is freed once.
    drop(unsafe { Box::from_raw(ptr) });
    Ok(())
}
