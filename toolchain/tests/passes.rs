//! The graph passes: each test builds a float model with the patterns the
//! ONNX importer produces, runs it before and after `passes::optimize`
//! through the C API on pseudo-random inputs, and checks that the outputs
//! agree and the graph shrank as expected.

mod common;

use common::{cosine, max_abs_err, run_f32, value_range, values};
use rknn_toolchain::passes::{optimize, optimize_with, PassOptions, PassReport};
use rknn_toolchain::quantize::{quantize_int8, QuantConfig};
use rknn_toolchain::{
    BuiltModel, ConstData, ConvParams, ConvTransposeParams, GemmParams, ModelBuilder, PoolParams,
    Weights,
};
use rknnrt::graph::{Activation, Op, PadMode, Target};
use rknnrt::platform::Platform;

fn w(shape: &[usize], seed: u32) -> Weights {
    let n = shape.iter().product();
    Weights::new(shape, values(n, seed, -1.0, 1.0)).unwrap()
}

fn cst(b: &mut ModelBuilder, name: &str, shape: &[usize], seed: u32, lo: f32, hi: f32) -> usize {
    let n = shape.iter().product();
    b.constant(name, shape, ConstData::F32(values(n, seed, lo, hi)))
        .unwrap()
}

fn inputs_of(m: &BuiltModel, lo: f32, hi: f32) -> Vec<Vec<f32>> {
    m.graph
        .inputs
        .iter()
        .enumerate()
        .map(|(i, &t)| values(m.graph.tensors[t].elems(), 100 + i as u32, lo, hi))
        .collect()
}

/// Outputs of both models on the same inputs agree to f32 rounding.
fn assert_same_outputs(before: &BuiltModel, after: &BuiltModel, inputs: &[Vec<f32>]) {
    let a = run_f32(&before.write().unwrap(), inputs);
    let b = run_f32(&after.write().unwrap(), inputs);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        let tol = 1e-5 * value_range(x).max(1.0) * 4.0;
        let err = max_abs_err(x, y);
        assert!(err <= tol, "max error {err} > {tol}");
    }
}

fn optimized(m: &BuiltModel) -> (BuiltModel, PassReport) {
    optimize(m.clone()).unwrap()
}

fn op_names(m: &BuiltModel) -> Vec<&str> {
    m.graph.nodes.iter().map(|n| n.op.type_name()).collect()
}

fn conv_act(m: &BuiltModel, i: usize) -> Option<Activation> {
    match &m.graph.nodes[i].op {
        Op::Conv { activation, .. }
        | Op::ConvTranspose { activation, .. }
        | Op::Gemm { activation, .. }
        | Op::Binary { activation, .. } => *activation,
        _ => None,
    }
}

fn changed(r: &PassReport, what: &str) -> usize {
    r.changes.iter().filter(|c| c.contains(what)).count()
}

#[test]
fn constant_subgraphs_are_folded() {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &[2, 6]).unwrap();
    let c1 = cst(&mut b, "c1", &[2, 3], 1, -1.0, 1.0);
    let c2 = cst(&mut b, "c2", &[6], 2, -1.0, 1.0);
    let t = b.transpose(c1, &[1, 0]).unwrap();
    let r = b.reshape(t, &[6]).unwrap();
    let s = b.add(r, c2).unwrap();
    let e = b.sigmoid(s).unwrap();
    let y = b.mul(x, e).unwrap();
    b.output(y).unwrap();
    let m = b.build().unwrap();
    let (opt, report) = optimized(&m);
    assert_eq!(op_names(&m).len(), 5);
    assert_eq!(op_names(&opt), ["Mul"]);
    assert_eq!(
        changed(&report, "folded constant"),
        4,
        "{:?}",
        report.changes
    );
    assert_eq!((report.nodes_before, report.nodes_after), (5, 1));
    assert_same_outputs(&m, &opt, &inputs_of(&m, -3.0, 3.0));
}

