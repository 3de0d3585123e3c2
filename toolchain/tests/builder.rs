//! Builds a small CNN with the builder API, checks the graph, quantizes it
//! and checks the quantized weights, then writes and parses the file.

use rknn_toolchain::quantize::{
    params_from_range, quantize_bias, quantize_int8, quantize_symmetric, to_fp16, QuantConfig,
};
use rknn_toolchain::{BuiltModel, ConstData, ConvParams, ModelBuilder, PoolParams, Weights};
use rknnrt::graph::{DType, Op, Quant, Target, TensorId};
use rknnrt::kernels::quant;
use rknnrt::platform::Platform;

struct Cnn {
    model: BuiltModel,
    x: TensorId,
    conv1: TensorId,
    conv2: TensorId,
    gap: TensorId,
    fc: TensorId,
    prob: TensorId,
    w1: Vec<f32>,
    b1: Vec<f32>,
}

/// Deterministic pseudo-random values in [-scale, scale].
fn values(n: usize, seed: u32, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            ((s % 2001) as f32 / 1000.0 - 1.0) * scale
        })
        .collect()
}

/// conv(3x3, relu) -> maxpool 2 -> conv(3x3, stride 2, relu) -> GAP ->
/// flatten -> gemm -> softmax on a 1x3x16x16 input.
fn cnn() -> Cnn {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("images", &[1, 3, 16, 16]).unwrap();
    let w1 = values(8 * 3 * 9, 1, 0.5);
    let b1 = values(8, 2, 0.1);
    let conv1 = b
        .conv2d(
            x,
            Weights::new(&[8, 3, 3, 3], w1.clone()).unwrap(),
            Some(b1.clone()),
            ConvParams::default().pads(1).relu(),
        )
        .unwrap();
    let pool = b.max_pool2d(conv1, PoolParams::new(2)).unwrap();
    let conv2 = b
        .conv2d(
            pool,
            Weights::new(&[16, 8, 3, 3], values(16 * 8 * 9, 3, 0.3)).unwrap(),
            Some(values(16, 4, 0.1)),
            ConvParams::default().pads(1).stride(2).relu(),
        )
        .unwrap();
    let gap = b.global_avg_pool(conv2).unwrap();
    let flat = b.flatten(gap, 1).unwrap();
    let fc = b
        .fully_connected(
            flat,
            Weights::new(&[10, 16], values(160, 5, 0.4)).unwrap(),
            Some(values(10, 6, 0.05)),
            None,
        )
        .unwrap();
    let prob = b.softmax(fc, -1).unwrap();
    b.set_name(prob, "prob").unwrap();
    b.output(prob).unwrap();
    b.mean_std(x, &[123.7, 116.3, 103.5], &[58.4, 57.1, 57.4])
        .unwrap();
    b.custom_string("tiny-cnn").unwrap();
    Cnn {
        model: b.build().unwrap(),
        x,
        conv1,
        conv2,
        gap,
        fc,
        prob,
        w1,
        b1,
    }
}

fn config(c: &Cnn) -> QuantConfig {
    QuantConfig::new()
        .range(c.x, -2.2, 2.7)
        .range(c.conv1, 0.0, 3.0)
        .range(c.conv2, 0.0, 2.0)
        .range(c.gap, 0.0, 1.0)
        .range(c.fc, -1.5, 1.5)
        .range(c.prob, 0.0, 1.0)
}

#[test]
fn float_graph_has_the_expected_nodes_and_shapes() {
    let c = cnn();
    let g = &c.model.graph;
    let ops: Vec<&str> = g.nodes.iter().map(|n| n.op.type_name()).collect();
    assert_eq!(
        ops,
        [
            "Conv",
            "MaxPool",
            "Conv",
            "GlobalAveragePool",
            "Reshape",
            "Gemm",
            "Softmax"
        ]
    );
    let shape = |id: TensorId| g.tensors[id].shape.clone();
    assert_eq!(shape(c.conv1), [1, 8, 16, 16]);
    assert_eq!(shape(c.conv2), [1, 16, 4, 4]);
    assert_eq!(shape(c.gap), [1, 16, 1, 1]);
    assert_eq!(shape(c.fc), [1, 10]);
    assert_eq!(shape(c.prob), [1, 10]);
    assert!(g.nodes.iter().all(|n| n.target == Target::Cpu));
    assert!(g.tensors.iter().all(|t| t.dtype == DType::F32));
    assert_eq!(g.inputs, vec![c.x]);
    assert_eq!(g.outputs, vec![c.prob]);
    assert_eq!(c.model.preprocess[0].mean, vec![123.7, 116.3, 103.5]);
    let gemm = &g.nodes[5];
    assert!(matches!(gemm.op, Op::Gemm { trans_b: true, .. }));
    assert_eq!(g.tensors[gemm.inputs[1]].shape, [10, 16]);
}

