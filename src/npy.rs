//! NumPy `.npy` files (format versions 1–3, C order, little-endian): read
//! into an [`NpyArray`] of one of the runtime's element types and write
//! one back. `float64` data is narrowed to `float32` when read (the runtime
//! has no f64 tensors); Fortran order and big-endian data are refused.
//! The runtime writes its layer dumps with it (`runtime::dump`); the
//! toolchain reads and writes datasets and results.

use std::path::Path;

use crate::graph::DType;
use half::f16;

/// An n-dimensional array as stored in an `.npy` file.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// Dimensions (empty for a scalar).
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: DType,
    /// Elements, little-endian, C order.
    pub bytes: Vec<u8>,
}

/// Magic at the start of every `.npy` file.
const MAGIC: &[u8] = b"\x93NUMPY";

fn dtype_of(descr: &str) -> Result<(DType, bool), String> {
    // (type, stored as f64)
    Ok(match descr {
        "<f4" => (DType::F32, false),
        "<f8" => (DType::F32, true),
        "<f2" => (DType::F16, false),
        "|i1" | "<i1" => (DType::I8, false),
        "|u1" | "<u1" => (DType::U8, false),
        "<i2" => (DType::I16, false),
        "<u2" => (DType::U16, false),
        "<i4" => (DType::I32, false),
        "<u4" => (DType::U32, false),
        "<i8" => (DType::I64, false),
        "|b1" => (DType::Bool, false),
        other => return Err(format!("unsupported element type '{other}'")),
    })
}

fn descr_of(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "<f4",
        DType::F16 => "<f2",
        DType::I8 => "|i1",
        DType::U8 => "|u1",
        DType::I16 => "<i2",
        DType::U16 => "<u2",
        DType::I32 => "<i4",
        DType::U32 => "<u4",
        DType::I64 => "<i8",
        DType::Bool => "|b1",
    }
}

/// The text after `'key':` in a header dict.
fn field<'h>(header: &'h str, key: &str) -> Result<&'h str, String> {
    let pat = format!("'{key}'");
    let at = header
        .find(&pat)
        .ok_or_else(|| format!("header has no '{key}'"))?;
    let rest = header[at + pat.len()..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .ok_or_else(|| format!("malformed header near '{key}'"))?;
    Ok(rest.trim_start())
}

impl NpyArray {
    /// An array of f32 values.
    pub fn from_f32(shape: &[usize], values: &[f32]) -> NpyArray {
        NpyArray {
            shape: shape.to_vec(),
            dtype: DType::F32,
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    /// Number of elements.
    pub fn elems(&self) -> usize {
        self.shape.iter().product()
    }

    /// Parses `.npy` bytes.
    pub fn parse(bytes: &[u8]) -> Result<NpyArray, String> {
        if bytes.len() < 10 || &bytes[..6] != MAGIC {
            return Err("not an .npy file (bad magic)".into());
        }
        let (header_len, start): (usize, usize) = match bytes[6] {
            1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
            2 | 3 if bytes.len() >= 12 => (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            ),
            v => return Err(format!("unsupported .npy version {v}")),
        };
        let header = start
            .checked_add(header_len)
            .and_then(|end| bytes.get(start..end))
            .ok_or("truncated header")?;
        let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
        let descr = field(header, "descr")?;
        let descr = descr
            .strip_prefix('\'')
            .and_then(|d| d.split('\'').next())
            .ok_or("malformed 'descr'")?;
        let (dtype, wide) = dtype_of(descr)?;
        if !field(header, "fortran_order")?.starts_with("False") {
            return Err("Fortran-order arrays are not supported".into());
        }
        let shape_text = field(header, "shape")?;
        let close = shape_text.find(')').ok_or("malformed 'shape'")?;
        let shape = shape_text
            .get(1..close)
            .ok_or("malformed 'shape'")?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<usize>().map_err(|e| format!("shape '{s}': {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let elems = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or("shape overflows")?;
        let es = if wide { 8 } else { dtype.size() };
        let body = &bytes[start + header_len..];
        let want = elems.checked_mul(es).ok_or("shape overflows")?;
        if body.len() != want {
            return Err(format!(
                "{} data bytes for shape {shape:?} ({want} expected)",
                body.len()
            ));
        }
        let bytes = if wide {
            body.chunks_exact(8)
                .flat_map(|c| {
                    let v = f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                    (v as f32).to_le_bytes()
                })
                .collect()
        } else {
            body.to_vec()
        };
        Ok(NpyArray {
            shape,
            dtype,
            bytes,
        })
    }

    /// Reads the file at `path`; the error names the file.
    pub fn read(path: &Path) -> Result<NpyArray, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        NpyArray::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The `.npy` bytes (format 1.0, header padded to 64 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        let shape = match dims.len() {
            1 => format!("({},)", dims[0]),
            _ => format!("({})", dims.join(", ")),
        };
        let mut header = format!(
            "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
            descr_of(self.dtype)
        );
        let unpadded = MAGIC.len() + 4 + header.len() + 1;
        header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
        header.push('\n');
        let mut out = Vec::with_capacity(10 + header.len() + self.bytes.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&self.bytes);
        out
    }

    /// Writes the array to `path`; the error names the file.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        std::fs::write(path, self.to_bytes()).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The elements as f32 values (integers converted, bool as 0/1).
    pub fn to_f32(&self) -> Vec<f32> {
        let b = &self.bytes;
        match self.dtype {
            DType::F32 => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            DType::F16 => b
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            DType::I8 => b.iter().map(|&v| v as i8 as f32).collect(),
            DType::U8 | DType::Bool => b.iter().map(|&v| v as f32).collect(),
            DType::I16 => b
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32)
                .collect(),
            DType::U16 => b
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as f32)
                .collect(),
            DType::I32 => b
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
            DType::U32 => b
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
            DType::I64 => b
                .chunks_exact(8)
                .map(|c| {
                    i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_round_trip_and_header_alignment() {
        let a = NpyArray::from_f32(&[2, 3], &[1.0, -2.0, 3.5, 0.0, 5.0, 6.0]);
        let bytes = a.to_bytes();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(NpyArray::parse(&bytes).unwrap(), a);
        let v = NpyArray::from_f32(&[4], &[1.0; 4]);
        let text = String::from_utf8_lossy(&v.to_bytes()[10..64]).to_string();
        assert!(text.contains("'shape': (4,)"), "{text}");
    }

    #[test]
    fn f64_narrows_and_errors_are_precise() {
        let mut bytes = MAGIC.to_vec();
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n";
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&1.5f64.to_le_bytes());
        bytes.extend_from_slice(&(-2.0f64).to_le_bytes());
        let a = NpyArray::parse(&bytes).unwrap();
        assert_eq!(a.dtype, DType::F32);
        assert_eq!(a.to_f32(), vec![1.5, -2.0]);
        let err = NpyArray::parse(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(err.contains("data bytes"), "{err}");
        assert!(NpyArray::parse(b"hello world")
            .unwrap_err()
            .contains("magic"));
        let mut big = bytes.clone();
        let at = big.windows(3).position(|w| w == b"<f8").unwrap();
        big[at] = b'>';
        let err = NpyArray::parse(&big).unwrap_err();
        assert!(err.contains("unsupported element type '>f8'"), "{err}");
    }

    #[test]
    fn integer_types_convert_to_f32() {
        let a = NpyArray {
            shape: vec![2],
            dtype: DType::I64,
            bytes: [3i64, -4].iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        assert_eq!(
            NpyArray::parse(&a.to_bytes()).unwrap().to_f32(),
            vec![3.0, -4.0]
        );
    }
}
