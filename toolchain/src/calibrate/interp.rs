//! A small graph interpreter over `rknnrt::kernels::execute` that shows
//! every tensor to the caller: calibration reads the statistics of each
//! float activation, the accuracy analysis compares every tensor of two
//! runs, and it runs single nodes on chosen inputs. Unlike the runtime's
//! executor it keeps no arena: each tensor has its own buffer, freed after
//! its last reader.

use std::collections::HashMap;

use half::f16;
use rknnrt::graph::{DType, Graph, Node, Op, Storage, TensorId, TensorInfo};
use rknnrt::kernels::{self, In, Out};
use rknnrt::model::{InputPreprocess, ModelMeta};
use rknnrt::runtime::io::{self, InputBuf, LayoutSpec};

use crate::error::BuildError;
use crate::model::BuiltModel;

/// Tensor bytes with 8-byte alignment (what the kernels' typed views need).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorBuf {
    words: Vec<u64>,
    len: usize,
}

impl TensorBuf {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> TensorBuf {
        TensorBuf {
            words: vec![0; len.div_ceil(8)],
            len,
        }
    }

    /// A copy of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> TensorBuf {
        let mut b = TensorBuf::zeroed(bytes.len());
        b.bytes_mut().copy_from_slice(bytes);
        b
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.len]
    }

    /// The bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<u64, u8>(&mut self.words)[..self.len]
    }
}

/// The real values of a tensor: floats as they are, int8/uint8 dequantized
/// with the tensor's parameters, integers converted.
pub fn to_f32(info: &TensorInfo, bytes: &[u8]) -> Result<Vec<f32>, BuildError> {
    let n = info.elems();
    let mut out = vec![0f32; n];
    match info.dtype {
        DType::F32 | DType::F16 | DType::I8 | DType::U8 => {
            let dst: &mut [u8] = bytemuck::cast_slice_mut(&mut out);
            io::convert_output(bytes, info, true, dst)
                .map_err(|e| BuildError::Run(format!("tensor '{}': {e}", info.name)))?;
        }
        _ => {
            let arr = crate::npy::NpyArray {
                shape: info.shape.clone(),
                dtype: info.dtype,
                bytes: bytes.to_vec(),
            };
            out = arr.to_f32();
            if out.len() != n {
                return Err(BuildError::Run(format!(
                    "tensor '{}' holds {} bytes for {n} elements",
                    info.name,
                    bytes.len()
                )));
            }
        }
    }
    Ok(out)
}

/// Tensor bytes of `info` holding `values` (quantized with the tensor's
/// parameters for int8/uint8, rounded for integers).
pub fn from_f32(info: &TensorInfo, values: &[f32]) -> Result<TensorBuf, BuildError> {
    if values.len() != info.elems() {
        return Err(BuildError::Run(format!(
            "tensor '{}' needs {} values, got {}",
            info.name,
            info.elems(),
            values.len()
        )));
    }
    let mut buf = TensorBuf::zeroed(info.bytes());
    let dst = buf.bytes_mut();
    match info.dtype {
        DType::F32 => dst.copy_from_slice(bytemuck::cast_slice(values)),
        DType::F16 => {
            for (c, &v) in dst.chunks_exact_mut(2).zip(values) {
                c.copy_from_slice(&f16::from_f32(v).to_le_bytes());
            }
        }
        DType::I8 | DType::U8 => {
            let src = InputBuf {
                data: bytemuck::cast_slice(values),
                dtype: DType::F32,
                layout: LayoutSpec::UNDEFINED,
                pass_through: false,
            };
            io::convert_input(
                &src,
                &InputPreprocess::default(),
                info,
                LayoutSpec::NCHW,
                dst,
            )
            .map_err(|e| BuildError::Run(format!("tensor '{}': {e}", info.name)))?;
        }
        DType::I16 | DType::U16 | DType::I32 | DType::U32 | DType::I64 | DType::Bool => {
            let es = info.dtype.size();
            for (c, &v) in dst.chunks_exact_mut(es).zip(values) {
                let r = v.round() as i64;
                c.copy_from_slice(&r.to_le_bytes()[..es]);
            }
        }
    }
    Ok(buf)
}

/// The tensors rknn-convert cannot compute: outputs of custom ops without
/// a built-in fallback (only the application's callbacks compute them)
/// and everything computed from them.
pub fn uncomputable(graph: &Graph) -> Vec<bool> {
    let mut out = vec![false; graph.tensors.len()];
    for n in &graph.nodes {
        let opaque = matches!(&n.op, Op::Custom(c) if c.fallback.is_none())
            || n.inputs
                .iter()
                .any(|&t| out.get(t).copied().unwrap_or(false));
        if opaque {
            for &o in &n.outputs {
                if let Some(v) = out.get_mut(o) {
                    *v = true;
                }
            }
        }
    }
    out
}

/// A graph with its constant tensors, ready to run on the host.
#[derive(Clone, Debug)]
pub struct Program {
    graph: Graph,
    consts: HashMap<TensorId, TensorBuf>,
    /// Number of readers of each tensor (graph outputs count once more).
    readers: Vec<usize>,
    /// [`uncomputable`] tensors.
    opaque: Vec<bool>,
}

