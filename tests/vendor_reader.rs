//! The vendor `.rknn` reader (`rknnrt::model::vendor`) over every fixture
//! of `../shared/fixtures/vendor/MANIFEST.json`, and on hostile edits of
//! a real file.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::ptr::null_mut;

use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::graph::DType;
use rknnrt::model::vendor::{self, read, RegWrite, TensorKind, VendorModel, PC_TAIL_WORDS};
use rknnrt::model::{Model, ModelError};
use rknnrt::runtime::vendor::VendorPlan;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/vendor")
}

fn manifest() -> Value {
    let text = std::fs::read(fixtures().join("MANIFEST.json")).expect("vendor MANIFEST.json");
    serde_json::from_slice(&text).expect("MANIFEST.json is JSON")
}

fn shape(v: &Value) -> Vec<i32> {
    v.as_array()
        .expect("shape array")
        .iter()
        .map(|d| d.as_i64().expect("dim") as i32)
        .collect()
}

// ---------------------------------------------------------------------------
// A minimal protobuf walk of the ONNX file: graph inputs and outputs.

fn varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = b[*pos];
        *pos += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            break;
        }
    }
    v
}

/// (field number, payload) of every length-delimited field; varints as
/// their little-endian bytes.
fn fields(b: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let key = varint(b, &mut pos);
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => out.push((field, varint(b, &mut pos).to_le_bytes().to_vec())),
            1 => pos += 8,
            2 => {
                let n = varint(b, &mut pos) as usize;
                out.push((field, b[pos..pos + n].to_vec()));
                pos += n;
            }
            5 => pos += 4,
            w => panic!("unexpected protobuf wire type {w}"),
        }
    }
    out
}

fn sub(b: &[u8], field: u64) -> Vec<Vec<u8>> {
    fields(b)
        .into_iter()
        .filter(|(f, _)| *f == field)
        .map(|(_, v)| v)
        .collect()
}

fn int(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_le_bytes(a)
}

/// (name, elem_type, shape) of the ONNX graph's inputs (minus
/// initializers) and outputs.
type OnnxIo = Vec<(String, i64, Vec<i32>)>;

fn onnx_io(path: &Path) -> (OnnxIo, OnnxIo) {
    let model = std::fs::read(path).unwrap();
    let graph = sub(&model, 7).remove(0);
    let inits: Vec<String> = sub(&graph, 5)
        .iter()
        .flat_map(|t| sub(t, 8))
        .map(|n| String::from_utf8(n).unwrap())
        .collect();
    let value_info = |v: &Vec<u8>| {
        let name = String::from_utf8(sub(v, 1).remove(0)).unwrap();
        let tensor = sub(&sub(v, 2).remove(0), 1).remove(0);
        let elem = int(&sub(&tensor, 1).remove(0));
        let dims = sub(&sub(&tensor, 2).remove(0), 1)
            .iter()
            .map(|d| int(&sub(d, 1).remove(0)) as i32)
            .collect();
        (name, elem, dims)
    };
    let inputs = sub(&graph, 11)
        .iter()
        .map(value_info)
        .filter(|(n, _, _)| !inits.contains(n))
        .collect();
    let outputs = sub(&graph, 12).iter().map(value_info).collect();
    (inputs, outputs)
}

// ---------------------------------------------------------------------------
// Every fixture.

