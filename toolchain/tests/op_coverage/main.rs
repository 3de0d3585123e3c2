//! Every op the compiler can emit runs in the runtime (DESIGN.md rule 1).
//!
//! For every `Op` variant (and every sub-kind: binary op, activation,
//! reduction, pad mode, resize mode) a tiny model is built with the
//! `ModelBuilder`, written as `.rknn` and run through the C API:
//!
//! * float32: compared with a naive computation (`naive.rs`, plain loops
//!   from the ONNX definitions) to 2e-5 of the output's magnitude;
//! * fp16 (`to_fp16`): the same reference to 3e-3 of the magnitude;
//! * int8 (`quantize_int8`), for every op `placement.rs` gives an int8
//!   kernel (`Compute` or `FollowsInput`): inputs and weights lie on their
//!   quantization grids, so the float reference is what an exact int8
//!   kernel computes before output rounding; the dequantized output must be
//!   within two output quantization steps. Quantize and Dequantize are
//!   emitted by the quantizer around a float-only op and covered there.
//!
//! Custom ops run through a test op (`cstScale`, registered with
//! `rknn_register_custom_ops` on every context), in all three builds: the
//! quantizer keeps them float, fp16 builds cast around them.
//!
//! `variant` and `kind` are exhaustive matches: a new `Op` variant (or a
//! new activation, binary op, ...) does not compile until it is named
//! here, and the coverage assertions fail until a case exercises it.

#[path = "../common/mod.rs"]
mod common;
mod naive;

use std::collections::BTreeSet;
use std::ffi::{c_char, c_int};

use half::f16;
use naive::{Coord, Geo, Interp, Pad, T};
use rknn_toolchain::placement::{self, Int8Support};
use rknn_toolchain::quantize::{params_from_range, quantize_int8, to_fp16, QuantConfig};
use rknn_toolchain::{
    BuildError, BuiltModel, ConstData, ConvParams, ConvTransposeParams, GemmParams, ModelBuilder,
    PoolParams, ResizeParams, Weights,
};
use rknnrt::abi::*;
use rknnrt::capi::custom_op::{rknn_custom_op_get_op_attr, rknn_register_custom_ops};
use rknnrt::graph::{
    Activation, AttrValue, BinaryOp, CoordMode, CustomAttr, CustomOp, DType, NearestMode, Op,
    PadMode, ReduceOp, ResizeMode, TensorId,
};
use rknnrt::platform::Platform;

use common::{max_abs_err, Input as RunInput, Session};

// ---- exhaustive naming -------------------------------------------------

/// The `Op` variant's name.
fn variant(op: &Op) -> &'static str {
    match op {
        Op::Conv { .. } => "Conv",
        Op::ConvTranspose { .. } => "ConvTranspose",
        Op::Gemm { .. } => "Gemm",
        Op::MatMul => "MatMul",
        Op::Binary { .. } => "Binary",
        Op::Unary { .. } => "Unary",
        Op::PRelu => "PRelu",
        Op::MaxPool { .. } => "MaxPool",
        Op::AveragePool { .. } => "AveragePool",
        Op::GlobalAveragePool => "GlobalAveragePool",
        Op::GlobalMaxPool => "GlobalMaxPool",
        Op::Concat { .. } => "Concat",
        Op::Split { .. } => "Split",
        Op::Slice { .. } => "Slice",
        Op::Reshape => "Reshape",
        Op::Transpose { .. } => "Transpose",
        Op::Pad { .. } => "Pad",
        Op::Resize { .. } => "Resize",
        Op::Softmax { .. } => "Softmax",
        Op::LayerNorm { .. } => "LayerNorm",
        Op::Reduce { .. } => "Reduce",
        Op::Gather { .. } => "Gather",
        Op::ArgMax { .. } => "ArgMax",
        Op::Cast { .. } => "Cast",
        Op::Quantize => "Quantize",
        Op::Dequantize => "Dequantize",
        Op::Custom(_) => "Custom",
    }
}

/// Every variant `variant` names.
const VARIANTS: &[&str] = &[
    "Conv",
    "ConvTranspose",
    "Gemm",
    "MatMul",
    "Binary",
    "Unary",
    "PRelu",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Concat",
    "Split",
    "Slice",
    "Reshape",
    "Transpose",
    "Pad",
    "Resize",
    "Softmax",
    "LayerNorm",
    "Reduce",
    "Gather",
    "ArgMax",
    "Cast",
    "Quantize",
    "Dequantize",
    "Custom",
];

/// The variant plus the sub-kind that selects a different computation.
fn kind(op: &Op) -> String {
    let sub = match op {
        Op::Binary { op, .. } => match op {
            BinaryOp::Add => "Add",
            BinaryOp::Sub => "Sub",
            BinaryOp::Mul => "Mul",
            BinaryOp::Div => "Div",
            BinaryOp::Max => "Max",
            BinaryOp::Min => "Min",
        },
        Op::Unary { act } => match act {
            Activation::Relu => "Relu",
            Activation::Relu6 => "Relu6",
            Activation::Clip { .. } => "Clip",
            Activation::LeakyRelu { .. } => "LeakyRelu",
            Activation::Sigmoid => "Sigmoid",
            Activation::Tanh => "Tanh",
            Activation::HardSigmoid { .. } => "HardSigmoid",
            Activation::HardSwish => "HardSwish",
            Activation::Silu => "Silu",
            Activation::Gelu { tanh_approx: false } => "Gelu",
            Activation::Gelu { tanh_approx: true } => "GeluTanh",
            Activation::Exp => "Exp",
            Activation::Sqrt => "Sqrt",
        },
        Op::Reduce { op, .. } => match op {
            ReduceOp::Mean => "Mean",
            ReduceOp::Sum => "Sum",
            ReduceOp::Max => "Max",
        },
        Op::Pad { mode, .. } => match mode {
            PadMode::Constant { .. } => "Constant",
            PadMode::Reflect => "Reflect",
            PadMode::Edge => "Edge",
        },
        Op::Resize { mode, .. } => match mode {
            ResizeMode::Nearest => "Nearest",
            ResizeMode::Linear => "Linear",
        },
        _ => return variant(op).to_string(),
    };
    format!("{}:{sub}", variant(op))
}

