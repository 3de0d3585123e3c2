//! Unit tests of shape inference and the type rules, op by op.

use super::*;
use crate::graph::{
    Activation, BinaryOp, CoordMode, DType, NearestMode, Op, PadMode, Quant, ReduceOp, ResizeMode,
    Window,
};

fn t(shape: &[usize]) -> TensorInfo {
    TensorInfo::activation("t", shape.to_vec(), DType::F32)
}

fn typed(shape: &[usize], dtype: DType) -> TensorInfo {
    TensorInfo::activation("t", shape.to_vec(), dtype)
}

fn one(op: &Op, ins: &[TensorInfo]) -> Result<Vec<usize>, String> {
    let refs: Vec<&TensorInfo> = ins.iter().collect();
    infer(op, &refs).map(|mut v| v.remove(0)).map_err(|e| e.0)
}

fn given(op: &Op, ins: &[TensorInfo], outs: &[&[usize]]) -> Result<Vec<Vec<usize>>, String> {
    let refs: Vec<&TensorInfo> = ins.iter().collect();
    infer_given(op, &refs, outs).map_err(|e| e.0)
}

fn win(k: [usize; 2], s: [usize; 2], p: [usize; 4], d: [usize; 2]) -> Window {
    Window {
        kernel: k,
        stride: s,
        pads: p,
        dilation: d,
    }
}

fn conv(w: Window, group: usize) -> Op {
    Op::Conv {
        window: w,
        group,
        activation: None,
    }
}

fn has(r: Result<impl std::fmt::Debug, String>, want: &str) {
    match r {
        Err(m) => assert!(m.contains(want), "want {want:?} in {m:?}"),
        Ok(v) => panic!("want error {want:?}, got {v:?}"),
    }
}

#[test]
fn conv_output_sizes() {
    let w = win([3, 3], [2, 2], [1, 1, 1, 1], [1, 1]);
    assert_eq!(
        one(
            &conv(w, 1),
            &[t(&[2, 3, 224, 224]), t(&[16, 3, 3, 3]), t(&[16])]
        ),
        Ok(vec![2, 16, 112, 112])
    );
    // Dilation 2, asymmetric pads.
    let w = win([3, 3], [1, 1], [0, 1, 2, 3], [2, 2]);
    assert_eq!(
        one(&conv(w, 1), &[t(&[1, 4, 10, 10]), t(&[8, 4, 3, 3])]),
        Ok(vec![1, 8, 8, 10])
    );
    // Depthwise.
    let w = win([3, 3], [1, 1], [1; 4], [1, 1]);
    assert_eq!(
        one(&conv(w, 16), &[t(&[1, 16, 8, 8]), t(&[16, 1, 3, 3])]),
        Ok(vec![1, 16, 8, 8])
    );
}

#[test]
fn conv_errors() {
    let w = win([3, 3], [1, 1], [0; 4], [1, 1]);
    has(
        one(&conv(w, 1), &[t(&[1, 4, 8, 8]), t(&[8, 3, 3, 3])]),
        "3 input channels per group, expected 4",
    );
    has(
        one(&conv(w, 3), &[t(&[1, 4, 8, 8]), t(&[8, 3, 3, 3])]),
        "group 3 must divide",
    );
    has(
        one(&conv(w, 1), &[t(&[1, 4, 8, 8]), t(&[8, 4, 3, 3]), t(&[7])]),
        "bias has shape [7]",
    );
    has(
        one(&conv(w, 1), &[t(&[1, 4, 8, 8]), t(&[8, 4, 1, 1])]),
        "differs from the kernel",
    );
    has(
        one(&conv(w, 1), &[t(&[1, 4, 2, 2]), t(&[8, 4, 3, 3])]),
        "does not fit",
    );
    has(
        one(&conv(w, 1), &[t(&[1, 4, 8]), t(&[8, 4, 3, 3])]),
        "x must have rank 4",
    );
    let zero_stride = win([3, 3], [0, 1], [0; 4], [1, 1]);
    has(
        one(&conv(zero_stride, 1), &[t(&[1, 4, 8, 8]), t(&[8, 4, 3, 3])]),
        "stride [0, 1] contains 0",
    );
    // Hostile window values give an error, not an overflow.
    let huge = win([3, 3], [1, 1], [usize::MAX; 4], [usize::MAX, 1]);
    has(
        one(&conv(huge, 1), &[t(&[1, 4, 8, 8]), t(&[8, 4, 3, 3])]),
        "larger than the limit",
    );
    has(
        one(&conv(w, 1), &[t(&[1, 4, 8, 8])]),
        "takes 2 to 3 inputs, got 1",
    );
}

