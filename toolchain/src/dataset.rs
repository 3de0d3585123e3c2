//! Calibration datasets in the vendor's `dataset.txt` form, and the input
//! files they (and `rknn-convert infer`/`accuracy`) name.
//!
//! * One sample per line; a model with several inputs takes several files
//!   per line, separated by spaces, in the order of the model's inputs.
//!   Empty lines and lines starting with `#` are skipped. Relative paths are
//!   relative to the directory of the `.txt` file.
//! * `.jpg`/`.jpeg`/`.png`/`.bmp` images feed 4-D inputs with 1 (gray),
//!   3 (RGB, or BGR with `quant_img_RGB2BGR`) or 4 (RGBA) channels and
//!   batch 1; they are resized (bilinear) to the input's H×W when needed.
//! * `.npy` files hold any numeric type; their shape must be the input's
//!   shape, or for a 4-D input its NHWC form.
//!
//! A loaded file is a [`RawInput`]: what a user would pass to
//! `rknn_inputs_set`. [`to_graph_values`] turns it into the values the
//! float graph input receives, with the model's mean/std, through the
//! runtime's own input conversion.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use rknnrt::graph::{DType, Layout, TensorInfo};
use rknnrt::model::InputPreprocess;
use rknnrt::runtime::io::{self, InputBuf, LayoutSpec};

use crate::calibrate::Samples;
use crate::error::BuildError;
use crate::model::BuiltModel;
use crate::npy::NpyArray;

/// One input as a user would hand it to the runtime.
#[derive(Clone, Debug, PartialEq)]
pub struct RawInput {
    /// Element type of `bytes`.
    pub dtype: DType,
    /// Layout of `bytes` (NHWC for images, NCHW/undefined for arrays).
    pub layout: Layout,
    /// Shape of `bytes` in its layout.
    pub shape: Vec<usize>,
    /// The data.
    pub bytes: Vec<u8>,
}

/// Options for reading image files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImageOptions {
    /// Swap the R and B channels of 3- and 4-channel images
    /// (`quant_img_RGB2BGR`).
    pub rgb2bgr: bool,
}

fn is_image(path: &Path) -> Option<bool> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" | "png" | "bmp" => Some(true),
        "npy" => Some(false),
        _ => None,
    }
}

fn load_image(path: &Path, info: &TensorInfo, opts: ImageOptions) -> Result<RawInput, String> {
    let [n, c, h, w] = match info.shape[..] {
        [n, c, h, w] if info.layout != Layout::Nhwc => [n, c, h, w],
        _ => {
            return Err(format!(
                "input '{}' has shape {:?}: images need a 4-D NCHW input",
                info.name, info.shape
            ))
        }
    };
    if n != 1 {
        return Err(format!(
            "input '{}' has batch {n}: an image fills batch 1 only",
            info.name
        ));
    }
    let img = image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .decode()
        .map_err(|e| format!("cannot decode image: {e}"))?;
    let img = if img.width() as usize != w || img.height() as usize != h {
        img.resize_exact(w as u32, h as u32, FilterType::Triangle)
    } else {
        img
    };
    let mut bytes = match c {
        1 => img.to_luma8().into_raw(),
        3 => img.to_rgb8().into_raw(),
        4 => img.to_rgba8().into_raw(),
        _ => {
            return Err(format!(
                "input '{}' has {c} channels: images give 1, 3 or 4",
                info.name
            ))
        }
    };
    if opts.rgb2bgr && c >= 3 {
        for px in bytes.chunks_exact_mut(c) {
            px.swap(0, 2);
        }
    }
    Ok(RawInput {
        dtype: DType::U8,
        layout: Layout::Nhwc,
        shape: vec![1, h, w, c],
        bytes,
    })
}

