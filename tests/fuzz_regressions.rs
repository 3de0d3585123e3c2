//! Inputs found by the fuzz targets in `fuzz/` that once crashed, replayed
//! in the normal test suite (docs/testing.md). Each test names the target
//! and the defect; the fix is in the commit that added the test.

use rknnrt::graph::{DType, Quant, TensorInfo};
use rknnrt::kernels::quant::quantize_i8;
use rknnrt::model::InputPreprocess;
use rknnrt::runtime::io::{convert_input, InputBuf, IoError, LayoutSpec};

/// `convert_input`: uint8 NHWC image into an int8 tensor whose channel 0
/// has a denormal std. The slope `1 / (std * scale)` is so large that the
/// fixed-point search's ideal multiplier saturated at `i64::MAX` and
/// `ideal + step` overflowed (a panic with overflow checks). Now the
/// search finds no form and the exact table path is used: channel 0
/// saturates, the other channels convert normally.
#[test]
fn convert_input_denormal_std_does_not_overflow_the_fixed_point_search() {
    let mut dst = TensorInfo::activation("x", vec![1, 3, 4, 4], DType::I8);
    dst.quant = Some(Quant::per_tensor(0.05, -3));
    let tiny = f32::from_bits(0x0003_0000);
    let pre = InputPreprocess {
        mean: vec![10.0, 20.0, 30.0],
        std: vec![tiny, 4.0, 8.0],
    };
    let data: Vec<u8> = (0..48).map(|i| i * 3).collect();
    let src = InputBuf {
        data: &data,
        dtype: DType::U8,
        layout: LayoutSpec::NHWC,
        pass_through: false,
    };
    let mut out = vec![0u8; 48];
    let n = convert_input(&src, &pre, &dst, LayoutSpec::NCHW, &mut out).expect("converts");
    assert_eq!(n, 48);
    for c in 0..3 {
        for p in 0..16 {
            let v = f32::from(data[p * 3 + c]);
            let want = quantize_i8((v - pre.mean[c]) / pre.std[c], 1.0 / 0.05, -3);
            assert_eq!(out[c * 16 + p] as i8, want, "channel {c}, pixel {p}");
        }
    }
    // Channel 0: below the mean saturates low, above it high.
    assert_eq!(out[0] as i8, -128);
    assert_eq!(out[15] as i8, 127);
}

/// `convert_input`: a pass-through int8 copy into a tensor whose
/// quantization has one scale and no zero point. The padding byte was
/// computed (`zero_point[0]`) before the quantization was checked, an
/// index out of bounds. Now the inconsistent quantization is refused up
/// front, as on the converting paths.
#[test]
fn convert_input_refuses_quantization_without_zero_points() {
    let mut dst = TensorInfo::activation("x", vec![1, 2, 2, 2], DType::I8);
    dst.quant = Some(Quant {
        scale: vec![0.1],
        zero_point: vec![],
        axis: 0,
    });
    let data = [1u8, 2, 3, 4, 5, 6, 7, 8];
    for pass_through in [true, false] {
        let src = InputBuf {
            data: &data,
            dtype: DType::I8,
            layout: LayoutSpec::NCHW,
            pass_through,
        };
        let mut out = vec![0u8; 8];
        let r = convert_input(
            &src,
            &InputPreprocess::default(),
            &dst,
            LayoutSpec::NCHW,
            &mut out,
        );
        match r {
            Err(IoError::Invalid(msg)) => {
                assert!(msg.contains("1 scales and 0 zero points"), "{msg}")
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert_eq!(out, [0u8; 8], "nothing written on error");
    }
}

/// `convert_input`: a 4-D tensor of width 0 read from NHWC. The row loop
/// visited every (n, c, h) row and sliced the source at the row base
/// (`c` for NHWC), past the end of the empty buffer. Rows without pixels
/// are now skipped: every supported conversion writes nothing and
/// succeeds.
#[test]
fn convert_input_zero_width_rows_are_skipped() {
    let quant = Some(Quant::per_tensor(0.5, 1));
    for dst_type in [DType::F32, DType::F16, DType::I8, DType::U8] {
        let mut dst = TensorInfo::activation("x", vec![1, 2, 2, 0], dst_type);
        if !dst_type.is_float() {
            dst.quant = quant.clone();
        }
        for src_type in [DType::U8, DType::I8, DType::F16, DType::F32] {
            for layout in [LayoutSpec::NHWC, LayoutSpec::NCHW] {
                let src = InputBuf {
                    data: &[],
                    dtype: src_type,
                    layout,
                    pass_through: false,
                };
                let pre = InputPreprocess {
                    mean: vec![1.0, 2.0],
                    std: vec![2.0, 4.0],
                };
                let r = convert_input(&src, &pre, &dst, LayoutSpec::NCHW, &mut []);
                assert_eq!(r, Ok(0), "{src_type:?} {layout:?} -> {dst_type:?}");
            }
        }
    }
}

/// `convert_input`: uint8 NHWC into an f32 tensor with 0 channels (shape
/// `[1, 2, 8, 0]` in NHWC). The vectorised uint8 → float row kernel
/// walked the 8 pixels of each row and sliced the empty source. A tensor
/// without elements now converts nothing, on every path.
#[test]
fn convert_input_zero_channels_converts_nothing() {
    for dst_type in [DType::F32, DType::F16, DType::I8] {
        let mut dst = TensorInfo::activation("x", vec![1, 2, 8, 0], dst_type);
        dst.layout = rknnrt::graph::Layout::Nhwc;
        if dst_type == DType::I8 {
            dst.quant = Some(Quant::per_tensor(0.25, 0));
        }
        for layout in [LayoutSpec::NHWC, LayoutSpec::NCHW] {
            let src = InputBuf {
                data: &[],
                dtype: DType::U8,
                layout,
                pass_through: false,
            };
            let pre = InputPreprocess {
                mean: vec![],
                std: vec![-1.0e37],
            };
            let r = convert_input(&src, &pre, &dst, LayoutSpec::NCHW, &mut []);
            assert_eq!(r, Ok(0), "{layout:?} -> {dst_type:?}");
        }
    }
}
