//! Contents of constant tensors while a model is being built, before they
//! are laid out in the weights section.

use half::f16;
use rknnrt::graph::DType;

/// The elements of a constant tensor, in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstData {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 16-bit floats.
    F16(Vec<f16>),
    /// Signed bytes.
    I8(Vec<i8>),
    /// Unsigned bytes.
    U8(Vec<u8>),
    /// 32-bit integers.
    I32(Vec<i32>),
    /// 64-bit integers.
    I64(Vec<i64>),
}

impl ConstData {
    /// Element type.
    pub fn dtype(&self) -> DType {
        match self {
            ConstData::F32(_) => DType::F32,
            ConstData::F16(_) => DType::F16,
            ConstData::I8(_) => DType::I8,
            ConstData::U8(_) => DType::U8,
            ConstData::I32(_) => DType::I32,
            ConstData::I64(_) => DType::I64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            ConstData::F32(v) => v.len(),
            ConstData::F16(v) => v.len(),
            ConstData::I8(v) => v.len(),
            ConstData::U8(v) => v.len(),
            ConstData::I32(v) => v.len(),
            ConstData::I64(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The float values, for `F32` data.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match self {
            ConstData::F32(v) => Some(v),
            _ => None,
        }
    }

    /// The little-endian bytes as stored in the weights section.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            ConstData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ConstData::F16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ConstData::I8(v) => v.iter().map(|&x| x as u8).collect(),
            ConstData::U8(v) => v.clone(),
            ConstData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ConstData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_little_endian() {
        assert_eq!(
            ConstData::I32(vec![1, -2]).to_le_bytes(),
            vec![1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]
        );
        assert_eq!(
            ConstData::F32(vec![1.0]).to_le_bytes(),
            vec![0, 0, 0x80, 0x3f]
        );
        assert_eq!(ConstData::I8(vec![-1, 2]).to_le_bytes(), vec![0xff, 2]);
        assert_eq!(
            ConstData::F16(vec![f16::from_f32(1.0)]).to_le_bytes(),
            vec![0, 0x3c]
        );
        assert_eq!(ConstData::I64(vec![3]).len(), 1);
        assert_eq!(ConstData::I64(vec![3]).dtype(), DType::I64);
    }
}
