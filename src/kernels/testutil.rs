//! Test helpers shared by the kernel unit tests: a tiny deterministic
//! PRNG and builders for tensors and kernel calls.

use super::{execute, In, KernelError, Out};
use crate::graph::{DType, Op, Quant, TensorInfo};

/// xorshift64* generator: deterministic, good enough for test data.
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from a non-zero-ized seed.
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform integer in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    /// Uniform f32 in `[lo, hi)`.
    pub(crate) fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }

    /// `n` uniform f32 values.
    pub(crate) fn f32s(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.f32(lo, hi)).collect()
    }

    /// `n` uniform int8 values.
    pub(crate) fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.range(-128, 127) as i8).collect()
    }

    /// `n` uniform int32 values in `lo..=hi`.
    pub(crate) fn i32s(&mut self, n: usize, lo: i32, hi: i32) -> Vec<i32> {
        (0..n)
            .map(|_| self.range(lo as i64, hi as i64) as i32)
            .collect()
    }
}

/// A tensor with its data, for building kernel calls in tests.
#[derive(Clone, Debug)]
pub(crate) struct Tensor {
    /// Description.
    pub info: TensorInfo,
    /// Little-endian bytes.
    pub bytes: Vec<u8>,
}

impl Tensor {
    /// An f32 tensor.
    pub(crate) fn f32(shape: &[usize], data: &[f32]) -> Tensor {
        Tensor {
            info: TensorInfo::activation("t", shape.to_vec(), DType::F32),
            bytes: bytemuck::cast_slice(data).to_vec(),
        }
    }

    /// An fp16 tensor (values rounded from f32).
    pub(crate) fn f16(shape: &[usize], data: &[f32]) -> Tensor {
        let halves: Vec<half::f16> = data.iter().map(|&v| half::f16::from_f32(v)).collect();
        Tensor {
            info: TensorInfo::activation("t", shape.to_vec(), DType::F16),
            bytes: bytemuck::cast_slice(&halves).to_vec(),
        }
    }

    /// An int8 tensor with quantization `quant`.
    pub(crate) fn i8(shape: &[usize], data: &[i8], quant: Quant) -> Tensor {
        let mut info = TensorInfo::activation("t", shape.to_vec(), DType::I8);
        info.quant = Some(quant);
        Tensor {
            info,
            bytes: bytemuck::cast_slice(data).to_vec(),
        }
    }

    /// An int32 tensor.
    pub(crate) fn i32(shape: &[usize], data: &[i32]) -> Tensor {
        Tensor {
            info: TensorInfo::activation("t", shape.to_vec(), DType::I32),
            bytes: bytemuck::cast_slice(data).to_vec(),
        }
    }

    /// The data as f32.
    pub(crate) fn as_f32(&self) -> Vec<f32> {
        self.bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// The data as fp16 widened to f32.
    pub(crate) fn f16_as_f32(&self) -> Vec<f32> {
        self.bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()
    }

    /// The data as int8.
    pub(crate) fn as_i8(&self) -> Vec<i8> {
        bytemuck::cast_slice(&self.bytes).to_vec()
    }
}

/// Runs `op` through [`execute`] and returns the output tensor, which is
/// described by `out` (its data is overwritten).
pub(crate) fn run(op: &Op, inputs: &[&Tensor], out: TensorInfo) -> Result<Tensor, KernelError> {
    // f32-aligned buffers for every input.
    let aligned: Vec<Vec<u32>> = inputs
        .iter()
        .map(|t| {
            let mut v = vec![0u32; t.bytes.len().div_ceil(4)];
            bytemuck::cast_slice_mut::<u32, u8>(&mut v)[..t.bytes.len()].copy_from_slice(&t.bytes);
            v
        })
        .collect();
    let ins: Vec<In<'_>> = inputs
        .iter()
        .zip(&aligned)
        .map(|(t, v)| In {
            info: &t.info,
            data: &bytemuck::cast_slice::<u32, u8>(v)[..t.bytes.len()],
        })
        .collect();
    let len = out.bytes();
    let mut buf = vec![0u32; len.div_ceil(4)];
    {
        let mut outs = [Out {
            info: &out,
            data: &mut bytemuck::cast_slice_mut::<u32, u8>(&mut buf)[..len],
        }];
        execute(op, &ins, &mut outs)?;
    }
    let bytes = bytemuck::cast_slice::<u32, u8>(&buf)[..len].to_vec();
    Ok(Tensor { info: out, bytes })
}

/// Output description for an f32 tensor.
pub(crate) fn f32_out(shape: &[usize]) -> TensorInfo {
    TensorInfo::activation("y", shape.to_vec(), DType::F32)
}

/// Output description for an int8 tensor with per-tensor quantization.
pub(crate) fn i8_out(shape: &[usize], scale: f32, zp: i32) -> TensorInfo {
    let mut info = TensorInfo::activation("y", shape.to_vec(), DType::I8);
    info.quant = Some(Quant::per_tensor(scale, zp));
    info
}

/// Asserts that two f32 slices agree within `tol * (1 + |want|)`.
pub(crate) fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

/// Quantizes f32 data to int8 with `(scale, zp)` using the build's rounding.
pub(crate) fn quantize(data: &[f32], scale: f32, zp: i32) -> Vec<i8> {
    data.iter()
        .map(|&x| super::quant::quantize_i8(x, 1.0 / scale, zp))
        .collect()
}

/// Dequantizes int8 data.
pub(crate) fn dequantize(data: &[i8], scale: f32, zp: i32) -> Vec<f32> {
    data.iter()
        .map(|&q| super::quant::dequantize(q as i32, scale, zp))
        .collect()
}
