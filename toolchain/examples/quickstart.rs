//! Quickstart: build a small int8 CNN with the model builder, write it to a
//! `.rknn` file, then run it through the RKNN C API exactly as a C program
//! would (the `extern "C"` functions of `librknnrt`, called from Rust).
//!
//! ```text
//! cargo run -p rknn-toolchain --example quickstart [model.rknn]
//! ```
//!
//! Without an argument the model is written to the system temp directory.

use std::ffi::{c_void, CStr, CString};
use std::path::PathBuf;
use std::time::Instant;

use rknn_toolchain::quantize::{quantize_int8, QuantConfig};
use rknn_toolchain::{ConvParams, ModelBuilder, PoolParams, Weights};
use rknnrt::abi::*;
use rknnrt::capi::general::{
    rknn_destroy, rknn_init, rknn_inputs_set, rknn_outputs_get, rknn_outputs_release, rknn_query,
    rknn_run,
};
use rknnrt::platform::Platform;

const H: usize = 32;
const W: usize = 32;
const CLASSES: usize = 10;

/// Deterministic pseudo-random weights in [-scale, scale].
fn weights(shape: &[usize], seed: u32, scale: f32) -> Weights {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(0x9e37_79b9) | 1;
    let data = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            ((s % 2001) as f32 / 1000.0 - 1.0) * scale
        })
        .collect();
    Weights::new(shape, data).expect("shape and data agree")
}

/// Builds the float CNN and quantizes it to int8. The activation ranges
/// are what a calibration run on typical images would report; here they
/// are given by hand.
fn build_model() -> Result<rknn_toolchain::BuiltModel, rknn_toolchain::BuildError> {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("images", &[1, 3, H, W])?;
    // The runtime computes (pixel - mean) / std from uint8 input images.
    b.mean_std(x, &[123.675, 116.28, 103.53], &[58.395, 57.12, 57.375])?;
    let c1 = b.conv2d(
        x,
        weights(&[8, 3, 3, 3], 1, 0.4),
        Some(vec![0.05; 8]),
        ConvParams::default().pads(1).relu(),
    )?;
    let p1 = b.max_pool2d(c1, PoolParams::new(2))?;
    let c2 = b.conv2d(
        p1,
        weights(&[16, 8, 3, 3], 2, 0.2),
        Some(vec![0.0; 16]),
        ConvParams::default().pads(1).stride(2).relu(),
    )?;
    let gap = b.global_avg_pool(c2)?;
    let flat = b.flatten(gap, 1)?;
    let fc = b.fully_connected(
        flat,
        weights(&[CLASSES, 16], 3, 0.5),
        Some(vec![0.0; CLASSES]),
        None,
    )?;
    let prob = b.softmax(fc, 1)?;
    b.set_name(prob, "prob")?;
    b.output(prob)?;
    b.custom_string("quickstart: tiny int8 CNN, 10 classes")?;

    let float_model = b.build()?;
    let cfg = QuantConfig::new()
        .range(x, -2.2, 2.7)
        .range(c1, 0.0, 4.0)
        .range(c2, 0.0, 3.0)
        .range(gap, 0.0, 1.5)
        .range(fc, -3.0, 3.0)
        .range(prob, 0.0, 1.0);
    quantize_int8(&float_model, &cfg)
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

/// A synthetic 32x32 RGB image (NHWC uint8): diagonal colour gradients.
fn synthetic_image() -> Vec<u8> {
    let mut img = Vec::with_capacity(H * W * 3);
    for y in 0..H {
        for x in 0..W {
            img.push((x * 255 / (W - 1)) as u8);
            img.push((y * 255 / (H - 1)) as u8);
            img.push(((x + y) * 255 / (W + H - 2)) as u8);
        }
    }
    img
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

    let mut image = synthetic_image();
    let input = rknn_input {
        index: 0,
        buf: image.as_mut_ptr() as *mut c_void,
        size: image.len() as u32,
        pass_through: 0,
        r#type: RKNN_TENSOR_UINT8,
        fmt: RKNN_TENSOR_NHWC,
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
    let model = match build_model() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("building the model failed: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = model.save(&path) {
        eprintln!("{e}");
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
