//! The table of live contexts behind the opaque `rknn_context` handles.
//! Handles are small integers, never pointers, so a stale or forged handle
//! is detected instead of dereferenced.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::guard::ApiError;
use crate::abi::{rknn_context, RKNN_ERR_CTX_INVALID};
use crate::driver::Device;
use crate::runtime::Context;

/// A context plus the memory the C API lends to the caller.
#[derive(Debug)]
pub struct Handle {
    /// The runtime context.
    pub ctx: Context,
    /// Output buffers handed out by `rknn_outputs_get`, keyed by address,
    /// freed by `rknn_outputs_release` or `rknn_destroy`.
    pub lent: HashMap<usize, Box<[u8]>>,
    /// Text returned by `RKNN_QUERY_PERF_DETAIL`; valid until the next
    /// such query or `rknn_destroy`.
    pub perf_detail: Option<CString>,
}

impl Handle {
    /// Stores `text` as the `RKNN_QUERY_PERF_DETAIL` answer and returns it;
    /// it stays valid until replaced or the context is destroyed.
    pub fn set_perf_detail(&mut self, text: String) -> &CString {
        let c = CString::new(text.replace('\0', " ")).unwrap_or_default();
        self.perf_detail.insert(c)
    }

    /// Wraps a new context.
    pub fn new(ctx: Context) -> Handle {
        Handle {
            ctx,
            lent: HashMap::new(),
            perf_detail: None,
        }
    }
}

type Shared = Arc<Mutex<Handle>>;

#[derive(Default)]
struct Table {
    next: rknn_context,
    live: HashMap<rknn_context, Shared>,
    /// Device of every live handle of any kind (model contexts and the
    /// contexts other APIs create, e.g. matmul), for `rknn_create_mem`.
    devices: HashMap<rknn_context, Arc<dyn Device>>,
}

impl Table {
    fn fresh_id(&mut self) -> rknn_context {
        loop {
            self.next = self.next.wrapping_add(1);
            let id = self.next;
            if id != 0 && !self.devices.contains_key(&id) {
                return id;
            }
        }
    }
}

fn table() -> MutexGuard<'static, Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers `handle` and returns its new id (never 0).
pub fn insert(handle: Handle) -> rknn_context {
    let mut t = table();
    let id = t.fresh_id();
    t.devices.insert(id, handle.ctx.shared_device());
    t.live.insert(id, Arc::new(Mutex::new(handle)));
    id
}

/// Reserves a new handle id (never 0, never a live one) for a context kind
/// kept in another table, recording its device for `rknn_create_mem`.
/// Release it with [`release_id`].
pub fn reserve_id(device: Arc<dyn Device>) -> rknn_context {
    let mut t = table();
    let id = t.fresh_id();
    t.devices.insert(id, device);
    id
}

/// Releases an id from [`reserve_id`].
pub fn release_id(id: rknn_context) {
    table().devices.remove(&id);
}

/// The device of the live handle `id`, of any kind.
pub fn device_of(id: rknn_context) -> Result<Arc<dyn Device>, ApiError> {
    table().devices.get(&id).cloned().ok_or_else(|| {
        ApiError::new(
            RKNN_ERR_CTX_INVALID,
            format!("invalid context {id:#x} (never created or already destroyed)"),
        )
    })
}

/// The context behind `id`.
pub fn get(id: rknn_context) -> Result<Shared, ApiError> {
    table().live.get(&id).cloned().ok_or_else(|| {
        ApiError::new(
            RKNN_ERR_CTX_INVALID,
            format!("invalid context {id:#x} (never created or already destroyed)"),
        )
    })
}

/// Runs `f` on the context behind `id`, holding it exclusively.
pub fn with<R>(
    id: rknn_context,
    f: impl FnOnce(&mut Handle) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let shared = get(id)?;
    let mut guard = shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut guard)
}

/// Unregisters `id`; its memory is freed once no call still uses it.
pub fn remove(id: rknn_context) -> Result<(), ApiError> {
    let mut t = table();
    t.devices.remove(&id);
    t.live.remove(&id).map(drop).ok_or_else(|| {
        ApiError::new(
            RKNN_ERR_CTX_INVALID,
            format!("invalid context {id:#x} (never created or already destroyed)"),
        )
    })
}
