//! The virtual NPU's speed: a vendor-compiled model run on the `sim`
//! device (`npu::program`, the work `rknn_run` does for it) against the
//! same ONNX model compiled by our own compiler and run with `rknn_run`
//! on the `host` device, in the same process; plus the time to build and
//! load every vendor fixture's program.
//!
//! ```text
//! cargo run --release -p rknn-toolchain --example bench_sim [model] [runs]
//! ```
//!
//! `model` is a fixture of `../shared/fixtures/vendor` (default
//! `conv_64x64`, the largest), `runs` the number of timed runs (default
//! 50). Prints medians and their ratio.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rknn_toolchain::calibrate::Algorithm;
use rknn_toolchain::cli::pipeline::{convert, Plan, Precision};
use rknn_toolchain::quantize::WeightGranularity;
use rknnrt::abi::*;
use rknnrt::capi::general::{rknn_destroy, rknn_init, rknn_inputs_set, rknn_run};
use rknnrt::driver::sim::SimDevice;
use rknnrt::model::vendor;
use rknnrt::npu::program::VendorProgram;
use rknnrt::platform::Platform;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/vendor")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median time of `runs` runs of the vendor program on the sim device.
fn vendor_on_sim(model: &str, runs: usize) -> Result<Duration, String> {
    let file = fixtures()
        .join(model)
        .join(format!("{model}.rk3588.i8.rknn"));
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let m = vendor::read(&bytes).map_err(|e| e.to_string())?;
    let program = VendorProgram::new(&m, &bytes).map_err(|e| e.to_string())?;
    let dev = SimDevice::new(Platform::Rk3588);
    let loaded = program.load(&dev, &bytes).map_err(|e| e.to_string())?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs + 2 {
        let t = Instant::now();
        loaded.run(&dev, 1, &[]).map_err(|e| e.to_string())?;
        times.push(t.elapsed());
    }
    Ok(median(times.split_off(2)))
}

/// Median `rknn_run` time of the ONNX model compiled by rknn-convert
/// (int8, per-channel) on the host device.
fn ours_on_host(model: &str, runs: usize) -> Result<Duration, String> {
    let dir = fixtures().join(model);
    let plan = Plan {
        model: dir.join(format!("{model}.onnx")),
        platform: Platform::Rk3588,
        input_shapes: Default::default(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        mean: Vec::new(),
        std: Vec::new(),
        precision: Precision::Int8 {
            dataset: dir.join("dataset.txt"),
            algorithm: Algorithm::Normal,
            method: WeightGranularity::PerChannel,
            rgb2bgr: false,
        },
        custom_string: "bench_sim".into(),
        progress: false,
    };
    let mut bytes = convert(&plan).map_err(|e| e.to_string())?.bytes;
    std::env::set_var("RKNNRT_DEVICE", "host");
    let mut ctx: rknn_context = 0;
    // SAFETY: a valid out pointer and the model bytes, which outlive the call.
    let ret = unsafe {
        rknn_init(
            &mut ctx,
            bytes.as_mut_ptr().cast::<c_void>(),
            bytes.len() as u32,
            0,
            std::ptr::null_mut(),
        )
    };
    if ret != RKNN_SUCC {
        return Err(format!("rknn_init: {ret}"));
    }
    let mut io = rknn_input_output_num::default();
    // SAFETY: `io` is a valid rknn_input_output_num.
    unsafe {
        rknnrt::capi::general::rknn_query(
            ctx,
            RKNN_QUERY_IN_OUT_NUM,
            (&mut io as *mut rknn_input_output_num).cast(),
            std::mem::size_of::<rknn_input_output_num>() as u32,
        )
    };
    let mut attr = rknn_tensor_attr::default();
    // SAFETY: `attr` is a valid rknn_tensor_attr for input 0.
    unsafe {
        rknnrt::capi::general::rknn_query(
            ctx,
            RKNN_QUERY_INPUT_ATTR,
            (&mut attr as *mut rknn_tensor_attr).cast(),
            std::mem::size_of::<rknn_tensor_attr>() as u32,
        )
    };
    let mut data = vec![0.5f32; attr.n_elems as usize];
    let mut input = rknn_input {
        index: 0,
        buf: data.as_mut_ptr().cast(),
        size: (data.len() * 4) as u32,
        pass_through: 0,
        r#type: RKNN_TENSOR_FLOAT32,
        fmt: RKNN_TENSOR_NCHW,
    };
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs + 2 {
        // SAFETY: one valid input description whose buffer outlives the call.
        let ret = unsafe { rknn_inputs_set(ctx, 1, &mut input) };
        if ret != RKNN_SUCC {
            return Err(format!("rknn_inputs_set: {ret}"));
        }
        let t = Instant::now();
        // SAFETY: a live context; no extend struct.
        let ret = unsafe { rknn_run(ctx, std::ptr::null_mut()) };
        times.push(t.elapsed());
        if ret != RKNN_SUCC {
            return Err(format!("rknn_run: {ret}"));
        }
    }
    rknn_destroy(ctx);
    Ok(median(times.split_off(2)))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).map_or("conv_64x64", String::as_str);
    let runs = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(50);
    let sim = vendor_on_sim(model, runs).unwrap_or_else(|e| panic!("sim: {e}"));
    let host = ours_on_host(model, runs).unwrap_or_else(|e| panic!("host: {e}"));
    println!("{model} int8, median of {runs} runs:");
    println!(
        "  vendor program on sim (npu::program run): {:9.3} ms",
        ms(sim)
    );
    println!(
        "  our compiler's model, rknn_run on host:   {:9.3} ms",
        ms(host)
    );
    println!(
        "  ratio sim / host: {:.2}",
        sim.as_secs_f64() / host.as_secs_f64()
    );
    println!("program build + load per fixture (VendorProgram::new + load, median of 20):");
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let dev = SimDevice::new(Platform::Rk3588);
    for name in names {
        for prec in ["i8", "fp16"] {
            let file = fixtures()
                .join(&name)
                .join(format!("{name}.rk3588.{prec}.rknn"));
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            let times: Vec<Duration> = (0..20)
                .map(|_| {
                    let t = Instant::now();
                    let m = vendor::read(&bytes).expect("read");
                    let p = VendorProgram::new(&m, &bytes).expect("program");
                    let l = p.load(&dev, &bytes).expect("load");
                    let e = t.elapsed();
                    drop(l);
                    e
                })
                .collect();
            println!("  {name:18} {prec:4} {:8.3} ms", ms(median(times)));
        }
    }
}
