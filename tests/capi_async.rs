//! Asynchronous runs through the C API: non-blocking `rknn_run` with
//! `rknn_wait` and frame ids, `RKNN_FLAG_ASYNC_MASK` (previous-frame
//! outputs), `rknn_destroy` with a run pending, and the init flag
//! combinations that are refused.

mod common;

use std::ffi::c_void;
use std::ptr::null_mut;

use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::capi::zero_copy::*;

fn init(bytes: &[u8], flags: u32) -> Result<rknn_context, i32> {
    let mut ctx: rknn_context = 0;
    // SAFETY: valid pointers; `bytes` outlives the call.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            bytes.as_ptr() as *mut c_void,
            bytes.len() as u32,
            flags,
            null_mut(),
        )
    };
    if r == RKNN_SUCC {
        Ok(ctx)
    } else {
        Err(r)
    }
}

/// Sets the 8 inputs of the three-output model to `v`.
fn set_input(ctx: rknn_context, v: f32) -> i32 {
    let mut x = [v; 8];
    let mut inp = rknn_input {
        index: 0,
        buf: x.as_mut_ptr().cast(),
        size: 32,
        r#type: RKNN_TENSOR_FLOAT32,
        fmt: RKNN_TENSOR_UNDEFINED,
        ..Default::default()
    };
    // SAFETY: one valid input whose buffer outlives the call.
    unsafe { rknn_inputs_set(ctx, 1, &mut inp) }
}

fn run(ctx: rknn_context, non_block: bool) -> (i32, u64) {
    let mut ext = rknn_run_extend {
        non_block: i32::from(non_block),
        ..Default::default()
    };
    // SAFETY: a valid extend struct.
    let r = unsafe { rknn_run(ctx, &mut ext) };
    (r, ext.frame_id)
}

fn wait(ctx: rknn_context, frame: u64) -> i32 {
    let mut ext = rknn_run_extend {
        frame_id: frame,
        ..Default::default()
    };
    // SAFETY: a valid extend struct.
    unsafe { rknn_wait(ctx, &mut ext) }
}

/// Output 0 (Relu) element 0 and the frame the outputs came from.
fn relu_output(ctx: rknn_context) -> Result<(f32, u64), i32> {
    let mut out = rknn_output {
        index: 0,
        want_float: 1,
        ..Default::default()
    };
    let mut ext = rknn_output_extend::default();
    // SAFETY: one output struct and a valid extend struct.
    let r = unsafe { rknn_outputs_get(ctx, 1, &mut out, &mut ext) };
    if r != RKNN_SUCC {
        return Err(r);
    }
    // SAFETY: the runtime lent `size` bytes of f32 values.
    let v = unsafe { *out.buf.cast::<f32>() };
    // SAFETY: releasing what was just lent.
    assert_eq!(unsafe { rknn_outputs_release(ctx, 1, &mut out) }, RKNN_SUCC);
    Ok((v, ext.frame_id))
}

#[test]
fn non_blocking_runs_are_waited_for_by_frame_id() {
    let model = common::three_output_model();
    let ctx = init(&model, 0).expect("init");
    assert_eq!(
        wait(ctx, 0),
        RKNN_ERR_FAIL,
        "no run yet: nothing to wait for"
    );
    assert_eq!(set_input(ctx, 1.0), RKNN_SUCC);
    let (r, f1) = run(ctx, false);
    assert_eq!((r, f1), (RKNN_SUCC, 1), "blocking runs get frame ids too");
    assert_eq!(wait(ctx, 0), RKNN_ERR_FAIL, "a blocking run is not pending");
    let mut frames = Vec::new();
    for k in 2..6 {
        assert_eq!(set_input(ctx, k as f32), RKNN_SUCC);
        let (r, f) = run(ctx, true);
        assert_eq!(r, RKNN_SUCC);
        frames.push(f);
        // Any other call waits for the run handed to the worker.
        assert_eq!(relu_output(ctx), Ok((k as f32, f)));
    }
    assert_eq!(frames, [2, 3, 4, 5]);
    assert_eq!(wait(ctx, 9), RKNN_ERR_PARAM_INVALID, "never started");
    assert_eq!(wait(ctx, 4), RKNN_SUCC, "an earlier frame");
    assert_eq!(wait(ctx, 3), RKNN_ERR_FAIL, "already waited past it");
    assert_eq!(wait(ctx, 0), RKNN_SUCC, "the last one");
    assert_eq!(wait(ctx, 0), RKNN_ERR_FAIL, "no pending run left");
    // A NULL extend waits for the last run too.
    let (_, f) = run(ctx, true);
    assert_eq!(f, 6);
    // SAFETY: NULL extend is allowed.
    assert_eq!(unsafe { rknn_wait(ctx, null_mut()) }, RKNN_SUCC);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    assert_eq!(wait(ctx, 0), RKNN_ERR_CTX_INVALID);
}

