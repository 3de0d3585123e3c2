//! Vendor-compiled programs (`../shared/fixtures/vendor/`) through
//! `npu::program` on the virtual NPU (`driver::sim`).

use std::path::{Path, PathBuf};

use rknnrt::driver::sim::SimDevice;
use rknnrt::driver::{Device, TaskRange};
use rknnrt::model::vendor::{read, VendorModel};
use rknnrt::npu::program::{JobPlan, VendorProgram};
use rknnrt::platform::Platform;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/vendor")
}

/// Every (model, precision, file) of the manifest.
fn cases() -> Vec<(String, &'static str, PathBuf)> {
    let text = std::fs::read(fixtures().join("MANIFEST.json")).expect("vendor MANIFEST.json");
    let m: Value = serde_json::from_slice(&text).expect("MANIFEST.json is JSON");
    let mut out = Vec::new();
    for model in m["models"].as_array().expect("models") {
        let name = model["model"].as_str().expect("model name").to_string();
        for prec in ["i8", "fp16"] {
            let file = fixtures()
                .join(&name)
                .join(format!("{name}.rk3588.{prec}.rknn"));
            out.push((name.clone(), prec, file));
        }
    }
    out
}

fn load(file: &Path) -> (Vec<u8>, VendorModel, VendorProgram) {
    let bytes = std::fs::read(file).expect("fixture");
    let model = read(&bytes).expect("vendor model");
    let program = VendorProgram::new(&model, &bytes).expect("vendor program");
    (bytes, model, program)
}

#[test]
fn every_fixture_has_three_schedules_whose_steps_cover_the_task_array() {
    for (name, prec, file) in cases() {
        let (_, model, program) = load(&file);
        let what = format!("{name} {prec}");
        assert_eq!(program.schedules.len(), 3, "{what}");
        let mut covered = vec![0u32; model.tasks.len()];
        for (s, schedule) in program.schedules.iter().enumerate() {
            assert_eq!(schedule.cores, s as u32 + 1, "{what}");
            for step in &schedule.steps {
                assert_eq!(step.parts[0].core, 0, "{what}");
                for p in &step.parts {
                    assert!(p.core < schedule.cores, "{what}");
                    for t in p.tasks.start..p.tasks.start + p.tasks.count {
                        covered[t as usize] += 1;
                    }
                }
            }
        }
        assert!(covered.iter().all(|&c| c == 1), "{what}: {covered:?}");
    }
}

#[test]
fn conv3x3_schedules_and_jobs() {
    let (_, _, program) = load(&fixtures().join("conv3x3/conv3x3.rk3588.i8.rknn"));
    let r = |start, count| TaskRange { start, count };
    let parts: Vec<Vec<Vec<(u32, TaskRange)>>> = program
        .schedules
        .iter()
        .map(|s| {
            s.steps
                .iter()
                .map(|st| st.parts.iter().map(|p| (p.core, p.tasks)).collect())
                .collect()
        })
        .collect();
    assert_eq!(
        parts,
        vec![
            vec![vec![(0, r(0, 1))]],
            vec![vec![(0, r(1, 2)), (1, r(3, 2))]],
            vec![vec![(0, r(5, 2)), (1, r(7, 2)), (2, r(9, 2))]],
        ]
    );
    let dev = SimDevice::new(Platform::Rk3588);
    let bytes = std::fs::read(fixtures().join("conv3x3/conv3x3.rk3588.i8.rknn")).unwrap();
    let loaded = program.load(&dev, &bytes).expect("load");
    assert_eq!(
        loaded.jobs(0).unwrap(),
        vec![JobPlan {
            core_mask: 0,
            task_start: 0,
            task_count: 1,
            core_tasks: vec![]
        }]
    );
    assert_eq!(
        loaded.jobs(0b110).unwrap(),
        vec![JobPlan {
            core_mask: 0b110,
            task_start: 1,
            task_count: 4,
            core_tasks: vec![r(1, 2), r(3, 2)]
        }]
    );
    assert_eq!(loaded.jobs(0b111).unwrap()[0].core_tasks.len(), 3);
    assert!(loaded.jobs(0b1000).is_err());
}