#[test]
fn conv_transpose_output_sizes() {
    let op = |w, g, op| Op::ConvTranspose {
        window: w,
        group: g,
        output_padding: op,
        activation: None,
    };
    // stride 2, kernel 3, pads 1, output_padding 1: 2 * (4 - 1) + 1 + 3 - 2 = 8
    let w = win([3, 3], [2, 2], [1; 4], [1, 1]);
    assert_eq!(
        one(
            &op(w, 1, [1, 1]),
            &[t(&[1, 8, 4, 4]), t(&[8, 5, 3, 3]), t(&[5])]
        ),
        Ok(vec![1, 5, 8, 8])
    );
    assert_eq!(
        one(&op(w, 2, [0, 1]), &[t(&[1, 8, 4, 4]), t(&[8, 3, 3, 3])]),
        Ok(vec![1, 6, 7, 8])
    );
    has(
        one(&op(w, 1, [2, 0]), &[t(&[1, 8, 4, 4]), t(&[8, 5, 3, 3])]),
        "output_padding 2 must be smaller",
    );
    let big_pads = win([1, 1], [1, 1], [1; 4], [1, 1]);
    has(
        one(
            &op(big_pads, 1, [0, 0]),
            &[t(&[1, 8, 1, 1]), t(&[8, 5, 1, 1])],
        ),
        "remove the whole output",
    );
    has(
        one(&op(w, 1, [0, 0]), &[t(&[1, 8, 4, 4]), t(&[4, 5, 3, 3])]),
        "4 input channels, expected 8",
    );
}

#[test]
fn gemm_shapes() {
    let op = |ta, tb| Op::Gemm {
        alpha: 1.0,
        beta: 1.0,
        trans_a: ta,
        trans_b: tb,
        activation: None,
    };
    assert_eq!(
        one(&op(false, false), &[t(&[2, 3]), t(&[3, 4])]),
        Ok(vec![2, 4])
    );
    assert_eq!(
        one(&op(true, true), &[t(&[3, 2]), t(&[4, 3]), t(&[1, 4])]),
        Ok(vec![2, 4])
    );
    assert_eq!(
        one(&op(false, true), &[t(&[2, 3]), t(&[4, 3]), t(&[])]),
        Ok(vec![2, 4])
    );
    has(
        one(&op(false, false), &[t(&[2, 3]), t(&[4, 3])]),
        "inner dimensions differ",
    );
    has(
        one(&op(false, false), &[t(&[2, 3]), t(&[3, 4]), t(&[3, 4])]),
        "C of shape [3, 4] does not broadcast to [2, 4]",
    );
    has(
        one(&op(false, false), &[t(&[1, 2, 3]), t(&[3, 4])]),
        "A must have rank 2",
    );
}

#[test]
fn matmul_broadcasting() {
    let mm = |a: &[usize], b: &[usize]| one(&Op::MatMul, &[t(a), t(b)]);
    assert_eq!(mm(&[2, 3], &[3, 4]), Ok(vec![2, 4]));
    assert_eq!(mm(&[3], &[3, 4]), Ok(vec![4]));
    assert_eq!(mm(&[2, 3], &[3]), Ok(vec![2]));
    assert_eq!(mm(&[3], &[3]), Ok(vec![]));
    assert_eq!(mm(&[5, 1, 2, 3], &[4, 3, 6]), Ok(vec![5, 4, 2, 6]));
    has(mm(&[2, 2, 3], &[3, 3, 4]), "cannot be broadcast");
    has(mm(&[2, 3], &[2, 4]), "inner dimensions differ");
    has(mm(&[], &[2]), "rank >= 1");
}