#[test]
fn async_mask_returns_the_previous_frame() {
    let model = common::three_output_model();
    let ctx = init(&model, RKNN_FLAG_ASYNC_MASK | RKNN_FLAG_PRIOR_MEDIUM).expect("init");
    assert_eq!(relu_output(ctx), Err(RKNN_ERR_FAIL), "no run yet");
    for k in 1..=5u64 {
        assert_eq!(set_input(ctx, (10 * k) as f32), RKNN_SUCC);
        let (r, f) = run(ctx, false);
        assert_eq!((r, f), (RKNN_SUCC, k));
        let want = if k == 1 { 1 } else { k - 1 };
        assert_eq!(
            relu_output(ctx),
            Ok(((10 * want) as f32, want)),
            "after run {k}: the outputs of frame {want}"
        );
    }
    // Every run of an ASYNC_MASK context can be waited for.
    assert_eq!(wait(ctx, 0), RKNN_SUCC);
    // Zero-copy memory does not go with previous-frame outputs.
    // SAFETY: plain calls; the memory is destroyed below.
    unsafe {
        let mem = rknn_create_mem(ctx, 32);
        assert!(!mem.is_null());
        let mut attr = rknn_tensor_attr::default();
        let r = rknn_query(
            ctx,
            RKNN_QUERY_INPUT_ATTR,
            (&mut attr as *mut rknn_tensor_attr).cast(),
            std::mem::size_of::<rknn_tensor_attr>() as u32,
        );
        assert_eq!(r, RKNN_SUCC);
        assert_eq!(rknn_set_io_mem(ctx, mem, &mut attr), RKNN_ERR_FAIL);
        assert_eq!(rknn_destroy_mem(ctx, mem), RKNN_SUCC);
    }
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn destroy_with_a_run_pending_waits_for_it() {
    let model = common::conv_chain_model(64, 64, 3, false);
    for _ in 0..20 {
        let ctx = init(&model, 0).expect("init");
        let (r, _) = run(ctx, true);
        assert_eq!(r, RKNN_SUCC);
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    }
    let ctx = init(&model, RKNN_FLAG_ASYNC_MASK).expect("init");
    let (r, _) = run(ctx, false);
    assert_eq!(r, RKNN_SUCC);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn refused_flag_combinations() {
    let model = common::three_output_model();
    for (flags, code) in [
        (RKNN_FLAG_FENCE_IN_OUTSIDE, RKNN_ERR_FAIL),
        (RKNN_FLAG_FENCE_OUT_OUTSIDE, RKNN_ERR_FAIL),
        (
            RKNN_FLAG_FENCE_OUT_OUTSIDE | RKNN_FLAG_ASYNC_MASK,
            RKNN_ERR_FAIL,
        ),
        (
            RKNN_FLAG_ASYNC_MASK | RKNN_FLAG_COLLECT_MODEL_INFO_ONLY,
            RKNN_ERR_PARAM_INVALID,
        ),
        (
            RKNN_FLAG_ASYNC_MASK | RKNN_FLAG_MEM_ALLOC_OUTSIDE,
            RKNN_ERR_PARAM_INVALID,
        ),
        (
            RKNN_FLAG_PRIOR_MEDIUM | RKNN_FLAG_PRIOR_LOW,
            RKNN_ERR_PARAM_INVALID,
        ),
    ] {
        assert_eq!(init(&model, flags).err(), Some(code), "flags {flags:#x}");
    }
    for ok in [
        RKNN_FLAG_PRIOR_HIGH,
        RKNN_FLAG_PRIOR_MEDIUM,
        RKNN_FLAG_PRIOR_LOW,
    ] {
        let ctx = init(&model, ok).expect("priority flags are accepted");
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    }
}
