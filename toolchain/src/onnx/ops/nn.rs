//! Convolution, linear layers, pooling, normalization and reductions.

use std::rc::Rc;

use rknnrt::graph::{BinaryOp, DType, Op, ReduceOp, Window};

use super::elementwise::apply;
use super::movement::reshape_to;
use super::{axis, constant, Node};
use crate::onnx::attr::Attrs;
use crate::onnx::ctx::{Ctx, Val};
use crate::onnx::tensor::Tensor;

/// Two non-negative values from an ints attribute, or a default. For a
/// 1-D op (`one_d`) the attribute holds one value, for W; H gets `h`.
fn pair(
    a: &Attrs<'_>,
    name: &str,
    default: usize,
    one_d: bool,
    h: usize,
) -> Result<[usize; 2], String> {
    let ok = |v: &[i64]| v.iter().all(|&x| (0..=1 << 16).contains(&x));
    match a.ints(name)? {
        None => Ok(if one_d { [h, default] } else { [default; 2] }),
        Some(v) if one_d && v.len() == 1 && ok(&v) => Ok([h, v[0] as usize]),
        Some(v) if !one_d && v.len() == 2 && ok(&v) => Ok([v[0] as usize, v[1] as usize]),
        Some(v) => Err(format!(
            "attribute '{name}' {v:?} must hold {} values in 0..=65536 (1-D and 2-D windows are supported)",
            if one_d { 1 } else { 2 }
        )),
    }
}

/// The explicit pads attribute as `[top, left, bottom, right]` (1-D:
/// `[begin, end]` along W).
fn pads4(a: &Attrs<'_>, one_d: bool) -> Result<[usize; 4], String> {
    let ok = |v: &[i64]| v.iter().all(|&x| (0..=1 << 16).contains(&x));
    match a.ints("pads")? {
        None => Ok([0; 4]),
        Some(v) if one_d && v.len() == 2 && ok(&v) => Ok([0, v[0] as usize, 0, v[1] as usize]),
        Some(v) if !one_d && v.len() == 4 && ok(&v) => {
            Ok([v[0] as usize, v[1] as usize, v[2] as usize, v[3] as usize])
        }
        Some(v) => Err(format!(
            "attribute 'pads' {v:?} must hold {} non-negative values",
            if one_d { 2 } else { 4 }
        )),
    }
}

/// 1-D ops run as 2-D ones on `[N, C, 1, W]`: the input reshaped, and
/// the output reshaped back by [`unflat`].
fn as_2d(ctx: &mut Ctx, x: &Val, one_d: bool) -> Result<Val, String> {
    if !one_d {
        return Ok(x.clone());
    }
    let mut s = ctx.meta(x)?.shape;
    s.insert(2, 1);
    reshape_to(ctx, x, s)
}

/// Drops the H axis added by [`as_2d`].
fn unflat(ctx: &mut Ctx, y: Vec<Val>, one_d: bool) -> Result<Vec<Val>, String> {
    if !one_d {
        return Ok(y);
    }
    let mut s = ctx.meta(&y[0])?.shape;
    s.remove(2);
    Ok(vec![reshape_to(ctx, &y[0], s)?])
}

/// Pads for `auto_pad` SAME_UPPER / SAME_LOWER (output = ceil(in / stride))
/// or VALID; `None` for NOTSET (use the pads attribute).
fn auto_pads(
    a: &Attrs<'_>,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Result<Option<[usize; 4]>, String> {
    let mode = a.string_or("auto_pad", "NOTSET")?;
    let upper = match mode.as_str() {
        "NOTSET" => return Ok(None),
        "VALID" => return Ok(Some([0; 4])),
        "SAME_UPPER" => true,
        "SAME_LOWER" => false,
        m => return Err(format!("auto_pad '{m}' is not supported")),
    };
    if a.has("pads") {
        a.ints("pads")?;
    }
    let mut p = [0; 4];
    for i in 0..2 {
        // u64: kernel, stride and dilation are at most 2^16, dims 2^31.
        let s = stride[i].max(1) as u64;
        let out = (input[i] as u64).div_ceil(s);
        let span = (kernel[i].saturating_sub(1) as u64) * dilation[i] as u64 + 1;
        let total = (out.saturating_sub(1) * s + span).saturating_sub(input[i] as u64);
        let total = usize::try_from(total).map_err(|_| "padding is too large".to_string())?;
        let (small, big) = (total / 2, total - total / 2);
        if upper {
            p[i] = small;
            p[i + 2] = big;
        } else {
            p[i] = big;
            p[i + 2] = small;
        }
    }
    Ok(Some(p))
}

