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
        batch_size: 1,
        shape_sets: Vec::new(),
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

/// Appends `bytes` to a weights section at the next 64-byte boundary and
/// returns its storage.
fn push_weight(weights: &mut Vec<u8>, bytes: &[u8]) -> Storage {
    let offset = weights.len().next_multiple_of(64);
    weights.resize(offset, 0);
    weights.extend_from_slice(bytes);
    Storage::Weight {
        offset: offset as u64,
        len: bytes.len() as u64,
    }
}

fn conv1x1(name: &str, inputs: Vec<usize>, out: usize, relu: bool) -> Node {
    Node {
        name: name.into(),
        op: Op::Conv {
            window: Window {
                kernel: [1, 1],
                stride: [1, 1],
                pads: [0; 4],
                dilation: [1, 1],
            },
            group: 1,
            activation: relu.then_some(Activation::Relu),
        },
        inputs,
        outputs: vec![out],
        target: Target::Npu,
    }
}

/// A two-layer model with weights and an intermediate tensor in the
/// internal arena, for the zero-copy tests: x [1,3,h,w] -> 1x1 Conv
/// (3->4, bias, Relu) -> t -> 1x1 Conv (4->2, bias) -> y, with mean/std on
/// the input. `int8`: int8 tensors (per-channel weights, int32 biases),
/// else f32. `seed` varies the weights, so two models differ.
pub fn conv_chain_model(h: usize, w: usize, seed: u32, int8: bool) -> Vec<u8> {
    let mut g = Graph::default();
    let mut weights = Vec::new();
    let dt = if int8 { DType::I8 } else { DType::F32 };
    let act = |g: &mut Graph, name: &str, c: usize, scale: f32, zp: i32| {
        let mut t = TensorInfo::activation(name, vec![1, c, h, w], dt);
        if int8 {
            t.quant = Some(Quant::per_tensor(scale, zp));
        }
        g.add_tensor(t)
    };
    let x = act(&mut g, "x", 3, 1.0 / 32.0, 0);
    let t = act(&mut g, "t", 4, 1.0 / 16.0, -128);
    let y = act(&mut g, "y", 2, 1.0 / 8.0, 5);
    g.inputs.push(x);
    g.outputs.push(y);
    let mut layer = |g: &mut Graph, name: &str, cin: usize, cout: usize, in_scale: f32| {
        let vals: Vec<i32> = (0..cin * cout)
            .map(|i| ((i as u32 * 7 + seed * 13) % 17) as i32 - 8)
            .collect();
        let bias: Vec<i32> = (0..cout)
            .map(|i| ((i as u32 * 5 + seed) % 9) as i32 - 4)
            .collect();
        let mut wt = TensorInfo::activation(format!("{name}_w"), vec![cout, cin, 1, 1], dt);
        let mut bt = TensorInfo::activation(
            format!("{name}_b"),
            vec![cout],
            if int8 { DType::I32 } else { DType::F32 },
        );
        if int8 {
            let ws: Vec<f32> = (0..cout).map(|c| 0.05 + 0.01 * c as f32).collect();
            wt.quant = Some(Quant::per_channel(ws.clone(), vec![0; cout], 0));
            bt.quant = Some(Quant::per_channel(
                ws.iter().map(|s| s * in_scale).collect(),
                vec![0; cout],
                0,
            ));
            let wb: Vec<u8> = vals.iter().map(|&v| (v * 10) as i8 as u8).collect();
            wt.storage = push_weight(&mut weights, &wb);
            let bb: Vec<u8> = bias.iter().flat_map(|&v| (v * 40).to_le_bytes()).collect();
            bt.storage = push_weight(&mut weights, &bb);
        } else {
            let wb: Vec<u8> = vals
                .iter()
                .flat_map(|&v| (v as f32 * 0.125).to_le_bytes())
                .collect();
            wt.storage = push_weight(&mut weights, &wb);
            let bb: Vec<u8> = bias
                .iter()
                .flat_map(|&v| (v as f32 * 0.25).to_le_bytes())
                .collect();
            bt.storage = push_weight(&mut weights, &bb);
        }
        (g.add_tensor(wt), g.add_tensor(bt))
    };
    let (w1, b1) = layer(&mut g, "conv1", 3, 4, 1.0 / 32.0);
    let (w2, b2) = layer(&mut g, "conv2", 4, 2, 1.0 / 16.0);
    g.add_node(conv1x1("conv1", vec![x, w1, b1], t, true));
    g.add_node(conv1x1("conv2", vec![t, w2, b2], y, false));
    let mut m = meta(g, "conv chain");
    m.preprocess[0] = InputPreprocess {
        mean: vec![10.0, 20.0, 30.0],
        std: vec![64.0, 32.0, 16.0],
    };
    rknnrt::model::write(&m, &weights)
}

/// `model` (bytes of a model file) with `rknn_batch_size` `n`.
pub fn with_batch(model: &[u8], n: u32) -> Vec<u8> {
    let (mut meta, weights) = rknnrt::model::parse(model).expect("valid model");
    meta.batch_size = n;
    rknnrt::model::write(&meta, &model[weights])
}

/// Custom ops: x [1,2,3,4] f32 -> `cstSoftmax` (attributes axis 1,
/// mode "exact", scales [0.5, 2]) -> y (output 0) -> custom `ArgMax`
/// (axis 1, keepdims, with the built-in ArgMax as fallback) -> z [1,1,3,4]
/// int64 (output 1).
pub fn custom_op_model() -> Vec<u8> {
    use rknnrt::graph::{AttrValue, CustomAttr, CustomOp};
    let attr = |name: &str, value: AttrValue| CustomAttr {
        name: name.into(),
        value,
    };
    let mut g = Graph::default();
    let x = g.add_tensor(TensorInfo::activation("x", vec![1, 2, 3, 4], DType::F32));
    let y = g.add_tensor(TensorInfo::activation("y", vec![1, 2, 3, 4], DType::F32));
    let z = g.add_tensor(TensorInfo::activation("z", vec![1, 1, 3, 4], DType::I64));
    g.inputs.push(x);
    g.outputs.extend([y, z]);
    g.add_node(Node {
        name: "softmax0".into(),
        op: Op::Custom(CustomOp {
            op_type: "cstSoftmax".into(),
            attrs: vec![
                attr("axis", AttrValue::Int(1)),
                attr("mode", AttrValue::String("exact".into())),
                attr("scales", AttrValue::Floats(vec![0.5, 2.0])),
            ],
            fallback: None,
        }),
        inputs: vec![x],
        outputs: vec![y],
        target: Target::Cpu,
    });
    g.add_node(Node {
        name: "argmax0".into(),
        op: Op::Custom(CustomOp {
            op_type: "ArgMax".into(),
            attrs: vec![
                attr("axis", AttrValue::Int(1)),
                attr("keepdims", AttrValue::Int(1)),
            ],
            fallback: Some(Box::new(Op::ArgMax {
                axis: 1,
                keepdims: true,
                select_last_index: false,
            })),
        }),
        inputs: vec![y],
        outputs: vec![z],
        target: Target::Cpu,
    });
    rknnrt::model::write(&meta(g, "custom ops"), &[])
}
