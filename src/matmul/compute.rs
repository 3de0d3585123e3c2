//! The compute call: C = A·B with A in normal layout and B packed once for
//! the fast GEMM kernels (`kernels::gemm::fast`) when it was set, then
//! requantization or conversion to C's element type.

use crate::kernels::gemm::fast::{
    gemm_f32, gemm_i8, FloatA, FloatB, GemmError, MatRef, PackedB, PackedI8B, Threads,
};
use crate::kernels::quant;

use super::quant::{BQuantLayout, OperandQuant};
use super::types::{Elem, Shape};
use super::MatmulError;

/// A in normal layout (M×K row-major).
#[derive(Clone, Debug)]
pub enum AData {
    /// fp16 A widened to f32.
    F32(Vec<f32>),
    /// int8 or int4 A as int8 values.
    I8(Vec<i8>),
}

/// B packed for the GEMM kernels (from K×N row-major values).
#[derive(Clone, Debug)]
pub enum BData {
    /// fp16 B widened, or an integer B dequantized for an fp16 A.
    F32(PackedB),
    /// Integer B for an integer A.
    Int {
        /// One packed block of rows per quantization group of K.
        packed: Vec<PackedI8B>,
        /// Parameters, per (group, column).
        quant: OperandQuant,
        /// Their indexing.
        layout: BQuantLayout,
    },
}

/// Result values in normal layout, before encoding.
#[derive(Debug)]
pub enum CValues {
    /// Real values (float C types).
    F32(Vec<f32>),
    /// Integer values, already in C's range.
    I32(Vec<i32>),
}

fn gemm_err(e: GemmError) -> MatmulError {
    MatmulError::fail(format!("internal error: {e}"))
}

impl BData {
    /// Packs float B values (`k`×`n` row-major).
    pub fn pack_f32(k: usize, n: usize, values: &[f32]) -> Result<BData, MatmulError> {
        let b = FloatB::F32(MatRef::row_major(values, n));
        Ok(BData::F32(PackedB::pack(k, n, b).map_err(gemm_err)?))
    }

