//! Pooling: optimized kernels against naive references.

use crate::graph::{Op, Quant, Window};
use crate::kernels::quant;
use crate::kernels::testutil::{
    assert_close, dequantize, f32_out, i8_out, quantize, run, Rng, Tensor,
};

/// Output length from the ONNX formula, written out independently.
fn out_len(len: usize, k: usize, s: usize, pb: usize, pe: usize, d: usize, ceil: bool) -> usize {
    let span = (k - 1) * d + 1;
    let num = len + pb + pe - span;
    let mut o = if ceil { num.div_ceil(s) } else { num / s } + 1;
    if ceil && (o - 1) * s >= len + pb {
        o -= 1;
    }
    o
}

#[derive(Clone, Copy, Debug)]
struct Case {
    shape: [usize; 4],
    win: Window,
    ceil: bool,
}

impl Case {
    fn out_shape(&self) -> [usize; 4] {
        let w = &self.win;
        let [n, c, h, wd] = self.shape;
        [
            n,
            c,
            out_len(
                h,
                w.kernel[0],
                w.stride[0],
                w.pads[0],
                w.pads[2],
                w.dilation[0],
                self.ceil,
            ),
            out_len(
                wd,
                w.kernel[1],
                w.stride[1],
                w.pads[1],
                w.pads[3],
                w.dilation[1],
                self.ceil,
            ),
        ]
    }

    /// For every output: the input indices of its window inside the input
    /// and the number of taps inside the padded input.
    fn windows(&self) -> Vec<(Vec<usize>, usize)> {
        let [n, c, h, wd] = self.shape;
        let [_, _, oh, ow] = self.out_shape();
        let w = &self.win;
        let mut out = Vec::new();
        for plane in 0..n * c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut cells = Vec::new();
                    let mut padded = 0;
                    for ki in 0..w.kernel[0] {
                        for kj in 0..w.kernel[1] {
                            let iy = (oy * w.stride[0] + ki * w.dilation[0]) as isize
                                - w.pads[0] as isize;
                            let ix = (ox * w.stride[1] + kj * w.dilation[1]) as isize
                                - w.pads[1] as isize;
                            let in_padded =
                                iy < (h + w.pads[2]) as isize && ix < (wd + w.pads[3]) as isize;
                            if in_padded {
                                padded += 1;
                            }
                            if iy >= 0 && ix >= 0 && iy < h as isize && ix < wd as isize {
                                cells.push((plane * h + iy as usize) * wd + ix as usize);
                            }
                        }
                    }
                    out.push((cells, padded));
                }
            }
        }
        out
    }
}

fn cases() -> Vec<Case> {
    let c = |shape, kernel, stride, pads, dilation, ceil| Case {
        shape,
        win: Window {
            kernel,
            stride,
            pads,
            dilation,
        },
        ceil,
    };
    vec![
        c([1, 2, 6, 6], [2, 2], [2, 2], [0; 4], [1, 1], false),
        c([2, 3, 7, 9], [3, 3], [2, 2], [1; 4], [1, 1], false),
        c([1, 2, 7, 9], [3, 3], [2, 2], [1; 4], [1, 1], true),
        c([1, 3, 8, 7], [3, 2], [2, 3], [0, 1, 2, 0], [1, 1], true),
        c([1, 2, 9, 10], [3, 3], [1, 2], [2, 1, 0, 2], [2, 2], false),
        c([1, 1, 5, 5], [5, 5], [1, 1], [2; 4], [1, 1], false),
        c([2, 2, 11, 11], [3, 3], [3, 3], [0, 0, 1, 1], [1, 1], true),
        c([1, 4, 1, 13], [1, 4], [1, 3], [0, 2, 0, 1], [1, 2], true),
    ]
}

#[test]
fn max_and_average_f32_match_naive() {
    let mut rng = Rng::new(30);
    for case in cases() {
        let x = rng.f32s(case.shape.iter().product(), -2.0, 2.0);
        let xt = Tensor::f32(&case.shape, &x);
        let windows = case.windows();
        let max_op = Op::MaxPool {
            window: case.win,
            ceil_mode: case.ceil,
        };
        let got = run(&max_op, &[&xt], f32_out(&case.out_shape())).unwrap();
        let want: Vec<f32> = windows
            .iter()
            .map(|(cells, _)| cells.iter().map(|&i| x[i]).fold(f32::MIN, f32::max))
            .collect();
        assert_close(&got.as_f32(), &want, 0.0, &format!("maxpool {case:?}"));
        for include in [false, true] {
            let op = Op::AveragePool {
                window: case.win,
                ceil_mode: case.ceil,
                count_include_pad: include,
            };
            let got = run(&op, &[&xt], f32_out(&case.out_shape())).unwrap();
            let want: Vec<f32> = windows
                .iter()
                .map(|(cells, padded)| {
                    let div = if include { *padded } else { cells.len() };
                    cells.iter().map(|&i| x[i]).sum::<f32>() / div as f32
                })
                .collect();
            assert_close(
                &got.as_f32(),
                &want,
                1e-6,
                &format!("avgpool include_pad={include} {case:?}"),
            );
        }
    }
}

