//! `rknn-convert inspect file.rknn`: prints what the readers recover from
//! a model file. Vendor (RK35xx Toolkit2) files show the container
//! header, the IO tensors with quantization, the op table with NPU/CPU
//! placement, the task list with each task's regcmd range, the
//! relocation count and the planned memory sizes. Our own files show the
//! container's sections and the graph summary. Files the readers refuse
//! give the reader's message (naming the field or the vendor flavour).

use std::fmt::Write;
use std::path::Path;

use rknnrt::graph::{Graph, Storage};
use rknnrt::model::vendor::{self, dtype_name, VendorModel, VendorTensor};
use rknnrt::model::{self, FORMAT_TAG, MAGIC};

use super::summary::size;
use crate::error::BuildError;

fn dims<T: ToString>(d: &[T]) -> String {
    if d.is_empty() {
        "-".into()
    } else {
        d.iter().map(T::to_string).collect::<Vec<_>>().join("x")
    }
}

fn quant(t: &VendorTensor) -> String {
    if t.scale.is_empty() {
        return "-".into();
    }
    let pairs: Vec<String> = t
        .scale
        .iter()
        .zip(&t.zero_point)
        .take(4)
        .map(|(s, z)| format!("scale={s:e} zp={z}"))
        .collect();
    let more = if t.scale.len() > 4 {
        format!(" (+{} more)", t.scale.len() - 4)
    } else {
        String::new()
    };
    format!("{} {}{more}", t.qnt_method, pairs.join(", "))
}

fn io_table(s: &mut String, m: &VendorModel, title: &str, idx: &[usize]) {
    let _ = writeln!(s, "{title} ({}):", idx.len());
    let _ = writeln!(
        s,
        "  {:>4}  {:<24} {:<8} {:<14} {:<8} {:<16} quantization",
        "#", "name", "dtype", "shape", "layout", "native shape"
    );
    for (n, &i) in idx.iter().enumerate() {
        let t = &m.tensors[i];
        let _ = writeln!(
            s,
            "  {:>4}  {:<24} {:<8} {:<14} {:<8} {:<16} {}",
            n,
            t.name,
            dtype_name(t.dtype_code),
            dims(&t.shape),
            t.layout.name(),
            dims(&t.native_shape),
            quant(t)
        );
    }
}

fn tensor_names(m: &VendorModel, idx: &[usize]) -> String {
    let names: Vec<&str> = idx.iter().map(|&i| m.tensors[i].name.as_str()).collect();
    names.join(", ")
}

/// The report for a vendor file.
pub fn vendor_report(m: &VendorModel) -> String {
    let mut s = String::new();
    let h = &m.header;
    let _ = writeln!(
        s,
        "container: RKNN-Toolkit2 (magic RKNN, version {}), header {} B, payload {} at {:#x}, JSON trailer {}",
        h.version,
        h.header_len,
        size(h.payload.len() as u64),
        h.payload.start,
        size(h.json.len() as u64)
    );
    let _ = writeln!(
        s,
        "model: {} for {} from {}, toolkit {} (code {}), {}",
        m.format,
        m.target,
        m.source,
        m.trailer.version,
        m.version_code.map_or("-".into(), |c| c.to_string()),
        m.shape_mode
    );
    let _ = writeln!(s, "compiler: {}", m.compiler);
    let _ = writeln!(
        s,
        "memory: weights {}, internal {}{}",
        size(m.memory.weight),
        size(m.memory.internal),
        m.memory
            .aux
            .map_or(String::new(), |a| format!(", auxiliary {}", size(a as u64)))
    );
    let _ = writeln!(
        s,
        "tensors: {} ({} buffers)",
        m.tensors.len(),
        m.buffers.len()
    );
    io_table(&mut s, m, "inputs", &m.inputs);
    io_table(&mut s, m, "outputs", &m.outputs);
    for (i, n) in m.normalisation.iter().enumerate() {
        let _ = writeln!(
            s,
            "  input {i} normalisation: mean {:?} std {:?}",
            n.mean, n.std
        );
    }
    let npu = m.nodes.iter().filter(|n| n.on_npu()).count();
    let _ = writeln!(
        s,
        "ops ({}: {npu} NPU, {} CPU):",
        m.nodes.len(),
        m.nodes.len() - npu
    );
    let _ = writeln!(
        s,
        "  {:>4}  {:<18} {:<36} {:<6} inputs -> outputs",
        "#", "op", "name", "target"
    );
    for (i, n) in m.nodes.iter().enumerate() {
        let _ = writeln!(
            s,
            "  {:>4}  {:<18} {:<36} {:<6} {} -> {}",
            i,
            n.op_type,
            n.name,
            if n.on_npu() { "NPU" } else { "CPU" },
            tensor_names(m, &n.inputs),
            tensor_names(m, &n.outputs)
        );
    }
    let _ = writeln!(
        s,
        "tasks: {} (task buffer {}), regcmd {} words ({})",
        m.tasks.len(),
        size(m.task_buffer.len() as u64),
        m.regcmd.len() / 8,
        size(m.regcmd.len() as u64)
    );
    let _ = writeln!(
        s,
        "  {:>4}  {:>6} {:>8} {:>8} {:>7}  regcmd bytes",
        "#", "op_idx", "enable", "int_mask", "amount"
    );
    for (i, t) in m.tasks.iter().enumerate() {
        let r = t.regcmd_range();
        let _ = writeln!(
            s,
            "  {:>4}  {:>6} {:>#8x} {:>#8x} {:>7}  {:#x}..{:#x}",
            i, t.op_idx, t.enable_mask, t.int_mask, t.regcfg_amount, r.start, r.end
        );
    }
    let words: usize = m.relocations.iter().map(|r| r.entries.len()).sum();
    let _ = writeln!(
        s,
        "relocations: {} tensors, {words} regcmd words patched",
        m.relocations.len()
    );
    s
}

