//! Layer dumps (`RKNN_LOG_LEVEL` 5 and 6): after every layer of a run,
//! each output tensor is written as a `.npy` file, float32 by default or
//! in the tensor's own type with `RKNN_DUMP_QUANT=1`, into
//! `RKNN_DUMP_DIR` (default `/userdata/dumps` on Linux, `/data/dumps` on
//! Android), one file per tensor:
//!
//! ```text
//! <layer:03>_<op type>_<tensor name>_shape_<d0>_<d1>..._<type>.npy
//! ```
//!
//! with the layer's index in the model, the op type, the tensor name and
//! every character outside `[A-Za-z0-9._-]` replaced by `_` (the vendor's
//! naming, e.g. `051_Conv_conv1_shape_1_16_8_8_float.npy`). Data is in
//! the tensor's logical order (NCHW for 4-D), whatever layout the
//! executor stores it in. The same mechanism serves the CPU executor and
//! vendor models (NPU segments' outputs in internal memory, CPU ops'
//! outputs). A dump that cannot be written logs a warning; it never
//! fails the run.

use std::path::{Path, PathBuf};

use super::io::{self, LayoutSpec};
use crate::graph::{DType, TensorInfo};
use crate::npy::NpyArray;

/// Where and how layer dumps are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dumper {
    dir: PathBuf,
    quant: bool,
}

/// The dump directory when `RKNN_DUMP_DIR` is not set.
pub const DEFAULT_DIR: &str = if cfg!(target_os = "android") {
    "/data/dumps"
} else {
    "/userdata/dumps"
};

/// Replaces every character outside `[A-Za-z0-9._-]` with `_`.
pub fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn type_word(t: DType) -> &'static str {
    match t {
        DType::F32 => "float",
        DType::F16 => "float16",
        DType::I8 => "int8",
        DType::U8 => "uint8",
        DType::I16 => "int16",
        DType::U16 => "uint16",
        DType::I32 => "int32",
        DType::U32 => "uint32",
        DType::I64 => "int64",
        DType::Bool => "bool",
    }
}

/// One tensor to dump: its logical description, the description its
/// storage is converted through (`view`, the same as `info` except for
/// vectors stored in NC1HWC2 blocks), the storage layout and the bytes.
#[derive(Clone, Copy, Debug)]
pub struct DumpTensor<'a> {
    /// The tensor as the model describes it (name, shape).
    pub info: &'a TensorInfo,
    /// The tensor as stored.
    pub view: &'a TensorInfo,
    /// Layout of `bytes`.
    pub layout: LayoutSpec,
    /// The stored bytes.
    pub bytes: &'a [u8],
}

impl Dumper {
    /// The dumper the environment asks for: at `RKNN_LOG_LEVEL` 5 or 6,
    /// into `RKNN_DUMP_DIR` (or [`DEFAULT_DIR`]), quantized types with
    /// `RKNN_DUMP_QUANT=1`; `None` below level 5.
    pub fn from_env() -> Option<Dumper> {
        if crate::log::rknn_level() < 5 {
            return None;
        }
        let dir = std::env::var_os("RKNN_DUMP_DIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from);
        let quant = std::env::var("RKNN_DUMP_QUANT").is_ok_and(|v| v.trim() == "1");
        Some(Dumper::new(dir, quant))
    }

    /// A dumper writing into `dir`, in the tensors' own types when `quant`.
    pub fn new(dir: PathBuf, quant: bool) -> Dumper {
        Dumper { dir, quant }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one output of layer `layer` (op type `op`); logs and
    /// returns the path, or logs a warning when it cannot.
    pub fn write(&self, layer: usize, op: &str, t: DumpTensor<'_>) -> Option<PathBuf> {
        match self.try_write(layer, op, t) {
            Ok(p) => {
                tracing::debug!("dump npy tensor to: {}", p.display());
                Some(p)
            }
            Err(e) => {
                tracing::warn!(
                    "layer dump of '{}' (layer {layer}, {op}) skipped: {e}",
                    t.info.name
                );
                None
            }
        }
    }

    fn try_write(&self, layer: usize, op: &str, t: DumpTensor<'_>) -> Result<PathBuf, String> {
        let want = if self.quant { t.view.dtype } else { DType::F32 };
        let convert = |ty: DType| -> Result<Vec<u8>, String> {
            let n =
                io::output_size_to(t.view, ty, LayoutSpec::UNDEFINED).map_err(|e| e.to_string())?;
            let mut out = vec![0u8; n];
            io::convert_output_from(
                t.bytes,
                t.layout,
                t.view,
                ty,
                LayoutSpec::UNDEFINED,
                &mut out,
            )
            .map_err(|e| e.to_string())?;
            Ok(out)
        };
        // Types the conversion cannot widen to f32 are dumped as they are.
        let (dtype, bytes) = match convert(want) {
            Ok(b) => (want, b),
            Err(_) if want != t.view.dtype => (t.view.dtype, convert(t.view.dtype)?),
            Err(e) => return Err(e),
        };
        let dims: Vec<String> = t.info.shape.iter().map(|d| d.to_string()).collect();
        let name = format!(
            "{layer:03}_{}_{}_shape_{}_{}.npy",
            sanitise(op),
            sanitise(&t.info.name),
            dims.join("_"),
            type_word(dtype)
        );
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let path = self.dir.join(name);
        NpyArray {
            shape: t.info.shape.clone(),
            dtype,
            bytes: to_le(dtype, bytes),
        }
        .write(&path)?;
        Ok(path)
    }
}

/// The conversions produce native-endian elements; `.npy` files here are
/// little-endian.
fn to_le(dtype: DType, mut bytes: Vec<u8>) -> Vec<u8> {
    if cfg!(target_endian = "big") {
        for e in bytes.chunks_exact_mut(dtype.size()) {
            e.reverse();
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Quant;

    #[test]
    fn names_are_sanitised_and_data_is_in_logical_order() {
        assert_eq!(
            sanitise("/model.0/conv/Conv_output_0"),
            "_model.0_conv_Conv_output_0"
        );
        let dir = std::env::temp_dir().join(format!("rknnrt_dump_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut info = TensorInfo::activation("a/b:0", vec![1, 3, 1, 2], DType::I8);
        info.quant = Some(Quant::per_tensor(0.5, 1));
        // NC1HWC2 with C2 = 4: pixel-major blocks.
        let native = [1u8, 3, 5, 9, 2, 4, 6, 9];
        let t = DumpTensor {
            info: &info,
            view: &info,
            layout: LayoutSpec::nc1hwc2(4),
            bytes: &native,
        };
        let f = Dumper::new(dir.clone(), false)
            .write(7, "ConvRelu", t)
            .unwrap();
        assert_eq!(
            f.file_name().unwrap().to_str().unwrap(),
            "007_ConvRelu_a_b_0_shape_1_3_1_2_float.npy"
        );
        let a = NpyArray::read(&f).unwrap();
        assert_eq!(a.shape, vec![1, 3, 1, 2]);
        assert_eq!(a.to_f32(), vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
        let q = Dumper::new(dir.clone(), true)
            .write(7, "ConvRelu", t)
            .unwrap();
        let a = NpyArray::read(&q).unwrap();
        assert_eq!((a.dtype, a.bytes), (DType::I8, vec![1, 2, 3, 4, 5, 6]));
        // An unwritable directory is a warning, not an error.
        let bad = Dumper::new(f.join("not_a_dir"), false);
        assert!(bad.write(0, "Conv", t).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