/// Spatial size of a 4-D NCHW value, or `[1, W]` of a 3-D NCW value
/// (a 1-D op); the flag tells which.
fn spatial(ctx: &Ctx, x: &Val, op: &str) -> Result<([usize; 2], bool), String> {
    let s = ctx.meta(x)?.shape;
    match s.len() {
        4 => Ok(([s[2], s[3]], false)),
        3 => Ok(([1, s[2]], true)),
        _ => Err(format!(
            "only 1-D and 2-D {op} (3-D or 4-D input) is supported, input has shape {s:?}"
        )),
    }
}

/// Conv (1-D and 2-D).
pub fn conv(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    let (x, w) = (n.input(0)?, n.input(1)?);
    let (hw, one_d) = spatial(ctx, x, "Conv")?;
    let ws = ctx.meta(w)?.shape;
    if ws.len() != 3 + !one_d as usize {
        return Err(format!(
            "weight has shape {ws:?}, expected rank {}",
            3 + !one_d as usize
        ));
    }
    let kernel = match a.ints("kernel_shape")? {
        None if one_d => [1, ws[2]],
        None => [ws[2], ws[3]],
        Some(_) => pair(a, "kernel_shape", 0, one_d, 1)?,
    };
    let stride = pair(a, "strides", 1, one_d, 1)?;
    let dilation = pair(a, "dilations", 1, one_d, 1)?;
    let pads = match auto_pads(a, hw, kernel, stride, dilation)? {
        Some(p) => p,
        None => pads4(a, one_d)?,
    };
    let group = a.int_or("group", 1)?;
    if group < 1 {
        return Err(format!("group {group} must be positive"));
    }
    let op = Op::Conv {
        window: Window {
            kernel,
            stride,
            pads,
            dilation,
        },
        group: group as usize,
        activation: None,
    };
    let dtype = ctx.meta(x)?.dtype;
    let mut ins = vec![as_2d(ctx, x, one_d)?, as_2d(ctx, w, one_d)?];
    ins.extend(n.opt(2).cloned());
    let y = ctx.emit(op, &ins, &[], dtype, None)?;
    unflat(ctx, y, one_d)
}

