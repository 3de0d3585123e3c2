//! The `.rknn` reader on hostile bytes.
//!
//! Each input is parsed twice by `rknnrt::model::parse`: as given (header
//! and checksum checks), and with its file-size and CRC32 fields rewritten
//! (`fix_header`) so that mutations reach the section table, the metadata
//! JSON and the graph validation. A container the reader accepts is then
//! loaded through `rknn_init` and run once on zero inputs through the C
//! API: validation promises that an accepted model is safe to plan and
//! execute. Errors are fine; a panic, abort or sanitizer report is a bug.
#![no_main]

use std::ffi::c_void;
use std::ptr::null_mut;

use libfuzzer_sys::fuzz_target;
use rknnrt::abi::*;
use rknnrt::capi::general::*;

/// Largest input buffer the run step allocates (bigger models are only
/// parsed and initialised).
const MAX_INPUT_BYTES: u32 = 1 << 22;

fuzz_target!(|data: &[u8]| {
    rknnrt_fuzz::quiet();
    let _ = rknnrt::model::parse(data);
    let mut fixed = data.to_vec();
    rknnrt_fuzz::fix_header(&mut fixed);
    if rknnrt::model::parse(&fixed).is_ok() {
        init_and_run(&fixed);
    }
});

fn init_and_run(model: &[u8]) {
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
    if r != RKNN_SUCC {
        return;
    }
    run_on_zeros(ctx);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

fn run_on_zeros(ctx: rknn_context) {
    let mut num = rknn_input_output_num::default();
    // SAFETY: `num` is a writable struct of the size given.
    let r = unsafe {
        rknn_query(
            ctx,
            RKNN_QUERY_IN_OUT_NUM,
            (&mut num as *mut rknn_input_output_num).cast(),
            std::mem::size_of_val(&num) as u32,
        )
    };
    assert_eq!(r, RKNN_SUCC, "IN_OUT_NUM on a live context");
    let mut buffers = Vec::new();
    let mut inputs = Vec::new();
    for i in 0..num.n_input {
        let mut attr = rknn_tensor_attr {
            index: i,
            ..Default::default()
        };
        // SAFETY: `attr` is a writable struct of the size given.
        let r = unsafe {
            rknn_query(
                ctx,
                RKNN_QUERY_INPUT_ATTR,
                (&mut attr as *mut rknn_tensor_attr).cast(),
                std::mem::size_of_val(&attr) as u32,
            )
        };
        if r != RKNN_SUCC || attr.size > MAX_INPUT_BYTES {
            return;
        }
        buffers.push(vec![0u8; attr.size.max(1) as usize]);
        inputs.push(rknn_input {
            index: i,
            buf: null_mut(),
            size: attr.size,
            pass_through: 0,
            r#type: attr.r#type,
            fmt: attr.fmt,
        });
    }
    for (inp, buf) in inputs.iter_mut().zip(buffers.iter_mut()) {
        inp.buf = buf.as_mut_ptr().cast();
    }
    // SAFETY: `inputs` holds `n_input` structs whose buffers outlive the call.
    let r = unsafe { rknn_inputs_set(ctx, inputs.len() as u32, inputs.as_mut_ptr()) };
    if r != RKNN_SUCC {
        return;
    }
    // SAFETY: NULL extend.
    if unsafe { rknn_run(ctx, null_mut()) } != RKNN_SUCC {
        return;
    }
    let mut outputs: Vec<rknn_output> = (0..num.n_output)
        .map(|i| rknn_output {
            want_float: 1,
            index: i,
            ..Default::default()
        })
        .collect();
    // SAFETY: `outputs` holds `n_output` structs.
    let r =
        unsafe { rknn_outputs_get(ctx, outputs.len() as u32, outputs.as_mut_ptr(), null_mut()) };
    if r == RKNN_SUCC {
        // SAFETY: the structs filled by `rknn_outputs_get`.
        let r = unsafe { rknn_outputs_release(ctx, outputs.len() as u32, outputs.as_mut_ptr()) };
        assert_eq!(r, RKNN_SUCC, "releasing what rknn_outputs_get lent");
    }
}
