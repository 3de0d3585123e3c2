//! Per-platform rules: which matmul types exist, the native block shapes,
//! the K/N size and alignment limits, and the B-segmenting rule for large
//! K (`reference/rknn-c-api.md` §4.4; user guide 3.5.4, tables 3-12..3-14).

use crate::platform::Platform;

use super::types::{Elem, Layout, MatmulType, Shape};
use super::MatmulError;

/// The largest K on every platform.
pub const K_MAX: usize = 10240;

/// Whether `platform` has the RK356x-class matmul unit (RK3562/6/8).
fn is_356x(platform: Platform) -> bool {
    matches!(
        platform,
        Platform::Rk3562 | Platform::Rk3566 | Platform::Rk3568
    )
}

/// The matmul types `platform` runs. RK3588 and RK3576 run every type;
/// the RK356x family runs fp16×fp16→fp32 and int8×int8→int32 (user guide
/// table 3-13, column RK356X).
pub fn supported_types(platform: Platform) -> Vec<MatmulType> {
    if is_356x(platform) {
        vec![
            MatmulType(crate::abi::RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32),
            MatmulType(crate::abi::RKNN_INT8_MM_INT8_TO_INT32),
        ]
    } else {
        MatmulType::ALL.to_vec()
    }
}

/// Native block sizes of the three operands for one type on one platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NativeShapes {
    /// A native: `[K/a_sub_k, M, a_sub_k]`.
    pub a_sub_k: usize,
    /// B native: `[N/b_sub_n, K/b_sub_k, b_sub_n, b_sub_k]`.
    pub b_sub_n: usize,
    /// See `b_sub_n`.
    pub b_sub_k: usize,
    /// C native: `[N/c_sub_n, M, c_sub_n]`.
    pub c_sub_n: usize,
}

/// A subK for an A element type.
fn a_sub_k(platform: Platform, a: Elem) -> usize {
    match (platform, a) {
        (Platform::Rk3566 | Platform::Rk3568, Elem::I8) => 8,
        (Platform::Rk3566 | Platform::Rk3568, _) => 4,
        (_, Elem::I4) => 32,
        (_, Elem::I8) => 16,
        _ => 8,
    }
}

/// B (subN, subK) of the same-type case for element type `e`.
fn b_block(platform: Platform, e: Elem) -> (usize, usize) {
    match (platform, e) {
        (Platform::Rk3566 | Platform::Rk3568, Elem::I8) => (16, 32),
        (Platform::Rk3566 | Platform::Rk3568, _) => (8, 16),
        (Platform::Rk3562, Elem::I8) => (16, 32),
        (Platform::Rk3562, _) => (8, 32),
        (_, Elem::I4) => (64, 32),
        (_, Elem::I8) => (32, 32),
        _ => (16, 32),
    }
}

/// The native block sizes of `ty` on `platform`. On RK3576 a
/// mixed-type B takes the block of the same-type case of its C type
/// (float C: the fp16 block; integer C: the int8 block), per the note
/// under user guide table 3-12; everywhere else B's own type decides.
pub fn native_shapes(platform: Platform, ty: MatmulType) -> NativeShapes {
    let (a, b, c) = ty.elems();
    let block_elem = if platform == Platform::Rk3576 && ty.is_hetero() {
        if c.is_int() {
            Elem::I8
        } else {
            Elem::F16
        }
    } else {
        b
    };
    let (b_sub_n, b_sub_k) = b_block(platform, block_elem);
    let c_sub_n = if c == Elem::I16 { 8 } else { 4 };
    NativeShapes {
        a_sub_k: a_sub_k(platform, a),
        b_sub_n,
        b_sub_k,
        c_sub_n,
    }
}

