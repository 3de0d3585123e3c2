//! The per-layer profile text of `RKNN_QUERY_PERF_DETAIL`, in the vendor's
//! table layout (`reference/conventions.md` §7) so tools that parse it keep
//! working. On the host device every op runs on the CPU: cycles are 0 and
//! MAC usage is `\`, as the vendor prints for CPU ops. Custom ops always
//! show their own type (`cstSoftmax`) and the `CPU` target: their
//! callbacks run on the calling thread.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use crate::graph::{DType, Graph, Op, Storage};

fn dtype_word(d: DType) -> &'static str {
    match d {
        DType::F32 => "FLOAT32",
        DType::F16 => "FLOAT16",
        DType::I8 => "INT8",
        DType::U8 => "UINT8",
        DType::I16 => "INT16",
        DType::U16 => "UINT16",
        DType::I32 => "INT32",
        DType::U32 => "UINT32",
        DType::I64 => "INT64",
        DType::Bool => "BOOL",
    }
}

fn shape(s: &[usize]) -> String {
    let dims: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("({})", dims.join(","))
}

/// One row of the layer table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Op type (`Conv`, `ConvRelu`, `InputOperator` ...).
    pub op: String,
    /// Data type word (`INT8`, `FLOAT16` ...).
    pub dtype: &'static str,
    /// Where the layer ran: `NPU` or `CPU`.
    pub target: &'static str,
    /// Input shapes, `(1,3,16,16),(8,3,3,3)`, or `\`.
    pub inputs: String,
    /// Output shapes.
    pub outputs: String,
    /// Time of the layer in the last run.
    pub time_us: u64,
    /// Bytes read and written, in KiB.
    pub rw_kb: u64,
    /// Full name (`Conv:conv1`).
    pub name: String,
}

/// The data type word of the table for `d`.
pub fn type_word(d: DType) -> &'static str {
    dtype_word(d)
}

/// Shapes as the table prints them: `(1,3,4,4),(8)`.
pub fn shapes<'a>(list: impl IntoIterator<Item = &'a [usize]>) -> String {
    list.into_iter().map(shape).collect::<Vec<_>>().join(",")
}

fn render_table(title: &str, header: &[&str], rows: &[Vec<String>], footer: &[String]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let total: usize = widths.iter().sum::<usize>() + 2 * widths.len();
    let rule = "-".repeat(total);
    let mut out = String::new();
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(out, "{}", format!("{title:^total$}").trim_end());
    let _ = writeln!(out, "{rule}");
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(l, "{c:<w$}  ");
        }
        l.trim_end().to_string()
    };
    let head: Vec<String> = header.iter().map(|s| s.to_string()).collect();
    let _ = writeln!(out, "{}", line(&head));
    let _ = writeln!(out, "{rule}");
    for r in rows {
        let _ = writeln!(out, "{}", line(r));
    }
    let _ = writeln!(out, "{rule}");
    for f in footer {
        let _ = writeln!(out, "{f}");
    }
    if !footer.is_empty() {
        let _ = writeln!(out, "{rule}");
    }
    out
}

/// Builds the layer table and the op ranking table for the last run.
/// `target` is where the ops ran (`"CPU"` on the host device).
pub fn detail(graph: &Graph, times: &[Duration], target: &'static str) -> String {
    let mut rows = Vec::new();
    let io_row = |op: &str, ids: &[usize]| Row {
        op: op.to_string(),
        dtype: ids
            .first()
            .map(|&t| dtype_word(graph.tensors[t].dtype))
            .unwrap_or("FLOAT32"),
        target,
        inputs: String::from("\\"),
        outputs: ids
            .iter()
            .map(|&t| shape(&graph.tensors[t].shape))
            .collect::<Vec<_>>()
            .join(","),
        time_us: 0,
        rw_kb: 0,
        name: op.to_string(),
    };
    rows.push(io_row("InputOperator", &graph.inputs));
    for (i, node) in graph.nodes.iter().enumerate() {
        let bytes: usize = node
            .inputs
            .iter()
            .chain(&node.outputs)
            .map(|&t| graph.tensors[t].bytes())
            .sum();
        let first_act = node
            .inputs
            .iter()
            .find(|&&t| graph.tensors[t].storage == Storage::Activation)
            .or(node.outputs.first());
        rows.push(Row {
            op: node.op.type_name().to_string(),
            dtype: first_act
                .map(|&t| dtype_word(graph.tensors[t].dtype))
                .unwrap_or("FLOAT32"),
            target: if matches!(node.op, Op::Custom(_)) {
                "CPU"
            } else {
                target
            },
            inputs: node
                .inputs
                .iter()
                .map(|&t| shape(&graph.tensors[t].shape))
                .collect::<Vec<_>>()
                .join(","),
            outputs: node
                .outputs
                .iter()
                .map(|&t| shape(&graph.tensors[t].shape))
                .collect::<Vec<_>>()
                .join(","),
            time_us: times.get(i).map(|d| d.as_micros() as u64).unwrap_or(0),
            rw_kb: (bytes as u64).div_ceil(1024),
            name: format!("{}:{}", node.op.type_name(), node.name),
        });
    }
    let mut out_row = io_row("OutputOperator", &graph.outputs);
    out_row.inputs = out_row.outputs.clone();
    rows.push(out_row);
    table(&rows)
}

