//! The table printed after a build: every op with its placement (from
//! [`placement::placements`], with the table case when it is not the
//! general one), output dtype and shapes, then the model, weight and internal memory sizes and the wall
//! time.

use std::fmt::Write;

use rknnrt::graph::{Graph, Target};
use rknnrt::platform::Platform;
use rknnrt::runtime::plan;

use crate::error::BuildError;
use crate::model::BuiltModel;
use crate::placement;

fn shape(s: &[usize]) -> String {
    if s.is_empty() {
        "scalar".into()
    } else {
        s.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("x")
    }
}

/// `n` bytes in a readable unit.
pub fn size(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {} ({n} bytes)", UNITS[u])
    }
}

fn op_table(g: &Graph, platform: Platform) -> String {
    let placed = placement::placements(g, platform);
    let mut s = String::new();
    let name_w = g
        .nodes
        .iter()
        .map(|n| n.name.len())
        .max()
        .unwrap_or(4)
        .clamp(4, 40);
    let _ = writeln!(
        s,
        "{:>4}  {:<18} {:<name_w$}  {:<6} {:<6} shapes (inputs -> outputs)",
        "#", "op", "name", "target", "dtype"
    );
    for (i, n) in g.nodes.iter().enumerate() {
        let ins: Vec<String> = n
            .inputs
            .iter()
            .filter(|&&t| !g.tensors[t].is_weight())
            .map(|&t| shape(&g.tensors[t].shape))
            .collect();
        let outs: Vec<String> = n
            .outputs
            .iter()
            .map(|&t| shape(&g.tensors[t].shape))
            .collect();
        let dtype = n
            .outputs
            .first()
            .map(|&t| format!("{:?}", g.tensors[t].dtype).to_uppercase())
            .unwrap_or_default();
        let (target, case) = match placed.get(i) {
            Some(p) => (p.target, p.case.name()),
            None => (n.target, ""),
        };
        let target = match target {
            Target::Npu => "NPU",
            Target::Cpu => "CPU",
        };
        let note = if case.is_empty() {
            String::new()
        } else {
            format!("  ({case})")
        };
        let name: String = n.name.chars().take(40).collect();
        let _ = writeln!(
            s,
            "{i:>4}  {:<18} {name:<name_w$}  {target:<6} {dtype:<6} {} -> {}{note}",
            n.op.type_name(),
            ins.join(", "),
            outs.join(", ")
        );
    }
    s
}

/// The summary of `model`, written as `bytes`, built in `seconds`.
pub fn summary(model: &BuiltModel, bytes: usize, seconds: f64) -> Result<String, BuildError> {
    let (meta, weights) = model.to_meta()?;
    let g = &meta.graph;
    let p = plan::plan(g);
    let mut s = op_table(g, meta.platform);
    let npu = g.nodes.iter().filter(|n| n.target == Target::Npu).count();
    let io: usize = g
        .inputs
        .iter()
        .chain(&g.outputs)
        .map(|&t| g.tensors[t].bytes())
        .sum();
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "ops: {} ({npu} on the NPU, {} on the CPU)",
        g.nodes.len(),
        g.nodes.len() - npu
    );
    let _ = writeln!(s, "model size: {}", size(bytes as u64));
    let _ = writeln!(s, "weight size: {}", size(weights.len() as u64));
    let saved = if p.naive_size > 0 {
        100.0 * (1.0 - p.arena_size as f64 / p.naive_size as f64)
    } else {
        0.0
    };
    let _ = writeln!(
        s,
        "internal memory: {} arena, naive sum {} ({saved:.0}% saved by reuse)",
        size(p.arena_size as u64),
        size(p.naive_size as u64)
    );
    let _ = writeln!(s, "input/output buffers: {}", size(io as u64));
    let _ = writeln!(s, "wall time: {seconds:.3} s");
    Ok(s)
}