/// Conv → Mul [C,1,1] → Add [C,1,1] → Relu, as imported from
/// Conv + BatchNormalization + Relu.
fn conv_bn_relu(bias: bool) -> BuiltModel {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &[1, 3, 9, 9]).unwrap();
    let bias = bias.then(|| values(4, 3, -1.0, 1.0));
    let c = b
        .conv2d(x, w(&[4, 3, 3, 3], 4), bias, ConvParams::default().pads(1))
        .unwrap();
    let s = cst(&mut b, "bn_scale", &[4, 1, 1], 5, 0.5, 2.0);
    let o = cst(&mut b, "bn_shift", &[4, 1, 1], 6, -1.0, 1.0);
    let m = b.mul(c, s).unwrap();
    let a = b.add(m, o).unwrap();
    let y = b.relu(a).unwrap();
    b.set_name(y, "y").unwrap();
    b.output(y).unwrap();
    b.build().unwrap()
}

#[test]
fn batchnorm_and_relu_fold_into_conv() {
    for bias in [true, false] {
        let m = conv_bn_relu(bias);
        let (opt, report) = optimized(&m);
        assert_eq!(op_names(&opt), ["Conv"], "{:?}", report.changes);
        assert_eq!(conv_act(&opt, 0), Some(Activation::Relu));
        assert_eq!(opt.graph.nodes[0].inputs.len(), 3, "a bias was created");
        assert_eq!(opt.graph.tensors[opt.graph.outputs[0]].name, "y");
        assert_eq!(changed(&report, "into Conv"), 3, "{:?}", report.changes);
        assert_same_outputs(&m, &opt, &inputs_of(&m, -2.0, 2.0));
    }
}

#[test]
fn batchnorm_is_kept_when_the_conv_output_is_read_twice() {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &[1, 3, 6, 6]).unwrap();
    let c = b
        .conv2d(x, w(&[4, 3, 1, 1], 7), None, ConvParams::default())
        .unwrap();
    let s = cst(&mut b, "s", &[4, 1, 1], 8, 0.5, 2.0);
    let y = b.mul(c, s).unwrap();
    b.output(y).unwrap();
    b.output(c).unwrap();
    let m = b.build().unwrap();
    let (opt, _) = optimized(&m);
    assert_eq!(op_names(&opt), ["Conv", "Mul"]);
    assert_same_outputs(&m, &opt, &inputs_of(&m, -2.0, 2.0));
}

#[test]
fn per_tensor_and_non_channel_constants_are_handled() {
    // A scalar scale folds; a constant varying along W does not.
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &[1, 2, 4, 4]).unwrap();
    let c = b
        .conv2d(
            x,
            w(&[3, 2, 1, 1], 9),
            Some(vec![0.1, 0.2, 0.3]),
            ConvParams::default(),
        )
        .unwrap();
    let s = cst(&mut b, "s", &[1], 10, 0.5, 2.0);
    let m1 = b.div(c, s).unwrap();
    let c2 = b
        .conv2d(m1, w(&[3, 3, 1, 1], 11), None, ConvParams::default())
        .unwrap();
    let row = cst(&mut b, "row", &[4], 12, -1.0, 1.0);
    let y = b.sub(c2, row).unwrap();
    b.output(y).unwrap();
    let m = b.build().unwrap();
    let (opt, report) = optimized(&m);
    assert_eq!(
        op_names(&opt),
        ["Conv", "Conv", "Sub"],
        "{:?}",
        report.changes
    );
    assert_same_outputs(&m, &opt, &inputs_of(&m, -2.0, 2.0));
}

