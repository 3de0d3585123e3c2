//! Output shapes of every [`Op`] (ONNX semantics, with all attributes
//! resolved). Every computation is checked: a hostile shape gives an
//! error, never an overflow or a panic.

use std::ops::RangeInclusive;

use super::{checked_elems, GraphError, MAX_TENSOR_BYTES, MAX_WINDOW};
use crate::graph::{Op, PadMode, TensorInfo, Window};

type Shapes = Vec<Vec<usize>>;

fn err<T>(msg: String) -> Result<T, GraphError> {
    Err(GraphError(msg))
}

/// How many inputs `op` takes (resolved attributes are never inputs).
pub fn input_arity(op: &Op) -> RangeInclusive<usize> {
    match op {
        Op::Conv { .. } | Op::ConvTranspose { .. } | Op::Gemm { .. } | Op::LayerNorm { .. } => {
            2..=3
        }
        Op::MatMul | Op::Binary { .. } | Op::PRelu | Op::Gather { .. } => 2..=2,
        Op::Concat { .. } => 1..=usize::MAX,
        Op::Custom(_) => 0..=usize::MAX,
        _ => 1..=1,
    }
}

/// How many outputs `op` produces.
pub fn output_arity(op: &Op) -> RangeInclusive<usize> {
    match op {
        Op::Split { .. } | Op::Custom(_) => 1..=usize::MAX,
        _ => 1..=1,
    }
}

/// True for ops whose output shapes are not determined by their inputs
/// alone and are taken from the output tensors: `Reshape` (target shape),
/// `Split` (lengths), `Slice` (lengths), `Resize` (target size) and
/// `Custom` (recorded at compile time). Use [`infer_given`] for them.
pub fn takes_output_shape(op: &Op) -> bool {
    matches!(
        op,
        Op::Reshape | Op::Split { .. } | Op::Slice { .. } | Op::Resize { .. } | Op::Custom(_)
    )
}

/// Output shapes of `op` applied to `inputs`.
///
/// Fails for the ops of [`takes_output_shape`], whose outputs are given
/// rather than computed; use [`infer_given`] for those.
pub fn infer(op: &Op, inputs: &[&TensorInfo]) -> Result<Shapes, GraphError> {
    if takes_output_shape(op) {
        return err(format!(
            "{}: the output shape is not determined by the inputs; use infer_given with the target shape",
            op.type_name()
        ));
    }
    infer_given(op, inputs, &[])
}

