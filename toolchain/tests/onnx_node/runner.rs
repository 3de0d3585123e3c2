//! The ONNX backend node-test runner, shared by the integration test
//! (`tests/onnx_node/main.rs`) and the report example
//! (`examples/onnx_node_report.rs`).
//!
//! Each case of `onnx/backend/test/data/node/<case>/` whose name belongs
//! to a supported op is imported, built as fp32 and as fp16
//! (`quantize::to_fp16`), run through the C API on the host device and
//! compared with `test_data_set_*/output_*.pb`.
//!
//! Tolerances, element-wise on float outputs (`e` expected, `a` actual,
//! `m = max(1, max |e|)` over the output):
//!
//! * fp32: `|a - e| <= 1e-5 * m + 1e-4 * |e|`
//! * fp16: `|a - e| <= 1e-2 * m + 1e-2 * |e|` (inputs, weights and every
//!   intermediate are rounded to fp16, 11 significant bits)
//!
//! NaN must match NaN and infinities must match exactly. Integer and bool
//! outputs must be equal.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr::null_mut;

use prost::Message;
use rknn_toolchain::onnx::{self, decode_tensor, ImportOptions, Tensor};
use rknn_toolchain::quantize::to_fp16;
use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::graph::DType;
use rknnrt::platform::Platform;

/// Cases that run but differ from the test data, with the reason (not
/// importer bugs): (case, fp16?, reason).
pub const KNOWN: &[(&str, bool, &str)] = &[
    (
        "test_averagepool_2d_ceil_last_window_starts_on_pad",
        false,
        "the expected value is rounded to 4 digits in the test data (0.1511; the exact mean of the window, sum / 9, is 0.151055)",
    ),
    (
        "test_softmax_large_number",
        true,
        "inputs around 2000 are not distinct in fp16",
    ),
    (
        "test_softmax_large_number_expanded",
        true,
        "inputs around 2000 are not distinct in fp16",
    ),
    (
        "test_softmax_large_number_expanded_ver18",
        true,
        "inputs around 2000 are not distinct in fp16",
    ),
];

/// Case-name prefixes of each supported op (`test_<prefix>` followed by
/// `_` or the end). The longest matching prefix over all ops wins; the
/// `None` entries claim cases of other ops that share a prefix.
pub const PREFIXES: &[(&str, Option<&str>)] = &[
    ("add", Some("Add")),
    ("argmax", Some("ArgMax")),
    ("averagepool", Some("AveragePool")),
    ("batchnorm", Some("BatchNormalization")),
    ("cast", Some("Cast")),
    ("castlike", Some("CastLike")),
    ("clip", Some("Clip")),
    ("concat", Some("Concat")),
    ("constant", Some("Constant")),
    ("constant_pad", Some("Pad")),
    ("constantofshape", Some("ConstantOfShape")),
    ("conv", Some("Conv")),
    ("basic_conv", Some("Conv")),
    ("convtranspose", Some("ConvTranspose")),
    ("dequantizelinear", Some("DequantizeLinear")),
    ("div", Some("Div")),
    ("dropout", Some("Dropout")),
    ("edge_pad", Some("Pad")),
    ("exp", Some("Exp")),
    ("expand", Some("Expand")),
    ("flatten", Some("Flatten")),
    ("gather", Some("Gather")),
    ("gather_elements", None),
    ("gelu", Some("Gelu")),
    ("gemm", Some("Gemm")),
    ("globalaveragepool", Some("GlobalAveragePool")),
    ("globalmaxpool", Some("GlobalMaxPool")),
    ("hardsigmoid", Some("HardSigmoid")),
    ("hardswish", Some("HardSwish")),
    ("identity", Some("Identity")),
    ("layer_normalization", Some("LayerNormalization")),
    ("leakyrelu", Some("LeakyRelu")),
    ("matmul", Some("MatMul")),
    ("max", Some("Max")),
    ("maxpool", Some("MaxPool")),
    ("mean", Some("Mean")),
    ("min", Some("Min")),
    ("mul", Some("Mul")),
    ("neg", Some("Neg")),
    ("pad", Some("Pad")),
    ("pow", Some("Pow")),
    ("prelu", Some("PRelu")),
    ("quantizelinear", Some("QuantizeLinear")),
    ("range", Some("Range")),
    ("reduce_max", Some("ReduceMax")),
    ("reduce_mean", Some("ReduceMean")),
    ("reduce_sum", Some("ReduceSum")),
    ("reduce_sum_square", None),
    ("reciprocal", Some("Reciprocal")),
    ("reflect_pad", Some("Pad")),
    ("relu", Some("Relu")),
    ("reshape", Some("Reshape")),
    ("resize", Some("Resize")),
    ("shape", Some("Shape")),
    ("sigmoid", Some("Sigmoid")),
    ("size", Some("Size")),
    ("slice", Some("Slice")),
    ("softmax", Some("Softmax")),
    ("split", Some("Split")),
    ("split_to_sequence", None),
    ("sqrt", Some("Sqrt")),
    ("squeeze", Some("Squeeze")),
    ("sub", Some("Sub")),
    ("sum", Some("Sum")),
    ("tanh", Some("Tanh")),
    ("transpose", Some("Transpose")),
    ("unsqueeze", Some("Unsqueeze")),
    ("upsample", Some("Upsample")),
    ("wrap_pad", Some("Pad")),
];