/// ConvTranspose (1-D and 2-D), with `output_shape` and `auto_pad` resolved to
/// pads.
pub fn conv_transpose(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    let (x, w) = (n.input(0)?, n.input(1)?);
    let (hw, one_d) = spatial(ctx, x, "ConvTranspose")?;
    let ws = ctx.meta(w)?.shape;
    if ws.len() != 3 + !one_d as usize {
        return Err(format!(
            "weight has shape {ws:?}, expected rank {}",
            3 + !one_d as usize
        ));
    }
    let kernel = match a.ints("kernel_shape")? {
        None if one_d => [1, ws[2]],
        None => [ws[2], ws[3]],
        Some(_) => pair(a, "kernel_shape", 0, one_d, 1)?,
    };
    let stride = pair(a, "strides", 1, one_d, 1)?;
    let dilation = pair(a, "dilations", 1, one_d, 1)?;
    let mut output_padding = pair(a, "output_padding", 0, one_d, 0)?;
    let group = a.int_or("group", 1)?;
    if group < 1 {
        return Err(format!("group {group} must be positive"));
    }
    let auto = a.string_or("auto_pad", "NOTSET")?;
    let output_shape = a.ints("output_shape")?;
    // i64: stride, kernel, dilation and padding are at most 2^16, dims 2^31.
    let full: [i64; 2] = [0, 1].map(|i| {
        stride[i] as i64 * (hw[i].max(1) as i64 - 1)
            + output_padding[i] as i64
            + (kernel[i].max(1) as i64 - 1) * dilation[i] as i64
            + 1
    });
    let target: Option<[i64; 2]> = match (&output_shape, auto.as_str()) {
        (Some(os), _) => match (os.len(), one_d) {
            (1, true) => Some([1, os[0]]),
            (l, false) if l >= 2 => Some([os[l - 2], os[l - 1]]),
            _ => {
                return Err(format!(
                    "output_shape {os:?} does not match the spatial rank"
                ))
            }
        },
        (None, "SAME_UPPER" | "SAME_LOWER") => {
            Some([0, 1].map(|i| hw[i] as i64 * stride[i] as i64))
        }
        (None, "NOTSET" | "VALID") => None,
        (None, m) => return Err(format!("auto_pad '{m}' is not supported")),
    };
    let pads = match target {
        None if auto == "VALID" => [0; 4],
        None => pads4(a, one_d)?,
        Some(t) => {
            if a.has("pads") {
                a.ints("pads")?;
            }
            let mut p = [0usize; 4];
            for i in 0..2 {
                let mut total = full[i] - t[i];
                if total < 0 {
                    // A larger requested size is extra output padding at
                    // the bottom/right, which must stay below the stride.
                    let extra = (-total) as usize + output_padding[i];
                    if extra >= stride[i].max(dilation[i]) {
                        return Err(format!(
                            "output size {} needs output padding {extra}, not below the stride {}",
                            t[i], stride[i]
                        ));
                    }
                    output_padding[i] = extra;
                    total = 0;
                }
                let total = total as usize;
                let (small, big) = (total / 2, total - total / 2);
                if auto == "SAME_UPPER" {
                    p[i] = small;
                    p[i + 2] = big;
                } else {
                    p[i] = big;
                    p[i + 2] = small;
                }
            }
            p
        }
    };
    let op = Op::ConvTranspose {
        window: Window {
            kernel,
            stride,
            pads,
            dilation,
        },
        group: group as usize,
        output_padding,
        activation: None,
    };
    let dtype = ctx.meta(x)?.dtype;
    let mut ins = vec![as_2d(ctx, x, one_d)?, as_2d(ctx, w, one_d)?];
    ins.extend(n.opt(2).cloned());
    let y = ctx.emit(op, &ins, &[], dtype, None)?;
    unflat(ctx, y, one_d)
}

/// Gemm.
pub fn gemm(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    if a.has("broadcast") {
        return Err("the legacy 'broadcast' attribute (opset < 7) is not supported".into());
    }
    let op = Op::Gemm {
        alpha: a.float_or("alpha", 1.0)?,
        beta: a.float_or("beta", 1.0)?,
        trans_a: a.flag("transA", false)?,
        trans_b: a.flag("transB", false)?,
        activation: None,
    };
    let x = n.input(0)?;
    let mut ins = vec![x.clone(), n.input(1)?.clone()];
    ins.extend(n.opt(2).cloned());
    let dtype = ctx.meta(x)?.dtype;
    ctx.emit(op, &ins, &[], dtype, None)
}

/// MatMul.
pub fn matmul(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let dtype = ctx.meta(x)?.dtype;
    if !dtype.is_float() {
        return Err(format!("integer MatMul ({dtype:?}) is not supported"));
    }
    ctx.emit(
        Op::MatMul,
        &[x.clone(), n.input(1)?.clone()],
        &[],
        dtype,
        None,
    )
}

/// MaxPool and AveragePool (1-D and 2-D).
pub fn pool(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    let x = n.input(0)?;
    n.only_outputs(1, "MaxPool indices")?;
    let (hw, one_d) = spatial(ctx, x, n.op_type)?;
    if !a.has("kernel_shape") {
        return Err("attribute 'kernel_shape' is required".into());
    }
    let kernel = pair(a, "kernel_shape", 1, one_d, 1)?;
    let stride = pair(a, "strides", 1, one_d, 1)?;
    let dilation = pair(a, "dilations", 1, one_d, 1)?;
    let ceil_mode = a.flag("ceil_mode", false)?;
    a.ignore(&["storage_order"]);
    let (pads, ceil_mode) = match auto_pads(a, hw, kernel, stride, dilation)? {
        Some(p) => (p, false),
        None => (pads4(a, one_d)?, ceil_mode),
    };
    let window = Window {
        kernel,
        stride,
        pads,
        dilation,
    };
    let op = if n.op_type == "MaxPool" {
        Op::MaxPool { window, ceil_mode }
    } else {
        Op::AveragePool {
            window,
            ceil_mode,
            count_include_pad: a.flag("count_include_pad", false)?,
        }
    };
    let dtype = ctx.meta(x)?.dtype;
    let x2 = as_2d(ctx, x, one_d)?;
    let y = ctx.emit(op, &[x2], &[], dtype, None)?;
    unflat(ctx, y, one_d)
}