/// Output shapes of `op` applied to `inputs`, where `given` holds the
/// output shapes the op takes from its output tensors (see
/// [`takes_output_shape`]): they are checked against the inputs and
/// returned. For every other op `given` is ignored and the result equals
/// [`infer`].
pub fn infer_given(
    op: &Op,
    inputs: &[&TensorInfo],
    given: &[&[usize]],
) -> Result<Shapes, GraphError> {
    let arity = input_arity(op);
    if !arity.contains(&inputs.len()) {
        return err(format!(
            "{} takes {} inputs, got {}",
            op.type_name(),
            arity_text(&arity),
            inputs.len()
        ));
    }
    for (i, t) in inputs.iter().enumerate() {
        checked_elems(&t.shape, &format!("input {i} '{}'", t.name))?;
    }
    if takes_output_shape(op) {
        let arity = output_arity(op);
        if !arity.contains(&given.len()) {
            return err(format!(
                "{} produces {} outputs, got {}",
                op.type_name(),
                arity_text(&arity),
                given.len()
            ));
        }
        for (i, s) in given.iter().enumerate() {
            let elems = checked_elems(s, &format!("output {i}"))?;
            if elems > MAX_TENSOR_BYTES {
                return err(format!("output {i} has {elems} elements, too many"));
            }
        }
    }
    let shapes = |i: usize| -> &[usize] { &inputs[i].shape };
    match op {
        Op::Conv { window, group, .. } => conv(window, *group, inputs),
        Op::ConvTranspose {
            window,
            group,
            output_padding,
            ..
        } => conv_transpose(window, *group, output_padding, inputs),
        Op::Gemm {
            trans_a, trans_b, ..
        } => gemm(*trans_a, *trans_b, inputs),
        Op::MatMul => matmul(shapes(0), shapes(1)),
        Op::Binary { .. } => Ok(vec![broadcast(shapes(0), shapes(1))?]),
        Op::Unary { .. } => Ok(vec![shapes(0).to_vec()]),
        Op::PRelu => {
            unidirectional(shapes(1), shapes(0), "slope")?;
            Ok(vec![shapes(0).to_vec()])
        }
        Op::MaxPool { window, ceil_mode } => pool(window, *ceil_mode, shapes(0)),
        Op::AveragePool {
            window, ceil_mode, ..
        } => pool(window, *ceil_mode, shapes(0)),
        Op::GlobalAveragePool | Op::GlobalMaxPool => {
            let x = rank_eq(shapes(0), 4, "x")?;
            Ok(vec![vec![x[0], x[1], 1, 1]])
        }
        Op::Concat { axis } => concat(*axis, inputs),
        Op::Split { axis } => split(*axis, shapes(0), given),
        Op::Slice {
            axes,
            starts,
            steps,
        } => slice(axes, starts, steps, shapes(0), given[0]),
        Op::Reshape => {
            let (a, b) = (
                checked_elems(shapes(0), "input")?,
                checked_elems(given[0], "output")?,
            );
            if a != b {
                return err(format!(
                    "Reshape from {:?} ({a} elements) to {:?} ({b} elements) changes the element count",
                    shapes(0),
                    given[0]
                ));
            }
            Ok(vec![given[0].to_vec()])
        }
        Op::Transpose { perm } => transpose(perm, shapes(0)),
        Op::Pad { pads, mode } => pad(pads, mode, shapes(0)),
        Op::Resize { .. } => resize(shapes(0), given[0]),
        Op::Softmax { axis } => {
            axis_in(*axis, shapes(0).len(), "axis")?;
            Ok(vec![shapes(0).to_vec()])
        }
        Op::LayerNorm { axis, .. } => layer_norm(*axis, inputs),
        Op::Reduce { axes, keepdims, .. } => reduce(axes, *keepdims, shapes(0)),
        Op::Gather { axis } => {
            let x = shapes(0);
            axis_in(*axis, x.len(), "axis")?;
            let mut out = x[..*axis].to_vec();
            out.extend_from_slice(shapes(1));
            out.extend_from_slice(&x[axis + 1..]);
            checked_elems(&out, "output")?;
            Ok(vec![out])
        }
        Op::ArgMax { axis, keepdims, .. } => reduce(&[*axis], *keepdims, shapes(0)),
        Op::Cast { .. } | Op::Quantize | Op::Dequantize => Ok(vec![shapes(0).to_vec()]),
        Op::Custom(c) => super::custom::infer(c, inputs, given),
    }
}

fn arity_text(r: &RangeInclusive<usize>) -> String {
    if r.start() == r.end() {
        r.start().to_string()
    } else if *r.end() == usize::MAX {
        format!("at least {}", r.start())
    } else {
        format!("{} to {}", r.start(), r.end())
    }
}

fn axis_in(axis: usize, rank: usize, what: &str) -> Result<(), GraphError> {
    if axis >= rank {
        return err(format!(
            "{what} {axis} is out of range for a rank-{rank} input"
        ));
    }
    Ok(())
}

fn rank_eq<'a>(s: &'a [usize], rank: usize, what: &str) -> Result<&'a [usize], GraphError> {
    if s.len() != rank {
        return err(format!(
            "{what} must have rank {rank}, has shape {s:?} (rank {})",
            s.len()
        ));
    }
    Ok(s)
}

/// Checks the window fields against [`MAX_WINDOW`] and the ONNX ranges
/// (kernel, stride and dilation at least 1).
fn check_window(w: &Window) -> Result<(), GraphError> {
    let all = w
        .kernel
        .iter()
        .chain(&w.stride)
        .chain(&w.pads)
        .chain(&w.dilation);
    if all.clone().any(|&v| v > MAX_WINDOW) {
        return err(format!(
            "window {w:?} has a value larger than the limit {MAX_WINDOW}"
        ));
    }
    for (name, v) in [
        ("kernel", &w.kernel),
        ("stride", &w.stride),
        ("dilation", &w.dilation),
    ] {
        if v.contains(&0) {
            return err(format!("window {name} {v:?} contains 0"));
        }
    }
    Ok(())
}

fn window_out(w: &Window, h: usize, wd: usize, ceil: bool) -> Result<[usize; 2], GraphError> {
    match (w.out_len(0, h, ceil), w.out_len(1, wd, ceil)) {
        (Some(oh), Some(ow)) if oh > 0 && ow > 0 => Ok([oh, ow]),
        _ => err(format!(
            "window (kernel {:?}, dilation {:?}, pads {:?}) does not fit the input of {h}x{wd}",
            w.kernel, w.dilation, w.pads
        )),
    }
}