#[test]
fn binary_and_unary() {
    let add = Op::Binary {
        op: BinaryOp::Add,
        activation: None,
    };
    assert_eq!(one(&add, &[t(&[2, 1, 4]), t(&[3, 1])]), Ok(vec![2, 3, 4]));
    assert_eq!(one(&add, &[t(&[]), t(&[5])]), Ok(vec![5]));
    has(one(&add, &[t(&[2, 3]), t(&[4])]), "cannot be broadcast");
    let u = Op::Unary {
        act: Activation::Sigmoid,
    };
    assert_eq!(one(&u, &[t(&[3, 5])]), Ok(vec![3, 5]));
    assert_eq!(
        one(&Op::PRelu, &[t(&[1, 3, 4, 4]), t(&[3, 1, 1])]),
        Ok(vec![1, 3, 4, 4])
    );
    has(
        one(&Op::PRelu, &[t(&[1, 3, 4, 4]), t(&[1, 1, 3, 4, 4])]),
        "slope of shape",
    );
}

#[test]
fn pooling() {
    let max = |w, ceil| Op::MaxPool {
        window: w,
        ceil_mode: ceil,
    };
    let w = win([3, 3], [2, 2], [0; 4], [1, 1]);
    assert_eq!(
        one(&max(w, false), &[t(&[1, 2, 8, 8])]),
        Ok(vec![1, 2, 3, 3])
    );
    assert_eq!(
        one(&max(w, true), &[t(&[1, 2, 8, 8])]),
        Ok(vec![1, 2, 4, 4])
    );
    // ceil mode: the last window must start inside the input or left pad.
    let w = win([2, 2], [2, 2], [1, 1, 1, 1], [1, 1]);
    assert_eq!(
        one(&max(w, true), &[t(&[1, 1, 4, 4])]),
        Ok(vec![1, 1, 3, 3])
    );
    let avg = Op::AveragePool {
        window: win([2, 2], [1, 1], [2, 0, 0, 0], [1, 1]),
        ceil_mode: false,
        count_include_pad: false,
    };
    has(one(&avg, &[t(&[1, 1, 4, 4])]), "entirely in padding");
    assert_eq!(
        one(&Op::GlobalMaxPool, &[t(&[2, 3, 5, 7])]),
        Ok(vec![2, 3, 1, 1])
    );
    has(one(&Op::GlobalAveragePool, &[t(&[2, 3, 5])]), "rank 4");
}

#[test]
fn concat_and_split() {
    let cat = Op::Concat { axis: 1 };
    assert_eq!(
        one(&cat, &[t(&[1, 2, 3]), t(&[1, 5, 3]), t(&[1, 1, 3])]),
        Ok(vec![1, 8, 3])
    );
    has(
        one(&cat, &[t(&[1, 2, 3]), t(&[1, 2, 4])]),
        "input 1 of shape [1, 2, 4]",
    );
    has(
        one(&Op::Concat { axis: 3 }, &[t(&[1, 2, 3])]),
        "axis 3 is out of range",
    );
    has(one(&cat, &[]), "at least 1 inputs, got 0");
    let split = Op::Split { axis: 0 };
    assert_eq!(
        given(&split, &[t(&[6, 2])], &[&[2, 2], &[4, 2]]),
        Ok(vec![vec![2, 2], vec![4, 2]])
    );
    has(
        given(&split, &[t(&[6, 2])], &[&[2, 2], &[3, 2]]),
        "sum to 5",
    );
    has(
        given(&split, &[t(&[6, 2])], &[&[2, 2], &[4, 3]]),
        "outside axis 0",
    );
    has(
        given(&split, &[t(&[6, 2])], &[]),
        "at least 1 outputs, got 0",
    );
    has(one(&split, &[t(&[6, 2])]), "use infer_given");
}

#[test]
fn slice_ranges() {
    let op = |starts: Vec<i64>, steps: Vec<i64>| Op::Slice {
        axes: vec![1],
        starts,
        steps,
    };
    let x = [t(&[2, 10])];
    assert_eq!(
        given(&op(vec![2], vec![3]), &x, &[&[2, 3]]),
        Ok(vec![vec![2, 3]])
    );
    has(
        given(&op(vec![2], vec![3]), &x, &[&[2, 4]]),
        "cannot produce 4",
    );
    // Negative start counts from the end; negative step walks back.
    assert_eq!(
        given(&op(vec![-1], vec![-1]), &x, &[&[2, 10]]),
        Ok(vec![vec![2, 10]])
    );
    has(
        given(&op(vec![-1], vec![-1]), &x, &[&[2, 11]]),
        "cannot produce 11",
    );
    // Starts are clamped (ONNX): a huge start with a negative step is the end.
    assert_eq!(
        given(&op(vec![i64::MAX], vec![-2]), &x, &[&[2, 5]]),
        Ok(vec![vec![2, 5]])
    );
    has(
        given(&op(vec![i64::MIN], vec![i64::MIN]), &x, &[&[2, 2]]),
        "cannot produce",
    );
    has(
        given(&op(vec![0], vec![0]), &x, &[&[2, 1]]),
        "step of axis 1 is 0",
    );
    has(
        given(&op(vec![0], vec![1]), &x, &[&[1, 1]]),
        "axis 0 is not sliced",
    );
    has(
        given(&op(vec![0, 1], vec![1]), &x, &[&[2, 1]]),
        "same length",
    );
    let twice = Op::Slice {
        axes: vec![1, 1],
        starts: vec![0, 0],
        steps: vec![1, 1],
    };
    has(given(&twice, &x, &[&[2, 1]]), "listed twice");
}

