//! Dynamic input shapes at run time (`docs/dynamic_shapes.md`): every shape
//! set's graph and memory plan, computed once when a context is created;
//! the memory sizes that cover every set, so switching sets never
//! allocates; and the matching of the shapes given to
//! `rknn_set_input_shapes` against the sets, with the vendor's error
//! message listing the supported shapes.

use std::sync::Arc;

use super::error::{Error, ErrorKind, Result};
use super::plan::{self, Plan};
use crate::graph::{Graph, Layout};
use crate::model::Model;

/// One shape set, ready to run.
#[derive(Debug)]
pub struct SetPlan {
    /// The graph at this set's shapes.
    pub graph: Graph,
    /// Its memory plan.
    pub plan: Arc<Plan>,
}

/// The shape sets of a dynamic-shape model with the sizes that cover them.
#[derive(Debug)]
pub struct ShapeTable {
    sets: Vec<SetPlan>,
    arena_size: usize,
    input_bytes: Vec<usize>,
    output_bytes: Vec<usize>,
}

/// The shape one `rknn_tensor_attr` gives to `rknn_set_input_shapes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeRequest {
    /// `attr.index`: the model input.
    pub index: usize,
    /// `attr.name` (empty: not checked).
    pub name: String,
    /// `attr.dims[..n_dims]`, in `layout` order.
    pub dims: Vec<u32>,
    /// `attr.fmt`.
    pub layout: Layout,
}

/// The vendor's name of a layout in messages and dumps.
pub fn layout_name(l: Layout) -> &'static str {
    match l {
        Layout::Nchw => "NCHW",
        Layout::Nhwc => "NHWC",
        Layout::Nc1hwc2 => "NC1HWC2",
        Layout::Undefined => "UNDEFINED",
    }
}

/// How the C API shows an input of model shape `shape`: NHWC for 4-D
/// inputs (the order of `RKNN_QUERY_INPUT_ATTR`), the model's own order
/// (`UNDEFINED`) otherwise.
pub fn input_view(shape: &[usize]) -> (Layout, Vec<usize>) {
    match shape {
        [n, c, h, w] => (Layout::Nhwc, vec![*n, *h, *w, *c]),
        _ => (Layout::Undefined, shape.to_vec()),
    }
}

fn dims_text(dims: &[usize], sep: &str) -> String {
    let parts: Vec<String> = dims.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(sep))
}

impl ShapeTable {
    /// The table of `model`'s shape sets, or `None` for a static model.
    /// Every set's graph is derived and checked again (the loader checked
    /// them already) and planned.
    pub fn build(model: &Model) -> Result<Option<Arc<ShapeTable>>> {
        let meta = &model.meta;
        if !meta.is_dynamic() {
            return Ok(None);
        }
        let graphs = meta.shape_set_graphs(model.weights().len() as u64)?;
        let g = &meta.graph;
        let mut input_bytes: Vec<usize> = g.inputs.iter().map(|&t| g.tensors[t].bytes()).collect();
        let mut output_bytes: Vec<usize> =
            g.outputs.iter().map(|&t| g.tensors[t].bytes()).collect();
        let mut arena_size = 0;
        let mut sets = Vec::with_capacity(graphs.len());
        for graph in graphs {
            for (m, &t) in input_bytes.iter_mut().zip(&graph.inputs) {
                *m = (*m).max(graph.tensors[t].bytes());
            }
            for (m, &t) in output_bytes.iter_mut().zip(&graph.outputs) {
                *m = (*m).max(graph.tensors[t].bytes());
            }
            let plan = plan::plan(&graph);
            arena_size = arena_size.max(plan.arena_size);
            sets.push(SetPlan {
                graph,
                plan: Arc::new(plan),
            });
        }
        Ok(Some(Arc::new(ShapeTable {
            sets,
            arena_size,
            input_bytes,
            output_bytes,
        })))
    }

    /// Number of sets.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether there are no sets (never for a table [`ShapeTable::build`]
    /// returns).
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Set `s`.
    pub fn set(&self, s: usize) -> Option<&SetPlan> {
        self.sets.get(s)
    }

    /// Internal arena bytes that hold every set's plan.
    pub fn arena_size(&self) -> usize {
        self.arena_size
    }

    /// Bytes of input `i` (the executor's tensor) at its largest set.
    pub fn input_bytes(&self, i: usize) -> usize {
        self.input_bytes.get(i).copied().unwrap_or(0)
    }

    /// Bytes of output `j` at its largest set.
    pub fn output_bytes(&self, j: usize) -> usize {
        self.output_bytes.get(j).copied().unwrap_or(0)
    }

    /// Input `i`'s shape at every set, in set order, as the C API shows it
    /// (`RKNN_QUERY_INPUT_DYNAMIC_RANGE`): the layout and one shape per
    /// set.
    pub fn input_range(&self, i: usize) -> Option<(Layout, Vec<Vec<usize>>)> {
        let mut layout = Layout::Undefined;
        let mut shapes = Vec::with_capacity(self.sets.len());
        for s in &self.sets {
            let g = &s.graph;
            let &t = g.inputs.get(i)?;
            let (l, dims) = input_view(&g.tensors[t].shape);
            layout = l;
            shapes.push(dims);
        }
        Some((layout, shapes))
    }

