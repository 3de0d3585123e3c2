//! A built model and its serialization: weights laid out 64-byte aligned,
//! [`ModelMeta`] filled in, bytes produced by `rknnrt::model::write`.

use std::collections::BTreeMap;
use std::path::Path;

use rknnrt::graph::{Graph, Storage, TensorId};
use rknnrt::model::{InputPreprocess, ModelMeta};
use rknnrt::platform::Platform;

use crate::data::ConstData;
use crate::error::BuildError;

/// The `producer` string written into every model.
pub const PRODUCER: &str = concat!("rknn-toolchain ", env!("CARGO_PKG_VERSION"));

/// Alignment of every tensor in the weights section.
pub const WEIGHT_ALIGN: usize = 64;

/// A complete model: graph, constant data and input pre-processing, ready
/// to be quantized or written.
#[derive(Clone, Debug, PartialEq)]
pub struct BuiltModel {
    /// Target platform.
    pub platform: Platform,
    /// The graph. Constant tensors have `Storage::Weight` whose offsets are
    /// assigned when the model is written.
    pub graph: Graph,
    /// Contents of every constant tensor.
    pub consts: BTreeMap<TensorId, ConstData>,
    /// Pre-processing, one entry per graph input.
    pub preprocess: Vec<InputPreprocess>,
    /// The user string returned by `RKNN_QUERY_CUSTOM_STRING`.
    pub custom_string: String,
}

impl BuiltModel {
    /// The id of the tensor called `name`.
    pub fn tensor_id(&self, name: &str) -> Option<TensorId> {
        self.graph.tensors.iter().position(|t| t.name == name)
    }

    /// The contents of constant tensor `id`.
    pub fn const_data(&self, id: TensorId) -> Option<&ConstData> {
        self.consts.get(&id)
    }

    /// Lays out the weights section (tensor id order, each tensor at a
    /// 64-byte aligned offset), fills [`ModelMeta`] and validates the graph
    /// against the weights.
    pub fn to_meta(&self) -> Result<(ModelMeta, Vec<u8>), BuildError> {
        let mut graph = self.graph.clone();
        let mut weights: Vec<u8> = Vec::new();
        for (id, info) in graph.tensors.iter_mut().enumerate() {
            match (self.consts.get(&id), info.is_weight()) {
                (Some(data), true) => {
                    if data.dtype() != info.dtype || data.len() != info.elems() {
                        return Err(BuildError::Invalid(format!(
                            "constant '{}' holds {} {:?} elements, its tensor needs {} {:?}",
                            info.name,
                            data.len(),
                            data.dtype(),
                            info.elems(),
                            info.dtype
                        )));
                    }
                    let pad = (WEIGHT_ALIGN - weights.len() % WEIGHT_ALIGN) % WEIGHT_ALIGN;
                    weights.resize(weights.len() + pad, 0);
                    let offset = weights.len() as u64;
                    let bytes = data.to_le_bytes();
                    info.storage = Storage::Weight {
                        offset,
                        len: bytes.len() as u64,
                    };
                    weights.extend_from_slice(&bytes);
                }
                (None, false) => {}
                (Some(_), false) => {
                    return Err(BuildError::Invalid(format!(
                        "tensor '{}' has constant data but is an activation",
                        info.name
                    )))
                }
                (None, true) => {
                    return Err(BuildError::Invalid(format!(
                        "weight tensor '{}' has no data",
                        info.name
                    )))
                }
            }
        }
        if self.preprocess.len() != graph.inputs.len() {
            return Err(BuildError::Invalid(format!(
                "{} pre-processing entries for {} inputs",
                self.preprocess.len(),
                graph.inputs.len()
            )));
        }
        graph
            .validate(weights.len() as u64)
            .map_err(|e| BuildError::Invalid(e.to_string()))?;
        let internal_size = rknnrt::runtime::plan::plan(&graph).arena_size as u64;
        let meta = ModelMeta {
            graph,
            preprocess: self.preprocess.clone(),
            platform: self.platform,
            custom_string: self.custom_string.clone(),
            producer: PRODUCER.to_string(),
            internal_size,
            batch_size: 1,
            shape_sets: Vec::new(),
        };
        Ok((meta, weights))
    }

    /// Serializes the model into `.rknn` bytes.
    pub fn write(&self) -> Result<Vec<u8>, BuildError> {
        self.write_batched(1)
    }

    /// Serializes the model with `rknn_batch_size` `batch` (1 ..=
    /// `MAX_BATCH_SIZE`): the graph stays a one-batch graph, whose every
    /// input and output must have batch dimension 1; the runtime shows
    /// them `batch` times larger and runs the batches in parallel.
    pub fn write_batched(&self, batch: u32) -> Result<Vec<u8>, BuildError> {
        let (mut meta, weights) = self.to_meta()?;
        meta.batch_size = batch;
        meta.validate(weights.len() as u64)
            .map_err(|e| BuildError::Config(format!("rknn_batch_size {batch}: {e}")))?;
        Ok(rknnrt::model::write(&meta, &weights))
    }

