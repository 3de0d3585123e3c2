//! Whole graphs against onnxruntime: the vendor fixture models
//! (`../shared/fixtures/vendor`) rebuilt with the `ModelBuilder` from the
//! compact descriptions in `tests/golden/graphs/` (made by
//! `gen_graphs.py`), saved as `.rknn`, loaded and run through the C API,
//! and compared with the fixtures' recorded onnxruntime outputs:
//!
//! * float32 build: max |err| <= 1e-4 of the output's value range;
//! * fp16 build (`quantize::to_fp16`): cosine >= 0.9999 and max |err|
//!   within a few fp16 steps of the output's magnitude;
//! * int8 build (`quantize::quantize_int8`): cosine >= 0.99.
//!
//! Int8 calibration, the simplest honest way with what the runtime exposes:
//! the float graph is rebuilt with every node output also marked as a model
//! output, that "calibration model" is run through the C API on the
//! fixture's four calibration samples (`calib/*.npy`), and each tensor's
//! min/max over the samples becomes its `QuantConfig` range. The model
//! inputs' ranges come straight from the calibration data (after mean/std
//! where the model declares them). Outputs of MaxPool, Flatten and nearest
//! Resize get no range: the quantizer gives them their input's parameters,
//! as a calibrating compiler would.
//!
//! tiny_cnn declares mean/std: its raw 0..255 inputs go through
//! `rknn_inputs_set` as float32 NCHW and the runtime normalizes them.
//!
//! `cargo test -p rknn-toolchain --test graph_golden -- --nocapture`
//! prints the per-model cosines.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rknn_toolchain::placement::{self, Int8Support};
use rknn_toolchain::quantize::{quantize_int8, to_fp16, QuantConfig};
use rknn_toolchain::{
    BuiltModel, ConstData, ConvParams, GemmParams, ModelBuilder, PoolParams, ResizeParams, Weights,
};
use rknnrt::graph::{CoordMode, DType, NearestMode, ResizeMode, TensorId};
use rknnrt::platform::Platform;
use serde_json::Value;

use common::{
    cosine, max_abs_err, read_npy, run_f32, value_range, vendor_fixtures, Input, Session,
};

/// Test samples per fixture (`inputs/s<k>_*.npy`).
const SAMPLES: usize = 2;
/// Calibration samples per fixture (`calib/c<k>_*.npy`).
const CALIB: usize = 4;

fn golden_dir() -> PathBuf {
    common::repo_root().join("tests/golden/graphs")
}

/// A fixture model as `gen_graphs.py` describes it.
struct Desc {
    name: String,
    inputs: Vec<(String, Vec<usize>)>,
    outputs: Vec<String>,
    mean_std: Option<(Vec<f32>, Vec<f32>)>,
    nodes: Vec<Value>,
    weights: Vec<f32>,
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|x| x.as_u64().expect("unsigned integer") as usize)
        .collect()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn load(name: &str) -> Desc {
    let dir = golden_dir();
    let text = std::fs::read_to_string(dir.join(format!("{name}.json")))
        .unwrap_or_else(|e| panic!("{name}.json: {e}"));
    let j: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}.json: {e}"));
    let bin = std::fs::read(dir.join(format!("{name}.bin"))).expect("weights file");
    assert_eq!(bin.len() % 4, 0, "{name}.bin holds float32 values");
    let weights = bin
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mean_std = match (&j["mean"], &j["std"]) {
        (Value::Null, Value::Null) => None,
        (m, s) => Some((floats(m), floats(s))),
    };
    Desc {
        name: name.to_string(),
        inputs: j["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|i| {
                (
                    i["name"].as_str().expect("input name").to_string(),
                    usizes(&i["shape"]),
                )
            })
            .collect(),
        outputs: j["outputs"]
            .as_array()
            .expect("outputs")
            .iter()
            .map(|o| o.as_str().expect("output name").to_string())
            .collect(),
        mean_std,
        nodes: j["nodes"].as_array().expect("nodes").clone(),
        weights,
    }
}