/// Every kind `kind` names, except Quantize and Dequantize (emitted only
/// by the quantizer).
fn float_kinds() -> BTreeSet<String> {
    let mut all: BTreeSet<String> = VARIANTS
        .iter()
        .filter(|v| !matches!(**v, "Binary" | "Unary" | "Reduce" | "Pad" | "Resize"))
        .filter(|v| !matches!(**v, "Quantize" | "Dequantize"))
        .map(|v| v.to_string())
        .collect();
    let subs: &[(&str, &[&str])] = &[
        ("Binary", &["Add", "Sub", "Mul", "Div", "Max", "Min"]),
        (
            "Unary",
            &[
                "Relu",
                "Relu6",
                "Clip",
                "LeakyRelu",
                "Sigmoid",
                "Tanh",
                "HardSigmoid",
                "HardSwish",
                "Silu",
                "Gelu",
                "GeluTanh",
                "Exp",
                "Sqrt",
            ],
        ),
        ("Reduce", &["Mean", "Sum", "Max"]),
        ("Pad", &["Constant", "Reflect", "Edge"]),
        ("Resize", &["Nearest", "Linear"]),
    ];
    for (v, ks) in subs {
        for k in *ks {
            all.insert(format!("{v}:{k}"));
        }
    }
    all
}

// ---- test data on quantization grids ------------------------------------

/// xorshift32 stream.
struct Rng(u32);

impl Rng {
    fn new(seed: u32) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9) | 1)
    }

    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    /// Integer in `lo..=hi`.
    fn int(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next() % (hi - lo + 1) as u32) as i32
    }
}

/// One float input: values on the int8 grid of `range`
/// (`params_from_range`), so quantizing them is exact.
#[derive(Clone, Debug)]
struct Input {
    t: T,
    range: (f32, f32),
}

/// Values on the grid of `[lo, hi]`, drawn from the part of the grid
/// inside `[vlo, vhi]`.
fn grid_in(shape: &[usize], lo: f32, hi: f32, vlo: f32, vhi: f32, seed: u32) -> Input {
    let (s, zp) = params_from_range(lo, hi);
    let qlo = ((vlo / s).ceil() as i32 + zp).clamp(-128, 127);
    let qhi = ((vhi / s).floor() as i32 + zp).clamp(-128, 127);
    assert!(qlo <= qhi, "empty grid window");
    let mut r = Rng::new(seed);
    let n = shape.iter().product();
    let data = (0..n).map(|_| (r.int(qlo, qhi) - zp) as f32 * s).collect();
    Input {
        t: T::new(shape, data),
        range: (lo, hi),
    }
}

fn grid(shape: &[usize], lo: f32, hi: f32, seed: u32) -> Input {
    grid_in(shape, lo, hi, lo, hi, seed)
}

/// Symmetric-int8-exact weights `k / 128` with `|k| <= 127` and, per index
/// of `axis` (or overall for `None`), one element of magnitude 127, so the
/// quantizer's scale is exactly 1/128.
fn grid_w(shape: &[usize], axis: Option<usize>, seed: u32) -> T {
    let mut r = Rng::new(seed);
    let n: usize = shape.iter().product();
    let mut data: Vec<f32> = (0..n).map(|_| r.int(-127, 127) as f32 / 128.0).collect();
    match axis {
        None => data[0] = 127.0 / 128.0,
        Some(a) => {
            let inner: usize = shape[a + 1..].iter().product();
            for c in 0..shape[a] {
                let first = (0..n)
                    .find(|&i| (i / inner) % shape[a] == c)
                    .expect("channel has elements");
                data[first] = if c % 2 == 0 { 127.0 } else { -127.0 } / 128.0;
            }
        }
    }
    T::new(shape, data)
}

fn weights(t: &T) -> Weights {
    Weights::new(&t.shape, t.data.clone()).expect("weights")
}

fn plain(shape: &[usize], lo: f32, hi: f32, seed: u32) -> Vec<f32> {
    common::values(shape.iter().product(), seed, lo, hi)
}

// ---- cases ---------------------------------------------------------------

/// What a case's build function returns: the outputs, plus int8 ranges of
/// intermediate tensors the reference knows.
struct Net {
    outputs: Vec<TensorId>,
    ranges: Vec<(TensorId, f32, f32)>,
}

type BuildFn = Box<dyn Fn(&mut ModelBuilder, &[TensorId]) -> Result<Net, BuildError>>;

struct Case {
    name: String,
    inputs: Vec<Input>,
    build: BuildFn,
    expect: Vec<T>,
    /// Also quantize to int8.
    int8: bool,
    /// In int8, give the outputs no range (their parameters are inherited
    /// from the input, as for data-movement ops).
    inherit: bool,
    /// Also convert to fp16 (`to_fp16` refuses a float model that already
    /// holds fp16 tensors, e.g. the output of a Cast to fp16).
    fp16: bool,
}

fn outs(outputs: Vec<TensorId>) -> Net {
    Net {
        outputs,
        ranges: Vec::new(),
    }
}

