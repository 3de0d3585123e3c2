//! Static memory plan, computed once at `rknn_init`: every intermediate
//! activation gets a fixed offset in one internal arena, reusing space of
//! tensors whose lifetimes do not overlap. Graph inputs and outputs live in
//! their own IO buffers (so zero-copy can bind user memory to them), and
//! weights stay in the model's weights section.

use crate::graph::{Graph, Storage, TensorId};

/// Alignment of every arena offset.
pub const ALIGN: usize = 64;

/// Where a tensor lives while the graph runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// Graph input `i`'s buffer.
    Input(usize),
    /// Graph output `i`'s buffer.
    Output(usize),
    /// The internal arena at this offset.
    Arena(usize),
    /// The weights section at this byte offset.
    Weight(usize),
    /// Not used by any node.
    Unused,
}

/// The memory plan of a graph.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Location of every tensor, indexed by tensor id.
    pub locations: Vec<Location>,
    /// Size in bytes of the internal arena.
    pub arena_size: usize,
    /// Sum of the sizes of all intermediates (what a plan without reuse
    /// would need), for reports.
    pub naive_size: usize,
}

fn align_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// Plans `graph` (which must have passed `Graph::validate`).
pub fn plan(graph: &Graph) -> Plan {
    let n = graph.tensors.len();
    let mut locations = vec![Location::Unused; n];
    for (i, &t) in graph.inputs.iter().enumerate() {
        locations[t] = Location::Input(i);
    }
    for (i, &t) in graph.outputs.iter().enumerate() {
        if locations[t] == Location::Unused {
            locations[t] = Location::Output(i);
        }
    }
    for (t, info) in graph.tensors.iter().enumerate() {
        if let Storage::Weight { offset, .. } = info.storage {
            locations[t] = Location::Weight(offset as usize);
        }
    }

    // Lifetime [first def, last use] in node indices of each intermediate.
    let mut life: Vec<Option<(usize, usize)>> = vec![None; n];
    for (i, node) in graph.nodes.iter().enumerate() {
        for &t in node.outputs.iter().chain(&node.inputs) {
            if locations[t] != Location::Unused {
                continue;
            }
            life[t] = Some(match life[t] {
                None => (i, i),
                Some((s, _)) => (s, i),
            });
        }
    }

    // Greedy: place the largest tensors first at the lowest offset that no
    // tensor with an overlapping lifetime occupies.
    let mut order: Vec<TensorId> = (0..n).filter(|&t| life[t].is_some()).collect();
    order.sort_by_key(|&t| (std::cmp::Reverse(graph.tensors[t].bytes()), t));
    let mut placed: Vec<(usize, usize, usize, usize)> = Vec::new(); // (start, end, offset, size)
    let mut arena_size = 0;
    let mut naive_size = 0;
    for t in order {
        let (s, e) = life[t].unwrap_or((0, 0));
        let size = align_up(graph.tensors[t].bytes().max(1));
        naive_size += size;
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&(ps, pe, _, _)| ps <= e && s <= pe)
            .map(|&(_, _, off, sz)| (off, off + sz))
            .collect();
        busy.sort_unstable();
        let mut offset = 0;
        for (lo, hi) in busy {
            if offset + size <= lo {
                break;
            }
            offset = offset.max(hi);
        }
        placed.push((s, e, offset, size));
        locations[t] = Location::Arena(offset);
        arena_size = arena_size.max(offset + size);
    }
    Plan {
        locations,
        arena_size,
        naive_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{DType, Node, Op, Target, TensorInfo};

    fn chain(len: usize, elems: usize) -> Graph {
        let mut g = Graph::default();
        let mut prev = g.add_tensor(TensorInfo::activation("in", vec![elems], DType::F32));
        g.inputs.push(prev);
        for i in 0..len {
            let t = g.add_tensor(TensorInfo::activation(
                format!("t{i}"),
                vec![elems],
                DType::F32,
            ));
            g.add_node(Node {
                name: format!("n{i}"),
                op: Op::Reshape,
                inputs: vec![prev],
                outputs: vec![t],
                target: Target::Cpu,
            });
            prev = t;
        }
        g.outputs.push(prev);
        g
    }

    #[test]
    fn chain_reuses_two_slots() {
        let g = chain(6, 100);
        let p = plan(&g);
        // 5 intermediates of 400 bytes (448 aligned): ping-pong in two slots.
        assert_eq!(p.arena_size, 2 * 448);
        assert_eq!(p.naive_size, 5 * 448);
        assert_eq!(p.locations[0], Location::Input(0));
        assert_eq!(p.locations[6], Location::Output(0));
    }

    #[test]
    fn live_tensors_never_overlap() {
        // A diamond: t1 stays live while t2 and t3 are computed.
        let mut g = Graph::default();
        let x = g.add_tensor(TensorInfo::activation("x", vec![10], DType::F32));
        g.inputs.push(x);
        let t: Vec<_> = (0..4)
            .map(|i| {
                g.add_tensor(TensorInfo::activation(
                    format!("t{i}"),
                    vec![10 + i],
                    DType::F32,
                ))
            })
            .collect();
        let node = |name: &str, inputs: Vec<usize>, out: usize| Node {
            name: name.into(),
            op: Op::Reshape,
            inputs,
            outputs: vec![out],
            target: Target::Cpu,
        };
        g.add_node(node("a", vec![x], t[0]));
        g.add_node(node("b", vec![t[0]], t[1]));
        g.add_node(node("c", vec![t[1]], t[2]));
        g.add_node(node("d", vec![t[0], t[2]], t[3]));
        g.outputs.push(t[3]);
        let p = plan(&g);
        let off = |i: usize| match p.locations[t[i]] {
            Location::Arena(o) => o,
            other => panic!("unexpected {other:?}"),
        };
        let size = |i: usize| align_up(g.tensors[t[i]].bytes());
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            let disjoint = off(a) + size(a) <= off(b) || off(b) + size(b) <= off(a);
            assert!(disjoint, "t{a} and t{b} overlap");
        }
        assert!(p.arena_size <= p.naive_size);
    }
}