fn conv(w: &Window, group: usize, inputs: &[&TensorInfo]) -> Result<Shapes, GraphError> {
    check_window(w)?;
    let x = rank_eq(&inputs[0].shape, 4, "x")?;
    let k = rank_eq(&inputs[1].shape, 4, "weight")?;
    let (c, m) = (x[1], k[0]);
    if group == 0 || c % group != 0 || m % group != 0 {
        return err(format!(
            "group {group} must divide the input channels {c} and the output channels {m}"
        ));
    }
    if k[1] != c / group {
        return err(format!(
            "weight {k:?} has {} input channels per group, expected {} ({c} channels / group {group})",
            k[1],
            c / group
        ));
    }
    if [k[2], k[3]] != w.kernel {
        return err(format!(
            "weight spatial size {:?} differs from the kernel {:?}",
            [k[2], k[3]],
            w.kernel
        ));
    }
    bias(inputs, m)?;
    let [oh, ow] = window_out(w, x[2], x[3], false)?;
    Ok(vec![vec![x[0], m, oh, ow]])
}

fn bias(inputs: &[&TensorInfo], m: usize) -> Result<(), GraphError> {
    if let Some(b) = inputs.get(2) {
        if b.shape != [m] {
            return err(format!("bias has shape {:?}, expected [{m}]", b.shape));
        }
    }
    Ok(())
}

fn conv_transpose(
    w: &Window,
    group: usize,
    output_padding: &[usize; 2],
    inputs: &[&TensorInfo],
) -> Result<Shapes, GraphError> {
    check_window(w)?;
    let x = rank_eq(&inputs[0].shape, 4, "x")?;
    let k = rank_eq(&inputs[1].shape, 4, "weight")?;
    let c = x[1];
    if group == 0 || c % group != 0 {
        return err(format!("group {group} must divide the input channels {c}"));
    }
    if k[0] != c {
        return err(format!(
            "weight {k:?} has {} input channels, expected {c}",
            k[0]
        ));
    }
    if [k[2], k[3]] != w.kernel {
        return err(format!(
            "weight spatial size {:?} differs from the kernel {:?}",
            [k[2], k[3]],
            w.kernel
        ));
    }
    let m = k[1]
        .checked_mul(group)
        .ok_or_else(|| GraphError::new("output channel count overflows"))?;
    bias(inputs, m)?;
    let mut out = vec![x[0], m];
    for axis in 0..2 {
        let op = output_padding[axis];
        if op >= w.stride[axis].max(w.dilation[axis]) {
            return err(format!(
                "output_padding {op} must be smaller than the stride or dilation along axis {axis}"
            ));
        }
        // stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1 - pads
        let full = (w.stride[axis] as u64) * (x[2 + axis] as u64 - 1)
            + op as u64
            + (w.kernel[axis] as u64 - 1) * w.dilation[axis] as u64
            + 1;
        let pads = (w.pads[axis] + w.pads[axis + 2]) as u64;
        match full.checked_sub(pads) {
            Some(len) if len > 0 && len <= super::MAX_DIM as u64 => out.push(len as usize),
            _ => {
                return err(format!(
                    "pads {:?} remove the whole output (full length {full}) along axis {axis}",
                    w.pads
                ))
            }
        }
    }
    Ok(vec![out])
}

fn gemm(trans_a: bool, trans_b: bool, inputs: &[&TensorInfo]) -> Result<Shapes, GraphError> {
    let a = rank_eq(&inputs[0].shape, 2, "A")?;
    let b = rank_eq(&inputs[1].shape, 2, "B")?;
    let (m, k) = if trans_a { (a[1], a[0]) } else { (a[0], a[1]) };
    let (k2, n) = if trans_b { (b[1], b[0]) } else { (b[0], b[1]) };
    if k != k2 {
        return err(format!(
            "inner dimensions differ: A {a:?} (trans_a {trans_a}) gives K = {k}, B {b:?} (trans_b {trans_b}) gives K = {k2}"
        ));
    }
    if let Some(c) = inputs.get(2) {
        unidirectional(&c.shape, &[m, n], "C")?;
    }
    Ok(vec![vec![m, n]])
}