/// A case with one op built by `f` on the inputs.
fn case(
    name: &str,
    inputs: Vec<Input>,
    expect: Vec<T>,
    int8: bool,
    inherit: bool,
    f: impl Fn(&mut ModelBuilder, &[TensorId]) -> Result<Vec<TensorId>, BuildError> + 'static,
) -> Case {
    Case {
        name: name.to_string(),
        inputs,
        build: Box::new(move |b, x| f(b, x).map(outs)),
        expect,
        int8,
        inherit,
        fp16: true,
    }
}

/// Name, op and reference of a binary case.
type BinaryCase = (&'static str, BinaryOp, fn(f32, f32) -> f32);
/// Name, activation, input range and reference of a unary case.
type UnaryCase = (&'static str, Activation, (f32, f32), fn(f32) -> f32);
/// Name, builder parameters, reference coordinates and interpolation,
/// output size, and whether int8 parameters are inherited.
type ResizeCase = (&'static str, ResizeParams, Coord, Interp, [usize; 2], bool);
/// Name, op, reference and whether the op has an int8 kernel.
type ReduceCase = (&'static str, ReduceOp, fn(&[f32]) -> f32, bool);

fn conv_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let x = grid(&[1, 3, 7, 7], -1.0, 1.0, 1);
    let w = grid_w(&[4, 3, 3, 3], Some(0), 2);
    let bias = plain(&[4], -0.5, 0.5, 3);
    let geo = Geo {
        stride: [2, 2],
        pads: [1, 0, 1, 2],
        dilation: [1, 1],
        group: 1,
    };
    let want = naive::conv(&x.t, &w, Some(&bias), geo).map(|v| v.max(0.0));
    v.push(case("conv_s2_relu", vec![x], vec![want], true, false, {
        let (w, bias) = (w.clone(), bias.clone());
        move |b, i| {
            let p = ConvParams {
                stride: [2, 2],
                pads: [1, 0, 1, 2],
                ..ConvParams::default()
            };
            Ok(vec![b.conv2d(
                i[0],
                weights(&w),
                Some(bias.clone()),
                p.relu(),
            )?])
        }
    }));

    let x = grid(&[1, 4, 6, 6], -2.0, 1.0, 4);
    let w = grid_w(&[6, 2, 3, 3], Some(0), 5);
    let bias = plain(&[6], -0.5, 0.5, 6);
    let geo = Geo {
        stride: [1, 1],
        pads: [2, 2, 2, 2],
        dilation: [2, 2],
        group: 2,
    };
    let want = naive::conv(&x.t, &w, Some(&bias), geo);
    v.push(case(
        "conv_group_dilated",
        vec![x],
        vec![want],
        true,
        false,
        {
            let w = w.clone();
            move |b, i| {
                let p = ConvParams::default().pads(2).dilation(2).group(2);
                Ok(vec![b.conv2d(i[0], weights(&w), Some(bias.clone()), p)?])
            }
        },
    ));

    let x = grid(&[1, 3, 5, 5], -1.0, 3.0, 7);
    let w = grid_w(&[3, 1, 3, 3], Some(0), 8);
    let geo = Geo {
        stride: [1, 1],
        pads: [1, 1, 1, 1],
        dilation: [1, 1],
        group: 3,
    };
    let want = naive::conv(&x.t, &w, None, geo).map(|v| v.clamp(0.0, 6.0));
    v.push(case(
        "conv_depthwise_relu6",
        vec![x],
        vec![want],
        true,
        false,
        {
            move |b, i| {
                let p = ConvParams::default().pads(1).activation(Activation::Relu6);
                Ok(vec![b.depthwise_conv2d(i[0], weights(&w), None, p)?])
            }
        },
    ));

    let x = grid(&[1, 2, 3, 3], -1.0, 1.0, 9);
    let w = grid_w(&[2, 3, 3, 3], Some(1), 10);
    let bias = plain(&[3], -0.5, 0.5, 11);
    let geo = Geo {
        stride: [2, 2],
        pads: [1, 1, 1, 1],
        dilation: [1, 1],
        group: 1,
    };
    let want = naive::conv_transpose(&x.t, &w, Some(&bias), geo, [1, 1]);
    v.push(case("conv_transpose", vec![x], vec![want], true, false, {
        move |b, i| {
            let p = ConvTransposeParams {
                stride: [2, 2],
                pads: [1, 1, 1, 1],
                output_padding: [1, 1],
                ..ConvTransposeParams::default()
            };
            Ok(vec![b.conv_transpose2d(
                i[0],
                weights(&w),
                Some(bias.clone()),
                p,
            )?])
        }
    }));
    v
}

fn linear_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let a = grid(&[2, 5], -1.0, 1.0, 20);
    let w = grid_w(&[5, 3], Some(1), 21);
    let c = plain(&[3], -1.0, 1.0, 22);
    let want = naive::gemm(&a.t, &w, Some(&c), 0.5, 2.0, false, false);
    v.push(case("gemm_alpha_beta", vec![a], vec![want], true, false, {
        move |b, i| {
            let p = GemmParams {
                alpha: 0.5,
                beta: 2.0,
                ..GemmParams::default()
            };
            Ok(vec![b.gemm(
                i[0],
                weights(&w),
                Some(Weights::vector(c.clone())),
                p,
            )?])
        }
    }));

    let a = grid(&[6, 2], -1.0, 2.0, 23);
    let w = grid_w(&[4, 6], Some(0), 24);
    let want = naive::gemm(&a.t, &w, None, 1.0, 1.0, true, true).map(|v| v.max(0.0));
    v.push(case("gemm_trans_relu", vec![a], vec![want], true, false, {
        move |b, i| {
            let p = GemmParams {
                trans_a: true,
                trans_b: true,
                activation: Some(Activation::Relu),
                ..GemmParams::default()
            };
            Ok(vec![b.gemm(i[0], weights(&w), None, p)?])
        }
    }));

    let a = grid(&[2, 3, 4], -1.0, 1.0, 25);
    let w = grid_w(&[4, 5], Some(1), 26);
    let want = naive::matmul(&a.t, &w);
    v.push(case("matmul_const", vec![a], vec![want], true, false, {
        move |b, i| {
            let k = b.constant("k", &w.shape, ConstData::F32(w.data.clone()))?;
            Ok(vec![b.matmul(i[0], k)?])
        }
    }));

    let a = grid(&[2, 3, 4], -1.0, 1.0, 27);
    let bm = grid(&[2, 4, 2], -0.5, 1.5, 28);
    let want = naive::matmul(&a.t, &bm.t);
    v.push(case(
        "matmul_two_inputs",
        vec![a, bm],
        vec![want],
        true,
        false,
        |b, i| Ok(vec![b.matmul(i[0], i[1])?]),
    ));
    v
}

fn elementwise_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let binaries: [BinaryCase; 6] = [
        ("add", BinaryOp::Add, |a, b| a + b),
        ("sub", BinaryOp::Sub, |a, b| a - b),
        ("mul", BinaryOp::Mul, |a, b| a * b),
        ("div", BinaryOp::Div, |a, b| a / b),
        ("max", BinaryOp::Max, f32::max),
        ("min", BinaryOp::Min, f32::min),
    ];
    for (k, (name, op, f)) in binaries.into_iter().enumerate() {
        let a = grid(&[2, 3, 4], -2.0, 2.0, 30 + k as u32);
        let bb = if op == BinaryOp::Div {
            grid_in(&[3, 1], -1.0, 2.0, 0.5, 2.0, 40 + k as u32)
        } else {
            grid(&[3, 1], -1.0, 1.0, 40 + k as u32)
        };
        let want = naive::binary(&a.t, &bb.t, f);
        v.push(case(
            &format!("binary_{name}"),
            vec![a, bb],
            vec![want],
            true,
            false,
            move |b, i| Ok(vec![b.binary(op, i[0], i[1], None)?]),
        ));
    }
    let a = grid(&[1, 2, 2, 3], -1.0, 1.0, 50);
    let bb = grid(&[1, 2, 2, 3], -1.0, 1.0, 51);
    let want = naive::binary(&a.t, &bb.t, |x, y| (x + y).max(0.0));
    v.push(case(
        "binary_add_relu",
        vec![a, bb],
        vec![want],
        true,
        false,
        |b, i| {
            Ok(vec![b.binary(
                BinaryOp::Add,
                i[0],
                i[1],
                Some(Activation::Relu),
            )?])
        },
    ));

    let acts: Vec<UnaryCase> = vec![
        ("relu", Activation::Relu, (-3.0, 3.0), |x| x.max(0.0)),
        ("relu6", Activation::Relu6, (-3.0, 8.0), |x| {
            x.clamp(0.0, 6.0)
        }),
        (
            "clip",
            Activation::Clip {
                min: -0.5,
                max: 1.25,
            },
            (-3.0, 3.0),
            |x| x.clamp(-0.5, 1.25),
        ),
        (
            "leaky_relu",
            Activation::LeakyRelu { alpha: 0.1 },
            (-3.0, 3.0),
            |x| if x >= 0.0 { x } else { 0.1 * x },
        ),
        ("sigmoid", Activation::Sigmoid, (-4.0, 4.0), naive::sigmoid),
        ("tanh", Activation::Tanh, (-3.0, 3.0), |x| {
            (x as f64).tanh() as f32
        }),
        (
            "hard_sigmoid",
            Activation::HardSigmoid {
                alpha: 0.2,
                beta: 0.5,
            },
            (-4.0, 4.0),
            |x| (0.2 * x + 0.5).clamp(0.0, 1.0),
        ),
        ("hard_swish", Activation::HardSwish, (-4.0, 4.0), |x| {
            x * ((x + 3.0).clamp(0.0, 6.0) / 6.0)
        }),
        ("silu", Activation::Silu, (-4.0, 4.0), |x| {
            x * naive::sigmoid(x)
        }),
        (
            "gelu",
            Activation::Gelu { tanh_approx: false },
            (-3.0, 3.0),
            |x| 0.5 * x * (1.0 + naive::erf(x / std::f32::consts::SQRT_2)),
        ),
        (
            "gelu_tanh",
            Activation::Gelu { tanh_approx: true },
            (-3.0, 3.0),
            |x| {
                let x = x as f64;
                let c = (2.0 / std::f64::consts::PI).sqrt();
                (0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())) as f32
            },
        ),
        ("exp", Activation::Exp, (-2.0, 2.0), |x| {
            (x as f64).exp() as f32
        }),
        ("sqrt", Activation::Sqrt, (0.0, 4.0), |x| {
            (x as f64).sqrt() as f32
        }),
    ];
    for (k, (name, act, (lo, hi), f)) in acts.into_iter().enumerate() {
        let x = grid(&[1, 2, 3, 4], lo, hi, 60 + k as u32);
        let want = x.t.map(f);
        v.push(case(
            &format!("unary_{name}"),
            vec![x],
            vec![want],
            true,
            false,
            move |b, i| Ok(vec![b.activation(i[0], act)?]),
        ));
    }

    let x = grid(&[1, 3, 2, 2], -2.0, 2.0, 80);
    let slope = grid_w(&[3, 1, 1], None, 81);
    let want = naive::binary(&x.t, &slope, |x, s| if x >= 0.0 { x } else { s * x });
    v.push(case(
        "prelu",
        vec![x],
        vec![want],
        true,
        false,
        move |b, i| Ok(vec![b.prelu(i[0], weights(&slope))?]),
    ));
    v
}

