//! Walks the graph's nodes in order, handing each kernel views of its
//! tensors in the arena, the IO buffers and the weights.

use std::time::{Duration, Instant};

use super::error::{Error, ErrorKind, Result};
use super::plan::{Location, Plan};
use crate::custom_op::{CustomOps, Place, TensorMem};
use crate::graph::{Graph, Op, TensorId};
use crate::kernels::{self, In, Out};

/// A region of memory the executor may hand out: base pointer, length and
/// the dma-buf fd of the buffer (-1 when it has none).
#[derive(Clone, Copy, Debug)]
pub struct Region {
    /// First byte.
    pub ptr: *mut u8,
    /// Length in bytes.
    pub len: usize,
    /// The buffer's fd, shown to custom ops.
    pub fd: i32,
}

/// Where tensor `t` lies: its first byte, whether it may be written, and
/// its place in its buffer.
struct Span {
    ptr: *mut u8,
    writable: bool,
    place: Place,
}

/// The memory a run uses.
pub struct Memory<'a> {
    /// The internal arena (written).
    pub arena: Region,
    /// One buffer per graph input (read).
    pub inputs: &'a [Region],
    /// One buffer per graph output (written); outputs that alias another
    /// location have an empty region.
    pub outputs: &'a [Region],
    /// The weights section (read).
    pub weights: &'a [u8],
}

fn region_of(plan: &Plan, mem: &Memory<'_>, t: TensorId, bytes: usize) -> Result<Span> {
    let (base, len, off, writable, fd) = match plan.locations.get(t) {
        Some(Location::Arena(off)) => (mem.arena.ptr, mem.arena.len, *off, true, mem.arena.fd),
        Some(Location::Input(i)) if *i < mem.inputs.len() => {
            let r = mem.inputs[*i];
            (r.ptr, r.len, 0, false, r.fd)
        }
        Some(Location::Output(i)) if *i < mem.outputs.len() => {
            let r = mem.outputs[*i];
            (r.ptr, r.len, 0, true, r.fd)
        }
        Some(Location::Weight(off)) => (
            mem.weights.as_ptr().cast_mut(),
            mem.weights.len(),
            *off,
            false,
            -1,
        ),
        _ => {
            return Err(Error::new(
                ErrorKind::Fail,
                format!("tensor {t} has no memory in the plan"),
            ))
        }
    };
    match off.checked_add(bytes) {
        Some(end) if end <= len => Ok(Span {
            ptr: base.wrapping_add(off),
            writable,
            place: Place { offset: off, fd },
        }),
        _ => Err(Error::new(
            ErrorKind::Fail,
            format!("tensor {t} ({bytes} bytes at {off}) exceeds its buffer of {len} bytes"),
        )),
    }
}

/// Tensor `t`'s memory as custom-op `init` callbacks see it: its buffer's
/// start (NULL when the memory is not there yet) and its place.
pub fn tensor_mem(graph: &Graph, plan: &Plan, mem: &Memory<'_>, t: TensorId) -> TensorMem {
    let bytes = graph.tensors.get(t).map_or(0, |i| i.bytes());
    match region_of(plan, mem, t, bytes) {
        Ok(s) if bytes > 0 => TensorMem {
            base: s.ptr.wrapping_sub(s.place.offset),
            place: s.place,
        },
        _ => TensorMem {
            base: std::ptr::null_mut(),
            place: Place { offset: 0, fd: -1 },
        },
    }
}

/// Runs every node (custom nodes through `custom`); when `timings` is
/// given, records each node's time.
pub fn run(
    graph: &Graph,
    plan: &Plan,
    mem: &Memory<'_>,
    custom: &mut CustomOps,
    timings: Option<&mut Vec<Duration>>,
) -> Result<()> {
    run_observed(graph, plan, mem, custom, timings, &mut |_, _| {})
}

/// [`run`], calling `after` with each node's index and outputs once the
/// node has run (the layer dumps; outside the timed span).
pub fn run_observed(
    graph: &Graph,
    plan: &Plan,
    mem: &Memory<'_>,
    custom: &mut CustomOps,
    mut timings: Option<&mut Vec<Duration>>,
    after: &mut dyn FnMut(usize, &[Out<'_>]),
) -> Result<()> {
    if let Some(t) = timings.as_deref_mut() {
        t.clear();
    }
    for (index, node) in graph.nodes.iter().enumerate() {
        let start = Instant::now();
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(node.outputs.len());
        let mut places = Vec::with_capacity(node.inputs.len() + node.outputs.len());
        let mut inputs = Vec::with_capacity(node.inputs.len());
        for &t in &node.inputs {
            let info = &graph.tensors[t];
            let Span { ptr, place, .. } = region_of(plan, mem, t, info.bytes())?;
            places.push(place);
            // SAFETY: `region_of` checked that `ptr .. ptr + bytes` lies in
            // a live buffer of this context. No output of this node overlaps
            // it (checked below), so nothing writes it while the view lives.
            let data = unsafe { std::slice::from_raw_parts(ptr.cast_const(), info.bytes()) };
            inputs.push(In { info, data });
        }
        let mut outputs = Vec::with_capacity(node.outputs.len());
        for &t in &node.outputs {
            let info = &graph.tensors[t];
            let Span {
                ptr,
                writable,
                place,
            } = region_of(plan, mem, t, info.bytes())?;
            places.push(place);
            let span = (ptr as usize, ptr as usize + info.bytes());
            let overlaps = |a: (usize, usize), b: (usize, usize)| a.0 < b.1 && b.0 < a.1;
            let clash = !writable
                || spans.iter().any(|&s| overlaps(s, span))
                || inputs.iter().any(|i| {
                    let s = i.data.as_ptr() as usize;
                    overlaps((s, s + i.data.len()), span)
                });
            if clash && info.bytes() > 0 {
                return Err(Error::new(
                    ErrorKind::Fail,
                    format!(
                        "node '{}': output '{}' is not a private writable buffer",
                        node.name, info.name
                    ),
                ));
            }
            spans.push(span);
            // SAFETY: the region is inside a writable buffer owned by this
            // context (checked by `region_of`) and overlaps neither this
            // node's inputs nor its other outputs (checked just above); the
            // caller holds the context exclusively during the run.
            let data = unsafe { std::slice::from_raw_parts_mut(ptr, info.bytes()) };
            outputs.push(Out { info, data });
        }
        if let Op::Custom(_) = node.op {
            custom.run(index, node, &inputs, &mut outputs, &places)?;
        } else {
            kernels::execute(&node.op, &inputs, &mut outputs).map_err(|e| {
                Error::new(
                    ErrorKind::Fail,
                    format!("node '{}' ({}): {e}", node.name, node.op.type_name()),
                )
            })?;
        }
        if let Some(t) = timings.as_deref_mut() {
            t.push(start.elapsed());
        }
        after(index, &outputs);
    }
    Ok(())
}
