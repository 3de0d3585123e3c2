//! The portable conversion engine: element reads and writes for every
//! supported type, walked row by row over two layout [`Map`]s. This is the
//! definition every fast path must reproduce exactly.

use half::f16;

use crate::graph::DType;
use crate::kernels::quant;

use super::layout::Map;

/// Per-channel arithmetic of a value conversion:
/// `y = ((x - sub) / div) * mul`, then, for integer destinations,
/// `q = clamp(round(y * qinv) + qzp)` with the build's rounding switch.
///
/// Inputs use `sub = mean, div = std, mul = 1` (exactly `(x - mean) / std`);
/// outputs use `sub = zp, div = 1, mul = scale` (exactly `(q - zp) * scale`
/// for 8- and 16-bit integers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Chan {
    pub sub: f32,
    pub div: f32,
    pub mul: f32,
    pub qinv: f32,
    pub qzp: i32,
}

impl Chan {
    /// The identity (`y = x`, scale 1, zero point 0).
    pub(crate) const IDENTITY: Chan = Chan {
        sub: 0.0,
        div: 1.0,
        mul: 1.0,
        qinv: 1.0,
        qzp: 0,
    };

    #[inline(always)]
    pub(crate) fn value(&self, x: f32) -> f32 {
        ((x - self.sub) / self.div) * self.mul
    }
}

/// Quantizes to uint8: `clamp(round(v * inv) + zp, 0, 255)`.
#[inline(always)]
pub(crate) fn quantize_u8(v: f32, inv: f32, zp: i32) -> u8 {
    (quant::round(v * inv) + zp as f32).clamp(0.0, 255.0) as u8
}

/// A source element type read as f32.
trait Read {
    const N: usize;
    fn get(b: &[u8]) -> f32;
}

/// A destination element type written from f32.
trait Write {
    const N: usize;
    fn put(v: f32, ch: &Chan, out: &mut [u8]);
}

macro_rules! reader {
    ($name:ident, $t:ty, $n:expr, |$v:ident| $conv:expr) => {
        struct $name;
        impl Read for $name {
            const N: usize = $n;
            #[inline(always)]
            fn get(b: &[u8]) -> f32 {
                let mut a = [0u8; $n];
                a.copy_from_slice(&b[..$n]);
                let $v = <$t>::from_ne_bytes(a);
                $conv
            }
        }
    };
}

reader!(RU8, u8, 1, |v| v as f32);
reader!(RI8, i8, 1, |v| v as f32);
reader!(RBool, u8, 1, |v| (v != 0) as u8 as f32);
reader!(RF16, u16, 2, |v| f16::from_bits(v).to_f32());
reader!(RI16, i16, 2, |v| v as f32);
reader!(RU16, u16, 2, |v| v as f32);
reader!(RF32, f32, 4, |v| v);
reader!(RI32, i32, 4, |v| v as f32);
reader!(RU32, u32, 4, |v| v as f32);
reader!(RI64, i64, 8, |v| v as f32);

struct WF32;
impl Write for WF32 {
    const N: usize = 4;
    #[inline(always)]
    fn put(v: f32, _: &Chan, out: &mut [u8]) {
        out[..4].copy_from_slice(&v.to_ne_bytes());
    }
}

struct WF16;
impl Write for WF16 {
    const N: usize = 2;
    #[inline(always)]
    fn put(v: f32, _: &Chan, out: &mut [u8]) {
        out[..2].copy_from_slice(&f16::from_f32(v).to_bits().to_ne_bytes());
    }
}

struct WI8;
impl Write for WI8 {
    const N: usize = 1;
    #[inline(always)]
    fn put(v: f32, ch: &Chan, out: &mut [u8]) {
        out[0] = quant::quantize_i8(v, ch.qinv, ch.qzp) as u8;
    }
}

struct WU8;
impl Write for WU8 {
    const N: usize = 1;
    #[inline(always)]
    fn put(v: f32, ch: &Chan, out: &mut [u8]) {
        out[0] = quantize_u8(v, ch.qinv, ch.qzp);
    }
}

/// Destination types of value conversions.
pub(crate) fn is_value_dst(t: DType) -> bool {
    matches!(t, DType::F32 | DType::F16 | DType::I8 | DType::U8)
}

/// Visits every row `(n, c, h)` of the common logical dims of `sm`/`dm`,
/// passing the channel and both row bases; rows of one pixel row are
/// visited together so the source row stays in cache.
#[inline(always)]
fn for_rows(sm: &Map, dm: &Map, mut f: impl FnMut(usize, usize, usize)) {
    let d = sm.dims();
    if d.w == 0 {
        // Rows without pixels: nothing to visit (and a row base may lie
        // past the end of an empty buffer).
        return;
    }
    for n in 0..d.n {
        for h in 0..d.h {
            for c in 0..d.c {
                f(c, sm.base(n, c, h), dm.base(n, c, h));
            }
        }
    }
}

fn copy_rows<const E: usize>(src: &[u8], sm: &Map, dst: &mut [u8], dm: &Map) {
    let (ss, ds, w) = (sm.step(), dm.step(), sm.dims().w);
    for_rows(sm, dm, |_, sb, db| {
        for x in 0..w {
            let si = (sb + x * ss) * E;
            let di = (db + x * ds) * E;
            dst[di..di + E].copy_from_slice(&src[si..si + E]);
        }
    });
}

