//! Resize (opset 10+) and Upsample (7–9). The runtime resizes the two
//! innermost axes to the output tensor's size and derives the scale from
//! the sizes, so scales that do not give an exact output size are refused
//! rather than approximated.

use rknnrt::graph::{CoordMode, NearestMode, Op, ResizeMode};

use super::Node;
use crate::onnx::ctx::{Ctx, Val};

/// Resize and Upsample.
pub fn resize(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let rank = m.shape.len();
    if rank < 2 {
        return Err(format!("input {:?} must have rank >= 2", m.shape));
    }
    let upsample = n.op_type == "Upsample";
    let mode = match a.string_or("mode", "nearest")?.as_str() {
        "nearest" => ResizeMode::Nearest,
        "linear" | "bilinear" => ResizeMode::Linear,
        o => return Err(format!("mode '{o}' is not supported")),
    };
    // Opset 10 Resize and Upsample: x_in = x_out / scale, nearest floors.
    let legacy = upsample || n.opset < 11;
    let (coord, nearest) = if legacy {
        (CoordMode::Asymmetric, NearestMode::Floor)
    } else {
        let coord = match a
            .string_or("coordinate_transformation_mode", "half_pixel")?
            .as_str()
        {
            "half_pixel" => CoordMode::HalfPixel,
            "pytorch_half_pixel" => CoordMode::PytorchHalfPixel,
            "align_corners" => CoordMode::AlignCorners,
            "asymmetric" => CoordMode::Asymmetric,
            o => {
                return Err(format!(
                    "coordinate_transformation_mode '{o}' is not supported"
                ))
            }
        };
        let nearest = match a.string_or("nearest_mode", "round_prefer_floor")?.as_str() {
            "round_prefer_floor" => NearestMode::RoundPreferFloor,
            "round_prefer_ceil" => NearestMode::RoundPreferCeil,
            "floor" => NearestMode::Floor,
            "ceil" => NearestMode::Ceil,
            o => return Err(format!("nearest_mode '{o}' is not supported")),
        };
        if a.int_or("exclude_outside", 0)? != 0 {
            return Err("exclude_outside = 1 is not supported".into());
        }
        if a.int_or("antialias", 0)? != 0 {
            return Err("antialias = 1 is not supported".into());
        }
        a.ignore(&["cubic_coeff_a", "extrapolation_value"]);
        (coord, nearest)
    };
    // Scales or sizes, over all axes or the listed ones (opset 18).
    let axes: Vec<usize> = match a.ints("axes")? {
        Some(ax) => ax
            .iter()
            .map(|&v| super::axis(v, rank))
            .collect::<Result<_, _>>()?,
        None => (0..rank).collect(),
    };
    let (scales, sizes): (Option<Vec<f32>>, Option<Vec<i64>>) = if upsample && n.opset < 9 {
        (
            Some(
                a.floats("scales")?
                    .ok_or("attribute 'scales' is required")?,
            ),
            None,
        )
    } else if legacy {
        (Some(super::constant(n.input(1)?, "scales")?.to_f32()), None)
    } else {
        let scales = n.opt_const(2, "scales")?.filter(|t| t.elems() > 0);
        let sizes = n.opt_const(3, "sizes")?.filter(|t| t.elems() > 0);
        (scales.map(|t| t.to_f32()), sizes.map(|t| t.to_i64()))
    };
    let mut out = m.shape.clone();
    match (scales, sizes) {
        (Some(s), None) => {
            if s.len() != axes.len() {
                return Err(format!("{} scales for {} axes", s.len(), axes.len()));
            }
            for (&ax, &sc) in axes.iter().zip(&s) {
                if !(sc.is_finite() && sc > 0.0) {
                    return Err(format!("scale {sc} must be positive"));
                }
                let exact = m.shape[ax] as f64 * sc as f64;
                let len = exact.floor();
                if len < 1.0 || len > i32::MAX as f64 {
                    return Err(format!("scale {sc} gives an empty or huge axis {ax}"));
                }
                if (exact - len).abs() > 1e-6 * exact.max(1.0) {
                    return Err(format!(
                        "scale {sc} of axis {ax} gives a fractional size {exact} (the runtime uses the size ratio)"
                    ));
                }
                if legacy && mode == ResizeMode::Nearest && sc.fract() != 0.0 {
                    return Err(format!(
                        "nearest with the non-integer scale {sc} (opset < 11 rounding) is not supported"
                    ));
                }
                out[ax] = len as usize;
            }
        }
        (None, Some(sz)) => {
            if sz.len() != axes.len() {
                return Err(format!("{} sizes for {} axes", sz.len(), axes.len()));
            }
            let policy = a.string_or("keep_aspect_ratio_policy", "stretch")?;
            let ratio = |f: fn(f64, f64) -> f64, init: f64| {
                axes.iter()
                    .zip(&sz)
                    .map(|(&ax, &s)| s as f64 / m.shape[ax] as f64)
                    .fold(init, f)
            };
            let keep = match policy.as_str() {
                "stretch" => None,
                "not_larger" => Some(ratio(f64::min, f64::INFINITY)),
                "not_smaller" => Some(ratio(f64::max, 0.0)),
                p => return Err(format!("keep_aspect_ratio_policy '{p}' is not supported")),
            };
            for (&ax, &s) in axes.iter().zip(&sz) {
                let len = match keep {
                    None => s,
                    Some(r) => {
                        let exact = m.shape[ax] as f64 * r;
                        let len = exact.round();
                        if (exact - len).abs() > 1e-6 * exact.max(1.0) {
                            return Err(format!(
                                "keep_aspect_ratio_policy gives a fractional size {exact} for axis {ax} (the runtime uses the size ratio)"
                            ));
                        }
                        len as i64
                    }
                };
                if len < 1 || len > i32::MAX as i64 {
                    return Err(format!("size {len} of axis {ax} is invalid"));
                }
                out[ax] = len as usize;
            }
        }
        (Some(_), Some(_)) => return Err("scales and sizes are both given".into()),
        (None, None) => return Err("neither scales nor sizes is given".into()),
    }
    if out[..rank - 2] != m.shape[..rank - 2] {
        return Err(format!(
            "only the two innermost axes may be resized ({:?} to {out:?})",
            m.shape
        ));
    }
    let op = Op::Resize {
        mode,
        coord,
        nearest,
    };
    ctx.emit(op, std::slice::from_ref(x), &[out], m.dtype, None)
}