fn pool_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let x = grid(&[1, 2, 5, 5], -1.0, 1.0, 90);
    let want = naive::pool(&x.t, [3, 3], [2, 2], [1, 1, 1, 1], true, None);
    v.push(case(
        "maxpool_ceil",
        vec![x],
        vec![want],
        true,
        true,
        |b, i| {
            Ok(vec![b.max_pool2d(
                i[0],
                PoolParams::new(3).stride(2).pads(1).ceil_mode(),
            )?])
        },
    ));
    for include in [false, true] {
        let x = grid(&[1, 2, 5, 5], -1.0, 1.0, 91);
        let want = naive::pool(&x.t, [3, 3], [2, 2], [1, 1, 1, 1], true, Some(include));
        v.push(case(
            &format!("avgpool_include_pad_{include}"),
            vec![x],
            vec![want],
            true,
            false,
            move |b, i| {
                Ok(vec![b.avg_pool2d(
                    i[0],
                    PoolParams::new(3).stride(2).pads(1).ceil_mode(),
                    include,
                )?])
            },
        ));
    }
    let x = grid(&[1, 3, 4, 5], -1.0, 1.0, 92);
    let want = naive::reduce(&x.t, &[2, 3], true, |v| {
        (v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64) as f32
    });
    v.push(case(
        "global_avgpool",
        vec![x],
        vec![want],
        true,
        false,
        |b, i| Ok(vec![b.global_avg_pool(i[0])?]),
    ));
    let x = grid(&[1, 3, 4, 5], -1.0, 1.0, 93);
    let want = naive::reduce(&x.t, &[2, 3], true, max_of);
    v.push(case(
        "global_maxpool",
        vec![x],
        vec![want],
        true,
        true,
        |b, i| Ok(vec![b.global_max_pool(i[0])?]),
    ));
    v
}

