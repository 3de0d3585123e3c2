//! Assembles a [`VendorModel`] from the container, the FlatBuffer
//! tables and the JSON trailer, and checks the cross references.

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;

use super::container::{parse_header, ContainerHeader};
use super::flatbuf::{Buf, Table};
use super::graph::{self, TensorKind, VendorNode, VendorTensor, MAX_NODES, MAX_TENSORS};
use super::invalid;
use super::program::{self, RelocEntry, Relocation, Task, MAX_RELOCATIONS};
use super::trailer::{self, Trailer};
use crate::model::ModelError;

/// Most buffers in Model slot 20.
pub const MAX_BUFFERS: usize = 1 << 16;
/// Most graphs in Model slot 2.
pub const MAX_GRAPHS: usize = 64;

/// Memory sizes the compiler planned (Model slot 19).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemorySizes {
    /// Total weight memory in bytes (constants, 64-byte aligned, in buffer order).
    pub weight: u64,
    /// Total internal (activation) memory in bytes.
    pub internal: u64,
    /// Third size present on some models (observed: the auxiliary constants' aligned size).
    pub aux: Option<u32>,
}

/// Per-input normalisation (Graph slot 4).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InputNorm {
    /// Means per channel.
    pub mean: Vec<f32>,
    /// Standard deviations per channel.
    pub std: Vec<f32>,
    /// Channel order.
    pub order: Vec<i32>,
}

/// Everything read from an RK35xx Toolkit2 `.rknn` file. Byte ranges
/// are offsets into the file the model was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct VendorModel {
    /// The container header.
    pub header: ContainerHeader,
    /// Model slot 0 (observed 6).
    pub revision: i32,
    /// NPU generation string, e.g. `RKNPU v2`.
    pub format: String,
    /// Toolkit version code (Model slot 6, e.g. 20500).
    pub version_code: Option<i32>,
    /// Compiler string.
    pub compiler: String,
    /// Target platform, e.g. `rk3588`.
    pub target: String,
    /// Source framework, e.g. `ONNX`.
    pub source: String,
    /// Runtime-facing input dtype/layout JSON (Model slot 12).
    pub input_json: String,
    /// Runtime-facing output dtype/layout JSON (Model slot 13).
    pub output_json: String,
    /// Shape mode, e.g. `static_shape`.
    pub shape_mode: String,
    /// Planned memory sizes.
    pub memory: MemorySizes,
    /// File ranges of Model slot 20's buffers (entry 0 is empty).
    pub buffers: Vec<Range<usize>>,
    /// Every tensor of graph 0.
    pub tensors: Vec<VendorTensor>,
    /// Every node of graph 0, in order.
    pub nodes: Vec<VendorNode>,
    /// Tensor indices of the model inputs.
    pub inputs: Vec<usize>,
    /// Tensor indices of the model outputs.
    pub outputs: Vec<usize>,
    /// Input normalisation, one per input when present.
    pub normalisation: Vec<InputNorm>,
    /// File range of the `regcmd` buffer.
    pub regcmd: Range<usize>,
    /// File range of the `task` buffer.
    pub task_buffer: Range<usize>,
    /// The decoded task records.
    pub tasks: Vec<Task>,
    /// The relocation table.
    pub relocations: Vec<Relocation>,
    /// The JSON trailer.
    pub trailer: Trailer,
}

impl VendorModel {
    /// Index of the tensor named `name`.
    pub fn tensor_by_name(&self, name: &str) -> Option<usize> {
        self.tensors.iter().position(|t| t.name == name)
    }
}

fn string_slot(m: &Table<'_>, slot: usize, name: &str) -> Result<String, ModelError> {
    m.string(slot, &format!("Model.{name}"))
}

