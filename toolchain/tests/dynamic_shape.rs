//! Dynamic-shape models end to end (`docs/dynamic_shapes.md`): the ONNX
//! test model of `tests/models/dynamic/` (made by `gen_dynamic.py` with
//! onnxruntime references) converted with `--dynamic-input`, run by the C
//! example `examples/rknn_dynshape_demo.c` over its three shape sets in
//! the general and zero-copy flows; an int8 build calibrated on the
//! largest set; and the compiler's one-line errors for sets that do not
//! fit the model.

mod common;
// The program runner and C toolchain of the root crate's tests (qemu-user
// on cross targets).
#[path = "../../tests/cross/mod.rs"]
mod cross;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{cosine, Input, Session};
use rknn_toolchain::cli::pipeline::{convert, Plan, Precision};
use rknnrt::abi::*;
use rknnrt::capi::dynamic::rknn_set_input_shapes;
use rknnrt::model::Model;
use rknnrt::platform::Platform;

/// The shape sets of the test model (`SETS` of gen_dynamic.py), NCHW.
const SETS: &str = "1,3,24,40;1,3,32,32;1,3,17,21";
const HW: [(u32, u32); 3] = [(24, 40), (32, 32), (17, 21)];

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models/dynamic")
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("dynamic_shape_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cli(args: &[&str]) -> Run {
    let out = cross::command(env!("CARGO_BIN_EXE_rknn-convert"))
        .args(args)
        .output()
        .expect("run rknn-convert");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `rknn-convert build` of the test model with `extra` options; expects
/// success.
fn build(out: &Path, extra: &[&str]) {
    let model = data().join("model.onnx");
    let mut args = vec!["build", s(&model), "-t", "rk3588", "--no-progress"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-o", s(out)]);
    let r = cli(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("the largest is dynamic_input[1] = [[1, 3, 32, 32]]"),
        "{}",
        r.stdout
    );
}

/// The fp16 model with the three test sets, pixels scaled to 0..1.
fn build_fp16(out: &Path) {
    build(
        out,
        &[
            "--fp16",
            "--mean",
            "0,0,0",
            "--std",
            "255,255,255",
            "--dynamic-input",
            SETS,
        ],
    );
}

/// Compiles the C example against `include/` and the library under test.
fn compile_example(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let lib = cross::library_dir();
    let exe = dir.join("rknn_dynshape_demo");
    let out = Command::new(cross::cc())
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg(format!("-I{}", root.join("include").display()))
        .arg(root.join("examples/rknn_dynshape_demo.c"))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lrknnrt", "-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("C compiler");
    assert!(
        out.status.success(),
        "{} rknn_dynshape_demo.c failed:\n{}",
        cross::cc(),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

#[test]
fn c_example_runs_every_set_in_both_flows() {
    let dir = tmp("c_example");
    let model = dir.join("dynamic_fp16.rknn");
    build_fp16(&model);
    let exe = compile_example(&dir);
    let out = cross::command(&exe)
        .args([s(&model), s(&data()), "0.9999", "2"])
        .env("LD_LIBRARY_PATH", cross::library_dir())
        .env("RKNN_LOG_LEVEL", "2")
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("all outputs match"), "{stdout}");
    assert!(
        stdout.contains("input 0 (x): 3 shapes, fmt NHWC: [1,24,40,3] [1,32,32,3] [1,17,21,3]"),
        "{stdout}"
    );
    // 3 sets x 3 outputs x 2 rounds x 2 flows.
    assert_eq!(stdout.matches(" ok\n").count(), 36, "{stdout}");
    assert!(
        stdout.contains("set 2 zero-copy: output 1 'tail' [1,8,9,4]"),
        "{stdout}"
    );
    assert!(
        stderr.contains("model inference type: dynamic_shape"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Reads a little-endian float32 file.
fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn plan(precision: Precision) -> Plan {
    let mut plan = Plan::new(data().join("model.onnx"), Platform::Rk3566, precision);
    plan.mean = vec![vec![0.0; 3]];
    plan.std = vec![vec![255.0; 3]];
    plan.dynamic_input = rknn_toolchain::dynamic::parse(SETS).unwrap();
    plan
}

fn int8() -> Precision {
    Precision::int8(data().join("dataset.txt"))
}

#[test]
fn int8_build_is_calibrated_on_the_largest_set_and_runs_every_set() {
    let out = convert(&plan(int8())).unwrap();
    let model = Model::load(Box::new(out.bytes.clone())).unwrap();
    let meta = &model.meta;
    assert_eq!(meta.shape_sets.len(), 3);
    let x = &meta.graph.tensors[meta.graph.inputs[0]];
    assert_eq!(
        x.shape,
        vec![1, 3, 32, 32],
        "the graph is stored at the largest set"
    );
    let graphs = meta.shape_set_graphs(model.weights().len() as u64).unwrap();
    let arenas: Vec<u64> = graphs
        .iter()
        .map(|g| rknnrt::runtime::plan::plan(g).arena_size as u64)
        .collect();
    assert_eq!(meta.internal_size, *arenas.iter().max().unwrap());

    let session = Session::new(&out.bytes).unwrap();
    for (k, &(h, w)) in HW.iter().enumerate() {
        let mut attr = rknn_tensor_attr {
            n_dims: 4,
            fmt: RKNN_TENSOR_NHWC,
            ..Default::default()
        };
        attr.dims[..4].copy_from_slice(&[1, h, w, 3]);
        // SAFETY: one valid attribute.
        let r = unsafe { rknn_set_input_shapes(session.ctx(), 1, &mut attr) };
        assert_eq!(r, RKNN_SUCC);
        let img = std::fs::read(data().join(format!("input_{k}.bin"))).unwrap();
        let (h, w) = (h as usize, w as usize);
        let mut nchw = vec![0f32; img.len()];
        for (p, &v) in img.iter().enumerate() {
            nchw[(p % 3) * h * w + p / 3] = v as f32;
        }
        let outs = session.infer(&mut [Input::F32(nchw)]).unwrap();
        for (j, got) in outs.iter().enumerate() {
            let want = read_f32(&data().join(format!("ref_{k}_{j}.bin")));
            assert_eq!(got.len(), want.len(), "set {k} output {j}");
            let cos = cosine(got, &want);
            assert!(cos >= 0.99, "set {k} output {j}: cosine {cos}");
        }
    }
}

#[test]
fn the_dataset_must_fit_the_largest_set() {
    let dir = tmp("dataset");
    let small = dir.join("small.npy");
    rknn_toolchain::npy::NpyArray::from_f32(&[1, 3, 24, 40], &vec![1.0; 3 * 24 * 40])
        .write(&small)
        .unwrap();
    std::fs::write(dir.join("dataset.txt"), "small.npy\n").unwrap();
    let mut p = plan(int8());
    if let Precision::Int8 { dataset, .. } = &mut p.precision {
        *dataset = dir.join("dataset.txt");
    }
    let e = convert(&p).unwrap_err().to_string();
    assert!(e.contains("small.npy"), "{e}");
    assert!(e.contains("[1, 3, 32, 32]"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `rknn-convert build` on `model` with `--dynamic-input sets` and
/// expects one error line containing every part.
fn refused(model: &str, sets: &str, parts: &[&str]) {
    let dir = tmp("refused");
    let onnx = data().join(model);
    let out = dir.join("m.rknn");
    let r = cli(&[
        "build",
        s(&onnx),
        "-t",
        "rk3588",
        "--dynamic-input",
        sets,
        "-o",
        s(&out),
    ]);
    assert_eq!(r.code, 1, "{sets}: {}\n{}", r.stdout, r.stderr);
    let line = r.stderr.trim_end();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(line.starts_with("rknn-convert: error: "), "{line}");
    for p in parts {
        assert!(line.contains(p), "{line} should contain {p}");
    }
    assert!(!out.exists(), "no file is written");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sets_that_do_not_fit_the_model_are_refused() {
    refused(
        "model.onnx",
        "1,3,24,40;1,4,32,32",
        &[
            "set 1",
            "changes dimension 1 to 4",
            "[1, 3, 'height', 'width']",
        ],
    );
    refused(
        "model.onnx",
        "1,3,24,40;1,3,32",
        &["set 1", "rank 3, set 0 gives rank 4"],
    );
    refused(
        "model.onnx",
        "1,3,24,40#1,8",
        &["set 0 has 2 shapes, the model has 1 inputs"],
    );
    refused(
        "model.onnx",
        "1,3,24,40;1,3,0,8",
        &["'0' is not a positive dimension"],
    );
    refused(
        "model.onnx",
        "[[[1,3,24,-40]]]",
        &["non-positive dimension -40"],
    );
    refused(
        "model.onnx",
        "1,3,24,40;1,3,32,32;1,3,24,40",
        &["sets 0 and 2 are the same"],
    );
    refused(
        "shape_const.onnx",
        "1,3,8,8;1,3,4,4",
        &["dynamic_input set", "depends on the input shape"],
    );
    // --dynamic-input and --input-shape exclude each other (usage error).
    let onnx = data().join("model.onnx");
    let r = cli(&[
        "build",
        s(&onnx),
        "-t",
        "rk3588",
        "--dynamic-input",
        SETS,
        "--input-shape",
        "x=1,3,8,8",
        "-o",
        "unused.rknn",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn yml_dynamic_input_builds_the_same_sets() {
    let dir = tmp("yml");
    let onnx = data().join("model.onnx");
    let yml = dir.join("model_config.yml");
    std::fs::write(
        &yml,
        format!(
            "models:\n  name: dyn\n  platform: onnx\n  model_file_path: {}\n  quantize: false\n  configs:\n    mean_values: [0, 0, 0]\n    std_values: [255, 255, 255]\n    dynamic_input: [[[1,3,24,40]], [[1,3,32,32]], [[1,3,17,21]]]\n",
            s(&onnx)
        ),
    )
    .unwrap();
    let r = cli(&[
        "-t",
        "rk3588",
        "-i",
        s(&yml),
        "-o",
        s(&dir),
        "--no-progress",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let from_yml = Model::load(Box::new(std::fs::read(dir.join("dyn.rknn")).unwrap())).unwrap();
    let flag = dir.join("flag.rknn");
    build(
        &flag,
        &[
            "--fp16",
            "--mean",
            "0,0,0",
            "--std",
            "255,255,255",
            "--dynamic-input",
            "[[[1,3,24,40]],[[1,3,32,32]],[[1,3,17,21]]]",
        ],
    );
    let from_flag = Model::load(Box::new(std::fs::read(&flag).unwrap())).unwrap();
    assert_eq!(from_yml.meta.shape_sets, from_flag.meta.shape_sets);
    assert_eq!(from_yml.meta.graph, from_flag.meta.graph);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn infer_runs_the_set_its_inputs_have() {
    let dir = tmp("infer");
    let model = dir.join("m.rknn");
    build_fp16(&model);
    // Set 2's image as a uint8 NHWC array.
    let x = dir.join("x.npy");
    rknn_toolchain::npy::NpyArray {
        shape: vec![1, 17, 21, 3],
        dtype: rknnrt::graph::DType::U8,
        bytes: std::fs::read(data().join("input_2.bin")).unwrap(),
    }
    .write(&x)
    .unwrap();
    let out = dir.join("out");
    let r = cli(&["infer", s(&model), "--input", s(&x), "--out-dir", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("shape set 2: [[1, 3, 17, 21]]"),
        "{}",
        r.stdout
    );
    let feat = rknn_toolchain::npy::NpyArray::read(&out.join("feat.npy")).unwrap();
    assert_eq!(feat.shape, vec![1, 8, 99]);
    let cos = cosine(&feat.to_f32(), &read_f32(&data().join("ref_2_0.bin")));
    assert!(cos >= 0.9999, "cosine {cos}");

    let wrong = dir.join("wrong.npy");
    rknn_toolchain::npy::NpyArray::from_f32(&[1, 3, 5, 5], &[0.0; 75])
        .write(&wrong)
        .unwrap();
    let r = cli(&[
        "infer",
        s(&model),
        "--input",
        s(&wrong),
        "--out-dir",
        s(&out),
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("fit none of the model's shape sets"),
        "{}",
        r.stderr
    );

    let r = cli(&["inspect", s(&model)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("shape set 2: inputs [[1, 3, 17, 21]], 2 given output shape(s), 2 op(s) resolved for the set"),
        "{}",
        r.stdout
    );
    let _ = std::fs::remove_dir_all(dir);
}
