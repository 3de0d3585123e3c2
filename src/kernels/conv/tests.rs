//! Conv and ConvTranspose: optimized kernels against naive references.

use crate::graph::{Activation, Op, Quant, Window};
use crate::kernels::quant;
use crate::kernels::testutil::{
    assert_close, dequantize, f32_out, i8_out, quantize, run, Rng, Tensor,
};

/// One convolution problem.
#[derive(Clone, Copy, Debug)]
struct Case {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    m: usize,
    group: usize,
    win: Window,
}

fn case(
    (n, c, h, w): (usize, usize, usize, usize),
    m: usize,
    group: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    pads: [usize; 4],
    dilation: [usize; 2],
) -> Case {
    Case {
        n,
        c,
        h,
        w,
        m,
        group,
        win: Window {
            kernel,
            stride,
            pads,
            dilation,
        },
    }
}

fn conv_cases() -> Vec<Case> {
    vec![
        case((1, 3, 5, 7), 4, 1, [1, 1], [1, 1], [0; 4], [1, 1]),
        case((2, 4, 6, 5), 3, 1, [1, 1], [2, 2], [0; 4], [1, 1]),
        case((1, 3, 8, 9), 5, 1, [3, 3], [1, 1], [1; 4], [1, 1]),
        case((2, 5, 9, 7), 6, 1, [3, 2], [2, 2], [0, 1, 2, 1], [1, 1]),
        case((1, 2, 10, 11), 3, 1, [3, 3], [1, 1], [2; 4], [2, 2]),
        case((1, 6, 7, 7), 9, 3, [3, 3], [1, 2], [1, 0, 1, 1], [1, 1]),
        case((2, 8, 9, 10), 8, 8, [3, 3], [1, 1], [1; 4], [1, 1]),
        case((1, 5, 11, 9), 5, 5, [5, 3], [2, 2], [2, 1, 2, 0], [1, 2]),
        case((1, 4, 6, 6), 8, 4, [3, 3], [1, 1], [1; 4], [1, 1]),
        case((1, 64, 30, 30), 8, 1, [3, 3], [1, 1], [1; 4], [1, 1]),
        case((1, 3, 1, 13), 2, 1, [1, 5], [1, 3], [0, 2, 0, 2], [1, 1]),
        case((1, 3, 4, 4), 2, 1, [1, 1], [1, 1], [1, 0, 0, 1], [1, 1]),
    ]
}

const ACTS: &[Option<Activation>] = &[
    None,
    Some(Activation::Relu),
    Some(Activation::Relu6),
    Some(Activation::Clip {
        min: -0.5,
        max: 0.75,
    }),
    Some(Activation::LeakyRelu { alpha: 0.1 }),
    Some(Activation::Sigmoid),
    Some(Activation::HardSwish),
];

