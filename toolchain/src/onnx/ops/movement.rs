//! Data movement: Concat, Split, Slice, Reshape and friends, Transpose,
//! Pad, Gather.

use std::rc::Rc;

use rknnrt::graph::{shape::slice_start, Op, PadMode};

use super::{axis, constant, Node};
use crate::onnx::ctx::{Ctx, Val};
use crate::onnx::tensor::Tensor;

/// A Reshape of `x` to `shape` (same element count).
pub fn reshape_to(ctx: &mut Ctx, x: &Val, shape: Vec<usize>) -> Result<Val, String> {
    let m = ctx.meta(x)?;
    Ok(ctx.emit(
        Op::Reshape,
        std::slice::from_ref(x),
        &[shape],
        m.dtype,
        None,
    )?[0]
        .clone())
}

/// Concat.
pub fn concat(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let ins: Vec<Val> = n.inputs.iter().flatten().cloned().collect();
    let first = ins.first().ok_or("needs at least one input")?;
    let m = ctx.meta(first)?;
    // Shape vectors (1-D constants, possibly empty) are joined here.
    let consts: Vec<&Tensor> = ins
        .iter()
        .filter_map(|v| match v {
            Val::Const(t) if t.shape.len() == 1 && t.dtype == m.dtype => Some(&**t),
            _ => None,
        })
        .collect();
    if consts.len() == ins.len() {
        let bytes: Vec<u8> = consts
            .iter()
            .flat_map(|t| t.bytes.iter().copied())
            .collect();
        let len = consts.iter().map(|t| t.shape[0]).sum();
        let t = Tensor::new(m.dtype, vec![len], bytes).ok_or("inconsistent constant")?;
        n.attrs.int("axis")?;
        return Ok(vec![Val::Const(Rc::new(t))]);
    }
    let raw = n.attrs.int("axis")?.ok_or("attribute 'axis' is required")?;
    if raw < 0 && n.opset < 11 {
        return Err(format!("negative axis {raw} needs opset 11"));
    }
    let ax = axis(raw, m.shape.len())?;
    ctx.emit(Op::Concat { axis: ax }, &ins, &[], m.dtype, None)
}

/// Split: lengths from the `split` attribute (< 13) or input (>= 13), or
/// equal parts (`num_outputs` from opset 18).
pub fn split(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let ax = axis(a.int_or("axis", 0)?, m.shape.len())?;
    let dim = m.shape[ax];
    let lengths: Option<Vec<i64>> = if n.opset >= 13 {
        n.opt_const(1, "split")?.map(|t| t.to_i64())
    } else {
        a.ints("split")?
    };
    let count = n.outputs.len();
    let lengths: Vec<usize> = match lengths {
        Some(l) => {
            if l.iter().any(|&v| v < 0) || l.iter().map(|&v| v as i128).sum::<i128>() != dim as i128
            {
                return Err(format!("split {l:?} must be non-negative and sum to {dim}"));
            }
            l.iter().map(|&v| v as usize).collect()
        }
        None => {
            let parts = if n.opset >= 18 {
                match a.int("num_outputs")? {
                    Some(p) if p >= 1 => p as usize,
                    Some(p) => return Err(format!("num_outputs {p} must be positive")),
                    None => count,
                }
            } else {
                count
            };
            if parts == 0 || parts > dim {
                return Err(format!(
                    "{parts} parts of a dimension of {dim} (empty splits are not supported)"
                ));
            }
            if n.opset >= 18 && a.has("num_outputs") {
                let chunk = dim.div_ceil(parts);
                let mut v = vec![chunk; parts];
                let last = dim
                    .checked_sub(chunk * (parts - 1))
                    .ok_or_else(|| format!("cannot split {dim} into {parts} parts"))?;
                v[parts - 1] = last;
                v
            } else {
                if dim % parts != 0 {
                    return Err(format!("{dim} does not split into {parts} equal parts"));
                }
                vec![dim / parts; parts]
            }
        }
    };
    if lengths.len() != count {
        return Err(format!(
            "{} split lengths for {count} outputs",
            lengths.len()
        ));
    }
    if lengths.contains(&0) {
        return Err("zero-length splits (empty tensors) are not supported".into());
    }
    let shapes: Vec<Vec<usize>> = lengths
        .iter()
        .map(|&l| {
            let mut s = m.shape.clone();
            s[ax] = l;
            s
        })
        .collect();
    ctx.emit(
        Op::Split { axis: ax },
        std::slice::from_ref(x),
        &shapes,
        m.dtype,
        None,
    )
}

