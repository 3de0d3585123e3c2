//! The one placement table: per op type, how it relates to int8 and on
//! which platforms' NPU it runs in int8 and in fp16. Everything computed
//! in fp32 runs on the CPU. `docs/ops.md`-style tables are generated from
//! [`entries`]; the quantizer reads [`rule`]; [`assign`] places every node
//! of a finished graph for its `target_platform`.
//!
//! Per-platform differences come from the vendor's SDK user guide
//! (`shared/seeds/001_*`, FAQ): convolution with non-constant weights
//! ("dynamic convolution") runs on the NPU only on RK3588 and RK3576 and
//! only with group 1; no platform's NPU runs ops on tensors of more than
//! four dimensions. Everything else is the same on the five platforms.

use rknnrt::graph::{DType, Graph, Node, Op, Target};
use rknnrt::platform::Platform;

/// How an op relates to int8 execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Support {
    /// Computes in int8 (int32 accumulation, requantized output); in an
    /// int8 model the op always runs in int8.
    Compute,
    /// Moves or selects int8 data; runs in int8 when its first input is
    /// int8, otherwise in float (no conversion is inserted for it).
    FollowsInput,
    /// Float only: int8 inputs are dequantized before it.
    FloatOnly,
}

/// The rule for one op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpRule {
    /// Int8 behaviour.
    pub int8: Int8Support,
    /// Whether the NPU runs the op when it computes in int8 or fp16 (on
    /// the reference platform, RK3588).
    pub npu: bool,
}

/// Element precision a node computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
    /// Quantized int8.
    Int8,
}

impl Precision {
    /// Every precision, in table order.
    pub const ALL: [Precision; 3] = [Precision::Int8, Precision::F16, Precision::F32];

    /// Lower-case name (`int8`, `fp16`, `fp32`).
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "fp32",
            Precision::F16 => "fp16",
            Precision::Int8 => "int8",
        }
    }
}

/// A set of platforms (bit i = `Platform::ALL[i]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Platforms(u8);

impl Platforms {
    /// Every platform.
    pub const ALL: Platforms = Platforms(0b1_1111);
    /// No platform.
    pub const NONE: Platforms = Platforms(0);
    /// RK3588 and RK3576.
    pub const RK3588_RK3576: Platforms = Platforms(0b0_0011);

    fn bit(p: Platform) -> u8 {
        let i = Platform::ALL.iter().position(|&q| q == p).unwrap_or(0);
        1 << i
    }

    /// Whether `p` is in the set.
    pub fn contains(self, p: Platform) -> bool {
        self.0 & Platforms::bit(p) != 0
    }
}

/// A case of an op type with its own row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// The usual form (constant weights where the op has weights).
    General,
    /// Conv (group 1) / ConvTranspose / Gemm whose weights are computed
    /// at run time.
    DynamicWeights,
    /// Grouped Conv whose weights are computed at run time.
    DynamicWeightsGrouped,
}

impl Case {
    /// Text for tables ("" for the general case).
    pub fn name(self) -> &'static str {
        match self {
            Case::General => "",
            Case::DynamicWeights => "dynamic weights",
            Case::DynamicWeightsGrouped => "dynamic weights, grouped",
        }
    }
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// Op type as `Op::type_name` spells it.
    pub op_type: &'static str,
    /// Which case of the op the row covers.
    pub case: Case,
    /// Int8 behaviour.
    pub int8: Int8Support,
    /// Platforms whose NPU runs it in int8.
    pub npu_int8: Platforms,
    /// Platforms whose NPU runs it in fp16.
    pub npu_f16: Platforms,
    /// Why the row is as it is (for the docs).
    pub note: &'static str,
}

const fn row(op_type: &'static str, int8: Int8Support, npu: Platforms, note: &'static str) -> Row {
    Row {
        op_type,
        case: Case::General,
        int8,
        npu_int8: npu,
        npu_f16: npu,
        note,
    }
}

