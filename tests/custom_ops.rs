//! Custom ops through the C API, driven from Rust with `extern "C"`
//! callbacks on the model of `common::custom_op_model` (cstSoftmax, then a
//! custom ArgMax with a built-in fallback): registration rules and
//! argument checks, the vendor callback order, attributes, the built-in
//! fallback, errors from callbacks, and the perf table. The C programs and
//! plugins are tested in `toolchain/tests/custom_ops_c.rs`.

mod common;

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::null_mut;
use std::sync::{Mutex, MutexGuard};

use rknnrt::abi::*;
use rknnrt::capi::custom_op::*;
use rknnrt::capi::general::*;

/// The tests share the call log below: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the callbacks did, in order.
static CALLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(s: String) {
    CALLS.lock().unwrap().push(s);
}

fn take_calls() -> Vec<String> {
    std::mem::take(&mut *CALLS.lock().unwrap())
}

/// What `compute` of the softmax returns (0 unless a test sets it).
static SOFTMAX_RESULT: Mutex<c_int> = Mutex::new(0);
/// What `init` of the ArgMax returns.
static ARGMAX_INIT_RESULT: Mutex<c_int> = Mutex::new(0);

fn attr(op_ctx: *mut rknn_custom_op_context, name: &CStr) -> rknn_custom_op_attr {
    let mut a = rknn_custom_op_attr::default();
    // SAFETY: valid pointers for the call.
    unsafe { rknn_custom_op_get_op_attr(op_ctx, name.as_ptr(), &mut a) };
    a
}

fn node_name(op_ctx: *mut rknn_custom_op_context) -> String {
    let a = attr(op_ctx, c"name");
    assert_eq!(a.dtype, RKNN_TENSOR_UINT8);
    // SAFETY: a string attribute is NUL-terminated runtime memory.
    unsafe { CStr::from_ptr(a.data.cast::<c_char>()) }
        .to_string_lossy()
        .into_owned()
}

/// Tensor `i` of `ts` as a slice of `n` values of `T` at `virt_addr + offset`.
///
/// # Safety
/// The tensor must hold `n` values of `T`.
unsafe fn data<'a, T>(ts: *mut rknn_custom_op_tensor, i: usize, n: usize) -> &'a mut [T] {
    // SAFETY: the caller's contract.
    unsafe {
        let t = &*ts.add(i);
        let p = t.mem.virt_addr.cast::<u8>().add(t.mem.offset as usize);
        std::slice::from_raw_parts_mut(p.cast::<T>(), n)
    }
}

unsafe extern "C" fn softmax_init(
    op_ctx: *mut rknn_custom_op_context,
    inputs: *mut rknn_custom_op_tensor,
    n_inputs: u32,
    _outputs: *mut rknn_custom_op_tensor,
    n_outputs: u32,
) -> c_int {
    // SAFETY: the runtime passes valid structs.
    let (ctx, input) = unsafe { (&mut *op_ctx, &*inputs) };
    record(format!(
        "init {} {n_inputs}/{n_outputs} elems {}",
        node_name(op_ctx),
        input.attr.n_elems
    ));
    let tmp: Box<Vec<f32>> = Box::new(vec![0.0; input.attr.n_elems as usize]);
    ctx.priv_data = Box::into_raw(tmp).cast();
    0
}

unsafe extern "C" fn softmax_prepare(
    op_ctx: *mut rknn_custom_op_context,
    _inputs: *mut rknn_custom_op_tensor,
    _n_inputs: u32,
    _outputs: *mut rknn_custom_op_tensor,
    _n_outputs: u32,
) -> c_int {
    record(format!("prepare {}", node_name(op_ctx)));
    0
}

