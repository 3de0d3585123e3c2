//! The custom ops of one context: registered op types, the instance of
//! every custom node, the OpenCL objects of GPU ops, and the plugin
//! search for types the application did not register.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::def::OpDef;
use super::ffi::cl::{Gpu, Kernel};
use super::ffi::raw::ClSource;
use super::instance::{Instance, Place, TensorMem};
use super::plugin;
use crate::graph::{CustomOp, Graph, Node, Op, TensorId};
use crate::kernels::{In, Out};
use crate::runtime::error::{Error, ErrorKind, Result};

/// Per-context custom-op state. Dropping it calls every initialised
/// node's `destroy`, then releases OpenCL objects and plugin libraries.
#[derive(Debug, Default)]
pub struct CustomOps {
    // Field order is drop order: instances (destroy callbacks) first.
    instances: BTreeMap<usize, Instance>,
    defs: BTreeMap<String, Arc<OpDef>>,
    gpu: Option<Arc<Gpu>>,
    plugins_searched: bool,
}

fn param(msg: String) -> Error {
    Error::new(ErrorKind::ParamInvalid, msg)
}

/// The custom nodes of `graph` with their index.
fn custom_nodes(graph: &Graph) -> impl Iterator<Item = (usize, &Node, &CustomOp)> {
    graph
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match &n.op {
            Op::Custom(c) => Some((i, n, c)),
            _ => None,
        })
}

impl CustomOps {
    /// The OpenCL kernel of a GPU op (opening the GPU on first use).
    fn build_kernel(&mut self, def: &OpDef) -> Result<Option<Arc<Kernel>>> {
        let Some(p) = &def.gpu else { return Ok(None) };
        let fail =
            |e: String| Error::new(ErrorKind::Fail, format!("GPU op '{}': {e}", def.op_type));
        let gpu = match &self.gpu {
            Some(g) => g.clone(),
            None => {
                let g = Arc::new(Gpu::open().map_err(fail)?);
                self.gpu = Some(g.clone());
                g
            }
        };
        let text = match &p.source {
            ClSource::Text(t) => t.clone(),
            ClSource::Path(path) => std::fs::read(path)
                .map_err(|e| fail(format!("cannot read OpenCL source {}: {e}", path.display())))?,
        };
        gpu.kernel(&text, &p.kernel_name, &p.build_options)
            .map(|k| Some(Arc::new(k)))
            .map_err(fail)
    }

    /// Registers `defs` for `graph` (all of them or none): each op type
    /// once, across calls too; GPU ops get their OpenCL kernel; every
    /// node of a registered type is bound and its `init` called with the
    /// tensors' current memory (`locate`). On failure the nodes bound so
    /// far in this call are destroyed again and nothing stays registered.
    pub fn register(
        &mut self,
        defs: Vec<OpDef>,
        graph: &Graph,
        locate: &dyn Fn(TensorId) -> TensorMem,
    ) -> Result<()> {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, d) in defs.iter().enumerate() {
            if let Some(first) = seen.insert(&d.op_type, i) {
                return Err(param(format!(
                    "op type '{}' is given twice (op[{first}] and op[{i}]); each type is registered once",
                    d.op_type
                )));
            }
            if let Some(old) = self.defs.get(&d.op_type) {
                return Err(param(format!(
                    "op[{i}]: op type '{}' is already registered (by {})",
                    d.op_type,
                    old.origin.describe()
                )));
            }
        }
        let mut built = Vec::with_capacity(defs.len());
        for d in defs {
            let kernel = self.build_kernel(&d)?;
            built.push((Arc::new(d), kernel));
        }
        let mut fresh: Vec<(usize, Instance)> = Vec::new();
        for (def, kernel) in &built {
            for (i, node, c) in custom_nodes(graph).filter(|(_, _, c)| c.op_type == def.op_type) {
                let mems: Vec<TensorMem> = node
                    .inputs
                    .iter()
                    .chain(&node.outputs)
                    .map(|&t| locate(t))
                    .collect();
                // An error drops `fresh`, which destroys those nodes.
                let inst = Instance::init(def.clone(), kernel.clone(), graph, node, c, &mems)?;
                fresh.push((i, inst));
            }
        }
        for (def, _) in built {
            let nodes = fresh
                .iter()
                .filter(|(i, _)| matches!(&graph.nodes[*i].op, Op::Custom(c) if c.op_type == def.op_type))
                .count();
            tracing::info!(
                "custom op '{}' ({}, version {}) registered by {} for {nodes} node(s)",
                def.op_type,
                def.target_name(),
                def.version,
                def.origin.describe()
            );
            self.defs.insert(def.op_type.clone(), def);
        }
        self.instances.extend(fresh);
        Ok(())
    }

    /// Before a run: op types the model uses but nobody registered are
    /// looked up once among the plugins (the application's registrations
    /// win); a type still missing fails the run with its name.
    pub fn prepare_run(
        &mut self,
        graph: &Graph,
        locate: &dyn Fn(TensorId) -> TensorMem,
    ) -> Result<()> {
        let missing = |s: &CustomOps| -> BTreeSet<String> {
            custom_nodes(graph)
                .filter(|(i, _, _)| !s.instances.contains_key(i))
                .map(|(_, _, c)| c.op_type.clone())
                .collect()
        };
        let wanted = missing(self);
        if wanted.is_empty() {
            return Ok(());
        }
        if !self.plugins_searched {
            self.plugins_searched = true;
            for def in plugin::load_all(&plugin::plugin_dir()) {
                if !wanted.contains(&def.op_type) {
                    continue;
                }
                let (ty, from) = (def.op_type.clone(), def.origin.describe());
                if let Err(e) = self.register(vec![def], graph, locate) {
                    tracing::warn!("custom op '{ty}' from {from} not used: {e}");
                }
            }
        }
        let still = missing(self);
        if still.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = still
            .iter()
            .map(|t| {
                let node = custom_nodes(graph)
                    .find(|(_, _, c)| &c.op_type == t)
                    .map_or("", |(_, n, _)| n.name.as_str());
                format!("'{t}' (node '{node}')")
            })
            .collect();
        let (what, verb) = if names.len() == 1 {
            ("custom op", "is")
        } else {
            ("custom ops", "are")
        };
        Err(Error::new(
            ErrorKind::Fail,
            format!(
                "the model uses {what} {}, which {verb} not registered: call rknn_register_custom_ops before rknn_run, or install a {}<name>.so plugin in {} (directory from {} or the default)",
                names.join(", "),
                plugin::PREFIX,
                plugin::plugin_dir().display(),
                plugin::DIR_VAR
            ),
        ))
    }

    /// Runs custom node `index` on the executor's views (`places`: inputs
    /// then outputs).
    pub fn run(
        &mut self,
        index: usize,
        node: &Node,
        ins: &[In<'_>],
        outs: &mut [Out<'_>],
        places: &[Place],
    ) -> Result<()> {
        match self.instances.get_mut(&index) {
            Some(inst) => inst.run(ins, outs, places),
            None => Err(Error::new(
                ErrorKind::Fail,
                format!(
                    "custom op '{}' (node '{}') is not registered",
                    node.op.type_name(),
                    node.name
                ),
            )),
        }
    }
}