#[test]
fn batchnorm_folds_into_gemm_and_conv_transpose() {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &[1, 4, 5, 5]).unwrap();
    let ct = b
        .conv_transpose2d(
            x,
            w(&[4, 3, 3, 3], 13),
            None,
            ConvTransposeParams {
                stride: [2, 2],
                group: 2,
                ..ConvTransposeParams::default()
            },
        )
        .unwrap();
    let s = cst(&mut b, "ct_scale", &[1, 6, 1, 1], 14, 0.5, 2.0);
    let o = cst(&mut b, "ct_shift", &[6, 1, 1], 15, -1.0, 1.0);
    let t = b.mul(s, ct).unwrap();
    let t = b.add(t, o).unwrap();
    let y1 = b.leaky_relu(t, 0.1).unwrap();
    b.output(y1).unwrap();
    let v = b.input("v", &[2, 8]).unwrap();
    for (seed, trans_b, beta) in [(16, false, 0.5), (17, true, 1.0)] {
        let bw = if trans_b {
            w(&[5, 8], seed)
        } else {
            w(&[8, 5], seed)
        };
        let g = b
            .gemm(
                v,
                bw,
                Some(w(&[5], seed + 10)),
                GemmParams {
                    alpha: 0.7,
                    beta,
                    trans_b,
                    ..GemmParams::default()
                },
            )
            .unwrap();
        let s = cst(&mut b, &format!("g_scale{seed}"), &[5], seed + 20, 0.5, 2.0);
        let o = cst(
            &mut b,
            &format!("g_shift{seed}"),
            &[1, 5],
            seed + 30,
            -1.0,
            1.0,
        );
        let t = b.mul(g, s).unwrap();
        let y = b.sub(t, o).unwrap();
        b.output(y).unwrap();
    }
    let m = b.build().unwrap();
    let (opt, report) = optimized(&m);
    assert_eq!(
        op_names(&opt),
        ["ConvTranspose", "Gemm", "Gemm"],
        "{:?}",
        report.changes
    );
    assert_eq!(
        conv_act(&opt, 0),
        Some(Activation::LeakyRelu { alpha: 0.1 })
    );
    assert_same_outputs(&m, &opt, &inputs_of(&m, -2.0, 2.0));
}

#[test]
fn mul_and_add_before_a_conv_fold_when_exact() {
    let build = |op_add: bool, pads: usize| {
        let mut b = ModelBuilder::new(Platform::Rk3588);
        let x = b.input("x", &[1, 3, 7, 7]).unwrap();
        let k = cst(&mut b, "k", &[3, 1, 1], 18, 0.5, 2.0);
        let t = if op_add { b.add(x, k) } else { b.mul(k, x) }.unwrap();
        let y = b
            .conv2d(
                t,
                w(&[6, 1, 3, 3], 19),
                None,
                ConvParams::default().pads(pads).group(3),
            )
            .unwrap();
        b.output(y).unwrap();
        b.build().unwrap()
    };
    for (add, pads, folds) in [(false, 1, true), (true, 0, true), (true, 1, false)] {
        let m = build(add, pads);
        let (opt, report) = optimized(&m);
        let want: &[&str] = if folds { &["Conv"] } else { &["Add", "Conv"] };
        assert_eq!(
            op_names(&opt),
            want,
            "add={add} pads={pads}: {:?}",
            report.changes
        );
        assert_same_outputs(&m, &opt, &inputs_of(&m, -2.0, 2.0));
    }
}

#[test]
fn spatial_zero_pads_fold_into_conv_and_pools() {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &[1, 2, 8, 8]).unwrap();
    let zero = PadMode::Constant { value: 0.0 };
    let p = b.pad(x, &[0, 0, 1, 2, 0, 0, 2, 1], zero).unwrap();
    let c = b
        .conv2d(p, w(&[3, 2, 3, 3], 20), None, ConvParams::default())
        .unwrap();
    let r = b.relu(c).unwrap();
    let p2 = b.pad(r, &[0, 0, 1, 1, 0, 0, 1, 1], zero).unwrap();
    let mp = b.max_pool2d(p2, PoolParams::new(3).stride(1)).unwrap();
    let ninf = PadMode::Constant { value: f32::MIN };
    let p3 = b.pad(mp, &[0, 0, 1, 1, 0, 0, 1, 1], ninf).unwrap();
    let mp2 = b.max_pool2d(p3, PoolParams::new(2).stride(2)).unwrap();
    let p4 = b.pad(mp2, &[0, 0, 1, 1, 0, 0, 1, 1], zero).unwrap();
    let y = b
        .avg_pool2d(p4, PoolParams::new(3).stride(1), false)
        .unwrap();
    b.output(y).unwrap();
    // Not foldable: reflect mode, and a channel pad.
    let p5 = b
        .pad(x, &[0, 0, 1, 1, 0, 0, 1, 1], PadMode::Reflect)
        .unwrap();
    let y2 = b
        .conv2d(p5, w(&[1, 2, 3, 3], 21), None, ConvParams::default())
        .unwrap();
    b.output(y2).unwrap();
    let p6 = b.pad(x, &[0, 1, 0, 0, 0, 0, 0, 0], zero).unwrap();
    let y3 = b
        .conv2d(p6, w(&[1, 3, 1, 1], 22), None, ConvParams::default())
        .unwrap();
    b.output(y3).unwrap();
    let m = b.build().unwrap();
    let (opt, report) = optimized(&m);
    assert_eq!(
        op_names(&opt),
        [
            "Conv",
            "MaxPool",
            "MaxPool",
            "AveragePool",
            "Pad",
            "Conv",
            "Pad",
            "Conv"
        ],
        "{:?}",
        report.changes
    );
    assert_eq!(changed(&report, "folded Pad"), 4, "{:?}", report.changes);
    assert_same_outputs(&m, &opt, &inputs_of(&m, -2.0, 2.0));
}