#[test]
fn reshape_transpose_pad_resize() {
    assert_eq!(
        given(&Op::Reshape, &[t(&[2, 3, 4])], &[&[6, 4]]),
        Ok(vec![vec![6, 4]])
    );
    has(
        given(&Op::Reshape, &[t(&[2, 3, 4])], &[&[5, 4]]),
        "changes the element count",
    );
    let tr = |p: Vec<usize>| Op::Transpose { perm: p };
    assert_eq!(one(&tr(vec![2, 0, 1]), &[t(&[2, 3, 4])]), Ok(vec![4, 2, 3]));
    has(
        one(&tr(vec![0, 0, 1]), &[t(&[2, 3, 4])]),
        "not a permutation",
    );
    has(one(&tr(vec![0, 1]), &[t(&[2, 3, 4])]), "not a permutation");
    has(
        one(&tr(vec![0, 1, 9]), &[t(&[2, 3, 4])]),
        "not a permutation",
    );
    let pad = |pads: Vec<usize>, mode| Op::Pad { pads, mode };
    assert_eq!(
        one(&pad(vec![0, 1, 2, 3], PadMode::Edge), &[t(&[2, 3])]),
        Ok(vec![4, 7])
    );
    has(
        one(&pad(vec![0, 1], PadMode::Edge), &[t(&[2, 3])]),
        "expected 4",
    );
    has(
        one(&pad(vec![0, 3, 0, 0], PadMode::Reflect), &[t(&[2, 3])]),
        "must be smaller than its length 3",
    );
    has(
        one(
            &pad(vec![0, usize::MAX, 0, 0], PadMode::Edge),
            &[t(&[2, 3])],
        ),
        "too large",
    );
    let rs = Op::Resize {
        mode: ResizeMode::Linear,
        coord: CoordMode::HalfPixel,
        nearest: NearestMode::RoundPreferFloor,
    };
    assert_eq!(
        given(&rs, &[t(&[1, 3, 4, 4])], &[&[1, 3, 7, 9]]),
        Ok(vec![vec![1, 3, 7, 9]])
    );
    has(
        given(&rs, &[t(&[1, 3, 4, 4])], &[&[1, 2, 7, 9]]),
        "outer dimensions",
    );
    has(
        given(&rs, &[t(&[1, 3, 4, 4])], &[&[1, 3, 0, 9]]),
        "zero-length",
    );
    has(given(&rs, &[t(&[4])], &[&[8]]), "rank >= 2");
}

#[test]
fn normalization_and_reduction() {
    assert_eq!(one(&Op::Softmax { axis: 1 }, &[t(&[2, 3])]), Ok(vec![2, 3]));
    has(
        one(&Op::Softmax { axis: 2 }, &[t(&[2, 3])]),
        "axis 2 is out of range",
    );
    let ln = Op::LayerNorm {
        axis: 1,
        epsilon: 1e-5,
    };
    assert_eq!(
        one(&ln, &[t(&[2, 3, 4]), t(&[3, 4]), t(&[4])]),
        Ok(vec![2, 3, 4])
    );
    has(one(&ln, &[t(&[2, 3, 4]), t(&[2, 3, 4])]), "scale of shape");
    let red = |axes: Vec<usize>, keepdims| Op::Reduce {
        op: ReduceOp::Sum,
        axes,
        keepdims,
    };
    assert_eq!(
        one(&red(vec![0, 2], true), &[t(&[2, 3, 4])]),
        Ok(vec![1, 3, 1])
    );
    assert_eq!(one(&red(vec![0, 2], false), &[t(&[2, 3, 4])]), Ok(vec![3]));
    assert_eq!(one(&red(vec![0], false), &[t(&[2])]), Ok(vec![]));
    has(
        one(&red(vec![2, 0], true), &[t(&[2, 3, 4])]),
        "sorted and unique",
    );
    has(one(&red(vec![], true), &[t(&[2, 3, 4])]), "axes is empty");
    has(
        one(&red(vec![3], true), &[t(&[2, 3, 4])]),
        "axis 3 is out of range",
    );
    let am = |keepdims| Op::ArgMax {
        axis: 1,
        keepdims,
        select_last_index: false,
    };
    assert_eq!(one(&am(true), &[t(&[2, 3, 4])]), Ok(vec![2, 1, 4]));
    assert_eq!(one(&am(false), &[t(&[2, 3, 4])]), Ok(vec![2, 4]));
}