fn max_of(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

fn movement_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let a = grid(&[1, 2, 3, 3], -1.0, 1.0, 100);
    let bb = grid(&[1, 3, 3, 3], -2.0, 0.5, 101);
    let mut data = a.t.data.clone();
    data.extend_from_slice(&bb.t.data);
    let want = T::new(&[1, 5, 3, 3], data);
    v.push(case(
        "concat",
        vec![a, bb],
        vec![want],
        true,
        false,
        |b, i| Ok(vec![b.concat(&[i[0], i[1]], 1)?]),
    ));

    let x = grid(&[1, 5, 2, 2], -1.0, 1.0, 102);
    let first = T::new(&[1, 2, 2, 2], x.t.data[..8].to_vec());
    let second = T::new(&[1, 3, 2, 2], x.t.data[8..].to_vec());
    v.push(case(
        "split",
        vec![x],
        vec![first, second],
        true,
        true,
        |b, i| b.split(i[0], 1, &[2, 3]),
    ));

    let x = grid(&[2, 3, 6], -1.0, 1.0, 103);
    let mut want = T::zeros(&[2, 2, 3]);
    for n in 0..2 {
        for c in 0..2 {
            for (k, w) in [5, 3, 1].into_iter().enumerate() {
                want.set(&[n, c, k], x.t.at(&[n, c + 1, w]));
            }
        }
    }
    v.push(case(
        "slice_negative_step",
        vec![x],
        vec![want],
        true,
        true,
        |b, i| {
            Ok(vec![b.slice(
                i[0],
                &[-1, 1],
                &[5, 1],
                &[-7, 3],
                &[-2, 1],
            )?])
        },
    ));

    let x = grid(&[2, 3, 4], -1.0, 1.0, 104);
    let want = T::new(&[4, 6], x.t.data.clone());
    v.push(case("reshape", vec![x], vec![want], true, true, |b, i| {
        Ok(vec![b.reshape(i[0], &[4, -1])?])
    }));

    let x = grid(&[1, 2, 3, 4], -1.0, 1.0, 105);
    let want = naive::transpose(&x.t, &[0, 2, 3, 1]);
    v.push(case(
        "transpose",
        vec![x],
        vec![want],
        true,
        true,
        |b, i| Ok(vec![b.transpose(i[0], &[0, 2, 3, 1])?]),
    ));

    let pads = [0, 0, 1, 2, 0, 0, 2, 1];
    let modes: [(&str, PadMode, Pad); 3] = [
        (
            "constant",
            PadMode::Constant { value: 0.5 },
            Pad::Constant(0.5),
        ),
        ("reflect", PadMode::Reflect, Pad::Reflect),
        ("edge", PadMode::Edge, Pad::Edge),
    ];
    for (k, (name, mode, reference)) in modes.into_iter().enumerate() {
        let x = grid(&[1, 2, 3, 3], -1.0, 1.0, 106 + k as u32);
        let want = naive::pad(&x.t, &pads, reference);
        v.push(case(
            &format!("pad_{name}"),
            vec![x],
            vec![want],
            true,
            true,
            move |b, i| Ok(vec![b.pad(i[0], &pads, mode)?]),
        ));
    }

    let resizes: [ResizeCase; 4] = [
        (
            "nearest_asymmetric_floor",
            ResizeParams {
                mode: ResizeMode::Nearest,
                coord: CoordMode::Asymmetric,
                nearest: NearestMode::Floor,
            },
            Coord::Asymmetric,
            Interp::Nearest { floor: true },
            [6, 6],
            true,
        ),
        (
            "nearest_half_pixel",
            ResizeParams::default(),
            Coord::HalfPixel,
            Interp::Nearest { floor: false },
            [5, 7],
            true,
        ),
        (
            "linear_half_pixel",
            ResizeParams {
                mode: ResizeMode::Linear,
                ..ResizeParams::default()
            },
            Coord::HalfPixel,
            Interp::Linear,
            [5, 7],
            false,
        ),
        (
            "linear_align_corners",
            ResizeParams {
                mode: ResizeMode::Linear,
                coord: CoordMode::AlignCorners,
                ..ResizeParams::default()
            },
            Coord::AlignCorners,
            Interp::Linear,
            [6, 4],
            false,
        ),
    ];
    for (k, (name, params, coord, interp, size, inherit)) in resizes.into_iter().enumerate() {
        let x = grid(&[1, 2, 3, 3], -1.0, 1.0, 110 + k as u32);
        let want = naive::resize(&x.t, size, coord, interp);
        v.push(case(
            &format!("resize_{name}"),
            vec![x],
            vec![want],
            true,
            inherit,
            move |b, i| Ok(vec![b.resize(i[0], size, params)?]),
        ));
    }

    let x = grid(&[4, 3], -1.0, 1.0, 120);
    let idx = [0i64, -1, 2, 1];
    let mut want = T::zeros(&[2, 2, 3]);
    for (k, &r) in idx.iter().enumerate() {
        let r = if r < 0 { r + 4 } else { r } as usize;
        for c in 0..3 {
            want.set(&[k / 2, k % 2, c], x.t.at(&[r, c]));
        }
    }
    v.push(case(
        "gather",
        vec![x],
        vec![want],
        true,
        true,
        move |b, i| {
            let k = b.constant("indices", &[2, 2], ConstData::I64(idx.to_vec()))?;
            Ok(vec![b.gather(i[0], k, 0)?])
        },
    ));

    let x = grid(&[2, 5, 3], -1.0, 1.0, 121);
    let mut want = T::zeros(&[2, 3]);
    for n in 0..2 {
        for c in 0..3 {
            let col: Vec<f32> = (0..5).map(|j| x.t.at(&[n, j, c])).collect();
            let best = (0..5).fold(0, |b, j| if col[j] > col[b] { j } else { b });
            want.set(&[n, c], best as f32);
        }
    }
    v.push(case("argmax", vec![x], vec![want], true, true, |b, i| {
        Ok(vec![b.argmax(i[0], 1, false)?])
    }));
    v
}