fn check_io(m: &VendorModel, case: &str, int8: bool, idx: &[usize], want: &OnnxIo, side: &str) {
    assert_eq!(idx.len(), want.len(), "{case}: {side} count");
    for (&i, (name, elem, dims)) in idx.iter().zip(want) {
        let t = &m.tensors[i];
        assert_eq!(&t.name, name, "{case}: {side} name");
        assert_eq!(&t.shape, dims, "{case}: {side} {name} shape");
        assert_eq!(*elem, 1, "{case}: ONNX {side} {name} is float32");
        let kind = if side == "input" {
            TensorKind::Input
        } else {
            TensorKind::Output
        };
        assert_eq!(t.kind, kind, "{case}: {side} {name} kind");
        let native: i64 = t.native_shape.iter().map(|&d| d as i64).product();
        assert!(native >= dims.iter().map(|&d| d as i64).product::<i64>());
        match t.dtype() {
            Some(DType::I8) => {
                assert!(int8, "{case}: int8 {side} {name} in an fp16 build");
                assert_eq!(t.qnt_type, "int8", "{case}: {name}");
                assert_eq!(t.scale.len(), t.zero_point.len(), "{case}: {name}");
                assert!(!t.scale.is_empty(), "{case}: {name} has no scale");
                for (&s, &z) in t.scale.iter().zip(&t.zero_point) {
                    assert!(s.is_finite() && s > 0.0, "{case}: {name} scale {s}");
                    assert!((-128..=127).contains(&z), "{case}: {name} zero point {z}");
                }
            }
            Some(DType::F16) => {
                // int8 builds may keep a float output (e.g. after Softmax).
                assert!(!int8 || side == "output", "{case}: fp16 {side} {name}");
                assert!(t.scale.is_empty(), "{case}: float {name} has a scale");
            }
            other => panic!("{case}: {side} {name} has dtype {other:?}"),
        }
        let norm = m
            .trailer
            .norm_tensor
            .iter()
            .find(|n| &n.url == name)
            .unwrap_or_else(|| panic!("{case}: {name} not in the JSON trailer"));
        let size: Vec<i32> = norm.size.iter().map(|&d| d as i32).collect();
        assert_eq!(&size, dims, "{case}: JSON size of {name}");
    }
}

fn check_program(m: &VendorModel, bytes: &[u8], case: &str) {
    assert!(!m.tasks.is_empty(), "{case}: no tasks");
    assert!(!m.regcmd.is_empty(), "{case}: empty regcmd");
    let words = vendor::regcmd_words(&bytes[m.regcmd.clone()]);
    for (i, t) in m.tasks.iter().enumerate() {
        let r = t.regcmd_range();
        assert!(r.end <= m.regcmd.len() as u64, "{case}: task {i} {r:?}");
        // The last tail word is the op-enable write carrying enable_mask.
        let last = (t.regcmd_addr / 8 + t.regcfg_amount as u64 + PC_TAIL_WORDS - 1) as usize;
        let w = RegWrite::decode(words[last]);
        assert_eq!(
            (w.target, w.register, w.value),
            (0x0081, 0x0008, t.enable_mask),
            "{case}: task {i} op-enable word"
        );
    }
    assert!(!m.relocations.is_empty(), "{case}: no relocations");
    for r in &m.relocations {
        assert_eq!(m.tensors[r.tensor].name, r.name);
        for e in &r.entries {
            assert!(
                (e.word as usize) < words.len(),
                "{case}: {} word {}",
                r.name,
                e.word
            );
            // Address registers hold the entry's byte offset; the
            // runtime adds the tensor's base address.
            let w = RegWrite::decode(words[e.word as usize]);
            assert_eq!(w.value, e.offset, "{case}: {} word {}", r.name, e.word);
        }
    }
}

