//! Vendor-compiled models on the virtual NPU: `rknn_run` time of the
//! largest fixture (conv_64x64, int8) on `sim` against the same ONNX model
//! compiled by `rknn-convert` (int8, the fixture's calibration set) on
//! `host`, measured in the same run; then `rknn_init` time of every
//! fixture. Medians of many repetitions; not a test.
//!
//! ```text
//! cargo run --release -p rknn-toolchain --example bench_vendor [runs]
//! ```

use std::ffi::{c_void, CString};
use std::path::{Path, PathBuf};
use std::ptr::null_mut;
use std::time::{Duration, Instant};

use rknn_toolchain::cli::pipeline::{convert, Plan, Precision};
use rknn_toolchain::npy::NpyArray;
use rknnrt::abi::*;
use rknnrt::capi::general::{rknn_destroy, rknn_init, rknn_inputs_set, rknn_run};
use rknnrt::platform::Platform;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/vendor")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `rknn_init` of `model` (a path when `bytes` is `None`) on `device`.
fn init(device: &str, path: &Path, bytes: Option<&mut Vec<u8>>) -> rknn_context {
    std::env::set_var("RKNNRT_DEVICE", device);
    let c = CString::new(path.to_str().expect("UTF-8 path")).expect("path");
    let mut ctx: rknn_context = 0;
    // SAFETY: a NUL-terminated path with size 0, or `len` readable bytes.
    let r = unsafe {
        match bytes {
            None => rknn_init(&mut ctx, c.as_ptr() as *mut c_void, 0, 0, null_mut()),
            Some(b) => rknn_init(
                &mut ctx,
                b.as_mut_ptr().cast(),
                b.len() as u32,
                0,
                null_mut(),
            ),
        }
    };
    assert_eq!(r, RKNN_SUCC, "rknn_init({}) on {device}", path.display());
    ctx
}

/// Median `rknn_run` time of `ctx` with `x` (float32 NCHW) set once.
fn run_time(ctx: rknn_context, x: &mut NpyArray, runs: usize) -> Duration {
    let mut input = rknn_input {
        index: 0,
        buf: x.bytes.as_mut_ptr().cast(),
        size: x.bytes.len() as u32,
        pass_through: 0,
        r#type: RKNN_TENSOR_FLOAT32,
        fmt: RKNN_TENSOR_NCHW,
    };
    // SAFETY: the input points at the array's bytes.
    assert_eq!(unsafe { rknn_inputs_set(ctx, 1, &mut input) }, RKNN_SUCC);
    let times = (0..runs)
        .map(|_| {
            let t = Instant::now();
            // SAFETY: no extend struct.
            assert_eq!(unsafe { rknn_run(ctx, null_mut()) }, RKNN_SUCC);
            t.elapsed()
        })
        .collect();
    median(times)
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map_or(51, |a| a.parse().expect("runs"));
    let dir = fixtures().join("conv_64x64");
    let plan = Plan::new(
        dir.join("conv_64x64.onnx"),
        Platform::Rk3588,
        Precision::int8(dir.join("dataset.txt")),
    );
    let mut ours = convert(&plan).expect("rknn-convert build").bytes;
    let mut x = NpyArray::read(&dir.join("inputs/s0_x.npy")).expect("input");
    let vendor = init("sim", &dir.join("conv_64x64.rk3588.i8.rknn"), None);
    let host = init("host", &plan.model, Some(&mut ours));
    // Interleaved halves so both see the same machine load.
    let (mut sim_t, mut host_t) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        sim_t.push(run_time(vendor, &mut x, runs));
        host_t.push(run_time(host, &mut x, runs));
    }
    let (s, h) = (median(sim_t), median(host_t));
    println!("rknn_run, conv_64x64 int8 (1x64x16x16, 3x3 conv 64->64), median of {runs} runs:");
    println!(
        "  vendor .rknn on sim:            {:>10.1} us",
        s.as_secs_f64() * 1e6
    );
    println!(
        "  rknn-convert .rknn on host:     {:>10.1} us",
        h.as_secs_f64() * 1e6
    );
    println!(
        "  ratio sim / host:               {:>10.2}",
        s.as_secs_f64() / h.as_secs_f64()
    );
    assert_eq!(rknn_destroy(vendor), RKNN_SUCC);
    assert_eq!(rknn_destroy(host), RKNN_SUCC);

    println!("\nrknn_init on sim (from the file), median of {runs}:");
    let text = std::fs::read(fixtures().join("MANIFEST.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_slice(&text).expect("JSON");
    for c in m["cases"].as_array().expect("cases") {
        let path = fixtures().join(c["rknn"].as_str().expect("rknn"));
        let times = (0..runs)
            .map(|_| {
                let t = Instant::now();
                let ctx = init("sim", &path, None);
                let d = t.elapsed();
                assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
                d
            })
            .collect();
        println!(
            "  {:<24} {:>8.1} us",
            c["case"].as_str().expect("case"),
            median(times).as_secs_f64() * 1e6
        );
    }
}
