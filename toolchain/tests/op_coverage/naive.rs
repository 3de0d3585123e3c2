//! Naive reference computations, written from the ONNX definitions and
//! independent of the runtime's kernels: plain loops over row-major
//! tensors, f64 accumulation.

/// A dense row-major float tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct T {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

impl T {
    pub fn new(shape: &[usize], data: Vec<f32>) -> T {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "{shape:?}");
        T {
            shape: shape.to_vec(),
            data,
        }
    }

    pub fn zeros(shape: &[usize]) -> T {
        T::new(shape, vec![0.0; shape.iter().product()])
    }

    fn offset(&self, idx: &[usize]) -> usize {
        idx.iter()
            .zip(&self.shape)
            .fold(0, |acc, (&i, &d)| acc * d + i)
    }

    pub fn at(&self, idx: &[usize]) -> f32 {
        self.data[self.offset(idx)]
    }

    pub fn set(&mut self, idx: &[usize], v: f32) {
        let o = self.offset(idx);
        self.data[o] = v;
    }

    pub fn map(&self, f: impl Fn(f32) -> f32) -> T {
        T::new(&self.shape, self.data.iter().map(|&v| f(v)).collect())
    }
}

/// The multi-index of flat position `i` in `shape`.
pub fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        idx[k] = i % d;
        i /= d;
    }
    idx
}

/// Convolution geometry.
#[derive(Clone, Copy, Debug)]
pub struct Geo {
    pub stride: [usize; 2],
    pub pads: [usize; 4],
    pub dilation: [usize; 2],
    pub group: usize,
}

pub fn conv(x: &T, w: &T, b: Option<&[f32]>, g: Geo) -> T {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let (m, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
    assert_eq!(c, cg * g.group);
    let oh = (h + g.pads[0] + g.pads[2] - g.dilation[0] * (kh - 1) - 1) / g.stride[0] + 1;
    let ow = (wd + g.pads[1] + g.pads[3] - g.dilation[1] * (kw - 1) - 1) / g.stride[1] + 1;
    let mg = m / g.group;
    let mut y = T::zeros(&[n, m, oh, ow]);
    for ni in 0..n {
        for mi in 0..m {
            let grp = mi / mg;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b.map_or(0.0, |b| b[mi] as f64);
                    for ci in 0..cg {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize
                                    - g.pads[0] as isize;
                                let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize
                                    - g.pads[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xv = x.at(&[ni, grp * cg + ci, iy as usize, ix as usize]);
                                acc += xv as f64 * w.at(&[mi, ci, ky, kx]) as f64;
                            }
                        }
                    }
                    y.set(&[ni, mi, oy, ox], acc as f32);
                }
            }
        }
    }
    y
}