impl Case {
    fn cg(&self) -> usize {
        self.c / self.group
    }
    fn conv_out(&self) -> (usize, usize) {
        let span = |k: usize, d: usize| (k - 1) * d + 1;
        let p = &self.win.pads;
        let oh = (self.h + p[0] + p[2] - span(self.win.kernel[0], self.win.dilation[0]))
            / self.win.stride[0]
            + 1;
        let ow = (self.w + p[1] + p[3] - span(self.win.kernel[1], self.win.dilation[1]))
            / self.win.stride[1]
            + 1;
        (oh, ow)
    }
    fn w_len(&self) -> usize {
        self.m * self.cg() * self.win.kernel[0] * self.win.kernel[1]
    }
    fn x_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }
    fn w_shape(&self) -> [usize; 4] {
        [self.m, self.cg(), self.win.kernel[0], self.win.kernel[1]]
    }
    fn y_shape(&self) -> [usize; 4] {
        let (oh, ow) = self.conv_out();
        [self.n, self.m, oh, ow]
    }

    /// Visits every (output index, input index, weight index) product of
    /// the convolution, straight from the definition.
    fn for_each_tap(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (oh, ow) = self.conv_out();
        let (cg, mg) = (self.cg(), self.m / self.group);
        let [kh, kw] = self.win.kernel;
        for n in 0..self.n {
            for m in 0..self.m {
                let g = m / mg;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let yi = ((n * self.m + m) * oh + oy) * ow + ox;
                        for ci in 0..cg {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let iy = (oy * self.win.stride[0] + ki * self.win.dilation[0])
                                        as isize
                                        - self.win.pads[0] as isize;
                                    let ix = (ox * self.win.stride[1] + kj * self.win.dilation[1])
                                        as isize
                                        - self.win.pads[1] as isize;
                                    if iy < 0
                                        || ix < 0
                                        || iy >= self.h as isize
                                        || ix >= self.w as isize
                                    {
                                        continue;
                                    }
                                    let xi = ((n * self.c + g * cg + ci) * self.h + iy as usize)
                                        * self.w
                                        + ix as usize;
                                    let wi = ((m * cg + ci) * kh + ki) * kw + kj;
                                    f(yi, xi, wi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn naive_f32(&self, x: &[f32], w: &[f32], b: &[f32], act: Option<Activation>) -> Vec<f32> {
        let y_shape = self.y_shape();
        let plane = y_shape[2] * y_shape[3];
        let mut y: Vec<f32> = (0..y_shape.iter().product())
            .map(|i| b[(i / plane) % self.m])
            .collect();
        self.for_each_tap(|yi, xi, wi| y[yi] += x[xi] * w[wi]);
        y.iter().map(|&v| act.map_or(v, |a| a.apply(v))).collect()
    }

    fn op(&self, act: Option<Activation>) -> Op {
        Op::Conv {
            window: self.win,
            group: self.group,
            activation: act,
        }
    }
}

/// The int8 output of accumulator `acc` (real value `acc * acc_scale`),
/// following the documented semantics directly.
fn naive_requant(acc: i32, acc_scale: f32, (sy, zy): (f32, i32), act: Option<Activation>) -> i8 {
    let q = quant::requantize_i8(acc, acc_scale / sy, zy) as i32;
    let quant_of = |v: f32| (quant::round(v / sy) as i32 + zy).clamp(-128, 127);
    match act {
        None => q as i8,
        Some(Activation::Relu) => q.max(zy) as i8,
        Some(Activation::Relu6) => q.clamp(zy, quant_of(6.0)) as i8,
        Some(Activation::Clip { min, max }) => q.clamp(quant_of(min), quant_of(max)) as i8,
        Some(a) => quant::quantize_i8(a.apply(acc as f32 * acc_scale), 1.0 / sy, zy),
    }
}

/// Output quantization covering `data`.
fn out_quant(data: &[f32]) -> (f32, i32) {
    let lo = data.iter().cloned().fold(0f32, f32::min);
    let hi = data.iter().cloned().fold(0f32, f32::max);
    let s = ((hi - lo) / 255.0).max(1e-6);
    (s, (-128.0 - lo / s).round().clamp(-128.0, 127.0) as i32)
}

#[test]
fn conv_f32_matches_naive() {
    let mut rng = Rng::new(20);
    for (i, c) in conv_cases().iter().enumerate() {
        let act = ACTS[i % ACTS.len()];
        let x = rng.f32s(c.x_shape().iter().product(), -1.0, 1.0);
        let w = rng.f32s(c.w_len(), -1.0, 1.0);
        let b = rng.f32s(c.m, -1.0, 1.0);
        let want = c.naive_f32(&x, &w, &b, act);
        let got = run(
            &c.op(act),
            &[
                &Tensor::f32(&c.x_shape(), &x),
                &Tensor::f32(&c.w_shape(), &w),
                &Tensor::f32(&[c.m], &b),
            ],
            f32_out(&c.y_shape()),
        )
        .unwrap();
        assert_close(&got.as_f32(), &want, 1e-5, &format!("conv {c:?}"));
        // Without bias.
        let zeros = vec![0.0; c.m];
        let want = c.naive_f32(&x, &w, &zeros, None);
        let got = run(
            &c.op(None),
            &[
                &Tensor::f32(&c.x_shape(), &x),
                &Tensor::f32(&c.w_shape(), &w),
            ],
            f32_out(&c.y_shape()),
        )
        .unwrap();
        assert_close(&got.as_f32(), &want, 1e-5, &format!("conv no bias {c:?}"));
    }
}

#[test]
fn conv_i8_matches_naive_and_f32() {
    let mut rng = Rng::new(21);
    for (i, c) in conv_cases().iter().enumerate() {
        let act = ACTS[(i + 1) % ACTS.len()];
        let per_channel = i % 2 == 0;
        let (sx, zx) = (0.02f32, rng.range(-20, 20) as i32);
        let sw: Vec<f32> = if per_channel {
            (0..c.m).map(|_| rng.f32(0.002, 0.02)).collect()
        } else {
            vec![0.01; c.m]
        };
        let zw = if per_channel {
            0
        } else {
            rng.range(-5, 5) as i32
        };
        let x = rng.i8s(c.x_shape().iter().product());
        let w = rng.i8s(c.w_len());
        let bias = rng.i32s(c.m, -3000, 3000);
        let wq = if per_channel {
            Quant::per_channel(sw.clone(), vec![0; c.m], 0)
        } else {
            Quant::per_tensor(sw[0], zw)
        };
        // f32 reference on the dequantized operands.
        let xf = dequantize(&x, sx, zx);
        let per_w = c.w_len() / c.m;
        let wf: Vec<f32> = w
            .iter()
            .enumerate()
            .map(|(j, &q)| (q as i32 - zw) as f32 * sw[j / per_w])
            .collect();
        let bf: Vec<f32> = (0..c.m).map(|m| bias[m] as f32 * sx * sw[m]).collect();
        let yf = c.naive_f32(&xf, &wf, &bf, act);
        let (sy, zy) = out_quant(&yf);
        // Exact integer reference.
        let y_shape = c.y_shape();
        let plane = y_shape[2] * y_shape[3];
        let mut acc: Vec<i32> = (0..yf.len()).map(|j| bias[(j / plane) % c.m]).collect();
        c.for_each_tap(|yi, xi, wi| acc[yi] += (x[xi] as i32 - zx) * (w[wi] as i32 - zw));
        let want: Vec<i8> = acc
            .iter()
            .enumerate()
            .map(|(j, &a)| naive_requant(a, sx * sw[(j / plane) % c.m], (sy, zy), act))
            .collect();
        let got = run(
            &c.op(act),
            &[
                &Tensor::i8(&c.x_shape(), &x, Quant::per_tensor(sx, zx)),
                &Tensor::i8(&c.w_shape(), &w, wq),
                &Tensor::i32(&[c.m], &bias),
            ],
            i8_out(&y_shape, sy, zy),
        )
        .unwrap()
        .as_i8();
        assert_eq!(got, want, "int8 conv {c:?} {act:?}");
        let expect = quantize(&yf, sy, zy);
        for (g, e) in got.iter().zip(&expect) {
            assert!(
                (*g as i32 - *e as i32).abs() <= 1,
                "int8 vs f32 {c:?}: {g} vs {e}"
            );
        }
    }
}

#[test]
fn conv_rejects_bad_inputs() {
    let c = conv_cases()[2];
    let x = Tensor::f32(&c.x_shape(), &vec![0.0; c.x_shape().iter().product()]);
    let w = Tensor::f32(&c.w_shape(), &vec![0.0; c.w_len()]);
    let mut wrong = c.y_shape();
    wrong[3] += 1;
    assert!(run(&c.op(None), &[&x, &w], f32_out(&wrong)).is_err());
    let bad_bias = Tensor::f32(&[c.m + 1], &vec![0.0; c.m + 1]);
    assert!(run(&c.op(None), &[&x, &w, &bad_bias], f32_out(&c.y_shape())).is_err());
    let bad_group = Op::Conv {
        window: c.win,
        group: 2,
        activation: None,
    };
    assert!(run(&bad_group, &[&x, &w], f32_out(&c.y_shape())).is_err());
    // int8 input without quantization parameters.
    let mut xi = Tensor::i8(
        &c.x_shape(),
        &vec![0; c.x_shape().iter().product()],
        Quant::per_tensor(1.0, 0),
    );
    xi.info.quant = None;
    let wi = Tensor::i8(&c.w_shape(), &vec![0; c.w_len()], Quant::per_tensor(1.0, 0));
    assert!(run(&c.op(None), &[&xi, &wi], i8_out(&c.y_shape(), 1.0, 0)).is_err());
}

/// A ConvTranspose problem: `c` is the input channels, `mg` output
/// channels per group.
#[derive(Clone, Copy, Debug)]
struct TCase {
    base: Case,
    mg: usize,
    out_pad: [usize; 2],
}

impl TCase {
    fn y_shape(&self) -> [usize; 4] {
        let b = &self.base;
        let len = |i: usize, axis: usize| {
            b.win.stride[axis] * (i - 1)
                + self.out_pad[axis]
                + (b.win.kernel[axis] - 1) * b.win.dilation[axis]
                + 1
                - b.win.pads[axis]
                - b.win.pads[axis + 2]
        };
        [b.n, self.mg * b.group, len(b.h, 0), len(b.w, 1)]
    }
    fn w_shape(&self) -> [usize; 4] {
        [
            self.base.c,
            self.mg,
            self.base.win.kernel[0],
            self.base.win.kernel[1],
        ]
    }
    fn op(&self, act: Option<Activation>) -> Op {
        Op::ConvTranspose {
            window: self.base.win,
            group: self.base.group,
            output_padding: self.out_pad,
            activation: act,
        }
    }
    fn for_each_tap(&self, mut f: impl FnMut(usize, usize, usize)) {
        let b = &self.base;
        let y = self.y_shape();
        let cg = b.c / b.group;
        let [kh, kw] = b.win.kernel;
        for n in 0..b.n {
            for c in 0..b.c {
                let g = c / cg;
                for iy in 0..b.h {
                    for ix in 0..b.w {
                        for j in 0..self.mg {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let oy = (iy * b.win.stride[0] + ki * b.win.dilation[0])
                                        as isize
                                        - b.win.pads[0] as isize;
                                    let ox = (ix * b.win.stride[1] + kj * b.win.dilation[1])
                                        as isize
                                        - b.win.pads[1] as isize;
                                    if oy < 0
                                        || ox < 0
                                        || oy >= y[2] as isize
                                        || ox >= y[3] as isize
                                    {
                                        continue;
                                    }
                                    let m = g * self.mg + j;
                                    let yi =
                                        ((n * y[1] + m) * y[2] + oy as usize) * y[3] + ox as usize;
                                    let xi = ((n * b.c + c) * b.h + iy) * b.w + ix;
                                    let wi = ((c * self.mg + j) * kh + ki) * kw + kj;
                                    f(yi, xi, wi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn tcases() -> Vec<TCase> {
    vec![
        TCase {
            base: case((1, 3, 4, 5), 0, 1, [3, 3], [2, 2], [1; 4], [1, 1]),
            mg: 2,
            out_pad: [1, 1],
        },
        TCase {
            base: case((2, 4, 3, 3), 0, 2, [2, 3], [1, 2], [0, 1, 1, 0], [2, 1]),
            mg: 3,
            out_pad: [0, 1],
        },
        TCase {
            base: case((1, 2, 5, 4), 0, 1, [4, 4], [2, 2], [1; 4], [1, 1]),
            mg: 1,
            out_pad: [0, 0],
        },
        TCase {
            base: case((1, 5, 3, 4), 0, 1, [1, 1], [1, 1], [0; 4], [1, 1]),
            mg: 4,
            out_pad: [0, 0],
        },
        TCase {
            base: case((1, 6, 40, 40), 0, 3, [3, 3], [2, 2], [1, 1, 0, 0], [1, 1]),
            mg: 2,
            out_pad: [1, 0],
        },
    ]
}

#[test]
fn conv_transpose_f32_matches_naive() {
    let mut rng = Rng::new(22);
    for (i, t) in tcases().iter().enumerate() {
        let act = ACTS[i % ACTS.len()];
        let b = &t.base;
        let m = t.mg * b.group;
        let x = rng.f32s(b.x_shape().iter().product(), -1.0, 1.0);
        let w = rng.f32s(t.w_shape().iter().product(), -1.0, 1.0);
        let bias = rng.f32s(m, -1.0, 1.0);
        let y_shape = t.y_shape();
        let plane = y_shape[2] * y_shape[3];
        let mut want: Vec<f32> = (0..y_shape.iter().product())
            .map(|j| bias[(j / plane) % m])
            .collect();
        t.for_each_tap(|yi, xi, wi| want[yi] += x[xi] * w[wi]);
        let want: Vec<f32> = want
            .iter()
            .map(|&v| act.map_or(v, |a| a.apply(v)))
            .collect();
        let got = run(
            &t.op(act),
            &[
                &Tensor::f32(&b.x_shape(), &x),
                &Tensor::f32(&t.w_shape(), &w),
                &Tensor::f32(&[m], &bias),
            ],
            f32_out(&y_shape),
        )
        .unwrap();
        assert_close(&got.as_f32(), &want, 1e-5, &format!("conv transpose {t:?}"));
    }
}

#[test]
fn conv_transpose_i8_matches_naive_and_f32() {
    let mut rng = Rng::new(23);
    for (i, t) in tcases().iter().enumerate() {
        let act = ACTS[(i + 2) % ACTS.len()];
        let b = &t.base;
        let m = t.mg * b.group;
        let per_channel = i % 2 == 1;
        let (sx, zx) = (0.03f32, rng.range(-30, 30) as i32);
        let sw: Vec<f32> = if per_channel {
            (0..t.mg).map(|_| rng.f32(0.002, 0.02)).collect()
        } else {
            vec![0.01; t.mg]
        };
        let zw = if per_channel {
            0
        } else {
            rng.range(-5, 5) as i32
        };
        let wq = if per_channel {
            Quant::per_channel(sw.clone(), vec![0; t.mg], 1)
        } else {
            Quant::per_tensor(sw[0], zw)
        };
        let x = rng.i8s(b.x_shape().iter().product());
        let w = rng.i8s(t.w_shape().iter().product());
        let bias = rng.i32s(m, -2000, 2000);
        let y_shape = t.y_shape();
        let plane = y_shape[2] * y_shape[3];
        let kk = b.win.kernel[0] * b.win.kernel[1];
        let w_ch = |wi: usize| (wi / kk) % t.mg;
        let mut yf: Vec<f32> = (0..y_shape.iter().product())
            .map(|j| {
                let mm = (j / plane) % m;
                bias[mm] as f32 * sx * sw[mm % t.mg]
            })
            .collect();
        let mut acc: Vec<i32> = (0..yf.len()).map(|j| bias[(j / plane) % m]).collect();
        t.for_each_tap(|yi, xi, wi| {
            let (xv, wv) = (x[xi] as i32 - zx, w[wi] as i32 - zw);
            acc[yi] += xv * wv;
            yf[yi] += xv as f32 * sx * wv as f32 * sw[w_ch(wi)];
        });
        let yf: Vec<f32> = yf.iter().map(|&v| act.map_or(v, |a| a.apply(v))).collect();
        let (sy, zy) = out_quant(&yf);
        let want: Vec<i8> = acc
            .iter()
            .enumerate()
            .map(|(j, &a)| naive_requant(a, sx * sw[((j / plane) % m) % t.mg], (sy, zy), act))
            .collect();
        let got = run(
            &t.op(act),
            &[
                &Tensor::i8(&b.x_shape(), &x, Quant::per_tensor(sx, zx)),
                &Tensor::i8(&t.w_shape(), &w, wq),
                &Tensor::i32(&[m], &bias),
            ],
            i8_out(&y_shape, sy, zy),
        )
        .unwrap()
        .as_i8();
        assert_eq!(got, want, "int8 conv transpose {t:?}");
        let expect = quantize(&yf, sy, zy);
        for (g, e) in got.iter().zip(&expect) {
            assert!(
                (*g as i32 - *e as i32).abs() <= 1,
                "int8 vs f32 {t:?}: {g} vs {e}"
            );
        }
    }
}

#[test]
fn conv_f16_runs_through_f32_kernel() {
    let mut rng = Rng::new(24);
    let c = conv_cases()[3];
    let round =
        |v: Vec<f32>| -> Vec<f32> { v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect() };
    let x = round(rng.f32s(c.x_shape().iter().product(), -1.0, 1.0));
    let w = round(rng.f32s(c.w_len(), -1.0, 1.0));
    let b = round(rng.f32s(c.m, -1.0, 1.0));
    let act = Some(Activation::Relu);
    let want = c.naive_f32(&x, &w, &b, act);
    let mut out = f32_out(&c.y_shape());
    out.dtype = crate::graph::DType::F16;
    let got = run(
        &c.op(act),
        &[
            &Tensor::f16(&c.x_shape(), &x),
            &Tensor::f16(&c.w_shape(), &w),
            &Tensor::f16(&[c.m], &b),
        ],
        out,
    )
    .unwrap();
    // One fp16 rounding of the f32 result.
    assert_close(&got.f16_as_f32(), &want, 1e-3, "fp16 conv");
}

/// Random small geometries (odd sizes, strides, dilations, groups,
/// asymmetric pads) whose window fits the padded input.
fn random_cases(rng: &mut Rng, count: usize) -> Vec<Case> {
    let mut out = Vec::new();
    while out.len() < count {
        let group = rng.range(1, 3) as usize;
        let cg = rng.range(1, 4) as usize;
        let mg = rng.range(1, 4) as usize;
        let depthwise = rng.range(0, 3) == 0;
        let (c, m, group) = if depthwise {
            (group * 2, group * 2, group * 2)
        } else {
            (cg * group, mg * group, group)
        };
        let kernel = [rng.range(1, 4) as usize, rng.range(1, 4) as usize];
        let pads = [0, 1, 0, 1].map(|a| rng.range(0, kernel[a] as i64 - 1) as usize);
        let win = Window {
            kernel,
            stride: [rng.range(1, 3) as usize, rng.range(1, 3) as usize],
            pads,
            dilation: [rng.range(1, 2) as usize, rng.range(1, 2) as usize],
        };
        let (h, w) = (rng.range(1, 9) as usize, rng.range(1, 9) as usize);
        if win.out_len(0, h, false).is_none() || win.out_len(1, w, false).is_none() {
            continue;
        }
        out.push(Case {
            n: rng.range(1, 2) as usize,
            c,
            h,
            w,
            m,
            group,
            win,
        });
    }
    out
}

#[test]
fn conv_random_geometries_match_naive() {
    let mut rng = Rng::new(25);
    for c in random_cases(&mut rng, 60) {
        let x = rng.f32s(c.x_shape().iter().product(), -1.0, 1.0);
        let w = rng.f32s(c.w_len(), -1.0, 1.0);
        let b = rng.f32s(c.m, -1.0, 1.0);
        let got = run(
            &c.op(None),
            &[
                &Tensor::f32(&c.x_shape(), &x),
                &Tensor::f32(&c.w_shape(), &w),
                &Tensor::f32(&[c.m], &b),
            ],
            f32_out(&c.y_shape()),
        )
        .unwrap();
        assert_close(
            &got.as_f32(),
            &c.naive_f32(&x, &w, &b, None),
            1e-5,
            &format!("conv {c:?}"),
        );

        let (sx, zx, sw, sy, zy) = (
            0.05f32,
            rng.range(-50, 50) as i32,
            0.01f32,
            0.03f32,
            rng.range(-10, 10) as i32,
        );
        let xq = rng.i8s(x.len());
        let wq = rng.i8s(w.len());
        let mut acc = vec![0i32; got.as_f32().len()];
        c.for_each_tap(|yi, xi, wi| acc[yi] += (xq[xi] as i32 - zx) * wq[wi] as i32);
        let want: Vec<i8> = acc
            .iter()
            .map(|&a| quant::requantize_i8(a, sx * sw / sy, zy))
            .collect();
        let got = run(
            &c.op(None),
            &[
                &Tensor::i8(&c.x_shape(), &xq, Quant::per_tensor(sx, zx)),
                &Tensor::i8(&c.w_shape(), &wq, Quant::per_tensor(sw, 0)),
            ],
            i8_out(&c.y_shape(), sy, zy),
        )
        .unwrap()
        .as_i8();
        assert_eq!(got, want, "int8 conv {c:?}");
    }
}