#[test]
fn gather_and_conversions() {
    let g = Op::Gather { axis: 1 };
    assert_eq!(
        one(&g, &[t(&[2, 5, 3]), typed(&[4, 6], DType::I64)]),
        Ok(vec![2, 4, 6, 3])
    );
    assert_eq!(one(&g, &[t(&[2, 5]), typed(&[], DType::I32)]), Ok(vec![2]));
    has(
        one(&g, &[t(&[5]), typed(&[1], DType::I32)]),
        "axis 1 is out of range",
    );
    for op in [Op::Cast { to: DType::I8 }, Op::Quantize, Op::Dequantize] {
        assert_eq!(one(&op, &[t(&[2, 3])]), Ok(vec![2, 3]));
    }
}

#[test]
fn hostile_input_shapes() {
    let u = Op::Unary {
        act: Activation::Relu,
    };
    has(one(&u, &[t(&[1; 17])]), "rank 17");
    has(one(&u, &[t(&[usize::MAX, 2])]), "more than the maximum");
    has(one(&u, &[t(&[1 << 30, 1 << 30, 1 << 30])]), "overflows");
    has(one(&u, &[t(&[3, 0])]), "zero-length");
}

fn types(op: &Op, ins: &[TensorInfo], outs: &[TensorInfo]) -> Result<(), String> {
    let i: Vec<&TensorInfo> = ins.iter().collect();
    let o: Vec<&TensorInfo> = outs.iter().collect();
    check_types(op, &i, &o).map_err(|e| e.0)
}

fn q8(shape: &[usize]) -> TensorInfo {
    let mut x = typed(shape, DType::I8);
    x.quant = Some(Quant::per_tensor(0.1, 0));
    x
}

#[test]
fn type_rules() {
    let w = win([1, 1], [1, 1], [0; 4], [1, 1]);
    let c = conv(w, 1);
    let x = [t(&[1, 2, 4, 4]), t(&[3, 2, 1, 1]), t(&[3])];
    assert_eq!(types(&c, &x, &[t(&[1, 3, 4, 4])]), Ok(()));
    has(
        types(&c, &x, &[typed(&[1, 3, 4, 4], DType::F16)]),
        "one element type",
    );
    let qx = [
        q8(&[1, 2, 4, 4]),
        q8(&[3, 2, 1, 1]),
        typed(&[3], DType::I32),
    ];
    assert_eq!(types(&c, &qx, &[q8(&[1, 3, 4, 4])]), Ok(()));
    has(
        types(&c, &qx, &[t(&[1, 3, 4, 4])]),
        "needs int8/uint8 input, weight and output",
    );
    let mut per_ch_x = qx.clone();
    per_ch_x[0].quant = Some(Quant::per_channel(vec![0.1; 2], vec![0; 2], 1));
    has(
        types(&c, &per_ch_x, &[q8(&[1, 3, 4, 4])]),
        "must have per-tensor quantization",
    );
    has(
        types(
            &c,
            &[typed(&[1, 2, 4, 4], DType::I32), t(&[3, 2, 1, 1])],
            &[t(&[1, 3, 4, 4])],
        ),
        "takes f32, f16, int8 or uint8",
    );
    let add = Op::Binary {
        op: BinaryOp::Add,
        activation: None,
    };
    has(
        types(
            &add,
            &[typed(&[2], DType::Bool), typed(&[2], DType::Bool)],
            &[typed(&[2], DType::Bool)],
        ),
        "is Bool",
    );
    assert_eq!(
        types(
            &add,
            &[typed(&[2], DType::I32), typed(&[2], DType::I32)],
            &[typed(&[2], DType::I32)]
        ),
        Ok(())
    );
    has(
        types(&add, &[typed(&[2], DType::I8), q8(&[2])], &[q8(&[2])]),
        "no quantization parameters",
    );
    // Data movement keeps quantization.
    has(
        types(&Op::Reshape, &[q8(&[2])], &[typed(&[2], DType::I8)]),
        "data movement keeps them",
    );
    assert_eq!(types(&Op::Reshape, &[q8(&[2])], &[q8(&[2])]), Ok(()));
    has(
        types(&Op::Dequantize, &[typed(&[2], DType::I8)], &[t(&[2])]),
        "input 't' is I8 but has no quantization",
    );
    has(
        types(&Op::Quantize, &[typed(&[2], DType::I32)], &[q8(&[2])]),
        "converts float to integer",
    );
}