/// Softmax over the axis given by the "axis" attribute (NCHW float32).
unsafe extern "C" fn softmax_compute(
    op_ctx: *mut rknn_custom_op_context,
    inputs: *mut rknn_custom_op_tensor,
    _n_inputs: u32,
    outputs: *mut rknn_custom_op_tensor,
    _n_outputs: u32,
) -> c_int {
    record(format!("compute {}", node_name(op_ctx)));
    let result = *SOFTMAX_RESULT.lock().unwrap();
    if result != 0 {
        return result;
    }
    let a = attr(op_ctx, c"axis");
    assert_eq!((a.dtype, a.n_elems), (RKNN_TENSOR_INT64, 1));
    // SAFETY: one int64 value.
    let axis = unsafe { *a.data.cast::<i64>() } as usize;
    // SAFETY: the runtime passes valid structs.
    let (ia, ctx) = unsafe { (&(*inputs).attr, &*op_ctx) };
    assert_eq!(ia.fmt, RKNN_TENSOR_NCHW);
    assert_eq!(ia.r#type, RKNN_TENSOR_FLOAT32);
    let dims: Vec<usize> = ia.dims[..ia.n_dims as usize]
        .iter()
        .map(|&d| d as usize)
        .collect();
    let n = ia.n_elems as usize;
    // SAFETY: init stored a Vec<f32> of n elements; tensors hold n floats.
    let (tmp, x, y) = unsafe {
        (
            &mut *ctx.priv_data.cast::<Vec<f32>>(),
            data::<f32>(inputs, 0, n),
            data::<f32>(outputs, 0, n),
        )
    };
    let inner: usize = dims[axis + 1..].iter().product();
    let c = dims[axis];
    for o in 0..n / (c * inner) {
        for i in 0..inner {
            let at = |k: usize| o * c * inner + k * inner + i;
            let max = (0..c).map(|k| x[at(k)]).fold(f32::MIN, f32::max);
            let mut sum = 0.0;
            for k in 0..c {
                tmp[at(k)] = (x[at(k)] - max).exp();
                sum += tmp[at(k)];
            }
            for k in 0..c {
                y[at(k)] = tmp[at(k)] / sum;
            }
        }
    }
    0
}

unsafe extern "C" fn softmax_destroy(op_ctx: *mut rknn_custom_op_context) -> c_int {
    record(format!("destroy {}", node_name(op_ctx)));
    // SAFETY: the runtime passes a valid context; priv_data is NULL or
    // came from `softmax_init`.
    unsafe {
        let p = (*op_ctx).priv_data.cast::<Vec<f32>>();
        if !p.is_null() {
            drop(Box::from_raw(p));
        }
    }
    0
}

unsafe extern "C" fn argmax_init(
    op_ctx: *mut rknn_custom_op_context,
    _inputs: *mut rknn_custom_op_tensor,
    _n_inputs: u32,
    _outputs: *mut rknn_custom_op_tensor,
    _n_outputs: u32,
) -> c_int {
    record(format!("init {}", node_name(op_ctx)));
    *ARGMAX_INIT_RESULT.lock().unwrap()
}

/// ArgMax over axis 1 of [1, C, H, W] float32 to int64, plus 100 so the
/// test can tell it from the built-in fallback.
unsafe extern "C" fn argmax_compute(
    op_ctx: *mut rknn_custom_op_context,
    inputs: *mut rknn_custom_op_tensor,
    _n_inputs: u32,
    outputs: *mut rknn_custom_op_tensor,
    _n_outputs: u32,
) -> c_int {
    record(format!("compute {}", node_name(op_ctx)));
    // SAFETY: valid structs.
    let (ia, oa) = unsafe { (&(*inputs).attr, &(*outputs).attr) };
    assert_eq!(oa.r#type, RKNN_TENSOR_INT64);
    let (c, hw) = (ia.dims[1] as usize, (ia.dims[2] * ia.dims[3]) as usize);
    // SAFETY: the tensors hold c*hw floats and hw int64 values.
    let (x, y) = unsafe { (data::<f32>(inputs, 0, c * hw), data::<i64>(outputs, 0, hw)) };
    for p in 0..hw {
        let mut best = 0;
        for k in 0..c {
            if x[k * hw + p] > x[best * hw + p] {
                best = k;
            }
        }
        y[p] = best as i64 + 100;
    }
    0
}

fn op(ty: &str) -> rknn_custom_op {
    let mut o = rknn_custom_op {
        version: 1,
        target: RKNN_TARGET_TYPE_CPU,
        ..Default::default()
    };
    for (d, b) in o.op_type.iter_mut().zip(ty.bytes()) {
        *d = b as c_char;
    }
    o
}

fn softmax_op() -> rknn_custom_op {
    let mut o = op("cstSoftmax");
    o.init = Some(softmax_init);
    o.prepare = Some(softmax_prepare);
    o.compute = Some(softmax_compute);
    o.destroy = Some(softmax_destroy);
    o
}

fn argmax_op() -> rknn_custom_op {
    let mut o = op("ArgMax");
    o.init = Some(argmax_init);
    o.compute = Some(argmax_compute);
    o
}

fn init() -> rknn_context {
    let bytes = common::custom_op_model();
    let mut ctx: rknn_context = 0;
    // SAFETY: valid pointers; the model bytes outlive the call.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            bytes.as_ptr() as *mut c_void,
            bytes.len() as u32,
            RKNN_FLAG_COLLECT_PERF_MASK,
            null_mut(),
        )
    };
    assert_eq!(r, RKNN_SUCC);
    ctx
}

