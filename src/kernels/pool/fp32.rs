//! f32 pooling.

use super::{Kind, Plan};
use crate::graph::Op;
use crate::kernels::{In, KernelError, Out};

/// f32 max or average pooling over the plan's windows. A window without
/// any counted cell (only possible when padding exceeds the kernel)
/// yields 0.
pub(super) fn pool(op: &Op, p: &Plan, x: &In<'_>, out: &mut Out<'_>) -> Result<(), KernelError> {
    let x = x.f32(op)?;
    let y = out.f32_mut(op)?;
    let (in_plane, out_plane) = (p.h * p.w, p.oh * p.ow);
    let [dh, dw] = p.dilation;
    for (xp, yp) in x
        .chunks_exact(in_plane.max(1))
        .zip(y.chunks_exact_mut(out_plane.max(1)))
        .take(p.planes)
    {
        for (oy, r) in p.rows.iter().enumerate() {
            let yrow = &mut yp[oy * p.ow..][..p.ow];
            for (yv, c) in yrow.iter_mut().zip(&p.cols) {
                let taps = (0..r.len).flat_map(|i| {
                    let row = &xp[(r.start + i * dh) * p.w..][..p.w];
                    row[c.start..].iter().step_by(dw).take(c.len)
                });
                let n = p.count(r, c);
                *yv = if n == 0 {
                    0.0
                } else {
                    match p.kind {
                        Kind::Max => taps.fold(f32::NEG_INFINITY, |m, &v| m.max(v)),
                        Kind::AvgExcludePad | Kind::AvgIncludePad => taps.sum::<f32>() / n as f32,
                    }
                };
            }
        }
    }
    Ok(())
}