#[test]
fn every_fixture_reads_and_matches_manifest_and_onnx() {
    let manifest = manifest();
    let cases = manifest["cases"].as_array().expect("cases");
    assert!(cases.len() >= 34, "{} cases", cases.len());
    for case in cases {
        let name = case["case"].as_str().unwrap();
        let bytes = std::fs::read(fixtures().join(case["rknn"].as_str().unwrap())).unwrap();
        let m = read(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.header.version, 6, "{name}");
        assert_eq!(m.header.file_size, bytes.len());
        assert_eq!(m.target, case["target"].as_str().unwrap(), "{name}");
        assert_eq!(m.trailer.target_platform, vec![m.target.clone()], "{name}");
        assert_eq!(m.format, "RKNPU v2", "{name}");
        assert!(m.compiler.starts_with("2.5.0"), "{name}: {}", m.compiler);
        assert_eq!(m.trailer.version, "2.5.0", "{name}");
        assert_eq!(m.version_code, Some(20500), "{name}");

        let (onnx_in, onnx_out) = onnx_io(&fixtures().join(case["onnx"].as_str().unwrap()));
        let man_in: OnnxIo = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["name"].as_str().unwrap().to_owned(),
                    1,
                    shape(&i["shape"]),
                )
            })
            .collect();
        let man_out: OnnxIo = case["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["name"].as_str().unwrap().to_owned(),
                    1,
                    shape(&o["onnx_shape"]),
                )
            })
            .collect();
        assert_eq!(onnx_in, man_in, "{name}: manifest inputs vs ONNX");
        assert_eq!(onnx_out, man_out, "{name}: manifest outputs vs ONNX");
        let int8 = case["dtype"] == "i8";
        check_io(&m, name, int8, &m.inputs, &onnx_in, "input");
        check_io(&m, name, int8, &m.outputs, &onnx_out, "output");

        for t in m.tensors.iter().filter(|t| t.qnt_type == "int8") {
            assert!(int8, "{name}: quantized {} in an fp16 build", t.name);
            assert!(
                !t.scale.is_empty() && t.scale.iter().all(|&s| s.is_finite() && s > 0.0),
                "{name}: {} scales {:?}",
                t.name,
                t.scale
            );
        }
        assert!(m.nodes.iter().any(|n| n.on_npu()), "{name}: no NPU node");
        let count = |op: &str| m.nodes.iter().filter(|n| n.op_type == op).count();
        assert_eq!(count("InputOperator"), m.inputs.len(), "{name}");
        assert_eq!(count("OutputOperator"), m.outputs.len(), "{name}");
        assert!(
            m.memory.internal > 0 && m.memory.weight > 0,
            "{name}: {:?}",
            m.memory
        );
        // Weights live in buffers; placeholders may have none.
        let weights = m
            .tensors
            .iter()
            .filter(|t| t.kind == TensorKind::NpuConst)
            .filter_map(|t| t.buffer)
            .filter(|&b| !m.buffers[b].is_empty())
            .count();
        assert!(weights > 0, "{name}: no weight buffer");
        check_program(&m, &bytes, name);
    }
}

#[test]
fn tiny_cnn_normalisation_and_nc1hwc2_input() {
    let bytes = std::fs::read(fixtures().join("tiny_cnn/tiny_cnn.rk3588.i8.rknn")).unwrap();
    let m = read(&bytes).unwrap();
    assert_eq!(m.normalisation.len(), 1);
    let n = &m.normalisation[0];
    let close = |a: f32, b: f32| (a - b).abs() < 1e-3;
    assert!(
        close(n.mean[0], 123.675) && close(n.mean[2], 103.53),
        "{n:?}"
    );
    assert!(close(n.std[0], 58.395) && close(n.std[2], 57.375), "{n:?}");
    let x = &m.tensors[m.inputs[0]];
    assert_eq!(x.layout, vendor::VendorLayout::Nc1hwc2);
    assert_eq!(x.native_shape.len(), 5);
    assert_eq!(x.native_shape[2..4], [32, 32]);
}

// ---------------------------------------------------------------------------
// Hostile files.

fn conv3x3() -> Vec<u8> {
    std::fs::read(fixtures().join("conv3x3/conv3x3.rk3588.i8.rknn")).unwrap()
}

