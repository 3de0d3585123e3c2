//! Data-movement kernels against naive per-element references.

use super::super::b_testutil::{assert_close, ravel, run, run1, unravel, Rng, T};
use super::super::quant;
use crate::graph::{CoordMode, DType, NearestMode, Op, PadMode, Quant, ResizeMode};

fn iota(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32).collect()
}

#[test]
fn concat_and_split_round_trip_every_axis() {
    let shapes = [[2, 1, 3], [2, 4, 3], [2, 2, 3]];
    for axis in 0..3 {
        let ins: Vec<(Vec<usize>, Vec<f32>)> = shapes
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let mut s = s.to_vec();
                s.swap(1, axis);
                let n = s.iter().product();
                (s, iota(n).iter().map(|v| v + 100.0 * k as f32).collect())
            })
            .collect();
        let mut oshape = ins[0].0.clone();
        oshape[axis] = ins.iter().map(|(s, _)| s[axis]).sum();
        let ts: Vec<T> = ins.iter().map(|(s, v)| T::f32(s, v)).collect();
        let refs: Vec<&T> = ts.iter().collect();
        let out = run1(&Op::Concat { axis }, &refs, &oshape, DType::F32, None).unwrap();
        // Reference: element at index idx comes from the input whose range
        // along `axis` holds idx[axis].
        let got = out.as_f32();
        for (i, g) in got.iter().enumerate() {
            let mut idx = unravel(i, &oshape);
            let mut k = 0;
            while idx[axis] >= ins[k].0[axis] {
                idx[axis] -= ins[k].0[axis];
                k += 1;
            }
            assert_eq!(*g, ins[k].1[ravel(&idx, &ins[k].0)]);
        }
        let mut outs: Vec<T> = ins.iter().map(|(s, _)| T::zeros(s, DType::F32)).collect();
        run(&Op::Split { axis }, &[&out], &mut outs).unwrap();
        for (o, (_, v)) in outs.iter().zip(&ins) {
            assert_eq!(&o.as_f32(), v);
        }
    }
}

#[test]
fn concat_int8_requantizes_differing_inputs() {
    let a = T::i8q(&[2, 2], &[-128, -1, 0, 127], 0.1, 0);
    let b = T::i8q(&[2, 1], &[10, -20], 0.2, 5);
    let out = run1(
        &Op::Concat { axis: 1 },
        &[&a, &b],
        &[2, 3],
        DType::I8,
        Some(Quant::per_tensor(0.1, 0)),
    )
    .unwrap();
    let rq = |q: i8| {
        (quant::round((q as i32 - 5) as f32 * 0.2 * (1.0 / 0.1))).clamp(-128.0, 127.0) as i8
    };
    assert_eq!(out.as_i8(), vec![-128, -1, rq(10), 0, 127, rq(-20)]);
}

#[test]
fn concat_rejects_mismatched_shapes() {
    let a = T::f32(&[2, 2], &[0.0; 4]);
    let b = T::f32(&[3, 1], &[0.0; 3]);
    assert!(run1(
        &Op::Concat { axis: 1 },
        &[&a, &b],
        &[2, 3],
        DType::F32,
        None
    )
    .is_err());
}

fn slice_ref(
    x: &[f32],
    shape: &[usize],
    oshape: &[usize],
    axes: &[usize],
    starts: &[i64],
    steps: &[i64],
) -> Vec<f32> {
    (0..oshape.iter().product())
        .map(|i| {
            let mut idx = unravel(i, oshape);
            for ((&a, &s), &st) in axes.iter().zip(starts).zip(steps) {
                idx[a] = (s + idx[a] as i64 * st) as usize;
            }
            x[ravel(&idx, shape)]
        })
        .collect()
}