#[test]
fn zero_pad_is_not_folded_into_max_pool_of_signed_data() {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &[1, 1, 5, 5]).unwrap();
    let p = b
        .pad(
            x,
            &[0, 0, 1, 1, 0, 0, 1, 1],
            PadMode::Constant { value: 0.0 },
        )
        .unwrap();
    let y = b.max_pool2d(p, PoolParams::new(3).stride(1)).unwrap();
    b.output(y).unwrap();
    let m = b.build().unwrap();
    let (opt, _) = optimized(&m);
    assert_eq!(op_names(&opt), ["Pad", "MaxPool"]);
    assert_same_outputs(&m, &opt, &inputs_of(&m, -2.0, -1.0));
}

#[test]
fn reshapes_and_transposes_are_cleaned_up() {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &[1, 3, 4, 5]).unwrap();
    let t1 = b.transpose(x, &[0, 2, 3, 1]).unwrap();
    let t2 = b.transpose(t1, &[0, 3, 1, 2]).unwrap();
    let r = b.relu(t2).unwrap();
    let r1 = b.reshape(r, &[1, 60]).unwrap();
    let r2 = b.reshape(r1, &[1, 3, 20]).unwrap();
    let u = b.transpose(r2, &[1, 0, 2]).unwrap();
    let s = b.sigmoid(u).unwrap();
    let same = b.reshape(s, &[3, 1, 20]).unwrap();
    b.set_name(same, "y").unwrap();
    b.output(same).unwrap();
    let m = b.build().unwrap();
    let (opt, report) = optimized(&m);
    assert_eq!(
        op_names(&opt),
        ["Relu", "Reshape", "Sigmoid"],
        "{:?}",
        report.changes
    );
    let out = &opt.graph.tensors[opt.graph.outputs[0]];
    assert_eq!(
        (out.name.as_str(), out.shape.as_slice()),
        ("y", &[3, 1, 20][..])
    );
    let inp = &opt.graph.tensors[opt.graph.inputs[0]];
    assert_eq!(
        (inp.name.as_str(), inp.shape.as_slice()),
        ("x", &[1, 3, 4, 5][..])
    );
    assert_same_outputs(&m, &opt, &inputs_of(&m, -2.0, 2.0));
}

#[test]
fn reshape_between_input_and_output_stays() {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &[2, 3]).unwrap();
    let y = b.reshape(x, &[2, 3]).unwrap();
    b.output(y).unwrap();
    let m = b.build().unwrap();
    let (opt, _) = optimized(&m);
    assert_eq!(op_names(&opt), ["Reshape"]);
    assert_same_outputs(&m, &opt, &inputs_of(&m, -2.0, 2.0));
}

