//! NC1HWC2 packing against the user guide's reference loops, and native
//! attributes.

use super::*;

/// `NC1HWC2_to_NCHW` from the RKNN SDK user guide §5.1, transcribed.
fn guide_nc1hwc2_to_nchw(src: &[u8], d: Dims4, c2: usize) -> Vec<u8> {
    let c1 = d.c.div_ceil(c2);
    let hw = d.h * d.w;
    let mut dst = vec![0u8; d.n * d.c * hw];
    for n in 0..d.n {
        let s = &src[n * c1 * hw * c2..];
        for c in 0..d.c {
            let sc = &s[(c / c2) * hw * c2..];
            for i in 0..hw {
                dst[n * d.c * hw + c * hw + i] = sc[c2 * i + c % c2];
            }
        }
    }
    dst
}

#[test]
fn pack_and_unpack_round_trip() {
    for (c, c2) in [(13usize, 8usize), (3, 16), (16, 16), (1, 4), (20, 8)] {
        let d = Dims4::new(2, c, 3, 5);
        let nchw: Vec<u8> = (0..d.elems().unwrap()).map(|i| (i * 7 + 1) as u8).collect();
        let mut packed = vec![0u8; 2 * c.div_ceil(c2) * 15 * c2];
        let n = pack_nc1hwc2(&nchw, LayoutSpec::NCHW, d, c2, &[0x55], &mut packed).unwrap();
        assert_eq!(n, packed.len());
        assert_eq!(guide_nc1hwc2_to_nchw(&packed, d, c2), nchw);
        let pads = packed.iter().filter(|&&b| b == 0x55).count();
        assert!(pads >= 2 * 15 * (c.div_ceil(c2) * c2 - c));
        let mut back = vec![0u8; nchw.len()];
        unpack_nc1hwc2(&packed, d, c2, 1, LayoutSpec::NCHW, &mut back).unwrap();
        assert_eq!(back, nchw);
        // Through NHWC, 2-byte elements.
        let wide: Vec<u8> = nchw.iter().flat_map(|&b| [b, !b]).collect();
        let mut nhwc = vec![0u8; wide.len()];
        let sm = Map::image(LayoutSpec::NCHW, d, Layout::Nchw).unwrap();
        let dm = Map::image(LayoutSpec::NHWC, d, Layout::Nchw).unwrap();
        engine::copy_layout(&wide, &sm, &mut nhwc, &dm, 2);
        let mut p2 = vec![0u8; packed.len() * 2];
        pack_nc1hwc2(&nhwc, LayoutSpec::NHWC, d, c2, &[0, 0], &mut p2).unwrap();
        let mut b2 = vec![0u8; wide.len()];
        unpack_nc1hwc2(&p2, d, c2, 2, LayoutSpec::NCHW, &mut b2).unwrap();
        assert_eq!(b2, wide);
    }
}

#[test]
fn pack_errors() {
    let d = Dims4::new(1, 3, 2, 2);
    let mut out = vec![0u8; 64];
    let err = pack_nc1hwc2(&[0; 11], LayoutSpec::NCHW, d, 16, &[0], &mut out).unwrap_err();
    assert_eq!(
        err,
        IoError::BufferTooSmall {
            what: "source",
            required: 12,
            given: 11
        }
    );
    let err = pack_nc1hwc2(&[0; 12], LayoutSpec::NCHW, d, 16, &[0], &mut out[..63]).unwrap_err();
    assert_eq!(
        err,
        IoError::BufferTooSmall {
            what: "destination",
            required: 64,
            given: 63
        }
    );
    assert!(pack_nc1hwc2(&[0; 12], LayoutSpec::NCHW, d, 0, &[0], &mut out).is_err());
    assert!(unpack_nc1hwc2(&[0; 64], d, 16, 1, LayoutSpec::nc1hwc2(8), &mut out).is_err());
}

