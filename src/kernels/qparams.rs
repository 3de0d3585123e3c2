//! Reading quantization parameters off tensor descriptions for the int8
//! kernels (per-tensor activations, per-tensor or per-channel weights).

use super::KernelError;
use crate::graph::{Op, TensorInfo};

/// Scale and zero point of a per-tensor quantized tensor.
pub(crate) fn per_tensor(op: &Op, info: &TensorInfo) -> Result<(f32, i32), KernelError> {
    let q = info.quant.as_ref().ok_or_else(|| {
        KernelError::invalid(
            op,
            format!("int8 tensor '{}' has no quantization", info.name),
        )
    })?;
    if !q.is_per_tensor() || q.zero_point.len() != 1 {
        return Err(KernelError::unsupported(
            op,
            format!("tensor '{}' must be quantized per tensor", info.name),
        ));
    }
    let (scale, zp) = (q.scale[0], q.zero_point[0]);
    check_scale(op, info, scale)?;
    if !(-128..=127).contains(&zp) {
        return Err(KernelError::invalid(
            op,
            format!("tensor '{}': zero point {zp} outside int8", info.name),
        ));
    }
    Ok((scale, zp))
}

/// Per-channel parameters expanded to `count` channels along `axis`
/// (a per-tensor quantization is repeated). Scales must be positive and
/// finite, zero points within int8.
pub(crate) fn per_channel(
    op: &Op,
    info: &TensorInfo,
    axis: usize,
    count: usize,
) -> Result<(Vec<f32>, Vec<i32>), KernelError> {
    let q = info.quant.as_ref().ok_or_else(|| {
        KernelError::invalid(
            op,
            format!("int8 tensor '{}' has no quantization", info.name),
        )
    })?;
    if q.scale.len() != q.zero_point.len() {
        return Err(KernelError::invalid(
            op,
            format!("tensor '{}': scale and zero point counts differ", info.name),
        ));
    }
    let (scales, zps) = if q.is_per_tensor() {
        (vec![q.scale[0]; count], vec![q.zero_point[0]; count])
    } else if q.axis as usize == axis && q.scale.len() == count {
        (q.scale.clone(), q.zero_point.clone())
    } else {
        return Err(KernelError::unsupported(
            op,
            format!(
                "tensor '{}': per-channel quantization must be along axis {axis} with {count} channels (got axis {} with {})",
                info.name,
                q.axis,
                q.scale.len()
            ),
        ));
    };
    for (&s, &z) in scales.iter().zip(&zps) {
        check_scale(op, info, s)?;
        if !(-128..=127).contains(&z) {
            return Err(KernelError::invalid(
                op,
                format!("tensor '{}': zero point {z} outside int8", info.name),
            ));
        }
    }
    Ok((scales, zps))
}

fn check_scale(op: &Op, info: &TensorInfo, scale: f32) -> Result<(), KernelError> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(KernelError::invalid(
            op,
            format!(
                "tensor '{}': scale {scale} is not positive and finite",
                info.name
            ),
        ))
    }
}

/// Checks that `k` products of int8 values offset by their zero points,
/// plus a bias of magnitude up to `bias_max`, cannot overflow an `i32`
/// accumulator. `a_zps` / `b_zps` list the zero points of both operands.
pub(crate) fn check_accumulator(
    op: &Op,
    k: usize,
    a_zps: &[i32],
    b_zps: &[i32],
    bias_max: i64,
) -> Result<(), KernelError> {
    let span = |zps: &[i32]| -> i64 {
        zps.iter()
            .map(|&z| (127 - z as i64).max(z as i64 + 128))
            .max()
            .unwrap_or(128)
    };
    let bound = (k as i64)
        .saturating_mul(span(a_zps))
        .saturating_mul(span(b_zps))
        .saturating_add(bias_max);
    if bound > i32::MAX as i64 {
        return Err(KernelError::unsupported(
            op,
            format!("int32 accumulator may overflow: reduction length {k} is too long"),
        ));
    }
    Ok(())
}