fn float_only_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let x = grid(&[2, 5, 3], -2.0, 2.0, 130);
    let want = naive::softmax(&x.t, 1);
    v.push(case(
        "softmax",
        vec![x],
        vec![want],
        false,
        false,
        |b, i| Ok(vec![b.softmax(i[0], 1)?]),
    ));

    let x = grid(&[2, 3, 8], -2.0, 2.0, 131);
    let scale = plain(&[8], 0.5, 1.5, 132);
    let bias = plain(&[8], -0.5, 0.5, 133);
    let mut want = x.t.clone();
    for row in 0..6 {
        let r = &x.t.data[row * 8..row * 8 + 8];
        let mean = r.iter().map(|&v| v as f64).sum::<f64>() / 8.0;
        let var = r.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / 8.0;
        for j in 0..8 {
            let y = (r[j] as f64 - mean) / (var + 1e-5).sqrt() * scale[j] as f64 + bias[j] as f64;
            want.data[row * 8 + j] = y as f32;
        }
    }
    v.push(case(
        "layer_norm",
        vec![x],
        vec![want],
        false,
        false,
        move |b, i| {
            Ok(vec![b.layer_norm(
                i[0],
                -1,
                scale.clone(),
                Some(bias.clone()),
                1e-5,
            )?])
        },
    ));

    let reductions: [ReduceCase; 3] = [
        (
            "mean",
            ReduceOp::Mean,
            |v| (v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64) as f32,
            false,
        ),
        (
            "sum",
            ReduceOp::Sum,
            |v| v.iter().map(|&x| x as f64).sum::<f64>() as f32,
            false,
        ),
        ("max", ReduceOp::Max, max_of, true),
    ];
    for (k, (name, op, f, int8)) in reductions.into_iter().enumerate() {
        let x = grid(&[2, 3, 4], -1.0, 1.0, 140 + k as u32);
        let keep = naive::reduce(&x.t, &[1], true, f);
        let drop = naive::reduce(&x.t, &[0, 2], false, f);
        v.push(case(
            &format!("reduce_{name}"),
            vec![x],
            vec![keep, drop],
            int8,
            true,
            move |b, i| {
                Ok(vec![
                    b.reduce(i[0], op, &[1], true)?,
                    b.reduce(i[0], op, &[0, -1], false)?,
                ])
            },
        ));
    }

    let frac: Vec<f32> = (0..10)
        .map(|k| (k as f32 - 5.0) * 1.5 + if k % 2 == 0 { 0.3 } else { -0.6 })
        .collect();
    let x = Input {
        t: T::new(&[2, 5], frac),
        range: (-8.0, 8.0),
    };
    let trunc = x.t.map(f32::trunc);
    let halfs = x.t.map(|v| f16::from_f32(v).to_f32());
    v.push(case(
        "cast_i32",
        vec![x.clone()],
        vec![trunc],
        false,
        false,
        |b, i| Ok(vec![b.cast(i[0], DType::I32)?]),
    ));
    let mut to_half = case("cast_f16", vec![x], vec![halfs], false, false, |b, i| {
        Ok(vec![b.cast(i[0], DType::F16)?])
    });
    to_half.fp16 = false;
    v.push(to_half);

    // Int8 around a float-only op: the quantizer emits Dequantize before
    // the softmax and Quantize after it.
    let x = grid(&[1, 6], -2.0, 2.0, 150);
    let want = naive::softmax(&x.t.map(|v| v.max(0.0)), 1);
    v.push(Case {
        name: "quantize_dequantize".into(),
        inputs: vec![x],
        build: Box::new(|b, i| {
            let r1 = b.relu(i[0])?;
            let s = b.softmax(r1, 1)?;
            let r2 = b.relu(s)?;
            Ok(Net {
                outputs: vec![r2],
                ranges: vec![(r1, -2.0, 2.0), (s, 0.0, 1.0)],
            })
        }),
        expect: vec![want],
        int8: true,
        inherit: false,
        fp16: true,
    });
    v
}

