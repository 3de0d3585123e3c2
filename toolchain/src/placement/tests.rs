use super::*;
use rknnrt::graph::{
    Activation, BinaryOp, CoordMode, NearestMode, PadMode, ReduceOp, ResizeMode, TensorInfo, Window,
};

fn window() -> Window {
    Window {
        kernel: [3, 3],
        stride: [1, 1],
        pads: [1, 1, 1, 1],
        dilation: [1, 1],
    }
}

/// One op of every variant (every activation, binary and reduce kind).
fn every_op() -> Vec<Op> {
    let mut ops = vec![
        Op::Conv {
            window: window(),
            group: 1,
            activation: None,
        },
        Op::ConvTranspose {
            window: window(),
            group: 1,
            output_padding: [0, 0],
            activation: None,
        },
        Op::Gemm {
            alpha: 1.0,
            beta: 1.0,
            trans_a: false,
            trans_b: false,
            activation: None,
        },
        Op::MatMul,
        Op::PRelu,
        Op::MaxPool {
            window: window(),
            ceil_mode: false,
        },
        Op::AveragePool {
            window: window(),
            ceil_mode: false,
            count_include_pad: false,
        },
        Op::GlobalAveragePool,
        Op::GlobalMaxPool,
        Op::Concat { axis: 1 },
        Op::Split { axis: 1 },
        Op::Slice {
            axes: vec![1],
            starts: vec![0],
            steps: vec![1],
        },
        Op::Reshape,
        Op::Transpose { perm: vec![1, 0] },
        Op::Pad {
            pads: vec![0, 0],
            mode: PadMode::Edge,
        },
        Op::Resize {
            mode: ResizeMode::Nearest,
            coord: CoordMode::Asymmetric,
            nearest: NearestMode::Floor,
        },
        Op::Softmax { axis: 1 },
        Op::LayerNorm {
            axis: 1,
            epsilon: 1e-5,
        },
        Op::Gather { axis: 0 },
        Op::ArgMax {
            axis: 0,
            keepdims: true,
            select_last_index: false,
        },
        Op::Cast { to: DType::F32 },
        Op::Quantize,
        Op::Dequantize,
    ];
    for op in [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Max,
        BinaryOp::Min,
    ] {
        ops.push(Op::Binary {
            op,
            activation: None,
        });
    }
    for act in [
        Activation::Relu,
        Activation::Relu6,
        Activation::Clip { min: 0.0, max: 1.0 },
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::HardSigmoid {
            alpha: 0.2,
            beta: 0.5,
        },
        Activation::HardSwish,
        Activation::Silu,
        Activation::Gelu { tanh_approx: false },
        Activation::Exp,
        Activation::Sqrt,
    ] {
        ops.push(Op::Unary { act });
    }
    for op in [ReduceOp::Mean, ReduceOp::Sum, ReduceOp::Max] {
        ops.push(Op::Reduce {
            op,
            axes: vec![1],
            keepdims: true,
        });
    }
    ops
}

#[test]
fn every_op_has_exactly_one_general_row_and_every_row_an_op() {
    let ops = every_op();
    for op in &ops {
        let n = TABLE
            .iter()
            .filter(|r| r.op_type == op.type_name() && r.case == Case::General)
            .count();
        assert_eq!(n, 1, "{}", op.type_name());
    }
    for r in TABLE {
        assert!(
            ops.iter().any(|op| op.type_name() == r.op_type),
            "row {} matches no op",
            r.op_type
        );
        let same = TABLE
            .iter()
            .filter(|q| q.op_type == r.op_type && q.case == r.case)
            .count();
        assert_eq!(same, 1, "duplicate row {} {:?}", r.op_type, r.case);
    }
    assert_eq!(entries().count(), TABLE.len() * 5 * 3);
}

#[test]
fn compute_ops_go_to_the_npu_float_only_to_the_cpu() {
    let conv = Op::Conv {
        window: window(),
        group: 1,
        activation: Some(Activation::Relu),
    };
    assert_eq!(rule(&conv).int8, Int8Support::Compute);
    assert_eq!(target(&conv, Precision::Int8), Target::Npu);
    assert_eq!(target(&conv, Precision::F16), Target::Npu);
    assert_eq!(target(&conv, Precision::F32), Target::Cpu);
    let softmax = Op::Softmax { axis: 1 };
    assert_eq!(rule(&softmax).int8, Int8Support::FloatOnly);
    assert_eq!(target(&softmax, Precision::F16), Target::Cpu);
    let mean = Op::Reduce {
        op: ReduceOp::Mean,
        axes: vec![1],
        keepdims: true,
    };
    assert_eq!(rule(&mean).int8, Int8Support::FloatOnly);
    let max = Op::Reduce {
        op: ReduceOp::Max,
        axes: vec![1],
        keepdims: true,
    };
    assert_eq!(rule(&max).int8, Int8Support::Compute);
    let gather = Op::Gather { axis: 0 };
    assert_eq!(rule(&gather).int8, Int8Support::FollowsInput);
    assert_eq!(target(&gather, Precision::Int8), Target::Cpu);
    assert_eq!(target(&Op::Reshape, Precision::Int8), Target::Npu);
    for p in Platform::ALL {
        assert_eq!(target_on(&conv, p, Precision::Int8), Target::Npu);
        assert_eq!(target_on(&softmax, p, Precision::Int8), Target::Cpu);
    }
}

