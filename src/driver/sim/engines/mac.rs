//! CORE: the MAC array. int8 × int8 products summed exactly (the array's
//! 32-bit accumulator never overflows for the sizes the CNA can program,
//! kept in `i64` here), fp16 × fp16 products summed in `f32`. Alongside,
//! the sum of the input window of every output (what the DPU's weight
//! zero-point correction multiplies).

use super::cna::{Conv, Pad};
use super::{Ctx, Values};

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
            let value = |ch: usize, g: Option<usize>| g.map_or(pad, |i| x[ch * plane + i]);
            let mut sums = vec![0i64; oc * pixels];
            let window_len = if conv.depthwise { oc * pixels } else { pixels };
            let mut window = vec![0i64; window_len];
            let mut col = vec![0i64; pixels];
            for ch in 0..conv.c_real {
                for t in 0..taps {
                    let g = &gather[t * pixels..(t + 1) * pixels];
                    for (p, &gi) in g.iter().enumerate() {
                        col[p] = value(ch, gi);
                    }
                    if conv.depthwise {
                        let wv = wt[ch * taps + t];
                        let out = &mut sums[ch * pixels..(ch + 1) * pixels];
                        let win = &mut window[ch * pixels..(ch + 1) * pixels];
                        for p in 0..pixels {
                            out[p] += col[p] * wv;
                            win[p] += col[p];
                        }
                    } else {
                        for p in 0..pixels {
                            window[p] += col[p];
                        }
                        for k in 0..oc {
                            let wv = wt[(k * conv.c_real + ch) * taps + t];
                            if wv == 0 {
                                continue;
                            }
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
                sums: Values::Int(sums),
                window,
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