fn matmul(a: &[usize], b: &[usize]) -> Result<Shapes, GraphError> {
    if a.is_empty() || b.is_empty() {
        return err(format!(
            "MatMul inputs must have rank >= 1, got {a:?} and {b:?}"
        ));
    }
    let a2: Vec<usize> = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b2: Vec<usize> = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != k2 {
        return err(format!(
            "inner dimensions differ: {a:?} x {b:?} ({k} vs {k2})"
        ));
    }
    let mut out = broadcast(&a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
    if a.len() > 1 {
        out.push(m);
    }
    if b.len() > 1 {
        out.push(n);
    }
    checked_elems(&out, "output")?;
    Ok(vec![out])
}

/// numpy (ONNX multidirectional) broadcasting of two shapes.
pub fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, GraphError> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i < rank - a.len() {
            1
        } else {
            a[i - (rank - a.len())]
        };
        let db = if i < rank - b.len() {
            1
        } else {
            b[i - (rank - b.len())]
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return err(format!("shapes {a:?} and {b:?} cannot be broadcast"));
        };
    }
    checked_elems(&out, "broadcast output")?;
    Ok(out)
}

/// Checks that `small` broadcasts to `target` without changing it.
fn unidirectional(small: &[usize], target: &[usize], what: &str) -> Result<(), GraphError> {
    let ok = small.len() <= target.len()
        && small
            .iter()
            .rev()
            .zip(target.iter().rev())
            .all(|(&s, &t)| s == t || s == 1);
    if !ok {
        return err(format!(
            "{what} of shape {small:?} does not broadcast to {target:?}"
        ));
    }
    Ok(())
}

fn pool(w: &Window, ceil: bool, x: &[usize]) -> Result<Shapes, GraphError> {
    check_window(w)?;
    let x = rank_eq(x, 4, "x")?;
    for axis in 0..2 {
        let span = (w.kernel[axis] - 1) * w.dilation[axis] + 1;
        if w.pads[axis] >= span || w.pads[axis + 2] >= span {
            return err(format!(
                "pads {:?} must be smaller than the window {:?} (a window would lie entirely in padding)",
                w.pads, w.kernel
            ));
        }
    }
    let [oh, ow] = window_out(w, x[2], x[3], ceil)?;
    Ok(vec![vec![x[0], x[1], oh, ow]])
}

fn concat(axis: usize, inputs: &[&TensorInfo]) -> Result<Shapes, GraphError> {
    let first = &inputs[0].shape;
    axis_in(axis, first.len(), "axis")?;
    let mut out = first.clone();
    out[axis] = 0;
    for (i, t) in inputs.iter().enumerate() {
        let s = &t.shape;
        let same = s.len() == first.len()
            && s.iter()
                .zip(first)
                .enumerate()
                .all(|(d, (a, b))| d == axis || a == b);
        if !same {
            return err(format!(
                "input {i} of shape {s:?} does not match input 0 {first:?} outside axis {axis}"
            ));
        }
        out[axis] = out[axis]
            .checked_add(s[axis])
            .ok_or_else(|| GraphError::new("concatenated length overflows"))?;
    }
    checked_elems(&out, "output")?;
    Ok(vec![out])
}

fn split(axis: usize, x: &[usize], given: &[&[usize]]) -> Result<Shapes, GraphError> {
    axis_in(axis, x.len(), "axis")?;
    let mut total: usize = 0;
    for (i, s) in given.iter().enumerate() {
        let same = s.len() == x.len()
            && s.iter()
                .zip(x)
                .enumerate()
                .all(|(d, (a, b))| d == axis || a == b);
        if !same {
            return err(format!(
                "output {i} of shape {s:?} does not match the input {x:?} outside axis {axis}"
            ));
        }
        total = total.saturating_add(s[axis]);
    }
    if total != x[axis] {
        return err(format!(
            "output lengths along axis {axis} sum to {total}, but the input has {}",
            x[axis]
        ));
    }
    Ok(given.iter().map(|s| s.to_vec()).collect())
}

fn slice(
    axes: &[usize],
    starts: &[i64],
    steps: &[i64],
    x: &[usize],
    out: &[usize],
) -> Result<Shapes, GraphError> {
    if starts.len() != axes.len() || steps.len() != axes.len() {
        return err(format!(
            "axes ({}), starts ({}) and steps ({}) must have the same length",
            axes.len(),
            starts.len(),
            steps.len()
        ));
    }
    if out.len() != x.len() {
        return err(format!(
            "output {out:?} must have the rank of the input {x:?}"
        ));
    }
    let mut seen = vec![false; x.len()];
    for ((&axis, &start), &step) in axes.iter().zip(starts).zip(steps) {
        axis_in(axis, x.len(), "axis")?;
        if std::mem::replace(&mut seen[axis], true) {
            return err(format!("axis {axis} is listed twice"));
        }
        if step == 0 {
            return err(format!("step of axis {axis} is 0"));
        }
        let dim = x[axis] as i64;
        let s = slice_start(start, step, x[axis]) as i64;
        let n = out[axis] as i64;
        // Index of the last element read: s + (n - 1) * step.
        let last = (n - 1)
            .checked_mul(step)
            .and_then(|v| v.checked_add(s))
            .filter(|&l| (0..dim).contains(&l) && (0..dim).contains(&s));
        if last.is_none() {
            return err(format!(
                "slice of axis {axis} (length {dim}) from {s} with step {step} cannot produce {n} elements"
            ));
        }
    }
    for (d, (&o, &i)) in out.iter().zip(x).enumerate() {
        if !seen[d] && o != i {
            return err(format!(
                "axis {d} is not sliced, but the output has length {o} instead of {i}"
            ));
        }
    }
    Ok(vec![out.to_vec()])
}

