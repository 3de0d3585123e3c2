//! Runs and their frames: `rknn_run` (blocking, non-blocking with
//! `rknn_run_extend.non_block`, and `RKNN_FLAG_ASYNC_MASK`), `rknn_wait`,
//! and the previous-frame outputs of `RKNN_FLAG_ASYNC_MASK`
//! (`docs/runtime.md`, "Asynchronous runs").
//!
//! Every run gets the next frame id of its context (1, 2, ...), written to
//! `rknn_run_extend.frame_id`. A run that does not block is handed to the
//! context's worker thread ([`Worker`], started on first use, stopped by
//! `rknn_destroy` after the run in progress finishes); until it has run,
//! every other call on the context waits (`handles::Entry::lock_idle`),
//! except `rknn_wait` and, on `RKNN_FLAG_ASYNC_MASK` contexts,
//! `rknn_outputs_get` / `rknn_outputs_release`, which use only the frame
//! state kept here.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::general::rt_err;
use super::guard::ApiError;
use super::handles::{self, Handle};
use super::outputs::{self, Lent};
use crate::abi::*;
use crate::graph::TensorInfo;
use crate::runtime::context::FLAG_MODEL_INFO_ONLY;
use crate::runtime::io::LayoutSpec;

/// Failed frames remembered for `rknn_wait` / `rknn_outputs_get`.
const MAX_FAILURES: usize = 64;

/// Outputs of one finished frame, kept for `RKNN_FLAG_ASYNC_MASK`.
#[derive(Debug)]
struct Kept {
    frame: u64,
    /// Per output: the tensor, its stored view and layout, the bytes.
    outputs: Vec<(TensorInfo, TensorInfo, LayoutSpec, Vec<u8>)>,
}

#[derive(Debug, Default)]
struct FrameState {
    /// Last frame id given out.
    submitted: u64,
    /// Last frame finished (frames finish in order).
    completed: u64,
    /// Last frame handed to the worker thread.
    handed: u64,
    /// Last frame `rknn_wait` returned for.
    waited: u64,
    /// Frames that failed: (frame, code, message).
    failures: VecDeque<(u64, i32, String)>,
    /// `RKNN_FLAG_ASYNC_MASK`: outputs of the last two finished frames.
    kept: VecDeque<Kept>,
    /// Buffers lent by `rknn_outputs_get` from kept outputs.
    lent: Lent,
}

impl FrameState {
    fn failure(&self, after: u64, upto: u64) -> Option<ApiError> {
        self.failures
            .iter()
            .find(|f| f.0 > after && f.0 <= upto)
            .map(|(frame, code, msg)| ApiError::new(*code, format!("frame {frame} failed: {msg}")))
    }
}

/// The frame state of one context.
#[derive(Debug)]
pub struct Frames {
    async_mask: bool,
    state: Mutex<FrameState>,
    changed: Condvar,
}

impl Frames {
    /// The frame state of a context created with `flags`.
    pub fn new(flags: u32) -> Frames {
        Frames {
            async_mask: flags & RKNN_FLAG_ASYNC_MASK != 0,
            state: Mutex::default(),
            changed: Condvar::new(),
        }
    }

    /// Whether the context was created with `RKNN_FLAG_ASYNC_MASK`.
    pub fn async_mask(&self) -> bool {
        self.async_mask
    }

    fn lock(&self) -> MutexGuard<'_, FrameState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives out the next frame id (`handed`: it runs on the worker).
    fn begin(&self, handed: bool) -> u64 {
        let mut s = self.lock();
        s.submitted += 1;
        if handed {
            s.handed = s.submitted;
        }
        s.submitted
    }

    /// Records the end of `frame`.
    fn finish(&self, frame: u64, result: &Result<(), ApiError>, kept: Option<Kept>) {
        let mut s = self.lock();
        s.completed = s.completed.max(frame);
        if let Err(e) = result {
            s.failures.push_back((frame, e.code, e.message.clone()));
            if s.failures.len() > MAX_FAILURES {
                s.failures.pop_front();
            }
        }
        if let Some(k) = kept {
            s.kept.push_back(k);
            while s.kept.len() > 2 {
                s.kept.pop_front();
            }
        }
        drop(s);
        self.changed.notify_all();
    }