fn reason(bytes: &[u8]) -> String {
    match read(bytes) {
        Ok(_) => panic!("hostile file accepted"),
        Err(ModelError::Invalid(m)) | Err(ModelError::Unsupported(m)) => m,
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

fn u32_at(b: &[u8], p: usize) -> u32 {
    u32::from_le_bytes(b[p..p + 4].try_into().unwrap())
}

fn put_u32(b: &mut [u8], p: usize, v: u32) {
    b[p..p + 4].copy_from_slice(&v.to_le_bytes());
}

/// File offset of field `slot` of the table at file offset `table`.
fn field_pos(b: &[u8], table: usize, slot: usize) -> usize {
    let vt = (table as i64 - u32_at(b, table) as i32 as i64) as usize;
    let off = u16::from_le_bytes([b[vt + 4 + 2 * slot], b[vt + 5 + 2 * slot]]) as usize;
    assert_ne!(off, 0, "slot {slot} present");
    table + off
}

fn deref(b: &[u8], p: usize) -> usize {
    p + u32_at(b, p) as usize
}

const PAYLOAD: usize = 64;

#[test]
fn truncated_payload_is_rejected() {
    let b = conv3x3();
    let m = reason(&b[..b.len() / 2]);
    assert!(m.contains("payload size") && m.contains("truncated"), "{m}");
    let m = reason(&b[..40]);
    assert!(m.contains("header"), "{m}");
    // Every prefix is refused without a panic.
    for n in (0..b.len()).step_by(97) {
        assert!(read(&b[..n]).is_err(), "prefix {n}");
    }
}

#[test]
fn flatbuffer_offsets_out_of_range_are_rejected() {
    let mut b = conv3x3();
    put_u32(&mut b, PAYLOAD, 0x7fff_fff0);
    assert!(reason(&b).contains("FlatBuffer root offset"));

    let b = conv3x3();
    let root = deref(&b, PAYLOAD);
    let graphs = field_pos(&b, root, 2);
    let mut bad = b.clone();
    put_u32(&mut bad, graphs, 0x00ff_ffff);
    let m = reason(&bad);
    assert!(m.contains("Model.graphs"), "{m}");

    // A tensor's shape vector whose length runs past the payload.
    let graph = deref(&b, deref(&b, graphs) + 4);
    let tensors = deref(&b, field_pos(&b, graph, 0));
    let t1 = deref(&b, tensors + 8);
    let shape = deref(&b, field_pos(&b, t1, 4));
    let mut bad = b.clone();
    put_u32(&mut bad, shape, 0x0100_0000);
    let m = reason(&bad);
    assert!(m.contains("Graph.tensors[1].shape"), "{m}");

    // A vtable pointing before the payload.
    let mut bad = b.clone();
    put_u32(&mut bad, t1, 0x7fff_0000);
    let m = reason(&bad);
    assert!(
        m.contains("Graph.tensors[1]") && m.contains("vtable"),
        "{m}"
    );

    // A node input index past the tensor list.
    let node = deref(&b, deref(&b, field_pos(&b, graph, 1)) + 8);
    let inputs = deref(&b, field_pos(&b, node, 4));
    let mut bad = b.clone();
    put_u32(&mut bad, inputs + 4, 9999);
    let m = reason(&bad);
    assert!(
        m.contains("Graph.nodes[1].inputs") && m.contains("9999"),
        "{m}"
    );
}

#[test]
fn relocation_past_regcmd_is_rejected() {
    let b = conv3x3();
    let m = read(&b).unwrap();
    let words = m.regcmd.len() / 8;
    let root = deref(&b, PAYLOAD);
    let graph = deref(&b, deref(&b, field_pos(&b, root, 2)) + 4);
    let relocs = deref(&b, field_pos(&b, graph, 7));
    let r0 = deref(&b, relocs + 4);
    let entries = deref(&b, field_pos(&b, r0, 1));
    let mut bad = b.clone();
    // Entry 0 is (offset, word): move the word one past the buffer.
    put_u32(&mut bad, entries + 4 + 4, words as u32);
    let msg = reason(&bad);
    assert!(
        msg.contains("relocation 0") && msg.contains("word index") && msg.contains("regcmd"),
        "{msg}"
    );
}

#[test]
fn task_amount_past_regcmd_is_rejected() {
    let b = conv3x3();
    let m = read(&b).unwrap();
    let mut bad = b.clone();
    let last = m.task_buffer.start + (m.tasks.len() - 1) * vendor::TASK_RECORD_LEN;
    put_u32(&mut bad, last + 24, 0x0010_0000);
    let msg = reason(&bad);
    assert!(
        msg.contains(&format!("task {}", m.tasks.len() - 1)) && msg.contains("regcfg_amount"),
        "{msg}"
    );
    let mut bad = b.clone();
    bad[m.task_buffer.start + 32..m.task_buffer.start + 40]
        .copy_from_slice(&u64::MAX.wrapping_sub(7).to_le_bytes());
    let msg = reason(&bad);
    assert!(msg.contains("task 0: regcmd_addr"), "{msg}");
}

#[test]
fn json_trailer_and_header_sizes_are_checked() {
    let b = conv3x3();
    let m = read(&b).unwrap();
    let mut bad = b.clone();
    let jl = m.header.payload.end;
    bad[jl..jl + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(reason(&bad).contains("JSON length"));
    let mut bad = b.clone();
    bad[m.header.json.start] = b'[';
    assert!(reason(&bad).contains("JSON trailer"));
    let mut bad = b.clone();
    bad.push(0);
    assert!(reason(&bad).contains("follow the JSON trailer"));
}

#[test]
fn other_vendor_flavours_are_refused_by_name() {
    let mut b = conv3x3();
    b[8..16].copy_from_slice(&0x1004u64.to_le_bytes());
    let m = reason(&b);
    assert!(m.contains("RV1103/RV1106") && m.contains("0x1004"), "{m}");
    let m = reason(b"CYPTRKNN\x01\0\0\0\0\0\0\0");
    assert!(m.contains("encrypted") && m.contains("CYPTRKNN"), "{m}");
    let m = reason(b"RKNX\0\0\0\0\0\0\0\0\0\0\0\0");
    assert!(m.contains("RKNN3") && m.contains("RKNX"), "{m}");
    let mut b = conv3x3();
    b[8..16].copy_from_slice(&0x7u64.to_le_bytes());
    assert!(reason(&b).contains("container version 0x7"));
}

#[test]
fn byte_flips_in_the_tables_never_panic() {
    let b = conv3x3();
    let m = read(&b).unwrap();
    // The tables and vtables sit before the first buffer.
    let tables_end = m
        .buffers
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.start)
        .min()
        .unwrap();
    let mut rejected = 0;
    for p in PAYLOAD..tables_end {
        let mut bad = b.clone();
        bad[p] ^= 0xa5;
        if read(&bad).is_err() {
            rejected += 1;
        }
    }
    assert!(
        rejected > 0,
        "no flip in {PAYLOAD}..{tables_end} was rejected"
    );
}

/// `rknn_init`'s work on `bytes` and a run on the virtual NPU, on one
/// and three cores: errors are fine, a panic fails the test.
fn init_and_run(bytes: &[u8]) -> bool {
    use rknnrt::driver::sim::SimDevice;
    use rknnrt::driver::{Buffer, Device};
    use rknnrt::runtime::vendor::engine::{Engine, RunMemory, RunObserver};
    let Ok(model) = Model::load(Box::new(bytes.to_vec())) else {
        return false;
    };
    let Ok(plan) = VendorPlan::new(&model) else {
        return false;
    };
    let device = SimDevice::new(rknnrt::platform::Platform::Rk3588);
    let Ok(mut engine) = Engine::load(&plan, &device, model.bytes()) else {
        return false;
    };
    let g = &model.meta.graph;
    let alloc = |ids: &[usize]| -> Vec<Buffer> {
        ids.iter()
            .map(|&t| device.alloc(plan.stored(t).unwrap().bytes).unwrap())
            .collect()
    };
    let (inputs, outputs) = (alloc(&g.inputs), alloc(&g.outputs));
    let mem = RunMemory {
        inputs: inputs.iter().collect(),
        outputs: outputs.iter().collect(),
        internal: None,
        weights: None,
    };
    [0u32, 7].iter().all(|&mask| {
        engine
            .run(&plan, g, &device, &mem, mask, RunObserver::default())
            .is_ok()
    })
}

#[test]
fn byte_flips_never_panic_through_init_and_a_run() {
    let b = conv3x3();
    let m = read(&b).unwrap();
    assert!(init_and_run(&b));
    let tables_end = m
        .buffers
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.start)
        .min()
        .unwrap();
    let positions = (PAYLOAD..tables_end)
        .step_by(5)
        .chain(m.task_buffer.clone())
        .chain(m.regcmd.clone().step_by(11));
    let (mut refused, mut ran) = (0, 0);
    for p in positions {
        let mut bad = b.clone();
        bad[p] ^= 0xa5;
        if init_and_run(&bad) {
            ran += 1;
        } else {
            refused += 1;
        }
    }
    assert!(refused > 0 && ran > 0, "refused {refused}, ran {ran}");
}

// ---------------------------------------------------------------------------
// Hostile files at rknn_init: the reader's refusals above, and the program
// and graph checks behind it, each give RKNN_ERR_MODEL_INVALID.

/// What `rknn_init` returns for `bytes` (on the virtual NPU).
fn init_code(bytes: &[u8]) -> i32 {
    static SIM: std::sync::Once = std::sync::Once::new();
    SIM.call_once(|| std::env::set_var("RKNNRT_DEVICE", "sim"));
    let mut b = bytes.to_vec();
    let mut ctx: rknn_context = 0;
    // SAFETY: `b` is readable for its length; `ctx` is writable.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            b.as_mut_ptr() as *mut c_void,
            b.len() as u32,
            0,
            null_mut(),
        )
    };
    if r == RKNN_SUCC {
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    }
    r
}

