//! Vendor-compiled models through the C API on the virtual NPU
//! (`RKNNRT_DEVICE=sim`): every case of
//! `../shared/fixtures/vendor/MANIFEST.json` is initialised, queried, fed
//! the fixture's inputs, run, and its outputs compared with the vendor
//! simulator's; the per-case table of `docs/vendor-compat.md` is generated
//! here (regenerate with `RKNNRT_BLESS_DOCS=1 cargo test --test
//! vendor_run`). Also: the queries' answers, zero-copy, every core mask,
//! `rknn_dup_context`, layer dumps, device choice, and a C program.

mod cross;

use std::ffi::{c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::ptr::null_mut;

use half::f16;
use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::capi::zero_copy::*;
use rknnrt::model::vendor;
use rknnrt::npy::NpyArray;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/vendor")
}

fn manifest() -> Value {
    let text = std::fs::read(fixtures().join("MANIFEST.json")).expect("vendor MANIFEST.json");
    serde_json::from_slice(&text).expect("MANIFEST.json is JSON")
}

fn cases() -> Vec<Value> {
    manifest()["cases"].as_array().expect("cases").clone()
}

fn case(name: &str) -> Value {
    cases()
        .into_iter()
        .find(|c| c["case"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

fn npy(rel: &str) -> NpyArray {
    NpyArray::read(&fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every test of this binary runs on the virtual NPU; the variable is set
/// before any context exists.
fn sim() {
    static SIM: std::sync::Once = std::sync::Once::new();
    SIM.call_once(|| std::env::set_var("RKNNRT_DEVICE", "sim"));
}

/// A context destroyed on drop.
struct Ctx(rknn_context);

impl Drop for Ctx {
    fn drop(&mut self) {
        assert_eq!(rknn_destroy(self.0), RKNN_SUCC);
    }
}

fn init_flags(path: &Path, flags: u32) -> Ctx {
    sim();
    let c = CString::new(path.to_str().unwrap()).unwrap();
    let mut ctx: rknn_context = 0;
    // SAFETY: a NUL-terminated path with size 0; `ctx` is writable.
    let r = unsafe { rknn_init(&mut ctx, c.as_ptr() as *mut c_void, 0, flags, null_mut()) };
    assert_eq!(r, RKNN_SUCC, "rknn_init({})", path.display());
    Ctx(ctx)
}

fn init(c: &Value) -> Ctx {
    init_flags(&fixtures().join(c["rknn"].as_str().unwrap()), 0)
}

fn query<T: Default>(ctx: &Ctx, cmd: rknn_query_cmd, value: &mut T) {
    // SAFETY: `value` is a writable struct of the size passed.
    let r = unsafe {
        rknn_query(
            ctx.0,
            cmd,
            (value as *mut T).cast(),
            std::mem::size_of::<T>() as u32,
        )
    };
    assert_eq!(r, RKNN_SUCC, "rknn_query({cmd})");
}

fn attr(ctx: &Ctx, cmd: rknn_query_cmd, index: u32) -> rknn_tensor_attr {
    // SAFETY: all-zero is a valid rknn_tensor_attr.
    let mut a: rknn_tensor_attr = unsafe { std::mem::zeroed() };
    a.index = index;
    // SAFETY: `a` is a writable rknn_tensor_attr.
    let r = unsafe {
        rknn_query(
            ctx.0,
            cmd,
            (&mut a as *mut rknn_tensor_attr).cast(),
            std::mem::size_of::<rknn_tensor_attr>() as u32,
        )
    };
    assert_eq!(r, RKNN_SUCC, "rknn_query({cmd}, {index})");
    a
}

fn name(a: &rknn_tensor_attr) -> String {
    // SAFETY: the runtime NUL-terminates the name inside the array.
    unsafe { CStr::from_ptr(a.name.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn dims(a: &rknn_tensor_attr) -> Vec<u32> {
    a.dims[..a.n_dims as usize].to_vec()
}

/// Sets every input from float32 NCHW arrays.
fn set_inputs(ctx: &Ctx, data: &mut [NpyArray]) {
    let mut inputs: Vec<rknn_input> = data
        .iter_mut()
        .enumerate()
        .map(|(i, a)| rknn_input {
            index: i as u32,
            buf: a.bytes.as_mut_ptr().cast(),
            size: a.bytes.len() as u32,
            pass_through: 0,
            r#type: RKNN_TENSOR_FLOAT32,
            fmt: RKNN_TENSOR_NCHW,
        })
        .collect();
    // SAFETY: each input points at its array's bytes.
    let r = unsafe { rknn_inputs_set(ctx.0, inputs.len() as u32, inputs.as_mut_ptr()) };
    assert_eq!(r, RKNN_SUCC, "rknn_inputs_set");
}

fn run(ctx: &Ctx) {
    // SAFETY: no extend struct.
    assert_eq!(
        unsafe { rknn_run(ctx.0, null_mut()) },
        RKNN_SUCC,
        "rknn_run"
    );
}

/// Every output, as float32 (`want_float`) or raw bytes.
fn get_outputs(ctx: &Ctx, n: usize, want_float: bool) -> Vec<Vec<u8>> {
    // SAFETY: all-zero is a valid rknn_output.
    let mut outs: Vec<rknn_output> = (0..n)
        .map(|k| rknn_output {
            want_float: want_float as u8,
            index: k as u32,
            ..unsafe { std::mem::zeroed() }
        })
        .collect();
    // SAFETY: `outs` holds `n` structs; the runtime allocates the buffers.
    let r = unsafe { rknn_outputs_get(ctx.0, n as u32, outs.as_mut_ptr(), null_mut()) };
    assert_eq!(r, RKNN_SUCC, "rknn_outputs_get");
    let data = outs
        .iter()
        // SAFETY: each buffer holds `size` bytes until released.
        .map(|o| {
            unsafe { std::slice::from_raw_parts(o.buf as *const u8, o.size as usize) }.to_vec()
        })
        .collect();
    // SAFETY: the structs rknn_outputs_get filled.
    let r = unsafe { rknn_outputs_release(ctx.0, n as u32, outs.as_mut_ptr()) };
    assert_eq!(r, RKNN_SUCC);
    data
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

fn sample_inputs(c: &Value, k: usize) -> Vec<NpyArray> {
    let s = &c["samples"][k]["inputs"];
    c["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| npy(s[i["name"].as_str().unwrap()].as_str().unwrap()))
        .collect()
}

fn sample_refs(c: &Value, k: usize) -> Vec<Vec<f32>> {
    let s = &c["samples"][k]["sim_outputs"];
    c["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| npy(s[o["name"].as_str().unwrap()].as_str().unwrap()).to_f32())
        .collect()
}

/// How far an output is from the simulator's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Diff {
    max_abs: f32,
    /// Elements off the simulator's value (int8: another quantization
    /// step; fp16: more than one fp16 ulp away).
    differing: usize,
    /// Elements compared.
    total: usize,
    /// No element differs.
    exact: bool,
    /// Cosine similarity of the two outputs.
    cosine: f64,
}

fn f16_ulps(a: f32, b: f32) -> u32 {
    let key = |v: f32| {
        let h = f16::from_f32(v).to_bits() as i32;
        if h & 0x8000 != 0 {
            -(h & 0x7fff)
        } else {
            h
        }
    };
    key(a).abs_diff(key(b))
}

/// Compares `got` with `want`; `quant` is the tensor's (scale, zero
/// point) when it is an int8 tensor.
fn diff(got: &[f32], want: &[f32], quant: Option<(f32, i32)>) -> Diff {
    assert_eq!(got.len(), want.len(), "element counts");
    let max_abs = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let same = |a: f32, b: f32| match quant {
        Some((scale, zp)) => {
            let q = |v: f32| (v / scale).round() as i64 + i64::from(zp);
            q(a) == q(b)
        }
        None => f16_ulps(a, b) <= 1,
    };
    let differing = got.iter().zip(want).filter(|(&a, &b)| !same(a, b)).count();
    let dot: f64 = got
        .iter()
        .zip(want)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let cosine = if norm(got) == 0.0 && norm(want) == 0.0 {
        1.0
    } else {
        dot / (norm(got) * norm(want)).max(f64::MIN_POSITIVE)
    };
    Diff {
        max_abs,
        differing,
        total: got.len(),
        exact: differing == 0,
        cosine,
    }
}

/// One case through the general API on both samples: the largest
/// difference from the simulator over every output and sample.
fn run_case(c: &Value) -> Diff {
    let ctx = init(c);
    let mut io = rknn_input_output_num::default();
    query(&ctx, RKNN_QUERY_IN_OUT_NUM, &mut io);
    let outs = c["outputs"].as_array().unwrap();
    assert_eq!(io.n_input as usize, c["inputs"].as_array().unwrap().len());
    assert_eq!(io.n_output as usize, outs.len());
    let quant: Vec<Option<(f32, i32)>> = (0..outs.len())
        .map(|k| {
            let a = attr(&ctx, RKNN_QUERY_OUTPUT_ATTR, k as u32);
            assert_eq!(name(&a), outs[k]["name"].as_str().unwrap());
            (a.qnt_type == RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC && a.r#type == RKNN_TENSOR_INT8)
                .then_some((a.scale, a.zp))
        })
        .collect();
    let mut total = Diff {
        exact: true,
        cosine: 1.0,
        ..Diff::default()
    };
    for k in 0..c["samples"].as_array().unwrap().len() {
        set_inputs(&ctx, &mut sample_inputs(c, k));
        run(&ctx);
        let got = get_outputs(&ctx, outs.len(), true);
        for ((g, want), q) in got.iter().zip(sample_refs(c, k)).zip(&quant) {
            let d = diff(&f32s(g), &want, *q);
            total.max_abs = total.max_abs.max(d.max_abs);
            total.differing += d.differing;
            total.total += d.total;
            total.exact &= d.exact;
            total.cosine = total.cosine.min(d.cosine);
        }
    }
    total
}

// ---------------------------------------------------------------------------
// Layer dumps of one case, in a child process (the log level is read once
// per process).

/// Child half: runs sample 0 of `RKNNRT_VENDOR_CHILD` with the
/// environment the parent set (dump level and directory).
#[test]
fn dump_child() {
    let Ok(name) = std::env::var("RKNNRT_VENDOR_CHILD") else {
        return;
    };
    let c = case(&name);
    let ctx = init(&c);
    set_inputs(&ctx, &mut sample_inputs(&c, 0));
    run(&ctx);
}

/// Runs sample 0 of `name` with layer dumps into a fresh directory and
/// returns it with the child's stderr.
fn dump_case(name: &str, quant: bool) -> (PathBuf, String) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "vendor_dumps_{}_{}_{quant}",
        std::process::id(),
        name.replace('/', "_")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let out = cross::command(std::env::current_exe().unwrap())
        .args(["--exact", "dump_child", "--nocapture", "--test-threads=1"])
        .env("RKNNRT_VENDOR_CHILD", name)
        .env("RKNNRT_DEVICE", "sim")
        .env("RKNN_LOG_LEVEL", "5")
        .env("RKNN_DUMP_DIR", &dir)
        .env("RKNN_DUMP_QUANT", if quant { "1" } else { "0" })
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{name}: {err}");
    (dir, err)
}

/// The dump files of `dir`, sorted (the layer index leads the name).
fn dump_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The vendor simulator's output of `tensor` for sample 0 of case `c`:
/// a model output from the fixture, or an intermediate layer from
/// `tests/data/vendor_layers/` (made by `tools/vendor_layer_refs.py`).
fn layer_ref(c: &Value, tensor: &str) -> Option<Vec<f32>> {
    if let Some(p) = c["samples"][0]["sim_outputs"][tensor].as_str() {
        return Some(npy(p).to_f32());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/vendor_layers")
        .join(c["case"].as_str().unwrap().replace('/', "."));
    NpyArray::read(&dir.join(format!("{tensor}.npy")))
        .ok()
        .map(|a| a.to_f32())
}

/// The first layer (in execution order) of sample 0 whose dumped output
/// differs from the vendor simulator's output of the same tensor; each
/// int8 tensor compared on its own quantization grid.
fn first_mismatching_layer(c: &Value) -> String {
    let name = c["case"].as_str().unwrap();
    let bytes = std::fs::read(fixtures().join(c["rknn"].as_str().unwrap())).unwrap();
    let model = vendor::read(&bytes).expect("fixture");
    let (dir, _) = dump_case(name, false);
    let mut found = None;
    'files: for f in dump_files(&dir) {
        for t in &model.tensors {
            if t.name.is_empty() || !f.contains(&format!("_{}_shape_", t.name)) {
                continue;
            }
            let Some(want) = layer_ref(c, &t.name) else {
                continue;
            };
            let got = NpyArray::read(&dir.join(&f)).unwrap().to_f32();
            let quant = (t.dtype() == Some(rknnrt::graph::DType::I8) && t.scale.len() == 1)
                .then(|| (t.scale[0], t.zero_point.first().copied().unwrap_or(0)));
            if got.len() == want.len() && !diff(&got, &want, quant).exact {
                found = Some(f.trim_end_matches(".npy").to_string());
                break 'files;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    found.unwrap_or_else(|| "(none of the layers with a reference)".to_string())
}

// ---------------------------------------------------------------------------
// The table.

const BEGIN: &str = "<!-- vendor table: generated, do not edit -->\n";
const END: &str = "<!-- end of vendor table -->";

/// Every case through the C API: the per-case table of
/// `docs/vendor-compat.md` must be current, and every output must agree
/// with the vendor simulator's to a cosine of 0.999 or better (the
/// element-level differences are the virtual NPU's arithmetic, pinned by
/// `tests/sim_vendor.rs`; a wrong layout, offset or conversion here would
/// break the cosine).
#[test]
fn every_case_matches_the_vendor_simulator() {
    let mut rows = String::from(
        "| case | dtype | max abs diff | elements differing | exact | first mismatching layer |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut far = Vec::new();
    for c in cases() {
        let name = c["case"].as_str().unwrap();
        let d = run_case(&c);
        if d.cosine < 0.999 {
            far.push(format!("{name}: cosine {:.6}", d.cosine));
        }
        let layer = if d.exact {
            "—".to_string()
        } else {
            format!("`{}`", first_mismatching_layer(&c))
        };
        rows.push_str(&format!(
            "| {name} | {} | {:.6} | {} of {} | {} | {layer} |\n",
            c["dtype"].as_str().unwrap(),
            d.max_abs,
            d.differing,
            d.total,
            if d.exact { "yes" } else { "no" },
        ));
    }
    assert!(
        far.is_empty(),
        "outputs far from the vendor simulator: {far:?}\n{rows}"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/vendor-compat.md");
    let doc = std::fs::read_to_string(&path).expect("docs/vendor-compat.md");
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = doc.find(END).expect("end marker");
    if doc[start..end] != rows {
        if std::env::var_os("RKNNRT_BLESS_DOCS").is_some() {
            let fresh = format!("{}{}{}", &doc[..start], rows, &doc[end..]);
            std::fs::write(&path, fresh).expect("write docs/vendor-compat.md");
        } else {
            panic!(
                "the table in docs/vendor-compat.md is stale (regenerate with RKNNRT_BLESS_DOCS=1 cargo test --test vendor_run):\n{rows}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Queries.

#[test]
fn queries_answer_from_the_file() {
    let c = case("conv3x3/i8");
    let ctx = init(&c);
    let a = attr(&ctx, RKNN_QUERY_INPUT_ATTR, 0);
    assert_eq!(name(&a), "x");
    assert_eq!(
        (dims(&a), a.fmt, a.r#type),
        (vec![1, 16, 16, 3], RKNN_TENSOR_NHWC, RKNN_TENSOR_INT8)
    );
    assert_eq!(a.qnt_type, RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC);
    assert_eq!((a.zp, a.n_elems, a.size, a.w_stride), (-128, 768, 768, 16));
    assert!((a.scale - 0.003_920_977_5).abs() < 1e-9, "{}", a.scale);
    let n = attr(&ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0);
    assert_eq!(
        (dims(&n), n.fmt, n.size_with_stride),
        (vec![1, 16, 16, 3], RKNN_TENSOR_NHWC, 768)
    );
    let o = attr(&ctx, RKNN_QUERY_OUTPUT_ATTR, 0);
    assert_eq!(
        (name(&o), dims(&o), o.fmt),
        ("y".to_string(), vec![1, 8, 16, 16], RKNN_TENSOR_NCHW)
    );
    assert_eq!((o.zp, o.size), (-24, 2048));
    let n = attr(&ctx, RKNN_QUERY_NATIVE_OUTPUT_ATTR, 0);
    assert_eq!(
        (dims(&n), n.fmt),
        (vec![1, 2, 16, 16, 16], RKNN_TENSOR_NC1HWC2)
    );
    assert_eq!((n.n_elems, n.size, n.size_with_stride), (8192, 8192, 8192));
    let h = attr(&ctx, RKNN_QUERY_NATIVE_NHWC_OUTPUT_ATTR, 0);
    assert_eq!((dims(&h), h.fmt), (vec![1, 16, 16, 8], RKNN_TENSOR_NHWC));

    let mut mem = rknn_mem_size::default();
    query(&ctx, RKNN_QUERY_MEM_SIZE, &mut mem);
    assert_eq!(
        (mem.total_weight_size, mem.total_internal_size),
        (3456, 8960)
    );
    assert!(mem.total_dma_allocated_size >= 3456 + 8960 + 768 + 8192);
    // SAFETY: all-zero is a valid struct.
    let mut s: rknn_custom_string = unsafe { std::mem::zeroed() };
    query(&ctx, RKNN_QUERY_CUSTOM_STRING, &mut s);
    assert_eq!(s.string[0], 0);
    // SAFETY: all-zero is a valid struct.
    let mut v: rknn_sdk_version = unsafe { std::mem::zeroed() };
    query(&ctx, RKNN_QUERY_SDK_VERSION, &mut v);
    assert_ne!(v.api_version[0], 0);

    // An fp16 build with a vector input and output, and a stride-aligned
    // four-channel input.
    let ctx = init(&case("gemm/fp16"));
    let a = attr(&ctx, RKNN_QUERY_INPUT_ATTR, 0);
    assert_eq!(
        (dims(&a), a.fmt, a.r#type),
        (vec![1, 64], RKNN_TENSOR_UNDEFINED, RKNN_TENSOR_FLOAT16)
    );
    assert_eq!(a.qnt_type, RKNN_TENSOR_QNT_NONE);
    let n = attr(&ctx, RKNN_QUERY_NATIVE_OUTPUT_ATTR, 0);
    assert_eq!(
        (dims(&n), n.fmt, n.size, n.size_with_stride),
        (vec![1, 32], RKNN_TENSOR_UNDEFINED, 64, 64)
    );
    let ctx = init(&case("multi_io/i8"));
    let n = attr(&ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 1);
    assert_eq!(
        (name(&n), dims(&n), n.w_stride, n.size_with_stride),
        ("b".to_string(), vec![1, 8, 8, 4], 16, 512)
    );
}

#[test]
fn perf_detail_lists_the_vendor_layers_with_their_targets() {
    let c = case("tiny_cnn/i8");
    let ctx = init_flags(
        &fixtures().join(c["rknn"].as_str().unwrap()),
        RKNN_FLAG_COLLECT_PERF_MASK,
    );
    set_inputs(&ctx, &mut sample_inputs(&c, 0));
    run(&ctx);
    let mut run_time = rknn_perf_run::default();
    query(&ctx, RKNN_QUERY_PERF_RUN, &mut run_time);
    assert!(run_time.run_duration > 0);
    // SAFETY: all-zero is a valid struct.
    let mut d: rknn_perf_detail = unsafe { std::mem::zeroed() };
    query(&ctx, RKNN_QUERY_PERF_DETAIL, &mut d);
    // SAFETY: the runtime returns a NUL-terminated text of data_len bytes.
    let text = unsafe { CStr::from_ptr(d.perf_data) }
        .to_string_lossy()
        .into_owned();
    let row = |op: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(op))
            .unwrap_or_else(|| panic!("no {op} row in:\n{text}"))
            .to_string()
    };
    assert!(row("ConvRelu").contains(" NPU ") && row("ConvRelu").contains("Conv:Conv_4"));
    assert!(row("exSoftmax13").contains(" NPU "));
    assert!(row("Reshape").contains(" CPU "), "{text}");
    assert!(row("InputOperator").contains(" CPU "));
    assert!(row("OutputOperator").contains(" CPU "));
    assert!(text.contains("Operator Time Consuming Ranking Table"));
}

// ---------------------------------------------------------------------------
// Zero-copy.

/// Memory of `size` bytes on `ctx`'s device, destroyed on drop.
struct MemObj(rknn_context, *mut rknn_tensor_mem);

impl MemObj {
    fn new(ctx: &Ctx, size: u32) -> MemObj {
        // SAFETY: takes no pointers.
        let m = unsafe { rknn_create_mem(ctx.0, size) };
        assert!(!m.is_null());
        MemObj(ctx.0, m)
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the library's struct describes `size` mapped bytes.
        unsafe {
            std::slice::from_raw_parts_mut(
                (*self.1).virt_addr.cast::<u8>(),
                (*self.1).size as usize,
            )
        }
    }
}

impl Drop for MemObj {
    fn drop(&mut self) {
        // SAFETY: a pointer this library returned.
        assert_eq!(unsafe { rknn_destroy_mem(self.0, self.1) }, RKNN_SUCC);
    }
}

fn set_io_mem(ctx: &Ctx, m: &MemObj, a: &mut rknn_tensor_attr) {
    // SAFETY: both pointers are valid.
    let r = unsafe { rknn_set_io_mem(ctx.0, m.1, a) };
    assert_eq!(r, RKNN_SUCC, "rknn_set_io_mem({})", name(a));
}

/// conv3x3 int8 sample 0 through the general path: the raw int8 output
/// (NCHW) and the int8 input (NHWC) the runtime quantized.
fn conv3x3_general() -> (Vec<u8>, Vec<u8>) {
    let c = case("conv3x3/i8");
    let ctx = init(&c);
    let mut x = sample_inputs(&c, 0);
    set_inputs(&ctx, &mut x);
    run(&ctx);
    let a = attr(&ctx, RKNN_QUERY_INPUT_ATTR, 0);
    let v = x[0].to_f32();
    let mut q = vec![0u8; 768];
    for h in 0..16 {
        for w in 0..16 {
            for ch in 0..3 {
                let f = v[(ch * 16 + h) * 16 + w];
                let r = ((f / a.scale).round() as i32 + a.zp).clamp(-128, 127);
                q[(h * 16 + w) * 3 + ch] = r as i8 as u8;
            }
        }
    }
    (get_outputs(&ctx, 1, false).remove(0), q)
}

#[test]
fn zero_copy_in_native_formats_and_converted() {
    let (want, input) = conv3x3_general();
    let c = case("conv3x3/i8");
    // Native input (NHWC int8, in place) and native output (NC1HWC2, in
    // place): the NPU program reads and writes the user's memory.
    let ctx = init(&c);
    let mut ia = attr(&ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0);
    let mut oa = attr(&ctx, RKNN_QUERY_NATIVE_OUTPUT_ATTR, 0);
    let mut im = MemObj::new(&ctx, ia.size_with_stride);
    let mut om = MemObj::new(&ctx, oa.size_with_stride);
    im.bytes()[..768].copy_from_slice(&input);
    ia.pass_through = 1;
    set_io_mem(&ctx, &im, &mut ia);
    set_io_mem(&ctx, &om, &mut oa);
    run(&ctx);
    let nc = om.bytes();
    for ch in 0..8 {
        for p in 0..256 {
            let got = nc[((ch / 16) * 256 + p) * 16 + ch % 16];
            assert_eq!(got, want[ch * 256 + p], "channel {ch} pixel {p}");
        }
    }
    // Converted: float32 NCHW input, float32 NCHW output.
    let ctx = init(&c);
    let mut ia = attr(&ctx, RKNN_QUERY_INPUT_ATTR, 0);
    let mut oa = attr(&ctx, RKNN_QUERY_OUTPUT_ATTR, 0);
    ia.r#type = RKNN_TENSOR_FLOAT32;
    ia.fmt = RKNN_TENSOR_NCHW;
    oa.r#type = RKNN_TENSOR_FLOAT32;
    let mut im = MemObj::new(&ctx, 768 * 4);
    let mut om = MemObj::new(&ctx, 2048 * 4);
    im.bytes().copy_from_slice(&sample_inputs(&c, 0)[0].bytes);
    set_io_mem(&ctx, &im, &mut ia);
    set_io_mem(&ctx, &om, &mut oa);
    run(&ctx);
    let got = f32s(om.bytes());
    let scale_zp = (oa.scale, oa.zp);
    for (k, (&g, &w)) in got.iter().zip(&want).enumerate() {
        let q = (g / scale_zp.0).round() as i32 + scale_zp.1;
        assert_eq!(q, w as i8 as i32, "element {k}");
    }
}

// ---------------------------------------------------------------------------
// Core masks and duplicated contexts.

fn run_with_mask(c: &Value, mask: rknn_core_mask) -> Vec<Vec<u8>> {
    let ctx = init(c);
    assert_eq!(rknn_set_core_mask(ctx.0, mask), RKNN_SUCC, "mask {mask:#x}");
    set_inputs(&ctx, &mut sample_inputs(c, 0));
    run(&ctx);
    get_outputs(&ctx, c["outputs"].as_array().unwrap().len(), false)
}

#[test]
fn every_core_mask_runs_its_schedule_with_the_same_result() {
    for name in ["conv3x3/i8", "tiny_cnn/fp16", "concat/i8"] {
        let c = case(name);
        let want = run_with_mask(&c, RKNN_NPU_CORE_AUTO);
        for mask in [
            RKNN_NPU_CORE_0,
            RKNN_NPU_CORE_1,
            RKNN_NPU_CORE_2,
            RKNN_NPU_CORE_0_1,
            RKNN_NPU_CORE_0_1_2,
            RKNN_NPU_CORE_ALL,
        ] {
            assert_eq!(run_with_mask(&c, mask), want, "{name}, core mask {mask:#x}");
        }
    }
}

#[test]
fn duplicated_contexts_run_independently() {
    let c = case("tiny_cnn/i8");
    let a = init(&c);
    let mut dup: rknn_context = 0;
    let mut src = a.0;
    // SAFETY: both pointers are valid handles' storage.
    assert_eq!(unsafe { rknn_dup_context(&mut src, &mut dup) }, RKNN_SUCC);
    let b = Ctx(dup);
    set_inputs(&a, &mut sample_inputs(&c, 0));
    set_inputs(&b, &mut sample_inputs(&c, 1));
    run(&a);
    run(&b);
    let (ra, rb) = (get_outputs(&a, 1, true), get_outputs(&b, 1, true));
    assert!(diff(&f32s(&ra[0]), &sample_refs(&c, 0)[0], None).cosine > 0.999);
    assert!(diff(&f32s(&rb[0]), &sample_refs(&c, 1)[0], None).cosine > 0.999);
    assert_ne!(ra, rb);
    drop(a);
    run(&b);
    assert_eq!(get_outputs(&b, 1, true), rb);
}

// ---------------------------------------------------------------------------
// Dumps and devices.

#[test]
fn layer_dumps_cover_every_layer() {
    let (dir, log) = dump_case("tiny_cnn/i8", false);
    let files = dump_files(&dir);
    for layer in [
        "ConvRelu_relu_11",
        "MaxPool_maxpool_13",
        "exSoftmax13_prob-rs",
        "Reshape_prob",
    ] {
        assert!(
            files
                .iter()
                .any(|f| f.contains(layer) && f.ends_with("_float.npy")),
            "no dump of {layer} in {files:?}"
        );
    }
    assert!(log.contains("dump npy tensor to:"), "{log}");
    let prob = files
        .iter()
        .find(|f| f.contains("Reshape_prob_shape_1_10"))
        .unwrap();
    let a = NpyArray::read(&dir.join(prob)).unwrap();
    assert_eq!(a.shape, vec![1, 10]);
    let sum: f32 = a.to_f32().iter().sum();
    assert!((sum - 1.0).abs() < 0.01, "softmax output sums to {sum}");
    let _ = std::fs::remove_dir_all(&dir);
    let (dir, _) = dump_case("conv3x3/i8", true);
    let files = dump_files(&dir);
    let y = files
        .iter()
        .find(|f| f.contains("_y_shape_1_8_16_16_int8"))
        .expect("int8 dump");
    assert_eq!(NpyArray::read(&dir.join(y)).unwrap().bytes.len(), 2048);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Child half: `rknn_init` of conv3x3 int8 under the parent's
/// environment must return `RKNNRT_VENDOR_INIT`.
#[test]
fn init_child() {
    let Ok(want) = std::env::var("RKNNRT_VENDOR_INIT") else {
        return;
    };
    let path = fixtures().join("conv3x3/conv3x3.rk3588.i8.rknn");
    let p = CString::new(path.to_str().unwrap()).unwrap();
    let mut ctx: rknn_context = 0;
    // SAFETY: a path with size 0; `ctx` is writable.
    let r = unsafe { rknn_init(&mut ctx, p.as_ptr() as *mut c_void, 0, 0, null_mut()) };
    assert_eq!(r.to_string(), want);
    if r == RKNN_SUCC {
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    }
}

fn init_with_device(device: Option<&str>, code: i32) -> String {
    let mut cmd = cross::command(std::env::current_exe().unwrap());
    cmd.args(["--exact", "init_child", "--nocapture", "--test-threads=1"])
        .env("RKNNRT_VENDOR_INIT", code.to_string())
        .env("RKNN_LOG_LEVEL", "2")
        .env_remove("RKNNRT_PLATFORM");
    match device {
        Some(d) => cmd.env("RKNNRT_DEVICE", d),
        None => cmd.env_remove("RKNNRT_DEVICE"),
    };
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "RKNNRT_DEVICE={device:?}: {err}");
    err
}

#[test]
fn host_refuses_vendor_models_and_auto_picks_the_virtual_npu() {
    let err = init_with_device(Some("host"), RKNN_ERR_DEVICE_UNAVAILABLE);
    assert!(
        err.contains("E RKNN") && err.contains("RKNNRT_DEVICE=sim"),
        "{err}"
    );
    let err = init_with_device(Some("sim"), RKNN_SUCC);
    assert!(err.contains("device: sim"), "{err}");
    let root = rknnrt::driver::discovery::DevRoot::system();
    let seam = std::sync::Arc::new(rknnrt::driver::ioctl::Kernel);
    let no_npu = rknnrt::driver::discovery::find_rknpu(&*seam, &root).is_empty()
        && rknnrt::driver::discovery::find_rocket(&*seam, &root).is_empty();
    if no_npu {
        let err = init_with_device(None, RKNN_SUCC);
        assert!(err.contains("device: sim"), "{err}");
    }
}

// ---------------------------------------------------------------------------
// A C program.

#[test]
fn a_c_program_runs_a_vendor_fixture() {
    let c = case("multi_io/i8");
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("vendor_c_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lib = cross::library_dir();
    let exe = dir.join("vendor_run");
    let out = Command::new(cross::cc())
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg(format!("-I{}", root.join("include").display()))
        .arg(root.join("tests/c/vendor_run.c"))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lrknnrt", "-o"])
        .arg(&exe)
        .output()
        .expect("C compiler");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inputs: Vec<PathBuf> = sample_inputs(&c, 0)
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let p = dir.join(format!("in{i}.f32"));
            std::fs::write(&p, &a.bytes).unwrap();
            p
        })
        .collect();
    let prefix = dir.join("out");
    let run = cross::command(&exe)
        .arg(fixtures().join(c["rknn"].as_str().unwrap()))
        .args(&inputs)
        .arg(&prefix)
        .env("LD_LIBRARY_PATH", &lib)
        .env("RKNNRT_DEVICE", "sim")
        .env_remove("RKNN_LOG_LEVEL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.contains("vendor_run: ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("native input 0: name=a n_dims=4 dims=[1, 8, 8, 4]"),
        "{stdout}"
    );
    let quant: Vec<(f32, i32)> = {
        let ctx = init(&c);
        (0..2)
            .map(|k| {
                let a = attr(&ctx, RKNN_QUERY_OUTPUT_ATTR, k);
                (a.scale, a.zp)
            })
            .collect()
    };
    for (k, want) in sample_refs(&c, 0).iter().enumerate() {
        let got = f32s(&std::fs::read(format!("{}{k}.f32", prefix.display())).unwrap());
        let d = diff(&got, want, Some(quant[k]));
        assert!(d.cosine > 0.999, "output {k}: {d:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn weights_internal_and_io_memory_from_outside() {
    let (want, input) = conv3x3_general();
    let c = case("tiny_cnn/i8");
    let general = {
        let ctx = init(&c);
        set_inputs(&ctx, &mut sample_inputs(&c, 0));
        run(&ctx);
        get_outputs(&ctx, 1, false).remove(0)
    };
    for (name, flags) in [
        ("conv3x3/i8", RKNN_FLAG_MEM_ALLOC_OUTSIDE),
        ("tiny_cnn/i8", RKNN_FLAG_MEM_ALLOC_OUTSIDE),
        ("tiny_cnn/i8", RKNN_FLAG_INTERNAL_ALLOC_OUTSIDE),
    ] {
        let c = case(name);
        let ctx = init_flags(&fixtures().join(c["rknn"].as_str().unwrap()), flags);
        let mut mem = rknn_mem_size::default();
        query(&ctx, RKNN_QUERY_MEM_SIZE, &mut mem);
        // The program's activations move into this memory.
        let internal = MemObj::new(&ctx, mem.total_internal_size);
        // SAFETY: a pointer this library returned.
        let r = unsafe { rknn_set_internal_mem(ctx.0, internal.1) };
        assert_eq!(r, RKNN_SUCC);
        let _weights = (flags == RKNN_FLAG_MEM_ALLOC_OUTSIDE).then(|| {
            let w = MemObj::new(&ctx, mem.total_weight_size);
            // SAFETY: a pointer this library returned.
            assert_eq!(unsafe { rknn_set_weight_mem(ctx.0, w.1) }, RKNN_SUCC);
            w
        });
        let mut ia = attr(&ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0);
        let mut oa = attr(&ctx, RKNN_QUERY_OUTPUT_ATTR, 0);
        let mut im = MemObj::new(&ctx, ia.size_with_stride);
        let mut om = MemObj::new(&ctx, oa.size);
        set_io_mem(&ctx, &om, &mut oa);
        if name.starts_with("conv3x3") {
            im.bytes()[..768].copy_from_slice(&input);
            ia.pass_through = 1;
            set_io_mem(&ctx, &im, &mut ia);
            run(&ctx);
            assert_eq!(om.bytes()[..want.len()], want[..], "{name} {flags:#x}");
        } else {
            let mut fa = attr(&ctx, RKNN_QUERY_INPUT_ATTR, 0);
            fa.r#type = RKNN_TENSOR_FLOAT32;
            fa.fmt = RKNN_TENSOR_NCHW;
            let mut fm = MemObj::new(&ctx, 3 * 32 * 32 * 4);
            fm.bytes().copy_from_slice(&sample_inputs(&c, 0)[0].bytes);
            set_io_mem(&ctx, &fm, &mut fa);
            run(&ctx);
            assert_eq!(
                om.bytes()[..general.len()],
                general[..],
                "{name} {flags:#x}"
            );
        }
    }
}

#[test]
fn a_model_buffer_used_in_place() {
    sim();
    let c = case("conv3x3/i8");
    let bytes = std::fs::read(fixtures().join(c["rknn"].as_str().unwrap())).unwrap();
    let (want, _) = conv3x3_general();
    // A context to make memory on, then the model in that memory.
    let owner = init(&c);
    let mut m = MemObj::new(&owner, bytes.len() as u32);
    m.bytes().copy_from_slice(&bytes);
    // SAFETY: all-zero is a valid struct.
    let mut ext: rknn_init_extend = unsafe { std::mem::zeroed() };
    // SAFETY: the library's struct describes the memory.
    ext.model_buffer_fd = unsafe { (*m.1).fd };
    let mut ctx: rknn_context = 0;
    // SAFETY: the model bytes lie in library memory; `ext` is valid.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            (*m.1).virt_addr,
            bytes.len() as u32,
            RKNN_FLAG_MODEL_BUFFER_ZERO_COPY,
            &mut ext,
        )
    };
    assert_eq!(r, RKNN_SUCC);
    let ctx = Ctx(ctx);
    set_inputs(&ctx, &mut sample_inputs(&c, 0));
    run(&ctx);
    assert_eq!(get_outputs(&ctx, 1, false).remove(0), want);
}

#[test]
fn shared_weights_between_vendor_models_are_refused_with_a_reason() {
    let owner = init(&case("conv3x3/i8"));
    let path = CString::new(
        fixtures()
            .join(case("conv3x3/i8")["rknn"].as_str().unwrap())
            .to_str()
            .unwrap(),
    )
    .unwrap();
    // SAFETY: all-zero is a valid rknn_init_extend.
    let mut ext: rknn_init_extend = unsafe { std::mem::zeroed() };
    ext.ctx = owner.0;
    let mut ctx: rknn_context = 0;
    // SAFETY: a NUL-terminated path with size 0, a writable context and a
    // live extend struct naming a live context.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            path.as_ptr() as *mut c_void,
            0,
            RKNN_FLAG_SHARE_WEIGHT_MEM,
            &mut ext,
        )
    };
    assert_eq!(r, RKNN_ERR_PARAM_INVALID);
    assert_eq!(ctx, 0, "no context on failure");
    // The owner is untouched and still runs.
    run(&owner);
}
