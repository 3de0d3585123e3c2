//! Proof of the panic barrier (DESIGN.md rule 3): a panic forced inside
//! the guarded body of an `extern "C"` function (the test-only hook
//! `capi::guard::force_panic_in`) comes back as `RKNN_ERR_FAIL` (or NULL
//! for a pointer-returning function) with an `E RKNN: ... internal error`
//! log line, and the process and the context carry on working.

mod common;
mod cross;

use std::ffi::c_void;
use std::ptr::null_mut;

use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::capi::guard::force_panic_in;
use rknnrt::capi::zero_copy::rknn_create_mem;

fn init(model: &[u8]) -> rknn_context {
    let mut ctx: rknn_context = 0;
    // SAFETY: `model` is readable for its length; `ctx` is writable.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            model.as_ptr() as *mut c_void,
            model.len() as u32,
            0,
            null_mut(),
        )
    };
    assert_eq!(r, RKNN_SUCC);
    ctx
}

fn in_out_num(ctx: rknn_context, num: &mut rknn_input_output_num) -> i32 {
    // SAFETY: `num` is a writable struct of the size given.
    unsafe {
        rknn_query(
            ctx,
            RKNN_QUERY_IN_OUT_NUM,
            (num as *mut rknn_input_output_num).cast(),
            std::mem::size_of::<rknn_input_output_num>() as u32,
        )
    }
}

/// Runs the Relu model on `x` and returns the float output.
fn run_relu(ctx: rknn_context, x: &mut [f32]) -> Vec<f32> {
    let mut inp = rknn_input {
        index: 0,
        buf: x.as_mut_ptr().cast(),
        size: (x.len() * 4) as u32,
        pass_through: 0,
        r#type: RKNN_TENSOR_FLOAT32,
        fmt: RKNN_TENSOR_NCHW,
    };
    // SAFETY: one input whose buffer holds `size` bytes.
    assert_eq!(unsafe { rknn_inputs_set(ctx, 1, &mut inp) }, RKNN_SUCC);
    // SAFETY: NULL extend.
    assert_eq!(unsafe { rknn_run(ctx, null_mut()) }, RKNN_SUCC);
    let mut out = rknn_output {
        want_float: 1,
        ..Default::default()
    };
    // SAFETY: one output struct.
    assert_eq!(
        unsafe { rknn_outputs_get(ctx, 1, &mut out, null_mut()) },
        RKNN_SUCC
    );
    assert_eq!(out.size as usize, x.len() * 4);
    // SAFETY: the runtime lent `size` bytes of f32 at `buf`.
    let y = unsafe { std::slice::from_raw_parts(out.buf.cast::<f32>(), x.len()) }.to_vec();
    // SAFETY: the struct filled by `rknn_outputs_get`.
    assert_eq!(unsafe { rknn_outputs_release(ctx, 1, &mut out) }, RKNN_SUCC);
    y
}

/// Forces a panic in `rknn_query` and in `rknn_create_mem`, checks the
/// error returns, then uses the context normally.
fn panic_then_carry_on() {
    let model = common::relu_model();
    let ctx = init(&model);

    force_panic_in(Some("rknn_query"));
    let mut num = rknn_input_output_num::default();
    assert_eq!(in_out_num(ctx, &mut num), RKNN_ERR_FAIL);
    assert_eq!((num.n_input, num.n_output), (0, 0), "nothing written");
    // The hook is one-shot: the same query on the same context now works.
    assert_eq!(in_out_num(ctx, &mut num), RKNN_SUCC);
    assert_eq!((num.n_input, num.n_output), (1, 1));

    force_panic_in(Some("rknn_create_mem"));
    // SAFETY: a live context; the function returns a pointer or NULL.
    assert!(unsafe { rknn_create_mem(ctx, 64) }.is_null());

    let mut x: Vec<f32> = (0..48).map(|i| (i as f32 - 24.0) / 4.0).collect();
    let y = run_relu(ctx, &mut x);
    let want: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
    assert_eq!(y, want);

    // A second context still comes up after the panics.
    let other = init(&model);
    assert_eq!(rknn_destroy(other), RKNN_SUCC);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn forced_panic_returns_error_and_context_keeps_working() {
    panic_then_carry_on();
}

/// Child half of `forced_panic_is_logged_as_internal_error`.
#[test]
fn panic_child() {
    if std::env::var("RKNNRT_PANIC_CHILD").is_err() {
        return;
    }
    panic_then_carry_on();
    println!("panic child carried on");
}

#[test]
fn forced_panic_is_logged_as_internal_error() {
    let out = cross::command(std::env::current_exe().unwrap())
        .args(["--exact", "panic_child", "--nocapture", "--test-threads=1"])
        .env("RKNNRT_PANIC_CHILD", "1")
        .env("RKNN_LOG_LEVEL", "0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed:\n{stdout}\n{err}");
    assert!(stdout.contains("panic child carried on"), "{stdout}");
    for func in ["rknn_query", "rknn_create_mem"] {
        let line = err
            .lines()
            .find(|l| l.starts_with("E RKNN: [") && l.contains(func))
            .unwrap_or_else(|| panic!("no E RKNN line for {func} in: {err}"));
        assert!(
            line.contains(&format!("{func}, internal error: forced panic in {func}")),
            "{line}"
        );
    }
    // The panic hit before the body: rknn_create_mem's normal refusal
    // ("not supported yet") was never reached.
    assert!(!err.contains("not supported"), "{err}");
}

/// The barrier relies on unwinding: `panic = "abort"` in the release
/// profile would turn every caught panic into an abort of the host.
#[test]
fn release_profile_unwinds() {
    let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("read Cargo.toml");
    let release = toml
        .split("[profile.release]")
        .nth(1)
        .expect("a [profile.release] section")
        .split("\n[")
        .next()
        .unwrap_or_default();
    let panic_lines: Vec<&str> = release
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("panic"))
        .collect();
    assert_eq!(panic_lines, ["panic = \"unwind\""], "{release}");
    assert!(
        !toml.contains("panic = \"abort\""),
        "no profile may abort on panic"
    );
}
