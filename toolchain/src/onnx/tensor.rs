//! Constant tensors known at import time ([`Tensor`]) and their decoding
//! from ONNX `TensorProto`s: raw and typed fields, external data files.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

use half::f16;
use rknnrt::graph::{shape::MAX_TENSOR_BYTES, DType, Quant};

use super::proto::TensorProto;
use crate::data::ConstData;

/// ONNX `TensorProto.DataType` values this importer handles.
pub mod onnx_type {
    /// float32
    pub const FLOAT: i32 = 1;
    /// uint8
    pub const UINT8: i32 = 2;
    /// int8
    pub const INT8: i32 = 3;
    /// uint16
    pub const UINT16: i32 = 4;
    /// int16
    pub const INT16: i32 = 5;
    /// int32
    pub const INT32: i32 = 6;
    /// int64
    pub const INT64: i32 = 7;
    /// bool
    pub const BOOL: i32 = 9;
    /// float16
    pub const FLOAT16: i32 = 10;
    /// uint32
    pub const UINT32: i32 = 12;
}

/// Our element type for an ONNX data type, or why there is none.
pub fn dtype_of(t: i32) -> Result<DType, String> {
    use onnx_type::*;
    Ok(match t {
        FLOAT => DType::F32,
        UINT8 => DType::U8,
        INT8 => DType::I8,
        UINT16 => DType::U16,
        INT16 => DType::I16,
        INT32 => DType::I32,
        INT64 => DType::I64,
        BOOL => DType::Bool,
        FLOAT16 => DType::F16,
        UINT32 => DType::U32,
        _ => return Err(format!("element type {} is not supported", type_name(t))),
    })
}

/// The ONNX spelling of a data type number.
pub fn type_name(t: i32) -> String {
    super::proto::tensor_proto::DataType::try_from(t)
        .map(|d| d.as_str_name().to_string())
        .unwrap_or_else(|_| format!("#{t}"))
}

/// A constant: element type, shape and little-endian bytes (and, for
/// integer data feeding a DequantizeLinear, its quantization).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Element type.
    pub dtype: DType,
    /// Dimensions (empty for a scalar; zero-length dims are allowed here,
    /// e.g. for empty optional inputs, but never reach the graph).
    pub shape: Vec<usize>,
    /// `elems * dtype.size()` bytes, little-endian.
    pub bytes: Vec<u8>,
    /// Quantization carried by the values.
    pub quant: Option<Quant>,
}

impl Tensor {
    /// A tensor from parts; `None` when the byte count does not match.
    pub fn new(dtype: DType, shape: Vec<usize>, bytes: Vec<u8>) -> Option<Tensor> {
        let elems = elem_count(&shape)?;
        (elems.checked_mul(dtype.size())? == bytes.len()).then_some(Tensor {
            dtype,
            shape,
            bytes,
            quant: None,
        })
    }

    /// A float32 tensor.
    pub fn from_f32(shape: Vec<usize>, v: &[f32]) -> Tensor {
        Tensor {
            dtype: DType::F32,
            shape,
            bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            quant: None,
        }
    }

    /// An int64 tensor.
    pub fn from_i64(shape: Vec<usize>, v: &[i64]) -> Tensor {
        Tensor {
            dtype: DType::I64,
            shape,
            bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            quant: None,
        }
    }

    /// Number of elements.
    pub fn elems(&self) -> usize {
        self.shape.iter().product()
    }

    /// The values as i64 (integers and bools; floats are truncated).
    pub fn to_i64(&self) -> Vec<i64> {
        let b = &self.bytes;
        match self.dtype {
            DType::I64 => chunks::<8>(b).map(i64::from_le_bytes).collect(),
            DType::I32 => chunks::<4>(b)
                .map(|c| i32::from_le_bytes(c) as i64)
                .collect(),
            DType::U32 => chunks::<4>(b)
                .map(|c| u32::from_le_bytes(c) as i64)
                .collect(),
            DType::I16 => chunks::<2>(b)
                .map(|c| i16::from_le_bytes(c) as i64)
                .collect(),
            DType::U16 => chunks::<2>(b)
                .map(|c| u16::from_le_bytes(c) as i64)
                .collect(),
            DType::I8 => b.iter().map(|&x| x as i8 as i64).collect(),
            DType::U8 | DType::Bool => b.iter().map(|&x| x as i64).collect(),
            DType::F32 | DType::F16 => self.to_f32().iter().map(|&x| x as i64).collect(),
        }
    }