#[test]
fn slice_positive_and_negative_steps() {
    let shape = [3, 5, 7];
    let x = iota(105);
    type Case<'a> = (&'a [usize], &'a [i64], &'a [i64], [usize; 3]);
    let cases: &[Case] = &[
        (&[2], &[1], &[2], [3, 5, 3]),
        (&[1, 2], &[4, 6], &[-1, -2], [3, 5, 4]),
        (&[0, 2], &[2, 0], &[-2, 3], [2, 5, 3]),
        (&[0, 1, 2], &[0, 1, 6], &[1, 1, -1], [3, 3, 7]),
        (&[1], &[3], &[-3], [3, 2, 7]),
    ];
    for &(axes, starts, steps, oshape) in cases {
        let op = Op::Slice {
            axes: axes.to_vec(),
            starts: starts.to_vec(),
            steps: steps.to_vec(),
        };
        let out = run1(&op, &[&T::f32(&shape, &x)], &oshape, DType::F32, None).unwrap();
        assert_eq!(
            out.as_f32(),
            slice_ref(&x, &shape, &oshape, axes, starts, steps),
            "{axes:?} {starts:?} {steps:?}"
        );
    }
    // Negative start counts from the end; reading past the input is an error.
    let op = Op::Slice {
        axes: vec![0],
        starts: vec![-2],
        steps: vec![1],
    };
    let out = run1(&op, &[&T::f32(&[5], &iota(5))], &[2], DType::F32, None).unwrap();
    assert_eq!(out.as_f32(), vec![3.0, 4.0]);
    assert!(run1(&op, &[&T::f32(&[5], &iota(5))], &[3], DType::F32, None).is_err());
    let op = Op::Slice {
        axes: vec![0],
        starts: vec![0],
        steps: vec![0],
    };
    assert!(run1(&op, &[&T::f32(&[5], &iota(5))], &[1], DType::F32, None).is_err());
    let op = Op::Slice {
        axes: vec![0],
        starts: vec![0],
        steps: vec![i64::MAX],
    };
    assert!(run1(&op, &[&T::f32(&[5], &iota(5))], &[2], DType::F32, None).is_err());
}

#[test]
fn transpose_every_perm_and_element_size() {
    let shape = [2, 3, 4, 5];
    let mut rng = Rng::new(31);
    let perms = [
        [0, 2, 3, 1],
        [0, 3, 1, 2],
        [0, 1, 3, 2],
        [3, 2, 1, 0],
        [1, 0, 3, 2],
        [2, 0, 3, 1],
        [0, 1, 2, 3],
    ];
    for dtype in [DType::I8, DType::F16, DType::F32, DType::I64] {
        let bytes = rng.bytes(120 * dtype.size());
        let x = T::from_bytes(&shape, dtype, &bytes);
        for perm in perms {
            let oshape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
            let out = run1(
                &Op::Transpose {
                    perm: perm.to_vec(),
                },
                &[&x],
                &oshape,
                dtype,
                None,
            )
            .unwrap();
            let e = dtype.size();
            for (i, chunk) in out.bytes().chunks(e).enumerate() {
                let oi = unravel(i, &oshape);
                let mut ii = [0usize; 4];
                for (k, &p) in perm.iter().enumerate() {
                    ii[p] = oi[k];
                }
                let s = ravel(&ii, &shape) * e;
                assert_eq!(chunk, &bytes[s..s + e], "{dtype:?} {perm:?}");
            }
        }
    }
    assert!(run1(
        &Op::Transpose {
            perm: vec![0, 0, 1, 2]
        },
        &[&T::f32(&shape, &iota(120))],
        &shape,
        DType::F32,
        None
    )
    .is_err());
}

#[test]
fn reshape_copies_and_checks_counts() {
    let x = T::from_bytes(&[2, 3], DType::Bool, &[1, 0, 1, 1, 0, 0]);
    let out = run1(&Op::Reshape, &[&x], &[3, 2], DType::Bool, None).unwrap();
    assert_eq!(out.bytes(), x.bytes());
    assert!(run1(&Op::Reshape, &[&x], &[4], DType::Bool, None).is_err());
}