#[test]
fn tiny_cnn_runs_split_operations_as_separate_jobs() {
    let (bytes, _, program) = load(&fixtures().join("tiny_cnn/tiny_cnn.rk3588.i8.rknn"));
    let dev = SimDevice::new(Platform::Rk3588);
    let loaded = program.load(&dev, &bytes).expect("load");
    // 1 core: one chain of every task.
    let one = loaded.jobs(1).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].task_start, one[0].task_count), (0, 16));
    // 2 cores: conv on both, pool on core 0, two convs on both, the rest on core 0.
    let two = loaded.jobs(3).unwrap();
    let masks: Vec<u32> = two.iter().map(|j| j.core_mask).collect();
    assert_eq!(masks, vec![3, 1, 3, 3, 1]);
    assert_eq!((two[4].task_start, two[4].task_count), (22, 12));
}

#[test]
fn loading_patches_addresses_inside_the_programs_buffers() {
    for (name, prec, file) in cases() {
        let (bytes, model, program) = load(&file);
        let dev = SimDevice::new(Platform::Rk3588);
        let loaded = program.load(&dev, &bytes).expect("load");
        let what = format!("{name} {prec}");
        let regcmd = loaded.regcmd();
        let base = regcmd.dev_addr();
        let records = loaded.task_buffer().as_slice();
        for (i, t) in model.tasks.iter().enumerate() {
            let rec = &records[i * 40..i * 40 + 40];
            let addr = u64::from_le_bytes(rec[32..40].try_into().unwrap());
            assert_eq!(addr, base + t.regcmd_addr, "{what} task {i}");
        }
        let words: Vec<u64> = regcmd
            .as_slice()
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        for r in &program.relocs {
            let value = (words[r.word as usize] >> 16) as u32;
            let want = loaded.tensor_address(r.tensor).unwrap() + u64::from(r.offset);
            assert_eq!(u64::from(value), want, "{what} word {}", r.word);
        }
        for &(word, next) in &program.chain_words {
            let value = (words[word as usize] >> 16) as u32;
            assert_eq!(
                u64::from(value),
                base + u64::from(next),
                "{what} chain word {word}"
            );
        }
    }
}

#[test]
fn binding_a_tensor_elsewhere_repatches_its_words() {
    let (bytes, model, program) = load(&fixtures().join("conv3x3/conv3x3.rk3588.i8.rknn"));
    let dev = SimDevice::new(Platform::Rk3588);
    let mut loaded = program.load(&dev, &bytes).expect("load");
    let x = model.inputs[0];
    let user = dev.alloc(4096).unwrap();
    loaded.bind(x, user.dev_addr(), 4096).unwrap();
    assert_eq!(loaded.tensor_address(x), Some(user.dev_addr()));
    let word = |l: &rknnrt::npu::program::LoadedProgram, w: u32| {
        let s = l.regcmd().as_slice();
        let at = w as usize * 8;
        (u64::from_le_bytes(s[at..at + 8].try_into().unwrap()) >> 16) as u32
    };
    for r in program.relocs.iter().filter(|r| r.tensor == x) {
        assert_eq!(
            u64::from(word(&loaded, r.word)),
            user.dev_addr() + u64::from(r.offset)
        );
    }
    assert!(loaded.bind(x, user.dev_addr(), 10).is_err());
    loaded.unbind(x).unwrap();
    let own = loaded.internal().dev_addr() + u64::from(model.tensors[x].mem_offset);
    assert_eq!(loaded.tensor_address(x), Some(own));
}

// ---------------------------------------------------------------------------
// End-to-end: every MANIFEST case on the virtual NPU against the vendor
// simulator's outputs.

use half::f16;
use rknnrt::model::vendor::VendorTensor;
use rknnrt::npu::program::LoadedProgram;

/// An array: shape and float32 values.
type Npy = (Vec<usize>, Vec<f32>);