fn graph_summary(s: &mut String, g: &Graph) {
    for (title, idx) in [("inputs", &g.inputs), ("outputs", &g.outputs)] {
        let _ = writeln!(s, "{title} ({}):", idx.len());
        for (n, &i) in idx.iter().enumerate() {
            let t = &g.tensors[i];
            let q = t.quant.as_ref().map_or("-".into(), |q| {
                format!("scale={:e} zp={}", q.scale[0], q.zero_point[0])
            });
            let _ = writeln!(
                s,
                "  {:>4}  {:<24} {:<8} {:<14} {:?} {q}",
                n,
                t.name,
                format!("{:?}", t.dtype),
                dims(&t.shape),
                t.layout
            );
        }
    }
    let weights = g
        .tensors
        .iter()
        .filter(|t| matches!(t.storage, Storage::Weight { .. }))
        .count();
    let _ = writeln!(
        s,
        "ops ({}), tensors {} ({weights} constant):",
        g.nodes.len(),
        g.tensors.len()
    );
    for (i, n) in g.nodes.iter().enumerate() {
        let _ = writeln!(
            s,
            "  {:>4}  {:<18} {:<36} {:?}",
            i,
            n.op.type_name(),
            n.name,
            n.target
        );
    }
}

/// The report for one of our own files.
fn own_report(bytes: &[u8]) -> Result<String, model::ModelError> {
    let layout = model::parse_layout(bytes)?;
    let (meta, weights) = model::parse(bytes)?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "container: rknnrt format {:#x}, metadata {}, weights {} at {:#x}, {} NPU program section(s)",
        model::FORMAT_VERSION,
        size(layout.metadata.len() as u64),
        size(weights.len() as u64),
        weights.start,
        layout.npu_programs.len()
    );
    let _ = writeln!(
        s,
        "model: for {} by {}, internal memory {}",
        meta.platform.name(),
        meta.producer,
        size(meta.internal_size)
    );
    if !meta.custom_string.is_empty() {
        let _ = writeln!(s, "custom string: {}", meta.custom_string);
    }
    for (k, set) in meta.shape_sets.iter().enumerate() {
        let _ = writeln!(
            s,
            "shape set {k}: inputs {:?}, {} given output shape(s), {} op(s) resolved for the set",
            set.inputs,
            set.outputs.len(),
            set.ops.len()
        );
    }
    graph_summary(&mut s, &meta.graph);
    Ok(s)
}

/// The report for a file's bytes: ours or the vendor's.
pub fn report(bytes: &[u8]) -> Result<String, model::ModelError> {
    let ours = bytes.len() >= 16 && &bytes[..8] == MAGIC && &bytes[12..16] == FORMAT_TAG;
    if ours {
        own_report(bytes)
    } else {
        vendor::read(bytes).map(|m| vendor_report(&m))
    }
}

/// Reads `path` and prints its report.
pub fn inspect(path: &Path) -> Result<(), BuildError> {
    let bytes = std::fs::read(path)
        .map_err(|e| BuildError::Data(format!("cannot read {}: {e}", path.display())))?;
    let text = report(&bytes).map_err(|e| BuildError::Data(format!("{}: {e}", path.display())))?;
    print!("file: {} ({} bytes)\n{text}", path.display(), bytes.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::ModelBuilder;
    use rknnrt::platform::Platform;

    fn fixture(rel: &str) -> Vec<u8> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/vendor");
        std::fs::read(dir.join(rel)).expect("vendor fixture")
    }

    #[test]
    fn vendor_file_report_lists_header_io_ops_tasks_memory() {
        let r = report(&fixture("multi_io/multi_io.rk3588.i8.rknn")).unwrap();
        for want in [
            "version 6",
            "RKNPU v2 for rk3588",
            "inputs (2):",
            "outputs (2):",
            "OutputOperator",
            "NPU",
            "CPU",
            "tasks: 37",
            "relocations:",
            "memory: weights",
        ] {
            assert!(r.contains(want), "missing {want:?} in\n{r}");
        }
        let task_lines = r.lines().filter(|l| l.contains("..0x")).count();
        assert_eq!(task_lines, 37, "{r}");
    }

    #[test]
    fn own_file_report_and_refusals() {
        let mut b = ModelBuilder::new(Platform::Rk3588);
        let x = b.input("x", &[1, 3, 4, 4]).unwrap();
        let y = b.relu(x).unwrap();
        b.output(y).unwrap();
        let bytes = b.build().unwrap().write().unwrap();
        let r = report(&bytes).unwrap();
        assert!(r.contains("rknnrt format") && r.contains("rk3588"), "{r}");
        assert!(r.contains("inputs (1):") && r.contains("Relu"), "{r}");
        let e = report(b"CYPTRKNN\0\0\0\0\0\0\0\0").unwrap_err().to_string();
        assert!(e.contains("encrypted"), "{e}");
    }
}
