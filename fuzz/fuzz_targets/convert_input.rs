//! `rknnrt::runtime::io::convert_input` with random tensors, types,
//! layouts, quantization and pre-processing.
//!
//! Input format (read front to back by [`rknnrt_fuzz::Cursor`], zeros
//! past the end):
//! * destination tensor: rank (1 byte, 0..=5), that many dims (1 byte
//!   each, 0..=8), dtype (1 byte, `rknn_tensor_type` modulo 10), layout
//!   (1 byte, modulo 4), quantization kind (1 byte: 0 none, 1 per-tensor,
//!   2 per-channel), for per-channel the scale count (1 byte, 0..=4) and
//!   axis (1 byte, 0..=4), then per scale an f32 scale and an i32 zero
//!   point; a second zero-point count adjustment (1 byte: 1 drops one
//!   zero point, so the lists disagree);
//! * pre-processing: mean count (0..=4) and values, std count (0..=4) and
//!   values (f32 each);
//! * source: dtype, layout, C2 (0..=32), width stride (0..=16),
//!   pass_through (1 byte each);
//! * destination layout: layout, C2, width stride (1 byte each);
//! * output buffer: 1 byte mode (0: exactly `input_size`, otherwise a u16
//!   length read next);
//! * the rest: the source bytes.
//!
//! Errors are fine. On success the reported length must fit the output
//! buffer and equal `input_size` for the destination layout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rknnrt::graph::{DType, Layout, Quant, TensorInfo};
use rknnrt::model::InputPreprocess;
use rknnrt::runtime::io::{convert_input, input_size, InputBuf, LayoutSpec};
use rknnrt_fuzz::Cursor;

fn dtype(c: &mut Cursor) -> DType {
    DType::from_rknn(u32::from(c.below(10))).expect("0..10 are all types")
}

fn layout(c: &mut Cursor) -> Layout {
    Layout::from_rknn(u32::from(c.below(4))).expect("0..4 are all layouts")
}

fn spec(c: &mut Cursor) -> LayoutSpec {
    LayoutSpec {
        layout: layout(c),
        c2: usize::from(c.below(33)),
        w_stride: usize::from(c.below(17)),
    }
}

fn floats(c: &mut Cursor) -> Vec<f32> {
    let n = c.below(5);
    (0..n).map(|_| c.f32()).collect()
}

fn quant(c: &mut Cursor) -> Option<Quant> {
    let (n, axis) = match c.below(3) {
        0 => return None,
        1 => (1, 0),
        _ => (c.below(5), u32::from(c.below(5))),
    };
    let mut q = Quant {
        scale: Vec::new(),
        zero_point: Vec::new(),
        axis,
    };
    for _ in 0..n {
        q.scale.push(c.f32());
        q.zero_point.push(c.u32() as i32);
    }
    if c.u8() == 1 {
        q.zero_point.pop();
    }
    Some(q)
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let rank = c.below(6);
    let shape: Vec<usize> = (0..rank).map(|_| usize::from(c.below(9))).collect();
    let mut dst = TensorInfo::activation("x", shape, dtype(&mut c));
    dst.layout = layout(&mut c);
    dst.quant = quant(&mut c);
    let pre = InputPreprocess {
        mean: floats(&mut c),
        std: floats(&mut c),
    };
    let src_dtype = dtype(&mut c);
    let src_layout = spec(&mut c);
    let pass_through = c.u8() & 1 == 1;
    let dst_layout = spec(&mut c);
    let exact = input_size(&dst, dst_layout);
    let out_len = match (c.u8(), &exact) {
        (0, Ok(n)) => *n,
        _ => usize::from(c.u16()),
    };
    let src = InputBuf {
        data: c.rest(),
        dtype: src_dtype,
        layout: src_layout,
        pass_through,
    };
    let mut out = vec![0u8; out_len];
    if let Ok(written) = convert_input(&src, &pre, &dst, dst_layout, &mut out) {
        assert!(written <= out.len(), "wrote {written} into {}", out.len());
        assert_eq!(Ok(written), exact, "written length differs from input_size");
    }
});