/// A float32 `.npy` file.
fn npy(path: &Path) -> Npy {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[..6], b"\x93NUMPY", "{}", path.display());
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
    assert!(
        header.contains("'<f4'") && header.contains("False"),
        "{header}"
    );
    let shape_text = &header[header.find('(').unwrap() + 1..header.find(')').unwrap()];
    let shape: Vec<usize> = shape_text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let data = b[10 + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (shape, data)
}

fn is_int8(t: &VendorTensor) -> bool {
    t.dtype_code == 3
}

/// `x` (NCHW float, batch 1, `c × h × w` or a flat vector) in tensor `t`'s
/// native layout, quantised for int8 tensors.
fn to_native(t: &VendorTensor, x: &[f32]) -> Vec<u8> {
    let e = if is_int8(t) { 1 } else { 2 };
    let enc = |v: f32, out: &mut [u8]| {
        if is_int8(t) {
            let q = (v / t.scale[0]).round_ties_even() + t.zero_point[0] as f32;
            out[0] = q.clamp(-128.0, 127.0) as i8 as u8;
        } else {
            out.copy_from_slice(&f16::from_f32(v).to_le_bytes());
        }
    };
    let size = t.size.unwrap() as usize;
    let mut buf = vec![0u8; size];
    let n = &t.native_shape;
    if n.len() == 5 {
        let (c1, h, w, c2) = (n[1] as usize, n[2] as usize, n[3] as usize, n[4] as usize);
        let c = t.shape[1] as usize;
        if c1 == 1 && c2 == c && c <= 4 {
            // Packed pixels, lines aligned as the size says.
            let ws = size / (h * c * e);
            for ch in 0..c {
                for y in 0..h {
                    for xx in 0..w {
                        let at = ((y * ws + xx) * c + ch) * e;
                        enc(x[(ch * h + y) * w + xx], &mut buf[at..at + e]);
                    }
                }
            }
        } else {
            for ch in 0..c {
                for y in 0..h {
                    for xx in 0..w {
                        let at = (((ch / c2) * h + y) * w + xx) * c2 * e + (ch % c2) * e;
                        enc(x[(ch * h + y) * w + xx], &mut buf[at..at + e]);
                    }
                }
            }
        }
    } else {
        for (i, &v) in x.iter().enumerate() {
            enc(v, &mut buf[i * e..(i + 1) * e]);
        }
    }
    buf
}

/// Tensor `t`'s `count` values (NCHW order) from its native bytes,
/// dequantised.
fn from_native(t: &VendorTensor, bytes: &[u8], count: usize) -> Vec<f32> {
    let e = if is_int8(t) { 1 } else { 2 };
    let dec = |b: &[u8]| {
        if is_int8(t) {
            (f32::from(b[0] as i8) - t.zero_point[0] as f32) * t.scale[0]
        } else {
            f16::from_le_bytes([b[0], b[1]]).to_f32()
        }
    };
    let n = &t.native_shape;
    if n.len() == 5 {
        let (h, w, c2) = (n[2] as usize, n[3] as usize, n[4] as usize);
        let c = count / (h * w);
        let mut out = vec![0f32; count];
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let at = (((ch / c2) * h + y) * w + x) * c2 * e + (ch % c2) * e;
                    out[(ch * h + y) * w + x] = dec(&bytes[at..at + e]);
                }
            }
        }
        out
    } else {
        (0..count)
            .map(|i| dec(&bytes[i * e..(i + 1) * e]))
            .collect()
    }
}

/// The tensor whose bytes hold model output `o`: itself, or, when a CPU
/// Reshape produces it, the Reshape's NPU-side input.
fn npu_output(model: &VendorModel, o: usize) -> usize {
    match model.nodes.iter().find(|n| n.outputs.contains(&o)) {
        Some(n) if !n.on_npu() && n.op_type == "Reshape" => n.inputs[0],
        _ => o,
    }
}

