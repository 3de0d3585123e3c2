//! Multi-batch models (`rknn_batch_size` > 1): queries report the batched
//! shapes, both IO flows take and give every batch at the vendor's
//! offsets (batch `b` at `b × size / batch_size`), each batch equals a
//! single-batch run on its slice whatever the number of batch workers,
//! and `rknn_set_batch_core_num` checks its range.

mod common;

use std::ffi::c_void;
use std::ptr::null_mut;

use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::capi::zero_copy::*;

const H: usize = 6;
/// 16: zero-copy NHWC inputs need their width aligned to 16 on RK3588.
const W: usize = 16;
/// Input and output elements of one batch (x [1,3,H,W], y [1,2,H,W]).
const IN: usize = 3 * H * W;
const OUT: usize = 2 * H * W;

fn init(bytes: &[u8]) -> rknn_context {
    let mut ctx: rknn_context = 0;
    // SAFETY: valid pointers; `bytes` outlives the call.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            bytes.as_ptr() as *mut c_void,
            bytes.len() as u32,
            0,
            null_mut(),
        )
    };
    assert_eq!(r, RKNN_SUCC);
    ctx
}

fn attr(ctx: rknn_context, cmd: rknn_query_cmd) -> rknn_tensor_attr {
    let mut a = rknn_tensor_attr::default();
    // SAFETY: a writable struct of the given size.
    let r = unsafe {
        rknn_query(
            ctx,
            cmd,
            (&mut a as *mut rknn_tensor_attr).cast(),
            std::mem::size_of::<rknn_tensor_attr>() as u32,
        )
    };
    assert_eq!(r, RKNN_SUCC);
    a
}

/// Runs `ctx` on NHWC float input `x` through the general API and returns
/// the float NCHW output.
fn run_general(ctx: rknn_context, x: &mut [f32], out_len: usize) -> Vec<f32> {
    let mut inp = rknn_input {
        index: 0,
        buf: x.as_mut_ptr().cast(),
        size: (x.len() * 4) as u32,
        r#type: RKNN_TENSOR_FLOAT32,
        fmt: RKNN_TENSOR_NHWC,
        ..Default::default()
    };
    let mut y = vec![0f32; out_len];
    let mut out = rknn_output {
        index: 0,
        want_float: 1,
        is_prealloc: 1,
        buf: y.as_mut_ptr().cast(),
        size: (out_len * 4) as u32,
    };
    // SAFETY: valid structs whose buffers outlive the calls.
    unsafe {
        assert_eq!(rknn_inputs_set(ctx, 1, &mut inp), RKNN_SUCC);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
        assert_eq!(rknn_outputs_get(ctx, 1, &mut out, null_mut()), RKNN_SUCC);
    }
    y
}

/// NHWC input of batch `b`.
fn batch_input(b: usize) -> Vec<f32> {
    (0..IN)
        .map(|i| ((i * 7 + b * 13) % 23) as f32 * 0.5)
        .collect()
}

#[test]
fn batches_equal_single_batch_runs_in_both_flows() {
    for int8 in [false, true] {
        let single = common::conv_chain_model(H, W, 4, int8);
        let one = init(&single);
        let want: Vec<f32> = (0..3)
            .flat_map(|b| run_general(one, &mut batch_input(b), OUT))
            .collect();
        assert_eq!(rknn_destroy(one), RKNN_SUCC);

        let ctx = init(&common::with_batch(&single, 3));
        let a = attr(ctx, RKNN_QUERY_INPUT_ATTR);
        assert_eq!(&a.dims[..4], &[3, H as u32, W as u32, 3], "NHWC, batch 3");
        assert_eq!(a.n_elems as usize, 3 * IN);
        let o = attr(ctx, RKNN_QUERY_OUTPUT_ATTR);
        assert_eq!(&o.dims[..4], &[3, 2, H as u32, W as u32]);
        assert_eq!(o.n_elems as usize, 3 * OUT);
        let mut x: Vec<f32> = (0..3).flat_map(batch_input).collect();
        for core_num in [1, 2, 3] {
            assert_eq!(rknn_set_batch_core_num(ctx, core_num), RKNN_SUCC);
            assert_eq!(
                run_general(ctx, &mut x, 3 * OUT),
                want,
                "int8 {int8}, core_num {core_num}"
            );
        }
        for bad in [0, -1, 4] {
            assert_eq!(
                rknn_set_batch_core_num(ctx, bad),
                RKNN_ERR_PARAM_INVALID,
                "{bad}"
            );
        }
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);

        // Zero-copy: the whole batched input and output in user memory.
        let ctx = init(&common::with_batch(&single, 3));
        let mut ia = attr(ctx, RKNN_QUERY_INPUT_ATTR);
        ia.r#type = RKNN_TENSOR_FLOAT32;
        let mut oa = attr(ctx, RKNN_QUERY_OUTPUT_ATTR);
        oa.r#type = RKNN_TENSOR_FLOAT32;
        // SAFETY: memory from the runtime, sized for float32 data; the
        // slices stay within it and no call uses it meanwhile.
        unsafe {
            let im = rknn_create_mem(ctx, (3 * IN * 4) as u32);
            let om = rknn_create_mem(ctx, (3 * OUT * 4) as u32);
            std::slice::from_raw_parts_mut((*im).virt_addr.cast::<f32>(), 3 * IN)
                .copy_from_slice(&x);
            assert_eq!(rknn_set_io_mem(ctx, im, &mut ia), RKNN_SUCC);
            assert_eq!(rknn_set_io_mem(ctx, om, &mut oa), RKNN_SUCC);
            assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
            let got = std::slice::from_raw_parts((*om).virt_addr.cast::<f32>(), 3 * OUT);
            assert_eq!(got, &want[..], "zero-copy, int8 {int8}");
            assert_eq!(rknn_destroy_mem(ctx, im), RKNN_SUCC);
            assert_eq!(rknn_destroy_mem(ctx, om), RKNN_SUCC);
        }
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    }
}

#[test]
fn batch_workers_have_their_own_arenas() {
    let single = common::conv_chain_model(H, W, 1, false);
    let ctx = init(&common::with_batch(&single, 4));
    let mem = |ctx| {
        let mut m = rknn_mem_size::default();
        // SAFETY: a writable struct of the given size.
        let r = unsafe {
            rknn_query(
                ctx,
                RKNN_QUERY_MEM_SIZE,
                (&mut m as *mut rknn_mem_size).cast(),
                std::mem::size_of::<rknn_mem_size>() as u32,
            )
        };
        assert_eq!(r, RKNN_SUCC);
        m
    };
    let three = mem(ctx);
    assert_eq!(rknn_set_batch_core_num(ctx, 1), RKNN_SUCC);
    let one = mem(ctx);
    assert_eq!(
        three.total_dma_allocated_size - one.total_dma_allocated_size,
        2 * u64::from(three.total_internal_size),
        "two extra arenas for three workers"
    );
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn single_batch_models_and_single_core_platforms() {
    let single = common::conv_chain_model(H, W, 1, false);
    let ctx = init(&single);
    assert_eq!(rknn_set_batch_core_num(ctx, 2), RKNN_SUCC, "no effect");
    assert_eq!(rknn_set_batch_core_num(ctx, 9), RKNN_ERR_PARAM_INVALID);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    assert_eq!(rknn_set_batch_core_num(ctx, 1), RKNN_ERR_CTX_INVALID);
}
