//! `examples/rknn_benchmark.c` compiled with gcc against `include/` and the
//! `librknnrt.so` built with this test, run on models written by the test:
//! the report is checked line by line against the vendor tool's structure
//! (`../shared/reference/conventions.md` §6), and `rt_output0.npy` against
//! what `rknn_outputs_get(want_float = 1)` gives for the same input. One
//! run under valgrind checks for memory errors and definite leaks. On a
//! cross target the target's compiler builds it and it runs under the
//! runner (`tests/cross`); valgrind is then skipped.

mod common;
mod cross;

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::ptr::null_mut;

use rknnrt::abi::*;
use rknnrt::capi::general::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh per-test directory under cargo's temp dir for integration
/// tests (`target/tmp`).
fn temp_dir(tag: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("rknn_benchmark_{}_{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Compiles the benchmark into `dir` (once per directory; each test
/// works in its own directory and removes it at the end).
fn benchmark(dir: &Path) -> PathBuf {
    let exe = dir.join("rknn_benchmark");
    if exe.exists() {
        return exe;
    }
    let lib = cross::library_dir();
    let out = Command::new(cross::cc())
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg(format!("-I{}", root().join("include").display()))
        .arg(root().join("examples/rknn_benchmark.c"))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lrknnrt")
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("C compiler");
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        cross::cc(),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs `prefix... rknn_benchmark args...` in `dir` (through the
/// target runner when there is no prefix).
fn run_in(dir: &Path, prefix: &[&str], args: &[&str]) -> Output {
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(benchmark(dir));
            c
        }
        None => cross::command(benchmark(dir)),
    };
    // Only the library built with this test: cargo's own library path
    // may also list an older copy (`target/<profile>/librknnrt.so`, which
    // only `cargo build` refreshes) ahead of the rpath.
    cmd.args(args)
        .current_dir(dir)
        .env("LD_LIBRARY_PATH", cross::library_dir())
        .env_remove("RKNN_LOG_LEVEL")
        .output()
        .expect("start rknn_benchmark")
}

/// Writes a float32 C-order `.npy` (format 1.0).
fn write_npy(path: &Path, shape: &[usize], data: &[f32]) {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_text = if shape.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("write npy");
}

/// Reads a float32 `.npy` written by the benchmark: shape and values.
fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY", "NPY magic");
    assert_eq!(bytes[6], 1, "NPY version 1.0");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + hlen) % 64, 0, "data is 64-byte aligned");
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).expect("ASCII header");
    assert!(header.ends_with('\n'), "{header:?}");
    assert!(header.contains("'descr': '<f4'"), "{header}");
    assert!(header.contains("'fortran_order': False"), "{header}");
    let at = header.find("'shape': (").expect("shape") + "'shape': (".len();
    let end = at + header[at..].find(')').expect("shape end");
    let shape: Vec<usize> = header[at..end]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("dim"))
        .collect();
    let data: Vec<f32> = bytes[10 + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(data.len() * 4, bytes.len() - 10 - hlen, "whole floats");
    assert_eq!(data.len(), shape.iter().product::<usize>(), "{header}");
    (shape, data)
}

/// What the runtime reports for a model, queried through the C API from
/// Rust, and its float output for one input.
struct Expected {
    version: String,
    driver: String,
    mem: rknn_mem_size,
    input: rknn_tensor_attr,
    output: rknn_tensor_attr,
    custom: String,
    values: Vec<f32>,
}

fn c_string(chars: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes).expect("UTF-8")
}

fn query<T>(ctx: rknn_context, cmd: rknn_query_cmd, v: &mut T) {
    // SAFETY: `v` is a writable T of the size given.
    let r = unsafe {
        rknn_query(
            ctx,
            cmd,
            v as *mut T as *mut c_void,
            std::mem::size_of::<T>() as u32,
        )
    };
    assert_eq!(r, RKNN_SUCC, "rknn_query {cmd}");
}

