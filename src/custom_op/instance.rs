//! One custom node bound to a registered op: its `rknn_custom_op_context`
//! and tensor descriptions, the calls of `init` (once), `prepare` and
//! `compute` (every run) and `destroy` (when dropped), or the built-in
//! fallback op when `init` asked to skip the compute.

use std::sync::Arc;

use super::attrs::{self, NodeAttrs};
use super::def::OpDef;
use super::ffi::callback::CallState;
use super::ffi::cl::Kernel;
use crate::abi::{
    rknn_custom_op_context, rknn_custom_op_interal_context as InternalCtx, rknn_custom_op_tensor,
    rknn_gpu_op_context, rknn_tensor_attr, RKNN_TARGET_TYPE_CPU, RKNN_TARGET_TYPE_GPU,
    RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE,
};
use crate::graph::{CustomOp, Graph, Node, Op, TensorId, TensorInfo};
use crate::kernels::{self, In, Out};
use crate::runtime::attrs::{fill_attr, plain, AttrKind};
use crate::runtime::error::{Error, ErrorKind, Result};

/// Where a tensor's bytes are in its buffer, as the callbacks see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    /// Offset of the tensor from the start of its buffer.
    pub offset: usize,
    /// The buffer's dma-buf fd (-1 when it has none).
    pub fd: i32,
}

/// A tensor's memory outside a run (for `init`): buffer start (NULL when
/// the memory is not there yet), place and size.
#[derive(Clone, Copy, Debug)]
pub struct TensorMem {
    /// First byte of the buffer holding the tensor, or NULL.
    pub base: *mut u8,
    /// Offset and fd.
    pub place: Place,
}

/// How the node computes.
#[derive(Debug)]
enum Mode {
    /// The op's `prepare` and `compute`.
    Callbacks,
    /// The built-in op (`init` returned `RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE`).
    Fallback(Op),
}

/// A custom node with its registered op.
#[derive(Debug)]
pub struct Instance {
    def: Arc<OpDef>,
    node: String,
    state: CallState,
    id: InternalCtx,
    target: u32,
    mode: Mode,
    /// Whether `destroy` is due when the instance goes away.
    initialised: bool,
    /// Keeps the OpenCL kernel (and its context) alive until `destroy`.
    kernel: Option<Arc<Kernel>>,
}

/// Writes a tensor's memory description: `virt_addr + offset` is the
/// first byte. An offset beyond `i32` is folded into `virt_addr`.
fn set_mem(t: &mut rknn_custom_op_tensor, base: *mut u8, place: Place, size: usize) {
    let (virt, offset) = match i32::try_from(place.offset) {
        Ok(o) if !base.is_null() => (base, o),
        _ if base.is_null() => (base, 0),
        _ => (base.wrapping_add(place.offset), 0),
    };
    t.mem.virt_addr = virt.cast();
    t.mem.phys_addr = 0;
    t.mem.fd = place.fd;
    t.mem.offset = offset;
    t.mem.size = u32::try_from(size).unwrap_or(u32::MAX);
    t.mem.flags = 0;
    t.mem.priv_data = std::ptr::null_mut();
}

/// Rewrites `attr` (tensor `k`) from `info` when the shapes differ: a
/// dynamic-shape model's tensors change with the shape set; otherwise the
/// description written at registration stands.
fn refresh_attr(attr: &mut rknn_tensor_attr, k: usize, info: &TensorInfo) {
    let n = attr.n_dims as usize;
    let same = n == info.shape.len()
        && attr.dims[..n.min(attr.dims.len())]
            .iter()
            .zip(&info.shape)
            .all(|(&d, &s)| d as usize == s);
    if !same {
        fill_attr(attr, &plain(k, info, AttrKind::Output));
    }
}

/// The OpenCL handles a GPU op's callbacks receive (NULL for CPU ops).
fn gpu_ctx(kernel: Option<&Kernel>) -> rknn_gpu_op_context {
    let mut gpu = rknn_gpu_op_context::default();
    if let Some(k) = kernel {
        let [context, queue, kern] = k.handles();
        gpu.cl_context = context;
        gpu.cl_command_queue = queue;
        gpu.cl_kernel = kern;
    }
    gpu
}

fn describe(graph: &Graph, ids: &[TensorId]) -> Box<[rknn_custom_op_tensor]> {
    ids.iter()
        .enumerate()
        .map(|(k, &t)| {
            let info = &graph.tensors[t];
            let mut c = rknn_custom_op_tensor::default();
            fill_attr(&mut c.attr, &plain(k, info, AttrKind::Output));
            c
        })
        .collect()
}