/// Input normalisation of input `i` (mean/std per channel).
fn normalise(model: &VendorModel, i: usize, c: usize, h: usize, w: usize, x: &mut [f32]) {
    let Some(n) = model.normalisation.get(i) else {
        return;
    };
    for ch in 0..c {
        let (m, s) = (
            n.mean.get(ch).copied().unwrap_or(0.0),
            n.std.get(ch).copied().unwrap_or(1.0),
        );
        for v in &mut x[ch * h * w..(ch + 1) * h * w] {
            *v = (*v - m) / s;
        }
    }
}

/// Comparison of one output against the vendor simulator.
#[derive(Debug, Default, Clone, Copy)]
struct Diff {
    max_abs: f32,
    max_lsb: f32,
    mismatches: usize,
    elements: usize,
}

/// The fp16 ulp at `x`.
fn ulp16(x: f32) -> f32 {
    let m = f16::from_f32(x.abs());
    f16::from_bits(m.to_bits() + 1).to_f32() - m.to_f32()
}

/// Differences in units of the output's quantum: the scale for int8, the
/// fp16 ulp of the tensor's largest magnitude for fp16.
fn compare(t: &VendorTensor, got: &[f32], want: &[f32]) -> Diff {
    let unit = if is_int8(t) {
        t.scale[0]
    } else {
        ulp16(want.iter().fold(0f32, |m, &w| m.max(w.abs())))
    };
    let mut d = Diff {
        elements: want.len(),
        ..Diff::default()
    };
    for (&g, &w) in got.iter().zip(want) {
        let abs = (g - w).abs();
        if g != w {
            d.mismatches += 1;
        }
        d.max_abs = d.max_abs.max(abs);
        d.max_lsb = d.max_lsb.max(abs / unit);
    }
    d
}

/// Where a case's data comes from: each input by name (shape, NCHW
/// values), each vendor output by name (values, every `stride`-th element
/// of the NCHW output).
struct CaseData<'a> {
    input: &'a dyn Fn(&str) -> Npy,
    want: &'a dyn Fn(&str) -> Vec<f32>,
    stride: usize,
}

/// Runs a case on `loaded` with `mask`; per output its raw bytes and its
/// diff against the vendor simulator.
fn run_case(
    dev: &SimDevice,
    model: &VendorModel,
    loaded: &mut LoadedProgram,
    data: &CaseData<'_>,
    mask: u32,
) -> Result<Vec<(String, Vec<u8>, Diff)>, String> {
    for (k, &i) in model.inputs.iter().enumerate() {
        let t = &model.tensors[i];
        let (shape, mut x) = (data.input)(&t.name);
        if shape.len() == 4 {
            normalise(model, k, shape[1], shape[2], shape[3], &mut x);
        }
        let bytes = to_native(t, &x);
        loaded
            .tensor_bytes_mut(i)
            .ok_or("input without memory")?
            .copy_from_slice(&bytes);
    }
    loaded.run(dev, mask, &[]).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for &o in &model.outputs {
        let name = &model.tensors[o].name;
        let want = (data.want)(name);
        let src = npu_output(model, o);
        let t = &model.tensors[src];
        let raw = loaded.tensor_bytes(src).ok_or("output without memory")?;
        let count: usize = model.tensors[o].shape.iter().map(|&d| d as usize).product();
        let got: Vec<f32> = from_native(t, raw, count)
            .into_iter()
            .step_by(data.stride)
            .collect();
        out.push((name.clone(), raw.to_vec(), compare(t, &got, &want)));
    }
    Ok(out)
}