    /// The values as f32.
    pub fn to_f32(&self) -> Vec<f32> {
        let b = &self.bytes;
        match self.dtype {
            DType::F32 => chunks::<4>(b).map(f32::from_le_bytes).collect(),
            DType::F16 => chunks::<2>(b)
                .map(|c| f16::from_le_bytes(c).to_f32())
                .collect(),
            _ => self.to_i64().iter().map(|&x| x as f32).collect(),
        }
    }

    /// The contents as builder data; `None` for element types the weights
    /// section does not store (i16, u16, u32, bool).
    pub fn to_const_data(&self) -> Option<ConstData> {
        let b = &self.bytes;
        Some(match self.dtype {
            DType::F32 => ConstData::F32(self.to_f32()),
            DType::F16 => ConstData::F16(chunks::<2>(b).map(f16::from_le_bytes).collect()),
            DType::I8 => ConstData::I8(b.iter().map(|&x| x as i8).collect()),
            DType::U8 => ConstData::U8(b.clone()),
            DType::I32 => ConstData::I32(chunks::<4>(b).map(i32::from_le_bytes).collect()),
            DType::I64 => ConstData::I64(self.to_i64()),
            _ => return None,
        })
    }
}

fn chunks<const N: usize>(b: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    b.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}

/// Product of `shape`, `None` on overflow.
pub fn elem_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// Decodes an initializer or `Constant` value. `base` is the model's
/// directory for external data (`None` when importing from bytes).
pub fn decode(t: &TensorProto, base: Option<&Path>) -> Result<Tensor, String> {
    let name = t.name();
    let dtype = dtype_of(t.data_type()).map_err(|e| format!("tensor '{name}': {e}"))?;
    let mut shape = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        if d < 0 || d > i32::MAX as i64 {
            return Err(format!("tensor '{name}' has an invalid dimension {d}"));
        }
        shape.push(d as usize);
    }
    let elems = elem_count(&shape)
        .filter(|&n| (n as u64).saturating_mul(dtype.size() as u64) <= MAX_TENSOR_BYTES)
        .ok_or_else(|| format!("tensor '{name}' of shape {shape:?} is too large"))?;
    let want = elems * dtype.size();
    let bytes = if t.data_location() == super::proto::tensor_proto::DataLocation::External {
        external(t, base, want)?
    } else if let Some(raw) = &t.raw_data {
        raw.clone()
    } else {
        typed(t, dtype, elems)?
    };
    if bytes.len() != want {
        return Err(format!(
            "tensor '{name}' of shape {shape:?} and type {dtype:?} needs {want} bytes, has {}",
            bytes.len()
        ));
    }
    Ok(Tensor {
        dtype,
        shape,
        bytes,
        quant: None,
    })
}

/// The bytes of a tensor stored in its typed repeated fields.
fn typed(t: &TensorProto, dtype: DType, elems: usize) -> Result<Vec<u8>, String> {
    let name = t.name();
    let count = match dtype {
        DType::F32 => t.float_data.len(),
        DType::I64 => t.int64_data.len(),
        DType::U32 => t.uint64_data.len(),
        _ => t.int32_data.len(),
    };
    if count != elems {
        return Err(format!(
            "tensor '{name}' holds {count} values, its shape needs {elems}"
        ));
    }
    let i32s = || t.int32_data.iter();
    Ok(match dtype {
        DType::F32 => t.float_data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        DType::I64 => t.int64_data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        DType::U32 => t
            .uint64_data
            .iter()
            .flat_map(|&x| (x as u32).to_le_bytes())
            .collect(),
        DType::I32 => i32s().flat_map(|x| x.to_le_bytes()).collect(),
        // 16-bit types (fp16 as its bit pattern) in the low bits.
        DType::F16 | DType::I16 | DType::U16 => {
            i32s().flat_map(|&x| (x as u16).to_le_bytes()).collect()
        }
        DType::I8 | DType::U8 | DType::Bool => i32s().map(|&x| x as u8).collect(),
    })
}