    /// Writes the model to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), BuildError> {
        let path = path.as_ref();
        let bytes = self.write()?;
        std::fs::write(path, bytes).map_err(|e| BuildError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rknnrt::graph::{DType, TensorInfo};

    fn weight(name: &str, shape: Vec<usize>, dtype: DType) -> TensorInfo {
        let mut t = TensorInfo::activation(name, shape, dtype);
        t.storage = Storage::Weight { offset: 0, len: 0 };
        t
    }

    #[test]
    fn weights_are_64_byte_aligned_in_id_order() {
        let mut graph = Graph::default();
        let x = graph.add_tensor(TensorInfo::activation("x", vec![1, 3], DType::F32));
        let a = graph.add_tensor(weight("a", vec![3], DType::F32));
        let b = graph.add_tensor(weight("b", vec![70], DType::I8));
        let c = graph.add_tensor(weight("c", vec![2], DType::I32));
        let y = graph.add_tensor(TensorInfo::activation("y", vec![1, 3], DType::F32));
        graph.add_node(rknnrt::graph::Node {
            name: "add".into(),
            op: rknnrt::graph::Op::Binary {
                op: rknnrt::graph::BinaryOp::Add,
                activation: None,
            },
            inputs: vec![x, a],
            outputs: vec![y],
            target: rknnrt::graph::Target::Cpu,
        });
        graph.inputs.push(x);
        graph.outputs.push(y);
        let mut consts = BTreeMap::new();
        consts.insert(a, ConstData::F32(vec![1.0, 2.0, 3.0]));
        consts.insert(b, ConstData::I8(vec![-1; 70]));
        consts.insert(c, ConstData::I32(vec![7, 8]));
        let model = BuiltModel {
            platform: Platform::Rk3588,
            graph,
            consts,
            preprocess: vec![InputPreprocess::default()],
            custom_string: "hello".into(),
        };
        let (meta, weights) = model.to_meta().unwrap();
        let storage = |id: usize| meta.graph.tensors[id].storage.clone();
        assert_eq!(storage(a), Storage::Weight { offset: 0, len: 12 });
        assert_eq!(
            storage(b),
            Storage::Weight {
                offset: 64,
                len: 70
            }
        );
        assert_eq!(
            storage(c),
            Storage::Weight {
                offset: 192,
                len: 8
            }
        );
        assert_eq!(storage(x), Storage::Activation);
        assert_eq!(weights.len(), 200);
        assert_eq!(&weights[0..4], &1.0f32.to_le_bytes());
        assert!(weights[12..64].iter().all(|&v| v == 0));
        assert_eq!(weights[64], 0xff);
        assert_eq!(&weights[192..196], &7i32.to_le_bytes());
        assert_eq!(meta.producer, PRODUCER);
        assert!(meta.producer.starts_with("rknn-toolchain "));
        assert_eq!(meta.custom_string, "hello");
        assert_eq!(meta.platform, Platform::Rk3588);
    }

    #[test]
    fn mismatched_constant_is_refused() {
        let mut graph = Graph::default();
        let a = graph.add_tensor(weight("a", vec![4], DType::F32));
        let mut consts = BTreeMap::new();
        consts.insert(a, ConstData::F32(vec![1.0]));
        let model = BuiltModel {
            platform: Platform::Rk3566,
            graph,
            consts,
            preprocess: vec![],
            custom_string: String::new(),
        };
        let err = model.to_meta().unwrap_err().to_string();
        assert!(err.contains("'a'"), "{err}");
    }

    #[test]
    fn batched_models_record_the_batch_size() {
        let build = |batch_dim: usize| {
            let mut graph = Graph::default();
            let x = graph.add_tensor(TensorInfo::activation("x", vec![batch_dim, 3], DType::F32));
            let y = graph.add_tensor(TensorInfo::activation("y", vec![batch_dim, 3], DType::F32));
            graph.add_node(rknnrt::graph::Node {
                name: "relu".into(),
                op: rknnrt::graph::Op::Unary {
                    act: rknnrt::graph::Activation::Relu,
                },
                inputs: vec![x],
                outputs: vec![y],
                target: rknnrt::graph::Target::Cpu,
            });
            graph.inputs.push(x);
            graph.outputs.push(y);
            BuiltModel {
                platform: Platform::Rk3588,
                graph,
                consts: BTreeMap::new(),
                preprocess: vec![InputPreprocess::default()],
                custom_string: String::new(),
            }
        };
        let bytes = build(1).write_batched(4).unwrap();
        let (meta, _) = rknnrt::model::parse(&bytes).unwrap();
        assert_eq!(meta.batch_size, 4);
        assert_eq!(
            meta.graph.tensors[0].shape,
            vec![1, 3],
            "the graph stays one batch"
        );
        let e = build(2).write_batched(4).unwrap_err().to_string();
        assert!(e.contains("does not have batch dimension 1"), "{e}");
        assert!(build(1).write_batched(0).is_err());
        assert_eq!(
            build(2).write_batched(1).map(|b| b.len()).ok(),
            build(2).write().map(|b| b.len()).ok()
        );
    }
}
