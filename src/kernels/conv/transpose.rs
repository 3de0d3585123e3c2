//! ConvTranspose: per group, `cols = W_gᵀ · x_g` on the GEMM core, then
//! each column entry is added to the output pixel its tap reaches
//! (col2im). f32 and int8 share the scatter.

use std::ops::AddAssign;

use super::int8::{bias_i32, init_acc, QuantSetup};
use super::{Args, Geom, COL_BUDGET};
use crate::graph::Op;
use crate::kernels::activation::apply_f32;
use crate::kernels::gemm::core::{igemm, sgemm, MatRef};
use crate::kernels::gemm::shape_err;
use crate::kernels::im2col::valid_span;
use crate::kernels::{KernelError, Out};

/// Input rows per GEMM tile, so that the columns fit the budget.
fn tile_rows(g: &Geom) -> usize {
    let per_row = g.mg * g.win.kernel[0] * g.win.kernel[1] * g.w;
    (COL_BUDGET / per_row.max(1)).clamp(1, g.h.max(1))
}

/// The weights of group `gi` as the matrix `W_gᵀ` with `mg * kh * kw`
/// rows and `cg` columns.
fn weights_t<'a, T: Copy>(g: &Geom, w: &'a [T], gi: usize) -> MatRef<'a, T> {
    let rows = g.mg * g.win.kernel[0] * g.win.kernel[1];
    MatRef {
        data: &w[gi * g.cg * rows..][..g.cg * rows],
        rs: 1,
        cs: rows,
    }
}

/// Adds the columns of input rows `iy0..iy1` into the output planes `yg`
/// (`mg` planes of `oh * ow`).
fn col2im<T: Copy + AddAssign>(g: &Geom, col: &[T], (iy0, iy1): (usize, usize), yg: &mut [T]) {
    let [kh, kw] = g.win.kernel;
    let [sh, sw] = g.win.stride;
    let [dh, dw] = g.win.dilation;
    let np = (iy1 - iy0) * g.w;
    let out_plane = g.oh * g.ow;
    for j in 0..g.mg {
        let yp = &mut yg[j * out_plane..][..out_plane];
        for ki in 0..kh {
            for kj in 0..kw {
                let r = (j * kh + ki) * kw + kj;
                let crow = &col[r * np..][..np];
                let off_x = (kj * dw) as isize - g.win.pads[1] as isize;
                let (ix_lo, ix_hi) = valid_span(sw, off_x, g.ow, g.w);
                if ix_lo >= ix_hi {
                    continue;
                }
                let ox0 = ((ix_lo * sw) as isize + off_x) as usize;
                for iy in iy0..iy1 {
                    let oy = (iy * sh + ki * dh) as isize - g.win.pads[0] as isize;
                    if oy < 0 || oy >= g.oh as isize {
                        continue;
                    }
                    let src = &crow[(iy - iy0) * g.w + ix_lo..(iy - iy0) * g.w + ix_hi];
                    let dst = &mut yp[oy as usize * g.ow..][..g.ow];
                    for (d, &s) in dst[ox0..].iter_mut().step_by(sw).zip(src) {
                        *d += s;
                    }
                }
            }
        }
    }
}

/// f32 ConvTranspose.
pub(super) fn run_f32(op: &Op, a: &Args<'_, '_>, out: &mut Out<'_>) -> Result<(), KernelError> {
    let g = &a.g;
    let (x, w, y) = a.f32_operands(op, out)?;
    let out_plane = g.oh * g.ow;
    let rows = g.mg * g.win.kernel[0] * g.win.kernel[1];
    let in_plane = g.h * g.w;
    let tr = tile_rows(g);
    let mut col = vec![0f32; rows * tr * g.w];
    for ni in 0..g.n {
        for gi in 0..g.group {
            let xg = &x[(ni * g.c + gi * g.cg) * in_plane..][..g.cg * in_plane];
            let yg = &mut y[(ni * g.m + gi * g.mg) * out_plane..][..g.mg * out_plane];
            for iy0 in (0..g.h).step_by(tr) {
                let iy1 = (iy0 + tr).min(g.h);
                let np = (iy1 - iy0) * g.w;
                let col = &mut col[..rows * np];
                col.fill(0.0);
                let xm = MatRef {
                    data: &xg[iy0 * g.w..],
                    rs: in_plane,
                    cs: 1,
                };
                sgemm((rows, np, g.cg), weights_t(g, w, gi), xm, col, np).map_err(shape_err(op))?;
                col2im(g, col, (iy0, iy1), yg);
            }
        }
    }
    apply_f32(a.activation, y);
    Ok(())
}

/// int8 ConvTranspose: weights per tensor or per output channel within a
/// group (axis 1 of `[C, M/group, kh, kw]`, `M/group` entries).
pub(super) fn run_i8(op: &Op, a: &Args<'_, '_>, out: &mut Out<'_>) -> Result<(), KernelError> {
    a.check_bias(op)?;
    let g = &a.g;
    let kk = g.win.kernel[0] * g.win.kernel[1];
    let q = QuantSetup::new(op, a, out, (1, g.mg), g.cg * kk)?;
    let x = a.x.i8(op)?;
    let w = a.w.i8(op)?;
    let bias = bias_i32(op, a.bias)?;
    let y = out.i8_mut(op)?;
    let rows = g.mg * kk;
    let row_zp: Vec<i32> = (0..rows).map(|r| q.zw[r / kk]).collect();
    let (in_plane, out_plane) = (g.h * g.w, g.oh * g.ow);
    let tr = tile_rows(g);
    let mut col = vec![0i32; rows * tr * g.w];
    let mut acc = vec![0i32; g.mg * out_plane];
    for ni in 0..g.n {
        for gi in 0..g.group {
            let m0 = gi * g.mg;
            init_acc(&mut acc, out_plane, bias, m0);
            let xg = &x[(ni * g.c + gi * g.cg) * in_plane..][..g.cg * in_plane];
            for iy0 in (0..g.h).step_by(tr) {
                let iy1 = (iy0 + tr).min(g.h);
                let np = (iy1 - iy0) * g.w;
                let col = &mut col[..rows * np];
                col.fill(0);
                let xm = MatRef {
                    data: &xg[iy0 * g.w..],
                    rs: in_plane,
                    cs: 1,
                };
                igemm(
                    (rows, np, g.cg),
                    weights_t(g, w, gi),
                    &row_zp,
                    xm,
                    &[q.zx],
                    col,
                    np,
                )
                .map_err(shape_err(op))?;
                col2im(g, col, (iy0, iy1), &mut acc);
            }
            let yg = &mut y[(ni * g.m + m0) * out_plane..][..g.mg * out_plane];
            q.requant_planes(&acc, yg, out_plane, 0);
        }
    }
    Ok(())
}