/// The supported op a case tests, if any.
pub fn op_of(case: &str) -> Option<&'static str> {
    let rest = case.strip_prefix("test_")?;
    PREFIXES
        .iter()
        .filter(|(p, _)| {
            rest.strip_prefix(p)
                .is_some_and(|t| t.is_empty() || t.starts_with('_'))
        })
        .max_by_key(|(p, _)| p.len())
        .and_then(|(_, op)| *op)
}

/// Result of one case at one precision.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Outputs within tolerance.
    Pass,
    /// The compiler refused the case with this error.
    Refused(String),
    /// Ran, but the runtime failed or the outputs differ.
    Fail(String),
}

/// Results of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// Case directory name.
    pub case: String,
    /// Supported op it belongs to.
    pub op: &'static str,
    /// fp32 build.
    pub fp32: Outcome,
    /// fp16 build.
    pub fp16: Outcome,
}

/// The `node/` directory: `RKNNRT_ONNX_NODE_DIR`, else the installed
/// `onnx` Python package's test data.
pub fn node_dir() -> Result<PathBuf, String> {
    if let Ok(d) = std::env::var("RKNNRT_ONNX_NODE_DIR") {
        let p = PathBuf::from(d);
        return if p.is_dir() {
            Ok(p)
        } else {
            Err(format!(
                "RKNNRT_ONNX_NODE_DIR={} is not a directory",
                p.display()
            ))
        };
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import onnx,os;print(os.path.dirname(onnx.__file__))"])
        .output()
        .map_err(|e| format!("cannot run python3 to locate the onnx package: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 cannot import onnx: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let p = Path::new(&root).join("backend/test/data/node");
    if p.is_dir() {
        Ok(p)
    } else {
        Err(format!(
            "{} does not exist (onnx wheels after 1.19 dropped the test data; pip install onnx==1.19.1)",
            p.display()
        ))
    }
}

/// Runs every case of a supported op under `dir`, sorted by name.
pub fn run_all(dir: &Path) -> Vec<CaseResult> {
    let mut cases: Vec<(String, &'static str)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    op_of(&name).map(|op| (name, op))
                })
                .collect()
        })
        .unwrap_or_default();
    cases.sort();
    cases
        .into_iter()
        .map(|(case, op)| {
            let (fp32, fp16) = match catch_unwind(AssertUnwindSafe(|| run_case(&dir.join(&case)))) {
                Ok(r) => r,
                Err(_) => {
                    let p = Outcome::Fail("PANIC".into());
                    (p.clone(), p)
                }
            };
            CaseResult {
                case,
                op,
                fp32,
                fp16,
            }
        })
        .collect()
}

/// Input slots an op needs as constants (shapes, axes, pads, scales,
/// bounds, statistics, quantization parameters). The node tests feed them
/// as graph inputs; the runner turns those into initializers holding the
/// test data, because rknnrt graphs are static.
const CONST_SLOTS: &[(&str, &[usize])] = &[
    ("BatchNormalization", &[1, 2, 3, 4]),
    ("Clip", &[1, 2]),
    ("ConstantOfShape", &[0]),
    ("DequantizeLinear", &[1, 2]),
    ("Dropout", &[1, 2]),
    ("Expand", &[1]),
    ("Pad", &[1, 2, 3]),
    ("QuantizeLinear", &[1, 2]),
    ("Range", &[0, 1, 2]),
    ("ReduceMax", &[1]),
    ("ReduceMean", &[1]),
    ("ReduceSum", &[1]),
    ("Reshape", &[1]),
    ("Resize", &[1, 2, 3]),
    ("Slice", &[1, 2, 3, 4]),
    ("Split", &[1]),
    ("Squeeze", &[1]),
    ("Unsqueeze", &[1]),
    ("Upsample", &[1]),
];

