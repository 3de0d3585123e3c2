//! The general C API flow driven from Rust through the `extern "C"`
//! functions: success paths, every error path of the foundation issue, and
//! that each error leaves the context usable.

mod common;
mod cross;

use std::ffi::{c_void, CStr, CString};
use std::ptr::{null_mut, NonNull};

use rknnrt::abi::*;
use rknnrt::capi::general::*;

fn init_bytes(bytes: &[u8], flags: u32) -> Result<rknn_context, i32> {
    init_extended(bytes, flags, null_mut())
}

/// `rknn_init` with an optional `rknn_init_extend` (NULL for none).
fn init_extended(
    bytes: &[u8],
    flags: u32,
    ext: *mut rknn_init_extend,
) -> Result<rknn_context, i32> {
    let mut ctx: rknn_context = 0;
    // SAFETY: valid pointers; `bytes` outlives the call; `ext` is NULL or
    // points to a live `rknn_init_extend`.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            bytes.as_ptr() as *mut c_void,
            bytes.len() as u32,
            flags,
            ext,
        )
    };
    if r == RKNN_SUCC {
        Ok(ctx)
    } else {
        Err(r)
    }
}

/// `rknn_init` on a model file: `size = 0` makes `model` a NUL-terminated
/// path.
fn init_path(path: &CStr) -> Result<rknn_context, i32> {
    let mut ctx: rknn_context = 0;
    // SAFETY: `path` is NUL-terminated and outlives the call.
    let r = unsafe { rknn_init(&mut ctx, path.as_ptr() as *mut c_void, 0, 0, null_mut()) };
    if r == RKNN_SUCC {
        Ok(ctx)
    } else {
        Err(r)
    }
}

fn query<T>(ctx: rknn_context, cmd: rknn_query_cmd, v: &mut T) -> i32 {
    query_sized(ctx, cmd, v, std::mem::size_of::<T>() as u32)
}

/// `rknn_query` into `v`, claiming a buffer of `size` bytes (at most the
/// size of `T`).
fn query_sized<T>(ctx: rknn_context, cmd: rknn_query_cmd, v: &mut T, size: u32) -> i32 {
    assert!(size as usize <= std::mem::size_of::<T>());
    // SAFETY: `v` is a valid, writable T of at least `size` bytes.
    unsafe { rknn_query(ctx, cmd, v as *mut T as *mut c_void, size) }
}

fn zeroed<T: Default>() -> T {
    T::default()
}

fn set_f32_input(ctx: rknn_context, data: &mut [f32], fmt: rknn_tensor_format) -> i32 {
    let mut inp: rknn_input = zeroed();
    inp.index = 0;
    inp.buf = data.as_mut_ptr().cast();
    inp.size = (data.len() * 4) as u32;
    inp.r#type = RKNN_TENSOR_FLOAT32;
    inp.fmt = fmt;
    // SAFETY: one valid input.
    unsafe { rknn_inputs_set(ctx, 1, &mut inp) }
}

fn get_float_output(ctx: rknn_context) -> Result<Vec<f32>, i32> {
    let mut out: rknn_output = zeroed();
    out.want_float = 1;
    // SAFETY: one valid output.
    let r = unsafe { rknn_outputs_get(ctx, 1, &mut out, null_mut()) };
    if r != RKNN_SUCC {
        return Err(r);
    }
    // SAFETY: the runtime lent `size` bytes at `buf`.
    let v = unsafe { std::slice::from_raw_parts(out.buf as *const f32, out.size as usize / 4) }
        .to_vec();
    // SAFETY: releasing what was handed out.
    assert_eq!(unsafe { rknn_outputs_release(ctx, 1, &mut out) }, RKNN_SUCC);
    Ok(v)
}

/// Runs the relu model end to end; proves the context still works.
fn check_usable(ctx: rknn_context) {
    let mut x: Vec<f32> = (0..48).map(|i| i as f32 - 24.0).collect();
    assert_eq!(set_f32_input(ctx, &mut x, RKNN_TENSOR_NCHW), RKNN_SUCC);
    // SAFETY: plain call.
    assert_eq!(unsafe { rknn_run(ctx, null_mut()) }, RKNN_SUCC);
    let y = get_float_output(ctx).expect("outputs");
    let want: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
    assert_eq!(y, want);
}