use Int8Support::{Compute, FloatOnly, FollowsInput};
const NPU: Platforms = Platforms::ALL;
const CPU: Platforms = Platforms::NONE;
const FLOAT_ONLY: &str = "no int8 kernel; runs in float on the CPU";
const LUT: &str = "int8 through a 256-entry lookup table (docs/numerics.md)";

/// The table (single source of truth).
pub const TABLE: &[Row] = &[
    row("Conv", Compute, NPU, "depthwise when group == C == M"),
    Row {
        op_type: "Conv",
        case: Case::DynamicWeights,
        int8: Compute,
        npu_int8: Platforms::RK3588_RK3576,
        npu_f16: Platforms::RK3588_RK3576,
        note: "vendor FAQ: dynamic convolution (group 1) only on RK3588/RK3576; \
               int8 needs constant weights, so such a node runs in float",
    },
    Row {
        op_type: "Conv",
        case: Case::DynamicWeightsGrouped,
        int8: Compute,
        npu_int8: CPU,
        npu_f16: CPU,
        note: "vendor FAQ: dynamic convolution only with group 1",
    },
    row("ConvTranspose", Compute, NPU, ""),
    Row {
        op_type: "ConvTranspose",
        case: Case::DynamicWeights,
        int8: Compute,
        npu_int8: CPU,
        npu_f16: CPU,
        note: "weights computed at run time: CPU",
    },
    row("Gemm", Compute, NPU, "fully connected layers"),
    Row {
        op_type: "Gemm",
        case: Case::DynamicWeights,
        int8: Compute,
        npu_int8: CPU,
        npu_f16: CPU,
        note: "B computed at run time: CPU",
    },
    row("MatMul", Compute, NPU, ""),
    row("Add", Compute, NPU, ""),
    row("Sub", Compute, NPU, ""),
    row("Mul", Compute, NPU, ""),
    row("Div", Compute, NPU, ""),
    row("Max", Compute, NPU, ""),
    row("Min", Compute, NPU, ""),
    row("Relu", Compute, NPU, ""),
    row("Relu6", Compute, NPU, ""),
    row("Clip", Compute, NPU, ""),
    row("LeakyRelu", Compute, NPU, ""),
    row("Sigmoid", Compute, NPU, LUT),
    row("Tanh", Compute, NPU, LUT),
    row("HardSigmoid", Compute, NPU, ""),
    row("HardSwish", Compute, NPU, ""),
    row("SiLU", Compute, NPU, LUT),
    row("Gelu", Compute, NPU, LUT),
    row("Exp", Compute, NPU, LUT),
    row("Sqrt", Compute, NPU, LUT),
    row("PRelu", Compute, NPU, ""),
    row("MaxPool", Compute, NPU, ""),
    row("AveragePool", Compute, NPU, ""),
    row("GlobalAveragePool", Compute, NPU, ""),
    row("GlobalMaxPool", Compute, NPU, ""),
    row("Resize", Compute, NPU, ""),
    row("ReduceMax", Compute, NPU, ""),
    row("ReduceMean", FloatOnly, CPU, FLOAT_ONLY),
    row("ReduceSum", FloatOnly, CPU, FLOAT_ONLY),
    row("Concat", FollowsInput, NPU, ""),
    row("Split", FollowsInput, NPU, ""),
    row("Slice", FollowsInput, NPU, ""),
    row("Reshape", FollowsInput, NPU, ""),
    row("Transpose", FollowsInput, NPU, ""),
    row("Pad", FollowsInput, NPU, ""),
    row("Gather", FollowsInput, CPU, "index-driven: CPU"),
    row("ArgMax", FollowsInput, CPU, "int64 result: CPU"),
    row("Softmax", FloatOnly, CPU, FLOAT_ONLY),
    row("LayerNormalization", FloatOnly, CPU, FLOAT_ONLY),
    row("Cast", FloatOnly, CPU, "type conversion: CPU"),
    row(
        "QuantizeLinear",
        FloatOnly,
        CPU,
        "float to int8 step around CPU ops",
    ),
    row(
        "DequantizeLinear",
        FloatOnly,
        CPU,
        "int8 to float step around CPU ops",
    ),
];