/// The ONNX data type number of `d`.
fn onnx_type(d: DType) -> i32 {
    match d {
        DType::F32 => 1,
        DType::U8 => 2,
        DType::I8 => 3,
        DType::U16 => 4,
        DType::I16 => 5,
        DType::I32 => 6,
        DType::I64 => 7,
        DType::Bool => 9,
        DType::F16 => 10,
        DType::U32 => 12,
    }
}

/// Moves the graph inputs in [`CONST_SLOTS`] into initializers; returns
/// the new model bytes and the remaining inputs.
fn freeze(bytes: &[u8], inputs: Vec<Tensor>) -> Result<(Vec<u8>, Vec<Tensor>), String> {
    let mut m = onnx::proto::ModelProto::decode(bytes).map_err(|e| e.to_string())?;
    let Some(g) = m.graph.as_mut() else {
        return Ok((bytes.to_vec(), inputs));
    };
    let inits: Vec<String> = g.initializer.iter().map(|t| t.name().to_string()).collect();
    let real: Vec<String> = g
        .input
        .iter()
        .map(|i| i.name().to_string())
        .filter(|n| !inits.contains(n))
        .collect();
    let mut frozen = Vec::new();
    for node in &g.node {
        if let Some((_, slots)) = CONST_SLOTS.iter().find(|(op, _)| *op == node.op_type()) {
            for &s in slots.iter() {
                if let Some(name) = node.input.get(s) {
                    if real.contains(name) && !frozen.contains(name) {
                        frozen.push(name.clone());
                    }
                }
            }
        }
    }
    if real.len() != inputs.len() {
        return Err(format!(
            "{} graph inputs, {} test inputs",
            real.len(),
            inputs.len()
        ));
    }
    let mut rest = Vec::new();
    for (name, t) in real.iter().zip(inputs) {
        if frozen.contains(name) {
            g.initializer.push(onnx::proto::TensorProto {
                name: Some(name.clone()),
                dims: t.shape.iter().map(|&d| d as i64).collect(),
                data_type: Some(onnx_type(t.dtype)),
                raw_data: Some(t.bytes.clone()),
                ..Default::default()
            });
        } else {
            rest.push(t);
        }
    }
    g.input.retain(|i| !frozen.contains(&i.name().to_string()));
    Ok((m.encode_to_vec(), rest))
}

/// Imports, builds and runs one case at both precisions.
pub fn run_case(case: &Path) -> (Outcome, Outcome) {
    let opts = ImportOptions::new(Platform::Rk3588);
    let prepared = load_set(&case.join("test_data_set_0")).and_then(|d| {
        let bytes = std::fs::read(case.join("model.onnx")).map_err(|e| e.to_string())?;
        let (bytes, inputs) = freeze(&bytes, d.inputs)?;
        Ok((
            bytes,
            DataSet {
                inputs,
                outputs: d.outputs,
            },
        ))
    });
    let (bytes, data) = match prepared {
        Ok(p) => p,
        Err(e) => {
            // Data this runner cannot read (double, 4-bit, float8 ...):
            // the compiler's verdict on the model decides.
            let f = match onnx::import(&case.join("model.onnx"), &opts) {
                Err(refusal) => Outcome::Refused(refusal.to_string()),
                Ok(_) => Outcome::Fail(format!("test data: {e}")),
            };
            return (f.clone(), f);
        }
    };
    let model = match onnx::import_bytes(&bytes, &opts) {
        Ok(m) => m,
        Err(e) => {
            let r = Outcome::Refused(e.to_string());
            return (r.clone(), r);
        }
    };
    let fp32 = run_built(model.write(), &data, false);
    let fp16 = match to_fp16(&model) {
        Ok(m) => run_built(m.write(), &data, true),
        Err(e) => Outcome::Refused(e.to_string()),
    };
    (fp32, fp16)
}

/// Inputs and expected outputs of one data set.
pub struct DataSet {
    inputs: Vec<Tensor>,
    outputs: Vec<Tensor>,
}