fn load_npy(path: &Path, info: &TensorInfo) -> Result<RawInput, String> {
    let arr = NpyArray::parse(&std::fs::read(path).map_err(|e| e.to_string())?)?;
    let layout = if arr.shape == info.shape {
        if info.shape.len() == 4 {
            Layout::Nchw
        } else {
            Layout::Undefined
        }
    } else {
        match info.shape[..] {
            [n, c, h, w] if arr.shape == [n, h, w, c] => Layout::Nhwc,
            _ => {
                let nhwc = match info.shape[..] {
                    [n, c, h, w] => format!(" (or NHWC {:?})", [n, h, w, c]),
                    _ => String::new(),
                };
                return Err(format!(
                    "shape {:?} does not match input '{}' {:?}{nhwc}",
                    arr.shape, info.name, info.shape
                ));
            }
        }
    };
    let (dtype, bytes) = match arr.dtype {
        DType::F32 | DType::I64 | DType::I32 => (arr.dtype, arr.bytes.clone()),
        _ => (
            DType::F32,
            arr.to_f32().iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
    };
    Ok(RawInput {
        dtype,
        layout,
        shape: arr.shape,
        bytes,
    })
}

/// Reads the image or `.npy` file at `path` for graph input `info`. The
/// error says what is wrong with the file (without naming it).
pub fn load_file(path: &Path, info: &TensorInfo, opts: ImageOptions) -> Result<RawInput, String> {
    if !path.is_file() {
        return Err("file not found".into());
    }
    match is_image(path) {
        Some(true) => load_image(path, info, opts),
        Some(false) => load_npy(path, info),
        None => Err("unsupported file type (expected .jpg, .jpeg, .png, .bmp or .npy)".into()),
    }
}

/// The values graph input `info` (a float tensor) receives for `raw`:
/// mean/std of `pre` applied for 4-D inputs, exactly as the runtime's
/// input conversion does.
pub fn to_graph_values(
    raw: &RawInput,
    info: &TensorInfo,
    pre: &InputPreprocess,
) -> Result<Vec<f32>, String> {
    let mut f = info.clone();
    f.dtype = DType::F32;
    f.quant = None;
    if matches!(raw.dtype, DType::I64 | DType::I32) {
        let arr = NpyArray {
            shape: raw.shape.clone(),
            dtype: raw.dtype,
            bytes: raw.bytes.clone(),
        };
        return Ok(arr.to_f32());
    }
    let mut out = vec![0f32; f.elems()];
    let src = InputBuf {
        data: &raw.bytes,
        dtype: raw.dtype,
        layout: LayoutSpec::of(raw.layout),
        pass_through: false,
    };
    io::convert_input(
        &src,
        pre,
        &f,
        LayoutSpec::NCHW,
        bytemuck::cast_slice_mut(&mut out),
    )
    .map_err(|e| e.to_string())?;
    Ok(out)
}

/// One line of a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number in the file.
    pub number: usize,
    /// The files, resolved against the dataset's directory.
    pub files: Vec<PathBuf>,
}

/// A parsed `dataset.txt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// The `.txt` file.
    pub path: PathBuf,
    /// Its samples.
    pub lines: Vec<Line>,
}

impl Dataset {
    /// Reads and parses `path` (files are checked when loaded).
    pub fn open(path: &Path) -> Result<Dataset, BuildError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BuildError::Data(format!("dataset {}: {e}", path.display())))?;
        Ok(Dataset::parse(path, &text))
    }

    /// Parses the text of the dataset file `path`.
    pub fn parse(path: &Path, text: &str) -> Dataset {
        let dir = path.parent().unwrap_or(Path::new("."));
        let lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|(i, l)| Line {
                number: i + 1,
                files: l.split_whitespace().map(|f| dir.join(f)).collect(),
            })
            .collect();
        Dataset {
            path: path.to_path_buf(),
            lines,
        }
    }

    /// The dataset as calibration samples for `model`; checks that every
    /// line names one file per model input.
    pub fn samples<'a>(
        &'a self,
        model: &'a BuiltModel,
        opts: ImageOptions,
    ) -> Result<DatasetSamples<'a>, BuildError> {
        let want = model.graph.inputs.len();
        if self.lines.is_empty() {
            return Err(BuildError::Data(format!(
                "dataset {}: no samples",
                self.path.display()
            )));
        }
        if let Some(l) = self.lines.iter().find(|l| l.files.len() != want) {
            return Err(BuildError::Data(format!(
                "{}: line {}: {} files for a model with {want} input(s)",
                self.path.display(),
                l.number,
                l.files.len()
            )));
        }
        Ok(DatasetSamples {
            dataset: self,
            model,
            opts,
        })
    }
}

/// A dataset bound to a model: implements [`Samples`].
pub struct DatasetSamples<'a> {
    dataset: &'a Dataset,
    model: &'a BuiltModel,
    opts: ImageOptions,
}

impl Samples for DatasetSamples<'_> {
    fn count(&self) -> usize {
        self.dataset.lines.len()
    }

    fn sample(&self, i: usize) -> Result<Vec<Vec<f32>>, BuildError> {
        let line = self
            .dataset
            .lines
            .get(i)
            .ok_or_else(|| BuildError::Data(format!("no calibration sample {i}")))?;
        let g = &self.model.graph;
        let default = InputPreprocess::default();
        line.files
            .iter()
            .zip(&g.inputs)
            .enumerate()
            .map(|(k, (file, &t))| {
                let info = &g.tensors[t];
                let pre = self.model.preprocess.get(k).unwrap_or(&default);
                load_file(file, info, self.opts)
                    .and_then(|raw| to_graph_values(&raw, info, pre))
                    .map_err(|e| {
                        BuildError::Data(format!(
                            "{}: line {}: {}: {e}",
                            self.dataset.path.display(),
                            line.number,
                            file.display()
                        ))
                    })
            })
            .collect()
    }
}