/// Slice: attributes (< 10) or constant inputs (>= 10).
pub fn slice(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let rank = m.shape.len();
    let (starts, ends, axes, steps) = if n.opset < 10 {
        let a = &n.attrs;
        let starts = a.ints("starts")?.ok_or("attribute 'starts' is required")?;
        let ends = a.ints("ends")?.ok_or("attribute 'ends' is required")?;
        (starts, ends, a.ints("axes")?, None)
    } else {
        let get = |i: usize, w: &str| -> Result<Option<Vec<i64>>, String> {
            Ok(n.opt_const(i, w)?.map(|t| t.to_i64()))
        };
        (
            get(1, "starts")?.ok_or("input 'starts' is required")?,
            get(2, "ends")?.ok_or("input 'ends' is required")?,
            get(3, "axes")?,
            get(4, "steps")?,
        )
    };
    let k = starts.len();
    let axes = axes.unwrap_or_else(|| (0..k as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; k]);
    if ends.len() != k || axes.len() != k || steps.len() != k {
        return Err("starts, ends, axes and steps need the same length".into());
    }
    let mut out = m.shape.clone();
    let (mut op_axes, mut op_starts, mut op_steps) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..k {
        let ax = axis(axes[i], rank)?;
        if op_axes.contains(&ax) {
            return Err(format!("axis {ax} is listed twice"));
        }
        let (start, len) = slice_len(m.shape[ax], starts[i], ends[i], steps[i])
            .ok_or_else(|| format!("step of axis {ax} is 0"))?;
        if let (Val::Const(t), 1) = (x, rank) {
            // A shape vector: sliced here (the result may be empty).
            let size = t.dtype.size();
            let mut bytes = Vec::with_capacity(len * size);
            for j in 0..len as i64 {
                let at = (start + j * steps[i]) as usize * size;
                bytes.extend_from_slice(t.bytes.get(at..at + size).ok_or("slice out of range")?);
            }
            let out = Tensor::new(t.dtype, vec![len], bytes).ok_or("inconsistent constant")?;
            return Ok(vec![Val::Const(Rc::new(out))]);
        }
        if len == 0 {
            return Err(format!(
                "axis {ax} would become empty (empty tensors are not supported)"
            ));
        }
        out[ax] = len;
        op_axes.push(ax);
        op_starts.push(start);
        op_steps.push(steps[i]);
    }
    let op = Op::Slice {
        axes: op_axes,
        starts: op_starts,
        steps: op_steps,
    };
    ctx.emit(op, std::slice::from_ref(x), &[out], m.dtype, None)
}

/// ONNX Slice on one axis of length `dim`: the clamped start and the
/// number of elements; `None` for a zero step.
pub fn slice_len(dim: usize, start: i64, end: i64, step: i64) -> Option<(i64, usize)> {
    if step == 0 {
        return None;
    }
    let d = dim as i64;
    let s = slice_start(start, step, dim) as i64;
    let e = if end < 0 { end.saturating_add(d) } else { end };
    let len = if step > 0 {
        let e = e.clamp(0, d);
        if e > s {
            (e - s - 1) / step + 1
        } else {
            0
        }
    } else {
        let e = e.clamp(-1, d - 1);
        if s > e {
            ((s - e - 1) as u64 / step.unsigned_abs()) as i64 + 1
        } else {
            0
        }
    };
    Some((s, len as usize))
}

/// Reshape: target from the `shape` attribute (< 5) or input; `0` copies
/// the input dimension unless `allowzero` (>= 14), one `-1` is inferred.
pub fn reshape(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let target = if n.opset < 5 {
        n.attrs
            .ints("shape")?
            .ok_or("attribute 'shape' is required")?
    } else {
        constant(n.input(1)?, "shape")?.to_i64()
    };
    let allowzero = n.opset >= 14 && n.attrs.flag("allowzero", false)?;
    let total: usize = m.shape.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if allowzero => {
                return Err(
                    "a 0 dimension with allowzero = 1 makes an empty tensor (not supported)".into(),
                )
            }
            0 => out.push(*m.shape.get(i).ok_or_else(|| {
                format!("0 at index {i} but the input has rank {}", m.shape.len())
            })?),
            d if d > 0 && d <= i32::MAX as i64 => out.push(d as usize),
            _ => return Err(format!("invalid target shape {target:?}")),
        }
    }
    let known = out
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .ok_or("target shape overflows")?;
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {:?} to {target:?}", m.shape));
        }
        out[i] = total / known;
    } else if known != total {
        return Err(format!("cannot reshape {:?} to {target:?}", m.shape));
    }
    Ok(vec![reshape_to(ctx, x, out)?])
}

/// Flatten to 2-D at `axis` (default 1).
pub fn flatten(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let r = m.shape.len() as i64;
    let a = n.attrs.int_or("axis", 1)?;
    if a < -r || a > r {
        return Err(format!("axis {a} is out of range for rank {r}"));
    }
    let a = if a < 0 { a + r } else { a } as usize;
    let outer = m.shape[..a].iter().product();
    let inner = m.shape[a..].iter().product();
    Ok(vec![reshape_to(ctx, x, vec![outer, inner])?])
}

