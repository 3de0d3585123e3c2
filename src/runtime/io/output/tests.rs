//! `convert_output` / `convert_output_to` / `convert_output_from`:
//! dequantization, raw copies, layout changes, native sources and errors.

use half::f16;

use super::*;
use crate::graph::Quant;

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

fn out_i8(shape: Vec<usize>, quant: Quant) -> TensorInfo {
    let mut t = TensorInfo::activation("out", shape, DType::I8);
    t.quant = Some(quant);
    t
}

#[test]
fn int8_outputs_dequantize_per_tensor_and_per_channel() {
    let t = out_i8(vec![1, 2, 3, 5], Quant::per_tensor(0.25, -3));
    let src: Vec<u8> = (0..30)
        .map(|i: u8| i.wrapping_mul(37).wrapping_add(100))
        .collect();
    let mut dst = vec![0u8; output_size(&t, true).unwrap()];
    assert_eq!(convert_output(&src, &t, true, &mut dst).unwrap(), 120);
    let want: Vec<f32> = src
        .iter()
        .map(|&q| (q as i8 as i32 + 3) as f32 * 0.25)
        .collect();
    assert_eq!(f32s(&dst), want);

    let mut raw = vec![0u8; output_size(&t, false).unwrap()];
    convert_output(&src, &t, false, &mut raw).unwrap();
    assert_eq!(raw, src);

    let pc = out_i8(
        vec![1, 2, 3, 5],
        Quant::per_channel(vec![0.5, 2.0], vec![1, -2], 1),
    );
    convert_output(&src, &pc, true, &mut dst).unwrap();
    let want: Vec<f32> = src
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            let (s, zp) = if i < 15 { (0.5, 1) } else { (2.0, -2) };
            (q as i8 as i32 - zp) as f32 * s
        })
        .collect();
    assert_eq!(f32s(&dst), want);

    // Per-channel along the last axis of a 2-D tensor.
    let t2 = out_i8(
        vec![3, 2],
        Quant::per_channel(vec![1.0, 10.0], vec![0, 5], 1),
    );
    let src2: Vec<u8> = [1i8, 2, 3, 4, 5, 6].iter().map(|&v| v as u8).collect();
    let mut d2 = vec![0u8; 24];
    convert_output(&src2, &t2, true, &mut d2).unwrap();
    assert_eq!(f32s(&d2), vec![1.0, -30.0, 3.0, -10.0, 5.0, 10.0]);
}

#[test]
fn uint8_fp16_and_fp32_outputs() {
    let mut u = TensorInfo::activation("u", vec![4], DType::U8);
    u.quant = Some(Quant::per_tensor(0.5, 128));
    let mut d = vec![0u8; 16];
    convert_output(&[0, 128, 129, 255], &u, true, &mut d).unwrap();
    assert_eq!(f32s(&d), vec![-64.0, 0.0, 0.5, 63.5]);

    let h = TensorInfo::activation("h", vec![1, 1, 1, 3], DType::F16);
    let src: Vec<u8> = [1.5f32, -2.0, 65504.0]
        .iter()
        .flat_map(|&v| f16::from_f32(v).to_ne_bytes())
        .collect();
    convert_output(&src, &h, true, &mut d).unwrap();
    assert_eq!(f32s(&d[..12]), vec![1.5, -2.0, 65504.0]);
    let mut raw = vec![0u8; 6];
    convert_output(&src, &h, false, &mut raw).unwrap();
    assert_eq!(raw, src);

    let f = TensorInfo::activation("f", vec![2], DType::F32);
    let src: Vec<u8> = [0.1f32, -7.0]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    let mut d = vec![0u8; 8];
    convert_output(&src, &f, true, &mut d).unwrap();
    assert_eq!(d, src);
    let mut d16 = vec![0u8; 4];
    convert_output_to(&src, &f, DType::F16, LayoutSpec::UNDEFINED, &mut d16).unwrap();
    assert_eq!(d16[..2], f16::from_f32(0.1).to_ne_bytes());
}