fn memory(m: &Table<'_>, buf: &Buf<'_>) -> Result<MemorySizes, ModelError> {
    let what = "Model.memory_sizes";
    let v = m.vector(19, 2, what)?;
    let b = buf.slice(v.start, v.len * 2, what)?;
    if b.len() < 16 {
        return invalid(format!("{what}: {} bytes, need at least 16", b.len()));
    }
    let u = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(a)
    };
    let aux = (b.len() >= 20).then(|| u32::from_le_bytes([b[16], b[17], b[18], b[19]]));
    Ok(MemorySizes {
        weight: u(0),
        internal: u(8),
        aux,
    })
}

fn buffers(m: &Table<'_>, base: usize) -> Result<Vec<Range<usize>>, ModelError> {
    m.tables(20, MAX_BUFFERS, "Model.buffers")?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = t.vector(0, 1, &format!("Model.buffers[{i}].data"))?;
            Ok(base + v.start..base + v.start + v.len)
        })
        .collect()
}

fn relocations(
    g: &Table<'_>,
    tensors: &[VendorTensor],
    buf: &Buf<'_>,
) -> Result<Vec<Relocation>, ModelError> {
    let mut total = 0usize;
    let pairs = |t: &Table<'_>, slot: usize, what: &str| -> Result<Vec<(u32, u32)>, ModelError> {
        let v = t.vector(slot, 8, what)?;
        buf.charge(v.len, what)?;
        Ok(buf
            .slice(v.start, v.len * 8, what)?
            .chunks_exact(8)
            .map(|c| {
                (
                    u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                    u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                )
            })
            .collect())
    };
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (i, t) in tensors.iter().enumerate() {
        by_name.entry(t.name.as_str()).or_insert(i);
    }
    let mut out = Vec::new();
    for (i, t) in g
        .tables(7, MAX_TENSORS, "Graph.relocations")?
        .iter()
        .enumerate()
    {
        let what = format!("Graph.relocations[{i}]");
        let name = t.string(0, &format!("{what}.name"))?;
        let tensor = match by_name.get(name.as_str()) {
            Some(&x) => x,
            None => return invalid(format!("{what}.name: no tensor is named {name:?}")),
        };
        let entries: Vec<RelocEntry> = pairs(t, 1, &format!("{what}.entries"))?
            .into_iter()
            .map(|(offset, word)| RelocEntry { offset, word })
            .collect();
        total += entries.len();
        if total > MAX_RELOCATIONS {
            return invalid(format!(
                "{what}: more than {MAX_RELOCATIONS} relocation entries in total"
            ));
        }
        out.push(Relocation {
            name,
            tensor,
            entries,
            pairs: pairs(t, 2, &format!("{what}.pairs"))?,
        });
    }
    Ok(out)
}

fn normalisation(g: &Table<'_>) -> Result<Vec<InputNorm>, ModelError> {
    g.tables(4, MAX_TENSORS, "Graph.normalisation")?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let w = |s: &str| format!("Graph.normalisation[{i}].{s}");
            Ok(InputNorm {
                mean: t.f32s(0, &w("mean"))?,
                std: t.f32s(1, &w("std"))?,
                order: t.i32s(2, &w("order"))?,
            })
        })
        .collect()
}

/// The buffer of the single tensor of `kind` (regcmd or task).
fn program_buffer(
    tensors: &[VendorTensor],
    buffers: &[Range<usize>],
    kind: TensorKind,
    name: &str,
) -> Result<Range<usize>, ModelError> {
    let mut found = tensors.iter().filter(|t| t.kind == kind);
    let t = match (found.next(), found.next()) {
        (Some(t), None) => t,
        (None, _) => return invalid(format!("graph has no {name} tensor")),
        (Some(_), Some(_)) => return invalid(format!("graph has more than one {name} tensor")),
    };
    match t.buffer {
        Some(b) if !buffers[b].is_empty() => Ok(buffers[b].clone()),
        Some(b) => invalid(format!("{name} tensor: buffer {b} is empty")),
        None => invalid(format!("{name} tensor has no buffer index")),
    }
}

