//! The table of live contexts behind the opaque `rknn_context` handles.
//! Handles are small integers, never pointers, so a stale or forged handle
//! is detected instead of dereferenced.
//!
//! Locking (the thread-safety contract of `docs/runtime.md`): the table
//! has one lock, held only to look an id up, insert or remove it. Each
//! context has its own lock, held for the whole of every call on it, so
//! calls on one context from several threads are serialised and calls on
//! different contexts run in parallel. A run handed to the context's
//! worker thread (non-blocking runs, `RKNN_FLAG_ASYNC_MASK`) marks the
//! context busy; every other call waits until it is idle again
//! ([`with`]), except the few that only touch the frame state
//! (`capi::frames`). Lock order: table, then context, then frames.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use super::frames::{Frames, Worker};
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
    /// The frame the context's worker thread is running, if any.
    busy: Option<u64>,
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
            busy: None,
        }
    }
}

/// One live context: its handle under its lock and its frame state.
#[derive(Debug)]
pub struct Entry {
    handle: Mutex<Handle>,
    /// Signalled when the worker thread finishes a run.
    idle: Condvar,
    /// Frame ids, results and `RKNN_FLAG_ASYNC_MASK` outputs.
    pub frames: Frames,
    /// The worker thread, started by the first run handed to it.
    worker: Mutex<Option<Worker>>,
}

/// The handle locked with no run in progress on the worker thread.
pub type IdleGuard<'a> = MutexGuard<'a, Handle>;

impl Entry {
    fn new(handle: Handle) -> Entry {
        Entry {
            frames: Frames::new(handle.ctx.flags()),
            handle: Mutex::new(handle),
            idle: Condvar::new(),
            worker: Mutex::new(None),
        }
    }

    /// Locks the handle once no run is in progress on the worker thread.
    pub fn lock_idle(&self) -> IdleGuard<'_> {
        let mut g = self.handle.lock().unwrap_or_else(|p| p.into_inner());
        while g.busy.is_some() {
            g = self.idle.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        g
    }

    /// Hands frame `frame` to the worker thread (started on first use),
    /// marking the handle busy until `run` has run on it there. `g` is
    /// this entry's idle handle; it is released on return and the worker
    /// locks it next, while every other caller waits for the run.
    pub fn hand_to_worker(
        self: &Arc<Self>,
        mut g: IdleGuard<'_>,
        frame: u64,
        run: Box<dyn FnOnce(&mut Handle) + Send>,
    ) -> Result<(), ApiError> {
        let mut worker = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        if worker.is_none() {
            *worker = Some(Worker::start()?);
        }
        let entry = Arc::clone(self);
        let job = Box::new(move || {
            let mut h = entry.handle.lock().unwrap_or_else(|p| p.into_inner());
            // `run` reports its own failures; the context must become
            // idle whatever happens.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&mut h)));
            h.busy = None;
            drop(h);
            entry.idle.notify_all();
        });
        g.busy = Some(frame);
        let sent = match worker.as_ref() {
            Some(w) => w.send(job),
            None => Ok(()),
        };
        if sent.is_err() {
            g.busy = None;
        }
        sent
    }

    /// Waits for a run in progress, then stops the worker thread (called
    /// once the entry left the table, so no new run can start).
    fn shut_down(&self) {
        drop(self.lock_idle());
        let worker = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = worker {
            w.stop();
        }
    }
}

type Shared = Arc<Entry>;

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

fn invalid(id: rknn_context) -> ApiError {
    ApiError::new(
        RKNN_ERR_CTX_INVALID,
        format!("invalid context {id:#x} (never created or already destroyed)"),
    )
}

/// Registers `handle` and returns its new id (never 0).
pub fn insert(handle: Handle) -> rknn_context {
    let device = handle.ctx.shared_device();
    let entry = Arc::new(Entry::new(handle));
    let mut t = table();
    let id = t.fresh_id();
    t.devices.insert(id, device);
    t.live.insert(id, entry);
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
    table().devices.get(&id).cloned().ok_or_else(|| invalid(id))
}

/// The context behind `id`.
pub fn get(id: rknn_context) -> Result<Shared, ApiError> {
    table().live.get(&id).cloned().ok_or_else(|| invalid(id))
}

/// Runs `f` on the context behind `id`, holding it exclusively once no
/// run is in progress on its worker thread.
pub fn with<R>(
    id: rknn_context,
    f: impl FnOnce(&mut Handle) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let entry = get(id)?;
    let mut guard = entry.lock_idle();
    f(&mut guard)
}

/// Unregisters `id`, waits for a run in progress on its worker thread and
/// stops that thread; the context's memory is freed once no other call
/// still uses it.
pub fn remove(id: rknn_context) -> Result<(), ApiError> {
    let entry = {
        let mut t = table();
        t.devices.remove(&id);
        t.live.remove(&id).ok_or_else(|| invalid(id))?
    };
    entry.shut_down();
    Ok(())
}