/// `rknn_init` refuses `bytes` as an invalid model; the loader's reason
/// (what the `E RKNN:` line says) contains every one of `want`.
fn init_refuses(bytes: &[u8], want: &[&str]) {
    assert_eq!(init_code(bytes), RKNN_ERR_MODEL_INVALID);
    let why = Model::load(Box::new(bytes.to_vec()))
        .and_then(|m| VendorPlan::new(&m).map(drop))
        .expect_err("hostile file accepted")
        .to_string();
    for w in want {
        assert!(why.contains(w), "{why}");
    }
}

#[test]
fn every_fixture_initialises() {
    for case in manifest()["cases"].as_array().unwrap() {
        let path = fixtures().join(case["rknn"].as_str().unwrap());
        let b = std::fs::read(&path).unwrap();
        assert_eq!(init_code(&b), RKNN_SUCC, "{}", path.display());
    }
}

#[test]
fn reader_refusals_reach_rknn_init() {
    let b = conv3x3();
    init_refuses(&b[..b.len() / 2], &["payload size", "truncated"]);
    let mut bad = b.clone();
    put_u32(&mut bad, PAYLOAD, 0x7fff_fff0);
    init_refuses(&bad, &["FlatBuffer root offset"]);
    let m = read(&b).unwrap();
    let mut bad = b.clone();
    put_u32(&mut bad, m.task_buffer.start + 24, 0x0010_0000);
    init_refuses(&bad, &["task 0", "regcfg_amount"]);
    let root = deref(&b, PAYLOAD);
    let graph = deref(&b, deref(&b, field_pos(&b, root, 2)) + 4);
    let relocs = deref(&b, field_pos(&b, graph, 7));
    let entries = deref(&b, field_pos(&b, deref(&b, relocs + 4), 1));
    let mut bad = b.clone();
    put_u32(&mut bad, entries + 8, (m.regcmd.len() / 8) as u32);
    init_refuses(&bad, &["relocation 0", "word index"]);
}