fn normalized_conv(pads: usize, mean: &[f32]) -> BuiltModel {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("image", &[1, 3, 8, 8]).unwrap();
    b.mean_std(x, mean, &[58.4, 57.1, 57.4]).unwrap();
    let y = b
        .conv2d(
            x,
            w(&[4, 3, 3, 3], 23),
            Some(vec![0.5; 4]),
            ConvParams::default().pads(pads).stride(2),
        )
        .unwrap();
    let y2 = b
        .conv2d(x, w(&[2, 3, 1, 1], 24), None, ConvParams::default())
        .unwrap();
    b.output(y).unwrap();
    b.output(y2).unwrap();
    b.build().unwrap()
}

#[test]
fn mean_std_folds_into_unpadded_first_convs() {
    let imagenet = [123.7, 116.3, 103.5];
    let m = normalized_conv(0, &imagenet);
    let (opt, report) = optimized(&m);
    assert_eq!(
        changed(&report, "folded mean/std"),
        1,
        "{:?}",
        report.changes
    );
    assert!(opt.preprocess[0].mean.is_empty() && opt.preprocess[0].std.is_empty());
    assert_same_outputs(&m, &opt, &inputs_of(&m, 0.0, 255.0));
    // Padding with a non-zero mean: left to the runtime.
    let m = normalized_conv(1, &imagenet);
    let (opt, report) = optimized(&m);
    assert_eq!(changed(&report, "folded mean/std"), 0);
    assert_eq!(opt.preprocess, m.preprocess);
    assert_same_outputs(&m, &opt, &inputs_of(&m, 0.0, 255.0));
    // Padding with zero means: a padded 0 stays 0, so it folds.
    let m = normalized_conv(1, &[0.0]);
    let (opt, report) = optimized(&m);
    assert_eq!(changed(&report, "folded mean/std"), 1);
    assert_same_outputs(&m, &opt, &inputs_of(&m, 0.0, 255.0));
    // Disabled by the option.
    let m = normalized_conv(0, &imagenet);
    let options = PassOptions {
        fold_mean_std: false,
        ..PassOptions::default()
    };
    let (opt, _) = optimize_with(m.clone(), &options).unwrap();
    assert_eq!(opt.preprocess, m.preprocess);
}

/// NCHW data with the channel order of every image reversed.
fn reversed_channels(x: &[f32], c: usize, hw: usize) -> Vec<f32> {
    let mut out = x.to_vec();
    for n in 0..x.len() / (c * hw) {
        for ch in 0..c {
            let dst = (n * c + ch) * hw;
            let src = (n * c + c - 1 - ch) * hw;
            out[dst..dst + hw].copy_from_slice(&x[src..src + hw]);
        }
    }
    out
}

#[test]
fn channel_swap_folds_into_conv_weights_or_inserts_a_gather() {
    let swap = PassOptions {
        swap_input_channels: true,
        ..PassOptions::default()
    };
    // Foldable (with mean/std, folded as well) and not foldable (a Relu
    // reads the input).
    for relu_reader in [false, true] {
        let mut m = normalized_conv(1, &[10.0, 20.0, 30.0]);
        if relu_reader {
            let mut b = ModelBuilder::new(Platform::Rk3566);
            let x = b.input("image", &[1, 3, 4, 4]).unwrap();
            b.mean_std(x, &[10.0, 20.0, 30.0], &[2.0, 3.0, 4.0])
                .unwrap();
            let r = b.relu(x).unwrap();
            let y = b
                .conv2d(r, w(&[2, 3, 1, 1], 25), None, ConvParams::default())
                .unwrap();
            b.output(y).unwrap();
            m = b.build().unwrap();
        }
        let (opt, report) = optimize_with(m.clone(), &swap).unwrap();
        assert_eq!(
            changed(&report, "reversed channels"),
            1,
            "{:?}",
            report.changes
        );
        assert_eq!(op_names(&opt).contains(&"Gather"), relu_reader);
        let x = inputs_of(&m, 0.0, 255.0);
        let hw = x[0].len() / 3;
        let want = run_f32(&m.write().unwrap(), &x);
        let got = run_f32(&opt.write().unwrap(), &[reversed_channels(&x[0], 3, hw)]);
        for (a, b) in want.iter().zip(&got) {
            assert!(
                max_abs_err(a, b) <= 1e-4 * value_range(a),
                "{}",
                max_abs_err(a, b)
            );
        }
    }
}