impl Instance {
    /// Binds node `node` (of op `c` in `graph`) to `def` and calls `init`
    /// with the tensors' current memory (`mems`: inputs, then outputs).
    pub fn init(
        def: Arc<OpDef>,
        kernel: Option<Arc<Kernel>>,
        graph: &Graph,
        node: &Node,
        c: &CustomOp,
        mems: &[TensorMem],
    ) -> Result<Instance> {
        let gpu = gpu_ctx(kernel.as_deref());
        let target = if kernel.is_some() {
            RKNN_TARGET_TYPE_GPU
        } else {
            RKNN_TARGET_TYPE_CPU
        };
        let id = attrs::publish(Arc::new(NodeAttrs::new(&node.name, c)));
        let ctx = Box::new(rknn_custom_op_context {
            target,
            internal_ctx: id,
            gpu_ctx: gpu,
            priv_data: std::ptr::null_mut(),
        });
        let mut inst = Instance {
            def,
            node: node.name.clone(),
            state: CallState {
                ctx,
                inputs: describe(graph, &node.inputs),
                outputs: describe(graph, &node.outputs),
            },
            id,
            target,
            mode: Mode::Callbacks,
            initialised: false,
            kernel,
        };
        let sizes: Vec<usize> = node
            .inputs
            .iter()
            .chain(&node.outputs)
            .map(|&t| graph.tensors[t].bytes())
            .collect();
        let tensors = inst
            .state
            .inputs
            .iter_mut()
            .chain(inst.state.outputs.iter_mut());
        for ((t, m), size) in tensors.zip(mems).zip(sizes) {
            set_mem(t, m.base, m.place, size);
        }
        let Some(init) = inst.def.callbacks.init else {
            inst.initialised = true;
            return Ok(inst);
        };
        let code = inst.state.call(init);
        inst.restore_ctx();
        match code {
            0 => inst.initialised = true,
            RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE => {
                inst.initialised = true;
                match &c.fallback {
                    Some(op) => {
                        tracing::info!(
                            "custom op '{}' (node '{}'): init asked to skip compute; the built-in {} runs instead",
                            c.op_type,
                            node.name,
                            op.type_name()
                        );
                        inst.mode = Mode::Fallback((**op).clone());
                    }
                    None => {
                        return Err(inst.fail(format!(
                            "init returned RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE, but this runtime has no built-in op '{}' to run instead (the model records none for this node)",
                            c.op_type
                        )))
                    }
                }
            }
            other => return Err(inst.fail(format!("init returned {other}"))),
        }
        Ok(inst)
    }

    /// An error about this node.
    fn fail(&self, msg: String) -> Error {
        Error::new(
            ErrorKind::Fail,
            format!(
                "custom op '{}' (node '{}', registered by {}): {msg}",
                self.def.op_type,
                self.node,
                self.def.origin.describe()
            ),
        )
    }

    /// Puts back the fields the runtime owns, in case a callback changed
    /// them (`priv_data` is the application's).
    fn restore_ctx(&mut self) {
        let ctx = &mut self.state.ctx;
        ctx.internal_ctx = self.id;
        ctx.gpu_ctx = gpu_ctx(self.kernel.as_deref());
        ctx.target = self.target;
    }

    /// Computes the node on the views the executor made (`places`: the
    /// inputs' then the outputs' offsets and fds).
    pub fn run(&mut self, ins: &[In<'_>], outs: &mut [Out<'_>], places: &[Place]) -> Result<()> {
        if let Mode::Fallback(op) = &self.mode {
            return kernels::execute(op, ins, outs)
                .map_err(|e| self.fail(format!("built-in fallback: {e}")));
        }
        if ins.len() != self.state.inputs.len()
            || outs.len() != self.state.outputs.len()
            || places.len() != ins.len() + outs.len()
        {
            return Err(self.fail("the node's tensors changed since registration".into()));
        }
        let (in_places, out_places) = places.split_at(ins.len());
        // Shapes follow the run's tensors (a dynamic-shape model's current
        // shape set), memory the run's buffers.
        for (k, ((t, v), p)) in self
            .state
            .inputs
            .iter_mut()
            .zip(ins)
            .zip(in_places)
            .enumerate()
        {
            refresh_attr(&mut t.attr, k, v.info);
            let ptr = v.data.as_ptr().cast_mut();
            set_mem(t, ptr.wrapping_sub(p.offset), *p, v.data.len());
        }
        for (k, ((t, v), p)) in self
            .state
            .outputs
            .iter_mut()
            .zip(outs.iter_mut())
            .zip(out_places)
            .enumerate()
        {
            refresh_attr(&mut t.attr, k, v.info);
            let ptr = v.data.as_mut_ptr();
            set_mem(t, ptr.wrapping_sub(p.offset), *p, v.data.len());
        }
        let cb = self.def.callbacks;
        self.restore_ctx();
        if let Some(prepare) = cb.prepare {
            let code = self.state.call(prepare);
            self.restore_ctx();
            if code != 0 {
                return Err(self.fail(format!("prepare returned {code}")));
            }
        }
        let code = self.state.call(cb.compute);
        self.restore_ctx();
        if code != 0 {
            return Err(self.fail(format!("compute returned {code}")));
        }
        Ok(())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if self.initialised {
            if let Some(destroy) = self.def.callbacks.destroy {
                self.restore_ctx();
                let code = self.state.destroy(destroy);
                if code != 0 {
                    tracing::warn!(
                        "custom op '{}' (node '{}'): destroy returned {code}",
                        self.def.op_type,
                        self.node
                    );
                }
            }
        }
        attrs::unpublish(self.id);
    }
}
