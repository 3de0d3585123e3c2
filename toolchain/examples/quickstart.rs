//! Quickstart: convert an ONNX model (a MobileNetV2-style network shipped
//! with the tests) to an int8 `.rknn` file, calibrating on its dataset, then
//! run it through the RKNN C API exactly as a C program would (the
//! `extern "C"` functions of `librknnrt`, called from Rust) and compare the
//! result with onnxruntime's output for the same input.
//!
//! ```text
//! cargo run -p rknn-toolchain --example quickstart [model.rknn]
//! ```
//!
//! Without an argument the model is written to the system temp directory.
//! The same conversion on the command line:
//! `rknn-convert build toolchain/tests/models/mobilenet_v2/model.onnx -t rk3588
//! --dataset toolchain/tests/models/mobilenet_v2/dataset.txt -o model.rknn`.

use std::ffi::{c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rknn_toolchain::cli::pipeline::{convert, Plan, Precision};
use rknn_toolchain::npy::NpyArray;
use rknnrt::abi::*;
use rknnrt::capi::general::{
    rknn_destroy, rknn_init, rknn_inputs_set, rknn_outputs_get, rknn_outputs_release, rknn_query,
    rknn_run,
};
use rknnrt::platform::Platform;

/// The example model, its calibration list and a test input with
/// onnxruntime's output.
fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models/mobilenet_v2")
}

/// Converts the ONNX model to int8 (normal calibration, per-channel
/// weights) and returns the `.rknn` bytes.
fn convert_model() -> Result<Vec<u8>, rknn_toolchain::BuildError> {
    let dir = model_dir();
    let mut plan = Plan::new(
        dir.join("model.onnx"),
        Platform::Rk3588,
        Precision::int8(dir.join("dataset.txt")),
    );
    plan.custom_string = "rknnrt quickstart".into();
    let outcome = convert(&plan)?;
    println!(
        "converted {} in {:.2} s ({} nodes after the passes)",
        plan.model.display(),
        outcome.seconds,
        outcome.passes.nodes_after
    );
    Ok(outcome.bytes)
}