/// The first index a Slice reads along an axis of length `dim` (>= 1):
/// a negative `start` counts from the end, then the index is clamped to
/// `[0, dim]` for positive steps and `[0, dim - 1]` for negative ones
/// (ONNX). Kernels use this to agree with shape inference.
pub fn slice_start(start: i64, step: i64, dim: usize) -> usize {
    let dim = dim.min(i64::MAX as usize) as i64;
    let s = if start < 0 {
        start.saturating_add(dim)
    } else {
        start
    };
    let hi = if step > 0 { dim } else { dim - 1 };
    s.clamp(0, hi.max(0)) as usize
}

fn transpose(perm: &[usize], x: &[usize]) -> Result<Shapes, GraphError> {
    let mut seen = vec![false; x.len()];
    let valid = perm.len() == x.len()
        && perm
            .iter()
            .all(|&p| p < x.len() && !std::mem::replace(&mut seen[p], true));
    if !valid {
        return err(format!(
            "perm {perm:?} is not a permutation of the {} axes of {x:?}",
            x.len()
        ));
    }
    Ok(vec![perm.iter().map(|&p| x[p]).collect()])
}

fn pad(pads: &[usize], mode: &PadMode, x: &[usize]) -> Result<Shapes, GraphError> {
    let r = x.len();
    if pads.len() != 2 * r {
        return err(format!(
            "pads has {} values, expected {} (begin and end for each of {r} axes)",
            pads.len(),
            2 * r
        ));
    }
    let mut out = Vec::with_capacity(r);
    for (d, &len) in x.iter().enumerate() {
        let (b, e) = (pads[d], pads[r + d]);
        if b > super::MAX_DIM || e > super::MAX_DIM {
            return err(format!("padding of axis {d} is too large"));
        }
        if matches!(mode, PadMode::Reflect) && (b >= len || e >= len) {
            return err(format!(
                "reflect padding ({b}, {e}) of axis {d} must be smaller than its length {len}"
            ));
        }
        let n = len
            .checked_add(b)
            .and_then(|n| n.checked_add(e))
            .ok_or_else(|| GraphError::new(format!("padded length of axis {d} overflows")))?;
        out.push(n);
    }
    checked_elems(&out, "output")?;
    Ok(vec![out])
}

fn resize(x: &[usize], out: &[usize]) -> Result<Shapes, GraphError> {
    if x.len() < 2 {
        return err(format!("input {x:?} must have rank >= 2"));
    }
    let r = x.len();
    if out.len() != r || out[..r - 2] != x[..r - 2] {
        return err(format!(
            "output {out:?} must keep the rank and the outer dimensions of the input {x:?}"
        ));
    }
    Ok(vec![out.to_vec()])
}

fn layer_norm(axis: usize, inputs: &[&TensorInfo]) -> Result<Shapes, GraphError> {
    let x = &inputs[0].shape;
    axis_in(axis, x.len(), "axis")?;
    let normalized = &x[axis..];
    unidirectional(&inputs[1].shape, normalized, "scale")?;
    if let Some(b) = inputs.get(2) {
        unidirectional(&b.shape, normalized, "bias")?;
    }
    Ok(vec![x.clone()])
}

fn reduce(axes: &[usize], keepdims: bool, x: &[usize]) -> Result<Shapes, GraphError> {
    if axes.is_empty() {
        return err("axes is empty (list every reduced axis)".into());
    }
    if axes.windows(2).any(|w| w[0] >= w[1]) {
        return err(format!("axes {axes:?} must be sorted and unique"));
    }
    for &a in axes {
        axis_in(a, x.len(), "axis")?;
    }
    let out = x
        .iter()
        .enumerate()
        .filter_map(|(d, &len)| match (axes.contains(&d), keepdims) {
            (false, _) => Some(len),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    Ok(vec![out])
}
