//! `rknn_inputs_set`, `rknn_run`, `rknn_outputs_get` and
//! `rknn_outputs_release` with fuzzer-chosen arguments on a small valid
//! model (the f32 Relu or the int8 Conv of `tests/common`).
//!
//! Input format (read front to back by [`rknnrt_fuzz::Cursor`], zeros
//! past the end):
//! * 1 byte: model (even: f32 Relu, odd: int8 Conv);
//! * 1 byte: `n_inputs` passed (0..=2; the models have one input);
//! * per input, 12 bytes: index (1 byte, 255 means `u32::MAX`), type
//!   (1 byte, 0..=12 covers every type and some invalid ones), fmt
//!   (1 byte, 0..=5), pass_through (1 byte), size (u32, taken modulo the
//!   payload length + 1), buf NULL (1 byte, 1 means NULL), 3 spare bytes;
//! * 1 byte: `n_outputs` passed (0..=2);
//! * per output, 8 bytes: want_float, is_prealloc, index (255 means
//!   `u32::MAX`), spare, preallocated size (u32 modulo 4097; the buffer
//!   really is that large);
//! * 1 byte: release mode (bit 0: release twice, bit 1: skip release);
//! * the rest: the input data, shared by all inputs.
//!
//! Any return code is fine; a crash, a panic escaping the barrier or a
//! sanitizer report is a bug. Whatever happens, destroying the context
//! must succeed.
#![no_main]

use std::ffi::c_void;
use std::ptr::null_mut;

use libfuzzer_sys::fuzz_target;
use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt_fuzz::{models, Cursor};

/// Largest preallocated output buffer.
const MAX_PREALLOC: u32 = 4096;

fn index(b: u8) -> u32 {
    if b == 255 {
        u32::MAX
    } else {
        u32::from(b)
    }
}

fuzz_target!(|data: &[u8]| {
    rknnrt_fuzz::quiet();
    let mut c = Cursor::new(data);
    let model = if c.u8().is_multiple_of(2) {
        models::relu_model()
    } else {
        models::int8_conv_model()
    };
    let n_inputs = c.below(3);
    let specs: Vec<[u8; 12]> = (0..n_inputs)
        .map(|_| std::array::from_fn(|_| c.u8()))
        .collect();
    let n_outputs = c.below(3);
    let outs: Vec<[u8; 8]> = (0..n_outputs)
        .map(|_| std::array::from_fn(|_| c.u8()))
        .collect();
    let release = c.u8();
    let mut payload = c.rest().to_vec();

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
    assert_eq!(r, RKNN_SUCC, "the test models load");

    let len = payload.len();
    let base = payload.as_mut_ptr();
    let mut inputs: Vec<rknn_input> = specs
        .iter()
        .map(|s| {
            let size = u32::from_le_bytes([s[4], s[5], s[6], s[7]]) % (len as u32 + 1);
            rknn_input {
                index: index(s[0]),
                buf: if s[8] == 1 { null_mut() } else { base.cast() },
                size,
                pass_through: s[3],
                r#type: u32::from(s[1] % 13),
                fmt: u32::from(s[2] % 6),
            }
        })
        .collect();
    // SAFETY: `inputs` holds `n_inputs` structs; each `buf` is NULL or
    // the payload, which has at least `size` bytes and outlives the call.
    unsafe { rknn_inputs_set(ctx, inputs.len() as u32, inputs.as_mut_ptr()) };
    // SAFETY: NULL extend.
    unsafe { rknn_run(ctx, null_mut()) };

    let mut prealloc: Vec<Vec<u8>> = outs
        .iter()
        .map(|o| {
            vec![0u8; (u32::from_le_bytes([o[4], o[5], o[6], o[7]]) % (MAX_PREALLOC + 1)) as usize]
        })
        .collect();
    let mut outputs: Vec<rknn_output> = outs
        .iter()
        .zip(prealloc.iter_mut())
        .map(|(o, buf)| rknn_output {
            want_float: o[0],
            is_prealloc: o[1],
            index: index(o[2]),
            buf: if o[1] != 0 {
                buf.as_mut_ptr().cast()
            } else {
                null_mut()
            },
            size: if o[1] != 0 { buf.len() as u32 } else { 0 },
        })
        .collect();
    // SAFETY: `outputs` holds `n_outputs` structs; preallocated ones point
    // to buffers of `size` bytes that outlive the call.
    let got =
        unsafe { rknn_outputs_get(ctx, outputs.len() as u32, outputs.as_mut_ptr(), null_mut()) };
    if got == RKNN_SUCC {
        check_outputs(&outputs);
    }
    if release & 2 == 0 {
        let rounds = if release & 1 == 1 { 2 } else { 1 };
        for round in 0..rounds {
            // SAFETY: the structs passed to (and possibly filled by)
            // `rknn_outputs_get`.
            let r =
                unsafe { rknn_outputs_release(ctx, outputs.len() as u32, outputs.as_mut_ptr()) };
            if got == RKNN_SUCC && round == 0 {
                assert_eq!(r, RKNN_SUCC, "releasing what rknn_outputs_get lent");
            }
        }
    }
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
});

/// Every output handed out by a successful `rknn_outputs_get` is
/// readable for its reported size (a sanitizer catches a lie).
fn check_outputs(outputs: &[rknn_output]) {
    for o in outputs {
        assert!(
            !o.buf.is_null(),
            "successful rknn_outputs_get left buf NULL"
        );
        // SAFETY: the runtime promises `size` readable bytes at `buf`.
        let bytes = unsafe { std::slice::from_raw_parts(o.buf.cast::<u8>(), o.size as usize) };
        std::hint::black_box(bytes.iter().fold(0u8, |a, &b| a ^ b));
    }
}
