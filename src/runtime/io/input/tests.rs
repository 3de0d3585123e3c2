//! `convert_input` against a naive two-step reference written from the
//! definitions (index arithmetic per layout, `(x - mean) / std`, then
//! `quant::quantize_i8`), plus the error cases.

use half::f16;

use super::*;
use crate::graph::Quant;
use crate::kernels::quant;

/// Element index of logical `(n, c, h, w)` in `spec` (independent of `Map`).
fn index(spec: LayoutSpec, d: Dims4, n: usize, c: usize, h: usize, w: usize) -> usize {
    match spec.layout {
        Layout::Nchw | Layout::Undefined => ((n * d.c + c) * d.h + h) * d.w + w,
        Layout::Nhwc => {
            let ws = spec.w_stride.max(d.w);
            ((n * d.h + h) * ws + w) * d.c + c
        }
        Layout::Nc1hwc2 => {
            let c1 = d.c.div_ceil(spec.c2);
            ((((n * c1 + c / spec.c2) * d.h + h) * d.w) + w) * spec.c2 + c % spec.c2
        }
    }
}

fn storage(spec: LayoutSpec, d: Dims4) -> usize {
    match spec.layout {
        Layout::Nchw | Layout::Undefined => d.n * d.c * d.h * d.w,
        Layout::Nhwc => d.n * d.h * spec.w_stride.max(d.w) * d.c,
        Layout::Nc1hwc2 => d.n * d.c.div_ceil(spec.c2) * d.h * d.w * spec.c2,
    }
}

fn read(ty: DType, b: &[u8], i: usize) -> f32 {
    match ty {
        DType::U8 => b[i] as f32,
        DType::I8 => b[i] as i8 as f32,
        DType::F16 => f16::from_le_bytes([b[2 * i], b[2 * i + 1]]).to_f32(),
        DType::F32 => f32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap()),
        t => panic!("reference does not read {t:?}"),
    }
}

fn write(ty: DType, q: Option<(f32, i32)>, v: f32, b: &mut [u8], i: usize) {
    match ty {
        DType::F32 => b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes()),
        DType::F16 => b[2 * i..2 * i + 2].copy_from_slice(&f16::from_f32(v).to_le_bytes()),
        DType::I8 => {
            let (s, zp) = q.unwrap_or((1.0, 0));
            b[i] = quant::quantize_i8(v, 1.0 / s, zp) as u8;
        }
        DType::U8 => {
            let (s, zp) = q.unwrap_or((1.0, 0));
            b[i] = (quant::round(v * (1.0 / s)) + zp as f32).clamp(0.0, 255.0) as u8;
        }
        t => panic!("reference does not write {t:?}"),
    }
}

/// The two-step definition, element by element.
fn reference(
    src: &[u8],
    src_ty: DType,
    sl: LayoutSpec,
    pre: &InputPreprocess,
    dst: &TensorInfo,
    dl: LayoutSpec,
) -> Vec<u8> {
    let d = Dims4::from_info(dst).unwrap();
    let mut out = vec![0u8; storage(dl, d) * dst.dtype.size()];
    let pad = pad_bytes(dst);
    for (i, chunk) in out.chunks_exact_mut(pad.len()).enumerate() {
        let _ = i;
        chunk.copy_from_slice(&pad);
    }
    let pick = |v: &[f32], c: usize, dflt: f32| {
        if v.is_empty() {
            dflt
        } else if v.len() == 1 {
            v[0]
        } else {
            v[c]
        }
    };
    for n in 0..d.n {
        for c in 0..d.c {
            for h in 0..d.h {
                for w in 0..d.w {
                    let x = read(src_ty, src, index(sl, d, n, c, h, w));
                    let v = (x - pick(&pre.mean, c, 0.0)) / pick(&pre.std, c, 1.0);
                    let q = dst.quant.as_ref().map(|q| q.channel(c));
                    write(dst.dtype, q, v, &mut out, index(dl, d, n, c, h, w));
                }
            }
        }
    }
    out
}