/// GlobalAveragePool and GlobalMaxPool (4-D).
pub fn global_pool(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    if spatial(ctx, x, n.op_type)?.1 {
        return Err("1-D global pooling is not supported (4-D input only)".into());
    }
    let op = if n.op_type == "GlobalAveragePool" {
        Op::GlobalAveragePool
    } else {
        Op::GlobalMaxPool
    };
    let dtype = ctx.meta(x)?.dtype;
    ctx.emit(op, std::slice::from_ref(x), &[], dtype, None)
}

/// Softmax: opset >= 13 along `axis` (default -1); before 13 the input is
/// coerced to 2-D at `axis` (default 1) and normalized over the second
/// dimension.
pub fn softmax(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let rank = m.shape.len();
    let new = n.opset >= 13;
    let ax = axis(
        n.attrs.int_or("axis", if new { -1 } else { 1 })?,
        rank.max(1),
    )?;
    if new || ax + 1 == rank {
        return ctx.emit(
            Op::Softmax { axis: ax },
            std::slice::from_ref(x),
            &[],
            m.dtype,
            None,
        );
    }
    let outer: usize = m.shape[..ax].iter().product();
    let inner: usize = m.shape[ax..].iter().product();
    let flat = reshape_to(ctx, x, vec![outer, inner])?;
    let y = ctx.emit(Op::Softmax { axis: 1 }, &[flat], &[], m.dtype, None)?;
    Ok(vec![reshape_to(ctx, &y[0], m.shape)?])
}

/// LayerNormalization (opset 17). The optional Mean and InvStdDev
/// outputs are computed with ReduceMean, Sub, Mul, Add, Sqrt and Div.
pub fn layer_norm(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let ax = axis(a.int_or("axis", -1)?, m.shape.len())?;
    let epsilon = a.float_or("epsilon", 1e-5)?;
    if a.int_or("stash_type", 1)? != 1 {
        return Err("stash_type other than 1 (float32) is not supported".into());
    }
    let mut ins = vec![x.clone(), n.input(1)?.clone()];
    ins.extend(n.opt(2).cloned());
    let mut out = ctx.emit(
        Op::LayerNorm { axis: ax, epsilon },
        &ins,
        &[],
        m.dtype,
        None,
    )?;
    if n.outputs.iter().skip(1).any(|&u| u) {
        let reduce = Op::Reduce {
            op: ReduceOp::Mean,
            axes: (ax..m.shape.len()).collect(),
            keepdims: true,
        };
        let mean =
            ctx.emit(reduce.clone(), std::slice::from_ref(x), &[], m.dtype, None)?[0].clone();
        let d = apply(ctx, BinaryOp::Sub, x, &mean)?;
        let sq = apply(ctx, BinaryOp::Mul, &d, &d)?;
        let var = ctx.emit(reduce, &[sq], &[], m.dtype, None)?[0].clone();
        let c = |v: f32| -> Result<Val, String> {
            Ok(Val::Const(Rc::new(super::elementwise::scalar(v, m.dtype)?)))
        };
        let ve = apply(ctx, BinaryOp::Add, &var, &c(epsilon)?)?;
        let sd = super::elementwise::activation(ctx, &ve, rknnrt::graph::Activation::Sqrt)?;
        let inv = apply(ctx, BinaryOp::Div, &c(1.0)?, &sd)?;
        out.push(mean);
        out.push(inv);
    }
    Ok(out)
}