fn pad_ref(x: &[f32], shape: &[usize], pads: &[usize], mode: PadMode) -> (Vec<usize>, Vec<f32>) {
    let r = shape.len();
    let oshape: Vec<usize> = (0..r).map(|d| shape[d] + pads[d] + pads[r + d]).collect();
    let vals = (0..oshape.iter().product())
        .map(|i| {
            let oi = unravel(i, &oshape);
            let mut ii = vec![0usize; r];
            for d in 0..r {
                let mut p = oi[d] as i64 - pads[d] as i64;
                let n = shape[d] as i64;
                match mode {
                    PadMode::Constant { value } => {
                        if p < 0 || p >= n {
                            return value;
                        }
                    }
                    PadMode::Edge => p = p.clamp(0, n - 1),
                    PadMode::Reflect => {
                        while p < 0 || p >= n {
                            p = if p < 0 { -p } else { 2 * (n - 1) - p };
                        }
                    }
                }
                ii[d] = p as usize;
            }
            x[ravel(&ii, shape)]
        })
        .collect();
    (oshape, vals)
}

#[test]
fn pad_every_mode() {
    let shape = [2, 3, 4];
    let x = iota(24);
    let pads_list: [[usize; 6]; 3] = [[0, 1, 2, 1, 2, 3], [1, 0, 0, 0, 2, 1], [0, 0, 0, 0, 0, 0]];
    for mode in [
        PadMode::Constant { value: -1.5 },
        PadMode::Edge,
        PadMode::Reflect,
    ] {
        for pads in pads_list {
            let (oshape, want) = pad_ref(&x, &shape, &pads, mode);
            let op = Op::Pad {
                pads: pads.to_vec(),
                mode,
            };
            let out = run1(&op, &[&T::f32(&shape, &x)], &oshape, DType::F32, None).unwrap();
            assert_eq!(out.as_f32(), want, "{mode:?} {pads:?}");
        }
    }
}

#[test]
fn pad_int8_constant_is_quantized() {
    let x = T::i8q(&[2], &[5, 6], 0.5, 3);
    let op = Op::Pad {
        pads: vec![1, 1],
        mode: PadMode::Constant { value: 2.0 },
    };
    let out = run1(&op, &[&x], &[4], DType::I8, Some(Quant::per_tensor(0.5, 3))).unwrap();
    assert_eq!(out.as_i8(), vec![7, 5, 6, 7]);
    let xi = T::from_bytes(&[2], DType::I32, bytemuck::cast_slice(&[5i32, 6]));
    let op = Op::Pad {
        pads: vec![0, 2],
        mode: PadMode::Constant { value: 9.0 },
    };
    let out = run1(&op, &[&xi], &[4], DType::I32, None).unwrap();
    assert_eq!(bytemuck::cast_slice::<u8, i32>(out.bytes()), &[5, 6, 9, 9]);
}

/// ONNX Resize reference in f64 for coordinates.
fn coord_ref(coord: CoordMode, o: usize, n_in: usize, n_out: usize) -> f64 {
    let (o, i, n) = (o as f64, n_in as f64, n_out as f64);
    let scale = n / i;
    match coord {
        CoordMode::HalfPixel => (o + 0.5) / scale - 0.5,
        CoordMode::PytorchHalfPixel => {
            if n_out > 1 {
                (o + 0.5) / scale - 0.5
            } else {
                0.0
            }
        }
        CoordMode::AlignCorners => {
            if n_out == 1 {
                0.0
            } else {
                o * (i - 1.0) / (n - 1.0)
            }
        }
        CoordMode::Asymmetric => o / scale,
    }
}

fn nearest_ref(mode: NearestMode, c: f64, n: usize) -> usize {
    let v = match mode {
        NearestMode::RoundPreferFloor => (c - 0.5).ceil(),
        NearestMode::RoundPreferCeil => (c + 0.5).floor(),
        NearestMode::Floor => c.floor(),
        NearestMode::Ceil => c.ceil(),
    };
    v.max(0.0).min(n as f64 - 1.0) as usize
}

const COORDS: [CoordMode; 4] = [
    CoordMode::HalfPixel,
    CoordMode::PytorchHalfPixel,
    CoordMode::AlignCorners,
    CoordMode::Asymmetric,
];
const SIZES: [(usize, usize, usize, usize); 4] =
    [(3, 4, 6, 8), (4, 6, 3, 4), (2, 3, 1, 5), (5, 5, 7, 2)];