/// Activations must lie inside the planned internal memory. (A
/// constant's `size` is its slot in weight memory and may exceed its
/// buffer, e.g. a 16-byte shape constant in a 256-byte slot.)
fn check_tensors(tensors: &[VendorTensor], mem: &MemorySizes) -> Result<(), ModelError> {
    for (i, t) in tensors.iter().enumerate() {
        if t.kind == TensorKind::Activation {
            let end = t.mem_offset as u64 + t.size.unwrap_or(0) as u64;
            if end > mem.internal {
                return invalid(format!(
                    "tensors[{i}] ({}): offset {} + size {} exceeds the internal memory size {}",
                    t.name,
                    t.mem_offset,
                    t.size.unwrap_or(0),
                    mem.internal
                ));
            }
        }
    }
    Ok(())
}

/// Reads and validates an RK35xx Toolkit2 `.rknn` file.
pub fn read(bytes: &[u8]) -> Result<VendorModel, ModelError> {
    let header = parse_header(bytes)?;
    let base = header.payload.start;
    let decoded = Cell::new(0);
    let buf = Buf::new(&bytes[header.payload.clone()], &decoded);
    let trailer = trailer::parse(&bytes[header.json.clone()])?;
    let m = buf.root()?;
    let graphs = m.tables(2, MAX_GRAPHS, "Model.graphs")?;
    let g = match graphs.first() {
        Some(g) => *g,
        None => return invalid("Model.graphs: the model has no graph".into()),
    };
    let buffers = buffers(&m, base)?;
    let tensors = g
        .tables(0, MAX_TENSORS, "Graph.tensors")?
        .iter()
        .enumerate()
        .map(|(i, t)| graph::tensor(t, buffers.len(), &format!("Graph.tensors[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let nodes = g
        .tables(1, MAX_NODES, "Graph.nodes")?
        .iter()
        .enumerate()
        .map(|(i, t)| graph::node(t, tensors.len(), base, &format!("Graph.nodes[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let inputs = graph::indices(g.i32s(2, "Graph.inputs")?, tensors.len(), "Graph.inputs")?;
    let outputs = graph::indices(g.i32s(3, "Graph.outputs")?, tensors.len(), "Graph.outputs")?;
    if inputs.is_empty() || outputs.is_empty() {
        return invalid(format!(
            "Graph: {} inputs and {} outputs; a model needs at least one of each",
            inputs.len(),
            outputs.len()
        ));
    }
    let memory = memory(&m, &buf)?;
    check_tensors(&tensors, &memory)?;
    let regcmd = program_buffer(&tensors, &buffers, TensorKind::Regcmd, "regcmd")?;
    let task_buffer = program_buffer(&tensors, &buffers, TensorKind::Task, "task")?;
    if regcmd.len() % 8 != 0 {
        return invalid(format!(
            "regcmd buffer: {} bytes is not a whole number of 8-byte words",
            regcmd.len()
        ));
    }
    let tasks = program::parse_tasks(&bytes[task_buffer.clone()], regcmd.len())?;
    let relocations = relocations(&g, &tensors, &buf)?;
    program::check_relocations(&relocations, regcmd.len())?;
    Ok(VendorModel {
        revision: m.i32(0, "Model.revision")?.unwrap_or(0),
        format: string_slot(&m, 1, "format")?,
        version_code: m.i32(6, "Model.version_code")?,
        compiler: string_slot(&m, 7, "compiler")?,
        target: string_slot(&m, 8, "target")?,
        source: string_slot(&m, 9, "source")?,
        input_json: string_slot(&m, 12, "input_json")?,
        output_json: string_slot(&m, 13, "output_json")?,
        shape_mode: string_slot(&m, 16, "shape_mode")?,
        memory,
        buffers,
        normalisation: normalisation(&g)?,
        tensors,
        nodes,
        inputs,
        outputs,
        regcmd,
        task_buffer,
        tasks,
        relocations,
        trailer,
        header,
    })
}
