//! `.rknn` containers: our format (read and write) and recognition of the
//! vendor's. The reader treats every file as hostile (DESIGN.md rule 4).

mod container;
mod shape_sets;
mod validate;
pub mod vendor;

use serde::{Deserialize, Serialize};

use crate::graph::{Graph, ShapeSet};
use crate::platform::Platform;

pub use container::{
    parse, parse_layout, write, write_with_programs, Layout, NpuProgram, FILE_FLAGS_REQUIRED_MASK,
    FORMAT_TAG, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_METADATA_LEN, MAX_SECTIONS, SECTION_ALIGN,
    SECTION_METADATA, SECTION_NPU_PROGRAM, SECTION_REQUIRED, SECTION_WEIGHTS,
};
pub use shape_sets::MAX_SHAPE_SETS;
pub use validate::{
    channel_count, MAX_BATCH_SIZE, MAX_CUSTOM_STRING_LEN, MAX_INTERNAL_SIZE, MAX_PRODUCER_LEN,
};

/// Why a model was refused. Every variant maps to `RKNN_ERR_MODEL_INVALID`
/// except `Io` (a file that cannot be read).
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Corrupt or inconsistent file; the text says what is wrong.
    #[error("invalid model: {0}")]
    Invalid(String),
    /// A file made by the vendor toolkit, which this runtime cannot run yet.
    #[error("{0}")]
    Unsupported(String),
    /// The file could not be opened or mapped.
    #[error("cannot read model file {path}: {reason}")]
    Io {
        /// The path given.
        path: String,
        /// What the system said.
        reason: String,
    },
}

/// Pre-processing applied by `rknn_inputs_set` to one model input
/// (`(x - mean[c]) / std[c]` per channel, before quantization).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputPreprocess {
    /// Per-channel means (empty: 0).
    #[serde(default)]
    pub mean: Vec<f32>,
    /// Per-channel standard deviations (empty: 1).
    #[serde(default)]
    pub std: Vec<f32>,
}

/// Everything in a model file except the weight bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// The graph (weights referenced by offset into the weights section).
    pub graph: Graph,
    /// One entry per graph input.
    pub preprocess: Vec<InputPreprocess>,
    /// Platform the model was compiled for.
    pub platform: Platform,
    /// User string embedded at conversion (`RKNN_QUERY_CUSTOM_STRING`),
    /// at most 1023 bytes.
    #[serde(default)]
    pub custom_string: String,
    /// Name and version of the producing tool.
    pub producer: String,
    /// Size in bytes of the internal arena as planned by the compiler
    /// (for a dynamic-shape model: the largest over its shape sets).
    #[serde(default)]
    pub internal_size: u64,
    /// `rknn_batch_size`: the graph computes one batch; the runtime's
    /// inputs and outputs hold this many (dimension 0 multiplied), run in
    /// parallel (`docs/multicore.md`). Omitted from the file when 1.
    #[serde(default = "one_batch", skip_serializing_if = "is_one_batch")]
    pub batch_size: u32,
    /// Input shape sets of a dynamic-shape model, in the order given at
    /// conversion; empty for a static model. The graph's tensors carry
    /// the shapes of one of them (`docs/dynamic_shapes.md`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shape_sets: Vec<ShapeSet>,
}

fn one_batch() -> u32 {
    1
}

fn is_one_batch(n: &u32) -> bool {
    *n == 1
}

/// A model ready for the runtime: metadata plus the bytes it came from.
pub struct Model {
    /// Parsed, validated metadata.
    pub meta: ModelMeta,
    backing: Box<dyn AsRef<[u8]> + Send + Sync>,
    weights: std::ops::Range<usize>,
    vendor: Option<Box<vendor::VendorModel>>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("meta", &self.meta)
            .field("weights", &self.weights)
            .field("vendor", &self.vendor.is_some())
            .finish()
    }
}

impl Model {
    /// Parses and validates the file held by `backing` (an mmap or a
    /// device buffer); weights are used in place. RK35xx files of the
    /// vendor toolkit are read by [`vendor::read`]: their metadata is the
    /// logical view of [`vendor::model_meta`], their weights section is
    /// empty and [`Model::vendor`] holds the rest.
    pub fn load(backing: Box<dyn AsRef<[u8]> + Send + Sync>) -> Result<Model, ModelError> {
        let bytes = (*backing).as_ref();
        if vendor::is_toolkit2(bytes) {
            let vm = vendor::read(bytes)?;
            let meta = vendor::model_meta(&vm)?;
            return Ok(Model {
                meta,
                backing,
                weights: 0..0,
                vendor: Some(Box::new(vm)),
            });
        }
        let (meta, weights) = parse(bytes)?;
        Ok(Model {
            meta,
            backing,
            weights,
            vendor: None,
        })
    }

    /// The weights section (empty for vendor models).
    pub fn weights(&self) -> &[u8] {
        &(*self.backing).as_ref()[self.weights.clone()]
    }

    /// The whole file the model was read from.
    pub fn bytes(&self) -> &[u8] {
        (*self.backing).as_ref()
    }

    /// What the model runs as, for choosing a device: its NPU program for
    /// vendor models, the CPU kernels otherwise.
    pub fn workload(&self) -> crate::driver::select::Workload {
        use crate::driver::select::Workload;
        match self.vendor {
            Some(_) => Workload::NpuProgram(self.meta.platform),
            None => Workload::Cpu,
        }
    }

    /// The vendor file's contents, for models made by the vendor toolkit.
    pub fn vendor(&self) -> Option<&vendor::VendorModel> {
        self.vendor.as_deref()
    }

    /// A model with `meta` whose weights are those of `owner`, used in
    /// place (`RKNN_FLAG_SHARE_WEIGHT_MEM`). `meta` must have been
    /// validated against weights equal to `owner`'s
    /// (`runtime::loader::share_weights` checks that).
    pub fn with_weights_of(meta: ModelMeta, owner: std::sync::Arc<Model>) -> Model {
        let weights = owner.weights.clone();
        Model {
            meta,
            backing: Box::new(OwnerBytes(owner)),
            weights,
            vendor: None,
        }
    }
}

/// The bytes of another model, kept alive by sharing it.
struct OwnerBytes(std::sync::Arc<Model>);

impl AsRef<[u8]> for OwnerBytes {
    fn as_ref(&self) -> &[u8] {
        (*self.0.backing).as_ref()
    }
}