impl Program {
    fn new(graph: Graph, consts: HashMap<TensorId, TensorBuf>) -> Program {
        let mut readers = vec![0usize; graph.tensors.len()];
        for n in &graph.nodes {
            for &t in &n.inputs {
                if let Some(r) = readers.get_mut(t) {
                    *r += 1;
                }
            }
        }
        for &t in &graph.outputs {
            if let Some(r) = readers.get_mut(t) {
                *r += 1;
            }
        }
        Program {
            opaque: uncomputable(&graph),
            graph,
            consts,
            readers,
        }
    }

    /// The program of a model being built (weights from its constants).
    pub fn from_built(model: &BuiltModel) -> Program {
        let consts = model
            .consts
            .iter()
            .map(|(&id, data)| (id, TensorBuf::from_bytes(&data.to_le_bytes())))
            .collect();
        Program::new(model.graph.clone(), consts)
    }

    /// The program of a loaded `.rknn` file: metadata and weights section.
    pub fn from_meta(meta: &ModelMeta, weights: &[u8]) -> Result<Program, BuildError> {
        let mut consts = HashMap::new();
        for (id, t) in meta.graph.tensors.iter().enumerate() {
            if let Storage::Weight { offset, len } = t.storage {
                let range = usize::try_from(offset)
                    .ok()
                    .zip(usize::try_from(len).ok())
                    .and_then(|(o, l)| Some(o..o.checked_add(l)?))
                    .and_then(|r| weights.get(r))
                    .ok_or_else(|| {
                        BuildError::Run(format!("weight '{}' lies outside the weights", t.name))
                    })?;
                consts.insert(id, TensorBuf::from_bytes(range));
            }
        }
        Ok(Program::new(meta.graph.clone(), consts))
    }

    /// The graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The constant data of tensor `id`, if it is a weight.
    pub fn constant(&self, id: TensorId) -> Option<&TensorBuf> {
        self.consts.get(&id)
    }

    /// Runs node `node` on `inputs` (one buffer per node input, constants
    /// included) and returns its outputs. A custom op runs its built-in
    /// fallback; without one it cannot run here.
    pub fn run_node(
        &self,
        node: &Node,
        inputs: &[&TensorBuf],
    ) -> Result<Vec<TensorBuf>, BuildError> {
        let g = &self.graph;
        let info = |t: TensorId| {
            g.tensors
                .get(t)
                .ok_or_else(|| BuildError::Run(format!("node '{}': unknown tensor {t}", node.name)))
        };
        if inputs.len() != node.inputs.len() {
            return Err(BuildError::Run(format!(
                "node '{}' has {} inputs, {} given",
                node.name,
                node.inputs.len(),
                inputs.len()
            )));
        }
        let mut ins = Vec::with_capacity(inputs.len());
        for (&t, buf) in node.inputs.iter().zip(inputs) {
            ins.push(In {
                info: info(t)?,
                data: buf.bytes(),
            });
        }
        let mut bufs: Vec<TensorBuf> = node
            .outputs
            .iter()
            .map(|&t| info(t).map(|i| TensorBuf::zeroed(i.bytes())))
            .collect::<Result<_, _>>()?;
        {
            let mut outs = Vec::with_capacity(bufs.len());
            for (&t, b) in node.outputs.iter().zip(bufs.iter_mut()) {
                outs.push(Out {
                    info: info(t)?,
                    data: b.bytes_mut(),
                });
            }
            let op = match &node.op {
                Op::Custom(c) => c.fallback.as_deref().ok_or_else(|| {
                    BuildError::Run(format!(
                        "node '{}' is custom op '{}', which only the application computes (no built-in op of that type); run the model with librknnrt and the op registered",
                        node.name, c.op_type
                    ))
                })?,
                op => op,
            };
            kernels::execute(op, &ins, &mut outs).map_err(|e| {
                BuildError::Run(format!(
                    "node '{}' ({}): {e}",
                    node.name,
                    node.op.type_name()
                ))
            })?;
        }
        Ok(bufs)
    }

    /// Runs the graph on `inputs` (one buffer per graph input, in the
    /// graph's types), calling `visit` for each graph input and each node
    /// output as soon as it exists. Returns the graph outputs; fails when
    /// one depends on a custom op without a built-in fallback.
    pub fn run(
        &self,
        inputs: Vec<TensorBuf>,
        visit: &mut dyn FnMut(TensorId, &TensorBuf) -> Result<(), BuildError>,
    ) -> Result<Vec<TensorBuf>, BuildError> {
        let outs = self.run_partial(inputs, visit)?;
        let g = &self.graph;
        outs.into_iter()
            .zip(&g.outputs)
            .map(|(o, &t)| {
                o.ok_or_else(|| {
                    let node = g
                        .nodes
                        .iter()
                        .find(|n| matches!(&n.op, Op::Custom(c) if c.fallback.is_none()))
                        .map_or(String::new(), |n| {
                            format!(" ('{}', node '{}')", n.op.type_name(), n.name)
                        });
                    BuildError::Run(format!(
                        "output '{}' depends on a custom op{node} that only the application computes; run the model with librknnrt and the op registered",
                        g.tensors[t].name
                    ))
                })
            })
            .collect()
    }

