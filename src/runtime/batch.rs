//! Multi-batch models (`rknn_batch_size` > 1, `docs/multicore.md`).
//!
//! The file's graph computes one batch; the context's inputs and outputs
//! hold `batch_size` of them (dimension 0 multiplied). A run splits them
//! with the vendor's offset rule — batch `b` of an input or output starts
//! at `b × size / batch_size` bytes, whatever the layout, since the batch
//! dimension is outermost — and runs the graph once per batch. As the
//! vendor does with internal copies of the context (one per core, at most
//! the platform's cores, `rknn_set_batch_core_num`), batches run in
//! parallel on that many worker threads, each with its own arena and one
//! kernel thread.

use std::time::Duration;

use super::error::{Error, ErrorKind, Result};
use super::exec::{self, Memory, Region};
use super::plan::{Location, Plan};
use crate::custom_op::CustomOps;
use crate::graph::{Graph, TensorInfo};
use crate::kernels::fast_gemm::threads::with_thread_budget;

/// The tensors a context shows for its inputs and outputs: the graph's,
/// with dimension 0 multiplied by the batch size.
#[derive(Clone, Debug)]
pub struct IoInfos {
    /// One per graph input.
    pub inputs: Vec<TensorInfo>,
    /// One per graph output.
    pub outputs: Vec<TensorInfo>,
}

fn batched(info: &TensorInfo, n: usize) -> TensorInfo {
    let mut t = info.clone();
    if let Some(d) = t.shape.first_mut() {
        *d *= n;
    }
    t
}

impl IoInfos {
    /// The IO tensors of `graph` for `batch` batches.
    pub fn of(graph: &Graph, batch: usize) -> IoInfos {
        let view = |ids: &[usize]| {
            ids.iter()
                .map(|&t| batched(&graph.tensors[t], batch))
                .collect()
        };
        IoInfos {
            inputs: view(&graph.inputs),
            outputs: view(&graph.outputs),
        }
    }
}

/// Fails unless every output of a multi-batch `graph` has its own buffer
/// in `plan` (an output that is also an input, a weight or another output
/// cannot be split by batch).
pub fn check_plan(graph: &Graph, plan: &Plan) -> Result<()> {
    for (j, &t) in graph.outputs.iter().enumerate() {
        if plan.locations[t] != Location::Output(j) {
            return Err(Error::new(
                ErrorKind::ModelInvalid,
                format!(
                    "multi-batch model: output {j} ('{}') is also an input, a weight or another output; each output of a multi-batch model must be computed by the graph",
                    graph.tensors[t].name
                ),
            ));
        }
    }
    Ok(())
}

/// A region that may be handed to a worker thread.
#[derive(Clone, Copy)]
struct Shared(Region);

// SAFETY: the regions point into buffers the context owns (or user memory
// lent to the run) that outlive the scoped worker threads; each worker
// writes only its own arena and its own batch slices of the outputs, and
// reads the inputs and weights, which nobody writes during the run.
unsafe impl Send for Shared {}
// SAFETY: as above; shared references only copy the pointer.
unsafe impl Sync for Shared {}

/// The `b`-th of `n` equal slices of `r` (empty if `r` is too small);
/// a slice does not start its buffer, so it shows no fd.
fn slice(r: Region, b: usize, n: usize, per: usize) -> Region {
    match per.checked_mul(n) {
        Some(total) if total <= r.len => Region {
            ptr: r.ptr.wrapping_add(b * per),
            len: per,
            fd: -1,
        },
        _ => Region {
            ptr: r.ptr,
            len: 0,
            fd: -1,
        },
    }
}

/// What a batched run needs.
pub struct BatchRun<'a> {
    /// The one-batch graph.
    pub graph: &'a Graph,
    /// Its plan.
    pub plan: &'a Plan,
    /// One arena per worker (at least one).
    pub arenas: &'a [Region],
    /// Whole input buffers (all batches).
    pub inputs: &'a [Region],
    /// Whole output buffers (all batches).
    pub outputs: &'a [Region],
    /// The weights.
    pub weights: &'a [u8],
    /// Number of batches.
    pub batch: usize,
}

impl BatchRun<'_> {
    /// Runs every batch, worker `w` taking batches `w`, `w + workers`, …;
    /// `timings` records the first batch's per-node times.
    pub fn run(&self, timings: Option<&mut Vec<Duration>>) -> Result<()> {
        let g = self.graph;
        let per_in: Vec<usize> = g.inputs.iter().map(|&t| g.tensors[t].bytes()).collect();
        let per_out: Vec<usize> = g.outputs.iter().map(|&t| g.tensors[t].bytes()).collect();
        let workers = self.arenas.len().clamp(1, self.batch.max(1));
        let arenas: Vec<Shared> = self.arenas.iter().map(|&r| Shared(r)).collect();
        let inputs: Vec<Shared> = self.inputs.iter().map(|&r| Shared(r)).collect();
        let outputs: Vec<Shared> = self.outputs.iter().map(|&r| Shared(r)).collect();
        let (plan, weights, batch) = (self.plan, self.weights, self.batch);
        let worker = |w: usize, mut timings: Option<&mut Vec<Duration>>| -> Result<()> {
            for b in (w..batch).step_by(workers) {
                let ins: Vec<Region> = inputs
                    .iter()
                    .zip(&per_in)
                    .map(|(r, &p)| slice(r.0, b, batch, p))
                    .collect();
                let outs: Vec<Region> = outputs
                    .iter()
                    .zip(&per_out)
                    .map(|(r, &p)| slice(r.0, b, batch, p))
                    .collect();
                let mem = Memory {
                    arena: arenas[w].0,
                    inputs: &ins,
                    outputs: &outs,
                    weights,
                };
                exec::run(g, plan, &mem, &mut CustomOps::default(), timings.take())
                    .map_err(|e| Error::new(e.kind, format!("batch {b}: {}", e.message)))?;
            }
            Ok(())
        };
        if workers == 1 {
            return worker(0, timings);
        }
        std::thread::scope(|s| {
            let worker = &worker;
            let others: Vec<_> = (1..workers)
                .map(|w| s.spawn(move || with_thread_budget(1, || worker(w, None))))
                .collect();
            let first = with_thread_budget(1, || worker(0, timings));
            others.into_iter().fold(first, |acc, h| {
                let r = h.join().unwrap_or_else(|_| {
                    Err(Error::new(
                        ErrorKind::Fail,
                        "a batch worker thread panicked",
                    ))
                });
                acc.and(r)
            })
        })
    }
}