fn register(ctx: rknn_context, ops: &mut [rknn_custom_op]) -> i32 {
    // SAFETY: `ops` holds `len` valid structs.
    unsafe { rknn_register_custom_ops(ctx, ops.as_mut_ptr(), ops.len() as u32) }
}

const INPUT: [f32; 24] = [
    0.1, 2.0, -1.0, 0.5, 3.0, 0.0, 1.5, -2.0, 0.7, 0.7, 4.0, -0.3, //
    1.0, -1.0, 0.5, 0.5, 2.5, 0.2, 1.5, 1.0, -0.7, 0.9, 1.0, 0.8,
];

/// Sets the input, runs, and returns (softmax output, argmax output).
fn run(ctx: rknn_context) -> Result<(Vec<f32>, Vec<i64>), i32> {
    let mut x = INPUT;
    let mut inp = rknn_input {
        index: 0,
        buf: x.as_mut_ptr().cast(),
        size: 96,
        r#type: RKNN_TENSOR_FLOAT32,
        fmt: RKNN_TENSOR_NCHW,
        ..Default::default()
    };
    // SAFETY: one valid input over `x`.
    assert_eq!(unsafe { rknn_inputs_set(ctx, 1, &mut inp) }, RKNN_SUCC);
    // SAFETY: a live context.
    let r = unsafe { rknn_run(ctx, null_mut()) };
    if r != RKNN_SUCC {
        return Err(r);
    }
    let mut outs = [
        rknn_output {
            want_float: 1,
            index: 0,
            ..Default::default()
        },
        rknn_output {
            want_float: 0,
            index: 1,
            ..Default::default()
        },
    ];
    // SAFETY: two outputs, runtime-allocated buffers.
    assert_eq!(
        unsafe { rknn_outputs_get(ctx, 2, outs.as_mut_ptr(), null_mut()) },
        RKNN_SUCC
    );
    assert_eq!((outs[0].size, outs[1].size), (96, 96));
    // SAFETY: the runtime filled both buffers with `size` bytes.
    let (y, z) = unsafe {
        (
            std::slice::from_raw_parts(outs[0].buf.cast::<f32>(), 24).to_vec(),
            std::slice::from_raw_parts(outs[1].buf.cast::<i64>(), 12).to_vec(),
        )
    };
    // SAFETY: the outputs came from rknn_outputs_get.
    assert_eq!(
        unsafe { rknn_outputs_release(ctx, 2, outs.as_mut_ptr()) },
        RKNN_SUCC
    );
    Ok((y, z))
}

fn reference() -> (Vec<f32>, Vec<i64>) {
    let mut y = vec![0f32; 24];
    let mut z = vec![0i64; 12];
    for p in 0..12 {
        let (a, b) = (INPUT[p], INPUT[12 + p]);
        let m = a.max(b);
        let (ea, eb) = ((a - m).exp(), (b - m).exp());
        y[p] = ea / (ea + eb);
        y[12 + p] = eb / (ea + eb);
        z[p] = if y[12 + p] > y[p] { 1 } else { 0 };
    }
    (y, z)
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
}