    /// Like [`Program::run`], but the [`uncomputable`] part of the graph is
    /// skipped: those tensors are never visited and their outputs are
    /// `None` (calibration only needs the rest).
    pub fn run_partial(
        &self,
        inputs: Vec<TensorBuf>,
        visit: &mut dyn FnMut(TensorId, &TensorBuf) -> Result<(), BuildError>,
    ) -> Result<Vec<Option<TensorBuf>>, BuildError> {
        let g = &self.graph;
        if inputs.len() != g.inputs.len() {
            return Err(BuildError::Run(format!(
                "the model has {} inputs, {} given",
                g.inputs.len(),
                inputs.len()
            )));
        }
        let mut live: Vec<Option<TensorBuf>> = vec![None; g.tensors.len()];
        let mut left = self.readers.clone();
        for (&t, buf) in g.inputs.iter().zip(inputs) {
            let info = &g.tensors[t];
            if buf.bytes().len() != info.bytes() {
                return Err(BuildError::Run(format!(
                    "input '{}' needs {} bytes, got {}",
                    info.name,
                    info.bytes(),
                    buf.bytes().len()
                )));
            }
            visit(t, &buf)?;
            live[t] = Some(buf);
        }
        for node in &g.nodes {
            if node.outputs.iter().any(|&t| self.opaque[t]) {
                continue;
            }
            let outs = {
                let mut ins: Vec<&TensorBuf> = Vec::with_capacity(node.inputs.len());
                for &t in &node.inputs {
                    let b = self
                        .consts
                        .get(&t)
                        .or_else(|| live.get(t).and_then(Option::as_ref))
                        .ok_or_else(|| {
                            BuildError::Run(format!(
                                "node '{}': input '{}' has no value",
                                node.name, g.tensors[t].name
                            ))
                        })?;
                    ins.push(b);
                }
                self.run_node(node, &ins)?
            };
            for &t in &node.inputs {
                if let Some(l) = left.get_mut(t) {
                    *l = l.saturating_sub(1);
                    if *l == 0 {
                        live[t] = None;
                    }
                }
            }
            for (&t, buf) in node.outputs.iter().zip(outs) {
                visit(t, &buf)?;
                if self.readers[t] > 0 {
                    live[t] = Some(buf);
                }
            }
        }
        g.outputs
            .iter()
            .map(|&t| {
                if self.opaque[t] {
                    return Ok(None);
                }
                self.consts
                    .get(&t)
                    .cloned()
                    .or_else(|| live[t].clone())
                    .map(Some)
                    .ok_or_else(|| {
                        BuildError::Run(format!("output '{}' was not computed", g.tensors[t].name))
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::ModelBuilder;
    use crate::Weights;
    use rknnrt::graph::Quant;
    use rknnrt::platform::Platform;

    #[test]
    fn runs_a_graph_and_shows_every_tensor() {
        let mut b = ModelBuilder::new(Platform::Rk3588);
        let x = b.input("x", &[1, 4]).unwrap();
        let w = Weights::new(&[2, 4], vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0]).unwrap();
        let y = b
            .fully_connected(x, w, Some(vec![0.5, -0.5]), None)
            .unwrap();
        let z = b.relu(y).unwrap();
        b.output(z).unwrap();
        let m = b.build().unwrap();
        let p = Program::from_built(&m);
        let xin = from_f32(&m.graph.tensors[x], &[1.0, -2.0, 0.5, 9.0]).unwrap();
        let mut seen = Vec::new();
        let outs = p
            .run(vec![xin], &mut |t, buf| {
                seen.push((t, to_f32(&m.graph.tensors[t], buf.bytes()).unwrap()));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[1].1, vec![1.5, -2.0]);
        assert_eq!(
            to_f32(&m.graph.tensors[z], outs[0].bytes()).unwrap(),
            vec![1.5, 0.0]
        );
        let err = p.run(vec![], &mut |_, _| Ok(())).unwrap_err().to_string();
        assert!(err.contains("1 inputs, 0 given"), "{err}");
    }

    #[test]
    fn int8_values_round_trip_through_the_parameters() {
        let mut info = TensorInfo::activation("q", vec![3], DType::I8);
        info.quant = Some(Quant::per_tensor(0.5, 1));
        let b = from_f32(&info, &[0.0, 1.0, -100.0]).unwrap();
        assert_eq!(b.bytes(), &[1u8, 3, 0x80]);
        assert_eq!(to_f32(&info, b.bytes()).unwrap(), vec![0.0, 1.0, -64.5]);
        let i = TensorInfo::activation("i", vec![2], DType::I64);
        let b = from_f32(&i, &[2.0, -3.0]).unwrap();
        assert_eq!(to_f32(&i, b.bytes()).unwrap(), vec![2.0, -3.0]);
    }
}