#[test]
fn resize_nearest_every_mode() {
    let nearests = [
        NearestMode::RoundPreferFloor,
        NearestMode::RoundPreferCeil,
        NearestMode::Floor,
        NearestMode::Ceil,
    ];
    for (ih, iw, oh, ow) in SIZES {
        let x = iota(2 * ih * iw);
        for coord in COORDS {
            for nearest in nearests {
                let op = Op::Resize {
                    mode: ResizeMode::Nearest,
                    coord,
                    nearest,
                };
                let out = run1(
                    &op,
                    &[&T::f32(&[2, ih, iw], &x)],
                    &[2, oh, ow],
                    DType::F32,
                    None,
                )
                .unwrap();
                let want: Vec<f32> = (0..2 * oh * ow)
                    .map(|i| {
                        let (p, y, xo) = (i / (oh * ow), (i / ow) % oh, i % ow);
                        let sy = nearest_ref(nearest, coord_ref(coord, y, ih, oh), ih);
                        let sx = nearest_ref(nearest, coord_ref(coord, xo, iw, ow), iw);
                        x[p * ih * iw + sy * iw + sx]
                    })
                    .collect();
                assert_eq!(
                    out.as_f32(),
                    want,
                    "{coord:?} {nearest:?} {ih}x{iw}->{oh}x{ow}"
                );
            }
        }
    }
}

fn bilinear_ref(
    x: &[f32],
    ih: usize,
    iw: usize,
    oh: usize,
    ow: usize,
    coord: CoordMode,
) -> Vec<f32> {
    let planes = x.len() / (ih * iw);
    let tap = |o: usize, n_in: usize, n_out: usize| {
        let c = coord_ref(coord, o, n_in, n_out)
            .max(0.0)
            .min(n_in as f64 - 1.0);
        let lo = c.floor() as usize;
        let hi = (lo + 1).min(n_in - 1);
        (lo, hi, c - lo as f64)
    };
    (0..planes * oh * ow)
        .map(|i| {
            let (p, y, xo) = (i / (oh * ow), (i / ow) % oh, i % ow);
            let (y0, y1, fy) = tap(y, ih, oh);
            let (x0, x1, fx) = tap(xo, iw, ow);
            let at = |yy: usize, xx: usize| x[p * ih * iw + yy * iw + xx] as f64;
            let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
            let bot = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
            (top * (1.0 - fy) + bot * fy) as f32
        })
        .collect()
}

#[test]
fn resize_bilinear_every_coord_mode_f32_and_int8() {
    let mut rng = Rng::new(41);
    for (ih, iw, oh, ow) in SIZES {
        let x = rng.vec(3 * ih * iw, -4.0, 4.0);
        let q: Vec<i8> = rng.bytes(3 * ih * iw).iter().map(|&b| b as i8).collect();
        let (s, z) = (0.05f32, -3);
        let real: Vec<f32> = q.iter().map(|&v| (v as i32 - z) as f32 * s).collect();
        for coord in COORDS {
            let op = Op::Resize {
                mode: ResizeMode::Linear,
                coord,
                nearest: NearestMode::Floor,
            };
            let out = run1(
                &op,
                &[&T::f32(&[1, 3, ih, iw], &x)],
                &[1, 3, oh, ow],
                DType::F32,
                None,
            )
            .unwrap();
            assert_close(
                &out.as_f32(),
                &bilinear_ref(&x, ih, iw, oh, ow, coord),
                1e-5,
            );
            let qo = Quant::per_tensor(s, z);
            let out = run1(
                &op,
                &[&T::i8q(&[1, 3, ih, iw], &q, s, z)],
                &[1, 3, oh, ow],
                DType::I8,
                Some(qo),
            )
            .unwrap();
            for (g, w) in out
                .as_i8()
                .iter()
                .zip(bilinear_ref(&real, ih, iw, oh, ow, coord))
            {
                let back = (*g as i32 - z) as f32 * s;
                assert!(
                    (back - w).abs() <= s * 0.5 + 1e-4,
                    "{coord:?}: {back} vs {w}"
                );
            }
        }
    }
}