/// Per case and output: elements that differ from the vendor simulator
/// in samples 0 and 1, and the largest difference allowed in units of the
/// output quantum (int8: the scale; fp16: the ulp of the largest
/// magnitude). Why they differ: `docs/sim.md`, "Against the vendor
/// simulator".
const EXPECTED: &[(&str, &str, &str, [usize; 2], f32)] = &[
    ("conv3x3", "i8", "y", [1, 1], 1.0),
    ("conv3x3", "fp16", "y", [749, 778], 1.0),
    ("conv_relu", "i8", "y", [1, 1], 1.0),
    ("conv_relu", "fp16", "y", [784, 766], 1.0),
    ("conv_depthwise", "i8", "y", [1, 3], 1.0),
    ("conv_depthwise", "fp16", "y", [1330, 1324], 1.0),
    ("conv_stride2", "i8", "y", [5, 1], 1.0),
    ("conv_stride2", "fp16", "y", [1515, 1554], 1.0),
    ("conv1x1", "i8", "y", [6, 4], 1.0),
    ("conv1x1", "fp16", "y", [3059, 3130], 1.0),
    ("conv_64x64", "i8", "y", [7, 6], 1.0),
    ("conv_64x64", "fp16", "y", [6494, 6546], 1.0),
    ("add_convs", "i8", "y", [3, 5], 1.0),
    ("add_convs", "fp16", "y", [1143, 1084], 1.0),
    ("maxpool", "i8", "y", [0, 0], 0.0),
    ("maxpool", "fp16", "y", [343, 349], 1.0),
    ("avgpool", "i8", "y", [43, 53], 1.0),
    ("avgpool", "fp16", "y", [310, 313], 1.0),
    ("global_avgpool", "i8", "y", [0, 0], 0.0),
    ("global_avgpool", "fp16", "y", [7, 6], 1.0),
    ("gemm", "i8", "y", [0, 0], 0.0),
    ("gemm", "fp16", "y", [0, 0], 0.0),
    ("matmul", "i8", "y", [0, 0], 0.0),
    ("matmul", "fp16", "y", [0, 0], 0.0),
    ("concat", "i8", "y", [3, 4], 1.0),
    ("concat", "fp16", "y", [2537, 2640], 1.0),
    ("sigmoid_leakyrelu", "i8", "y", [35, 28], 1.0),
    ("sigmoid_leakyrelu", "fp16", "y", [225, 242], 1.0),
    ("resize_nearest2x", "i8", "y", [0, 0], 0.0),
    ("resize_nearest2x", "fp16", "y", [920, 840], 1.0),
    ("tiny_cnn", "i8", "prob", [10, 10], 53.0),
    ("tiny_cnn", "fp16", "prob", [10, 10], 53.0),
    ("multi_io", "i8", "y1", [40, 36], 3.0),
    ("multi_io", "i8", "y2", [0, 0], 0.0),
    ("multi_io", "fp16", "y1", [85, 84], 1.0),
    ("multi_io", "fp16", "y2", [0, 0], 0.0),
];

/// Every MANIFEST case on the virtual NPU: the 1-, 2- and 3-core schedules
/// give byte-identical outputs, and each output differs from the vendor
/// simulator's exactly as [`EXPECTED`] records. Run with `--nocapture` for
/// the table.
#[test]
fn every_case_on_the_virtual_npu() {
    let dev = SimDevice::new(Platform::Rk3588);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, prec, file) in cases() {
        let (bytes, model, program) = load(&file);
        let mut loaded = program.load(&dev, &bytes).expect("load");
        let dir = fixtures().join(&name);
        for s in 0..2 {
            let input = |n: &str| npy(&dir.join(format!("inputs/s{s}_{n}.npy")));
            let want = |n: &str| npy(&dir.join(format!("sim_{prec}/s{s}_{n}.npy"))).1;
            let data = CaseData {
                input: &input,
                want: &want,
                stride: 1,
            };
            let mut first: Option<Vec<(String, Vec<u8>, Diff)>> = None;
            for mask in [1u32, 3, 7] {
                let outs = match run_case(&dev, &model, &mut loaded, &data, mask) {
                    Ok(o) => o,
                    Err(e) => {
                        failures.push(format!("{name} {prec} s{s} mask {mask}: {e}"));
                        continue;
                    }
                };
                match &first {
                    None => first = Some(outs),
                    Some(f) => {
                        for ((o, a, _), (_, b, _)) in f.iter().zip(&outs) {
                            if a != b {
                                failures.push(format!(
                                    "{name} {prec} s{s} {o}: mask {mask} differs from mask 1"
                                ));
                            }
                        }
                    }
                }
            }
            for (o, _, d) in first.iter().flatten() {
                report.push(format!(
                    "{name:18} {prec:4} s{s} {o:5}: {:5} of {:5} differ, max abs {:.6}, max {:.2} units",
                    d.mismatches, d.elements, d.max_abs, d.max_lsb
                ));
                let Some(&(_, _, _, counts, bound)) = EXPECTED
                    .iter()
                    .find(|e| e.0 == name && e.1 == prec && e.2 == o)
                else {
                    failures.push(format!("{name} {prec} {o}: not in EXPECTED"));
                    continue;
                };
                checked += 1;
                if d.mismatches != counts[s] || d.max_lsb > bound + 1e-3 {
                    failures.push(format!(
                        "{name} {prec} s{s} {o}: {} differ (expected {}), max {:.2} units (bound \
                         {bound}), max abs {}",
                        d.mismatches, counts[s], d.max_lsb, d.max_abs
                    ));
                }
            }
        }
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(checked, EXPECTED.len() * 2);
}