/// Transposed convolution: every input pixel scatters its weighted kernel.
pub fn conv_transpose(x: &T, w: &T, b: Option<&[f32]>, g: Geo, out_pad: [usize; 2]) -> T {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let (mg, kh, kw) = (w.shape[1], w.shape[2], w.shape[3]);
    let m = mg * g.group;
    let cg = c / g.group;
    let full_h = (h - 1) * g.stride[0] + g.dilation[0] * (kh - 1) + 1 + out_pad[0];
    let full_w = (wd - 1) * g.stride[1] + g.dilation[1] * (kw - 1) + 1 + out_pad[1];
    let oh = full_h - g.pads[0] - g.pads[2];
    let ow = full_w - g.pads[1] - g.pads[3];
    let mut acc = vec![0f64; n * m * oh * ow];
    for ni in 0..n {
        for ci in 0..c {
            let grp = ci / cg;
            for iy in 0..h {
                for ix in 0..wd {
                    let xv = x.at(&[ni, ci, iy, ix]) as f64;
                    for mj in 0..mg {
                        let mi = grp * mg + mj;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let oy = (iy * g.stride[0] + ky * g.dilation[0]) as isize
                                    - g.pads[0] as isize;
                                let ox = (ix * g.stride[1] + kx * g.dilation[1]) as isize
                                    - g.pads[1] as isize;
                                if oy < 0 || ox < 0 || oy >= oh as isize || ox >= ow as isize {
                                    continue;
                                }
                                let o = ((ni * m + mi) * oh + oy as usize) * ow + ox as usize;
                                acc[o] += xv * w.at(&[ci, mj, ky, kx]) as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    let plane = oh * ow;
    let data = acc
        .iter()
        .enumerate()
        .map(|(i, &v)| (v + b.map_or(0.0, |b| b[(i / plane) % m] as f64)) as f32)
        .collect();
    T::new(&[n, m, oh, ow], data)
}

/// alpha * op(a) * op(b) + beta * c (c of N values or absent).
pub fn gemm(
    a: &T,
    b: &T,
    c: Option<&[f32]>,
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
) -> T {
    let (m, k) = if trans_a {
        (a.shape[1], a.shape[0])
    } else {
        (a.shape[0], a.shape[1])
    };
    let n = if trans_b { b.shape[0] } else { b.shape[1] };
    let mut y = T::zeros(&[m, n]);
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0f64;
            for p in 0..k {
                let av = if trans_a {
                    a.at(&[p, i])
                } else {
                    a.at(&[i, p])
                };
                let bv = if trans_b {
                    b.at(&[j, p])
                } else {
                    b.at(&[p, j])
                };
                acc += av as f64 * bv as f64;
            }
            let cv = c.map_or(0.0, |c| c[j] as f64);
            y.set(&[i, j], (alpha as f64 * acc + beta as f64 * cv) as f32);
        }
    }
    y
}

/// Batched matmul: a [B, M, K] times b [B, K, N] or b [K, N].
pub fn matmul(a: &T, b: &T) -> T {
    let (bt, m, k) = (a.shape[0], a.shape[1], a.shape[2]);
    let n = *b.shape.last().unwrap();
    let mut y = T::zeros(&[bt, m, n]);
    for bi in 0..bt {
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0f64;
                for p in 0..k {
                    let bv = if b.shape.len() == 3 {
                        b.at(&[bi, p, j])
                    } else {
                        b.at(&[p, j])
                    };
                    acc += a.at(&[bi, i, p]) as f64 * bv as f64;
                }
                y.set(&[bi, i, j], acc as f32);
            }
        }
    }
    y
}

/// numpy broadcasting of two shapes.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
    let r = a.len().max(b.len());
    (0..r)
        .map(|i| {
            let da = if i + a.len() >= r {
                a[i + a.len() - r]
            } else {
                1
            };
            let db = if i + b.len() >= r {
                b[i + b.len() - r]
            } else {
                1
            };
            assert!(da == db || da == 1 || db == 1, "{a:?} vs {b:?}");
            da.max(db)
        })
        .collect()
}

/// Element of `t` read at output index `idx` under broadcasting.
fn bcast_at(t: &T, idx: &[usize]) -> f32 {
    let skip = idx.len() - t.shape.len();
    let i: Vec<usize> = t
        .shape
        .iter()
        .enumerate()
        .map(|(k, &d)| if d == 1 { 0 } else { idx[skip + k] })
        .collect();
    t.at(&i)
}

pub fn binary(a: &T, b: &T, f: impl Fn(f32, f32) -> f32) -> T {
    let shape = broadcast_shape(&a.shape, &b.shape);
    let n = shape.iter().product();
    let data = (0..n)
        .map(|i| {
            let idx = unravel(i, &shape);
            f(bcast_at(a, &idx), bcast_at(b, &idx))
        })
        .collect();
    T::new(&shape, data)
}

/// erf, Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
pub fn erf(x: f32) -> f32 {
    let x = x as f64;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    (if x >= 0.0 { y } else { -y }) as f32
}

pub fn sigmoid(x: f32) -> f32 {
    (1.0 / (1.0 + (-(x as f64)).exp())) as f32
}