impl Desc {
    /// The constant `{"offset", "shape"}` as builder weights.
    fn weights(&self, r: &Value) -> Weights {
        let shape = usizes(&r["shape"]);
        let at = r["offset"].as_u64().expect("offset") as usize;
        let n: usize = shape.iter().product();
        Weights::new(&shape, self.weights[at..at + n].to_vec()).expect("weights shape")
    }

    fn optional(&self, r: &Value) -> Option<Weights> {
        (!r.is_null()).then(|| self.weights(r))
    }
}

/// The float model, plus what int8 calibration needs.
struct Graphs {
    /// The float32 model.
    model: BuiltModel,
    /// The same graph with every node output also a model output (after
    /// the real outputs).
    calib_model: BuiltModel,
    /// Model input tensors, in order.
    inputs: Vec<TensorId>,
    /// Tensors that get a calibrated range, as
    /// `(tensor, index among calib_model's outputs)`.
    calibrated: Vec<(TensorId, usize)>,
}

fn pair(v: &Value) -> [usize; 2] {
    let u = usizes(v);
    [u[0], u[1]]
}

fn quad(v: &Value) -> [usize; 4] {
    let u = usizes(v);
    [u[0], u[1], u[2], u[3]]
}

fn coord_mode(s: &str) -> CoordMode {
    match s {
        "half_pixel" => CoordMode::HalfPixel,
        "pytorch_half_pixel" => CoordMode::PytorchHalfPixel,
        "align_corners" => CoordMode::AlignCorners,
        "asymmetric" => CoordMode::Asymmetric,
        other => panic!("coordinate mode {other}"),
    }
}

fn nearest_mode(s: &str) -> NearestMode {
    match s {
        "round_prefer_floor" => NearestMode::RoundPreferFloor,
        "round_prefer_ceil" => NearestMode::RoundPreferCeil,
        "floor" => NearestMode::Floor,
        "ceil" => NearestMode::Ceil,
        other => panic!("nearest mode {other}"),
    }
}