/// Reads external data: `location` relative to the model's directory,
/// optional `offset` and `length`, all bounds-checked.
fn external(t: &TensorProto, base: Option<&Path>, want: usize) -> Result<Vec<u8>, String> {
    let name = t.name();
    let mut location = None;
    let mut offset: u64 = 0;
    let mut length: Option<u64> = None;
    for kv in &t.external_data {
        let parse = |v: &str| {
            v.parse::<u64>().map_err(|_| {
                format!(
                    "tensor '{name}': external data {} '{v}' is not a number",
                    kv.key()
                )
            })
        };
        match kv.key() {
            "location" => location = Some(kv.value().to_string()),
            "offset" => offset = parse(kv.value())?,
            "length" => length = Some(parse(kv.value())?),
            "checksum" => {}
            k => return Err(format!("tensor '{name}': unknown external data key '{k}'")),
        }
    }
    let location =
        location.ok_or_else(|| format!("tensor '{name}': external data without a location"))?;
    let rel = Path::new(&location);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "tensor '{name}': external data location '{location}' must be a relative path inside the model's directory"
        ));
    }
    let base = base.ok_or_else(|| {
        format!("tensor '{name}': external data '{location}' needs the model's directory (import from a file)")
    })?;
    let path = base.join(rel);
    let length = length.unwrap_or(want as u64);
    if length != want as u64 {
        return Err(format!(
            "tensor '{name}': external data length {length} differs from the {want} bytes its shape needs"
        ));
    }
    let mut f = File::open(&path).map_err(|e| {
        format!(
            "tensor '{name}': cannot open external data {}: {e}",
            path.display()
        )
    })?;
    let size = f
        .metadata()
        .map_err(|e| format!("tensor '{name}': {}: {e}", path.display()))?
        .len();
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(format!(
            "tensor '{name}': external data range {offset}+{length} lies outside {} ({size} bytes)",
            path.display()
        ));
    }
    let mut bytes = vec![0u8; want];
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.read_exact(&mut bytes))
        .map_err(|e| format!("tensor '{name}': cannot read {}: {e}", path.display()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(dtype: i32, dims: Vec<i64>) -> TensorProto {
        TensorProto {
            name: Some("t".into()),
            data_type: Some(dtype),
            dims,
            ..Default::default()
        }
    }

    #[test]
    fn typed_and_raw_fields_decode() {
        let mut p = proto(onnx_type::FLOAT, vec![2]);
        p.float_data = vec![1.0, -2.5];
        assert_eq!(decode(&p, None).unwrap().to_f32(), vec![1.0, -2.5]);
        let mut p = proto(onnx_type::INT64, vec![3]);
        p.raw_data = Some([5i64, -1, 7].iter().flat_map(|x| x.to_le_bytes()).collect());
        assert_eq!(decode(&p, None).unwrap().to_i64(), vec![5, -1, 7]);
        let mut p = proto(onnx_type::FLOAT16, vec![1]);
        p.int32_data = vec![0x3c00];
        assert_eq!(decode(&p, None).unwrap().to_f32(), vec![1.0]);
        let mut p = proto(onnx_type::INT8, vec![2]);
        p.int32_data = vec![-3, 4];
        assert_eq!(decode(&p, None).unwrap().to_i64(), vec![-3, 4]);
    }

    #[test]
    fn bad_tensors_are_refused() {
        let mut p = proto(onnx_type::FLOAT, vec![3]);
        p.float_data = vec![1.0];
        assert!(decode(&p, None).unwrap_err().contains("needs 3"));
        let p = proto(11, vec![1]);
        assert!(decode(&p, None).unwrap_err().contains("DOUBLE"));
        let p = proto(onnx_type::FLOAT, vec![-1]);
        assert!(decode(&p, None).is_err());
        let mut p = proto(onnx_type::FLOAT, vec![1]);
        p.data_location = Some(1);
        p.external_data = vec![super::super::proto::StringStringEntryProto {
            key: Some("location".into()),
            value: Some("../x.bin".into()),
        }];
        assert!(decode(&p, Some(Path::new(".")))
            .unwrap_err()
            .contains("relative path"));
    }

    #[test]
    fn external_data_is_bounds_checked() {
        let dir = std::env::temp_dir().join(format!("rknn_onnx_ext_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("w.bin"), [0u8; 12]).unwrap();
        let ext = |offset: &str, length: Option<&str>| {
            let mut p = proto(onnx_type::FLOAT, vec![2]);
            p.data_location = Some(1);
            let kv = |k: &str, v: &str| super::super::proto::StringStringEntryProto {
                key: Some(k.into()),
                value: Some(v.into()),
            };
            p.external_data = vec![kv("location", "w.bin"), kv("offset", offset)];
            if let Some(l) = length {
                p.external_data.push(kv("length", l));
            }
            decode(&p, Some(&dir))
        };
        assert_eq!(ext("4", None).unwrap().to_f32(), vec![0.0, 0.0]);
        assert!(ext("8", None).unwrap_err().contains("outside"));
        assert!(ext(&u64::MAX.to_string(), None)
            .unwrap_err()
            .contains("outside"));
        assert!(ext("0", Some("4")).unwrap_err().contains("length 4"));
        assert!(ext("x", None).unwrap_err().contains("not a number"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