/// Max or average pooling over NCHW with ONNX ceil_mode and padding.
pub fn pool(
    x: &T,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 4],
    ceil: bool,
    avg: Option<bool>,
) -> T {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let len = |i: usize, a: usize| {
        let span = i + p[a] + p[a + 2] - k[a];
        let mut o = span / s[a] + 1;
        if ceil && !span.is_multiple_of(s[a]) {
            o += 1;
            if (o - 1) * s[a] >= i + p[a] {
                o -= 1;
            }
        }
        o
    };
    let (oh, ow) = (len(h, 0), len(w, 1));
    let mut y = T::zeros(&[n, c, oh, ow]);
    for ni in 0..n {
        for ci in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut best, mut sum, mut cnt, mut padded) =
                        (f32::NEG_INFINITY, 0f64, 0usize, 0usize);
                    for ky in 0..k[0] {
                        for kx in 0..k[1] {
                            let iy = (oy * s[0] + ky) as isize - p[0] as isize;
                            let ix = (ox * s[1] + kx) as isize - p[1] as isize;
                            // Cells inside the padded input (not past it).
                            let in_padded = iy < (h + p[2]) as isize && ix < (w + p[3]) as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                if in_padded {
                                    padded += 1;
                                }
                                continue;
                            }
                            let v = x.at(&[ni, ci, iy as usize, ix as usize]);
                            best = best.max(v);
                            sum += v as f64;
                            cnt += 1;
                        }
                    }
                    let v = match avg {
                        None => best,
                        Some(include_pad) => {
                            let d = if include_pad { cnt + padded } else { cnt };
                            (sum / d as f64) as f32
                        }
                    };
                    y.set(&[ni, ci, oy, ox], v);
                }
            }
        }
    }
    y
}

/// Reduction over `axes` (sorted), keeping them as 1s when `keep`.
pub fn reduce(x: &T, axes: &[usize], keep: bool, f: fn(&[f32]) -> f32) -> T {
    let kept: Vec<usize> = x
        .shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect();
    let n: usize = kept.iter().product();
    let data = (0..n)
        .map(|o| {
            let base = unravel(o, &kept);
            let count: usize = axes.iter().map(|&a| x.shape[a]).product();
            let rshape: Vec<usize> = axes.iter().map(|&a| x.shape[a]).collect();
            let vals: Vec<f32> = (0..count)
                .map(|r| {
                    let ri = unravel(r, &rshape);
                    let mut idx = base.clone();
                    for (k, &a) in axes.iter().enumerate() {
                        idx[a] = ri[k];
                    }
                    x.at(&idx)
                })
                .collect();
            f(&vals)
        })
        .collect();
    let shape: Vec<usize> = if keep {
        kept
    } else {
        x.shape
            .iter()
            .enumerate()
            .filter(|(i, _)| !axes.contains(i))
            .map(|(_, &d)| d)
            .collect()
    };
    T::new(&shape, data)
}

pub fn softmax(x: &T, axis: usize) -> T {
    let mut y = x.clone();
    let n = x.data.len() / x.shape[axis];
    let mut other = x.shape.clone();
    other[axis] = 1;
    for o in 0..n {
        let base = unravel(o, &other);
        let idx = |j: usize| {
            let mut i = base.clone();
            i[axis] = j;
            i
        };
        let m = (0..x.shape[axis])
            .map(|j| x.at(&idx(j)))
            .fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f64> = (0..x.shape[axis])
            .map(|j| ((x.at(&idx(j)) - m) as f64).exp())
            .collect();
        let s: f64 = e.iter().sum();
        for (j, v) in e.iter().enumerate() {
            y.set(&idx(j), (v / s) as f32);
        }
    }
    y
}

pub fn transpose(x: &T, perm: &[usize]) -> T {
    let shape: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
    let n = x.data.len();
    let data = (0..n)
        .map(|o| {
            let oi = unravel(o, &shape);
            let mut ii = vec![0; shape.len()];
            for (k, &p) in perm.iter().enumerate() {
                ii[p] = oi[k];
            }
            x.at(&ii)
        })
        .collect();
    T::new(&shape, data)
}

