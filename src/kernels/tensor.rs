//! Typed views of a kernel's input and output bytes.

use half::f16;

use super::KernelError;
use crate::graph::{DType, Op, TensorInfo};

/// A kernel input: description plus bytes.
#[derive(Clone, Copy, Debug)]
pub struct In<'a> {
    /// Shape, type, quantization.
    pub info: &'a TensorInfo,
    /// The tensor's bytes (exactly `info.bytes()` long, suitably aligned).
    pub data: &'a [u8],
}

/// A kernel output: description plus bytes to write.
#[derive(Debug)]
pub struct Out<'a> {
    /// Shape, type, quantization.
    pub info: &'a TensorInfo,
    /// The tensor's bytes (exactly `info.bytes()` long, suitably aligned).
    pub data: &'a mut [u8],
}

fn check(op: &Op, info: &TensorInfo, len: usize, want: DType) -> Result<(), KernelError> {
    if info.dtype != want {
        return Err(KernelError::invalid(
            op,
            format!(
                "tensor '{}' is {:?}, expected {:?}",
                info.name, info.dtype, want
            ),
        ));
    }
    if len != info.bytes() {
        return Err(KernelError::invalid(
            op,
            format!(
                "tensor '{}' has {} bytes, expected {}",
                info.name,
                len,
                info.bytes()
            ),
        ));
    }
    Ok(())
}

fn cast<'a, T: bytemuck::Pod>(op: &Op, data: &'a [u8]) -> Result<&'a [T], KernelError> {
    bytemuck::try_cast_slice(data).map_err(|e| KernelError::invalid(op, format!("buffer: {e}")))
}

fn cast_mut<'a, T: bytemuck::Pod>(op: &Op, data: &'a mut [u8]) -> Result<&'a mut [T], KernelError> {
    bytemuck::try_cast_slice_mut(data).map_err(|e| KernelError::invalid(op, format!("buffer: {e}")))
}

macro_rules! typed_views {
    ($($get:ident, $get_mut:ident, $t:ty, $dt:expr;)*) => {
        impl<'a> In<'a> {
            $(
                #[doc = concat!("The data as `", stringify!($t), "`; errors if the tensor is not `", stringify!($dt), "`.")]
                pub fn $get(&self, op: &Op) -> Result<&'a [$t], KernelError> {
                    check(op, self.info, self.data.len(), $dt)?;
                    cast(op, self.data)
                }
            )*
        }
        impl<'a> Out<'a> {
            $(
                #[doc = concat!("The data as mutable `", stringify!($t), "`; errors if the tensor is not `", stringify!($dt), "`.")]
                pub fn $get_mut(&mut self, op: &Op) -> Result<&mut [$t], KernelError> {
                    check(op, self.info, self.data.len(), $dt)?;
                    cast_mut(op, self.data)
                }
            )*
        }
    };
}

typed_views! {
    f32, f32_mut, f32, DType::F32;
    f16, f16_mut, f16, DType::F16;
    i8, i8_mut, i8, DType::I8;
    u8, u8_mut, u8, DType::U8;
    i16, i16_mut, i16, DType::I16;
    i32, i32_mut, i32, DType::I32;
    i64, i64_mut, i64, DType::I64;
}