fn image(n: usize, c: usize, h: usize, w: usize, ty: DType, quant: Option<Quant>) -> TensorInfo {
    let mut t = TensorInfo::activation("images", vec![n, c, h, w], ty);
    t.quant = quant;
    t
}

fn bytes(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn imagenet() -> InputPreprocess {
    InputPreprocess {
        mean: vec![123.675, 116.28, 103.53, 50.0, 0.0],
        std: vec![58.395, 57.12, 57.375, 10.0, 255.0],
    }
}

fn pre_for(c: usize) -> InputPreprocess {
    if c > 5 {
        return InputPreprocess {
            mean: vec![10.0],
            std: vec![3.0],
        };
    }
    let p = imagenet();
    InputPreprocess {
        mean: p.mean[..c.min(5)].to_vec(),
        std: p.std[..c.min(5)].to_vec(),
    }
}

fn run(src: &InputBuf, pre: &InputPreprocess, dst: &TensorInfo, dl: LayoutSpec) -> Vec<u8> {
    let mut out = vec![0xeeu8; input_size(dst, dl).unwrap()];
    let n = convert_input(src, pre, dst, dl, &mut out).unwrap();
    assert_eq!(n, out.len());
    out
}

#[test]
fn u8_nhwc_to_int8_in_every_destination_layout() {
    for c in [1usize, 2, 3, 4, 5] {
        for (h, w) in [(3, 37), (2, 16), (1, 1), (4, 50)] {
            let d = image(2, c, h, w, DType::I8, Some(Quant::per_tensor(0.0186, -14)));
            let data = bytes(2 * h * w * c, c as u32);
            let src = InputBuf {
                data: &data,
                dtype: DType::U8,
                layout: LayoutSpec::NHWC,
                pass_through: false,
            };
            let pre = pre_for(c);
            for dl in [
                LayoutSpec::NCHW,
                LayoutSpec::UNDEFINED,
                LayoutSpec::NHWC,
                LayoutSpec::nhwc_strided(w.next_multiple_of(16)),
                LayoutSpec::nc1hwc2(16),
                LayoutSpec::nc1hwc2(8),
                LayoutSpec::nc1hwc2(4),
            ] {
                let got = run(&src, &pre, &d, dl);
                let want = reference(&data, DType::U8, LayoutSpec::NHWC, &pre, &d, dl);
                assert_eq!(got, want, "c={c} h={h} w={w} {dl:?}");
            }
        }
    }
}

#[test]
fn u8_nchw_and_uint8_models() {
    for ty in [DType::I8, DType::U8] {
        let q = Quant::per_tensor(1.0 / 255.0, if ty == DType::I8 { -128 } else { 0 });
        let d = image(1, 3, 5, 21, ty, Some(q));
        let data = bytes(3 * 5 * 21, 7);
        let pre = InputPreprocess {
            mean: vec![0.0],
            std: vec![255.0],
        };
        for sl in [LayoutSpec::NCHW, LayoutSpec::NHWC] {
            let src = InputBuf {
                data: &data,
                dtype: DType::U8,
                layout: sl,
                pass_through: false,
            };
            for dl in [LayoutSpec::NCHW, LayoutSpec::nc1hwc2(16)] {
                let got = run(&src, &pre, &d, dl);
                assert_eq!(
                    got,
                    reference(&data, DType::U8, sl, &pre, &d, dl),
                    "{ty:?} {sl:?} {dl:?}"
                );
            }
        }
    }
}

#[test]
fn float_destinations_and_float_sources() {
    for c in [1usize, 3, 4, 6] {
        let pre = pre_for(c);
        let data = bytes(2 * 3 * 35 * c, 11);
        for ty in [DType::F32, DType::F16] {
            let d = image(2, c, 3, 35, ty, None);
            for sl in [LayoutSpec::NHWC, LayoutSpec::NCHW] {
                let src = InputBuf {
                    data: &data,
                    dtype: DType::U8,
                    layout: sl,
                    pass_through: false,
                };
                for dl in [LayoutSpec::NCHW, LayoutSpec::NHWC, LayoutSpec::nc1hwc2(8)] {
                    let got = run(&src, &pre, &d, dl);
                    assert_eq!(
                        got,
                        reference(&data, DType::U8, sl, &pre, &d, dl),
                        "{ty:?} c={c} {sl:?} {dl:?}"
                    );
                }
            }
        }
        // f32 and f16 sources into int8 and f16.
        let f: Vec<u8> = data
            .iter()
            .flat_map(|&b| (b as f32 * 0.75 - 3.0).to_le_bytes())
            .collect();
        let h: Vec<u8> = data
            .iter()
            .flat_map(|&b| f16::from_f32(b as f32 - 100.0).to_le_bytes())
            .collect();
        let i8d = image(2, c, 3, 35, DType::I8, Some(Quant::per_tensor(0.02, 3)));
        let f16d = image(2, c, 3, 35, DType::F16, None);
        for (buf, ty) in [(&f, DType::F32), (&h, DType::F16)] {
            let src = InputBuf {
                data: buf,
                dtype: ty,
                layout: LayoutSpec::NHWC,
                pass_through: false,
            };
            for d in [&i8d, &f16d] {
                let got = run(&src, &pre, d, LayoutSpec::NCHW);
                assert_eq!(
                    got,
                    reference(buf, ty, LayoutSpec::NHWC, &pre, d, LayoutSpec::NCHW)
                );
            }
        }
    }
}

#[test]
fn per_channel_input_quantization() {
    let q = Quant::per_channel(vec![0.02, 0.03, 0.05], vec![-5, 0, 9], 1);
    let d = image(1, 3, 4, 19, DType::I8, Some(q));
    let data = bytes(3 * 4 * 19, 5);
    let pre = pre_for(3);
    let src = InputBuf {
        data: &data,
        dtype: DType::U8,
        layout: LayoutSpec::NHWC,
        pass_through: false,
    };
    let got = run(&src, &pre, &d, LayoutSpec::NCHW);
    assert_eq!(
        got,
        reference(
            &data,
            DType::U8,
            LayoutSpec::NHWC,
            &pre,
            &d,
            LayoutSpec::NCHW
        )
    );
    let bad = image(
        1,
        3,
        4,
        19,
        DType::I8,
        Some(Quant::per_channel(vec![0.1; 19], vec![0; 19], 3)),
    );
    let mut out = vec![0u8; 3 * 4 * 19];
    let err = convert_input(&src, &pre, &bad, LayoutSpec::NCHW, &mut out).unwrap_err();
    assert!(matches!(err, IoError::Unsupported(_)), "{err}");
}

#[test]
fn result_equals_the_two_step_definition_when_the_fused_formula_would_not() {
    // Search parameters where the fused coefficients round some byte
    // differently from the two-step definition; the conversion must still
    // give the definition's bytes.
    let mut found = 0;
    for k in 0..200_000u32 {
        let (m, s) = (100.5 + (k % 97) as f32 * 0.37, 0.7 + (k % 13) as f32 * 0.31);
        // Scales that keep (x - m) / (s * scale) within the int8 range.
        let scale = (1.0 + (k as f32) * 1e-5) / s;
        let ms = [(m, s)];
        let qp = [(scale, -3)];
        let chans = [Chan {
            sub: m,
            div: s,
            mul: 1.0,
            qinv: 1.0 / scale,
            qzp: -3,
        }];
        let tables = engine::u8_tables(DType::I8, &chans);
        if fused_coeffs(&ms, &qp, &tables, 0..1, 0).is_some() {
            continue;
        }
        found += 1;
        let d = image(1, 1, 2, 128, DType::I8, Some(Quant::per_tensor(scale, -3)));
        let data: Vec<u8> = (0..256).map(|i| i as u8).collect();
        let pre = InputPreprocess {
            mean: vec![m],
            std: vec![s],
        };
        let src = InputBuf {
            data: &data,
            dtype: DType::U8,
            layout: LayoutSpec::NHWC,
            pass_through: false,
        };
        for dl in [LayoutSpec::NCHW, LayoutSpec::nc1hwc2(16)] {
            let got = run(&src, &pre, &d, dl);
            assert_eq!(
                got,
                reference(&data, DType::U8, LayoutSpec::NHWC, &pre, &d, dl)
            );
        }
        if found == 5 {
            break;
        }
    }
    assert!(
        found > 0,
        "no parameters found where the fused formula differs"
    );
}

#[test]
fn pass_through_converts_only_the_layout() {
    let d = image(1, 13, 3, 7, DType::I8, Some(Quant::per_tensor(0.1, -9)));
    let nchw = bytes(13 * 3 * 7, 3);
    let pre = imagenet();
    // NCHW -> NC1HWC2 -> back to NCHW through the API.
    let src = InputBuf {
        data: &nchw,
        dtype: DType::I8,
        layout: LayoutSpec::NCHW,
        pass_through: true,
    };
    let packed = run(
        &src,
        &InputPreprocess::default(),
        &d,
        LayoutSpec::nc1hwc2(8),
    );
    assert_eq!(packed.len(), 2 * 3 * 7 * 8);
    // Padding channels 13..16 of block 1 hold the zero point.
    assert_eq!(packed[3 * 7 * 8 + 5], (-9i8) as u8);
    assert_eq!(
        packed[8..13],
        (0..5).map(|c| nchw[c * 21 + 1]).collect::<Vec<_>>()[..]
    );
    let src = InputBuf {
        data: &packed,
        dtype: DType::I8,
        layout: LayoutSpec::nc1hwc2(8),
        pass_through: true,
    };
    assert_eq!(run(&src, &pre, &d, LayoutSpec::NCHW), nchw);
    // NHWC with a width stride.
    let ws = LayoutSpec::nhwc_strided(16);
    let plain = InputBuf {
        data: &nchw,
        dtype: DType::I8,
        layout: LayoutSpec::NCHW,
        pass_through: true,
    };
    let strided = run(&plain, &pre, &d, ws);
    assert_eq!(strided.len(), 3 * 16 * 13);
    let back = run(
        &InputBuf {
            data: &strided,
            dtype: DType::I8,
            layout: ws,
            pass_through: true,
        },
        &pre,
        &d,
        LayoutSpec::NCHW,
    );
    assert_eq!(back, nchw);
    // Wrong type.
    let bad = InputBuf {
        data: &nchw,
        dtype: DType::U8,
        layout: LayoutSpec::NCHW,
        pass_through: true,
    };
    let mut out = vec![0u8; nchw.len()];
    let err = convert_input(&bad, &pre, &d, LayoutSpec::NCHW, &mut out).unwrap_err();
    assert!(err.to_string().contains("must be I8"), "{err}");
}

#[test]
fn non_image_inputs_ignore_mean_std_and_copy_integer_types() {
    let mut t = TensorInfo::activation("x", vec![2, 5], DType::I8);
    t.quant = Some(Quant::per_tensor(0.5, 1));
    let vals: Vec<f32> = (0..10).map(|i| i as f32 * 0.3 - 1.0).collect();
    let data: Vec<u8> = vals.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let src = InputBuf {
        data: &data,
        dtype: DType::F32,
        layout: LayoutSpec::UNDEFINED,
        pass_through: false,
    };
    let got = run(&src, &imagenet(), &t, LayoutSpec::UNDEFINED);
    let want: Vec<u8> = vals
        .iter()
        .map(|&v| quant::quantize_i8(v, 2.0, 1) as u8)
        .collect();
    assert_eq!(got, want);

    let ids = TensorInfo::activation("ids", vec![1, 4], DType::I64);
    let data: Vec<u8> = [5i64, -1, 7, 1 << 40]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    let src = InputBuf {
        data: &data,
        dtype: DType::I64,
        layout: LayoutSpec::UNDEFINED,
        pass_through: false,
    };
    assert_eq!(
        run(
            &src,
            &InputPreprocess::default(),
            &ids,
            LayoutSpec::UNDEFINED
        ),
        data
    );
    let f = InputBuf {
        dtype: DType::F32,
        ..src
    };
    let mut out = vec![0u8; 32];
    let err = convert_input(
        &f,
        &InputPreprocess::default(),
        &ids,
        LayoutSpec::UNDEFINED,
        &mut out,
    )
    .unwrap_err();
    assert!(matches!(err, IoError::Unsupported(_)), "{err}");
}

#[test]
fn errors_name_what_is_wrong() {
    let d = image(1, 3, 4, 4, DType::I8, Some(Quant::per_tensor(0.1, 0)));
    let data = vec![0u8; 47];
    let mut out = vec![0u8; 48];
    let src = InputBuf {
        data: &data,
        dtype: DType::U8,
        layout: LayoutSpec::NHWC,
        pass_through: false,
    };
    let pre = InputPreprocess::default();
    let err = convert_input(&src, &pre, &d, LayoutSpec::NCHW, &mut out).unwrap_err();
    assert_eq!(
        err,
        IoError::BufferTooSmall {
            what: "input",
            required: 48,
            given: 47
        }
    );
    assert!(err.to_string().contains("48 bytes required, 47 given"));
    let f32src = InputBuf {
        dtype: DType::F32,
        ..src
    };
    let err = convert_input(&f32src, &pre, &d, LayoutSpec::NCHW, &mut out).unwrap_err();
    assert_eq!(
        err,
        IoError::BufferTooSmall {
            what: "input",
            required: 192,
            given: 47
        }
    );

    let data = vec![0u8; 48];
    let src = InputBuf { data: &data, ..src };
    let err = convert_input(&src, &pre, &d, LayoutSpec::NCHW, &mut out[..40]).unwrap_err();
    assert_eq!(
        err,
        IoError::BufferTooSmall {
            what: "destination",
            required: 48,
            given: 40
        }
    );

    let nc = InputBuf {
        layout: LayoutSpec::nc1hwc2(16),
        ..src
    };
    assert!(matches!(
        convert_input(&nc, &pre, &d, LayoutSpec::NCHW, &mut out),
        Err(IoError::Unsupported(_))
    ));

    for bad in [
        InputPreprocess {
            mean: vec![1.0, 2.0],
            std: vec![],
        },
        InputPreprocess {
            mean: vec![],
            std: vec![1.0, 0.0, 1.0],
        },
        InputPreprocess {
            mean: vec![f32::NAN],
            std: vec![],
        },
    ] {
        let err = convert_input(&src, &bad, &d, LayoutSpec::NCHW, &mut out).unwrap_err();
        assert!(matches!(err, IoError::Invalid(_)), "{err}");
    }
    let err = convert_input(&src, &pre, &d, LayoutSpec::nhwc_strided(3), &mut out).unwrap_err();
    assert!(matches!(err, IoError::Invalid(_)), "{err}");
    let zero = image(1, 3, 4, 4, DType::I8, Some(Quant::per_tensor(0.0, 0)));
    let err = convert_input(&src, &imagenet_3(), &zero, LayoutSpec::NCHW, &mut out).unwrap_err();
    assert!(matches!(err, IoError::Invalid(_)), "{err}");
}

fn imagenet_3() -> InputPreprocess {
    pre_for(3)
}

#[test]
fn input_size_counts_padding() {
    let d = image(1, 3, 2, 13, DType::I8, None);
    assert_eq!(input_size(&d, LayoutSpec::NCHW).unwrap(), 78);
    assert_eq!(input_size(&d, LayoutSpec::nhwc_strided(16)).unwrap(), 96);
    assert_eq!(input_size(&d, LayoutSpec::nc1hwc2(16)).unwrap(), 416);
    let f = image(1, 3, 2, 13, DType::F16, None);
    assert_eq!(input_size(&f, LayoutSpec::nc1hwc2(8)).unwrap(), 416);
}