fn t(shape: Vec<usize>, ty: DType) -> TensorInfo {
    TensorInfo::activation("t", shape, ty)
}

#[test]
fn native_input_attributes() {
    let a = native_input_attr(&t(vec![1, 3, 640, 640], DType::I8), Platform::Rk3588).unwrap();
    assert_eq!(
        (a.layout, a.dims.clone()),
        (Layout::Nhwc, vec![1, 640, 640, 3])
    );
    assert_eq!(
        (a.w_stride, a.size, a.size_with_stride),
        (640, 1_228_800, 1_228_800)
    );

    let a = native_input_attr(&t(vec![1, 3, 10, 13], DType::I8), Platform::Rk3588).unwrap();
    assert_eq!((a.w_stride, a.size, a.size_with_stride), (16, 390, 480));
    assert_eq!(a.spec, LayoutSpec::nhwc_strided(16));
    let a = native_input_attr(&t(vec![1, 1, 10, 13], DType::F16), Platform::Rk3566).unwrap();
    assert_eq!((a.w_stride, a.size, a.size_with_stride), (16, 260, 320));
    let a = native_input_attr(&t(vec![1, 4, 2, 9], DType::U8), Platform::Rk3568).unwrap();
    assert_eq!((a.w_stride, a.size_with_stride), (16, 128));

    let a = native_input_attr(&t(vec![1, 13, 4, 4], DType::I8), Platform::Rk3568).unwrap();
    assert_eq!(
        (a.layout, a.dims.clone()),
        (Layout::Nc1hwc2, vec![1, 2, 4, 4, 8])
    );
    assert_eq!(
        (a.n_elems, a.size, a.size_with_stride, a.w_stride),
        (256, 256, 256, 0)
    );
    let a = native_input_attr(&t(vec![1, 13, 4, 4], DType::F16), Platform::Rk3588).unwrap();
    assert_eq!(
        (a.dims.clone(), a.size_with_stride),
        (vec![1, 2, 4, 4, 8], 512)
    );

    let a = native_input_attr(&t(vec![1, 2, 3, 4], DType::I64), Platform::Rk3588).unwrap();
    assert_eq!((a.layout, a.size_with_stride), (Layout::Nchw, 192));
    let a = native_input_attr(&t(vec![10], DType::I8), Platform::Rk3588).unwrap();
    assert_eq!(
        (a.layout, a.size, a.size_with_stride),
        (Layout::Undefined, 10, 16)
    );
    let a = native_input_attr(&t(vec![3, 3], DType::F16), Platform::Rk3566).unwrap();
    assert_eq!((a.size, a.size_with_stride), (18, 24));
}

#[test]
fn native_output_attributes() {
    // A 1-channel int8 output of 2048 x 288 occupies one C2 = 16 block per
    // pixel (size_with_stride 9437184, as the vendor runtime reports in
    // airockchip/rknn-toolkit2#304).
    let o = t(vec![1, 1, 2048, 288], DType::I8);
    let a = native_output_attr(&o, Platform::Rk3588).unwrap();
    assert_eq!(
        (a.layout, a.dims.clone()),
        (Layout::Nc1hwc2, vec![1, 1, 2048, 288, 16])
    );
    assert_eq!(a.size_with_stride, 9_437_184);
    let a = native_nhwc_output_attr(&o).unwrap();
    assert_eq!(
        (a.layout, a.dims.clone(), a.size_with_stride),
        (Layout::Nhwc, vec![1, 2048, 288, 1], 589_824)
    );
    let a = native_output_attr(&t(vec![1, 5, 3], DType::F32), Platform::Rk3588).unwrap();
    assert_eq!((a.layout, a.size_with_stride), (Layout::Undefined, 60));
    let a = native_output_attr(&t(vec![1, 64, 80, 80], DType::F16), Platform::Rk3576).unwrap();
    assert_eq!(a.dims, vec![1, 8, 80, 80, 8]);
}