    /// Packs integer B values (`k`×`n` row-major), one block per group of
    /// `layout.group` rows of K.
    pub fn pack_int(
        n: usize,
        values: &[i8],
        quant: OperandQuant,
        layout: BQuantLayout,
    ) -> Result<BData, MatmulError> {
        let packed = (0..layout.groups)
            .map(|g| {
                let rows = values
                    .get(g * layout.group * n..(g + 1) * layout.group * n)
                    .ok_or_else(|| MatmulError::fail("internal error: B is shorter than K×N"))?;
                PackedI8B::pack(layout.group, n, MatRef::row_major(rows, n)).map_err(gemm_err)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BData::Int {
            packed,
            quant,
            layout,
        })
    }
}

/// Dequantizes an integer B for an fp16 A: `(b - zp) * scale` per
/// (group, column).
pub fn dequantize_b(values: &[i8], q: &OperandQuant, l: &BQuantLayout) -> Vec<f32> {
    let n = l.n;
    let mut out = Vec::with_capacity(values.len());
    for (k, row) in values.chunks_exact(n).enumerate() {
        let g = k / l.group;
        out.extend(row.iter().enumerate().map(|(j, &v)| {
            let p = l.at(g, j);
            (i32::from(v) - q.zp[p]) as f32 * q.scale[p]
        }));
    }
    out
}

/// Brings an integer B with per-channel or per-group parameters to one
/// scale, the largest (`s_max`), with zero point 0:
/// `round((b - zp) * scale / s_max)`, clamped to int8. Used where C is an
/// integer accumulator, which can carry only one scale.
pub fn normalize_b(values: &[i8], q: &OperandQuant, l: &BQuantLayout, s_max: f32) -> Vec<i8> {
    let n = l.n;
    let mut out = Vec::with_capacity(values.len());
    for (k, row) in values.chunks_exact(n).enumerate() {
        let g = k / l.group;
        out.extend(row.iter().enumerate().map(|(j, &v)| {
            let p = l.at(g, j);
            let x = (i32::from(v) - q.zp[p]) as f32 * (q.scale[p] / s_max);
            quant::round(x).clamp(-128.0, 127.0) as i8
        }));
    }
    out
}

/// Computes C for `s` from prepared operands. `a_q`/`c_q` are the A and C
/// parameters; `c` is C's element type.
pub fn compute(
    s: Shape,
    a: &AData,
    b: &BData,
    a_q: &OperandQuant,
    c_q: &OperandQuant,
    c: Elem,
) -> Result<CValues, MatmulError> {
    let (m, k, n) = (s.m, s.k, s.n);
    match (a, b) {
        (AData::F32(av), BData::F32(bp)) => {
            let mut out = vec![0f32; m * n];
            let a = FloatA::F32(MatRef::row_major(av, k));
            gemm_f32(m, a, bp, &mut out, n, Threads::Auto).map_err(gemm_err)?;
            Ok(CValues::F32(out))
        }
        (
            AData::I8(av),
            BData::Int {
                packed,
                quant: bq,
                layout,
            },
        ) => int_path(s, av, a_q, packed, bq, layout, c_q, c),
        _ => Err(MatmulError::fail(
            "internal error: A and B were prepared for different paths",
        )),
    }
}

/// The integer path: int32 accumulation per group of K, then the output
/// stage of C's type.
#[allow(clippy::too_many_arguments)]
fn int_path(
    s: Shape,
    av: &[i8],
    a_q: &OperandQuant,
    bp: &[PackedI8B],
    bq: &OperandQuant,
    l: &BQuantLayout,
    c_q: &OperandQuant,
    c: Elem,
) -> Result<CValues, MatmulError> {
    let (m, k, n) = (s.m, s.k, s.n);
    let a_zp = [a_q.zp[0]];
    let s_a = a_q.scale[0];
    let mut acc = vec![0i32; m * n];
    let group_zp = |g: usize| -> Vec<i32> { (0..n).map(|j| bq.zp[l.at(g, j)]).collect() };
    let group_scale = |g: usize| -> Vec<f32> { (0..n).map(|j| bq.scale[l.at(g, j)]).collect() };
    let run_group = |g: usize, acc: &mut [i32]| -> Result<(), MatmulError> {
        let k0 = g * l.group;
        let a_ref = MatRef {
            data: &av[k0..],
            rs: k,
            cs: 1,
        };
        let b = bp
            .get(g)
            .ok_or_else(|| MatmulError::fail("internal error: missing packed B group"))?;
        gemm_i8(m, a_ref, &a_zp, b, &group_zp(g), acc, n, Threads::Auto).map_err(gemm_err)
    };
    if l.groups == 1 {
        run_group(0, &mut acc)?;
        let sb = group_scale(0);
        return Ok(match c {
            Elem::I32 => CValues::I32(acc),
            Elem::I16 => CValues::I32(
                acc.into_iter()
                    .map(|v| v.clamp(i16::MIN as i32, i16::MAX as i32))
                    .collect(),
            ),
            Elem::I8 => {
                let mult: Vec<f32> = sb.iter().map(|&x| s_a * x / c_q.scale[0]).collect();
                CValues::I32(
                    acc.chunks_exact(n)
                        .flat_map(|row| {
                            row.iter()
                                .zip(&mult)
                                .map(|(&v, &mu)| i32::from(quant::requantize_i8(v, mu, c_q.zp[0])))
                        })
                        .collect(),
                )
            }
            _ => CValues::F32(
                acc.chunks_exact(n)
                    .flat_map(|row| row.iter().zip(&sb).map(|(&v, &x)| v as f32 * (s_a * x)))
                    .collect(),
            ),
        });
    }
    let mut real = vec![0f32; m * n];
    for g in 0..l.groups {
        acc.fill(0);
        run_group(g, &mut acc)?;
        let sb = group_scale(g);
        for (rrow, arow) in real.chunks_exact_mut(n).zip(acc.chunks_exact(n)) {
            for ((r, &v), &x) in rrow.iter_mut().zip(arow).zip(&sb) {
                *r += v as f32 * (s_a * x);
            }
        }
    }
    Ok(match c {
        Elem::I8 => {
            let inv = 1.0 / c_q.scale[0];
            CValues::I32(
                real.into_iter()
                    .map(|x| i32::from(quant::quantize_i8(x, inv, c_q.zp[0])))
                    .collect(),
            )
        }
        Elem::I32 | Elem::I16 => {
            return Err(MatmulError::fail(
                "internal error: an integer C needs B normalized to one scale",
            ))
        }
        _ => CValues::F32(real),
    })
}

/// The bit pattern of one C element of type `c`.
#[inline]
pub fn encode(c: Elem, v: &CValues, i: usize) -> u32 {
    match v {
        CValues::F32(x) => match c {
            Elem::F16 => u32::from(half::f16::from_f32(x[i]).to_bits()),
            Elem::Bf16 => u32::from(half::bf16::from_f32(x[i]).to_bits()),
            _ => x[i].to_bits(),
        },
        CValues::I32(x) => x[i] as u32,
    }
}