/// The layer table and the op ranking table of `rows` (each row's time
/// counts as CPU or NPU time by its target).
pub fn table(rows: &[Row]) -> String {
    let total_time: u64 = rows.iter().map(|r| r.time_us).sum();
    let total_rw: u64 = rows.iter().map(|r| r.rw_kb).sum();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            vec![
                (i + 1).to_string(),
                r.op.clone(),
                r.dtype.to_string(),
                r.target.to_string(),
                r.inputs.clone(),
                r.outputs.clone(),
                "0/0/0".to_string(),
                r.time_us.to_string(),
                "\\".to_string(),
                "0.0%/0.0%/0.0%".to_string(),
                r.rw_kb.to_string(),
                r.name.clone(),
            ]
        })
        .collect();
    let mut text = render_table(
        "Network Layer Information Table",
        &[
            "ID",
            "OpType",
            "DataType",
            "Target",
            "InputShape",
            "OutputShape",
            "Cycles(DDR/NPU/Total)",
            "Time(us)",
            "MacUsage(%)",
            "WorkLoad(0/1/2)",
            "RW(KB)",
            "FullName",
        ],
        &cells,
        &[
            format!("Total Operator Elapsed Per Frame Time(us): {total_time}"),
            format!("Total Memory Read/Write Per Frame Size(KB): {total_rw}"),
        ],
    );

    // Ranking by op type.
    // (calls, CPU time, NPU time) per op type.
    let mut by_type: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for r in rows {
        let e = by_type.entry(r.op.as_str()).or_default();
        e.0 += 1;
        if r.target == "NPU" {
            e.2 += r.time_us;
        } else {
            e.1 += r.time_us;
        }
    }
    let mut ranked: Vec<(&str, (u64, u64, u64))> = by_type.into_iter().collect();
    let total = |v: &(u64, u64, u64)| v.1 + v.2;
    ranked.sort_by(|a, b| total(&b.1).cmp(&total(&a.1)).then(a.0.cmp(b.0)));
    let ratio = |t: u64| {
        if total_time == 0 {
            0.0
        } else {
            t as f64 * 100.0 / total_time as f64
        }
    };
    let rank_cells: Vec<Vec<String>> = ranked
        .iter()
        .map(|(op, v)| {
            let (calls, cpu, npu) = *v;
            vec![
                op.to_string(),
                calls.to_string(),
                cpu.to_string(),
                "0".to_string(),
                npu.to_string(),
                (cpu + npu).to_string(),
                format!("{:.2}%", ratio(cpu + npu)),
            ]
        })
        .collect();
    let cpu_total: u64 = ranked.iter().map(|(_, v)| v.1).sum();
    let npu_total: u64 = ranked.iter().map(|(_, v)| v.2).sum();
    let mut sum_row = vec![
        "Total".to_string(),
        String::new(),
        cpu_total.to_string(),
        "0".to_string(),
        npu_total.to_string(),
        total_time.to_string(),
        String::new(),
    ];
    if total_time > 0 {
        sum_row[6] = "100.00%".to_string();
    }
    let mut all_rank = rank_cells;
    all_rank.push(sum_row);
    text.push('\n');
    text.push_str(&render_table(
        "Operator Time Consuming Ranking Table",
        &[
            "OpType",
            "CallNumber",
            "CPUTime(us)",
            "GPUTime(us)",
            "NPUTime(us)",
            "TotalTime(us)",
            "TimeRatio(%)",
        ],
        &all_rank,
        &[],
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Node, Op, Target, TensorInfo};

    #[test]
    fn table_has_vendor_columns_and_footers() {
        let mut g = Graph::default();
        let x = g.add_tensor(TensorInfo::activation("x", vec![1, 3, 4, 4], DType::F32));
        let y = g.add_tensor(TensorInfo::activation("y", vec![1, 3, 4, 4], DType::F32));
        g.inputs.push(x);
        g.outputs.push(y);
        g.add_node(Node {
            name: "relu0".into(),
            op: Op::Unary {
                act: crate::graph::Activation::Relu,
            },
            inputs: vec![x],
            outputs: vec![y],
            target: Target::Npu,
        });
        let text = detail(&g, &[Duration::from_micros(42)], "CPU");
        assert!(text.contains("Network Layer Information Table"));
        assert!(text.contains("Cycles(DDR/NPU/Total)"));
        assert!(text.contains("Relu:relu0"));
        assert!(text.contains("(1,3,4,4)"));
        assert!(text.contains("Total Operator Elapsed Per Frame Time(us): 42"));
        assert!(text.contains("Total Memory Read/Write Per Frame Size(KB): 1"));
        assert!(text.contains("Operator Time Consuming Ranking Table"));
        let relu_line = text
            .lines()
            .find(|l| l.starts_with("Relu "))
            .expect("ranking row");
        assert!(relu_line.contains("100.00%"), "{relu_line}");
    }
}