fn build(d: &Desc) -> Graphs {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let mut t: HashMap<String, TensorId> = HashMap::new();
    let mut inputs = Vec::new();
    for (name, shape) in &d.inputs {
        let id = b.input(name, shape).expect("input");
        t.insert(name.clone(), id);
        inputs.push(id);
    }
    if let Some((mean, std)) = &d.mean_std {
        b.mean_std(inputs[0], mean, std).expect("mean/std");
    }
    // Node outputs in order, and whether their int8 parameters are
    // inherited from the input (no calibrated range).
    let mut produced: Vec<(TensorId, bool)> = Vec::new();
    for n in &d.nodes {
        let op = n["op"].as_str().expect("op");
        let ins: Vec<TensorId> = n["inputs"]
            .as_array()
            .expect("node inputs")
            .iter()
            .map(|i| t[i.as_str().expect("input name")])
            .collect();
        let x = ins[0];
        let out = match op {
            "conv" => b.conv2d(
                x,
                d.weights(&n["w"]),
                d.optional(&n["b"]).map(|w| w.data().to_vec()),
                ConvParams {
                    stride: pair(&n["stride"]),
                    pads: quad(&n["pads"]),
                    dilation: pair(&n["dilation"]),
                    group: n["group"].as_u64().expect("group") as usize,
                    activation: None,
                },
            ),
            "gemm" => b.gemm(
                x,
                d.weights(&n["w"]),
                d.optional(&n["b"]),
                GemmParams {
                    alpha: n["alpha"].as_f64().expect("alpha") as f32,
                    beta: n["beta"].as_f64().expect("beta") as f32,
                    trans_a: n["trans_a"].as_bool().expect("trans_a"),
                    trans_b: n["trans_b"].as_bool().expect("trans_b"),
                    activation: None,
                },
            ),
            "matmul" => {
                let w = d.weights(&n["w"]);
                let name = format!("{}_b", n["output"].as_str().expect("output"));
                let c = b
                    .constant(&name, w.shape(), ConstData::F32(w.data().to_vec()))
                    .expect("matmul constant");
                b.matmul(x, c)
            }
            "add" => b.add(x, ins[1]),
            "relu" => b.relu(x),
            "sigmoid" => b.sigmoid(x),
            "leaky_relu" => b.leaky_relu(x, n["alpha"].as_f64().expect("alpha") as f32),
            "maxpool" | "avgpool" => {
                let p = PoolParams {
                    kernel: pair(&n["kernel"]),
                    stride: pair(&n["stride"]),
                    pads: quad(&n["pads"]),
                    ceil_mode: n["ceil_mode"].as_bool().expect("ceil_mode"),
                };
                if op == "maxpool" {
                    b.max_pool2d(x, p)
                } else {
                    let include = n["count_include_pad"].as_bool().expect("count_include_pad");
                    b.avg_pool2d(x, p, include)
                }
            }
            "global_avgpool" => b.global_avg_pool(x),
            "flatten" => b.flatten(x, n["axis"].as_u64().expect("axis") as usize),
            "softmax" => b.softmax(x, n["axis"].as_i64().expect("axis") as isize),
            "concat" => b.concat(&ins, n["axis"].as_i64().expect("axis") as isize),
            "resize" => {
                assert_eq!(n["mode"], "nearest", "only nearest resizes in the fixtures");
                b.resize(
                    x,
                    pair(&n["size"]),
                    ResizeParams {
                        mode: ResizeMode::Nearest,
                        coord: coord_mode(n["coord"].as_str().expect("coord")),
                        nearest: nearest_mode(n["nearest"].as_str().expect("nearest")),
                    },
                )
            }
            other => panic!("{}: unknown op {other}", d.name),
        }
        .unwrap_or_else(|e| panic!("{}: {op}: {e}", d.name));
        let name = n["output"].as_str().expect("output");
        b.set_name(out, name).expect("unique tensor name");
        t.insert(name.to_string(), out);
        produced.push((out, matches!(op, "maxpool" | "flatten" | "resize")));
    }
    let outputs: Vec<TensorId> = d.outputs.iter().map(|o| t[o]).collect();
    for &o in &outputs {
        b.output(o).expect("output");
    }
    let model = b.build().expect("float model");

    let mut calib = b.clone();
    let mut calibrated = Vec::new();
    let mut next = outputs.len();
    for &(tensor, inherits) in &produced {
        let index = match outputs.iter().position(|&o| o == tensor) {
            Some(i) => i,
            None => {
                calib.output(tensor).expect("extra output");
                next += 1;
                next - 1
            }
        };
        if !inherits {
            calibrated.push((tensor, index));
        }
    }
    Graphs {
        model,
        calib_model: calib.build().expect("calibration model"),
        inputs,
        calibrated,
    }
}

/// Sample `k` of `dir` (`inputs` or `calib`): one float32 NCHW tensor per
/// model input.
fn sample(d: &Desc, dir: &str, prefix: char, k: usize) -> Vec<Vec<f32>> {
    let base = vendor_fixtures().join(&d.name).join(dir);
    d.inputs
        .iter()
        .map(|(name, shape)| {
            let a = read_npy(&base.join(format!("{prefix}{k}_{name}.npy")));
            assert_eq!(&a.shape, shape, "{}: {dir} sample {k} of {name}", d.name);
            a.data
        })
        .collect()
}

/// onnxruntime's outputs for test sample `k`.
fn reference(d: &Desc, k: usize) -> Vec<Vec<f32>> {
    let base = vendor_fixtures().join(&d.name).join("ort");
    d.outputs
        .iter()
        .map(|o| read_npy(&base.join(format!("s{k}_{o}.npy"))).data)
        .collect()
}