/// `cstScale` compute: output = input × the float attribute `alpha`.
unsafe extern "C" fn scale_compute(
    op_ctx: *mut rknn_custom_op_context,
    inputs: *mut rknn_custom_op_tensor,
    _n_inputs: u32,
    outputs: *mut rknn_custom_op_tensor,
    _n_outputs: u32,
) -> c_int {
    let mut a = rknn_custom_op_attr::default();
    // SAFETY: the runtime passes valid structs; the input and output hold
    // n_elems float32 values at virt_addr + offset.
    unsafe {
        rknn_custom_op_get_op_attr(op_ctx, c"alpha".as_ptr(), &mut a);
        if a.n_elems != 1 || a.dtype != RKNN_TENSOR_FLOAT32 {
            return -1;
        }
        let alpha = *a.data.cast::<f32>();
        let (i, o) = (&*inputs, &*outputs);
        let n = i.attr.n_elems as usize;
        let x = std::slice::from_raw_parts(
            i.mem
                .virt_addr
                .cast::<u8>()
                .add(i.mem.offset as usize)
                .cast::<f32>(),
            n,
        );
        let y = std::slice::from_raw_parts_mut(
            o.mem
                .virt_addr
                .cast::<u8>()
                .add(o.mem.offset as usize)
                .cast::<f32>(),
            n,
        );
        for (y, x) in y.iter_mut().zip(x) {
            *y = x * alpha;
        }
    }
    0
}

/// Runs `model` once on float32 inputs with `cstScale` registered.
fn run_f32(model: &[u8], inputs: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let s = Session::new(model).unwrap_or_else(|e| panic!("rknn_init failed: {e}"));
    let mut op = rknn_custom_op {
        version: 1,
        target: RKNN_TARGET_TYPE_CPU,
        compute: Some(scale_compute),
        ..Default::default()
    };
    for (d, b) in op.op_type.iter_mut().zip(b"cstScale") {
        *d = *b as c_char;
    }
    // SAFETY: one valid op struct.
    let r = unsafe { rknn_register_custom_ops(s.ctx(), &mut op, 1) };
    assert_eq!(r, RKNN_SUCC, "rknn_register_custom_ops");
    let mut inputs: Vec<RunInput> = inputs.iter().cloned().map(RunInput::F32).collect();
    s.infer(&mut inputs)
        .unwrap_or_else(|e| panic!("inference failed: {e}"))
}

fn custom_cases() -> Vec<Case> {
    let x = grid(&[1, 2, 3, 3], -2.0, 2.0, 160);
    let want = x.t.map(|v| v * 0.5);
    let mut v = vec![case(
        "custom_scale",
        vec![x],
        vec![want],
        true,
        false,
        |b, i| {
            let op = CustomOp {
                op_type: "cstScale".into(),
                attrs: vec![CustomAttr {
                    name: "alpha".into(),
                    value: AttrValue::Float(0.5),
                }],
                fallback: None,
            };
            let shape = b.shape(i[0])?.to_vec();
            b.custom(op, &[i[0]], &[(shape, DType::F32)])
        },
    )];
    // Between int8 ops: Dequantize before it, a float32 Relu after it.
    let x = grid(&[1, 6], -2.0, 2.0, 161);
    let want = x.t.map(|v| (v.max(0.0) * 0.5).max(0.0));
    v.push(Case {
        name: "custom_between_int8_ops".into(),
        inputs: vec![x],
        build: Box::new(|b, i| {
            let r1 = b.relu(i[0])?;
            let op = CustomOp {
                op_type: "cstScale".into(),
                attrs: vec![CustomAttr {
                    name: "alpha".into(),
                    value: AttrValue::Float(0.5),
                }],
                fallback: None,
            };
            let c = b.custom(op, &[r1], &[(vec![1, 6], DType::F32)])?[0];
            let r2 = b.relu(c)?;
            Ok(Net {
                outputs: vec![r2],
                ranges: vec![(r1, 0.0, 2.0)],
            })
        }),
        expect: vec![want],
        int8: true,
        inherit: false,
        fp16: true,
    });
    v
}

