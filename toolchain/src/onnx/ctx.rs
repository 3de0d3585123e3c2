//! The import context: ONNX values (constants or graph tensors), the
//! model builder, and [`Ctx::emit`], which either adds a node or — when
//! every input is a constant — evaluates it with the runtime's CPU kernels
//! so constant sub-graphs vanish.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use rknnrt::graph::{shape, DType, Op, Quant, TensorId, TensorInfo};
use rknnrt::kernels::{self, In, Out};

use super::tensor::Tensor;
use crate::builder::ModelBuilder;
use crate::error::BuildError;

/// Largest tensor constant folding may create.
const MAX_FOLDED_BYTES: u64 = 1 << 30;

/// A value of the ONNX graph.
#[derive(Clone, Debug)]
pub enum Val {
    /// Known at import time.
    Const(Rc<Tensor>),
    /// A tensor of the graph being built.
    Act(TensorId),
}

/// Shape and type of a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: DType,
}

/// Import state (cloned to try a conversion without committing it).
#[derive(Clone)]
pub struct Ctx {
    /// The graph under construction.
    pub b: ModelBuilder,
    /// ONNX value name to value.
    pub vals: HashMap<String, Val>,
    /// Quantization of graph tensors, applied after building.
    pub quant: BTreeMap<TensorId, Quant>,
    /// Builder node index to ONNX node name, applied after building.
    pub node_names: BTreeMap<usize, String>,
    /// Constants already added to the builder, by value identity. The map
    /// keeps each `Rc` alive so its address is never reused by another
    /// constant.
    materialized: HashMap<*const Tensor, (Rc<Tensor>, TensorId)>,
    /// ONNX names of constants (initializers, Constant and folded
    /// outputs), used when they become graph tensors; each `Rc` is kept
    /// alive so its address is never reused.
    const_names: HashMap<*const Tensor, (Rc<Tensor>, String)>,
    /// Name of the ONNX node being converted.
    pub node: String,
    const_count: usize,
}

impl Ctx {
    /// A context around `b`.
    pub fn new(b: ModelBuilder) -> Ctx {
        Ctx {
            b,
            vals: HashMap::new(),
            quant: BTreeMap::new(),
            node_names: BTreeMap::new(),
            materialized: HashMap::new(),
            const_names: HashMap::new(),
            node: String::new(),
            const_count: 0,
        }
    }

    /// Shape and type of `v`.
    pub fn meta(&self, v: &Val) -> Result<Meta, String> {
        match v {
            Val::Const(t) => Ok(Meta {
                shape: t.shape.clone(),
                dtype: t.dtype,
            }),
            Val::Act(id) => {
                let t = self.b.tensor(*id).map_err(|e| e.to_string())?;
                Ok(Meta {
                    shape: t.shape.clone(),
                    dtype: t.dtype,
                })
            }
        }
    }

    /// Description of `v` for shape inference and kernels.
    fn info(&self, v: &Val, i: usize) -> Result<TensorInfo, String> {
        match v {
            Val::Const(t) => {
                let mut info =
                    TensorInfo::activation(format!("const{i}"), t.shape.clone(), t.dtype);
                info.quant = t.quant.clone();
                Ok(info)
            }
            Val::Act(id) => {
                let mut info = self.b.tensor(*id).map_err(|e| e.to_string())?.clone();
                if let Some(q) = self.quant.get(id) {
                    info.quant = Some(q.clone());
                }
                Ok(info)
            }
        }
    }