#[test]
fn outputs_in_nhwc_and_nc1hwc2() {
    let t = out_i8(vec![1, 3, 2, 2], Quant::per_tensor(1.0, 7));
    let src: Vec<u8> = (0..12).collect();
    // Raw int8 NC1HWC2 (C2 = 8): channels 3..8 hold the zero point.
    let mut nc = vec![0u8; 32];
    assert_eq!(
        convert_output_to(&src, &t, DType::I8, LayoutSpec::nc1hwc2(8), &mut nc).unwrap(),
        32
    );
    assert_eq!(&nc[..8], &[0, 4, 8, 7, 7, 7, 7, 7]);
    assert_eq!(&nc[24..32], &[3, 7, 11, 7, 7, 7, 7, 7]);
    // f32 NHWC.
    let mut nhwc = vec![0u8; 48];
    convert_output_to(&src, &t, DType::F32, LayoutSpec::NHWC, &mut nhwc).unwrap();
    let v = f32s(&nhwc);
    assert_eq!(&v[..6], &[-7.0, -3.0, 1.0, -6.0, -2.0, 2.0]);
    // f16 NC1HWC2 padding is zero.
    let mut h = vec![0xffu8; 2 * 8 * 4];
    convert_output_to(&src, &t, DType::F16, LayoutSpec::nc1hwc2(8), &mut h).unwrap();
    assert_eq!(&h[..2], &f16::from_f32(-7.0).to_ne_bytes());
    assert_eq!(&h[6..16], &[0u8; 10]);
}

#[test]
fn outputs_from_native_storage() {
    // An NPU output stored as NC1HWC2 (C2 = 8, 3 channels, the rest
    // padding) read back as f32 NCHW, raw NCHW and raw NC1HWC2 in place.
    let t = out_i8(vec![1, 3, 2, 2], Quant::per_tensor(0.5, 1));
    let mut native = vec![99u8; 32];
    for c in 0..3u8 {
        for p in 0..4u8 {
            native[p as usize * 8 + c as usize] = c * 10 + p;
        }
    }
    let spec = LayoutSpec::nc1hwc2(8);
    let mut f = vec![0u8; 48];
    convert_output_from(&native, spec, &t, DType::F32, LayoutSpec::UNDEFINED, &mut f).unwrap();
    let want: Vec<f32> = (0..3)
        .flat_map(|c| (0..4).map(move |p| ((c * 10 + p) as f32 - 1.0) * 0.5))
        .collect();
    assert_eq!(f32s(&f), want);
    let mut raw = vec![0u8; 12];
    convert_output_from(&native, spec, &t, DType::I8, LayoutSpec::NCHW, &mut raw).unwrap();
    assert_eq!(raw, vec![0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
    assert!(writes_in_place_from(&t, spec, DType::I8, spec).unwrap());
    assert!(!writes_in_place_from(&t, spec, DType::I8, LayoutSpec::NCHW).unwrap());
    // A strided NHWC source (row pitch 3 pixels for a width of 2).
    let t = out_i8(vec![1, 1, 2, 2], Quant::per_tensor(1.0, 0));
    let strided = [1u8, 2, 0xee, 3, 4, 0xee];
    let mut d = vec![0u8; 4];
    let spec = LayoutSpec::nhwc_strided(3);
    convert_output_from(&strided, spec, &t, DType::I8, LayoutSpec::UNDEFINED, &mut d).unwrap();
    assert_eq!(d, vec![1, 2, 3, 4]);
    // Too short a source is refused.
    let err = convert_output_from(&strided[..5], spec, &t, DType::I8, LayoutSpec::NCHW, &mut d);
    assert!(
        matches!(err, Err(IoError::BufferTooSmall { .. })),
        "{err:?}"
    );
}

#[test]
fn output_errors() {
    let t = out_i8(vec![1, 2, 2, 2], Quant::per_tensor(1.0, 0));
    let src = vec![0u8; 8];
    let mut small = vec![0u8; 31];
    let err = convert_output(&src, &t, true, &mut small).unwrap_err();
    assert_eq!(
        err,
        IoError::BufferTooSmall {
            what: "destination",
            required: 32,
            given: 31
        }
    );
    let err = convert_output(&src[..7], &t, false, &mut small).unwrap_err();
    assert_eq!(
        err,
        IoError::BufferTooSmall {
            what: "output",
            required: 8,
            given: 7
        }
    );
    let err =
        convert_output_to(&src, &t, DType::I32, LayoutSpec::UNDEFINED, &mut small).unwrap_err();
    assert!(matches!(err, IoError::Unsupported(_)), "{err}");
    let flat = out_i8(vec![8], Quant::per_tensor(1.0, 0));
    let mut d = vec![0u8; 256];
    let err =
        convert_output_to(&src, &flat, DType::I8, LayoutSpec::nc1hwc2(16), &mut d).unwrap_err();
    assert!(matches!(err, IoError::Unsupported(_)), "{err}");
    let bad = out_i8(
        vec![1, 2, 2, 2],
        Quant::per_channel(vec![1.0; 3], vec![0; 3], 1),
    );
    let err = convert_output(&src, &bad, true, &mut d).unwrap_err();
    assert!(matches!(err, IoError::Invalid(_)), "{err}");
}