fn load_set(dir: &Path) -> Result<DataSet, String> {
    let load = |prefix: &str| -> Result<Vec<Tensor>, String> {
        let mut v = Vec::new();
        for i in 0.. {
            let p = dir.join(format!("{prefix}_{i}.pb"));
            if !p.exists() {
                break;
            }
            let bytes = std::fs::read(&p).map_err(|e| e.to_string())?;
            v.push(decode_tensor(&bytes).map_err(|e| format!("{}: {e}", p.display()))?);
        }
        Ok(v)
    };
    Ok(DataSet {
        inputs: load("input")?,
        outputs: load("output")?,
    })
}

fn run_built(
    bytes: Result<Vec<u8>, rknn_toolchain::BuildError>,
    data: &DataSet,
    half: bool,
) -> Outcome {
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    match execute(&bytes, &data.inputs) {
        Err(e) => Outcome::Fail(e),
        Ok(outs) => compare(&outs, &data.outputs, half),
    }
}

/// An output read back: its type and values.
pub struct Got {
    dtype: DType,
    dims: Vec<usize>,
    bytes: Vec<u8>,
}

fn attr(ctx: rknn_context, cmd: rknn_query_cmd, index: u32) -> Result<rknn_tensor_attr, String> {
    let mut a = rknn_tensor_attr {
        index,
        ..Default::default()
    };
    // SAFETY: `a` is a writable rknn_tensor_attr of the size given.
    let r = unsafe {
        rknn_query(
            ctx,
            cmd,
            &mut a as *mut _ as *mut c_void,
            std::mem::size_of_val(&a) as u32,
        )
    };
    if r != RKNN_SUCC {
        return Err(format!("rknn_query({cmd}) failed: {r}"));
    }
    Ok(a)
}

/// Runs model `bytes` through the C API on `inputs`.
pub fn execute(bytes: &[u8], inputs: &[Tensor]) -> Result<Vec<Got>, String> {
    let mut ctx: rknn_context = 0;
    // SAFETY: valid pointers; the runtime copies the model bytes.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            bytes.as_ptr() as *mut c_void,
            bytes.len() as u32,
            0,
            null_mut(),
        )
    };
    if r != RKNN_SUCC {
        return Err(format!("rknn_init failed: {r}"));
    }
    let result = run_ctx(ctx, inputs);
    rknn_destroy(ctx);
    result
}