fn all_cases() -> Vec<Case> {
    [
        conv_cases(),
        linear_cases(),
        elementwise_cases(),
        pool_cases(),
        movement_cases(),
        float_only_cases(),
        custom_cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

// ---- running -------------------------------------------------------------

/// The float model of a case and its ids.
fn build_case(c: &Case) -> (BuiltModel, Vec<TensorId>, Net) {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let ids: Vec<TensorId> = c
        .inputs
        .iter()
        .enumerate()
        .map(|(k, x)| b.input(&format!("in{k}"), &x.t.shape).expect("input"))
        .collect();
    let net = (c.build)(&mut b, &ids).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    for &o in &net.outputs {
        b.output(o).expect("output");
    }
    (b.build().expect("model"), ids, net)
}

fn magnitude(t: &T) -> f32 {
    t.data.iter().fold(1f32, |m, v| m.max(v.abs()))
}

/// Compares `got` with the reference; `Err` describes the worst element.
fn compare(
    what: &str,
    got: &[Vec<f32>],
    want: &[T],
    tol: &dyn Fn(usize, &T) -> f32,
) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{what}: {} outputs, want {}",
            got.len(),
            want.len()
        ));
    }
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        if g.len() != w.data.len() {
            return Err(format!(
                "{what} output {k}: {} values, want {}",
                g.len(),
                w.data.len()
            ));
        }
        let err = max_abs_err(g, &w.data);
        let t = tol(k, w);
        if err.is_nan() || err > t {
            return Err(format!("{what} output {k}: max |err| {err} > {t}"));
        }
    }
    Ok(())
}

#[derive(Default)]
struct Coverage {
    /// Kinds of every node of every float32 model that ran.
    float_kinds: BTreeSet<String>,
    /// Variants of every node that ran in any build.
    variants: BTreeSet<&'static str>,
    /// Variants with an int8 kernel that appear in a float model.
    need_int8: BTreeSet<&'static str>,
    /// Variants that ran on int8 input in a quantized model.
    ran_int8: BTreeSet<&'static str>,
}

fn run_case(c: &Case, cov: &mut Coverage) -> Result<(), String> {
    let (model, ids, net) = build_case(c);
    let bytes = model.write().map_err(|e| format!("write: {e}"))?;
    let data: Vec<Vec<f32>> = c.inputs.iter().map(|x| x.t.data.clone()).collect();
    let got = run_f32(&bytes, &data);
    compare("f32", &got, &c.expect, &|_, w| 2e-5 * magnitude(w))?;
    for n in &model.graph.nodes {
        cov.float_kinds.insert(kind(&n.op));
        cov.variants.insert(variant(&n.op));
        if placement::rule(&n.op).int8 != Int8Support::FloatOnly {
            cov.need_int8.insert(variant(&n.op));
        }
    }

    if c.fp16 {
        let half = to_fp16(&model).map_err(|e| format!("fp16: {e}"))?;
        let got = run_f32(
            &half.write().map_err(|e| format!("fp16 write: {e}"))?,
            &data,
        );
        compare("fp16", &got, &c.expect, &|_, w| 3e-3 * magnitude(w))?;
    }

    if !c.int8 {
        return Ok(());
    }
    let mut cfg = QuantConfig::new();
    for (&id, x) in ids.iter().zip(&c.inputs) {
        cfg = cfg.range(id, x.range.0, x.range.1);
    }
    for &(t, lo, hi) in &net.ranges {
        cfg = cfg.range(t, lo, hi);
    }
    if !c.inherit {
        for (&o, w) in net.outputs.iter().zip(&c.expect) {
            let lo = w.data.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = w.data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            cfg = cfg.range(o, lo, hi);
        }
    }
    let q = quantize_int8(&model, &cfg).map_err(|e| format!("int8: {e}"))?;
    for n in &q.graph.nodes {
        cov.variants.insert(variant(&n.op));
        let first = n.inputs.first().map(|&t| q.graph.tensors[t].dtype);
        if first == Some(DType::I8) {
            cov.ran_int8.insert(variant(&n.op));
        }
    }
    let got = run_f32(&q.write().map_err(|e| format!("int8 write: {e}"))?, &data);
    let out_info: Vec<_> = q
        .graph
        .outputs
        .iter()
        .map(|&o| q.graph.tensors[o].clone())
        .collect();
    compare(
        "int8",
        &got,
        &c.expect,
        &|k, w| match (&out_info[k].dtype, &out_info[k].quant) {
            (DType::I8, Some(qp)) => 2.0 * qp.scale[0] + 1e-6,
            (DType::I64, _) => 0.0,
            _ => 2e-5 * magnitude(w),
        },
    )
}

#[test]
fn every_op_runs_and_computes_the_reference() {
    let mut cov = Coverage::default();
    let mut failures = Vec::new();
    let cases = all_cases();
    for c in &cases {
        if let Err(e) = run_case(c, &mut cov) {
            failures.push(format!("{}: {e}", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    let missing: Vec<String> = float_kinds()
        .difference(&cov.float_kinds)
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "ops without a float32 case: {missing:?}"
    );
    let missing: Vec<&str> = VARIANTS
        .iter()
        .copied()
        .filter(|v| !cov.variants.contains(v))
        .collect();
    assert!(missing.is_empty(), "variants never run: {missing:?}");
    let missing: Vec<&str> = cov.need_int8.difference(&cov.ran_int8).copied().collect();
    assert!(
        missing.is_empty(),
        "ops with an int8 kernel never run in int8: {missing:?}"
    );
}

#[test]
fn naming_is_consistent() {
    let kinds = float_kinds();
    assert_eq!(VARIANTS.len(), 27);
    for k in &kinds {
        let v = k.split(':').next().unwrap();
        assert!(VARIANTS.contains(&v), "{k}");
    }
    assert_eq!(kind(&Op::MatMul), "MatMul");
    assert_eq!(
        kind(&Op::Unary {
            act: Activation::Gelu { tanh_approx: true }
        }),
        "Unary:GeluTanh"
    );
}
