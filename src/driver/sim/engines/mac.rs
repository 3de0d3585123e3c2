//! CORE: the MAC array. int8 × int8 products summed exactly in the
//! array's 32-bit accumulator (programs whose sums could overflow it are
//! refused), fp16 × fp16 products summed in `f32`. Alongside,
//! the sum of the input window of every output (what the DPU's weight
//! zero-point correction multiplies).

use super::cna::{Conv, Pad};
use super::{Ctx, Values};
use crate::graph::Window;
use crate::kernels::gemm::core::{igemm, MatRef};
use crate::kernels::im2col::{im2col, ImageDims};

/// What the MAC array hands the DPU.
#[derive(Clone, Debug, PartialEq)]
pub struct Accumulated {
    /// Output channels.
    pub c: usize,
    /// Output height.
    pub h: usize,
    /// Output width.
    pub w: usize,
    /// `c × h × w` sums.
    pub sums: Values,
    /// Sum of the input window of each output: per pixel (`h × w`) for a
    /// direct convolution, per channel and pixel for a depthwise one;
    /// integers only.
    pub window: Vec<i64>,
}

/// Runs the MAC array for `conv`.
pub fn run(_ctx: &Ctx<'_>, conv: &Conv) -> Result<Accumulated, String> {
    let (ow, oh) = (conv.ow, conv.oh);
    let oc = conv.out_channels();
    // For each tap (ky, kx) and output pixel: the input position, or None
    // in the padding.
    let pos = |ky: usize, kx: usize, oy: usize, ox: usize| -> Option<usize> {
        let y = (oy * conv.sy + ky * conv.dy) as isize - conv.pad_top as isize;
        let x = (ox * conv.sx + kx * conv.dx) as isize - conv.pad_left as isize;
        (y >= 0 && x >= 0 && (y as usize) < conv.h && (x as usize) < conv.w)
            .then(|| y as usize * conv.w + x as usize)
    };
    let plane = conv.h * conv.w;
    let taps = conv.kh * conv.kw;
    // Gathered input per (tap, output pixel): index into a channel plane.
    let mut gather = Vec::with_capacity(taps * oh * ow);
    for ky in 0..conv.kh {
        for kx in 0..conv.kw {
            for oy in 0..oh {
                for ox in 0..ow {
                    gather.push(pos(ky, kx, oy, ox));
                }
            }
        }
    }
    let pixels = oh * ow;
    match (&conv.input, &conv.weights, conv.pad) {
        (Values::Int(x), Values::Int(wt), Pad::Int(pad)) => {
            // Products of int8 values sum exactly in the array's 32-bit
            // accumulator as long as the number of terms keeps the worst
            // case below 2^31; beyond that the program is refused.
            let terms = (conv.c_real * taps) as u64;
            if terms * 128 * 128 >= 1 << 31 {
                return Err(format!(
                    "{terms} int8 products per output may overflow the 32-bit accumulator"
                ));
            }
            let (sums, window) = if conv.depthwise {
                depthwise_int(conv, x, wt, pad, &gather, pixels)
            } else {
                direct_int(conv, x, wt, pad, pixels)?
            };
            Ok(Accumulated {
                c: oc,
                h: oh,
                w: ow,
                sums: Values::Int(sums.into_iter().map(i64::from).collect()),
                window: window.into_iter().map(i64::from).collect(),
            })
        }
        (Values::Float(x), Values::Float(wt), Pad::Float(pad)) => {
            let value = |ch: usize, g: Option<usize>| g.map_or(pad, |i| x[ch * plane + i]);
            let mut sums = vec![0f32; oc * pixels];
            let mut col = vec![0f32; pixels];
            for ch in 0..conv.c_real {
                for t in 0..taps {
                    let g = &gather[t * pixels..(t + 1) * pixels];
                    for (p, &gi) in g.iter().enumerate() {
                        col[p] = value(ch, gi);
                    }
                    if conv.depthwise {
                        let wv = wt[ch * taps + t];
                        let out = &mut sums[ch * pixels..(ch + 1) * pixels];
                        for p in 0..pixels {
                            out[p] += col[p] * wv;
                        }
                    } else {
                        for k in 0..oc {
                            let wv = wt[(k * conv.c_real + ch) * taps + t];
                            let out = &mut sums[k * pixels..(k + 1) * pixels];
                            for p in 0..pixels {
                                out[p] += col[p] * wv;
                            }
                        }
                    }
                }
            }
            Ok(Accumulated {
                c: oc,
                h: oh,
                w: ow,
                sums: Values::Float(sums),
                window: Vec::new(),
            })
        }
        _ => Err("the input, weights and padding differ in precision".into()),
    }
}

/// A depthwise int8 convolution: per channel, the sums and window sums.
fn depthwise_int(
    conv: &Conv,
    x: &[i64],
    wt: &[i64],
    pad: i64,
    gather: &[Option<usize>],
    pixels: usize,
) -> (Vec<i32>, Vec<i32>) {
    let plane = conv.h * conv.w;
    let taps = conv.kh * conv.kw;
    let (pad, c) = (pad as i32, conv.c_real);
    let mut sums = vec![0i32; c * pixels];
    let mut window = vec![0i32; c * pixels];
    let mut col = vec![0i32; pixels];
    for ch in 0..c {
        for t in 0..taps {
            let g = &gather[t * pixels..(t + 1) * pixels];
            for (v, &gi) in col.iter_mut().zip(g) {
                *v = gi.map_or(pad, |i| x[ch * plane + i] as i32);
            }
            let wv = wt[ch * taps + t] as i32;
            let out = &mut sums[ch * pixels..(ch + 1) * pixels];
            let win = &mut window[ch * pixels..(ch + 1) * pixels];
            for ((o, w), &v) in out.iter_mut().zip(win.iter_mut()).zip(&col) {
                *o += v * wv;
                *w += v;
            }
        }
    }
    (sums, window)
}

/// A direct int8 convolution as im2col and an int8 GEMM with int32 sums
/// (the CPU kernels'); the window sums are the column sums of the im2col
/// matrix.
fn direct_int(
    conv: &Conv,
    x: &[i64],
    wt: &[i64],
    pad: i64,
    pixels: usize,
) -> Result<(Vec<i32>, Vec<i32>), String> {
    let rows = conv.c_real * conv.kh * conv.kw;
    let narrow = |v: &[i64]| v.iter().map(|&e| e as i8).collect::<Vec<i8>>();
    let (x, wt) = (narrow(x), narrow(wt));
    let mut col = vec![0i8; rows * pixels];
    let dims = ImageDims {
        c: conv.c_real,
        h: conv.h,
        w: conv.w,
        ow: conv.ow,
    };
    let win = Window {
        kernel: [conv.kh, conv.kw],
        stride: [conv.sy, conv.sx],
        pads: [conv.pad_top, conv.pad_left, 0, 0],
        dilation: [conv.dy, conv.dx],
    };
    im2col(&x, dims, &win, (0, pixels), pad as i8, &mut col);
    let mut sums = vec![0i32; conv.kernels * pixels];
    igemm(
        (conv.kernels, pixels, rows),
        MatRef::row_major(&wt, rows),
        &[0],
        MatRef::row_major(&col, pixels),
        &[0],
        &mut sums,
        pixels,
    )
    .map_err(|_| "the MAC array's matrix shapes do not fit".to_string())?;
    let mut window = vec![0i32; pixels];
    for row in col.chunks_exact(pixels) {
        for (w, &v) in window.iter_mut().zip(row) {
            *w += i32::from(v);
        }
    }
    Ok((sums, window))
}