#[test]
fn relu_model_runs_and_reports_attrs() {
    let model = common::relu_model();
    let ctx = init_bytes(&model, 0).expect("init");

    let mut n: rknn_input_output_num = zeroed();
    assert_eq!(query(ctx, RKNN_QUERY_IN_OUT_NUM, &mut n), RKNN_SUCC);
    assert_eq!((n.n_input, n.n_output), (1, 1));

    let mut a: rknn_tensor_attr = zeroed();
    a.index = 0;
    assert_eq!(query(ctx, RKNN_QUERY_INPUT_ATTR, &mut a), RKNN_SUCC);
    assert_eq!(a.n_dims, 4);
    assert_eq!(&a.dims[..4], &[1, 4, 4, 3]);
    assert_eq!(a.fmt, RKNN_TENSOR_NHWC);
    assert_eq!(a.r#type, RKNN_TENSOR_FLOAT32);
    // SAFETY: the runtime NUL-terminates names.
    assert_eq!(
        unsafe { CStr::from_ptr(a.name.as_ptr()) }.to_str().unwrap(),
        "x"
    );

    let mut v: rknn_sdk_version = zeroed();
    assert_eq!(query(ctx, RKNN_QUERY_SDK_VERSION, &mut v), RKNN_SUCC);
    // SAFETY: NUL-terminated by the runtime.
    let api = unsafe { CStr::from_ptr(v.api_version.as_ptr()) }
        .to_str()
        .unwrap()
        .to_string();
    assert!(api.starts_with(env!("CARGO_PKG_VERSION")), "{api}");
    assert!(api.contains('@'), "{api}");

    let mut s: rknn_custom_string = zeroed();
    assert_eq!(query(ctx, RKNN_QUERY_CUSTOM_STRING, &mut s), RKNN_SUCC);
    // SAFETY: NUL-terminated by the runtime.
    assert_eq!(
        unsafe { CStr::from_ptr(s.string.as_ptr()) }
            .to_str()
            .unwrap(),
        "relu test model"
    );

    let mut m: rknn_mem_size = zeroed();
    assert_eq!(query(ctx, RKNN_QUERY_MEM_SIZE, &mut m), RKNN_SUCC);
    assert_eq!(m.total_weight_size, 0);
    assert!(m.total_dma_allocated_size >= 2 * 192);

    check_usable(ctx);
    // NHWC input gives the same result after the layout change.
    let mut nhwc: Vec<f32> = vec![0.0; 48];
    for c in 0..3 {
        for p in 0..16 {
            nhwc[p * 3 + c] = (c * 16 + p) as f32 - 24.0;
        }
    }
    assert_eq!(set_f32_input(ctx, &mut nhwc, RKNN_TENSOR_NHWC), RKNN_SUCC);
    // SAFETY: plain call.
    assert_eq!(unsafe { rknn_run(ctx, null_mut()) }, RKNN_SUCC);
    let y = get_float_output(ctx).unwrap();
    assert_eq!(y[0], 0.0);
    assert_eq!(y[47], 23.0);

    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn init_from_path_and_dup_context() {
    let dir = std::env::temp_dir().join(format!("rknnrt-capi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("relu.rknn");
    std::fs::write(&path, common::relu_model()).unwrap();
    let cpath = CString::new(path.to_str().unwrap()).unwrap();
    let mut ctx = init_path(&cpath).expect("init from path");
    check_usable(ctx);

    let mut dup: rknn_context = 0;
    // SAFETY: valid handle storage.
    assert_eq!(unsafe { rknn_dup_context(&mut ctx, &mut dup) }, RKNN_SUCC);
    assert_ne!(dup, ctx);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    check_usable(dup);
    assert_eq!(rknn_destroy(dup), RKNN_SUCC);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn int8_model_applies_mean_std_and_quantization() {
    let model = common::int8_conv_model();
    let ctx = init_bytes(&model, 0).expect("init");
    let mut a: rknn_tensor_attr = zeroed();
    assert_eq!(query(ctx, RKNN_QUERY_OUTPUT_ATTR, &mut a), RKNN_SUCC);
    assert_eq!(a.r#type, RKNN_TENSOR_INT8);
    assert_eq!(a.qnt_type, RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC);
    assert_eq!(a.zp, -3);
    assert_eq!(a.scale, 1.0 / 32.0);

    // uint8 NHWC image, 3x3 pixels, 2 channels.
    let mut img: Vec<u8> = (0..18).map(|i| (i * 7 % 50) as u8).collect();
    let mut inp: rknn_input = zeroed();
    inp.buf = img.as_mut_ptr().cast();
    inp.size = 18;
    inp.r#type = RKNN_TENSOR_UINT8;
    inp.fmt = RKNN_TENSOR_NHWC;
    // SAFETY: one valid input.
    assert_eq!(unsafe { rknn_inputs_set(ctx, 1, &mut inp) }, RKNN_SUCC);
    // SAFETY: plain call.
    assert_eq!(unsafe { rknn_run(ctx, null_mut()) }, RKNN_SUCC);

    // Independent reference in real numbers, quantized at the end.
    let mean = [10.0f32, 20.0];
    let std = [2.0f32, 4.0];
    let q = |v: f32, s: f32, zp: i32| ((v / s).round() as i32 + zp).clamp(-128, 127);
    let xq: Vec<Vec<i32>> = (0..2)
        .map(|c| {
            (0..9)
                .map(|p| q((img[p * 2 + c] as f32 - mean[c]) / std[c], 1.0 / 64.0, 0))
                .collect()
        })
        .collect();
    let w = [[127, -64], [32, 127]];
    let ws = [0.5 / 127.0, 1.0 / 127.0];
    let bias = [100, -50];
    let mut out: rknn_output = zeroed();
    out.want_float = 0;
    // SAFETY: one valid output.
    assert_eq!(
        unsafe { rknn_outputs_get(ctx, 1, &mut out, null_mut()) },
        RKNN_SUCC
    );
    assert_eq!(out.size, 18);
    // SAFETY: lent buffer of `size` bytes.
    let got = unsafe { std::slice::from_raw_parts(out.buf as *const i8, 18) }.to_vec();
    for m in 0..2 {
        for p in 0..9 {
            let acc: i32 = (0..2).map(|c| xq[c][p] * w[m][c]).sum::<i32>() + bias[m];
            let real = acc as f64 * ws[m] / 64.0;
            let want = ((real * 32.0).round() as i32 - 3).clamp(-128, 127);
            assert!(
                (got[m * 9 + p] as i32 - want).abs() <= 1,
                "m={m} p={p}: got {} want {want}",
                got[m * 9 + p]
            );
        }
    }
    // SAFETY: releasing what was handed out.
    assert_eq!(unsafe { rknn_outputs_release(ctx, 1, &mut out) }, RKNN_SUCC);
    let floats = get_float_output(ctx).unwrap();
    for (f, q) in floats.iter().zip(&got) {
        assert_eq!(*f, (*q as i32 + 3) as f32 / 32.0);
    }
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn errors_return_codes_and_leave_context_usable() {
    let model = common::relu_model();
    let ctx = init_bytes(&model, 0).expect("init");

    // Invalid contexts.
    assert_eq!(rknn_destroy(0xdead_beef), RKNN_ERR_CTX_INVALID);
    let mut n: rknn_input_output_num = zeroed();
    assert_eq!(
        query(0xdead_beef, RKNN_QUERY_IN_OUT_NUM, &mut n),
        RKNN_ERR_CTX_INVALID
    );
    // SAFETY: plain calls with bad handles.
    assert_eq!(
        unsafe { rknn_run(0xdead_beef, null_mut()) },
        RKNN_ERR_CTX_INVALID
    );

    // NULL pointers.
    // SAFETY: the runtime must reject NULL without dereferencing it.
    unsafe {
        assert_eq!(
            rknn_init(null_mut(), model.as_ptr() as *mut c_void, 10, 0, null_mut()),
            RKNN_ERR_PARAM_INVALID
        );
        let mut c: rknn_context = 0;
        assert_eq!(
            rknn_init(&mut c, null_mut(), 10, 0, null_mut()),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_query(ctx, RKNN_QUERY_IN_OUT_NUM, null_mut(), 8),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(rknn_inputs_set(ctx, 1, null_mut()), RKNN_ERR_PARAM_INVALID);
        assert_eq!(
            rknn_outputs_get(ctx, 1, null_mut(), null_mut()),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_outputs_release(ctx, 1, null_mut()),
            RKNN_ERR_PARAM_INVALID
        );
    }

    // Out-of-range index and too-small size (a 1.2-era 372-byte attr).
    let mut a: rknn_tensor_attr = zeroed();
    a.index = 1;
    assert_eq!(
        query(ctx, RKNN_QUERY_INPUT_ATTR, &mut a),
        RKNN_ERR_PARAM_INVALID
    );
    a.index = 0;
    assert_eq!(
        query_sized(ctx, RKNN_QUERY_INPUT_ATTR, &mut a, 372),
        RKNN_ERR_PARAM_INVALID
    );
    assert_eq!(query(ctx, 9999, &mut a), RKNN_ERR_PARAM_INVALID);

    // Outputs before any run.
    assert_eq!(get_float_output(ctx), Err(RKNN_ERR_FAIL));

    // Wrong input size, wrong count, bad type, NULL buffer.
    let mut small = vec![0f32; 10];
    assert_eq!(
        set_f32_input(ctx, &mut small, RKNN_TENSOR_NCHW),
        RKNN_ERR_INPUT_INVALID
    );
    let mut inp: rknn_input = zeroed();
    // SAFETY: `inp` is valid; its NULL buf must be rejected.
    assert_eq!(
        unsafe { rknn_inputs_set(ctx, 1, &mut inp) },
        RKNN_ERR_INPUT_INVALID
    );
    // SAFETY: n_inputs 0 with a valid pointer.
    assert_eq!(
        unsafe { rknn_inputs_set(ctx, 0, &mut inp) },
        RKNN_ERR_PARAM_INVALID
    );
    let mut x = vec![0f32; 48];
    inp.buf = x.as_mut_ptr().cast();
    inp.size = 192;
    inp.r#type = 77;
    // SAFETY: valid input with a bad type.
    assert_eq!(
        unsafe { rknn_inputs_set(ctx, 1, &mut inp) },
        RKNN_ERR_INPUT_INVALID
    );
    inp.r#type = RKNN_TENSOR_FLOAT32;
    inp.index = 3;
    // SAFETY: valid input with a bad index.
    assert_eq!(
        unsafe { rknn_inputs_set(ctx, 1, &mut inp) },
        RKNN_ERR_INPUT_INVALID
    );

    check_usable(ctx);

    // Double release; output index out of range; too-small preallocation.
    let mut out: rknn_output = zeroed();
    out.want_float = 1;
    // SAFETY: valid output struct.
    unsafe {
        assert_eq!(rknn_outputs_get(ctx, 1, &mut out, null_mut()), RKNN_SUCC);
        let mut copy = out;
        assert_eq!(rknn_outputs_release(ctx, 1, &mut out), RKNN_SUCC);
        assert!(out.buf.is_null());
        assert_eq!(
            rknn_outputs_release(ctx, 1, &mut copy),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_outputs_release(ctx, 1, &mut out),
            RKNN_ERR_PARAM_INVALID
        );
        let mut bad: rknn_output = zeroed();
        bad.index = 5;
        assert_eq!(
            rknn_outputs_get(ctx, 1, &mut bad, null_mut()),
            RKNN_ERR_OUTPUT_INVALID
        );
        let mut tiny = [0f32; 4];
        let mut pre: rknn_output = zeroed();
        pre.want_float = 1;
        pre.is_prealloc = 1;
        pre.buf = tiny.as_mut_ptr().cast();
        pre.size = 16;
        assert_eq!(
            rknn_outputs_get(ctx, 1, &mut pre, null_mut()),
            RKNN_ERR_OUTPUT_INVALID
        );
        let mut full = [0f32; 48];
        pre.buf = full.as_mut_ptr().cast();
        pre.size = 192;
        assert_eq!(rknn_outputs_get(ctx, 1, &mut pre, null_mut()), RKNN_SUCC);
        assert_eq!(full[47], 23.0);
        // Preallocated outputs need no release; releasing them is harmless.
        assert_eq!(rknn_outputs_release(ctx, 1, &mut pre), RKNN_SUCC);
    }

    // A non-blocking run is waited for (tests/capi_async.rs has more).
    let mut ext: rknn_run_extend = zeroed();
    ext.non_block = 1;
    // SAFETY: valid extend struct.
    unsafe {
        assert_eq!(rknn_run(ctx, &mut ext), RKNN_SUCC);
        assert!(ext.frame_id > 0);
        assert_eq!(rknn_wait(ctx, &mut ext), RKNN_SUCC);
    }
    // PERF_DETAIL without the collect flag.
    let mut d: rknn_perf_detail = zeroed();
    assert_eq!(query(ctx, RKNN_QUERY_PERF_DETAIL, &mut d), RKNN_ERR_FAIL);

    check_usable(ctx);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    assert_eq!(rknn_destroy(ctx), RKNN_ERR_CTX_INVALID);
    // SAFETY: plain call on a destroyed handle.
    assert_eq!(unsafe { rknn_run(ctx, null_mut()) }, RKNN_ERR_CTX_INVALID);
}

#[test]
fn hostile_model_files_are_refused() {
    let good = common::relu_model();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("one byte".into(), vec![0u8]),
        ("truncated header".into(), good[..16].to_vec()),
        ("truncated body".into(), good[..good.len() - 1].to_vec()),
        ("vendor magic".into(), {
            let mut v = b"RKNN".to_vec();
            v.extend_from_slice(&[0u8; 4]);
            v.extend_from_slice(&6u64.to_le_bytes());
            v.extend_from_slice(&[0u8; 64]);
            v
        }),
    ];
    for bit in [7usize, 8 * 20 + 3, 8 * (good.len() / 2), 8 * good.len() - 1] {
        let mut v = good.clone();
        v[bit / 8] ^= 1 << (bit % 8);
        cases.push((format!("bit {bit} flipped"), v));
    }
    for (what, bytes) in cases {
        assert_eq!(init_bytes(&bytes, 0), Err(RKNN_ERR_MODEL_INVALID), "{what}");
    }
    // Zero-length buffer: size 0 means "path", so use an empty file.
    let path = std::env::temp_dir().join(format!("rknnrt-empty-{}.rknn", std::process::id()));
    std::fs::write(&path, b"").unwrap();
    let cpath = CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(init_path(&cpath), Err(RKNN_ERR_MODEL_INVALID));
    std::fs::remove_file(&path).unwrap();
    // Missing file.
    let missing = CString::new("/nonexistent/model.rknn").unwrap();
    assert_eq!(init_path(&missing), Err(RKNN_ERR_FAIL));
}

#[test]
fn perf_queries_after_run() {
    let model = common::relu_model();
    let ctx = init_bytes(&model, RKNN_FLAG_COLLECT_PERF_MASK).expect("init");
    let mut d: rknn_perf_detail = zeroed();
    assert_eq!(query(ctx, RKNN_QUERY_PERF_DETAIL, &mut d), RKNN_ERR_FAIL);
    check_usable(ctx);
    assert_eq!(query(ctx, RKNN_QUERY_PERF_DETAIL, &mut d), RKNN_SUCC);
    let text = NonNull::new(d.perf_data).expect("perf text");
    // SAFETY: runtime-owned NUL-terminated text, valid until the next query.
    let text = unsafe { CStr::from_ptr(text.as_ptr()) }.to_str().unwrap();
    assert_eq!(text.len() as u64, d.data_len);
    assert!(text.contains("Relu:relu"), "{text}");
    let mut p: rknn_perf_run = zeroed();
    assert_eq!(query(ctx, RKNN_QUERY_PERF_RUN, &mut p), RKNN_SUCC);
    assert!(p.run_duration >= 0);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn core_mask_rules() {
    let model = common::relu_model();
    let ctx = init_bytes(&model, 0).expect("init");
    for ok in [
        RKNN_NPU_CORE_AUTO,
        RKNN_NPU_CORE_0,
        RKNN_NPU_CORE_0_1,
        RKNN_NPU_CORE_0_1_2,
        RKNN_NPU_CORE_ALL,
    ] {
        assert_eq!(rknn_set_core_mask(ctx, ok), RKNN_SUCC, "mask {ok}");
    }
    for bad in [8u32, 0x10000, 0xff] {
        assert_eq!(
            rknn_set_core_mask(ctx, bad),
            RKNN_ERR_PARAM_INVALID,
            "mask {bad}"
        );
    }
    check_usable(ctx);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

/// Child half of `errors_are_logged_in_vendor_format`.
#[test]
fn log_child() {
    if std::env::var("RKNNRT_LOG_CHILD").is_err() {
        return;
    }
    let model = common::relu_model();
    let ctx = init_bytes(&model, 0).expect("init");
    let mut a: rknn_tensor_attr = zeroed();
    assert_eq!(
        query_sized(ctx, RKNN_QUERY_INPUT_ATTR, &mut a, 372),
        RKNN_ERR_PARAM_INVALID
    );
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn errors_are_logged_in_vendor_format() {
    let out = cross::command(std::env::current_exe().unwrap())
        .args(["--exact", "log_child", "--nocapture", "--test-threads=1"])
        .env("RKNNRT_LOG_CHILD", "1")
        .env("RKNN_LOG_LEVEL", "0")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("rknn_query"))
        .unwrap_or_else(|| panic!("no log line in: {err}"));
    assert!(line.starts_with("E RKNN: ["), "{line}");
    assert!(
        line.ends_with("rknn_query, info_len(372) < sizeof(rknn_tensor_attr)(376)!"),
        "{line}"
    );
    // Level 0 shows errors only: no info banner.
    assert!(!err.contains("I RKNN:"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("RKNN:"),
        "log lines must not go to stdout: {stdout}"
    );
}

#[test]
fn native_attribute_queries() {
    let model = common::int8_conv_model();
    let ctx = init_bytes(&model, 0).expect("init");
    // 2 channels: NC1HWC2 with the rk3588 int8 C2 of 16.
    let mut a: rknn_tensor_attr = zeroed();
    assert_eq!(query(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, &mut a), RKNN_SUCC);
    assert_eq!(a.fmt, RKNN_TENSOR_NC1HWC2);
    assert_eq!(a.n_dims, 5);
    assert_eq!(&a.dims[..5], &[1, 1, 3, 3, 16]);
    assert_eq!(a.size_with_stride, 3 * 3 * 16);
    assert_eq!(a.r#type, RKNN_TENSOR_INT8);
    let mut o: rknn_tensor_attr = zeroed();
    assert_eq!(query(ctx, RKNN_QUERY_NATIVE_OUTPUT_ATTR, &mut o), RKNN_SUCC);
    assert_eq!(o.fmt, RKNN_TENSOR_NC1HWC2);
    assert_eq!(&o.dims[..5], &[1, 1, 3, 3, 16]);
    assert_eq!((o.zp, o.scale), (-3, 1.0 / 32.0));
    let mut n: rknn_tensor_attr = zeroed();
    assert_eq!(
        query(ctx, RKNN_QUERY_NATIVE_NHWC_OUTPUT_ATTR, &mut n),
        RKNN_SUCC
    );
    assert_eq!(n.fmt, RKNN_TENSOR_NHWC);
    assert_eq!(&n.dims[..4], &[1, 3, 3, 2]);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);

    // 3 channels: NHWC with the width aligned to 16 on rk3588.
    let relu = common::relu_model();
    let ctx = init_bytes(&relu, 0).expect("init");
    let mut a: rknn_tensor_attr = zeroed();
    assert_eq!(query(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, &mut a), RKNN_SUCC);
    assert_eq!(a.fmt, RKNN_TENSOR_NHWC);
    assert_eq!(&a.dims[..4], &[1, 4, 4, 3]);
    assert_eq!(a.w_stride, 16);
    assert_eq!(a.size_with_stride, 4 * 16 * 3 * 4);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn info_only_and_shared_weight_contexts() {
    let model = common::int8_conv_model();
    let info = init_bytes(&model, RKNN_FLAG_COLLECT_MODEL_INFO_ONLY).expect("init");
    let mut m: rknn_mem_size = zeroed();
    assert_eq!(query(info, RKNN_QUERY_MEM_SIZE, &mut m), RKNN_SUCC);
    assert_eq!(m.total_weight_size, 72);
    assert_eq!(m.total_dma_allocated_size, 0);
    // SAFETY: plain call.
    assert_eq!(unsafe { rknn_run(info, null_mut()) }, RKNN_ERR_FAIL);
    assert_eq!(rknn_destroy(info), RKNN_SUCC);

    let owner = init_bytes(&model, 0).expect("init");
    let mut ext: rknn_init_extend = zeroed();
    ext.ctx = owner;
    // The model is loaded; its weights must equal the owner's.
    let other = common::conv_chain_model(4, 4, 1, true);
    assert_eq!(
        init_extended(&other, RKNN_FLAG_SHARE_WEIGHT_MEM, &mut ext).err(),
        Some(RKNN_ERR_PARAM_INVALID),
        "different weights"
    );
    let shared = init_extended(&model, RKNN_FLAG_SHARE_WEIGHT_MEM, &mut ext).expect("init shared");
    assert_eq!(rknn_destroy(owner), RKNN_SUCC);
    let mut img = vec![50u8; 18];
    let mut inp: rknn_input = zeroed();
    inp.buf = img.as_mut_ptr().cast();
    inp.size = 18;
    inp.r#type = RKNN_TENSOR_UINT8;
    inp.fmt = RKNN_TENSOR_NHWC;
    // SAFETY: one valid input; the weights outlive their first owner.
    unsafe {
        assert_eq!(rknn_inputs_set(shared, 1, &mut inp), RKNN_SUCC);
        assert_eq!(rknn_run(shared, null_mut()), RKNN_SUCC);
    }
    assert!(get_float_output(shared).is_ok());
    assert_eq!(rknn_destroy(shared), RKNN_SUCC);
    // Sharing with a context that does not exist fails cleanly.
    ext.ctx = owner;
    let r = init_extended(&model, RKNN_FLAG_SHARE_WEIGHT_MEM, &mut ext);
    assert_eq!(r.err(), Some(RKNN_ERR_CTX_INVALID));
}

#[test]
fn failed_outputs_get_takes_back_only_what_it_lent() {
    let model = common::three_output_model();
    let ctx = init_bytes(&model, 0).expect("init");
    let mut x: Vec<f32> = (0..8).map(|i| i as f32 - 4.0).collect();
    let mut inp: rknn_input = zeroed();
    inp.buf = x.as_mut_ptr().cast();
    inp.size = 32;
    inp.r#type = RKNN_TENSOR_FLOAT32;
    inp.fmt = RKNN_TENSOR_UNDEFINED;
    // SAFETY: one valid input, then a plain run.
    unsafe {
        assert_eq!(rknn_inputs_set(ctx, 1, &mut inp), RKNN_SUCC);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
    }
    // [preallocated ok, lent ok, bad index]: the call fails and takes back
    // exactly the buffer it lent, leaving the caller's own buffer alone.
    let mut mine = [0f32; 8];
    let mut outs: [rknn_output; 3] = [zeroed(), zeroed(), zeroed()];
    outs[0].want_float = 1;
    outs[0].is_prealloc = 1;
    outs[0].buf = mine.as_mut_ptr().cast();
    outs[0].size = 32;
    outs[1].index = 1;
    outs[1].want_float = 1;
    outs[2].index = 7;
    // SAFETY: three valid structs; the third has a bad index.
    let r = unsafe { rknn_outputs_get(ctx, 3, outs.as_mut_ptr(), null_mut()) };
    assert_eq!(r, RKNN_ERR_OUTPUT_INVALID);
    assert_eq!(outs[0].buf, mine.as_mut_ptr().cast::<c_void>());
    assert!(outs[1].buf.is_null(), "the lent buffer must be taken back");
    // Nothing is left lent: releasing output 1 now is an error, not a free.
    // SAFETY: valid structs.
    assert_eq!(
        unsafe { rknn_outputs_release(ctx, 3, outs.as_mut_ptr()) },
        RKNN_ERR_PARAM_INVALID
    );
    // The same request with a valid third index succeeds.
    outs[2].index = 2;
    outs[2].want_float = 1;
    // SAFETY: valid structs.
    unsafe {
        assert_eq!(
            rknn_outputs_get(ctx, 3, outs.as_mut_ptr(), null_mut()),
            RKNN_SUCC
        );
        let relu: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
        assert_eq!(mine.to_vec(), relu);
        assert_eq!(rknn_outputs_release(ctx, 3, outs.as_mut_ptr()), RKNN_SUCC);
    }
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

/// Child half of `level_4_prints_the_layer_table_after_each_run`.
#[test]
fn perf_log_child() {
    if std::env::var("RKNNRT_PERF_LOG_CHILD").is_err() {
        return;
    }
    let model = common::relu_model();
    let ctx = init_bytes(&model, 0).expect("init");
    check_usable(ctx);
    // The table is also available through the query at this level.
    let mut d: rknn_perf_detail = zeroed();
    assert_eq!(query(ctx, RKNN_QUERY_PERF_DETAIL, &mut d), RKNN_SUCC);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn level_4_prints_the_layer_table_after_each_run() {
    let out = cross::command(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "perf_log_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RKNNRT_PERF_LOG_CHILD", "1")
        .env("RKNN_LOG_LEVEL", "4")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("I RKNN: ["), "banner at level 4: {err}");
    assert!(
        err.contains("RKNN Runtime Information, librknnrt version: "),
        "{err}"
    );
    let table: Vec<&str> = err.lines().filter(|l| l.starts_with("D RKNN: [")).collect();
    assert!(
        table
            .iter()
            .any(|l| l.ends_with("Network Layer Information Table")),
        "{err}"
    );
    assert!(table.iter().any(|l| l.contains("Relu:relu")), "{err}");
    assert!(
        table
            .iter()
            .any(|l| l.contains("Total Operator Elapsed Per Frame Time(us): ")),
        "{err}"
    );
}

#[test]
fn duplicates_share_the_model_and_own_their_memory() {
    use rknnrt::driver::host::HostDevice;
    use rknnrt::runtime::Context;
    let bytes = common::conv_chain_model(4, 4, 2, false);
    let model = std::sync::Arc::new(rknnrt::model::Model::load(Box::new(bytes)).expect("model"));
    let device: std::sync::Arc<dyn rknnrt::driver::Device> = std::sync::Arc::new(HostDevice::new());
    let a = Context::new(model, device, 0).expect("context");
    let b = a.duplicate().expect("duplicate");
    assert!(
        std::sync::Arc::ptr_eq(&a.shared_model(), &b.shared_model()),
        "one model"
    );
    assert_eq!(
        a.model().weights().as_ptr(),
        b.model().weights().as_ptr(),
        "one copy of the weights"
    );
    let (ma, mb) = (a.mem_size(), b.mem_size());
    assert_eq!(ma, mb, "same plan, same sizes");
    assert!(
        ma.internal > 0 && ma.dma_allocated >= ma.internal,
        "own arena and IO buffers"
    );
}

#[test]
fn shared_weights_across_input_sizes() {
    // Two models of one network at two input sizes have the same weights.
    let small = common::conv_chain_model(4, 4, 6, true);
    let large = common::conv_chain_model(8, 12, 6, true);
    let owner = init_bytes(&small, 0).expect("owner");
    let mut ext: rknn_init_extend = zeroed();
    ext.ctx = owner;
    let shared = init_extended(&large, RKNN_FLAG_SHARE_WEIGHT_MEM, &mut ext).expect("shared");
    let alone = init_bytes(&large, 0).expect("alone");
    let mut a: rknn_tensor_attr = zeroed();
    assert_eq!(query(shared, RKNN_QUERY_INPUT_ATTR, &mut a), RKNN_SUCC);
    assert_eq!(
        &a.dims[..4],
        &[1, 8, 12, 3],
        "the shared context has its own graph"
    );
    let run = |ctx: rknn_context| {
        let mut img: Vec<u8> = (0..8 * 12 * 3).map(|i| (i * 13 % 256) as u8).collect();
        let mut inp: rknn_input = zeroed();
        inp.buf = img.as_mut_ptr().cast();
        inp.size = img.len() as u32;
        inp.r#type = RKNN_TENSOR_UINT8;
        inp.fmt = RKNN_TENSOR_NHWC;
        // SAFETY: one valid input.
        unsafe {
            assert_eq!(rknn_inputs_set(ctx, 1, &mut inp), RKNN_SUCC);
            assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
        }
        get_float_output(ctx).expect("output")
    };
    assert_eq!(run(shared), run(alone));
    for c in [owner, shared, alone] {
        assert_eq!(rknn_destroy(c), RKNN_SUCC);
    }
}
