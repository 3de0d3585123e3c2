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
    p.walk(x, y, 0.0, |cells, n| match p.kind {
        Kind::Max => cells.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)),
        Kind::AvgExcludePad | Kind::AvgIncludePad => cells.iter().sum::<f32>() / n as f32,
    });
    Ok(())
}
