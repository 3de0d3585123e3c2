//! PC inference of a `.rknn` file through the rknnrt runtime (host
//! device): the same input conversion, executor and output conversion as
//! `rknn_inputs_set` / `rknn_run` / `rknn_outputs_get` with
//! `want_float = 1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rknnrt::driver::host::HostDevice;
use rknnrt::graph::{Graph, Layout, TensorInfo};
use rknnrt::model::{InputPreprocess, Model};
use rknnrt::runtime::dynamic::ShapeRequest;
use rknnrt::runtime::io::{self, InputBuf, LayoutSpec};
use rknnrt::runtime::{loader, Context};

use crate::calibrate::interp::TensorBuf;
use crate::dataset::RawInput;
use crate::error::BuildError;
use crate::npy::NpyArray;

/// One output of a run, as float values in model order.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// Tensor name.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values (dequantized).
    pub values: Vec<f32>,
}

/// Loads the `.rknn` file at `path`.
pub fn load(path: &Path) -> Result<Model, BuildError> {
    let p = path
        .to_str()
        .ok_or_else(|| BuildError::Data(format!("{}: path is not valid UTF-8", path.display())))?;
    loader::from_path(p).map_err(|e| BuildError::Run(format!("{}: {e}", path.display())))
}

/// The bytes graph input `info` holds for `raw` after the runtime's input
/// conversion (mean/std of `pre`, quantization, layout).
pub fn runtime_input(
    raw: &RawInput,
    info: &TensorInfo,
    pre: &InputPreprocess,
) -> Result<TensorBuf, BuildError> {
    let mut buf = TensorBuf::zeroed(info.bytes());
    let src = InputBuf {
        data: &raw.bytes,
        dtype: raw.dtype,
        layout: LayoutSpec::of(raw.layout),
        pass_through: false,
    };
    io::convert_input(&src, pre, info, LayoutSpec::NCHW, buf.bytes_mut())
        .map_err(|e| BuildError::Run(format!("input '{}': {e}", info.name)))?;
    Ok(buf)
}

/// Whether `file` holds data of `info`'s shape: an `.npy` array of the
/// shape (or its NHWC form), or an image of its height and width.
fn fits(file: &Path, info: &TensorInfo) -> bool {
    let s = &info.shape;
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext.eq_ignore_ascii_case("npy") {
        let Ok(a) = NpyArray::read(file) else {
            return false;
        };
        let nhwc = (s.len() == 4).then(|| vec![s[0], s[2], s[3], s[1]]);
        return a.shape == *s || Some(&a.shape) == nhwc.as_ref();
    }
    match (image::image_dimensions(file), s.as_slice()) {
        (Ok((w, h)), [_, _, sh, sw]) => (h as usize, w as usize) == (*sh, *sw),
        _ => false,
    }
}

/// For a dynamic-shape model, the first shape set whose inputs `files`
/// (one per input) hold, with the graph at that set; `None` for a static
/// model. Fails when the files fit no set.
pub fn shape_set_for(
    model: &Model,
    files: &[PathBuf],
) -> Result<Option<(usize, Graph)>, BuildError> {
    let meta = &model.meta;
    if !meta.is_dynamic() {
        return Ok(None);
    }
    let graphs = meta
        .shape_set_graphs(model.weights().len() as u64)
        .map_err(|e| BuildError::Run(e.to_string()))?;
    for (s, g) in graphs.into_iter().enumerate() {
        let all = files.len() == g.inputs.len()
            && files
                .iter()
                .zip(&g.inputs)
                .all(|(f, &t)| fits(f, &g.tensors[t]));
        if all {
            return Ok(Some((s, g)));
        }
    }
    let sets: Vec<&Vec<Vec<usize>>> = meta.shape_sets.iter().map(|s| &s.inputs).collect();
    Err(BuildError::Data(format!(
        "the input files fit none of the model's shape sets {sets:?} (.npy files need a set's shape or its NHWC form, images a set's height and width)"
    )))
}

/// Runs `model` once on `inputs` (one per model input, in order).
pub fn run(model: Model, inputs: &[RawInput]) -> Result<Vec<Output>, BuildError> {
    run_at(model, None, inputs)
}

/// Runs `model` once on `inputs`, at shape set `set` of a dynamic-shape
/// model (`None` for a static model).
pub fn run_at(
    model: Model,
    set: Option<usize>,
    inputs: &[RawInput],
) -> Result<Vec<Output>, BuildError> {
    let rt = |e: rknnrt::runtime::Error| BuildError::Run(e.to_string());
    let n_in = model.meta.graph.inputs.len();
    if inputs.len() != n_in {
        return Err(BuildError::Data(format!(
            "the model has {n_in} input(s), {} given",
            inputs.len()
        )));
    }
    let requests: Option<Vec<ShapeRequest>> =
        set.and_then(|s| model.meta.shape_sets.get(s)).map(|s| {
            s.inputs
                .iter()
                .enumerate()
                .map(|(i, shape)| ShapeRequest {
                    index: i,
                    name: String::new(),
                    dims: shape.iter().map(|&d| d as u32).collect(),
                    layout: if shape.len() == 4 {
                        Layout::Nchw
                    } else {
                        Layout::Undefined
                    },
                })
                .collect()
        });
    let mut ctx = Context::new(Arc::new(model), Arc::new(HostDevice::new()), 0).map_err(rt)?;
    if let Some(r) = requests {
        ctx.set_input_shapes(&r).map_err(rt)?;
    }
    for (i, raw) in inputs.iter().enumerate() {
        let pre = ctx
            .model()
            .meta
            .preprocess
            .get(i)
            .cloned()
            .unwrap_or_default();
        ctx.set_input(i, |info, _model_order, dst| {
            let buf = runtime_input(raw, info, &pre).map_err(|e| {
                rknnrt::runtime::Error::new(rknnrt::runtime::ErrorKind::InputInvalid, e.to_string())
            })?;
            dst.copy_from_slice(buf.bytes());
            Ok(())
        })
        .map_err(rt)?;
    }
    ctx.run().map_err(rt)?;
    let mut outputs = Vec::with_capacity(ctx.n_outputs());
    for i in 0..ctx.n_outputs() {
        let info = ctx
            .output_info(i)
            .cloned()
            .ok_or_else(|| BuildError::Run(format!("no output {i}")))?;
        let src = ctx.output_bytes(i).map_err(rt)?;
        let mut values = vec![0f32; info.elems()];
        io::convert_output(src, &info, true, bytemuck::cast_slice_mut(&mut values))
            .map_err(|e| BuildError::Run(format!("output '{}': {e}", info.name)))?;
        outputs.push(Output {
            name: info.name,
            shape: info.shape,
            values,
        });
    }
    Ok(outputs)
}

/// A file name for tensor `name` (path separators and other unusual
/// characters replaced by `_`).
pub fn file_name(name: &str) -> String {
    let s = rknnrt::runtime::dump::sanitise(name);
    format!("{}.npy", s.trim_start_matches('.'))
}
