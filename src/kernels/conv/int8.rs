//! int8 convolution: int32 accumulation of `(x - zx) * (w - zw)`, int32
//! bias, requantization per output channel with the fused activation.

use super::{tile_pixels, Args, Geom};
use crate::graph::{DType, Op};
use crate::kernels::activation::I8Output;
use crate::kernels::gemm::core::{igemm, MatRef};
use crate::kernels::gemm::shape_err;
use crate::kernels::im2col::{im2col, ImageDims};
use crate::kernels::{qparams, In, KernelError, Out};

/// Quantization of an int8 convolution, resolved per output channel.
pub(super) struct QuantSetup {
    /// Input zero point.
    pub zx: i32,
    /// Weight zero points, per weight channel.
    pub zw: Vec<i32>,
    /// Real value of one accumulator unit, per weight channel.
    pub acc_scale: Vec<f32>,
    /// `acc_scale / sy`, per weight channel.
    pub mult: Vec<f32>,
    /// Output stage.
    pub stage: I8Output,
}

impl QuantSetup {
    /// Reads the quantization of x, w (per channel along `w_axis`, `w_channels`
    /// entries) and y, and bounds the accumulator for `taps` products.
    pub fn new(
        op: &Op,
        a: &Args<'_, '_>,
        out: &Out<'_>,
        (w_axis, w_channels): (usize, usize),
        taps: usize,
    ) -> Result<QuantSetup, KernelError> {
        let (sx, zx) = qparams::per_tensor(op, a.x.info)?;
        let (sw, zw) = qparams::per_channel(op, a.w.info, w_axis, w_channels)?;
        let (sy, zy) = qparams::per_tensor(op, out.info)?;
        let bias_max = bias_i32(op, a.bias)?.map_or(0, |b| {
            b.iter().map(|&v| (v as i64).abs()).max().unwrap_or(0)
        });
        qparams::check_accumulator(op, taps, &[zx], &zw, bias_max)?;
        let acc_scale: Vec<f32> = sw.iter().map(|&s| sx * s).collect();
        let mult = acc_scale.iter().map(|&s| s / sy).collect();
        Ok(QuantSetup {
            zx,
            zw,
            acc_scale,
            mult,
            stage: I8Output::new(a.activation, sy, zy),
        })
    }

    /// Requantizes accumulator planes (`pixels` cells each) into the
    /// matching output planes; plane `r` uses weight channel `c0 + r`.
    pub fn requant_planes(&self, acc: &[i32], y: &mut [i8], pixels: usize, c0: usize) {
        for (r, (yp, ap)) in y
            .chunks_exact_mut(pixels.max(1))
            .zip(acc.chunks_exact(pixels.max(1)))
            .enumerate()
        {
            let (mult, scale) = (self.mult[c0 + r], self.acc_scale[c0 + r]);
            for (yv, &av) in yp.iter_mut().zip(ap) {
                *yv = self.stage.requant(av, mult, scale);
            }
        }
    }
}

/// Starts the accumulator planes (`pixels` cells each) of output channels
/// `m0..` at their int32 bias (0 without bias).
pub(super) fn init_acc(acc: &mut [i32], pixels: usize, bias: Option<&[i32]>, m0: usize) {
    for (r, plane) in acc.chunks_exact_mut(pixels.max(1)).enumerate() {
        plane.fill(bias.map_or(0, |b| b[m0 + r]));
    }
}

/// The int32 bias of an int8 convolution, if it has one.
pub(super) fn bias_i32<'a>(op: &Op, b: Option<&In<'a>>) -> Result<Option<&'a [i32]>, KernelError> {
    let Some(b) = b else {
        return Ok(None);
    };
    if b.info.dtype != DType::I32 {
        return Err(KernelError::unsupported(
            op,
            format!(
                "int8 convolution needs an int32 bias, got {:?}",
                b.info.dtype
            ),
        ));
    }
    b.i32(op).map(Some)
}

/// int8 Conv.
pub(super) fn conv(op: &Op, a: &Args<'_, '_>, out: &mut Out<'_>) -> Result<(), KernelError> {
    a.check_bias(op)?;
    let g = &a.g;
    let taps = g.taps();
    let q = QuantSetup::new(op, a, out, (0, g.m), taps)?;
    let x = a.x.i8(op)?;
    let w = a.w.i8(op)?;
    let bias = bias_i32(op, a.bias)?;
    let y = out.i8_mut(op)?;
    let pixels = g.oh * g.ow;
    let in_plane = g.cg * g.h * g.w;
    let tile = tile_pixels(taps, pixels);
    let mut col = if g.is_pointwise() || g.is_depthwise() {
        Vec::new()
    } else {
        vec![0i8; taps * tile.min(pixels)]
    };
    let mut acc = vec![0i32; g.mg * pixels];
    let pad = q.zx as i8;
    for ni in 0..g.n {
        for gi in 0..g.group {
            let m0 = gi * g.mg;
            init_acc(&mut acc, pixels, bias, m0);
            let xg = &x[(ni * g.group + gi) * in_plane..][..in_plane];
            let wg = &w[m0 * taps..][..g.mg * taps];
            if g.is_depthwise() {
                depthwise_plane(g, xg, wg, q.zx, q.zw[m0], &mut acc);
            } else {
                let wmat = MatRef::row_major(wg, taps);
                let zw = &q.zw[m0..m0 + g.mg];
                if g.is_pointwise() {
                    igemm(
                        (g.mg, pixels, g.cg),
                        wmat,
                        zw,
                        MatRef::row_major(xg, pixels),
                        &[q.zx],
                        &mut acc,
                        pixels,
                    )
                    .map_err(shape_err(op))?;
                } else {
                    let dims = ImageDims {
                        c: g.cg,
                        h: g.h,
                        w: g.w,
                        ow: g.ow,
                    };
                    for p0 in (0..pixels).step_by(tile) {
                        let p1 = (p0 + tile).min(pixels);
                        let col = &mut col[..taps * (p1 - p0)];
                        im2col(xg, dims, &g.win, (p0, p1), pad, col);
                        igemm(
                            (g.mg, p1 - p0, taps),
                            wmat,
                            zw,
                            MatRef::row_major(col, p1 - p0),
                            &[q.zx],
                            &mut acc[p0..],
                            pixels,
                        )
                        .map_err(shape_err(op))?;
                    }
                }
            }
            let yg = &mut y[(ni * g.m + m0) * pixels..][..g.mg * pixels];
            q.requant_planes(&acc, yg, pixels, m0);
        }
    }
    Ok(())
}

/// Direct depthwise accumulation of one channel into `acc` (one plane);
/// taps in the padding contribute `(zx - zx) * w = 0` and are skipped.
fn depthwise_plane(g: &Geom, xp: &[i8], wk: &[i8], zx: i32, zw: i32, acc: &mut [i32]) {
    let sw = g.win.stride[1];
    g.depthwise_taps(|k, xs, ys| {
        let wv = wk[k] as i32 - zw;
        for (av, &xv) in acc[ys].iter_mut().zip(xp[xs].iter().step_by(sw)) {
            *av += wv * (xv as i32 - zx);
        }
    });
}