#[test]
fn max_and_average_i8_match_naive_and_f32() {
    let mut rng = Rng::new(31);
    for (ci, case) in cases().iter().enumerate() {
        let x = rng.i8s(case.shape.iter().product());
        let (sx, zx) = (0.05f32, rng.range(-10, 10) as i32);
        let xt = Tensor::i8(&case.shape, &x, Quant::per_tensor(sx, zx));
        let xf = dequantize(&x, sx, zx);
        let windows = case.windows();
        let out = case.out_shape();
        // Max, same and different output quantization.
        for (sy, zy) in [(sx, zx), (0.04f32, 3)] {
            let op = Op::MaxPool {
                window: case.win,
                ceil_mode: case.ceil,
            };
            let got = run(&op, &[&xt], i8_out(&out, sy, zy)).unwrap().as_i8();
            let want: Vec<i8> = windows
                .iter()
                .map(|(cells, _)| {
                    let m = cells.iter().map(|&i| x[i]).max().unwrap();
                    if (sy, zy) == (sx, zx) {
                        m
                    } else {
                        quant::requantize_i8(m as i32 - zx, sx / sy, zy)
                    }
                })
                .collect();
            assert_eq!(got, want, "int8 maxpool {case:?}");
            let fmax: Vec<f32> = windows
                .iter()
                .map(|(cells, _)| cells.iter().map(|&i| xf[i]).fold(f32::MIN, f32::max))
                .collect();
            for (g, e) in got.iter().zip(quantize(&fmax, sy, zy)) {
                assert!((*g as i32 - e as i32).abs() <= 1);
            }
        }
        for include in [false, true] {
            let (sy, zy) = (0.03f32 + ci as f32 * 0.001, -5);
            let op = Op::AveragePool {
                window: case.win,
                ceil_mode: case.ceil,
                count_include_pad: include,
            };
            let got = run(&op, &[&xt], i8_out(&out, sy, zy)).unwrap().as_i8();
            let mut fav = Vec::new();
            let want: Vec<i8> = windows
                .iter()
                .map(|(cells, padded)| {
                    let div = if include { *padded } else { cells.len() };
                    let s: i32 = cells.iter().map(|&i| x[i] as i32 - zx).sum();
                    fav.push(cells.iter().map(|&i| xf[i]).sum::<f32>() / div as f32);
                    quant::requantize_i8(s, sx / (div as f32 * sy), zy)
                })
                .collect();
            assert_eq!(got, want, "int8 avgpool include_pad={include} {case:?}");
            for (g, e) in got.iter().zip(quantize(&fav, sy, zy)) {
                assert!((*g as i32 - e as i32).abs() <= 1);
            }
        }
    }
}

#[test]
fn global_pools_match_naive() {
    let mut rng = Rng::new(32);
    for shape in [[1, 3, 5, 7], [2, 4, 1, 1], [1, 2, 16, 16]] {
        let [n, c, h, w] = shape;
        let plane = h * w;
        let x = rng.f32s(n * c * plane, -3.0, 3.0);
        let xt = Tensor::f32(&shape, &x);
        let got_avg = run(&Op::GlobalAveragePool, &[&xt], f32_out(&[n, c, 1, 1]))
            .unwrap()
            .as_f32();
        let got_max = run(&Op::GlobalMaxPool, &[&xt], f32_out(&[n, c, 1, 1]))
            .unwrap()
            .as_f32();
        let want_avg: Vec<f32> = x
            .chunks(plane)
            .map(|p| p.iter().sum::<f32>() / plane as f32)
            .collect();
        let want_max: Vec<f32> = x
            .chunks(plane)
            .map(|p| p.iter().cloned().fold(f32::MIN, f32::max))
            .collect();
        assert_close(&got_avg, &want_avg, 1e-6, "global average");
        assert_close(&got_max, &want_max, 0.0, "global max");

        let xi = rng.i8s(n * c * plane);
        let (sx, zx, sy, zy) = (0.1f32, 7, 0.02f32, -1);
        let xit = Tensor::i8(&shape, &xi, Quant::per_tensor(sx, zx));
        let avg = run(
            &Op::GlobalAveragePool,
            &[&xit],
            i8_out(&[n, c, 1, 1], sy, zy),
        )
        .unwrap()
        .as_i8();
        let max = run(&Op::GlobalMaxPool, &[&xit], i8_out(&[n, c, 1, 1], sx, zx))
            .unwrap()
            .as_i8();
        for (i, p) in xi.chunks(plane).enumerate() {
            let s: i32 = p.iter().map(|&v| v as i32 - zx).sum();
            assert_eq!(
                avg[i],
                quant::requantize_i8(s, sx / (plane as f32 * sy), zy)
            );
            assert_eq!(max[i], *p.iter().max().unwrap());
        }
    }
}