/// (K alignment, N alignment, N maximum) of one element type.
fn limits_of(platform: Platform, e: Elem) -> (usize, usize, usize) {
    match (platform, e) {
        (Platform::Rk3566 | Platform::Rk3568, Elem::I8) => (32, 16, 4096),
        (Platform::Rk3566 | Platform::Rk3568, _) => (16, 8, 4096),
        (Platform::Rk3562, Elem::I8) => (32, 16, 4096),
        (Platform::Rk3562, _) => (32, 8, 4096),
        (_, Elem::I4) => (32, 64, 8192),
        (_, Elem::I8) => (32, 32, 4096),
        _ => (32, 16, 4096),
    }
}

/// K/N limits of one type on one platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// K must be a multiple of this.
    pub k_align: usize,
    /// N must be a multiple of this.
    pub n_align: usize,
    /// Largest K.
    pub k_max: usize,
    /// Largest N.
    pub n_max: usize,
}

/// The K/N limits of `ty` on `platform`: those of B's type, except that an
/// int4 B on RK3576 takes the limits of A's type (user guide table 3-14
/// note); the alignments also cover A's type and the native blocks.
pub fn limits(platform: Platform, ty: MatmulType) -> Limits {
    let (a, b, _) = ty.elems();
    let governing = if platform == Platform::Rk3576 && b == Elem::I4 {
        a
    } else {
        b
    };
    let (k_a, n_a, n_max) = limits_of(platform, governing);
    let (k_a2, _, _) = limits_of(platform, a);
    let ns = native_shapes(platform, ty);
    Limits {
        k_align: k_a.max(k_a2).max(ns.b_sub_k).max(ns.a_sub_k),
        n_align: n_a.max(ns.b_sub_n).max(ns.c_sub_n),
        k_max: K_MAX,
        n_max,
    }
}

/// Rows of K per B segment: B is converted to native layout in segments of
/// this many rows of K, concatenated (8192 on RK3588, 4096 on RK3576);
/// `None` where B is never split.
pub fn b_segment_k(platform: Platform) -> Option<usize> {
    match platform {
        Platform::Rk3588 => Some(8192),
        Platform::Rk3576 => Some(4096),
        _ => None,
    }
}

/// Checks that `platform` runs `ty`, naming the supported set if not.
pub fn check_type(platform: Platform, ty: MatmulType) -> Result<(), MatmulError> {
    let supported = supported_types(platform);
    if supported.contains(&ty) {
        return Ok(());
    }
    let names: Vec<&str> = supported.iter().map(|t| t.name()).collect();
    Err(MatmulError::param(format!(
        "matmul type {} ({}) is not supported on {}; supported: {}",
        ty.0,
        ty.name(),
        platform.name(),
        names.join(", ")
    )))
}

/// Checks the layouts against the platform: TP_NORM is for B only, and
/// RK3566/RK3568 have no TP_NORM.
pub fn check_layouts(platform: Platform, b: Layout, ac: Layout) -> Result<(), MatmulError> {
    if ac == Layout::TpNorm {
        return Err(MatmulError::param(
            "AC_layout RKNN_MM_LAYOUT_TP_NORM is for B only (use NORM or NATIVE)",
        ));
    }
    if b == Layout::TpNorm && matches!(platform, Platform::Rk3566 | Platform::Rk3568) {
        return Err(MatmulError::param(format!(
            "B_layout RKNN_MM_LAYOUT_TP_NORM is not supported on {}",
            platform.name()
        )));
    }
    Ok(())
}

