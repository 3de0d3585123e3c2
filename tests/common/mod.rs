//! Small models built by hand with the graph API, for C API tests.

#![allow(dead_code)]

use rknnrt::graph::{
    Activation, DType, Graph, Node, Op, Quant, Storage, Target, TensorInfo, Window,
};
use rknnrt::model::{InputPreprocess, ModelMeta};
use rknnrt::platform::Platform;

fn meta(graph: Graph, custom: &str) -> ModelMeta {
    let preprocess = vec![InputPreprocess::default(); graph.inputs.len()];
    ModelMeta {
        graph,
        preprocess,
        platform: Platform::Rk3588,
        custom_string: custom.to_string(),
        producer: "rknnrt-tests".to_string(),
        internal_size: 0,
    }
}

/// x [1,3,4,4] f32 -> Relu -> y.
pub fn relu_model() -> Vec<u8> {
    let mut g = Graph::default();
    let x = g.add_tensor(TensorInfo::activation("x", vec![1, 3, 4, 4], DType::F32));
    let y = g.add_tensor(TensorInfo::activation("y", vec![1, 3, 4, 4], DType::F32));
    g.inputs.push(x);
    g.outputs.push(y);
    g.add_node(Node {
        name: "relu".into(),
        op: Op::Unary {
            act: Activation::Relu,
        },
        inputs: vec![x],
        outputs: vec![y],
        target: Target::Npu,
    });
    rknnrt::model::write(&meta(g, "relu test model"), &[])
}

/// An int8 model: x [1,2,3,3] int8 -> 1x1 Conv (2->2, per-channel weights,
/// int32 bias) -> y int8, with mean/std on the input.
pub fn int8_conv_model() -> Vec<u8> {
    let mut g = Graph::default();
    let mut x = TensorInfo::activation("x", vec![1, 2, 3, 3], DType::I8);
    x.quant = Some(Quant::per_tensor(1.0 / 64.0, 0));
    let x = g.add_tensor(x);
    let mut w = TensorInfo::activation("w", vec![2, 2, 1, 1], DType::I8);
    w.quant = Some(Quant::per_channel(
        vec![0.5 / 127.0, 1.0 / 127.0],
        vec![0, 0],
        0,
    ));
    w.storage = Storage::Weight { offset: 0, len: 4 };
    let w = g.add_tensor(w);
    let mut b = TensorInfo::activation("b", vec![2], DType::I32);
    b.quant = Some(Quant::per_channel(
        vec![0.5 / 127.0 / 64.0, 1.0 / 127.0 / 64.0],
        vec![0, 0],
        0,
    ));
    b.storage = Storage::Weight { offset: 64, len: 8 };
    let b = g.add_tensor(b);
    let mut y = TensorInfo::activation("y", vec![1, 2, 3, 3], DType::I8);
    y.quant = Some(Quant::per_tensor(1.0 / 32.0, -3));
    let y = g.add_tensor(y);
    g.inputs.push(x);
    g.outputs.push(y);
    g.add_node(Node {
        name: "conv".into(),
        op: Op::Conv {
            window: Window {
                kernel: [1, 1],
                stride: [1, 1],
                pads: [0; 4],
                dilation: [1, 1],
            },
            group: 1,
            activation: None,
        },
        inputs: vec![x, w, b],
        outputs: vec![y],
        target: Target::Npu,
    });
    let mut weights = vec![0u8; 72];
    for (i, v) in [127i8, -64, 32, 127].iter().enumerate() {
        weights[i] = *v as u8;
    }
    weights[64..68].copy_from_slice(&100i32.to_le_bytes());
    weights[68..72].copy_from_slice(&(-50i32).to_le_bytes());
    let mut m = meta(g, "");
    m.preprocess[0] = InputPreprocess {
        mean: vec![10.0, 20.0],
        std: vec![2.0, 4.0],
    };
    rknnrt::model::write(&m, &weights)
}

/// x [1,8] f32 -> Relu, Sigmoid and Tanh as three outputs.
pub fn three_output_model() -> Vec<u8> {
    let mut g = Graph::default();
    let x = g.add_tensor(TensorInfo::activation("x", vec![1, 8], DType::F32));
    g.inputs.push(x);
    for (name, act) in [
        ("relu", Activation::Relu),
        ("sigmoid", Activation::Sigmoid),
        ("tanh", Activation::Tanh),
    ] {
        let y = g.add_tensor(TensorInfo::activation(name, vec![1, 8], DType::F32));
        g.outputs.push(y);
        g.add_node(Node {
            name: name.into(),
            op: Op::Unary { act },
            inputs: vec![x],
            outputs: vec![y],
            target: Target::Npu,
        });
    }
    rknnrt::model::write(&meta(g, ""), &[])
}
