//! Test helpers for the element-wise, normalization, reduction, movement
//! and conversion kernels: tensors from vectors, a seeded generator, and
//! running a node through [`super::execute`].

use super::{execute, In, KernelError, Out};
use crate::graph::{DType, Op, Quant, TensorInfo};

/// Deterministic xorshift generator (tests must not depend on a crate or
/// on the clock).
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next raw 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [lo, hi).
    pub fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }

    /// Uniform integer in [lo, hi].
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    /// `n` values uniform in [lo, hi).
    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.f32(lo, hi)).collect()
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// A tensor: description plus owned bytes.
#[derive(Clone, Debug)]
pub struct T {
    /// Description.
    pub info: TensorInfo,
    /// Bytes (stored in u64 words so every dtype is aligned).
    words: Vec<u64>,
}

impl T {
    /// A zero-filled tensor.
    pub fn zeros(shape: &[usize], dtype: DType) -> T {
        let info = TensorInfo::activation("t", shape.to_vec(), dtype);
        let words = vec![0u64; info.bytes().div_ceil(8)];
        T { info, words }
    }

    /// A tensor holding `bytes`.
    pub fn from_bytes(shape: &[usize], dtype: DType, bytes: &[u8]) -> T {
        let mut t = T::zeros(shape, dtype);
        assert_eq!(bytes.len(), t.info.bytes());
        t.bytes_mut().copy_from_slice(bytes);
        t
    }

    /// An f32 tensor.
    pub fn f32(shape: &[usize], v: &[f32]) -> T {
        T::from_bytes(shape, DType::F32, bytemuck::cast_slice(v))
    }

    /// An int8 tensor with per-tensor quantization.
    pub fn i8q(shape: &[usize], v: &[i8], scale: f32, zp: i32) -> T {
        T::from_bytes(shape, DType::I8, bytemuck::cast_slice(v)).quant(Quant::per_tensor(scale, zp))
    }

    /// With quantization parameters.
    pub fn quant(mut self, q: Quant) -> T {
        self.info.quant = Some(q);
        self
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.info.bytes()]
    }

    /// The bytes, mutable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        let n = self.info.bytes();
        &mut bytemuck::cast_slice_mut(&mut self.words)[..n]
    }

    /// The data as f32.
    pub fn as_f32(&self) -> Vec<f32> {
        bytemuck::cast_slice(self.bytes()).to_vec()
    }

    /// The data as i8.
    pub fn as_i8(&self) -> Vec<i8> {
        bytemuck::cast_slice(self.bytes()).to_vec()
    }

    /// The data as i64.
    pub fn as_i64(&self) -> Vec<i64> {
        bytemuck::cast_slice(self.bytes()).to_vec()
    }
}

/// Runs `op` on `inputs`, filling `outputs`.
pub fn run(op: &Op, inputs: &[&T], outputs: &mut [T]) -> Result<(), KernelError> {
    let ins: Vec<In<'_>> = inputs
        .iter()
        .map(|t| In {
            info: &t.info,
            data: t.bytes(),
        })
        .collect();
    let infos: Vec<TensorInfo> = outputs.iter().map(|t| t.info.clone()).collect();
    let mut bufs: Vec<Vec<u64>> = outputs.iter().map(|t| t.words.clone()).collect();
    {
        let mut outs: Vec<Out<'_>> = infos
            .iter()
            .zip(bufs.iter_mut())
            .map(|(info, w)| Out {
                info,
                data: &mut bytemuck::cast_slice_mut(w)[..info.bytes()],
            })
            .collect();
        execute(op, &ins, &mut outs)?;
    }
    for (t, w) in outputs.iter_mut().zip(bufs) {
        t.words = w;
    }
    Ok(())
}

/// Runs `op` with one output of `shape`/`dtype` (quantized with `q`).
pub fn run1(
    op: &Op,
    inputs: &[&T],
    shape: &[usize],
    dtype: DType,
    q: Option<Quant>,
) -> Result<T, KernelError> {
    let mut out = T::zeros(shape, dtype);
    out.info.quant = q;
    let mut outs = [out];
    run(op, inputs, &mut outs)?;
    let [out] = outs;
    Ok(out)
}

/// Asserts element-wise closeness with a relative-plus-absolute bound.
pub fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= tol * (1.0 + w.abs()) || (g.is_nan() && w.is_nan());
        assert!(ok, "element {i}: got {g}, want {w}");
    }
}

/// Multi-index of flat position `i` in `shape`.
pub fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

/// Flat position of multi-index `idx` in `shape`.
pub fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}
