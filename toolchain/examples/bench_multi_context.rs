//! Multi-context throughput and the cost of per-layer profiling, on the
//! int8 conversion of a test network (`resnet18` by default, the largest
//! CNN shipped with the tests; `mobilenet_v2` as argument), through the C
//! API functions exactly as a C program would call them.
//!
//! ```text
//! cargo run --release -p rknn-toolchain --example bench_multi_context [resnet18|mobilenet_v2] [rounds]
//! ```
//!
//! 1. Throughput (runs/s) with 1, 2 and 4 threads, each running its own
//!    context duplicated with `rknn_dup_context` (core mask AUTO: one
//!    kernel thread each), median of the rounds.
//! 2. Latency of one context with core mask AUTO against ALL (the host
//!    device's kernels on one thread against one per core).
//! 3. The cost of `RKNN_FLAG_COLLECT_PERF_MASK` on `rknn_run`: the same
//!    model on a context with and one without the flag, runs alternating,
//!    median `rknn_run` times and their ratio.

use std::ffi::c_void;
use std::path::Path;
use std::ptr::null_mut;
use std::time::{Duration, Instant};

use rknn_toolchain::cli::pipeline::{convert, Plan, Precision};
use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::platform::Platform;

fn model_bytes(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/models")
        .join(name);
    let plan = Plan::new(
        dir.join("model.onnx"),
        Platform::Rk3588,
        Precision::int8(dir.join("dataset.txt")),
    );
    convert(&plan).expect("conversion").bytes
}

fn check(r: i32, what: &str) {
    assert_eq!(r, RKNN_SUCC, "{what}");
}

fn init(bytes: &[u8], flags: u32) -> rknn_context {
    let mut ctx = 0;
    // SAFETY: valid pointers; `bytes` outlives the call.
    check(
        unsafe {
            rknn_init(
                &mut ctx,
                bytes.as_ptr() as *mut c_void,
                bytes.len() as u32,
                flags,
                null_mut(),
            )
        },
        "rknn_init",
    );
    ctx
}

/// Input 0's byte size as uint8 NHWC.
fn input_len(ctx: rknn_context) -> usize {
    let mut a = rknn_tensor_attr::default();
    // SAFETY: a writable struct of the given size.
    check(
        unsafe {
            rknn_query(
                ctx,
                RKNN_QUERY_INPUT_ATTR,
                (&mut a as *mut rknn_tensor_attr).cast(),
                std::mem::size_of::<rknn_tensor_attr>() as u32,
            )
        },
        "query",
    );
    a.n_elems as usize
}

/// inputs_set + run + outputs_get + release; returns the `rknn_run` time.
fn infer(ctx: rknn_context, x: &mut [u8]) -> Duration {
    let mut inp = rknn_input {
        index: 0,
        buf: x.as_mut_ptr().cast(),
        size: x.len() as u32,
        r#type: RKNN_TENSOR_UINT8,
        fmt: RKNN_TENSOR_NHWC,
        ..Default::default()
    };
    let mut out = rknn_output {
        index: 0,
        want_float: 1,
        ..Default::default()
    };
    // SAFETY: valid structs whose buffers outlive the calls.
    unsafe {
        check(rknn_inputs_set(ctx, 1, &mut inp), "inputs_set");
        let t = Instant::now();
        check(rknn_run(ctx, null_mut()), "run");
        let run = t.elapsed();
        check(
            rknn_outputs_get(ctx, 1, &mut out, null_mut()),
            "outputs_get",
        );
        check(rknn_outputs_release(ctx, 1, &mut out), "outputs_release");
        run
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("resnet18", String::as_str);
    let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let bytes = model_bytes(name);
    let base = init(&bytes, 0);
    let len = input_len(base);
    println!(
        "model: {name} int8 ({} KiB), {} CPUs, {rounds} rounds",
        bytes.len() / 1024,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    // Warm up (and calibrate the run count to about 1 s per round).
    let mut x = vec![7u8; len];
    let t = Instant::now();
    let mut warm = 0;
    while t.elapsed() < Duration::from_millis(500) {
        infer(base, &mut x);
        warm += 1;
    }
    let per_thread = (warm * 2).max(4);

    println!("\n1. throughput with dup'ed contexts ({per_thread} runs per thread per round)");
    let mut single = 0.0;
    for threads in [1usize, 2, 4] {
        let ctxs: Vec<rknn_context> = (0..threads)
            .map(|_| {
                let (mut src, mut dup) = (base, 0);
                // SAFETY: valid handle storage.
                check(unsafe { rknn_dup_context(&mut src, &mut dup) }, "dup");
                dup
            })
            .collect();
        let rates: Vec<f64> = (0..rounds)
            .map(|_| {
                let t = Instant::now();
                std::thread::scope(|s| {
                    for (k, &ctx) in ctxs.iter().enumerate() {
                        s.spawn(move || {
                            let mut x: Vec<u8> = (0..len).map(|i| (i * 7 + k) as u8).collect();
                            for _ in 0..per_thread {
                                infer(ctx, &mut x);
                            }
                        });
                    }
                });
                (threads * per_thread) as f64 / t.elapsed().as_secs_f64()
            })
            .collect();
        let m = median(rates);
        if threads == 1 {
            single = m;
        }
        println!(
            "   {threads} thread(s): {m:8.1} runs/s  ({:.2}x one thread)",
            m / single
        );
        for c in ctxs {
            check(rknn_destroy(c), "destroy");
        }
    }

    println!("\n2. one context, core mask AUTO vs ALL (median rknn_run time)");
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for (k, mask) in [RKNN_NPU_CORE_AUTO, RKNN_NPU_CORE_ALL]
            .into_iter()
            .enumerate()
        {
            check(rknn_set_core_mask(base, mask), "set_core_mask");
            let run: Duration = (0..per_thread).map(|_| infer(base, &mut x)).sum();
            times[k].push(run.as_secs_f64() * 1e6 / per_thread as f64);
        }
    }
    let auto = median(times[0].clone());
    let all = median(times[1].clone());
    println!(
        "   AUTO (1 thread): {auto:9.1} us   ALL: {all:9.1} us   AUTO/ALL {:.2}x",
        auto / all
    );
    check(
        rknn_set_core_mask(base, RKNN_NPU_CORE_AUTO),
        "set_core_mask",
    );

    println!(
        "\n3. RKNN_FLAG_COLLECT_PERF_MASK on rknn_run (median rknn_run time, runs alternating)"
    );
    let perf = init(&bytes, RKNN_FLAG_COLLECT_PERF_MASK);
    let mut plain_t = Vec::new();
    let mut perf_t = Vec::new();
    for _ in 0..rounds * per_thread {
        plain_t.push(infer(base, &mut x).as_secs_f64() * 1e6);
        perf_t.push(infer(perf, &mut x).as_secs_f64() * 1e6);
    }
    let (p0, p1) = (median(plain_t), median(perf_t));
    println!(
        "   without: {p0:9.1} us   with: {p1:9.1} us   ratio {:.3}",
        p1 / p0
    );
    check(rknn_destroy(perf), "destroy");
    check(rknn_destroy(base), "destroy");
}