#[test]
fn ops_registered_in_one_call_run_in_the_vendor_order() {
    let _s = serial();
    take_calls();
    let ctx = init();
    assert_eq!(register(ctx, &mut [softmax_op(), argmax_op()]), RKNN_SUCC);
    assert_eq!(
        take_calls(),
        ["init softmax0 1/1 elems 24", "init argmax0"],
        "init runs once per node at registration"
    );
    let (want_y, want_z) = reference();
    for _ in 0..2 {
        let (y, z) = run(ctx).expect("run");
        assert!(close(&y, &want_y), "{y:?} vs {want_y:?}");
        let custom: Vec<i64> = want_z.iter().map(|v| v + 100).collect();
        assert_eq!(z, custom, "the application's ArgMax ran");
    }
    assert_eq!(
        take_calls(),
        [
            "prepare softmax0",
            "compute softmax0",
            "compute argmax0",
            "prepare softmax0",
            "compute softmax0",
            "compute argmax0"
        ]
    );
    let mut perf = rknn_perf_detail::default();
    // SAFETY: a valid struct of the right size.
    let r = unsafe {
        rknn_query(
            ctx,
            RKNN_QUERY_PERF_DETAIL,
            (&mut perf as *mut rknn_perf_detail).cast(),
            size_of::<rknn_perf_detail>() as u32,
        )
    };
    assert_eq!(r, RKNN_SUCC);
    // SAFETY: the runtime returns a NUL-terminated table.
    let text = unsafe { CStr::from_ptr(perf.perf_data) }.to_string_lossy();
    let row = text
        .lines()
        .find(|l| l.contains("cstSoftmax:softmax0"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("cstSoftmax") && row.contains("CPU"), "{row}");
    assert!(text.lines().any(|l| l.starts_with("cstSoftmax ")), "{text}");
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    assert_eq!(
        take_calls(),
        ["destroy softmax0"],
        "destroy at rknn_destroy"
    );
}

#[test]
fn ops_registered_one_by_one_and_twice() {
    let _s = serial();
    take_calls();
    let ctx = init();
    assert_eq!(register(ctx, &mut [argmax_op()]), RKNN_SUCC);
    assert_eq!(
        register(ctx, &mut [argmax_op()]),
        RKNN_ERR_PARAM_INVALID,
        "a type registered in an earlier call"
    );
    assert_eq!(
        register(ctx, &mut [softmax_op(), softmax_op()]),
        RKNN_ERR_PARAM_INVALID,
        "a type given twice in one call"
    );
    assert_eq!(
        take_calls(),
        ["init argmax0"],
        "failed calls register nothing"
    );
    assert_eq!(register(ctx, &mut [softmax_op()]), RKNN_SUCC);
    assert!(run(ctx).is_ok());
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn bad_arguments_are_refused() {
    let _s = serial();
    let ctx = init();
    // SAFETY: NULL and out-of-range arguments are what is tested; the
    // function checks them before use.
    unsafe {
        assert_eq!(
            rknn_register_custom_ops(ctx, null_mut(), 1),
            RKNN_ERR_PARAM_INVALID
        );
        let mut ok = softmax_op();
        assert_eq!(
            rknn_register_custom_ops(ctx, &mut ok, 0),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_register_custom_ops(0xdead, &mut ok, 1),
            RKNN_ERR_CTX_INVALID
        );
    }
    let mut no_compute = softmax_op();
    no_compute.compute = None;
    let mut bad_target = softmax_op();
    bad_target.target = 9;
    let mut version0 = softmax_op();
    version0.version = 0;
    let mut unterminated = softmax_op();
    unterminated.op_type = [b'x' as c_char; RKNN_MAX_NAME_LEN];
    let empty = op("");
    for bad in [no_compute, bad_target, version0, unterminated, empty] {
        assert_eq!(register(ctx, &mut [bad]), RKNN_ERR_PARAM_INVALID);
    }
    // One bad op makes the whole call fail.
    let mut pair = [argmax_op(), op("")];
    assert_eq!(register(ctx, &mut pair), RKNN_ERR_PARAM_INVALID);
    assert_eq!(register(ctx, &mut [argmax_op()]), RKNN_SUCC);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn unregistered_ops_fail_the_run_not_the_init() {
    let _s = serial();
    let ctx = init();
    assert_eq!(run(ctx), Err(RKNN_ERR_FAIL));
    assert_eq!(register(ctx, &mut [argmax_op()]), RKNN_SUCC);
    assert_eq!(run(ctx), Err(RKNN_ERR_FAIL), "cstSoftmax is still missing");
    assert_eq!(register(ctx, &mut [softmax_op()]), RKNN_SUCC);
    assert!(run(ctx).is_ok());
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn callback_errors_fail_the_call() {
    let _s = serial();
    take_calls();
    let ctx = init();
    *ARGMAX_INIT_RESULT.lock().unwrap() = -3;
    assert_eq!(
        register(ctx, &mut [softmax_op(), argmax_op()]),
        RKNN_ERR_FAIL,
        "init failing fails the registration"
    );
    *ARGMAX_INIT_RESULT.lock().unwrap() = 0;
    assert_eq!(
        take_calls(),
        [
            "init softmax0 1/1 elems 24",
            "init argmax0",
            "destroy softmax0"
        ],
        "nodes initialised by the failed call are destroyed again"
    );
    assert_eq!(register(ctx, &mut [softmax_op(), argmax_op()]), RKNN_SUCC);
    *SOFTMAX_RESULT.lock().unwrap() = -7;
    assert_eq!(run(ctx), Err(RKNN_ERR_FAIL));
    *SOFTMAX_RESULT.lock().unwrap() = 0;
    assert!(run(ctx).is_ok(), "the context stays usable");
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    take_calls();
}

#[test]
fn init_may_ask_for_the_built_in_op() {
    let _s = serial();
    take_calls();
    let ctx = init();
    *ARGMAX_INIT_RESULT.lock().unwrap() = RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE;
    let r = register(ctx, &mut [softmax_op(), argmax_op()]);
    *ARGMAX_INIT_RESULT.lock().unwrap() = 0;
    assert_eq!(r, RKNN_SUCC);
    let (y, z) = run(ctx).expect("run");
    let (want_y, want_z) = reference();
    assert!(close(&y, &want_y));
    assert_eq!(z, want_z, "the built-in ArgMax ran");
    assert!(!take_calls().iter().any(|c| c == "compute argmax0"));
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

unsafe extern "C" fn skip_init(
    _: *mut rknn_custom_op_context,
    _: *mut rknn_custom_op_tensor,
    _: u32,
    _: *mut rknn_custom_op_tensor,
    _: u32,
) -> c_int {
    RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE
}

#[test]
fn skipping_an_op_without_a_built_in_fails() {
    let _s = serial();
    take_calls();
    let ctx = init();
    let mut o = softmax_op();
    o.init = Some(skip_init);
    assert_eq!(register(ctx, &mut [o]), RKNN_ERR_FAIL);
    assert_eq!(
        take_calls(),
        ["destroy softmax0"],
        "an init that returned the warning is destroyed"
    );
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn attributes_outside_a_callback_are_empty() {
    let mut a = rknn_custom_op_attr {
        n_elems: 5,
        data: std::ptr::NonNull::<u8>::dangling().as_ptr().cast(),
        ..Default::default()
    };
    let mut forged = rknn_custom_op_context {
        internal_ctx: 0x7777_7777,
        ..Default::default()
    };
    // SAFETY: valid pointers; a forged context is looked up, not trusted.
    unsafe {
        rknn_custom_op_get_op_attr(&mut forged, c"axis".as_ptr(), &mut a);
        assert_eq!((a.n_elems, a.data), (0, null_mut()));
        rknn_custom_op_get_op_attr(null_mut(), c"axis".as_ptr(), &mut a);
        rknn_custom_op_get_op_attr(&mut forged, std::ptr::null(), &mut a);
        rknn_custom_op_get_op_attr(&mut forged, c"axis".as_ptr(), null_mut());
    }
    assert_eq!((a.n_elems, a.data), (0, null_mut()));
}

#[test]
fn multi_batch_models_with_custom_ops_are_refused_at_init() {
    let model = common::with_batch(&common::custom_op_model(), 2);
    let mut ctx: rknn_context = 0;
    // SAFETY: valid pointers; `model` outlives the call.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            model.as_ptr() as *mut c_void,
            model.len() as u32,
            0,
            null_mut(),
        )
    };
    assert_eq!(r, RKNN_ERR_MODEL_INVALID);
    assert_eq!(ctx, 0);
}
