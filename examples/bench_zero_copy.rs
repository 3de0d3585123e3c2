//! One frame through the general API versus the zero-copy API on a model
//! with a 640x640x3 input (an int8 two-layer 1x1 conv chain with mean/std,
//! `tests/common/mod.rs`), through the C ABI, in one process. Prints the
//! median time of each path and the bytes the runtime copied or converted
//! per frame (`runtime::io::copied_bytes`, counted in every input/output
//! conversion). A measurement, not a test.
//!
//! ```sh
//! cargo run --release --example bench_zero_copy [iterations=31]
//! ```
//!
//! Paths:
//! * general: `rknn_inputs_set` (uint8 NHWC) + `rknn_run` +
//!   `rknn_outputs_get` (float32) + `rknn_outputs_release`;
//! * zero-copy, converted: `rknn_run` with uint8 NHWC input memory (the
//!   native attribute with the type changed, as the vendor demos do) and
//!   float32 NCHW output memory: the runtime converts inside the run;
//! * zero-copy, in place: `rknn_run` with int8 NCHW `pass_through` input
//!   and int8 NCHW output memory: the executor reads and writes the user
//!   memory directly.

#[path = "../tests/common/mod.rs"]
mod common;

use std::ptr::null_mut;
use std::time::{Duration, Instant};

use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::capi::zero_copy::*;
use rknnrt::runtime::io::copied_bytes;

const H: usize = 640;
const W: usize = 640;

fn check(r: i32, what: &str) {
    assert_eq!(r, RKNN_SUCC, "{what}");
}

fn init(model: &mut [u8]) -> rknn_context {
    let mut ctx: rknn_context = 0;
    // SAFETY: valid storage and `model.len()` bytes.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            model.as_mut_ptr().cast(),
            model.len() as u32,
            0,
            null_mut(),
        )
    };
    check(r, "rknn_init");
    ctx
}

fn query(ctx: rknn_context, cmd: rknn_query_cmd) -> rknn_tensor_attr {
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
    check(r, "rknn_query");
    a
}

/// Runs every path `iters` times, round-robin (so load from other
/// processes affects all paths alike), after 3 warm-ups each; returns the
/// median time of each and the bytes it copied in one call.
fn measure(iters: usize, paths: &mut [&mut dyn FnMut()]) -> Vec<(Duration, u64)> {
    let mut bytes = Vec::new();
    for p in paths.iter_mut() {
        for _ in 0..3 {
            p();
        }
        let before = copied_bytes();
        p();
        bytes.push(copied_bytes() - before);
    }
    let mut times = vec![Vec::with_capacity(iters); paths.len()];
    for _ in 0..iters {
        for (p, t) in paths.iter_mut().zip(&mut times) {
            let s = Instant::now();
            p();
            t.push(s.elapsed());
        }
    }
    times
        .into_iter()
        .zip(bytes)
        .map(|(mut t, b)| {
            t.sort();
            (t[t.len() / 2], b)
        })
        .collect()
}

fn main() {
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(31);
    let mut model = common::conv_chain_model(H, W, 1, true);
    let img: Vec<u8> = (0..H * W * 3).map(|i| (i * 37 % 251) as u8).collect();

    // General path.
    let g = init(&mut model);
    let mut input = rknn_input {
        index: 0,
        buf: img.as_ptr().cast_mut().cast(),
        size: img.len() as u32,
        pass_through: 0,
        r#type: RKNN_TENSOR_UINT8,
        fmt: RKNN_TENSOR_NHWC,
    };
    // SAFETY (closures below): live contexts, valid structs and buffers.
    let mut general = || unsafe {
        let mut out = rknn_output {
            want_float: 1,
            ..Default::default()
        };
        check(rknn_inputs_set(g, 1, &mut input), "inputs_set");
        check(rknn_run(g, null_mut()), "run");
        check(rknn_outputs_get(g, 1, &mut out, null_mut()), "outputs_get");
        check(rknn_outputs_release(g, 1, &mut out), "release");
    };
    let mut general_run = || unsafe {
        check(rknn_run(g, null_mut()), "run");
    };

    // Zero-copy with conversions (uint8 NHWC in, float32 NCHW out).
    let z = init(&mut model);
    let mut ia = query(z, RKNN_QUERY_NATIVE_INPUT_ATTR);
    ia.r#type = RKNN_TENSOR_UINT8;
    let mut oa = query(z, RKNN_QUERY_NATIVE_OUTPUT_ATTR);
    oa.r#type = RKNN_TENSOR_FLOAT32;
    oa.fmt = RKNN_TENSOR_NCHW;
    // SAFETY: library pointers and valid attrs.
    let (zin, zout) = unsafe {
        let zin = rknn_create_mem(z, ia.size_with_stride);
        let zout = rknn_create_mem(z, (2 * H * W * 4) as u32);
        let dst = (*zin).virt_addr.cast::<u8>();
        std::ptr::copy_nonoverlapping(img.as_ptr(), dst, img.len()); // w_stride = 640
        check(rknn_set_io_mem(z, zin, &mut ia), "set_io_mem in");
        check(rknn_set_io_mem(z, zout, &mut oa), "set_io_mem out");
        (zin, zout)
    };
    let mut zero_copy = || unsafe {
        check(rknn_run(z, null_mut()), "run");
    };

    // Zero-copy in place (int8 NCHW pass_through in, int8 NCHW out).
    let p = init(&mut model);
    let mut pa = query(p, RKNN_QUERY_INPUT_ATTR);
    pa.fmt = RKNN_TENSOR_NCHW;
    pa.pass_through = 1;
    let mut po = query(p, RKNN_QUERY_OUTPUT_ATTR);
    // SAFETY: library pointers and valid attrs.
    let (pin, pout) = unsafe {
        let pin = rknn_create_mem(p, (3 * H * W) as u32);
        let pout = rknn_create_mem(p, (2 * H * W) as u32);
        let dst = (*pin).virt_addr.cast::<u8>();
        std::ptr::copy_nonoverlapping(img.as_ptr(), dst, img.len());
        check(rknn_set_io_mem(p, pin, &mut pa), "set_io_mem in");
        check(rknn_set_io_mem(p, pout, &mut po), "set_io_mem out");
        (pin, pout)
    };
    let mut in_place = || unsafe {
        check(rknn_run(p, null_mut()), "run");
    };
    let r = measure(
        iters,
        &mut [
            &mut general,
            &mut general_run,
            &mut zero_copy,
            &mut in_place,
        ],
    );
    let labels = [
        "general: inputs_set + run + outputs_get(float) + release",
        "general: rknn_run alone",
        "zero-copy: rknn_run (u8 NHWC in, f32 NCHW out, converted)",
        "zero-copy: rknn_run (i8 NCHW in/out, in place)",
    ];

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "model: int8 1x1 conv chain, input 1x3x{H}x{W}, output 1x2x{H}x{W}; medians of {iters}, paths round-robin"
    );
    println!("{:<58} {:>10} {:>14}", "path", "median µs", "bytes copied");
    for (label, (t, bytes)) in labels.iter().zip(r) {
        println!("{label:<58} {:>10.0} {bytes:>14}", us(t));
    }
    // SAFETY: live contexts and library pointers.
    unsafe {
        for ctx in [g, z, p] {
            check(rknn_destroy(ctx), "destroy");
        }
        for m in [zin, zout, pin, pout] {
            check(rknn_destroy_mem(0, m), "destroy_mem");
        }
    }
}
