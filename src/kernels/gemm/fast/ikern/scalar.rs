//! Portable int8 micro-kernel (A as int8 bytes), also the fallback of the
//! SIMD families that take int8 A.

/// Tile rows.
pub(crate) const MR: usize = 4;
/// Tile columns.
pub(crate) const NR: usize = 8;

/// The portable kernel at its own tile shape.
pub(crate) fn run(rows: usize, kq: usize, a: &[u8], b: &[i8], out: &mut [i32]) {
    generic(MR, NR, rows, kq, a, b, out, 0);
}

/// An `mr` × `nr` tile at any shape with one-byte A elements, read as
/// int8 when `a_offset` is 0 and as uint8 otherwise (the `a + 128` bytes
/// of the `vpdpbusd` format).
#[allow(clippy::too_many_arguments)]
pub(crate) fn generic(
    mr: usize,
    nr: usize,
    rows: usize,
    kq: usize,
    a: &[u8],
    b: &[i8],
    out: &mut [i32],
    a_offset: i32,
) {
    for (r, o) in out.chunks_exact_mut(nr).take(rows.min(mr)).enumerate() {
        o.fill(0);
        for (q, bg) in b.chunks_exact(nr * 4).take(kq).enumerate() {
            let ab = a
                .get(q * mr * 4 + r * 4..q * mr * 4 + r * 4 + 4)
                .unwrap_or(&[0; 4]);
            for (x, bc) in o.iter_mut().zip(bg.chunks_exact(4)) {
                let mut s = 0i32;
                for (&av, &bv) in ab.iter().zip(bc) {
                    let av = if a_offset == 0 {
                        av as i8 as i32
                    } else {
                        av as i32
                    };
                    s = s.wrapping_add(av * bv as i32);
                }
                *x = x.wrapping_add(s);
            }
        }
    }
}

/// As [`generic`] for two-byte (int16 little-endian) A elements (the
/// AVX2 format).
#[cfg(target_arch = "x86_64")]
pub(crate) fn generic16(
    mr: usize,
    nr: usize,
    rows: usize,
    kq: usize,
    a: &[u8],
    b: &[i8],
    out: &mut [i32],
) {
    for (r, o) in out.chunks_exact_mut(nr).take(rows.min(mr)).enumerate() {
        o.fill(0);
        for (q, bg) in b.chunks_exact(nr * 4).take(kq).enumerate() {
            let lo = q * mr * 8 + r * 8;
            let ab = a.get(lo..lo + 8).unwrap_or(&[0; 8]);
            for (x, bc) in o.iter_mut().zip(bg.chunks_exact(4)) {
                let mut s = 0i32;
                for (aw, &bv) in ab.chunks_exact(2).zip(bc) {
                    s = s.wrapping_add(i16::from_le_bytes([aw[0], aw[1]]) as i32 * bv as i32);
                }
                *x = x.wrapping_add(s);
            }
        }
    }
}