    /// Waits until `frame` has finished, at most `timeout`.
    fn wait_for<'a>(
        &'a self,
        mut s: MutexGuard<'a, FrameState>,
        frame: u64,
        timeout: Option<Duration>,
    ) -> Result<MutexGuard<'a, FrameState>, ApiError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        while s.completed < frame {
            s = match deadline {
                None => self.changed.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(ApiError::new(
                            RKNN_ERR_TIMEOUT,
                            format!(
                                "frame {frame} still running after {} ms",
                                timeout.unwrap_or_default().as_millis()
                            ),
                        ));
                    }
                    self.changed
                        .wait_timeout(s, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
        Ok(s)
    }

    /// The frame whose outputs `rknn_outputs_get` returns on an
    /// `RKNN_FLAG_ASYNC_MASK` context: the previous one, or the first
    /// frame itself right after the first run.
    fn previous(s: &FrameState) -> Option<u64> {
        match s.submitted {
            0 => None,
            1 => Some(1),
            n => Some(n - 1),
        }
    }
}

/// A job for the worker thread.
pub type Job = Box<dyn FnOnce() + Send>;

/// A context's worker thread: runs the jobs it is sent, one at a time.
#[derive(Debug)]
pub struct Worker {
    tx: mpsc::Sender<Job>,
    thread: JoinHandle<()>,
}

impl Worker {
    /// Starts the thread.
    pub fn start() -> Result<Worker, ApiError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("rknnrt-run".into())
            .spawn(move || {
                for job in rx {
                    // A panic is reported by the job itself; the thread
                    // keeps serving the context.
                    let _ = catch_unwind(AssertUnwindSafe(job));
                }
            })
            .map_err(|e| {
                ApiError::new(
                    RKNN_ERR_FAIL,
                    format!("cannot start the context's run thread: {e}"),
                )
            })?;
        Ok(Worker { tx, thread })
    }

    /// Queues `job`.
    pub fn send(&self, job: Job) -> Result<(), ApiError> {
        self.tx
            .send(job)
            .map_err(|_| ApiError::new(RKNN_ERR_FAIL, "the context's run thread has stopped"))
    }

    /// Lets the thread finish its queue and waits for it (unless called
    /// from that thread itself).
    pub fn stop(self) {
        let Worker { tx, thread } = self;
        drop(tx);
        if thread.thread().id() != std::thread::current().id() {
            let _ = thread.join();
        }
    }
}

fn internal(panic: Box<dyn std::any::Any + Send>) -> ApiError {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    ApiError::new(RKNN_ERR_FAIL, format!("internal error: {what}"))
}

/// One run of the context, with the per-layer table at log level 4.
fn run_once(h: &mut Handle) -> Result<(), ApiError> {
    h.ctx.run().map_err(rt_err)?;
    h.perf_detail = None;
    if crate::log::rknn_level() >= 4 {
        let table = h.ctx.perf_detail();
        for line in table.lines() {
            tracing::debug!("{line}");
        }
    }
    Ok(())
}