#[test]
fn quantized_graph_follows_the_documented_rules() {
    let c = cnn();
    let q = quantize_int8(&c.model, &config(&c)).unwrap();
    let g = &q.graph;
    let t = |id: TensorId| &g.tensors[id];

    let (sx, zx) = params_from_range(-2.2, 2.7);
    assert_eq!(sx, 4.9 / 255.0);
    assert_eq!(zx, quant::round(-128.0 + 2.2 / sx) as i32);
    assert_eq!(t(g.inputs[0]).dtype, DType::I8);
    assert_eq!(t(g.inputs[0]).quant, Some(Quant::per_tensor(sx, zx)));

    let conv1 = g.nodes.iter().find(|n| n.op.type_name() == "Conv").unwrap();
    assert_eq!(conv1.target, Target::Npu);
    let (qw, sw) = quantize_symmetric(&c.w1, &[8, 3, 3, 3], Some(0));
    for (ch, chunk) in c.w1.chunks(27).enumerate() {
        let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert_eq!(sw[ch], amax / 127.0);
        for (i, &v) in chunk.iter().enumerate() {
            assert_eq!(
                qw[ch * 27 + i],
                quant::round(v * (1.0 / sw[ch])).clamp(-128.0, 127.0) as i8
            );
        }
    }
    assert_eq!(q.consts[&conv1.inputs[1]], ConstData::I8(qw));
    let (qb, sb) = quantize_bias(&c.b1, sx, &sw);
    for (ch, &b) in c.b1.iter().enumerate() {
        assert_eq!(sb[ch], sx * sw[ch]);
        assert_eq!(qb[ch], quant::round(b / (sx * sw[ch])) as i32);
    }
    assert_eq!(q.consts[&conv1.inputs[2]], ConstData::I32(qb));
    assert_eq!(
        t(conv1.inputs[2]).quant,
        Some(Quant::per_channel(sb, vec![0; 8], 0))
    );

    // MaxPool inherits conv1's parameters; flatten inherits GAP's.
    let (s1, z1) = params_from_range(0.0, 3.0);
    let pool = g
        .nodes
        .iter()
        .find(|n| n.op.type_name() == "MaxPool")
        .unwrap();
    assert_eq!(t(pool.outputs[0]).quant, Some(Quant::per_tensor(s1, z1)));
    let reshape = g
        .nodes
        .iter()
        .find(|n| n.op.type_name() == "Reshape")
        .unwrap();
    assert_eq!(
        t(reshape.outputs[0]).quant,
        Some(Quant::per_tensor(1.0 / 255.0, -128))
    );

    // Softmax runs in float on the CPU after a Dequantize.
    let ops: Vec<(&str, Target)> = g
        .nodes
        .iter()
        .map(|n| (n.op.type_name(), n.target))
        .collect();
    assert_eq!(
        ops,
        [
            ("Conv", Target::Npu),
            ("MaxPool", Target::Npu),
            ("Conv", Target::Npu),
            ("GlobalAveragePool", Target::Npu),
            ("Reshape", Target::Npu),
            ("Gemm", Target::Npu),
            ("DequantizeLinear", Target::Cpu),
            ("Softmax", Target::Cpu),
        ]
    );
    assert_eq!(t(g.outputs[0]).dtype, DType::F32);
    assert_eq!(t(g.outputs[0]).name, "prob");
}

fn round_trip(model: &BuiltModel) {
    let (meta, weights) = model.to_meta().unwrap();
    assert!(meta.producer.starts_with("rknn-toolchain "));
    for t in meta.graph.tensors.iter() {
        if let rknnrt::graph::Storage::Weight { offset, .. } = t.storage {
            assert_eq!(offset % 64, 0, "{} is not 64-byte aligned", t.name);
        }
    }
    let bytes = model.write().unwrap();
    let (parsed, range) = rknnrt::model::parse(&bytes).unwrap();
    assert_eq!(parsed, meta);
    assert_eq!(&bytes[range], &weights[..]);
}

#[test]
fn float_model_round_trips_through_the_container() {
    round_trip(&cnn().model);
}

#[test]
fn int8_model_round_trips_through_the_container() {
    let c = cnn();
    round_trip(&quantize_int8(&c.model, &config(&c)).unwrap());
}

#[test]
fn fp16_model_round_trips_and_saves() {
    let c = cnn();
    let h = to_fp16(&c.model).unwrap();
    round_trip(&h);
    let path =
        std::env::temp_dir().join(format!("rknn-toolchain-test-{}.rknn", std::process::id()));
    h.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let (parsed, _) = rknnrt::model::parse(&bytes).unwrap();
    assert_eq!(parsed.custom_string, "tiny-cnn");
    assert_eq!(parsed.platform, Platform::Rk3588);
}
