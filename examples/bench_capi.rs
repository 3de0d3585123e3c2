//! Measures the C API's fixed costs (a benchmark, not a test):
//!
//! * (a) `rknn_run` overhead on a 1-op model (median µs);
//! * (c) `rknn_init` time for a model with 20 MB of weights, from a path
//!   (mapped, weights used in place) and from a buffer (copied once).
//!
//! When Python with `onnx` and `onnxruntime` is available, the same two
//! measurements are taken for onnxruntime in the same run and ratios are
//! printed.
//!
//! Run: `cargo run --release --example bench_capi`

use std::ffi::{c_void, CString};
use std::process::Command;
use std::ptr::null_mut;
use std::time::{Duration, Instant};

use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::graph::{Activation, DType, Graph, Node, Op, Storage, Target, TensorInfo, Window};
use rknnrt::model::{InputPreprocess, ModelMeta};
use rknnrt::platform::Platform;

fn meta(graph: Graph) -> ModelMeta {
    ModelMeta {
        preprocess: vec![InputPreprocess::default(); graph.inputs.len()],
        graph,
        platform: Platform::Rk3588,
        custom_string: String::new(),
        producer: "bench_capi".into(),
        internal_size: 0,
        batch_size: 1,
        shape_sets: Vec::new(),
    }
}

fn relu_model() -> Vec<u8> {
    let mut g = Graph::default();
    let x = g.add_tensor(TensorInfo::activation("x", vec![1, 16], DType::F32));
    let y = g.add_tensor(TensorInfo::activation("y", vec![1, 16], DType::F32));
    g.inputs.push(x);
    g.outputs.push(y);
    g.add_node(Node {
        name: "relu".into(),
        op: Op::Unary {
            act: Activation::Relu,
        },
        inputs: vec![x],
        outputs: vec![y],
        target: Target::Npu,
    });
    rknnrt::model::write(&meta(g), &[])
}

const BIG_CIN: usize = 2560;
const BIG_COUT: usize = 2048;

fn big_model() -> Vec<u8> {
    let mut g = Graph::default();
    let x = g.add_tensor(TensorInfo::activation(
        "x",
        vec![1, BIG_CIN, 1, 1],
        DType::F32,
    ));
    let len = (BIG_COUT * BIG_CIN * 4) as u64;
    let mut w = TensorInfo::activation("w", vec![BIG_COUT, BIG_CIN, 1, 1], DType::F32);
    w.storage = Storage::Weight { offset: 0, len };
    let w = g.add_tensor(w);
    let y = g.add_tensor(TensorInfo::activation(
        "y",
        vec![1, BIG_COUT, 1, 1],
        DType::F32,
    ));
    g.inputs.push(x);
    g.outputs.push(y);
    g.add_node(Node {
        name: "fc".into(),
        op: Op::Conv {
            window: Window {
                kernel: [1, 1],
                stride: [1, 1],
                pads: [0; 4],
                dilation: [1, 1],
            },
            group: 1,
            activation: None,
        },
        inputs: vec![x, w],
        outputs: vec![y],
        target: Target::Npu,
    });
    let weights: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    rknnrt::model::write(&meta(g), &weights)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn check(r: i32, what: &str) {
    assert_eq!(r, RKNN_SUCC, "{what} failed: {r}");
}

fn init(model: *mut c_void, size: u32) -> rknn_context {
    let mut ctx: rknn_context = 0;
    // SAFETY: `model` is a path (size 0) or `size` readable bytes.
    check(
        unsafe { rknn_init(&mut ctx, model, size, 0, null_mut()) },
        "rknn_init",
    );
    ctx
}

fn run_overhead() -> Duration {
    let mut model = relu_model();
    let ctx = init(model.as_mut_ptr().cast(), model.len() as u32);
    let mut x = [1.0f32; 16];
    let mut inp = rknn_input {
        buf: x.as_mut_ptr().cast(),
        size: 64,
        r#type: RKNN_TENSOR_FLOAT32,
        fmt: RKNN_TENSOR_UNDEFINED,
        ..Default::default()
    };
    // SAFETY: one valid input.
    check(
        unsafe { rknn_inputs_set(ctx, 1, &mut inp) },
        "rknn_inputs_set",
    );
    let mut times = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        // SAFETY: plain call.
        check(unsafe { rknn_run(ctx, null_mut()) }, "rknn_run");
        times.push(t.elapsed());
    }
    check(rknn_destroy(ctx), "rknn_destroy");
    median(times)
}