fn run_ctx(ctx: rknn_context, inputs: &[Tensor]) -> Result<Vec<Got>, String> {
    let mut n = rknn_input_output_num::default();
    // SAFETY: `n` is writable and of the size given.
    let r = unsafe {
        rknn_query(
            ctx,
            RKNN_QUERY_IN_OUT_NUM,
            &mut n as *mut _ as *mut c_void,
            std::mem::size_of_val(&n) as u32,
        )
    };
    if r != RKNN_SUCC {
        return Err(format!("rknn_query(IN_OUT_NUM) failed: {r}"));
    }
    if n.n_input as usize != inputs.len() {
        return Err(format!(
            "the model has {} inputs, the test data {}",
            n.n_input,
            inputs.len()
        ));
    }
    let mut bufs: Vec<Vec<u8>> = inputs.iter().map(|t| t.bytes.clone()).collect();
    let mut list = Vec::with_capacity(inputs.len());
    for (i, (t, buf)) in inputs.iter().zip(bufs.iter_mut()).enumerate() {
        let a = attr(ctx, RKNN_QUERY_INPUT_ATTR, i as u32)?;
        let same = a.r#type == t.dtype.to_rknn();
        list.push(rknn_input {
            index: i as u32,
            buf: buf.as_mut_ptr().cast(),
            size: buf.len() as u32,
            pass_through: same as u8,
            r#type: t.dtype.to_rknn(),
            fmt: if a.n_dims == 4 {
                RKNN_TENSOR_NCHW
            } else {
                RKNN_TENSOR_UNDEFINED
            },
        });
    }
    // SAFETY: every entry points into `bufs`, alive for the call.
    let r = unsafe { rknn_inputs_set(ctx, list.len() as u32, list.as_mut_ptr()) };
    if r != RKNN_SUCC {
        return Err(format!("rknn_inputs_set failed: {r}"));
    }
    // SAFETY: valid context, no extend struct.
    let r = unsafe { rknn_run(ctx, null_mut()) };
    if r != RKNN_SUCC {
        return Err(format!("rknn_run failed: {r}"));
    }
    let mut metas = Vec::new();
    let mut outs: Vec<rknn_output> = (0..n.n_output)
        .map(|i| {
            let a = attr(ctx, RKNN_QUERY_OUTPUT_ATTR, i)?;
            let dt = DType::from_rknn(a.r#type).ok_or("unknown output type")?;
            let dims = a.dims[..a.n_dims as usize]
                .iter()
                .map(|&d| d as usize)
                .collect::<Vec<_>>();
            metas.push((if dt.is_float() { DType::F32 } else { dt }, dims));
            Ok(rknn_output {
                index: i,
                want_float: dt.is_float() as u8,
                ..Default::default()
            })
        })
        .collect::<Result<_, String>>()?;
    // SAFETY: `outs` holds n_output writable structs.
    let r = unsafe { rknn_outputs_get(ctx, n.n_output, outs.as_mut_ptr(), null_mut()) };
    if r != RKNN_SUCC {
        return Err(format!("rknn_outputs_get failed: {r}"));
    }
    let got = outs
        .iter()
        .zip(metas)
        .map(|(o, (dtype, dims))| Got {
            dtype,
            dims,
            // SAFETY: the runtime lent `size` bytes at `buf` until release.
            bytes: unsafe { std::slice::from_raw_parts(o.buf as *const u8, o.size as usize) }
                .to_vec(),
        })
        .collect();
    // SAFETY: releasing exactly the buffers lent above.
    unsafe { rknn_outputs_release(ctx, n.n_output, outs.as_mut_ptr()) };
    Ok(got)
}

fn values_f64(dtype: DType, bytes: &[u8]) -> Vec<f64> {
    let t = Tensor {
        dtype,
        shape: vec![bytes.len() / dtype.size()],
        bytes: bytes.to_vec(),
        quant: None,
    };
    if dtype.is_float() {
        t.to_f32().iter().map(|&v| v as f64).collect()
    } else {
        t.to_i64().iter().map(|&v| v as f64).collect()
    }
}

/// Compares outputs with the expected tensors.
pub fn compare(got: &[Got], want: &[Tensor], half: bool) -> Outcome {
    if got.len() != want.len() {
        return Outcome::Fail(format!("{} outputs, expected {}", got.len(), want.len()));
    }
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        if g.dims.iter().product::<usize>() != w.elems()
            || (g.dims != w.shape && !w.shape.is_empty())
        {
            return Outcome::Fail(format!(
                "output {k} has shape {:?}, expected {:?}",
                g.dims, w.shape
            ));
        }
        let a = values_f64(g.dtype, &g.bytes);
        let e = values_f64(w.dtype, &w.bytes);
        if a.len() != e.len() {
            return Outcome::Fail(format!(
                "output {k} has {} values, expected {}",
                a.len(),
                e.len()
            ));
        }
        let float = w.dtype.is_float();
        let m = e
            .iter()
            .filter(|v| v.is_finite())
            .fold(1.0f64, |m, v| m.max(v.abs()));
        let (atol, rtol) = if half { (1e-2, 1e-2) } else { (1e-5, 1e-4) };
        for (i, (&x, &y)) in a.iter().zip(&e).enumerate() {
            let ok = if !float {
                x == y
            } else if y.is_nan() {
                x.is_nan()
            } else if y.is_infinite() {
                x == y
            } else {
                (x - y).abs() <= atol * m + rtol * y.abs()
            };
            if !ok {
                return Outcome::Fail(format!(
                    "output {k}[{i}] = {x}, expected {y} (tolerance {atol}*{m} + {rtol}*|e|)"
                ));
            }
        }
    }
    Outcome::Pass
}

/// Counts per op and precision: (pass, fail, refused).
pub fn summary(results: &[CaseResult]) -> BTreeMap<&'static str, [(usize, usize, usize); 2]> {
    let mut m: BTreeMap<&'static str, [(usize, usize, usize); 2]> = BTreeMap::new();
    for r in results {
        let e = m.entry(r.op).or_default();
        for (slot, o) in e.iter_mut().zip([&r.fp32, &r.fp16]) {
            match o {
                Outcome::Pass => slot.0 += 1,
                Outcome::Fail(_) => slot.1 += 1,
                Outcome::Refused(_) => slot.2 += 1,
            }
        }
    }
    m
}
