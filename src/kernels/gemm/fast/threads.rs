//! Splitting a GEMM over the cores: the columns (packed panels of B) are
//! divided between the calling thread and the threads of one persistent
//! pool (`rknnrt-gemm-*`, one thread per core but the first, started on
//! first use) when the product is large enough that handing out work
//! (a few microseconds) is repaid.
//!
//! How many cores `Threads::Auto` may use is capped per calling thread by
//! [`with_thread_budget`]: the model executor sets it from the context's
//! NPU core mask (`runtime::cores`), so a mask changes real parallelism.

use std::cell::Cell;
use std::sync::OnceLock;

/// Multiply-adds below which a GEMM stays on the calling thread.
/// Handing one chunk to a pool thread and waiting for it costs 1.5–13 µs
/// on the shared 2-core development VM, against about 50 µs for starting
/// and joining a scoped thread per call (`docs/multicore.md`); 2²² MACs
/// (about 50–100 µs on one core) repay it.
pub const PARALLEL_MIN_MACS: usize = 1 << 22;

/// How many threads a GEMM may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// All cores for large products, one thread for small ones.
    Auto,
    /// Exactly this many threads (at least one), whatever the size.
    Fixed(usize),
}

/// Cores available to this process (cached).
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

thread_local! {
    /// The cap set by [`with_thread_budget`] on this thread, if any.
    static BUDGET: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Restores the previous budget when dropped (also on unwinding).
struct BudgetGuard(Option<usize>);

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        BUDGET.with(|b| b.set(self.0));
    }
}

/// Runs `f` with `Threads::Auto` GEMMs on this thread limited to
/// `threads` threads (at least one; never more than [`cores`]); the
/// previous budget is restored afterwards. Without a budget `Auto` may use
/// every core.
pub fn with_thread_budget<R>(threads: usize, f: impl FnOnce() -> R) -> R {
    let previous = BUDGET.with(|b| b.replace(Some(threads.max(1))));
    let _restore = BudgetGuard(previous);
    f()
}

/// The budget in force on this thread ([`cores`] when none is set).
pub fn thread_budget() -> usize {
    BUDGET
        .with(Cell::get)
        .map_or_else(cores, |n| n.min(cores()))
}

impl Threads {
    /// Threads to use for `macs` multiply-adds over `panels` column panels.
    pub(crate) fn count(self, macs: usize, panels: usize) -> usize {
        let want = match self {
            Threads::Auto if macs < PARALLEL_MIN_MACS => 1,
            Threads::Auto => thread_budget(),
            Threads::Fixed(t) => t.max(1),
        };
        want.min(panels).max(1)
    }
}

/// Splits `0..panels` into `parts` contiguous ranges of near-equal size.
pub(crate) fn split(panels: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.max(1);
    (0..parts)
        .map(|t| (panels * t / parts)..(panels * (t + 1) / parts))
        .filter(|r| !r.is_empty())
        .collect()
}

/// The kernels' persistent pool: one thread per core but the first (the
/// calling thread is the other worker), or `None` when threads cannot be
/// started (everything then runs on the calling thread).
fn pool() -> Option<&'static rayon_core::ThreadPool> {
    static POOL: OnceLock<Option<rayon_core::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon_core::ThreadPoolBuilder::new()
            .num_threads(cores().saturating_sub(1).max(1))
            .thread_name(|i| format!("rknnrt-gemm-{i}"))
            .build()
            .map_err(|e| tracing::warn!("GEMM thread pool unavailable ({e}); using one thread"))
            .ok()
    })
    .as_ref()
}

/// Runs `f` on every range with `workers` threads (the calling thread is
/// one, the others come from the pool) taking the next range from a
/// shared counter, so a thread that the OS preempts or another context
/// keeps busy does not hold up the others; results in range order.
pub(crate) fn run_dynamic<T: Send>(
    ranges: &[std::ops::Range<usize>],
    workers: usize,
    f: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::with_capacity(ranges.len()));
    let work = || {
        let mut mine = Vec::new();
        while let Some(r) = ranges.get(next.fetch_add(1, Ordering::Relaxed)) {
            mine.push((r.start, f(r.clone())));
        }
        done.lock().unwrap_or_else(|p| p.into_inner()).extend(mine);
    };
    match pool() {
        Some(pool) if workers > 1 => pool.in_place_scope(|s| {
            for _ in 1..workers {
                s.spawn(|_| work());
            }
            work();
        }),
        _ => work(),
    }
    let mut all = done.into_inner().unwrap_or_else(|p| p.into_inner());
    all.sort_by_key(|(start, _)| *start);
    all.into_iter().map(|(_, t)| t).collect()
}