/// Checks K and N against the limits of `ty` on `platform`.
pub fn check_shape(platform: Platform, ty: MatmulType, s: Shape) -> Result<(), MatmulError> {
    let l = limits(platform, ty);
    let p = platform.name();
    let t = ty.name();
    if s.k > l.k_max || !s.k.is_multiple_of(l.k_align) {
        return Err(MatmulError::param(format!(
            "K = {} is invalid for {t} on {p}: K must be a multiple of {} and at most {}",
            s.k, l.k_align, l.k_max
        )));
    }
    if s.n > l.n_max || !s.n.is_multiple_of(l.n_align) {
        return Err(MatmulError::param(format!(
            "N = {} is invalid for {t} on {p}: N must be a multiple of {} and at most {}",
            s.n, l.n_align, l.n_max
        )));
    }
    let elems =
        s.m.checked_mul(s.k)
            .and_then(|a| s.m.checked_mul(s.n).map(|c| a.max(c)))
            .and_then(|e| e.checked_mul(4));
    if elems.is_none_or(|bytes| bytes > u32::MAX as usize) {
        return Err(MatmulError::param(format!(
            "M = {} is too large: A or C would exceed 4 GiB",
            s.m
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::*;

    fn t(raw: u32) -> MatmulType {
        MatmulType(raw)
    }

    #[test]
    fn native_blocks_follow_the_reference_table() {
        let ns = native_shapes(Platform::Rk3566, t(RKNN_INT8_MM_INT8_TO_INT32));
        assert_eq!(
            (ns.a_sub_k, ns.b_sub_n, ns.b_sub_k, ns.c_sub_n),
            (8, 16, 32, 4)
        );
        let ns = native_shapes(Platform::Rk3568, t(RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32));
        assert_eq!((ns.a_sub_k, ns.b_sub_n, ns.b_sub_k), (4, 8, 16));
        let ns = native_shapes(Platform::Rk3562, t(RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32));
        assert_eq!((ns.a_sub_k, ns.b_sub_n, ns.b_sub_k), (8, 8, 32));
        let ns = native_shapes(Platform::Rk3588, t(RKNN_INT4_MM_INT4_TO_INT16));
        assert_eq!(
            (ns.a_sub_k, ns.b_sub_n, ns.b_sub_k, ns.c_sub_n),
            (32, 64, 32, 8)
        );
        let ns = native_shapes(Platform::Rk3588, t(RKNN_FLOAT16_MM_INT4_TO_FLOAT32));
        assert_eq!((ns.a_sub_k, ns.b_sub_n), (8, 64));
        let ns = native_shapes(Platform::Rk3576, t(RKNN_FLOAT16_MM_INT4_TO_FLOAT32));
        assert_eq!(
            (ns.a_sub_k, ns.b_sub_n),
            (8, 16),
            "mixed B on RK3576: C's block"
        );
    }

    #[test]
    fn limits_follow_the_reference_table() {
        let l = limits(Platform::Rk3566, t(RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32));
        assert_eq!(
            (l.k_align, l.n_align, l.k_max, l.n_max),
            (16, 8, 10240, 4096)
        );
        let l = limits(Platform::Rk3562, t(RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32));
        assert_eq!((l.k_align, l.n_align), (32, 8));
        let l = limits(Platform::Rk3588, t(RKNN_INT8_MM_INT4_TO_INT32));
        assert_eq!((l.k_align, l.n_align, l.n_max), (32, 64, 8192));
        let l = limits(Platform::Rk3576, t(RKNN_FLOAT16_MM_INT4_TO_FLOAT16));
        assert_eq!(
            (l.n_align, l.n_max),
            (16, 4096),
            "int4 B on RK3576: A's limits"
        );
        assert_eq!(b_segment_k(Platform::Rk3588), Some(8192));
        assert_eq!(b_segment_k(Platform::Rk3576), Some(4096));
        assert_eq!(b_segment_k(Platform::Rk3566), None);
    }

    #[test]
    fn shape_checks() {
        let ty = t(RKNN_INT8_MM_INT8_TO_INT32);
        let s = |m, k, n| Shape { m, k, n };
        assert!(check_shape(Platform::Rk3588, ty, s(1, 10240, 4096)).is_ok());
        assert!(check_shape(Platform::Rk3588, ty, s(1, 10272, 32)).is_err());
        assert!(check_shape(Platform::Rk3588, ty, s(1, 32, 16)).is_err());
        assert!(check_shape(Platform::Rk3566, ty, s(1, 32, 16)).is_ok());
        assert!(check_shape(Platform::Rk3588, ty, s(1 << 30, 64, 32)).is_err());
        let e = check_type(Platform::Rk3562, t(RKNN_INT4_MM_INT4_TO_INT16)).unwrap_err();
        assert!(e.message.contains("rk3562"), "{}", e.message);
    }
}