/// Reads an `.npy` file of float32 values.
fn read_f32(path: &Path) -> Result<Vec<f32>, String> {
    let a = NpyArray::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if a.dtype != rknnrt::graph::DType::F32 {
        return Err(format!("{}: expected float32 data", path.display()));
    }
    Ok(a.bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Cosine similarity of two vectors.
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let na: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(f64::MIN_POSITIVE)
}

fn c_str(bytes: &[std::ffi::c_char]) -> String {
    // SAFETY: the runtime NUL-terminates every name and string it returns
    // inside these fixed-size arrays.
    unsafe { CStr::from_ptr(bytes.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn format_string(fmt: rknn_tensor_format) -> &'static str {
    match fmt {
        RKNN_TENSOR_NCHW => "NCHW",
        RKNN_TENSOR_NHWC => "NHWC",
        RKNN_TENSOR_NC1HWC2 => "NC1HWC2",
        RKNN_TENSOR_UNDEFINED => "UNDEFINED",
        _ => "UNKNOW",
    }
}

fn type_string(t: rknn_tensor_type) -> &'static str {
    const NAMES: [&str; 12] = [
        "FP32", "FP16", "INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "INT64", "BOOL",
        "INT4", "BF16",
    ];
    NAMES.get(t as usize).copied().unwrap_or("UNKNOW")
}

fn qnt_type_string(t: rknn_tensor_qnt_type) -> &'static str {
    match t {
        RKNN_TENSOR_QNT_NONE => "NONE",
        RKNN_TENSOR_QNT_DFP => "DFP",
        RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC => "AFFINE",
        _ => "UNKNOW",
    }
}

/// One attribute line in the format of the vendor demos.
fn dump_attr(a: &rknn_tensor_attr) {
    let n = (a.n_dims as usize).min(a.dims.len());
    let dims: Vec<String> = a.dims[..n].iter().map(u32::to_string).collect();
    println!(
        "  index={}, name={}, n_dims={}, dims=[{}], n_elems={}, size={}, w_stride = {}, size_with_stride={}, fmt={}, type={}, qnt_type={}, zp={}, scale={:.6}",
        a.index,
        c_str(&a.name),
        a.n_dims,
        dims.join(", "),
        a.n_elems,
        a.size,
        a.w_stride,
        a.size_with_stride,
        format_string(a.fmt),
        type_string(a.r#type),
        qnt_type_string(a.qnt_type),
        a.zp,
        a.scale
    );
}

fn check(what: &str, ret: i32) -> Result<(), String> {
    if ret < 0 {
        Err(format!("{what} fail! ret={ret}"))
    } else {
        Ok(())
    }
}

/// Queries one tensor attribute (`cmd` is an INPUT/OUTPUT_ATTR query).
fn query_attr(
    ctx: rknn_context,
    cmd: rknn_query_cmd,
    index: u32,
) -> Result<rknn_tensor_attr, String> {
    // SAFETY: rknn_tensor_attr is plain C data (integers, arrays, a float);
    // all-zero bytes are a valid value.
    let mut attr: rknn_tensor_attr = unsafe { std::mem::zeroed() };
    attr.index = index;
    // SAFETY: `attr` is a live, writable rknn_tensor_attr and the size
    // passed is its size.
    let ret = unsafe {
        rknn_query(
            ctx,
            cmd,
            &mut attr as *mut rknn_tensor_attr as *mut c_void,
            std::mem::size_of::<rknn_tensor_attr>() as u32,
        )
    };
    check("rknn_query", ret)?;
    Ok(attr)
}

fn run(path: &CStr) -> Result<(), String> {
    let mut ctx: rknn_context = 0;
    // SAFETY: `path` is a NUL-terminated string; size 0 tells rknn_init to
    // read it as a file path; `ctx` is writable; no extend struct.
    let ret = unsafe {
        rknn_init(
            &mut ctx,
            path.as_ptr() as *mut c_void,
            0,
            0,
            std::ptr::null_mut(),
        )
    };
    check("rknn_init", ret)?;
    let result = run_context(ctx);
    // SAFETY: `ctx` came from a successful rknn_init and is destroyed once.
    let ret = rknn_destroy(ctx);
    result.and(check("rknn_destroy", ret))
}

fn run_context(ctx: rknn_context) -> Result<(), String> {
    let mut io_num = rknn_input_output_num::default();
    // SAFETY: `io_num` is a writable rknn_input_output_num of the size given.
    let ret = unsafe {
        rknn_query(
            ctx,
            RKNN_QUERY_IN_OUT_NUM,
            &mut io_num as *mut rknn_input_output_num as *mut c_void,
            std::mem::size_of::<rknn_input_output_num>() as u32,
        )
    };
    check("rknn_query", ret)?;
    println!(
        "model input num: {}, output num: {}",
        io_num.n_input, io_num.n_output
    );

    println!("input tensors:");
    let mut inputs_attr = Vec::new();
    for i in 0..io_num.n_input {
        let a = query_attr(ctx, RKNN_QUERY_INPUT_ATTR, i)?;
        dump_attr(&a);
        inputs_attr.push(a);
    }
    println!("output tensors:");
    let mut outputs_attr = Vec::new();
    for i in 0..io_num.n_output {
        let a = query_attr(ctx, RKNN_QUERY_OUTPUT_ATTR, i)?;
        dump_attr(&a);
        outputs_attr.push(a);
    }
    if io_num.n_input != 1 {
        return Err(format!(
            "expected one input, the model has {}",
            io_num.n_input
        ));
    }

    let dir = model_dir();
    let mut image = read_f32(&dir.join("test_0.npy"))?;
    let expected = read_f32(&dir.join("test_0_out_0.npy"))?;
    let input = rknn_input {
        index: 0,
        buf: image.as_mut_ptr() as *mut c_void,
        size: (image.len() * std::mem::size_of::<f32>()) as u32,
        pass_through: 0,
        r#type: RKNN_TENSOR_FLOAT32,
        fmt: RKNN_TENSOR_NCHW,
    };
    let mut inputs = [input];
    // SAFETY: one valid rknn_input whose buffer (`image`) outlives the call.
    let ret = unsafe { rknn_inputs_set(ctx, 1, inputs.as_mut_ptr()) };
    check("rknn_inputs_set", ret)?;

    let start = Instant::now();
    // SAFETY: valid context; no extend struct.
    let ret = unsafe { rknn_run(ctx, std::ptr::null_mut()) };
    let elapsed = start.elapsed();
    check("rknn_run", ret)?;
    println!("rknn_run: {:.3} ms", elapsed.as_secs_f64() * 1000.0);

    let mut outputs: Vec<rknn_output> = (0..io_num.n_output)
        .map(|i| rknn_output {
            want_float: 1,
            is_prealloc: 0,
            index: i,
            buf: std::ptr::null_mut(),
            size: 0,
        })
        .collect();
    // SAFETY: `outputs` holds n_output writable rknn_output structs.
    let ret = unsafe {
        rknn_outputs_get(
            ctx,
            io_num.n_output,
            outputs.as_mut_ptr(),
            std::ptr::null_mut(),
        )
    };
    check("rknn_outputs_get", ret)?;
    for out in &outputs {
        let n = out.size as usize / std::mem::size_of::<f32>();
        if out.buf.is_null() || n == 0 {
            continue;
        }
        // SAFETY: with want_float = 1 the runtime returned a buffer of
        // `size` bytes of float32, valid until rknn_outputs_release.
        let probs = unsafe { std::slice::from_raw_parts(out.buf as *const f32, n) };
        if out.index == 0 {
            println!(
                "cosine vs onnxruntime (float32): {:.6}",
                cosine(probs, &expected)
            );
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
        println!("---- Top{} ----", order.len().min(5));
        for &class in order.iter().take(5) {
            println!("{:8.6} - {}", probs[class], class);
        }
    }
    // SAFETY: releases exactly the buffers rknn_outputs_get allocated.
    let ret = unsafe { rknn_outputs_release(ctx, io_num.n_output, outputs.as_mut_ptr()) };
    check("rknn_outputs_release", ret)
}

fn main() {
    let path = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => std::env::temp_dir().join("rknn_quickstart.rknn"),
    };
    let bytes = match convert_model() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("converting the model failed: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = std::fs::write(&path, &bytes) {
        eprintln!("cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
    let c_path = match CString::new(path.as_os_str().as_encoded_bytes()) {
        Ok(p) => p,
        Err(_) => {
            eprintln!("the model path contains a NUL byte");
            std::process::exit(1);
        }
    };
    if let Err(e) = run(&c_path) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