fn init_times(path: &CString, bytes: &mut [u8]) -> (Duration, Duration) {
    let mut from_path = Vec::new();
    let mut from_buf = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        let ctx = init(path.as_ptr() as *mut c_void, 0);
        from_path.push(t.elapsed());
        check(rknn_destroy(ctx), "rknn_destroy");
        let t = Instant::now();
        let ctx = init(bytes.as_mut_ptr().cast(), bytes.len() as u32);
        from_buf.push(t.elapsed());
        check(rknn_destroy(ctx), "rknn_destroy");
    }
    (median(from_path), median(from_buf))
}

const ORT_SCRIPT: &str = r#"
import sys, time, statistics, numpy as np, onnx, onnxruntime as ort
from onnx import helper, TensorProto, numpy_helper
cin, cout, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
so = ort.SessionOptions(); so.intra_op_num_threads = 1
relu = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])]),
    ir_version=8, opset_imports=[helper.make_opsetid("", 13)])
s = ort.InferenceSession(relu.SerializeToString(), so, providers=["CPUExecutionProvider"])
x = {"x": np.ones((1, 16), np.float32)}
t = []
for _ in range(2000):
    a = time.perf_counter(); s.run(None, x); t.append(time.perf_counter() - a)
print("run_us", statistics.median(t) * 1e6)
w = numpy_helper.from_array(np.zeros((cout, cin, 1, 1), np.float32), "w")
big = helper.make_model(helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, 1, 1])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, 1, 1])], [w]),
    ir_version=8, opset_imports=[helper.make_opsetid("", 13)])
onnx.save(big, path)
t = []
for _ in range(15):
    a = time.perf_counter(); ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]); t.append(time.perf_counter() - a)
print("init_ms", statistics.median(t) * 1e3)
"#;

fn ort_peer(dir: &std::path::Path) -> Option<(f64, f64)> {
    let onnx_path = dir.join("big.onnx");
    let out = Command::new("python3")
        .args(["-c", ORT_SCRIPT])
        .arg(BIG_CIN.to_string())
        .arg(BIG_COUT.to_string())
        .arg(&onnx_path)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "onnxruntime peer unavailable: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |key: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
    };
    Some((value("run_us")?, value("init_ms")?))
}

fn main() {
    let dir = std::env::temp_dir().join(format!("rknnrt-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    let run = run_overhead();
    let mut big = big_model();
    let path = dir.join("big.rknn");
    std::fs::write(&path, &big).expect("write model");
    let cpath = CString::new(path.to_str().expect("utf-8 path")).expect("path");
    let (init_path, init_buf) = init_times(&cpath, &mut big);
    let weights_mb = (BIG_COUT * BIG_CIN * 4) as f64 / 1e6;

    println!(
        "(a) rknn_run overhead, 1-op model: median {:.2} us",
        run.as_secs_f64() * 1e6
    );
    println!(
        "(c) rknn_init, {weights_mb:.1} MB of weights: from path (mmap) median {:.3} ms, from buffer (one copy) median {:.3} ms",
        init_path.as_secs_f64() * 1e3,
        init_buf.as_secs_f64() * 1e3
    );
    if let Some((ort_run_us, ort_init_ms)) = ort_peer(&dir) {
        println!(
            "onnxruntime (same run): session.run 1-op median {ort_run_us:.2} us (ratio rknnrt/ort {:.3}); InferenceSession init {ort_init_ms:.3} ms (ratio rknnrt path/ort {:.3})",
            run.as_secs_f64() * 1e6 / ort_run_us,
            init_path.as_secs_f64() * 1e3 / ort_init_ms
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
