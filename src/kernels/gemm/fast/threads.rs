//! Splitting a GEMM over the cores: the columns (packed panels of B) are
//! divided between scoped threads when the product is large enough that
//! thread start-up (tens of microseconds) is repaid.

use std::sync::OnceLock;

/// Multiply-adds below which a GEMM stays on the calling thread.
/// Measured with `cargo bench --bench gemm` (`GEMM_BENCH_THREADS=1` vs
/// `2`) on the shared 2-core development VM: up to 256×256×256 (2²⁴)
/// one thread was faster, at 64×4096×4096 two threads were.
pub const PARALLEL_MIN_MACS: usize = 1 << 25;

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

impl Threads {
    /// Threads to use for `macs` multiply-adds over `panels` column panels.
    pub(crate) fn count(self, macs: usize, panels: usize) -> usize {
        let want = match self {
            Threads::Auto if macs < PARALLEL_MIN_MACS => 1,
            Threads::Auto => cores(),
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

/// Runs `f` on every range with `workers` threads (the calling thread is
/// one) taking the next range from a shared counter, so a thread that the
/// OS preempts does not hold up the others; results in range order.
pub(crate) fn run_dynamic<T: Send>(
    ranges: &[std::ops::Range<usize>],
    workers: usize,
    f: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        while let Some(r) = ranges.get(next.fetch_add(1, Ordering::Relaxed)) {
            done.push((r.start, f(r.clone())));
        }
        done
    };
    let mut all: Vec<(usize, T)> = std::thread::scope(|s| {
        let work = &work;
        let handles: Vec<_> = (1..workers.max(1)).map(|_| s.spawn(work)).collect();
        let mut all = work();
        for h in handles {
            all.extend(h.join().unwrap_or_default());
        }
        all
    });
    all.sort_by_key(|(start, _)| *start);
    all.into_iter().map(|(_, t)| t).collect()
}