/// `(x - mean[c]) / std[c]` over NCHW data, as the runtime pre-processes.
fn normalize(x: &[f32], shape: &[usize], mean: &[f32], std: &[f32]) -> Vec<f32> {
    let plane: usize = shape[2..].iter().product();
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = (i / plane) % shape[1];
            (v - mean[c]) / std[c]
        })
        .collect()
}

/// Min/max of every calibrated tensor (and of the inputs) over the
/// calibration samples, run through the calibration model.
fn calibrate(d: &Desc, g: &Graphs) -> QuantConfig {
    let model = g.calib_model.write().expect("calibration model bytes");
    let mut lo = vec![f32::INFINITY; g.calibrated.len() + g.inputs.len()];
    let mut hi = vec![f32::NEG_INFINITY; lo.len()];
    let mut widen = |slot: usize, v: &[f32]| {
        for &x in v {
            lo[slot] = lo[slot].min(x);
            hi[slot] = hi[slot].max(x);
        }
    };
    for k in 0..CALIB {
        let xs = sample(d, "calib", 'c', k);
        let outs = run_f32(&model, &xs);
        for (slot, &(_, index)) in g.calibrated.iter().enumerate() {
            widen(slot, &outs[index]);
        }
        for (i, x) in xs.iter().enumerate() {
            let v = match (&d.mean_std, i) {
                (Some((mean, std)), 0) => normalize(x, &d.inputs[0].1, mean, std),
                _ => x.clone(),
            };
            widen(g.calibrated.len() + i, &v);
        }
    }
    let tensors = g
        .calibrated
        .iter()
        .map(|&(t, _)| t)
        .chain(g.inputs.iter().copied());
    tensors
        .enumerate()
        .fold(QuantConfig::new(), |cfg, (slot, t)| {
            cfg.range(t, lo[slot], hi[slot])
        })
}

/// Writes `model` to a temporary `.rknn` file, loads it by path through
/// `rknn_init` and runs every test sample through the C API.
fn run_saved(d: &Desc, model: &BuiltModel, tag: &str) -> Vec<Vec<Vec<f32>>> {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "graph_golden_{}_{}_{tag}.rknn",
        std::process::id(),
        d.name
    ));
    model.save(&path).expect("save");
    let session = Session::from_path(&path).unwrap_or_else(|e| panic!("rknn_init: {e}"));
    assert_eq!(session.n_outputs(), d.outputs.len(), "{}: outputs", d.name);
    for (i, want) in d.outputs.iter().enumerate() {
        let attr = session
            .attr(rknnrt::abi::RKNN_QUERY_OUTPUT_ATTR, i as u32)
            .expect("output attr");
        let name: Vec<u8> = attr
            .name
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        assert_eq!(name, want.as_bytes(), "{}: output {i} name", d.name);
    }
    let outs = (0..SAMPLES)
        .map(|k| {
            let mut xs: Vec<Input> = sample(d, "inputs", 's', k)
                .into_iter()
                .map(Input::F32)
                .collect();
            session
                .infer(&mut xs)
                .unwrap_or_else(|e| panic!("{} sample {k}: error {e}", d.name))
        })
        .collect();
    drop(session);
    std::fs::remove_file(&path).expect("remove temporary model");
    outs
}

/// Worst cosine and worst error relative to the reference range over every
/// sample and output.
struct Score {
    cosine: f64,
    rel_err: f32,
}

fn score(d: &Desc, got: &[Vec<Vec<f32>>]) -> Score {
    let mut s = Score {
        cosine: 1.0,
        rel_err: 0.0,
    };
    for (k, outs) in got.iter().enumerate() {
        let want = reference(d, k);
        assert_eq!(outs.len(), want.len(), "{}: output count", d.name);
        for (o, (g, w)) in outs.iter().zip(&want).enumerate() {
            assert_eq!(g.len(), w.len(), "{}: output {o} size", d.name);
            s.cosine = s.cosine.min(cosine(g, w));
            s.rel_err = s.rel_err.max(max_abs_err(g, w) / value_range(w));
        }
    }
    s
}