    /// The graph tensor for `v`, adding a constant to the builder if needed.
    pub fn tensor_id(&mut self, v: &Val) -> Result<TensorId, String> {
        match v {
            Val::Act(id) => Ok(*id),
            Val::Const(t) => {
                let key = Rc::as_ptr(t);
                if let Some((_, id)) = self.materialized.get(&key) {
                    return Ok(*id);
                }
                shape::checked_elems(&t.shape, "constant").map_err(|e| e.to_string())?;
                if t.dtype == DType::Bool {
                    // Stored as uint8 and cast at run time.
                    let bytes = t.bytes.clone();
                    let u8s = Tensor::new(DType::U8, t.shape.clone(), bytes)
                        .ok_or("inconsistent bool constant")?;
                    let src = self.tensor_id(&Val::Const(Rc::new(u8s)))?;
                    let out = self
                        .b
                        .node(
                            Op::Cast { to: DType::Bool },
                            &[src],
                            std::slice::from_ref(&t.shape),
                            DType::Bool,
                        )
                        .map_err(|e| e.to_string())?;
                    self.node_names
                        .insert(self.b.graph().nodes.len() - 1, self.node.clone());
                    self.materialized.insert(key, (t.clone(), out[0]));
                    return Ok(out[0]);
                }
                let data = t.to_const_data().ok_or_else(|| {
                    format!(
                        "constants of type {:?} cannot be stored in the model",
                        t.dtype
                    )
                })?;
                let taken =
                    |b: &ModelBuilder, n: &str| b.graph().tensors.iter().any(|x| x.name == n);
                let onnx_name = self
                    .const_names
                    .get(&key)
                    .map(|(_, n)| n)
                    .filter(|n| n.len() <= shape::MAX_NAME_LEN && !n.contains('\0'))
                    .filter(|n| !taken(&self.b, n))
                    .cloned();
                let name = match onnx_name {
                    Some(n) => n,
                    None => loop {
                        let n = format!("{}_const{}", short(&self.node), self.const_count);
                        self.const_count += 1;
                        if !taken(&self.b, &n) {
                            break n;
                        }
                    },
                };
                let id = self
                    .b
                    .constant(&name, &t.shape, data)
                    .map_err(|e| e.to_string())?;
                if let Some(q) = &t.quant {
                    self.quant.insert(id, q.clone());
                }
                self.materialized.insert(key, (t.clone(), id));
                Ok(id)
            }
        }
    }

    /// Applies `op` to `inputs`. `given` holds the output shapes of the ops
    /// that take them (`shape::takes_output_shape`); `dtype` is the output
    /// element type and `out_quant` its quantization. All-constant inputs
    /// are evaluated now; otherwise a node is added.
    pub fn emit(
        &mut self,
        op: Op,
        inputs: &[Val],
        given: &[Vec<usize>],
        dtype: DType,
        out_quant: Option<Quant>,
    ) -> Result<Vec<Val>, String> {
        let infos = inputs
            .iter()
            .enumerate()
            .map(|(i, v)| self.info(v, i))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&TensorInfo> = infos.iter().collect();
        let given_refs: Vec<&[usize]> = given.iter().map(|s| s.as_slice()).collect();
        let shapes = shape::infer_given(&op, &refs, &given_refs).map_err(|e| e.to_string())?;
        if inputs.iter().all(|v| matches!(v, Val::Const(_))) {
            return self.evaluate(&op, inputs, &infos, shapes, dtype, out_quant);
        }
        let ids = inputs
            .iter()
            .map(|v| self.tensor_id(v))
            .collect::<Result<Vec<_>, _>>()?;
        let outs = self
            .b
            .node(op, &ids, &shapes, dtype)
            .map_err(|e| e.to_string())?;
        self.node_names
            .insert(self.b.graph().nodes.len() - 1, self.node.clone());
        if let Some(q) = out_quant {
            for &o in &outs {
                self.quant.insert(o, q.clone());
            }
        }
        Ok(outs.into_iter().map(Val::Act).collect())
    }