#[test]
fn memory_report_compares_the_plan_with_the_naive_sum() {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let mut t = b.input("x", &[1, 8, 16, 16]).unwrap();
    for i in 0..6 {
        t = b
            .conv2d(
                t,
                w(&[8, 8, 3, 3], 30 + i),
                None,
                ConvParams::default().pads(1),
            )
            .unwrap();
        t = b.sigmoid(t).unwrap();
    }
    b.output(t).unwrap();
    let m = b.build().unwrap();
    let (opt, report) = optimized(&m);
    assert_eq!(op_names(&opt), ["Conv"; 6]);
    let mem = report.memory;
    let one = 8 * 16 * 16 * 4;
    assert_eq!(mem.naive, 5 * one, "5 intermediates after fusion");
    assert_eq!(mem.arena, 2 * one, "a chain needs two live buffers");
    assert_eq!(mem.io, 2 * one);
    assert_eq!(mem.weights, 6 * 8 * 8 * 9 * 4);
    assert!(mem.reuse_ratio() < 0.5);
    assert_same_outputs(&m, &opt, &inputs_of(&m, -2.0, 2.0));
}

#[test]
fn a_mobilenet_style_block_shrinks_to_its_layers() {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("image", &[1, 3, 16, 16]).unwrap();
    b.mean_std(x, &[127.5], &[127.5]).unwrap();
    let bn = |b: &mut ModelBuilder, t, c: usize, seed| {
        let s = cst(b, &format!("bn{seed}_s"), &[c, 1, 1], seed, 0.5, 1.5);
        let o = cst(b, &format!("bn{seed}_b"), &[c, 1, 1], seed + 1, -0.5, 0.5);
        let t = b.mul(t, s).unwrap();
        b.add(t, o).unwrap()
    };
    let c = b
        .conv2d(
            x,
            w(&[8, 3, 2, 2], 40),
            None,
            ConvParams::default().stride(2),
        )
        .unwrap();
    let c = bn(&mut b, c, 8, 41);
    let c = b.clip(c, 0.0, 6.0).unwrap();
    let p = b
        .pad(
            c,
            &[0, 0, 1, 1, 0, 0, 1, 1],
            PadMode::Constant { value: 0.0 },
        )
        .unwrap();
    let d = b
        .depthwise_conv2d(p, w(&[8, 1, 3, 3], 43), None, ConvParams::default())
        .unwrap();
    let d = bn(&mut b, d, 8, 44);
    let d = b.relu6(d).unwrap();
    let e = b
        .conv2d(d, w(&[16, 8, 1, 1], 46), None, ConvParams::default())
        .unwrap();
    let e = bn(&mut b, e, 16, 47);
    let g = b.global_avg_pool(e).unwrap();
    let f = b.flatten(g, 1).unwrap();
    let f = b.reshape(f, &[1, 16]).unwrap();
    let y = b.fully_connected(f, w(&[10, 16], 49), None, None).unwrap();
    let y = b.softmax(y, -1).unwrap();
    b.set_name(y, "prob").unwrap();
    b.output(y).unwrap();
    let m = b.build().unwrap();
    let (opt, report) = optimized(&m);
    assert_eq!(
        op_names(&opt),
        [
            "Conv",
            "Conv",
            "Conv",
            "GlobalAveragePool",
            "Reshape",
            "Gemm",
            "Softmax"
        ],
        "{:?}",
        report.changes
    );
    assert_eq!(
        conv_act(&opt, 0),
        Some(Activation::Clip { min: 0.0, max: 6.0 })
    );
    assert_eq!(conv_act(&opt, 1), Some(Activation::Relu6));
    assert!(opt.preprocess[0].mean.is_empty());
    assert_same_outputs(&m, &opt, &inputs_of(&m, 0.0, 255.0));
    assert!(report.memory.arena <= report.memory.naive);
    // The optimized model converts to fp16 and stays close to float.
    let half = rknn_toolchain::quantize::to_fp16(&opt).unwrap();
    assert!(half
        .graph
        .nodes
        .iter()
        .take(3)
        .all(|n| n.target == Target::Npu));
    let x = inputs_of(&m, 0.0, 255.0);
    let want = run_f32(&m.write().unwrap(), &x);
    let got = run_f32(&half.write().unwrap(), &x);
    assert!(cosine(&want[0], &got[0]) > 0.999);
    // And to int8, calibrated on the same inputs.
    let int8 = quantize_int8(&opt, &calibrate(&opt, &x)).unwrap();
    let got = run_f32(&int8.write().unwrap(), &x);
    let cos = cosine(&want[0], &got[0]);
    assert!(cos > 0.99, "int8 cosine {cos}");
}