/// fp16 steps the fp16 build may be off by, relative to the output's
/// value range: fp16 keeps 11 significant bits, so one step at the range's
/// magnitude is at most `range * 2^-10`; inputs, weights, intermediates
/// and outputs are each rounded, so a few steps bound the error.
const FP16_STEPS: f32 = 4.0;

fn check(name: &str) {
    let d = load(name);
    let g = build(&d);

    let f32_score = score(&d, &run_saved(&d, &g.model, "f32"));
    assert!(
        f32_score.rel_err <= 1e-4,
        "{name} f32: max |err| {} of the output range",
        f32_score.rel_err
    );

    let half = to_fp16(&g.model).expect("fp16 model");
    let f16_score = score(&d, &run_saved(&d, &half, "fp16"));
    let bound = FP16_STEPS * (2f32).powi(-10);
    assert!(
        f16_score.cosine >= 0.9999,
        "{name} fp16: cosine {}",
        f16_score.cosine
    );
    assert!(
        f16_score.rel_err <= bound,
        "{name} fp16: max |err| {} of the range, bound {bound}",
        f16_score.rel_err
    );

    let cfg = calibrate(&d, &g);
    let int8 = quantize_int8(&g.model, &cfg).unwrap_or_else(|e| panic!("{name} int8: {e}"));
    for n in &int8.graph.nodes {
        if placement::rule(&n.op).int8 == Int8Support::Compute {
            let dtype = int8.graph.tensors[n.inputs[0]].dtype;
            assert_eq!(dtype, DType::I8, "{name}: {} runs in int8", n.name);
        }
    }
    let i8_score = score(&d, &run_saved(&d, &int8, "int8"));
    println!(
        "{name:18} f32 err/range {:.2e}  fp16 cos {:.7} err/range {:.2e}  int8 cos {:.5} err/range {:.3}",
        f32_score.rel_err, f16_score.cosine, f16_score.rel_err, i8_score.cosine, i8_score.rel_err
    );
    assert!(
        i8_score.cosine >= 0.99,
        "{name} int8: cosine {}",
        i8_score.cosine
    );
}

macro_rules! golden {
    ($($name:ident),* $(,)?) => {
        /// Every model tested here.
        const MODELS: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*
    };
}

golden!(
    tiny_cnn,
    conv3x3,
    conv_relu,
    conv1x1,
    conv_64x64,
    conv_depthwise,
    conv_stride2,
    add_convs,
    maxpool,
    avgpool,
    global_avgpool,
    gemm,
    matmul,
    concat,
    sigmoid_leakyrelu,
    resize_nearest2x,
    multi_io,
);

#[test]
fn every_description_is_tested() {
    let mut files: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("golden dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    files.sort();
    let mut tested: Vec<String> = MODELS.iter().map(|s| s.to_string()).collect();
    tested.sort();
    assert_eq!(files, tested);
}

#[test]
fn tiny_cnn_folds_batchnorm_and_keeps_mean_std() {
    let d = load("tiny_cnn");
    let ops: Vec<&str> = d.nodes.iter().map(|n| n["op"].as_str().unwrap()).collect();
    assert_eq!(
        ops,
        [
            "conv",
            "relu",
            "maxpool",
            "conv",
            "relu",
            "global_avgpool",
            "flatten",
            "gemm",
            "softmax"
        ]
    );
    let g = build(&d);
    assert_eq!(g.model.preprocess[0].mean, vec![123.675, 116.28, 103.53]);
    assert_eq!(g.model.preprocess[0].std, vec![58.395, 57.12, 57.375]);
    // Raw 0..255 pixels in, so the model really normalizes.
    let x = sample(&d, "inputs", 's', 0);
    assert!(x[0].iter().any(|&v| v > 100.0));
    assert!(x[0]
        .iter()
        .all(|&v| v.fract() == 0.0 && (0.0..=255.0).contains(&v)));
}
