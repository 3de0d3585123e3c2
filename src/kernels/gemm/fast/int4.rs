//! int4 packing as the RKNN matmul API uses it: two two's-complement
//! nibbles per byte, the element with the even linear index in the low
//! nibble and the odd one in the high nibble.

/// Unpacks `dst.len()` int4 elements from `src` (sign-extended to int8).
/// Elements past the end of `src` read as zero.
pub fn unpack_int4(src: &[u8], dst: &mut [i8]) {
    for (pair, &byte) in dst.chunks_mut(2).zip(src) {
        let lo = ((byte << 4) as i8) >> 4;
        let hi = (byte as i8) >> 4;
        pair[0] = lo;
        if let Some(x) = pair.get_mut(1) {
            *x = hi;
        }
    }
    let covered = (src.len() * 2).min(dst.len());
    dst[covered..].fill(0);
}

/// Packs `src` into nibbles (`src.len().div_ceil(2)` bytes of `dst` are
/// written). Values keep their low four bits, so −8..=7 round-trip and
/// others wrap.
pub fn pack_int4(src: &[i8], dst: &mut [u8]) {
    for (byte, pair) in dst.iter_mut().zip(src.chunks(2)) {
        let lo = pair[0] as u8 & 0x0f;
        let hi = pair.get(1).map_or(0, |&v| v as u8 & 0x0f);
        *byte = lo | (hi << 4);
    }
}