fn activation(g: &mut Graph, name: &str, shape: Vec<usize>, dtype: DType) -> usize {
    g.add_tensor(TensorInfo::activation(name, shape, dtype))
}

#[test]
fn dynamic_convolution_runs_on_the_npu_of_rk3588_and_rk3576_only() {
    let mut g = Graph::default();
    let x = activation(&mut g, "x", vec![1, 2, 4, 4], DType::F16);
    let w = activation(&mut g, "w", vec![3, 2, 3, 3], DType::F16);
    let y = activation(&mut g, "y", vec![1, 3, 4, 4], DType::F16);
    g.add_node(Node {
        name: "conv".into(),
        op: Op::Conv {
            window: window(),
            group: 1,
            activation: None,
        },
        inputs: vec![x, w],
        outputs: vec![y],
        target: Target::Cpu,
    });
    assert_eq!(case_of(&g, &g.nodes[0]), Case::DynamicWeights);
    assert_eq!(node_precision(&g, &g.nodes[0]), Precision::F16);
    let on = |g: &Graph, p| node_target(g, &g.nodes[0], p);
    assert_eq!(on(&g, Platform::Rk3588), Target::Npu);
    assert_eq!(on(&g, Platform::Rk3576), Target::Npu);
    assert_eq!(on(&g, Platform::Rk3566), Target::Cpu);
    assert_eq!(on(&g, Platform::Rk3568), Target::Cpu);
    assert_eq!(on(&g, Platform::Rk3562), Target::Cpu);
    if let Op::Conv { group, .. } = &mut g.nodes[0].op {
        *group = 2;
    }
    g.tensors[w].shape = vec![3, 1, 3, 3];
    assert_eq!(case_of(&g, &g.nodes[0]), Case::DynamicWeightsGrouped);
    assert_eq!(on(&g, Platform::Rk3588), Target::Cpu);
    // With constant weights it is the general row everywhere.
    g.tensors[w].storage = rknnrt::graph::Storage::Weight { offset: 0, len: 0 };
    assert_eq!(case_of(&g, &g.nodes[0]), Case::General);
    for p in Platform::ALL {
        assert_eq!(on(&g, p), Target::Npu);
    }
    assign(&mut g, Platform::Rk3562);
    assert_eq!(g.nodes[0].target, Target::Npu);
    let list = placements(&g, Platform::Rk3566);
    assert_eq!(list.len(), 1);
    assert_eq!(
        (
            list[0].node.as_str(),
            list[0].op_type.as_str(),
            list[0].case
        ),
        ("conv", "Conv", Case::General)
    );
    assert_eq!(
        (list[0].precision, list[0].target),
        (Precision::F16, Target::Npu)
    );
}

#[test]
fn tensors_above_rank_four_stay_on_the_cpu() {
    let mut g = Graph::default();
    let x = activation(&mut g, "x", vec![1, 2, 3, 4, 5], DType::F16);
    let y = activation(&mut g, "y", vec![1, 2, 3, 5, 4], DType::F16);
    g.add_node(Node {
        name: "t".into(),
        op: Op::Transpose {
            perm: vec![0, 1, 2, 4, 3],
        },
        inputs: vec![x],
        outputs: vec![y],
        target: Target::Npu,
    });
    for p in Platform::ALL {
        assert_eq!(node_target(&g, &g.nodes[0], p), Target::Cpu);
    }
    g.tensors[x].shape = vec![2, 3, 4, 5];
    g.tensors[y].shape = vec![2, 3, 5, 4];
    assert_eq!(node_target(&g, &g.nodes[0], Platform::Rk3566), Target::Npu);
    g.tensors[x].dtype = DType::F32;
    g.tensors[y].dtype = DType::F32;
    assign(&mut g, Platform::Rk3588);
    assert_eq!(g.nodes[0].target, Target::Cpu, "fp32 runs on the CPU");
}
