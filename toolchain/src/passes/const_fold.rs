//! Constant folding: a node whose inputs are all constants is evaluated
//! once with rknnrt's CPU kernels (the same code the runtime would run)
//! and its outputs become constants. Nodes producing graph outputs stay
//! (outputs must be activations), as do nodes whose output type has no
//! constant representation or whose kernel refuses the inputs (the
//! runtime then reports the problem with the node's name).

use half::f16;
use rknnrt::graph::{DType, Node, Storage};
use rknnrt::kernels::{self, In, Out};

use super::edit;
use crate::data::ConstData;
use crate::model::BuiltModel;

/// Folds every all-constant node; returns how many were folded.
pub(crate) fn run(model: &mut BuiltModel, changes: &mut Vec<String>) -> usize {
    let mut folded = vec![false; model.graph.nodes.len()];
    for (i, flag) in folded.iter_mut().enumerate() {
        let node = model.graph.nodes[i].clone();
        let all_const = node.inputs.iter().all(|t| model.consts.contains_key(t));
        let feeds_output = node.outputs.iter().any(|t| model.graph.outputs.contains(t));
        if !all_const || feeds_output {
            continue;
        }
        let Some(values) = evaluate(model, &node) else {
            continue;
        };
        for (&t, data) in node.outputs.iter().zip(values) {
            let info = &mut model.graph.tensors[t];
            info.storage = Storage::Weight {
                offset: 0,
                len: info.bytes() as u64,
            };
            model.consts.insert(t, data);
        }
        changes.push(format!(
            "folded constant {} '{}' into {}",
            node.op.type_name(),
            node.name,
            node.outputs
                .iter()
                .map(|&t| format!("'{}'", model.graph.tensors[t].name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        *flag = true;
    }
    let count = folded.iter().filter(|&&f| f).count();
    if count > 0 {
        let mut k = 0;
        model.graph.nodes.retain(|_| {
            k += 1;
            !folded[k - 1]
        });
        edit::sweep(model);
    }
    count
}

/// Runs `node` on its constant inputs; None when it cannot be folded.
fn evaluate(model: &BuiltModel, node: &Node) -> Option<Vec<ConstData>> {
    let inputs: Vec<Vec<u64>> = node
        .inputs
        .iter()
        .map(|t| aligned(&model.consts[t].to_le_bytes()))
        .collect();
    let mut outputs: Vec<Vec<u64>> = node
        .outputs
        .iter()
        .map(|&t| {
            if representable(model.graph.tensors[t].dtype) {
                Some(vec![0u64; model.graph.tensors[t].bytes().div_ceil(8)])
            } else {
                None
            }
        })
        .collect::<Option<_>>()?;
    let ins: Vec<In<'_>> = node
        .inputs
        .iter()
        .zip(&inputs)
        .map(|(&t, buf)| {
            let info = &model.graph.tensors[t];
            In {
                info,
                data: &bytemuck::cast_slice::<u64, u8>(buf)[..info.bytes()],
            }
        })
        .collect();
    let mut outs: Vec<Out<'_>> = node
        .outputs
        .iter()
        .zip(outputs.iter_mut())
        .map(|(&t, buf)| {
            let info = &model.graph.tensors[t];
            Out {
                info,
                data: &mut bytemuck::cast_slice_mut::<u64, u8>(buf)[..info.bytes()],
            }
        })
        .collect();
    kernels::execute(&node.op, &ins, &mut outs).ok()?;
    drop(outs);
    node.outputs
        .iter()
        .zip(&outputs)
        .map(|(&t, buf)| {
            let info = &model.graph.tensors[t];
            from_bytes(
                info.dtype,
                &bytemuck::cast_slice::<u64, u8>(buf)[..info.bytes()],
            )
        })
        .collect()
}

/// Whether constants of `dtype` can be stored in a [`ConstData`].
fn representable(dtype: DType) -> bool {
    matches!(
        dtype,
        DType::F32 | DType::F16 | DType::I8 | DType::U8 | DType::I32 | DType::I64
    )
}

/// Copies `bytes` into 8-byte aligned storage (what the kernels expect).
fn aligned(bytes: &[u8]) -> Vec<u64> {
    let mut buf = vec![0u64; bytes.len().div_ceil(8)];
    bytemuck::cast_slice_mut::<u64, u8>(&mut buf)[..bytes.len()].copy_from_slice(bytes);
    buf
}

/// Little-endian bytes as constant data of `dtype`.
fn from_bytes(dtype: DType, b: &[u8]) -> Option<ConstData> {
    Some(match dtype {
        DType::F32 => ConstData::F32(
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        DType::F16 => ConstData::F16(
            b.chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]))
                .collect(),
        ),
        DType::I8 => ConstData::I8(b.iter().map(|&v| v as i8).collect()),
        DType::U8 => ConstData::U8(b.to_vec()),
        DType::I32 => ConstData::I32(
            b.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        DType::I64 => ConstData::I64(
            b.chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_through_const_data() {
        for data in [
            ConstData::F32(vec![1.5, -2.0]),
            ConstData::F16(vec![f16::from_f32(0.5)]),
            ConstData::I8(vec![-3, 4]),
            ConstData::U8(vec![250]),
            ConstData::I32(vec![-7]),
            ConstData::I64(vec![1 << 40]),
        ] {
            let bytes = data.to_le_bytes();
            assert_eq!(from_bytes(data.dtype(), &bytes), Some(data.clone()));
            let buf = aligned(&bytes);
            assert_eq!(
                &bytemuck::cast_slice::<u64, u8>(&buf)[..bytes.len()],
                &bytes[..]
            );
        }
        assert_eq!(from_bytes(DType::Bool, &[1]), None);
        assert!(!representable(DType::U32));
    }
}