#[test]
fn pool_rejects_bad_shapes_and_types() {
    let op = Op::MaxPool {
        window: Window {
            kernel: [2, 2],
            stride: [2, 2],
            pads: [0; 4],
            dilation: [1, 1],
        },
        ceil_mode: false,
    };
    let x = Tensor::f32(&[1, 1, 4, 4], &[0.0; 16]);
    assert!(run(&op, &[&x], f32_out(&[1, 1, 3, 3])).is_err());
    let xi = Tensor::i32(&[1, 1, 4, 4], &[0; 16]);
    assert!(run(&op, &[&xi], f32_out(&[1, 1, 2, 2])).is_err());
    let x3 = Tensor::f32(&[1, 4, 4], &[0.0; 16]);
    assert!(run(&op, &[&x3], f32_out(&[1, 2, 2])).is_err());
    let big = Op::MaxPool {
        window: Window {
            kernel: [5, 5],
            stride: [1, 1],
            pads: [0; 4],
            dilation: [1, 1],
        },
        ceil_mode: false,
    };
    assert!(run(&big, &[&x], f32_out(&[1, 1, 1, 1])).is_err());
}

#[test]
fn random_geometries_match_naive() {
    let mut rng = Rng::new(33);
    let mut done = 0;
    while done < 80 {
        let kernel = [rng.range(1, 4) as usize, rng.range(1, 4) as usize];
        let win = Window {
            kernel,
            stride: [rng.range(1, 3) as usize, rng.range(1, 3) as usize],
            pads: [0, 1, 0, 1].map(|a| rng.range(0, kernel[a] as i64 - 1) as usize),
            dilation: [rng.range(1, 2) as usize, rng.range(1, 2) as usize],
        };
        let shape = [
            1,
            rng.range(1, 3) as usize,
            rng.range(1, 9) as usize,
            rng.range(1, 9) as usize,
        ];
        let ceil = rng.range(0, 1) == 1;
        if win.out_len(0, shape[2], ceil).is_none() || win.out_len(1, shape[3], ceil).is_none() {
            continue;
        }
        done += 1;
        let case = Case { shape, win, ceil };
        let x = rng.f32s(shape.iter().product(), -1.0, 1.0);
        let xt = Tensor::f32(&shape, &x);
        let include = rng.range(0, 1) == 1;
        let op = Op::AveragePool {
            window: win,
            ceil_mode: ceil,
            count_include_pad: include,
        };
        let got = run(&op, &[&xt], f32_out(&case.out_shape()))
            .unwrap()
            .as_f32();
        let want: Vec<f32> = case
            .windows()
            .iter()
            .map(|(cells, padded)| {
                let div = if include { *padded } else { cells.len() };
                if div == 0 {
                    0.0
                } else {
                    cells.iter().map(|&i| x[i]).sum::<f32>() / div as f32
                }
            })
            .collect();
        assert_close(
            &got,
            &want,
            1e-6,
            &format!("avgpool include_pad={include} {case:?}"),
        );
        let op = Op::MaxPool {
            window: win,
            ceil_mode: ceil,
        };
        let got = run(&op, &[&xt], f32_out(&case.out_shape()))
            .unwrap()
            .as_f32();
        let want: Vec<f32> = case
            .windows()
            .iter()
            .map(|(cells, _)| {
                if cells.is_empty() {
                    0.0
                } else {
                    cells.iter().map(|&i| x[i]).fold(f32::MIN, f32::max)
                }
            })
            .collect();
        assert_close(&got, &want, 0.0, &format!("maxpool {case:?}"));
    }
}