/// File offset of regcmd word `w`'s value field (bits 16..48).
fn word_value(m: &VendorModel, w: usize) -> usize {
    m.regcmd.start + w * 8 + 2
}

#[test]
fn a_chain_pointing_outside_the_program_is_refused() {
    let b = conv3x3();
    let m = read(&b).unwrap();
    let words = vendor::regcmd_words(&b[m.regcmd.clone()]);
    // The first tail that chains: its PC_BASE_ADDRESS word.
    let (w, _) = m
        .tasks
        .iter()
        .map(|t| (t.regcmd_addr / 8) as usize + t.regcfg_amount as usize)
        .map(|w| (w, RegWrite::decode(words[w])))
        .find(|(_, r)| r.value != 0)
        .expect("a chained task");
    let mut bad = b.clone();
    put_u32(&mut bad, word_value(&m, w), (m.regcmd.len() + 0x100) as u32);
    init_refuses(&bad, &["chains to regcmd offset"]);
}

#[test]
fn schedules_that_do_not_add_up_are_refused() {
    // A relocation says one of the 3-core schedule's words runs on core 7.
    let b = conv3x3();
    let root = deref(&b, PAYLOAD);
    let graph = deref(&b, deref(&b, field_pos(&b, root, 2)) + 4);
    let relocs = deref(&b, field_pos(&b, graph, 7));
    let pairs = deref(&b, field_pos(&b, deref(&b, relocs + 4), 2));
    let n = u32_at(&b, pairs) as usize;
    let mut bad = b.clone();
    put_u32(&mut bad, pairs + 4 + 8 * (n - 1) + 4, 7);
    init_refuses(&bad, &["relocations for cores", "7"]);
}