/// Pad modes of the reference.
#[derive(Clone, Copy)]
pub enum Pad {
    Constant(f32),
    Reflect,
    Edge,
}

pub fn pad(x: &T, pads: &[usize], mode: Pad) -> T {
    let r = x.shape.len();
    let shape: Vec<usize> = (0..r).map(|i| x.shape[i] + pads[i] + pads[r + i]).collect();
    let n = shape.iter().product();
    let data = (0..n)
        .map(|o| {
            let oi = unravel(o, &shape);
            let mut ii = Vec::with_capacity(r);
            for k in 0..r {
                let d = x.shape[k] as isize;
                let mut v = oi[k] as isize - pads[k] as isize;
                if v < 0 || v >= d {
                    match mode {
                        Pad::Constant(c) => return c,
                        Pad::Edge => v = v.clamp(0, d - 1),
                        Pad::Reflect => {
                            if v < 0 {
                                v = -v;
                            }
                            if v >= d {
                                v = 2 * (d - 1) - v;
                            }
                        }
                    }
                }
                ii.push(v as usize);
            }
            x.at(&ii)
        })
        .collect();
    T::new(&shape, data)
}

/// Resize of the two innermost axes, following the ONNX reference.
#[derive(Clone, Copy)]
pub enum Coord {
    HalfPixel,
    AlignCorners,
    Asymmetric,
}

#[derive(Clone, Copy)]
pub enum Interp {
    /// Nearest with round-prefer-floor (false) or floor (true).
    Nearest {
        floor: bool,
    },
    Linear,
}

pub fn resize(x: &T, size: [usize; 2], coord: Coord, interp: Interp) -> T {
    let r = x.shape.len();
    let (ih, iw) = (x.shape[r - 2], x.shape[r - 1]);
    let mut shape = x.shape.clone();
    shape[r - 2] = size[0];
    shape[r - 1] = size[1];
    let orig = |o: usize, i: usize, out: usize| -> f64 {
        let scale = out as f64 / i as f64;
        match coord {
            Coord::HalfPixel => (o as f64 + 0.5) / scale - 0.5,
            Coord::AlignCorners => {
                if out == 1 {
                    0.0
                } else {
                    o as f64 * (i - 1) as f64 / (out - 1) as f64
                }
            }
            Coord::Asymmetric => o as f64 / scale,
        }
    };
    let n = shape.iter().product();
    let data = (0..n)
        .map(|o| {
            let oi = unravel(o, &shape);
            let fy = orig(oi[r - 2], ih, size[0]);
            let fx = orig(oi[r - 1], iw, size[1]);
            let at = |y: usize, xx: usize| {
                let mut idx = oi.clone();
                idx[r - 2] = y;
                idx[r - 1] = xx;
                x.at(&idx) as f64
            };
            match interp {
                Interp::Nearest { floor } => {
                    let pick = |f: f64, len: usize| {
                        let v = if floor || f.fract() == 0.5 {
                            f.floor()
                        } else {
                            f.round()
                        };
                        (v.max(0.0) as usize).min(len - 1)
                    };
                    at(pick(fy, ih), pick(fx, iw)) as f32
                }
                Interp::Linear => {
                    let split = |f: f64, len: usize| {
                        let f = f.clamp(0.0, (len - 1) as f64);
                        let lo = f.floor() as usize;
                        (lo, (lo + 1).min(len - 1), f - lo as f64)
                    };
                    let (y0, y1, dy) = split(fy, ih);
                    let (x0, x1, dx) = split(fx, iw);
                    let top = at(y0, x0) * (1.0 - dx) + at(y0, x1) * dx;
                    let bot = at(y1, x0) * (1.0 - dx) + at(y1, x1) * dx;
                    (top * (1.0 - dy) + bot * dy) as f32
                }
            }
        })
        .collect();
    T::new(&shape, data)
}
