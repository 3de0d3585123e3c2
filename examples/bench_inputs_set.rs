//! Benchmark of the `rknn_inputs_set` hot path (DESIGN.md rule 7): a
//! 640x640x3 uint8 NHWC image converted with per-channel mean/std and int8
//! quantization into (a) NCHW, as the CPU executor reads it, and (b)
//! NC1HWC2 with C2 = 16, as the NPU reads it; plus f32/f16 NCHW for
//! reference. Each is compared with `copy_from_slice` of the same
//! 1,228,800 bytes measured in the same run, and with a `copy_from_slice`
//! of as many bytes as the conversion writes (the honest bound for outputs
//! larger than the input, e.g. NC1HWC2 with C2 = 16 writes 5.3x the input).
//!
//! Run with `cargo run --release --example bench_inputs_set`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rknnrt::graph::{DType, Quant, TensorInfo};
use rknnrt::model::InputPreprocess;
use rknnrt::runtime::io::{convert_input, input_size, InputBuf, LayoutSpec};

const H: usize = 640;
const W: usize = 640;
const C: usize = 3;
const SAMPLES: usize = 101;

fn median(mut f: impl FnMut()) -> Duration {
    for _ in 0..5 {
        f();
    }
    let mut t: Vec<Duration> = (0..SAMPLES)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    t[SAMPLES / 2]
}

fn main() {
    let image: Vec<u8> = (0..H * W * C)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_right(11) as u8)
        .collect();
    let pre = InputPreprocess {
        mean: vec![123.675, 116.28, 103.53],
        std: vec![58.395, 57.12, 57.375],
    };
    let mut int8 = TensorInfo::activation("images", vec![1, C, H, W], DType::I8);
    int8.quant = Some(Quant::per_tensor(0.018_658, -14));
    let src = InputBuf {
        data: &image,
        dtype: DType::U8,
        layout: LayoutSpec::NHWC,
        pass_through: false,
    };

    let mut copy = vec![0u8; image.len()];
    let memcpy = median(|| {
        copy.copy_from_slice(black_box(&image));
        black_box(&copy);
    });

    let mut cases: Vec<(&str, TensorInfo, LayoutSpec)> = vec![
        ("u8 NHWC -> i8 NCHW", int8.clone(), LayoutSpec::NCHW),
        (
            "u8 NHWC -> i8 NC1HWC2 (C2=16)",
            int8.clone(),
            LayoutSpec::nc1hwc2(16),
        ),
    ];
    for ty in [DType::F16, DType::F32] {
        let t = TensorInfo::activation("images", vec![1, C, H, W], ty);
        let name = if ty == DType::F16 {
            "u8 NHWC -> f16 NCHW"
        } else {
            "u8 NHWC -> f32 NCHW"
        };
        cases.push((name, t, LayoutSpec::NCHW));
    }

    let fimage: Vec<u8> = image
        .iter()
        .flat_map(|&b| f32::from(b).to_ne_bytes())
        .collect();
    let fsrc = InputBuf {
        data: &fimage,
        dtype: DType::F32,
        layout: LayoutSpec::NHWC,
        pass_through: false,
    };
    let float = TensorInfo::activation("images", vec![1, C, H, W], DType::F32);

    println!(
        "input {H}x{W}x{C} uint8 NHWC ({} bytes), median of {SAMPLES} runs",
        image.len()
    );
    // memcpy of an output-sized buffer, per output size (measured once).
    let mut out_copy = std::collections::HashMap::new();
    let mut copy_of = |len: usize| -> Duration {
        *out_copy.entry(len).or_insert_with(|| {
            let from = vec![5u8; len];
            let mut to = vec![0u8; len];
            median(|| {
                to.copy_from_slice(black_box(&from));
                black_box(&to);
            })
        })
    };
    println!(
        "{:<32} {:>10} {:>12} {:>8} {:>10}",
        "conversion", "median", "output", "x memcpy", "x out-cpy"
    );
    println!(
        "{:<32} {:>8.1}us {:>12} {:>8.2} {:>10.2}",
        "memcpy (copy_from_slice)",
        memcpy.as_secs_f64() * 1e6,
        image.len(),
        1.0,
        1.0
    );
    let mut big = vec![0u8; H * W * 16];
    let fill = median(|| {
        big.fill(black_box(7));
        black_box(&big);
    });
    println!(
        "{:<32} {:>8.1}us {:>12} {:>8.2} {:>10.2}",
        "fill of a C2=16 sized buffer",
        fill.as_secs_f64() * 1e6,
        big.len(),
        fill.as_secs_f64() / memcpy.as_secs_f64(),
        fill.as_secs_f64() / copy_of(big.len()).as_secs_f64()
    );
    for (name, info, layout) in &cases {
        let mut out = vec![0u8; input_size(info, *layout).expect("size")];
        let t = median(|| {
            convert_input(black_box(&src), &pre, info, *layout, &mut out).expect("convert");
            black_box(&out);
        });
        println!(
            "{:<32} {:>8.1}us {:>12} {:>8.2} {:>10.2}",
            name,
            t.as_secs_f64() * 1e6,
            out.len(),
            t.as_secs_f64() / memcpy.as_secs_f64(),
            t.as_secs_f64() / copy_of(out.len()).as_secs_f64()
        );
    }
    for (name, layout) in [
        ("f32 NHWC -> f32 NCHW", LayoutSpec::NHWC),
        ("f32 NCHW -> f32 NCHW", LayoutSpec::NCHW),
    ] {
        let src = InputBuf { layout, ..fsrc };
        let mut out = vec![0u8; fimage.len()];
        let t = median(|| {
            convert_input(black_box(&src), &pre, &float, LayoutSpec::NCHW, &mut out)
                .expect("convert");
            black_box(&out);
        });
        println!(
            "{:<32} {:>8.1}us {:>12} {:>8.2} {:>10.2}",
            name,
            t.as_secs_f64() * 1e6,
            out.len(),
            t.as_secs_f64() / memcpy.as_secs_f64(),
            t.as_secs_f64() / copy_of(out.len()).as_secs_f64()
        );
    }
}