/// `VendorProgram::new` on `model` (read from `bytes`), expecting an
/// error that contains every one of `needles`.
fn refused(model: &VendorModel, bytes: &[u8], needles: &[&str]) {
    let e = VendorProgram::new(model, bytes)
        .expect_err("an inconsistent program must be refused")
        .to_string();
    for n in needles {
        assert!(e.contains(n), "{n:?} not in: {e}");
    }
}

#[test]
fn inconsistent_programs_are_refused_with_a_reason() {
    let file = fixtures().join("conv3x3/conv3x3.rk3588.i8.rknn");
    let (bytes, model, _) = load(&file);
    let word_at = |m: &VendorModel, w: usize| m.regcmd.start + w * 8;
    let t0 = &model.tasks[0];
    let tail = (t0.regcmd_addr / 8) as usize + t0.regcfg_amount as usize;

    let mut b = bytes.clone();
    b[word_at(&model, tail + 2) + 7] = 0x42;
    refused(&model, &b, &["task 0", "prepare word"]);

    let t1 = &model.tasks[1];
    let tail1 = (t1.regcmd_addr / 8) as usize + t1.regcfg_amount as usize;
    let mut b = bytes.clone();
    b[word_at(&model, tail1 + 1) + 2] = 0x0d;
    refused(&model, &b, &["task 1", "asks for 13 units"]);

    let mut b = bytes.clone();
    b[word_at(&model, 3)..word_at(&model, 3) + 2].copy_from_slice(&0x1018u16.to_le_bytes());
    refused(&model, &b, &["task 0, word 3", "0x1018", "unknown"]);

    let mut m = model.clone();
    m.memory.weight += 64;
    refused(&m, &bytes, &["weight memory"]);

    let mut m = model.clone();
    m.relocations[0].entries[0].word = tail as u32;
    refused(&m, &bytes, &["not inside a task's register writes"]);

    let mut m = model.clone();
    m.relocations[0].entries[0].offset = 1 << 20;
    refused(&m, &bytes, &["past its"]);

    let mut m = model.clone();
    let x = m.relocations.iter().position(|r| r.name == "x").unwrap();
    m.relocations[x].pairs[2].1 = 2;
    refused(&m, &bytes, &["core"]);

    let mut m = model.clone();
    m.target = "rk9999".into();
    refused(&m, &bytes, &["rk9999"]);
}