#[test]
fn tasks_of_unknown_or_cpu_nodes_are_refused() {
    let b = conv3x3();
    let m = read(&b).unwrap();
    for op in [0u32, 99] {
        let mut bad = b.clone();
        for k in 0..m.tasks.len() {
            put_u32(
                &mut bad,
                m.task_buffer.start + k * vendor::TASK_RECORD_LEN + 4,
                op,
            );
        }
        init_refuses(&bad, &["op_idx", "NPU-placed node"]);
    }
}

#[test]
fn unsupported_cpu_ops_and_inconsistent_storage_are_refused() {
    let b = std::fs::read(fixtures().join("tiny_cnn/tiny_cnn.rk3588.i8.rknn")).unwrap();
    let pat = b"\x07\0\0\0Reshape\0";
    let at = b
        .windows(pat.len())
        .position(|w| w == pat)
        .expect("the CPU Reshape's type string");
    let mut bad = b.clone();
    bad[at + 10] = b'x';
    init_refuses(&bad, &["Reshapx", "placed on the CPU"]);

    // The input's native width no longer matches its shape.
    let b = conv3x3();
    let root = deref(&b, PAYLOAD);
    let graph = deref(&b, deref(&b, field_pos(&b, root, 2)) + 4);
    let tensors = deref(&b, field_pos(&b, graph, 0));
    let x = deref(&b, tensors + 4 + 4 * 3);
    let native = deref(&b, field_pos(&b, x, 3));
    let mut bad = b.clone();
    put_u32(&mut bad, native + 4 + 4 * 3, 15);
    init_refuses(&bad, &["tensor 'x'", "native shape"]);
    // A consistent but larger input than the file sizes: its buffer would
    // be what the shape says.
    let shape = deref(&b, field_pos(&b, x, 4));
    let mut bad = b.clone();
    put_u32(&mut bad, native + 4 + 4 * 2, 160);
    put_u32(&mut bad, shape + 4 + 4 * 2, 160);
    init_refuses(
        &bad,
        &["tensor 'x'", "needs 7680 bytes but the file gives it 768"],
    );
}