    /// The set whose input shapes `requests` give (one request per model
    /// input, each naming its input by index). A shape that is no input's
    /// shape in any set gives the vendor's message listing that input's
    /// shapes; shapes that exist only in different sets give the list of
    /// sets. A multi-line message is one log line per line.
    pub fn find(&self, requests: &[ShapeRequest]) -> Result<usize> {
        let base = &self.sets[0].graph;
        let n = base.inputs.len();
        let fail = |kind: ErrorKind, msg: String| Err(Error::new(kind, msg));
        if requests.len() != n {
            return fail(
                ErrorKind::ParamInvalid,
                format!("n_inputs({}) != model input num({n})", requests.len()),
            );
        }
        let mut wanted: Vec<Option<Vec<usize>>> = vec![None; n];
        for (k, r) in requests.iter().enumerate() {
            let Some(&t) = base.inputs.get(r.index) else {
                return fail(
                    ErrorKind::ParamInvalid,
                    format!(
                        "rknn_tensor_attr[{k}].index({}) >= model input num({n})",
                        r.index
                    ),
                );
            };
            let name = &base.tensors[t].name;
            if !r.name.is_empty() && &r.name != name {
                return fail(
                    ErrorKind::ParamInvalid,
                    format!(
                        "rknn_tensor_attr[{k}].name = {} is not the name of input {} ({name})",
                        r.name, r.index
                    ),
                );
            }
            if wanted[r.index].is_some() {
                return fail(
                    ErrorKind::ParamInvalid,
                    format!("input {} is given twice (rknn_tensor_attr[{k}])", r.index),
                );
            }
            let listed = |shape: &Vec<usize>| {
                self.sets.iter().any(|s| {
                    let g = &s.graph;
                    &g.tensors[g.inputs[r.index]].shape == shape
                })
            };
            match model_order(r) {
                Some(shape) if listed(&shape) => wanted[r.index] = Some(shape),
                _ => return Err(self.not_listed(k, r, name)),
            }
        }
        let wanted: Vec<Vec<usize>> = wanted.into_iter().flatten().collect();
        if let Some(s) = self.sets.iter().position(|s| {
            let g = &s.graph;
            g.inputs
                .iter()
                .zip(&wanted)
                .all(|(&t, w)| &g.tensors[t].shape == w)
        }) {
            return Ok(s);
        }
        let mut msg = String::from(
            "rknn_set_input_shapes error, the input shapes are not one of the model's shape sets; supported shape sets are as follows:",
        );
        for (s, set) in self.sets.iter().enumerate() {
            let g = &set.graph;
            let parts: Vec<String> = g
                .inputs
                .iter()
                .map(|&t| {
                    let (l, dims) = input_view(&g.tensors[t].shape);
                    format!(
                        "{} shape = {}, layout = {}",
                        g.tensors[t].name,
                        dims_text(&dims, ","),
                        layout_name(l)
                    )
                })
                .collect();
            msg.push_str(&format!("\n set {s}: {}", parts.join("; ")));
        }
        let given: Vec<String> = requests
            .iter()
            .map(|r| {
                let dims: Vec<usize> = r.dims.iter().map(|&d| d as usize).collect();
                format!(
                    "input {}: dims = {}, fmt = {}",
                    r.index,
                    dims_text(&dims, ", "),
                    layout_name(r.layout)
                )
            })
            .collect();
        msg.push_str(&format!("\nwhile get {}", given.join("; ")));
        fail(ErrorKind::Fail, msg)
    }

    /// The vendor's message for request number `k` whose shape is not one
    /// of input `r.index`'s shapes (`r.index` is in range).
    fn not_listed(&self, k: usize, r: &ShapeRequest, name: &str) -> Error {
        let mut msg = format!(
            "rknn_set_input_shapes error, input name = {name} supported input shapes are as follows:"
        );
        let mut listed: Vec<(Layout, Vec<usize>)> = Vec::new();
        for s in &self.sets {
            let g = &s.graph;
            let view = input_view(&g.tensors[g.inputs[r.index]].shape);
            if !listed.contains(&view) {
                msg.push_str(&format!(
                    "\n shape = {}, layout = {}",
                    dims_text(&view.1, ","),
                    layout_name(view.0)
                ));
                listed.push(view);
            }
        }
        let dims: Vec<usize> = r.dims.iter().map(|&d| d as usize).collect();
        msg.push_str(&format!(
            "\nwhile get rknn_tensor_attr[{k}].name = {}, dims = {}, fmt = {}",
            r.name,
            dims_text(&dims, ", "),
            layout_name(r.layout)
        ));
        Error::new(ErrorKind::Fail, msg)
    }
}

/// The request's dims in the input's model order (NCHW for 4-D), or
/// `None` when its layout cannot describe a shape of that rank.
fn model_order(r: &ShapeRequest) -> Option<Vec<usize>> {
    let d: Vec<usize> = r.dims.iter().map(|&v| v as usize).collect();
    match (r.layout, d.as_slice()) {
        (Layout::Nhwc, [n, h, w, c]) => Some(vec![*n, *c, *h, *w]),
        (Layout::Nchw, [_, _, _, _]) | (Layout::Undefined, _) => Some(d),
        _ => None,
    }
}