/// The highest tensor rank the NPU handles (vendor FAQ: no op of more
/// than four dimensions).
pub const NPU_MAX_RANK: usize = 4;

/// The row of `op_type` for `case`, falling back to the general row.
pub fn row_of(op_type: &str, case: Case) -> Option<&'static Row> {
    TABLE
        .iter()
        .find(|r| r.op_type == op_type && r.case == case)
        .or_else(|| {
            TABLE
                .iter()
                .find(|r| r.op_type == op_type && r.case == Case::General)
        })
}

/// Where a row places its op on `platform` in `precision`.
pub fn row_target(row: &Row, platform: Platform, precision: Precision) -> Target {
    let set = match precision {
        Precision::F32 => Platforms::NONE,
        Precision::F16 => row.npu_f16,
        Precision::Int8 => row.npu_int8,
    };
    if set.contains(platform) {
        Target::Npu
    } else {
        Target::Cpu
    }
}

/// One entry of the expanded table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Op type.
    pub op_type: &'static str,
    /// Case of the op ("" or "dynamic weights").
    pub case: Case,
    /// Platform.
    pub platform: Platform,
    /// Precision the op computes in.
    pub precision: Precision,
    /// Where it runs.
    pub target: Target,
}

/// Every (op type, case, platform, precision) → target of the table, in
/// table order, for generated documentation and reports.
pub fn entries() -> impl Iterator<Item = Entry> {
    TABLE.iter().flat_map(|r| {
        Platform::ALL.into_iter().flat_map(move |platform| {
            Precision::ALL.into_iter().map(move |precision| Entry {
                op_type: r.op_type,
                case: r.case,
                platform,
                precision,
                target: row_target(r, platform, precision),
            })
        })
    })
}

/// The table row of `op` for `case`; custom ops (whatever their type
/// name) have none: they are float-only CPU ops.
fn op_row(op: &Op, case: Case) -> Option<&'static Row> {
    match op {
        Op::Custom(_) => None,
        _ => row_of(op.type_name(), case),
    }
}

/// The general rule of `op` (RK3588), for the quantizer: its int8
/// behaviour and whether the NPU runs it. Ops missing from the table (and
/// custom ops) are float-only CPU ops.
pub fn rule(op: &Op) -> OpRule {
    match op_row(op, Case::General) {
        Some(r) => OpRule {
            int8: r.int8,
            npu: r.npu_int8.contains(Platform::Rk3588),
        },
        None => OpRule {
            int8: FloatOnly,
            npu: false,
        },
    }
}

/// Where a node of `op` computing in `precision` runs on RK3588 (the
/// general row; see [`node_target`] for a node of a graph).
pub fn target(op: &Op, precision: Precision) -> Target {
    target_on(op, Platform::Rk3588, precision)
}

/// Where a node of `op` (general case) computing in `precision` runs on
/// `platform`.
pub fn target_on(op: &Op, platform: Platform, precision: Precision) -> Target {
    op_row(op, Case::General).map_or(Target::Cpu, |r| row_target(r, platform, precision))
}

/// The case of `node` in `graph`: dynamic weights when a Conv,
/// ConvTranspose or Gemm reads non-constant weights (grouped for a Conv
/// with more than one group).
pub fn case_of(graph: &Graph, node: &Node) -> Case {
    let dynamic = node
        .inputs
        .get(1)
        .and_then(|&w| graph.tensors.get(w))
        .is_some_and(|w| !w.is_weight());
    match node.op {
        Op::Conv { group, .. } if dynamic && group != 1 => Case::DynamicWeightsGrouped,
        Op::Conv { .. } | Op::ConvTranspose { .. } | Op::Gemm { .. } if dynamic => {
            Case::DynamicWeights
        }
        _ => Case::General,
    }
}