/// The extra fixtures (`tests/fixtures/vendor_extra`, made by its
/// `generate.py`): register features the shared fixtures do not use.
/// Per case and output: elements that differ from the vendor simulator
/// and the largest difference allowed, in units as in [`EXPECTED`].
const EXPECTED_EXTRA: &[(&str, &str, &str, usize, f32)] = &[
    ("conv_dilation", "i8", "y", 0, 0.0),
    ("conv_dilation", "fp16", "y", 440, 1.0),
    ("conv_wide", "i8", "y", 5, 1.0),
    ("conv_wide", "fp16", "y", 1302, 1.0),
    ("pool_pad", "i8", "y", 0, 0.0),
    ("pool_pad", "fp16", "y", 416, 1.0),
    ("gray_tanh", "i8", "y", 2, 1.0),
    ("gray_tanh", "fp16", "y", 268, 7.0),
    ("eltwise", "i8", "mul", 0, 0.0),
    ("eltwise", "i8", "sub", 0, 0.0),
    ("eltwise", "i8", "max", 0, 0.0),
    ("eltwise", "fp16", "mul", 99, 1.0),
    ("eltwise", "fp16", "sub", 165, 1.0),
    ("eltwise", "fp16", "max", 0, 0.0),
    ("conv_tiled", "i8", "y", 14, 1.0),
    ("conv_tiled", "fp16", "y", 6615, 1.0),
];

/// The input of the large extra cases: a hash of the flat NCHW index
/// (`generate.py`'s `pattern`), not stored.
fn pattern(shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    (0..n as u64)
        .map(|i| ((i * 2_654_435_761) % (1 << 32)) as f32 / (1u64 << 32) as f32)
        .collect()
}

#[test]
fn every_extra_case_on_the_virtual_npu() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vendor_extra");
    let text = std::fs::read(root.join("MANIFEST.json")).expect("extra MANIFEST.json");
    let m: Value = serde_json::from_slice(&text).expect("MANIFEST.json is JSON");
    let dev = SimDevice::new(Platform::Rk3588);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for entry in m["models"].as_array().expect("models") {
        let name = entry["model"].as_str().expect("model");
        let shape: Vec<usize> = entry["input"]
            .as_array()
            .expect("input shape")
            .iter()
            .map(|d| d.as_u64().expect("dim") as usize)
            .collect();
        let stride = entry["output_stride"].as_u64().unwrap_or(1) as usize;
        let dir = root.join(name);
        for prec in ["i8", "fp16"] {
            let (bytes, model, program) = load(&dir.join(format!("{name}.rk3588.{prec}.rknn")));
            let mut loaded = program.load(&dev, &bytes).expect("load");
            let input = |n: &str| {
                if entry.get("input_pattern").is_some() {
                    (shape.clone(), pattern(&shape))
                } else {
                    npy(&dir.join(format!("inputs/{n}.npy")))
                }
            };
            let want = |n: &str| npy(&dir.join(format!("sim_{prec}/{n}.npy"))).1;
            let data = CaseData {
                input: &input,
                want: &want,
                stride,
            };
            let mut first: Option<Vec<(String, Vec<u8>, Diff)>> = None;
            for mask in [1u32, 3, 7] {
                match run_case(&dev, &model, &mut loaded, &data, mask) {
                    Err(e) => failures.push(format!("{name} {prec} mask {mask}: {e}")),
                    Ok(outs) => match &first {
                        None => first = Some(outs),
                        Some(f) => {
                            if f.iter().zip(&outs).any(|(a, b)| a.1 != b.1) {
                                failures.push(format!(
                                    "{name} {prec}: mask {mask} differs from mask 1"
                                ));
                            }
                        }
                    },
                }
            }
            for (o, _, d) in first.iter().flatten() {
                report.push(format!(
                    "{name:14} {prec:4} {o:4}: {:5} of {:5} differ, max abs {:.6}, max {:.2} units",
                    d.mismatches, d.elements, d.max_abs, d.max_lsb
                ));
                match EXPECTED_EXTRA
                    .iter()
                    .find(|e| e.0 == name && e.1 == prec && e.2 == o)
                {
                    Some(&(_, _, _, count, bound))
                        if d.mismatches == count && d.max_lsb <= bound + 1e-3 => {}
                    _ => failures.push(format!(
                        "{name} {prec} {o}: {} differ, max {:.2} units",
                        d.mismatches, d.max_lsb
                    )),
                }
            }
        }
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