/// Squeeze and Unsqueeze: axes as an attribute (< 13) or input (>= 13).
pub fn squeeze(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let axes: Option<Vec<i64>> = if n.opset >= 13 {
        n.opt_const(1, "axes")?.map(|t| t.to_i64())
    } else {
        n.attrs.ints("axes")?
    };
    let out = if n.op_type == "Squeeze" {
        let rank = m.shape.len();
        let drop: Vec<usize> = match axes {
            Some(a) => a.iter().map(|&v| axis(v, rank)).collect::<Result<_, _>>()?,
            None => (0..rank).filter(|&d| m.shape[d] == 1).collect(),
        };
        if let Some(&d) = drop.iter().find(|&&d| m.shape[d] != 1) {
            return Err(format!("cannot squeeze axis {d} of length {}", m.shape[d]));
        }
        (0..rank)
            .filter(|d| !drop.contains(d))
            .map(|d| m.shape[d])
            .collect()
    } else {
        let axes = axes.ok_or("axes are required")?;
        let rank = m.shape.len() + axes.len();
        let mut ins = axes
            .iter()
            .map(|&v| axis(v, rank))
            .collect::<Result<Vec<_>, _>>()?;
        ins.sort_unstable();
        if ins.windows(2).any(|w| w[0] == w[1]) {
            return Err(format!("axes {axes:?} repeat an axis"));
        }
        let mut src = m.shape.iter();
        (0..rank)
            .map(|d| {
                if ins.contains(&d) {
                    1
                } else {
                    *src.next().unwrap_or(&1)
                }
            })
            .collect()
    };
    Ok(vec![reshape_to(ctx, x, out)?])
}

/// Transpose (default: reverse the axes).
pub fn transpose(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let rank = m.shape.len();
    let perm = match n.attrs.ints("perm")? {
        Some(p) => p
            .iter()
            .map(|&v| usize::try_from(v).map_err(|_| format!("perm {p:?} is invalid")))
            .collect::<Result<Vec<_>, _>>()?,
        None => (0..rank).rev().collect(),
    };
    ctx.emit(
        Op::Transpose { perm },
        std::slice::from_ref(x),
        &[],
        m.dtype,
        None,
    )
}

/// Pad: attributes (< 11) or constant inputs (>= 11, `axes` from 18).
pub fn pad(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let rank = m.shape.len();
    let mode = a.string_or("mode", "constant")?;
    let (pads, value, axes): (Vec<i64>, f32, Option<Vec<i64>>) = if n.opset < 11 {
        let p = if n.opset < 2 {
            a.ints("paddings")?
        } else {
            a.ints("pads")?
        };
        (
            p.ok_or("attribute 'pads' is required")?,
            a.float_or("value", 0.0)?,
            None,
        )
    } else {
        let p = constant(n.input(1)?, "pads")?.to_i64();
        let v = match n.opt_const(2, "constant_value")? {
            Some(t) if t.elems() == 1 => t.to_f32()[0],
            Some(t) if t.elems() == 0 => 0.0,
            Some(t) => return Err(format!("constant_value has shape {:?}", t.shape)),
            None => 0.0,
        };
        let axes = if n.opset >= 18 {
            n.opt_const(3, "axes")?.map(|t| t.to_i64())
        } else {
            None
        };
        (p, v, axes)
    };
    let axes: Vec<usize> = match axes {
        Some(ax) => ax
            .iter()
            .map(|&v| axis(v, rank))
            .collect::<Result<_, _>>()?,
        None => (0..rank).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(format!(
            "pads has {} values for {} axes",
            pads.len(),
            axes.len()
        ));
    }
    if pads.iter().any(|&p| p < 0) {
        return Err(format!(
            "negative pads {pads:?} (cropping) are not supported"
        ));
    }
    let mut full = vec![0usize; 2 * rank];
    let k = axes.len();
    for (i, &ax) in axes.iter().enumerate() {
        full[ax] = pads[i] as usize;
        full[rank + ax] = pads[k + i] as usize;
    }
    let mode = match mode.as_str() {
        "constant" => PadMode::Constant { value },
        "reflect" => PadMode::Reflect,
        "edge" => PadMode::Edge,
        m => return Err(format!("mode '{m}' is not supported")),
    };
    ctx.emit(
        Op::Pad { pads: full, mode },
        std::slice::from_ref(x),
        &[],
        m.dtype,
        None,
    )
}

/// Gather along `axis` (default 0).
pub fn gather(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let (x, i) = (n.input(0)?, n.input(1)?);
    let m = ctx.meta(x)?;
    let ax = axis(n.attrs.int_or("axis", 0)?, m.shape.len())?;
    ctx.emit(
        Op::Gather { axis: ax },
        &[x.clone(), i.clone()],
        &[],
        m.dtype,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::slice_len;

    #[test]
    fn slice_lengths_follow_onnx() {
        assert_eq!(slice_len(10, 2, 8, 1), Some((2, 6)));
        assert_eq!(slice_len(10, 0, 10, 3), Some((0, 4)));
        assert_eq!(slice_len(10, -3, i64::MAX, 1), Some((7, 3)));
        assert_eq!(slice_len(10, 9, -11, -1), Some((9, 10)));
        assert_eq!(slice_len(10, i64::MAX, i64::MIN, -2), Some((9, 5)));
        assert_eq!(slice_len(10, 5, 2, 1), Some((5, 0)));
        assert_eq!(slice_len(10, 0, 5, 0), None);
    }
}