/// Copies every logical element of `src` (layout `sm`) to `dst` (layout
/// `dm`) unchanged; `elem` is the element size (1, 2, 4 or 8). Padding of
/// `dm` is not touched. Callers have checked both lengths.
pub(crate) fn copy_layout(src: &[u8], sm: &Map, dst: &mut [u8], dm: &Map, elem: usize) {
    if sm.same_as(dm) {
        let n = sm.len() * elem;
        dst[..n].copy_from_slice(&src[..n]);
        return;
    }
    match elem {
        1 => copy_rows::<1>(src, sm, dst, dm),
        2 => copy_rows::<2>(src, sm, dst, dm),
        4 => copy_rows::<4>(src, sm, dst, dm),
        _ => copy_rows::<8>(src, sm, dst, dm),
    }
}

/// One row into a dense destination row, reading every `SS`-th source
/// element: written with chunk iterators so the compiler can vectorise it.
#[inline(always)]
fn dense_row<R: Read, W: Write, const SS: usize>(s: &[u8], d: &mut [u8], w: usize, ch: &Chan) {
    let Some(body) = w.checked_sub(1) else {
        return;
    };
    let (sd, dd) = (
        s[..body * SS * R::N].chunks_exact(SS * R::N),
        d[..body * W::N].chunks_exact_mut(W::N),
    );
    for (o, i) in dd.zip(sd) {
        W::put(ch.value(R::get(i)), ch, o);
    }
    W::put(
        ch.value(R::get(&s[body * SS * R::N..])),
        ch,
        &mut d[body * W::N..],
    );
}

fn value_rows<R: Read, W: Write>(src: &[u8], sm: &Map, dst: &mut [u8], dm: &Map, chans: &[Chan]) {
    let (ss, ds, w) = (sm.step(), dm.step(), sm.dims().w);
    for_rows(sm, dm, |c, sb, db| {
        let ch = &chans[c.min(chans.len() - 1)];
        if ds == 1 && (1..=4).contains(&ss) {
            let (s, d) = (&src[sb * R::N..], &mut dst[db * W::N..(db + w) * W::N]);
            match ss {
                1 => dense_row::<R, W, 1>(s, d, w, ch),
                2 => dense_row::<R, W, 2>(s, d, w, ch),
                3 => dense_row::<R, W, 3>(s, d, w, ch),
                _ => dense_row::<R, W, 4>(s, d, w, ch),
            }
            return;
        }
        for x in 0..w {
            let si = (sb + x * ss) * R::N;
            let di = (db + x * ds) * W::N;
            W::put(ch.value(R::get(&src[si..])), ch, &mut dst[di..]);
        }
    });
}

fn value_rows_to<R: Read>(
    dst_ty: DType,
    src: &[u8],
    sm: &Map,
    dst: &mut [u8],
    dm: &Map,
    chans: &[Chan],
) {
    match dst_ty {
        DType::F32 => value_rows::<R, WF32>(src, sm, dst, dm, chans),
        DType::F16 => value_rows::<R, WF16>(src, sm, dst, dm, chans),
        DType::I8 => value_rows::<R, WI8>(src, sm, dst, dm, chans),
        _ => value_rows::<R, WU8>(src, sm, dst, dm, chans),
    }
}

/// Converts every logical element: read as `src_ty`, apply the channel's
/// [`Chan`] (`chans[c]`, or the last entry for channels beyond it), write
/// as `dst_ty` (one of F32, F16, I8, U8; see [`is_value_dst`]). Padding of
/// `dm` is not touched. Callers have checked both lengths.
pub(crate) fn convert_values(
    src: &[u8],
    src_ty: DType,
    sm: &Map,
    dst: &mut [u8],
    dst_ty: DType,
    dm: &Map,
    chans: &[Chan],
) {
    let f = match src_ty {
        DType::U8 => value_rows_to::<RU8>,
        DType::I8 => value_rows_to::<RI8>,
        DType::Bool => value_rows_to::<RBool>,
        DType::F16 => value_rows_to::<RF16>,
        DType::I16 => value_rows_to::<RI16>,
        DType::U16 => value_rows_to::<RU16>,
        DType::F32 => value_rows_to::<RF32>,
        DType::I32 => value_rows_to::<RI32>,
        DType::U32 => value_rows_to::<RU32>,
        DType::I64 => value_rows_to::<RI64>,
    };
    f(dst_ty, src, sm, dst, dm, chans);
}

/// Per-channel tables for uint8 sources and one-byte destinations: entry
/// `x` is exactly what [`convert_values`] writes for the byte `x`.
pub(crate) fn u8_tables(dst_ty: DType, chans: &[Chan]) -> Vec<[u8; 256]> {
    chans
        .iter()
        .map(|ch| {
            let mut t = [0u8; 256];
            for (x, e) in t.iter_mut().enumerate() {
                let v = ch.value(x as f32);
                *e = if dst_ty == DType::I8 {
                    quant::quantize_i8(v, ch.qinv, ch.qzp) as u8
                } else {
                    quantize_u8(v, ch.qinv, ch.qzp)
                };
            }
            t
        })
        .collect()
}

/// Table-driven uint8 → one-byte conversion over any pair of layouts;
/// bit-identical to [`convert_values`] with the same channels.
pub(crate) fn lut_rows(src: &[u8], sm: &Map, dst: &mut [u8], dm: &Map, tables: &[[u8; 256]]) {
    let (ss, ds, w) = (sm.step(), dm.step(), sm.dims().w);
    for_rows(sm, dm, |c, sb, db| {
        let t = &tables[c.min(tables.len() - 1)];
        for x in 0..w {
            dst[db + x * ds] = t[src[sb + x * ss] as usize];
        }
    });
}