#[test]
fn attributes_must_be_finite() {
    let clip = |min, max| Op::Unary {
        act: Activation::Clip { min, max },
    };
    has(
        types(&clip(f32::NAN, 1.0), &[t(&[1])], &[t(&[1])]),
        "must be finite",
    );
    has(
        types(&clip(2.0, 1.0), &[t(&[1])], &[t(&[1])]),
        "greater than max",
    );
    let ln = Op::LayerNorm {
        axis: 0,
        epsilon: -1.0,
    };
    has(types(&ln, &[t(&[2]), t(&[2])], &[t(&[2])]), "epsilon");
    let pad = Op::Pad {
        pads: vec![0, 0],
        mode: PadMode::Constant {
            value: f32::INFINITY,
        },
    };
    has(types(&pad, &[t(&[2])], &[t(&[2])]), "Pad value");
    let gemm = Op::Gemm {
        alpha: f32::NAN,
        beta: 1.0,
        trans_a: false,
        trans_b: false,
        activation: None,
    };
    has(
        types(&gemm, &[t(&[1, 1]), t(&[1, 1])], &[t(&[1, 1])]),
        "Gemm alpha",
    );
}

#[test]
fn quant_rules() {
    let mut x = typed(&[4, 3], DType::U8);
    x.quant = Some(Quant::per_channel(vec![0.1; 3], vec![0, 255, 7], 1));
    assert_eq!(check_quant(&x).map_err(|e| e.0), Ok(()));
    x.quant = Some(Quant::per_channel(vec![0.1; 3], vec![0, 256, 7], 1));
    has(check_quant(&x).map_err(|e| e.0), "zero point 256");
    x.quant = Some(Quant::per_channel(vec![0.1; 3], vec![0; 2], 1));
    has(
        check_quant(&x).map_err(|e| e.0),
        "3 scales and 2 zero points",
    );
    x.quant = Some(Quant::per_channel(vec![f32::INFINITY], vec![0], 0));
    has(check_quant(&x).map_err(|e| e.0), "finite and positive");
    x.quant = Some(Quant::per_channel(vec![], vec![], 0));
    has(check_quant(&x).map_err(|e| e.0), "0 scales");
}