/// Input the benchmark feeds: float32 NCHW data, or (None) zero-filled
/// UINT8 NHWC bytes.
fn expected(model: &[u8], input: Option<&[f32]>) -> Expected {
    let mut ctx: rknn_context = 0;
    // SAFETY: valid pointers; the runtime copies the model.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            model.as_ptr() as *mut c_void,
            model.len() as u32,
            0,
            null_mut(),
        )
    };
    assert_eq!(r, RKNN_SUCC, "rknn_init");
    let mut ver = rknn_sdk_version::default();
    query(ctx, RKNN_QUERY_SDK_VERSION, &mut ver);
    let mut mem = rknn_mem_size::default();
    query(ctx, RKNN_QUERY_MEM_SIZE, &mut mem);
    let mut in_attr = rknn_tensor_attr {
        index: 0,
        ..Default::default()
    };
    query(ctx, RKNN_QUERY_INPUT_ATTR, &mut in_attr);
    let mut out_attr = rknn_tensor_attr {
        index: 0,
        ..Default::default()
    };
    query(ctx, RKNN_QUERY_OUTPUT_ATTR, &mut out_attr);
    let mut custom = rknn_custom_string::default();
    query(ctx, RKNN_QUERY_CUSTOM_STRING, &mut custom);

    let mut float_data: Vec<f32> = input.map(<[f32]>::to_vec).unwrap_or_default();
    let mut zeros = vec![0u8; in_attr.n_elems as usize];
    let mut inp = rknn_input {
        index: 0,
        ..Default::default()
    };
    if input.is_some() {
        inp.buf = float_data.as_mut_ptr().cast();
        inp.size = (float_data.len() * 4) as u32;
        inp.r#type = RKNN_TENSOR_FLOAT32;
        inp.fmt = RKNN_TENSOR_NCHW;
    } else {
        inp.buf = zeros.as_mut_ptr().cast();
        inp.size = zeros.len() as u32;
        inp.r#type = RKNN_TENSOR_UINT8;
        inp.fmt = RKNN_TENSOR_NHWC;
    }
    // SAFETY: one input whose buffer outlives the call.
    assert_eq!(unsafe { rknn_inputs_set(ctx, 1, &mut inp) }, RKNN_SUCC);
    // SAFETY: plain run.
    assert_eq!(unsafe { rknn_run(ctx, null_mut()) }, RKNN_SUCC);
    let mut out = rknn_output {
        want_float: 1,
        ..Default::default()
    };
    // SAFETY: one writable output struct.
    assert_eq!(
        unsafe { rknn_outputs_get(ctx, 1, &mut out, null_mut()) },
        RKNN_SUCC
    );
    // SAFETY: the runtime lent `size` bytes of f32 until the release.
    let values =
        unsafe { std::slice::from_raw_parts(out.buf as *const f32, out.size as usize / 4) }
            .to_vec();
    // SAFETY: releasing the buffer lent above.
    assert_eq!(unsafe { rknn_outputs_release(ctx, 1, &mut out) }, RKNN_SUCC);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    Expected {
        version: c_string(&ver.api_version),
        driver: c_string(&ver.drv_version),
        mem,
        input: in_attr,
        output: out_attr,
        custom: c_string(&custom.string),
        values,
    }
}

fn fmt_name(f: rknn_tensor_format) -> &'static str {
    match f {
        RKNN_TENSOR_NCHW => "NCHW",
        RKNN_TENSOR_NHWC => "NHWC",
        RKNN_TENSOR_NC1HWC2 => "NC1HWC2",
        RKNN_TENSOR_UNDEFINED => "UNDEFINED",
        _ => "UNKNOW",
    }
}

fn type_name(t: rknn_tensor_type) -> &'static str {
    [
        "FP32", "FP16", "INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "INT64", "BOOL",
        "INT4", "BF16",
    ]
    .get(t as usize)
    .copied()
    .unwrap_or("UNKNOW")
}

fn qnt_name(q: rknn_tensor_qnt_type) -> &'static str {
    match q {
        RKNN_TENSOR_QNT_NONE => "NONE",
        RKNN_TENSOR_QNT_DFP => "DFP",
        RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC => "AFFINE",
        _ => "UNKNOW",
    }
}