#[test]
fn gather_axes_negative_indices_and_errors() {
    let shape = [3, 4, 2];
    let x = iota(24);
    let idx: Vec<i64> = vec![-1, 0, 2, 1, -3, 0];
    for axis in 0..3 {
        let dim = shape[axis] as i64;
        let ids: Vec<i64> = idx.iter().map(|&i| i.clamp(-dim, dim - 1)).collect();
        let ishape = [2, 3];
        let mut oshape: Vec<usize> = shape[..axis].to_vec();
        oshape.extend_from_slice(&ishape);
        oshape.extend_from_slice(&shape[axis + 1..]);
        let ti = T::from_bytes(&ishape, DType::I64, bytemuck::cast_slice(&ids));
        let out = run1(
            &Op::Gather { axis },
            &[&T::f32(&shape, &x), &ti],
            &oshape,
            DType::F32,
            None,
        )
        .unwrap();
        let want: Vec<f32> = (0..oshape.iter().product())
            .map(|i| {
                let oi = unravel(i, &oshape);
                let j = ids[ravel(&oi[axis..axis + 2], &ishape)];
                let j = if j < 0 { j + dim } else { j } as usize;
                let mut ii: Vec<usize> = oi[..axis].to_vec();
                ii.push(j);
                ii.extend_from_slice(&oi[axis + 2..]);
                x[ravel(&ii, &shape)]
            })
            .collect();
        assert_eq!(out.as_f32(), want);
        let i32s: Vec<i32> = ids.iter().map(|&v| v as i32).collect();
        let ti = T::from_bytes(&ishape, DType::I32, bytemuck::cast_slice(&i32s));
        let out32 = run1(
            &Op::Gather { axis },
            &[&T::f32(&shape, &x), &ti],
            &oshape,
            DType::F32,
            None,
        )
        .unwrap();
        assert_eq!(out32.as_f32(), want);
    }
    let bad = T::from_bytes(&[1], DType::I64, bytemuck::cast_slice(&[3i64]));
    assert!(run1(
        &Op::Gather { axis: 0 },
        &[&T::f32(&shape, &x), &bad],
        &[1, 4, 2],
        DType::F32,
        None
    )
    .is_err());
    let bad = T::from_bytes(&[1], DType::I64, bytemuck::cast_slice(&[-4i64]));
    assert!(run1(
        &Op::Gather { axis: 0 },
        &[&T::f32(&shape, &x), &bad],
        &[1, 4, 2],
        DType::F32,
        None
    )
    .is_err());
}

#[test]
fn split_and_gather_int8_requantize_to_output_parameters() {
    let x = T::i8q(&[4], &[-100, -3, 4, 90], 0.1, 2);
    let rq = |q: i8, s: f32, z: i32| {
        (quant::round((q as i32 - 2) as f32 * 0.1 * (1.0 / s)) + z as f32).clamp(-128.0, 127.0)
            as i8
    };
    let a = T::zeros(&[1], DType::I8).quant(Quant::per_tensor(0.1, 2));
    let b = T::zeros(&[3], DType::I8).quant(Quant::per_tensor(0.3, -1));
    let mut outs = [a, b];
    run(&Op::Split { axis: 0 }, &[&x], &mut outs).unwrap();
    assert_eq!(outs[0].as_i8(), vec![-100]);
    assert_eq!(
        outs[1].as_i8(),
        vec![rq(-3, 0.3, -1), rq(4, 0.3, -1), rq(90, 0.3, -1)]
    );
    let idx = T::from_bytes(&[2], DType::I32, bytemuck::cast_slice(&[3i32, -4]));
    let out = run1(
        &Op::Gather { axis: 0 },
        &[&x, &idx],
        &[2],
        DType::I8,
        Some(Quant::per_tensor(0.05, 0)),
    )
    .unwrap();
    assert_eq!(out.as_i8(), vec![rq(90, 0.05, 0), rq(-100, 0.05, 0)]);
}