/// BatchNormalization (inference): `x * a + b` with per-channel constants
/// `a = scale / sqrt(var + eps)`, `b = bias - mean * a`, shaped
/// `[C, 1, ...]` (a later pass folds them into a preceding Conv/Gemm).
pub fn batch_norm(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    n.only_outputs(1, "running statistics are training outputs")?;
    if a.flag("training_mode", false)? {
        return Err("training_mode = 1 is not supported (inference only)".into());
    }
    if n.opset < 9 && a.int_or("spatial", 1)? != 1 {
        return Err("spatial = 0 is not supported".into());
    }
    a.ignore(&["momentum", "is_test", "consumed_inputs"]);
    let eps = a.float_or("epsilon", 1e-5)?;
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    if m.shape.len() < 2 || !m.dtype.is_float() {
        return Err(format!(
            "input must be float with rank >= 2, got {:?} {:?}",
            m.dtype, m.shape
        ));
    }
    let c = m.shape[1];
    let names = ["scale", "B", "input_mean", "input_var"];
    let mut p = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let t = constant(n.input(i + 1)?, name)?;
        if t.elems() != c {
            return Err(format!("{name} has shape {:?}, expected [{c}]", t.shape));
        }
        p.push(t.to_f32());
    }
    let mul: Vec<f32> = (0..c)
        .map(|i| (p[0][i] as f64 / (p[3][i] as f64 + eps as f64).sqrt()) as f32)
        .collect();
    let add: Vec<f32> = (0..c)
        .map(|i| (p[1][i] as f64 - p[2][i] as f64 * mul[i] as f64) as f32)
        .collect();
    let mut shape = vec![c];
    shape.resize(m.shape.len() - 1, 1);
    let to_val = |v: &[f32]| -> Result<Val, String> {
        let t = match m.dtype {
            DType::F16 => {
                let halves = v
                    .iter()
                    .flat_map(|&f| half::f16::from_f32(f).to_le_bytes())
                    .collect();
                Tensor::new(DType::F16, shape.clone(), halves).ok_or("fp16 constant")?
            }
            _ => Tensor::from_f32(shape.clone(), v),
        };
        Ok(Val::Const(Rc::new(t)))
    };
    let y = apply(ctx, BinaryOp::Mul, x, &to_val(&mul)?)?;
    Ok(vec![apply(ctx, BinaryOp::Add, &y, &to_val(&add)?)?])
}

/// ReduceMean, ReduceSum, ReduceMax: axes as an attribute or (ReduceSum
/// from opset 13, the others from 18) a constant input.
pub fn reduce(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    let (op, input_since) = match n.op_type {
        "ReduceMean" => (ReduceOp::Mean, 18),
        "ReduceSum" => (ReduceOp::Sum, 13),
        _ => (ReduceOp::Max, 18),
    };
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let keepdims = a.flag("keepdims", true)?;
    let axes: Vec<i64> = if n.opset >= input_since {
        match n.opt_const(1, "axes")? {
            Some(t) => t.to_i64(),
            None => Vec::new(),
        }
    } else {
        a.ints("axes")?.unwrap_or_default()
    };
    let noop = n.opset >= input_since && a.flag("noop_with_empty_axes", false)?;
    let mut norm = axes
        .iter()
        .map(|&v| axis(v, m.shape.len()))
        .collect::<Result<Vec<_>, _>>()?;
    if norm.is_empty() {
        if noop {
            return Ok(vec![x.clone()]);
        }
        norm = (0..m.shape.len()).collect();
    }
    norm.sort_unstable();
    norm.dedup();
    if m.shape.is_empty() {
        return Ok(vec![x.clone()]);
    }
    let op = Op::Reduce {
        op,
        axes: norm,
        keepdims,
    };
    ctx.emit(op, std::slice::from_ref(x), &[], m.dtype, None)
}

/// ArgMax.
pub fn argmax(ctx: &mut Ctx, n: &Node<'_>) -> Result<Vec<Val>, String> {
    let a = &n.attrs;
    let x = n.input(0)?;
    let m = ctx.meta(x)?;
    let op = Op::ArgMax {
        axis: axis(a.int_or("axis", 0)?, m.shape.len())?,
        keepdims: a.flag("keepdims", true)?,
        select_last_index: a.flag("select_last_index", false)?,
    };
    ctx.emit(op, std::slice::from_ref(x), &[], DType::I64, None)
}