/// The attribute line of the vendor tool (`dump_tensor_attr`).
fn attr_line(a: &rknn_tensor_attr) -> String {
    let dims: Vec<String> = a.dims[..a.n_dims as usize]
        .iter()
        .map(u32::to_string)
        .collect();
    format!(
        "  index={}, name={}, n_dims={}, dims=[{}], n_elems={}, size={}, w_stride = {}, size_with_stride={}, fmt={}, type={}, qnt_type={}, zp={}, scale={:.6}",
        a.index,
        c_string(&a.name),
        a.n_dims,
        dims.join(", "),
        a.n_elems,
        a.size,
        a.w_stride,
        a.size_with_stride,
        fmt_name(a.fmt),
        type_name(a.r#type),
        qnt_name(a.qnt_type),
        a.zp,
        a.scale
    )
}

/// Checks `"<4-digit index>: Elapse Time = <t>ms, FPS = <f>"`.
fn check_timing_line(line: &str, index: usize) {
    let want = format!("{index:4}: Elapse Time = ");
    let rest = line
        .strip_prefix(&want)
        .unwrap_or_else(|| panic!("timing line {index}: {line:?}"));
    let (ms, fps) = rest
        .split_once("ms, FPS = ")
        .unwrap_or_else(|| panic!("timing line {index}: {line:?}"));
    let ms: f64 = ms.parse().expect("elapsed ms");
    let fps: f64 = fps.parse().expect("fps");
    assert!(ms >= 0.0 && fps >= 0.0, "{line}");
    let (ms_text, fps_text) = rest.split_once("ms, FPS = ").unwrap_or_default();
    for text in [ms_text, fps_text] {
        assert_eq!(
            text.split('.').nth(1).map(str::len),
            Some(2),
            "two decimals: {line}"
        );
    }
}

/// Checks the whole report of one run; `npy` is the input file the run
/// was given, if any.
fn check_report(stdout: &str, exp: &Expected, npy: Option<&str>, loops: usize) {
    let lines: Vec<&str> = stdout.lines().collect();
    let mut it = lines.iter().copied();
    let mut next = |what: &str| -> &str {
        it.next()
            .unwrap_or_else(|| panic!("report ends before {what}:\n{stdout}"))
    };
    assert_eq!(
        next("version"),
        format!(
            "rknn_api/rknnrt version: {}, driver version: {}",
            exp.version, exp.driver
        )
    );
    assert!(exp.version.contains('@'), "{}", exp.version);
    assert_eq!(
        next("sizes"),
        format!(
            "total weight size: {}, total internal size: {}",
            exp.mem.total_weight_size, exp.mem.total_internal_size
        )
    );
    assert_eq!(
        next("dma"),
        format!("total dma used size: {}", exp.mem.total_dma_allocated_size)
    );
    assert_eq!(next("io num"), "model input num: 1, output num: 1");
    assert_eq!(next("inputs"), "input tensors:");
    assert_eq!(next("input attr"), attr_line(&exp.input));
    assert_eq!(next("outputs"), "output tensors:");
    assert_eq!(next("output attr"), attr_line(&exp.output));
    assert_eq!(next("custom"), format!("custom string: {}", exp.custom));
    if let Some(path) = npy {
        assert_eq!(next("loading"), format!("Loading {path}"));
        assert_eq!(next("npy type"), "npy data type:FP32");
    }
    assert_eq!(next("warm-up"), "Warmup ...");
    for i in 0..5 {
        check_timing_line(next("warm-up run"), i);
    }
    assert_eq!(next("perf"), "Begin perf ...");
    for i in 0..loops {
        check_timing_line(next("timed run"), i);
    }
    assert_eq!(next("blank"), "");
    let avg = next("average");
    let rest = avg
        .strip_prefix("Avg Time ")
        .unwrap_or_else(|| panic!("{avg:?}"));
    let (ms, fps) = rest.split_once("ms, Avg FPS = ").expect("Avg FPS");
    assert_eq!(ms.split('.').nth(1).map(str::len), Some(2), "{avg}");
    assert_eq!(fps.split('.').nth(1).map(str::len), Some(3), "{avg}");
    assert!(ms.parse::<f64>().expect("avg ms") >= 0.0);
    assert!(fps.parse::<f64>().expect("avg fps") >= 0.0);
    assert_eq!(next("blank"), "");
    assert_eq!(next("save"), "Save output to rt_output0.npy");
    assert_eq!(next("top"), "---- Top5 ----");
    let mut order: Vec<usize> = (0..exp.values.len()).collect();
    order.sort_by(|&a, &b| exp.values[b].total_cmp(&exp.values[a]).then(a.cmp(&b)));
    for &k in order.iter().take(5) {
        let line = next("top entry");
        let (v, idx) = line.split_once(" - ").unwrap_or_else(|| panic!("{line:?}"));
        assert_eq!(v, format!("{:8.6}", exp.values[k]), "{line}");
        let idx: usize = idx.parse().expect("class index");
        assert_eq!(exp.values[idx], exp.values[k], "{line}");
    }
    assert_eq!(it.next(), None, "unexpected trailing lines:\n{stdout}");
}

/// Runs the benchmark on `model` (optionally with an NPY input) and
/// checks the report and `rt_output0.npy`.
fn check_model(tag: &str, model: &[u8], input: Option<(&[usize], &[f32])>, loops: usize) {
    let dir = temp_dir(tag);
    std::fs::write(dir.join("model.rknn"), model).expect("write model");
    let mut args = vec!["model.rknn".to_string()];
    let npy = input.map(|(shape, data)| {
        write_npy(&dir.join("input.npy"), shape, data);
        "input.npy".to_string()
    });
    args.push(npy.clone().unwrap_or_default());
    args.push(loops.to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_in(&dir, &[], &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rknn_benchmark failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exp = expected(model, input.map(|(_, d)| d));
    check_report(&stdout, &exp, npy.as_deref(), loops);
    let (shape, values) = read_npy(&dir.join("rt_output0.npy"));
    let dims: Vec<usize> = exp.output.dims[..exp.output.n_dims as usize]
        .iter()
        .map(|&d| d as usize)
        .collect();
    assert_eq!(shape, dims);
    assert_eq!(
        values, exp.values,
        "rt_output0.npy equals want_float output"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

fn int8_input() -> Vec<f32> {
    (0..18).map(|i| (i * 7 % 18) as f32 * 3.0 - 10.0).collect()
}

#[test]
fn int8_model_with_npy_input() {
    let model = common::int8_conv_model();
    check_model("int8_npy", &model, Some((&[1, 2, 3, 3], &int8_input())), 3);
}

#[test]
fn int8_model_with_zero_input() {
    let model = common::int8_conv_model();
    check_model("int8_zero", &model, None, 2);
}

#[test]
fn float_model_with_npy_input_and_default_loops() {
    let model = common::relu_model();
    let x: Vec<f32> = (0..48).map(|i| (i as f32 - 20.0) * 0.25).collect();
    let dir = temp_dir("relu_default");
    std::fs::write(dir.join("model.rknn"), &model).expect("write model");
    write_npy(&dir.join("x.npy"), &[1, 3, 4, 4], &x);
    let out = run_in(&dir, &[], &["model.rknn", "x.npy"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let exp = expected(&model, Some(&x));
    check_report(&stdout, &exp, Some("x.npy"), 10);
    let (shape, values) = read_npy(&dir.join("rt_output0.npy"));
    assert_eq!(shape, [1, 3, 4, 4]);
    let relu: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
    assert_eq!(values, relu);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn bad_arguments_fail_cleanly() {
    let dir = temp_dir("bad");
    let out = run_in(&dir, &[], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Usage:"));
    let out = run_in(&dir, &[], &["missing.rknn"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("rknn_init fail! ret="));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn no_memory_errors_or_leaks_under_valgrind() {
    let available = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        println!("valgrind is not installed: skipping the memory check");
        return;
    }
    if cross::emulated() {
        println!("cross target under an emulator: skipping the valgrind check");
        return;
    }
    let dir = temp_dir("valgrind");
    let model = common::int8_conv_model();
    std::fs::write(dir.join("model.rknn"), &model).expect("write model");
    write_npy(&dir.join("input.npy"), &[1, 2, 3, 3], &int8_input());
    let out = run_in(
        &dir,
        &[
            "valgrind",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--quiet",
        ],
        &["model.rknn", "input.npy", "2"],
    );
    assert!(
        out.status.success(),
        "valgrind reported errors ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let exp = expected(&model, Some(&int8_input()));
    check_report(
        &String::from_utf8_lossy(&out.stdout),
        &exp,
        Some("input.npy"),
        2,
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}
