//! The one GEMM core shared by Conv, ConvTranspose, Gemm and MatMul:
//! `C += A * B` for f32 and for int8 with int32 accumulation.
//!
//! Both run the SIMD kernels of [`super::fast`] (packed panels of B,
//! register-blocked micro-kernels, both cores for large products);
//! these entry points keep the strided-view interface the convolutions
//! use.

use super::fast::{gemm_f32, gemm_i8, FloatA, FloatB, PackedB, PackedI8B, Threads};

/// A strided read-only matrix view: element (i, j) is
/// `data[i * rs + j * cs]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    /// Backing storage.
    pub data: &'a [T],
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a, T: Copy> MatRef<'a, T> {
    /// A row-major matrix with `cols` columns.
    pub fn row_major(data: &'a [T], cols: usize) -> Self {
        MatRef {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` columns (as stored).
    pub fn transposed(data: &'a [T], cols: usize) -> Self {
        MatRef {
            data,
            rs: 1,
            cs: cols,
        }
    }

    #[inline(always)]
    fn get(&self, i: usize, j: usize) -> T {
        self.data[i * self.rs + j * self.cs]
    }

    /// Element (i, j); the caller has checked [`MatRef::fits`].
    #[inline(always)]
    pub(crate) fn at(&self, i: usize, j: usize) -> T {
        self.get(i, j)
    }

    /// True when a `rows` × `cols` matrix lies inside `data`.
    pub(crate) fn fits(&self, rows: usize, cols: usize) -> bool {
        if rows == 0 || cols == 0 {
            return true;
        }
        (rows - 1)
            .checked_mul(self.rs)
            .and_then(|r| {
                (cols - 1)
                    .checked_mul(self.cs)
                    .and_then(|c| r.checked_add(c))
            })
            .is_some_and(|last| last < self.data.len())
    }
}

/// The operands do not fit their buffers (a caller bug or bad shapes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmShapeError;

fn check_shapes<T: Copy, U: Copy, V>(
    (m, n, k): (usize, usize, usize),
    a: &MatRef<'_, T>,
    b: &MatRef<'_, U>,
    c: &[V],
    ldc: usize,
) -> Result<(), GemmShapeError> {
    let c_ok = m == 0
        || n == 0
        || (ldc >= n
            && (m - 1)
                .checked_mul(ldc)
                .and_then(|v| v.checked_add(n))
                .is_some_and(|end| end <= c.len()));
    if a.fits(m, k) && b.fits(k, n) && c_ok {
        Ok(())
    } else {
        Err(GemmShapeError)
    }
}

/// `C[m×n] += A[m×k] * B[k×n]` in f32; C is row-major with row stride
/// `ldc`. Runs the fast kernels ([`super::fast`]): B is packed for this
/// call; callers that reuse B pack it once with [`super::fast::PackedB`].
pub(crate) fn sgemm(
    (m, n, k): (usize, usize, usize),
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    c: &mut [f32],
    ldc: usize,
) -> Result<(), GemmShapeError> {
    check_shapes((m, n, k), &a, &b, c, ldc)?;
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    let packed = PackedB::pack(k, n, FloatB::F32(b))?;
    gemm_f32(m, FloatA::F32(a), &packed, c, ldc, Threads::Auto)?;
    Ok(())
}

/// `C[m×n] += Σ_p (A[i,p] - a_zp[i]) * (B[p,j] - b_zp[j])` with int8
/// operands and int32 accumulation; `a_zp` has one entry or `m`,
/// `b_zp` one entry or `n`. The caller bounds the reduction length so the
/// sum cannot overflow (`qparams::check_accumulator`). Runs the fast
/// kernels ([`super::fast`]); B is packed for this call.
pub(crate) fn igemm(
    (m, n, k): (usize, usize, usize),
    a: MatRef<'_, i8>,
    a_zp: &[i32],
    b: MatRef<'_, i8>,
    b_zp: &[i32],
    c: &mut [i32],
    ldc: usize,
) -> Result<(), GemmShapeError> {
    check_shapes((m, n, k), &a, &b, c, ldc)?;
    let zp_ok = |zp: &[i32], len: usize| zp.len() == 1 || zp.len() == len;
    if !zp_ok(a_zp, m) || !zp_ok(b_zp, n) {
        return Err(GemmShapeError);
    }
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    let packed = PackedI8B::pack(k, n, b)?;
    gemm_i8(m, a, a_zp, &packed, b_zp, c, ldc, Threads::Auto)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::Rng;

    fn naive_f32(m: usize, n: usize, k: usize, a: &MatRef<f32>, b: &MatRef<f32>) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f64;
                for p in 0..k {
                    s += a.data[i * a.rs + p * a.cs] as f64 * b.data[p * b.rs + j * b.cs] as f64;
                }
                c[i * n + j] = s as f32;
            }
        }
        c
    }

    #[test]
    fn sgemm_matches_naive_on_odd_sizes_and_strides() {
        let mut rng = Rng::new(1);
        for &(m, n, k) in &[
            (1, 1, 1),
            (3, 5, 7),
            (4, 4, 4),
            (5, 300, 9),
            (9, 17, 300),
            (13, 260, 513),
            (2, 1, 33),
        ] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let ad = rng.f32s(m * k, -1.0, 1.0);
                let bd = rng.f32s(k * n, -1.0, 1.0);
                let a = if ta {
                    MatRef::transposed(&ad, m)
                } else {
                    MatRef::row_major(&ad, k)
                };
                let b = if tb {
                    MatRef::transposed(&bd, k)
                } else {
                    MatRef::row_major(&bd, n)
                };
                let ldc = n + 3;
                let mut c = vec![0.5f32; m * ldc];
                sgemm((m, n, k), a, b, &mut c, ldc).unwrap();
                let want = naive_f32(m, n, k, &a, &b);
                for i in 0..m {
                    for j in 0..n {
                        let got = c[i * ldc + j] - 0.5;
                        let w = want[i * n + j];
                        assert!(
                            (got - w).abs() <= 1e-4 * (1.0 + k as f32).sqrt(),
                            "{m}x{n}x{k}"
                        );
                    }
                    for j in n..ldc {
                        assert_eq!(c[i * ldc + j], 0.5, "padding columns untouched");
                    }
                }
            }
        }
    }

    #[test]
    fn igemm_matches_naive_with_zero_points() {
        let mut rng = Rng::new(2);
        for &(m, n, k) in &[(1, 1, 1), (3, 5, 7), (6, 270, 260), (7, 3, 600)] {
            let ad = rng.i8s(m * k);
            let bd = rng.i8s(k * n);
            let a_zp: Vec<i32> = (0..m).map(|_| rng.range(-20, 20) as i32).collect();
            let b_zp = vec![rng.range(-128, 127) as i32];
            let a = MatRef::row_major(&ad, k);
            let b = MatRef::transposed(&bd, k);
            let mut c = vec![7i32; m * n];
            igemm((m, n, k), a, &a_zp, b, &b_zp, &mut c, n).unwrap();
            for i in 0..m {
                for j in 0..n {
                    let mut s = 7i64;
                    for p in 0..k {
                        s += (ad[i * k + p] as i64 - a_zp[i] as i64)
                            * (bd[j * k + p] as i64 - b_zp[0] as i64);
                    }
                    assert_eq!(c[i * n + j] as i64, s);
                }
            }
        }
    }

    #[test]
    fn shape_errors_are_reported() {
        let a = [0f32; 6];
        let b = [0f32; 6];
        let mut c = [0f32; 4];
        let r = sgemm(
            (2, 2, 4),
            MatRef::row_major(&a, 4),
            MatRef::row_major(&b, 2),
            &mut c,
            2,
        );
        assert_eq!(r, Err(GemmShapeError));
    }
}