/// The outputs of the run just finished, for `RKNN_FLAG_ASYNC_MASK`.
fn keep(h: &Handle, frame: u64) -> Result<Kept, ApiError> {
    let outputs = (0..h.ctx.n_outputs())
        .map(|j| {
            let out_of_range =
                || ApiError::new(RKNN_ERR_OUTPUT_INVALID, format!("output {j} out of range"));
            let info = h.ctx.output_info(j).cloned().ok_or_else(out_of_range)?;
            let (view, layout) = h.ctx.output_tensor(j).ok_or_else(out_of_range)?;
            let bytes = h.ctx.output_bytes(j).map_err(rt_err)?.to_vec();
            Ok((info, view.clone(), layout, bytes))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Kept { frame, outputs })
}

/// `rknn_run`: a blocking run, or one handed to the worker thread
/// (`non_block`, or any run of an `RKNN_FLAG_ASYNC_MASK` context).
pub fn run(context: rknn_context, extend: Option<&mut rknn_run_extend>) -> Result<i32, ApiError> {
    let entry = handles::get(context)?;
    let non_block = extend.as_ref().is_some_and(|e| e.non_block != 0);
    let handed = non_block || entry.frames.async_mask();
    let mut g = entry.lock_idle();
    if g.ctx.flags() & FLAG_MODEL_INFO_ONLY != 0 {
        return Err(ApiError::new(
            RKNN_ERR_FAIL,
            "the context was created with RKNN_FLAG_COLLECT_MODEL_INFO_ONLY and cannot run",
        ));
    }
    let frame = entry.frames.begin(handed);
    if let Some(e) = extend {
        e.frame_id = frame;
    }
    if !handed {
        let r = run_once(&mut g);
        entry.frames.finish(frame, &r, None);
        return r.map(|()| RKNN_SUCC);
    }
    let keep_outputs = entry.frames.async_mask();
    let done = Arc::clone(&entry);
    let job = Box::new(move |h: &mut Handle| {
        let mut r =
            catch_unwind(AssertUnwindSafe(|| run_once(h))).unwrap_or_else(|p| Err(internal(p)));
        let mut kept = None;
        if keep_outputs && r.is_ok() {
            match keep(h, frame) {
                Ok(k) => kept = Some(k),
                Err(e) => r = Err(e),
            }
        }
        if let Err(e) = &r {
            tracing::error!("rknn_run, frame {frame}: {}", e.message);
        }
        done.frames.finish(frame, &r, kept);
    });
    if let Err(e) = entry.hand_to_worker(g, frame, job) {
        entry
            .frames
            .finish(frame, &Err(ApiError::new(e.code, e.message.clone())), None);
        return Err(e);
    }
    Ok(RKNN_SUCC)
}

/// `rknn_wait`: waits for the run handed to the worker thread whose frame
/// is `extend.frame_id` (0 or no `extend`: the last one), at most
/// `extend.timeout_ms` when positive, and returns its result.
pub fn wait(context: rknn_context, extend: Option<&rknn_run_extend>) -> Result<i32, ApiError> {
    let entry = handles::get(context)?;
    let want = extend.map_or(0, |e| e.frame_id);
    let timeout = extend
        .and_then(|e| u64::try_from(e.timeout_ms).ok())
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis);
    let frames = &entry.frames;
    let s = frames.lock();
    if s.handed <= s.waited && want == 0 {
        return Err(ApiError::new(
            RKNN_ERR_FAIL,
            "no pending run: rknn_wait waits for a run started with rknn_run_extend.non_block = 1 (or on a RKNN_FLAG_ASYNC_MASK context) and not waited for yet",
        ));
    }
    let target = if want == 0 { s.handed } else { want };
    if target > s.submitted {
        return Err(ApiError::new(
            RKNN_ERR_PARAM_INVALID,
            format!(
                "frame_id {target} was never started (last frame: {})",
                s.submitted
            ),
        ));
    }
    if target <= s.waited {
        return Err(ApiError::new(
            RKNN_ERR_FAIL,
            format!("frame {target} was already waited for (no pending run)"),
        ));
    }
    let mut s = frames.wait_for(s, target, timeout)?;
    let before = s.waited;
    s.waited = target;
    let failed = s.failure(before, target);
    s.failures.retain(|f| f.0 > target);
    failed.map_or(Ok(RKNN_SUCC), Err)
}

/// `rknn_outputs_get` on an `RKNN_FLAG_ASYNC_MASK` context: the outputs
/// of the previous frame (of the first frame right after the first run),
/// waiting for that frame if it has not finished. Returns the frame.
pub fn outputs_get_previous(
    entry: &handles::Entry,
    list: &mut [rknn_output],
) -> Result<u64, ApiError> {
    let frames = &entry.frames;
    let s = frames.lock();
    let target = Frames::previous(&s)
        .ok_or_else(|| ApiError::new(RKNN_ERR_FAIL, "no output yet: call rknn_run first"))?;
    let mut s = frames.wait_for(s, target, None)?;
    if let Some(e) = s.failure(target - 1, target) {
        return Err(e);
    }
    let FrameState { kept, lent, .. } = &mut *s;
    let frame = kept.iter().find(|k| k.frame == target).ok_or_else(|| {
        ApiError::new(
            RKNN_ERR_FAIL,
            format!("the outputs of frame {target} are no longer kept"),
        )
    })?;
    if list.len() > frame.outputs.len() {
        return Err(ApiError::new(
            RKNN_ERR_PARAM_INVALID,
            format!(
                "param output num({}) > model output num({})",
                list.len(),
                frame.outputs.len()
            ),
        ));
    }
    let source = |i: usize| {
        frame
            .outputs
            .get(i)
            .map(|(info, view, layout, bytes)| outputs::Stored {
                info,
                view,
                layout: *layout,
                bytes,
            })
            .ok_or_else(|| {
                ApiError::new(
                    RKNN_ERR_OUTPUT_INVALID,
                    format!(
                        "output index {i} out of range (model has {} outputs)",
                        frame.outputs.len()
                    ),
                )
            })
    };
    outputs::fill(list, lent, &source)?;
    Ok(target)
}

/// Frees the outputs of `list` lent from kept frames; returns the indices
/// of those that were not (lent by the context itself, or unknown).
pub fn release_kept(entry: &handles::Entry, list: &mut [rknn_output]) -> Vec<usize> {
    let mut s = entry.frames.lock();
    outputs::release(list, &mut s.lent)
}

/// The last frame that finished (0 before the first run).
pub fn last_completed(entry: &handles::Entry) -> u64 {
    entry.frames.lock().completed
}