/// Deterministic pseudo-random source for the robustness test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize]
    }

    fn dim(&mut self) -> usize {
        self.pick(&[
            1,
            1,
            2,
            3,
            4,
            7,
            8,
            16,
            0,
            MAX_DIM,
            usize::MAX,
            MAX_DIM.saturating_mul(512),
        ])
    }

    fn small(&mut self) -> usize {
        self.pick(&[0, 1, 1, 2, 3, 5, 7, MAX_WINDOW, usize::MAX])
    }

    fn shape(&mut self) -> Vec<usize> {
        let rank = self.pick(&[0, 1, 2, 3, 4, 4, 4, 5, 17]);
        (0..rank).map(|_| self.dim()).collect()
    }

    fn i64(&mut self) -> i64 {
        self.pick(&[0, 1, -1, 2, -2, 7, i64::MAX, i64::MIN])
    }

    fn window(&mut self) -> Window {
        Window {
            kernel: [self.small(), self.small()],
            stride: [self.small(), self.small()],
            pads: [self.small(), self.small(), self.small(), self.small()],
            dilation: [self.small(), self.small()],
        }
    }

    fn op(&mut self) -> Op {
        let axis = self.small();
        let axes: Vec<usize> = (0..self.pick(&[0, 1, 2, 3]))
            .map(|_| self.small())
            .collect();
        match self.next() % 26 {
            0 => conv(self.window(), self.small()),
            1 => Op::ConvTranspose {
                window: self.window(),
                group: self.small(),
                output_padding: [self.small(), self.small()],
                activation: None,
            },
            2 => Op::Gemm {
                alpha: 1.0,
                beta: 1.0,
                trans_a: self.next().is_multiple_of(2),
                trans_b: self.next().is_multiple_of(2),
                activation: None,
            },
            3 => Op::MatMul,
            4 => Op::Binary {
                op: BinaryOp::Div,
                activation: None,
            },
            5 => Op::Unary {
                act: Activation::Tanh,
            },
            6 => Op::PRelu,
            7 => Op::MaxPool {
                window: self.window(),
                ceil_mode: self.next().is_multiple_of(2),
            },
            8 => Op::AveragePool {
                window: self.window(),
                ceil_mode: self.next().is_multiple_of(2),
                count_include_pad: true,
            },
            9 => Op::GlobalAveragePool,
            10 => Op::GlobalMaxPool,
            11 => Op::Concat { axis },
            12 => Op::Split { axis },
            13 => Op::Slice {
                starts: axes.iter().map(|_| self.i64()).collect(),
                steps: axes.iter().map(|_| self.i64()).collect(),
                axes,
            },
            14 => Op::Reshape,
            15 => Op::Transpose { perm: axes },
            16 => Op::Pad {
                pads: (0..self.pick(&[0, 2, 4, 8]))
                    .map(|_| self.small())
                    .collect(),
                mode: PadMode::Reflect,
            },
            17 => Op::Resize {
                mode: ResizeMode::Nearest,
                coord: CoordMode::AlignCorners,
                nearest: NearestMode::Ceil,
            },
            18 => Op::Softmax { axis },
            19 => Op::LayerNorm { axis, epsilon: 0.0 },
            20 => Op::Reduce {
                op: ReduceOp::Max,
                axes,
                keepdims: self.next().is_multiple_of(2),
            },
            21 => Op::Gather { axis },
            22 => Op::ArgMax {
                axis,
                keepdims: false,
                select_last_index: false,
            },
            23 => Op::Cast { to: DType::U16 },
            24 => Op::Quantize,
            _ => Op::Dequantize,
        }
    }
}

#[test]
fn random_ops_never_panic() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let dtypes = [
        DType::F32,
        DType::F16,
        DType::I8,
        DType::U8,
        DType::I32,
        DType::I64,
        DType::Bool,
    ];
    let mut ok = 0;
    for _ in 0..50_000 {
        let op = rng.op();
        let n_in = rng.pick(&[0, 1, 1, 2, 2, 3, 4]);
        let ins: Vec<TensorInfo> = (0..n_in)
            .map(|_| {
                let mut t = typed(&rng.shape(), rng.pick(&dtypes));
                if rng.next().is_multiple_of(3) {
                    t.quant = Some(Quant::per_tensor(0.5, 0));
                }
                t
            })
            .collect();
        let outs: Vec<TensorInfo> = (0..rng.pick(&[0, 1, 1, 2]))
            .map(|_| typed(&rng.shape(), rng.pick(&dtypes)))
            .collect();
        let refs: Vec<&TensorInfo> = ins.iter().collect();
        let out_refs: Vec<&TensorInfo> = outs.iter().collect();
        let given: Vec<&[usize]> = outs.iter().map(|t| t.shape.as_slice()).collect();
        if infer_given(&op, &refs, &given).is_ok() {
            ok += 1;
        }
        let _ = check_types(&op, &refs, &out_refs);
        let _ = infer(&op, &refs);
    }
    assert!(ok > 100, "only {ok} random ops had consistent shapes");
}

#[test]
fn slice_start_clamps_like_onnx() {
    assert_eq!(slice_start(2, 1, 10), 2);
    assert_eq!(slice_start(-1, 1, 10), 9);
    assert_eq!(slice_start(-20, 1, 10), 0);
    assert_eq!(slice_start(20, 1, 10), 10);
    assert_eq!(slice_start(20, -1, 10), 9);
    assert_eq!(slice_start(i64::MIN, -1, 10), 0);
    assert_eq!(slice_start(i64::MAX, -3, 1), 0);
    assert_eq!(broadcast(&[3, 1], &[4]).map_err(|e| e.0), Ok(vec![3, 4]));
}