/// The precision `node` computes in, from its data tensors: int8 when a
/// quantized 8-bit tensor is among them, fp16 when an fp16 one is,
/// fp32 otherwise.
pub fn node_precision(graph: &Graph, node: &Node) -> Precision {
    let tensors = node
        .inputs
        .iter()
        .chain(&node.outputs)
        .filter_map(|&t| graph.tensors.get(t));
    let mut precision = Precision::F32;
    for t in tensors {
        match t.dtype {
            DType::I8 | DType::U8 if t.quant.is_some() => return Precision::Int8,
            DType::F16 => precision = Precision::F16,
            _ => {}
        }
    }
    precision
}

/// Where `node` of `graph` runs on `platform`: the row of its op and case,
/// and the CPU for tensors of more than [`NPU_MAX_RANK`] dimensions.
pub fn node_target(graph: &Graph, node: &Node, platform: Platform) -> Target {
    let too_big = node
        .inputs
        .iter()
        .chain(&node.outputs)
        .filter_map(|&t| graph.tensors.get(t))
        .any(|t| t.shape.len() > NPU_MAX_RANK);
    if too_big {
        return Target::Cpu;
    }
    let precision = node_precision(graph, node);
    op_row(&node.op, case_of(graph, node))
        .map_or(Target::Cpu, |r| row_target(r, platform, precision))
}

/// Places every node of `graph` for `platform` ([`node_target`]).
pub fn assign(graph: &mut Graph, platform: Platform) {
    let targets: Vec<Target> = graph
        .nodes
        .iter()
        .map(|n| node_target(graph, n, platform))
        .collect();
    for (n, t) in graph.nodes.iter_mut().zip(targets) {
        n.target = t;
    }
}

/// Where one node of a graph runs, for build summaries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePlacement {
    /// Node name.
    pub node: String,
    /// Op type.
    pub op_type: String,
    /// Case of the table row used.
    pub case: Case,
    /// Precision the node computes in.
    pub precision: Precision,
    /// Where it runs.
    pub target: Target,
}

/// The placement of every node of `graph` on `platform`, in node order
/// ([`node_target`]; [`assign`] records the same targets in the graph).
pub fn placements(graph: &Graph, platform: Platform) -> Vec<NodePlacement> {
    graph
        .nodes
        .iter()
        .map(|n| NodePlacement {
            node: n.name.clone(),
            op_type: n.op.type_name().to_string(),
            case: case_of(graph, n),
            precision: node_precision(graph, n),
            target: node_target(graph, n, platform),
        })
        .collect()
}

/// The table as Markdown (generated into `docs/compiler.md`): one line per
/// op type and case, one column per platform with the int8 and fp16
/// targets (fp32 always runs on the CPU).
pub fn markdown_table() -> String {
    let name = |t: Target| match t {
        Target::Npu => "NPU",
        Target::Cpu => "CPU",
    };
    let mut out = String::from("| op | case | int8 | ");
    out += &Platform::ALL.map(|p| p.name()).join(" | ");
    out += " | note |\n|---|---|---|";
    out += &"---|".repeat(Platform::ALL.len());
    out += "---|\n";
    for r in TABLE {
        let int8 = match r.int8 {
            Compute => "compute",
            FollowsInput => "follows input",
            FloatOnly => "float only",
        };
        let cells: Vec<String> = Platform::ALL
            .iter()
            .map(|&p| {
                let (i, h) = (
                    row_target(r, p, Precision::Int8),
                    row_target(r, p, Precision::F16),
                );
                if i == h {
                    name(i).to_string()
                } else {
                    format!("int8 {}, fp16 {}", name(i), name(h))
                }
            })
            .collect();
        out += &format!(
            "| {} | {} | {} | {} | {} |\n",
            r.op_type,
            r.case.name(),
            int8,
            cells.join(" | "),
            r.note
        );
    }
    out
}

#[cfg(test)]
mod tests;
