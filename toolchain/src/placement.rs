//! The one table that says, per op, whether it has an int8 kernel and
//! where it is placed (first placement rule: NPU for int8/fp16 compute,
//! CPU for float-only ops and for everything in fp32).

use rknnrt::graph::{Op, ReduceOp, Target};

/// How an op relates to int8 execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Support {
    /// Computes in int8 (int32 accumulation, requantized output); in an
    /// int8 model the op always runs in int8.
    Compute,
    /// Moves or selects int8 data; runs in int8 when its first input is
    /// int8, otherwise in float (no conversion is inserted for it).
    FollowsInput,
    /// Float only: int8 inputs are dequantized before it.
    FloatOnly,
}

/// The rule for one op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpRule {
    /// Int8 behaviour.
    pub int8: Int8Support,
    /// Whether the NPU runs the op when it computes in int8 or fp16.
    pub npu: bool,
}

/// Element precision a node computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
    /// Quantized int8.
    Int8,
}

/// The table.
pub fn rule(op: &Op) -> OpRule {
    use Int8Support::*;
    let (int8, npu) = match op {
        Op::Conv { .. }
        | Op::ConvTranspose { .. }
        | Op::Gemm { .. }
        | Op::MatMul
        | Op::Binary { .. }
        | Op::Unary { .. }
        | Op::PRelu
        | Op::MaxPool { .. }
        | Op::AveragePool { .. }
        | Op::GlobalAveragePool
        | Op::GlobalMaxPool
        | Op::Resize { .. } => (Compute, true),
        Op::Reduce { op, .. } => match op {
            ReduceOp::Max => (Compute, true),
            ReduceOp::Mean | ReduceOp::Sum => (FloatOnly, false),
        },
        Op::Concat { .. }
        | Op::Split { .. }
        | Op::Slice { .. }
        | Op::Reshape
        | Op::Transpose { .. }
        | Op::Pad { .. } => (FollowsInput, true),
        Op::Gather { .. } | Op::ArgMax { .. } => (FollowsInput, false),
        Op::Softmax { .. }
        | Op::LayerNorm { .. }
        | Op::Cast { .. }
        | Op::Quantize
        | Op::Dequantize => (FloatOnly, false),
    };
    OpRule { int8, npu }
}

/// Where a node of `op` computing in `precision` runs.
pub fn target(op: &Op, precision: Precision) -> Target {
    match precision {
        Precision::F32 => Target::Cpu,
        Precision::F16 | Precision::Int8 if rule(op).npu => Target::Npu,
        _ => Target::Cpu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rknnrt::graph::{Activation, Window};

    #[test]
    fn compute_ops_go_to_the_npu_float_only_to_the_cpu() {
        let conv = Op::Conv {
            window: Window {
                kernel: [3, 3],
                stride: [1, 1],
                pads: [1, 1, 1, 1],
                dilation: [1, 1],
            },
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
    }
}