/// Min/max of every activation of `m` on `inputs` (every activation made
/// an output of a copy of the model).
fn calibrate(m: &BuiltModel, inputs: &[Vec<f32>]) -> QuantConfig {
    let mut probe = m.clone();
    let ids: Vec<usize> = (0..m.graph.tensors.len())
        .filter(|&t| !m.graph.tensors[t].is_weight() && !m.graph.inputs.contains(&t))
        .collect();
    probe.graph.outputs = ids.clone();
    let values = run_f32(&probe.write().unwrap(), inputs);
    let mut cfg = QuantConfig::new();
    for (t, v) in ids.iter().zip(&values) {
        let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        cfg = cfg.range(*t, lo, hi);
    }
    for (&t, v) in m.graph.inputs.iter().zip(inputs) {
        let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        cfg = cfg.range(t, lo, hi);
    }
    cfg
}

#[test]
fn optimization_levels_select_the_passes() {
    let mut b = ModelBuilder::new(Platform::Rk3576);
    let x = b.input("x", &[1, 3, 6, 6]).unwrap();
    b.mean_std(x, &[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
    let c = b
        .conv2d(x, w(&[2, 3, 1, 1], 60), None, ConvParams::default())
        .unwrap();
    let y = b.relu(c).unwrap();
    b.output(y).unwrap();
    let m = b.build().unwrap();
    let level = |l| optimize_with(m.clone(), &PassOptions::for_level(l)).unwrap();
    let (opt0, r0) = level(0);
    assert_eq!(opt0, m);
    assert!(r0.changes.is_empty());
    let (opt2, r2) = level(2);
    assert_eq!(op_names(&opt2), ["Conv"], "{:?}", r2.changes);
    assert_eq!(opt2.preprocess, m.preprocess);
    let (opt3, _) = level(3);
    assert_eq!(op_names(&opt3), ["Conv"]);
    assert!(opt3.preprocess[0].mean.is_empty());
    assert_eq!(PassOptions::for_level(3), PassOptions::default());
    for opt in [&opt0, &opt2, &opt3] {
        assert_same_outputs(&m, opt, &inputs_of(&m, 0.0, 255.0));
    }
}

#[test]
fn batchnorm_before_a_gemm_folds_into_b_and_c() {
    for (trans_b, bias, beta) in [(false, true, 2.0), (true, false, 1.0), (true, true, 0.0)] {
        let mut b = ModelBuilder::new(Platform::Rk3588);
        let x = b.input("x", &[2, 8]).unwrap();
        let s = cst(&mut b, "s", &[8], 61, 0.5, 2.0);
        let a = cst(&mut b, "a", &[1, 8], 62, -1.0, 1.0);
        let t = b.mul(x, s).unwrap();
        let t = b.add(a, t).unwrap();
        let bw = if trans_b {
            w(&[5, 8], 63)
        } else {
            w(&[8, 5], 63)
        };
        let y = b
            .gemm(
                t,
                bw,
                bias.then(|| w(&[1, 5], 64)),
                GemmParams {
                    alpha: 0.5,
                    beta,
                    trans_b,
                    ..GemmParams::default()
                },
            )
            .unwrap();
        b.output(y).unwrap();
        let m = b.build().unwrap();
        let (opt, report) = optimized(&m);
        assert_eq!(op_names(&opt), ["Gemm"], "{:?}", report.changes);
        assert_eq!(changed(&report, "into the input of Gemm"), 2);
        assert_same_outputs(&m, &opt, &inputs_of(&m, -2.0, 2.0));
    }
}
