//! f32 convolution: im2col + GEMM, pointwise as a plain GEMM, and a
//! direct depthwise loop.

use super::{tile_pixels, Args, Geom};
use crate::graph::Op;
use crate::kernels::activation::apply_f32;
use crate::kernels::gemm::core::{sgemm, MatRef};
use crate::kernels::gemm::shape_err;
use crate::kernels::im2col::{im2col, ImageDims};
use crate::kernels::{KernelError, Out};

/// f32 Conv.
pub(super) fn conv(op: &Op, a: &Args<'_, '_>, out: &mut Out<'_>) -> Result<(), KernelError> {
    let g = &a.g;
    // Bias first; the GEMM accumulates on top.
    let (x, w, y) = a.f32_operands(op, out)?;
    let pixels = g.oh * g.ow;
    if g.is_depthwise() {
        depthwise(g, x, w, y);
    } else {
        let taps = g.taps();
        let tile = tile_pixels(taps, pixels);
        let mut col = if g.is_pointwise() {
            Vec::new()
        } else {
            vec![0f32; taps * tile.min(pixels)]
        };
        let in_plane = g.cg * g.h * g.w;
        for ni in 0..g.n {
            for gi in 0..g.group {
                let xg = &x[(ni * g.group + gi) * in_plane..][..in_plane];
                let wg = &w[gi * g.mg * taps..][..g.mg * taps];
                let yg = &mut y[(ni * g.m + gi * g.mg) * pixels..][..g.mg * pixels];
                let wmat = MatRef::row_major(wg, taps);
                if g.is_pointwise() {
                    sgemm(
                        (g.mg, pixels, g.cg),
                        wmat,
                        MatRef::row_major(xg, pixels),
                        yg,
                        pixels,
                    )
                    .map_err(shape_err(op))?;
                    continue;
                }
                let dims = ImageDims {
                    c: g.cg,
                    h: g.h,
                    w: g.w,
                    ow: g.ow,
                };
                for p0 in (0..pixels).step_by(tile) {
                    let p1 = (p0 + tile).min(pixels);
                    let col = &mut col[..taps * (p1 - p0)];
                    im2col(xg, dims, &g.win, (p0, p1), 0.0, col);
                    sgemm(
                        (g.mg, p1 - p0, taps),
                        wmat,
                        MatRef::row_major(col, p1 - p0),
                        &mut yg[p0..],
                        pixels,
                    )
                    .map_err(shape_err(op))?;
                }
            }
        }
    }
    apply_f32(a.activation, y);
    Ok(())
}

/// Direct depthwise convolution: every tap is a scaled, shifted add of
/// an input row segment into an output row (contiguous when stride 1).
fn depthwise(g: &Geom, x: &[f32], w: &[f32], y: &mut [f32]) {
    let [kh, kw] = g.win.kernel;
    let sw = g.win.stride[1];
    let (in_plane, out_plane) = (g.h * g.w, g.oh * g.ow);
    for ni in 0..g.n {
        for ci in 0..g.c {
            let xp = &x[(ni * g.c + ci) * in_plane..][..in_plane];
            let yp = &mut y[(ni * g.c + ci) * out_plane..][..out_plane];
            let wk = &w[ci * kh * kw..][..kh * kw];
            g.depthwise_taps(|k, xs, ys| {
                let (wv, xrow, yrow) = (wk[k], &xp[xs], &mut yp[ys]);
                if sw == 1 {
                    for (yv, &xv) in yrow.iter_mut().zip(xrow) {
                        *yv += wv * xv;
                    }
                } else {
                    for (yv, &xv) in yrow.iter_mut().zip(xrow.iter().step_by(sw)) {
                        *yv += wv * xv;
                    }
                }
            });
        }
    }
}