    /// Runs `op` on constant inputs with the CPU kernels.
    fn evaluate(
        &self,
        op: &Op,
        inputs: &[Val],
        infos: &[TensorInfo],
        shapes: Vec<Vec<usize>>,
        dtype: DType,
        out_quant: Option<Quant>,
    ) -> Result<Vec<Val>, String> {
        // Kernels need aligned buffers: copy each input into u64 storage.
        let in_bufs: Vec<Vec<u64>> = inputs
            .iter()
            .map(|v| match v {
                Val::Const(t) => aligned(&t.bytes),
                Val::Act(_) => Vec::new(),
            })
            .collect();
        let out_infos: Vec<TensorInfo> = shapes
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let mut t = TensorInfo::activation(format!("out{i}"), s, dtype);
                t.quant = out_quant.clone();
                t
            })
            .collect();
        for t in &out_infos {
            if shape::checked_bytes(t).map_err(|e| e.to_string())? > MAX_FOLDED_BYTES {
                return Err(format!(
                    "constant folding would create {:?} of shape {:?}, more than {MAX_FOLDED_BYTES} bytes",
                    t.dtype, t.shape
                ));
            }
        }
        let mut out_bufs: Vec<Vec<u64>> = out_infos
            .iter()
            .map(|t| vec![0u64; t.bytes().div_ceil(8)])
            .collect();
        {
            let ins: Vec<In<'_>> = infos
                .iter()
                .zip(&in_bufs)
                .map(|(info, buf)| In {
                    info,
                    data: &bytemuck::cast_slice(buf)[..info.bytes()],
                })
                .collect();
            let mut outs: Vec<Out<'_>> = out_infos
                .iter()
                .zip(out_bufs.iter_mut())
                .map(|(info, buf)| Out {
                    info,
                    data: &mut bytemuck::cast_slice_mut(buf)[..info.bytes()],
                })
                .collect();
            kernels::execute(op, &ins, &mut outs)
                .map_err(|e| format!("constant folding failed: {e}"))?;
        }
        Ok(out_infos
            .into_iter()
            .zip(out_bufs)
            .map(|(info, buf)| {
                let bytes = bytemuck::cast_slice::<u64, u8>(&buf)[..info.bytes()].to_vec();
                Val::Const(Rc::new(Tensor {
                    dtype: info.dtype,
                    shape: info.shape,
                    bytes,
                    quant: info.quant,
                }))
            })
            .collect())
    }

    /// Records `v` under the ONNX name `name`. A graph tensor created by
    /// the current node (id >= `first_new`) takes the ONNX name when it is
    /// free; a clash with a generated name keeps the generated one.
    pub fn define(&mut self, name: &str, v: Val, first_new: TensorId) {
        if let Val::Const(t) = &v {
            self.const_names
                .entry(Rc::as_ptr(t))
                .or_insert_with(|| (t.clone(), name.to_string()));
        }
        if let Val::Act(id) = v {
            if id >= first_new && name.len() <= shape::MAX_NAME_LEN && !name.contains('\0') {
                let _ = self.b.set_name(id, name);
            }
        }
        self.vals.insert(name.to_string(), v);
    }

    /// A new graph tensor holding a copy of `v` (a Reshape to the same
    /// shape), for graph outputs that are constants, graph inputs or
    /// another output.
    pub fn copy(&mut self, v: &Val) -> Result<TensorId, String> {
        let m = self.meta(v)?;
        let id = self.tensor_id(v)?;
        let out = self
            .b
            .node(Op::Reshape, &[id], &[m.shape], m.dtype)
            .map_err(|e| e.to_string())?;
        self.node_names
            .insert(self.b.graph().nodes.len() - 1, self.node.clone());
        if let Some(q) = self.quant.get(&id).cloned() {
            self.quant.insert(out[0], q);
        }
        Ok(out[0])
    }

    /// Wraps a message into the importer's error for the current node.
    pub fn fail(&self, op_type: &str, opset: i64, msg: impl std::fmt::Display) -> BuildError {
        BuildError::Onnx(format!(
            "node '{}' ({op_type}, opset {opset}): {msg}",
            self.node
        ))
    }
}

/// `bytes` copied into 8-byte aligned storage.
fn aligned(bytes: &[u8]) -> Vec<u64> {
    let mut v = vec![0u64; bytes.len().div_ceil(8)];
    bytemuck::cast_slice_mut::<u64, u8>(&mut v)[..bytes.len()].copy_from_slice(bytes);
    v
}

/// A node name shortened for use inside generated tensor names.
fn short(name: &str) -> String {
    let s: String = name.chars().take(64).collect();
    if s.is_empty() {
        "node".into()
    } else {
        s
    }
}
