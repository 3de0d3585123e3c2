//! Operand layouts: where element (row, col) of the normal (row-major)
//! matrix lives in each layout, element counts, and the raw element moves
//! that convert between layouts (int4 included: two elements per byte,
//! the even linear index in the low nibble).

use super::rules::NativeShapes;
use super::types::{Elem, Layout, Shape};

/// Where the elements of one operand live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Normal rows (A: M, B: K, C: M).
    pub rows: usize,
    /// Normal columns (A: K, B: N, C: N).
    pub cols: usize,
    /// The layout.
    pub kind: Kind,
}

/// Layout-specific parameters of a [`Geometry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Row-major.
    Norm,
    /// Transposed (column-major): element (r, c) at `c * rows + r`.
    Transposed,
    /// A or C native: `[ceil(cols/sub), rows, sub]`.
    Blocked {
        /// Inner block width.
        sub: usize,
    },
    /// B native: `[ceil(N/sub_n), ceil(Kt/sub_k), sub_n, sub_k]` per segment
    /// of `seg` rows of K, segments concatenated.
    BNative {
        /// Block width along N.
        sub_n: usize,
        /// Block depth along K.
        sub_k: usize,
        /// Rows of K per segment (a multiple of `sub_k`).
        seg: usize,
    },
}

impl Geometry {
    /// A (M×K) in `layout`.
    pub fn a(s: Shape, layout: Layout, ns: &NativeShapes) -> Geometry {
        let kind = match layout {
            Layout::Native => Kind::Blocked { sub: ns.a_sub_k },
            _ => Kind::Norm,
        };
        Geometry {
            rows: s.m,
            cols: s.k,
            kind,
        }
    }

    /// B (K×N) in `layout`; `seg` is the platform's segment size.
    pub fn b(s: Shape, layout: Layout, ns: &NativeShapes, seg: Option<usize>) -> Geometry {
        let kind = match layout {
            Layout::Norm => Kind::Norm,
            Layout::TpNorm => Kind::Transposed,
            Layout::Native => Kind::BNative {
                sub_n: ns.b_sub_n,
                sub_k: ns.b_sub_k,
                seg: seg
                    .filter(|&g| g < s.k)
                    .map_or(s.k.next_multiple_of(ns.b_sub_k), |g| g),
            },
        };
        Geometry {
            rows: s.k,
            cols: s.n,
            kind,
        }
    }

    /// C (M×N) in `layout`.
    pub fn c(s: Shape, layout: Layout, ns: &NativeShapes) -> Geometry {
        let kind = match layout {
            Layout::Native => Kind::Blocked { sub: ns.c_sub_n },
            _ => Kind::Norm,
        };
        Geometry {
            rows: s.m,
            cols: s.n,
            kind,
        }
    }

    /// Elements stored, padding included.
    pub fn count(&self) -> usize {
        match self.kind {
            Kind::Norm | Kind::Transposed => self.rows * self.cols,
            Kind::Blocked { sub } => self.cols.div_ceil(sub) * self.rows * sub,
            Kind::BNative { sub_n, sub_k, seg } => {
                let n_pad = self.cols.div_ceil(sub_n) * sub_n;
                let full = self.rows / seg;
                let rest = self.rows % seg;
                n_pad * (full * seg + rest.div_ceil(sub_k) * sub_k)
            }
        }
    }

    /// The stored index of normal element (r, c).
    #[inline]
    pub fn index(&self, r: usize, c: usize) -> usize {
        match self.kind {
            Kind::Norm => r * self.cols + c,
            Kind::Transposed => c * self.rows + r,
            Kind::Blocked { sub } => ((c / sub) * self.rows + r) * sub + c % sub,
            Kind::BNative { sub_n, sub_k, seg } => {
                let n_pad = self.cols.div_ceil(sub_n) * sub_n;
                let t = r / seg;
                let kk = r % seg;
                let k_t = seg.min(self.rows - t * seg);
                let kb = k_t.div_ceil(sub_k);
                let base = t * seg * n_pad;
                base + (((c / sub_n) * kb + kk / sub_k) * sub_n + c % sub_n) * sub_k + kk % sub_k
            }
        }
    }

    /// The B-native dims reported in `io_attr.B` (`[N/subN, K/subK, subN,
    /// subK]`), or the plain dims of other layouts.
    pub fn dims(&self) -> Vec<u32> {
        let d = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        match self.kind {
            Kind::Norm => vec![d(self.rows), d(self.cols)],
            Kind::Transposed => vec![d(self.cols), d(self.rows)],
            Kind::Blocked { sub } => vec![d(self.cols.div_ceil(sub)), d(self.rows), d(sub)],
            Kind::BNative { sub_n, sub_k, .. } => vec![
                d(self.cols.div_ceil(sub_n)),
                d(self.rows.div_ceil(sub_k)),
                d(sub_n),
                d(sub_k),
            ],
        }
    }
}

/// Reads raw element `i` of `elem` from `src` as its bit pattern.
#[inline]
pub fn get_raw(src: &[u8], elem: Elem, i: usize) -> u32 {
    match elem {
        Elem::I4 => {
            let b = src[i / 2];
            u32::from(if i.is_multiple_of(2) {
                b & 0x0f
            } else {
                b >> 4
            })
        }
        Elem::I8 => u32::from(src[i]),
        Elem::F16 | Elem::Bf16 | Elem::I16 => {
            u32::from(u16::from_le_bytes([src[2 * i], src[2 * i + 1]]))
        }
        Elem::F32 | Elem::I32 => {
            u32::from_le_bytes([src[4 * i], src[4 * i + 1], src[4 * i + 2], src[4 * i + 3]])
        }
    }
}

/// Writes the bit pattern `v` as raw element `i` of `elem` into `dst`.
#[inline]
pub fn put_raw(dst: &mut [u8], elem: Elem, i: usize, v: u32) {
    match elem {
        Elem::I4 => {
            let b = &mut dst[i / 2];
            let nib = (v & 0x0f) as u8;
            *b = if i.is_multiple_of(2) {
                (*b & 0xf0) | nib
            } else {
                (*b & 0x0f) | (nib << 4)
            };
        }
        Elem::I8 => dst[i] = v as u8,
        Elem::F16 | Elem::Bf16 | Elem::I16 => {
            dst[2 * i..2 * i + 2].copy_from_slice(&(v as u16).to_le_bytes())
        }
        Elem::F32 | Elem::I32 => dst[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes()),
    }
}

/// Copies every element of a `from`-laid matrix in `src` to its place in
/// a `to`-laid matrix in `dst`. Padding of `dst` is zeroed. Both geometries
/// must describe the same rows×cols; the slices must hold their counts
/// (checked by the callers, which size them from the geometries).
pub fn relayout(src: &[u8], from: &Geometry, dst: &mut [u8], to: &Geometry, elem: Elem) {
    let used = elem.bytes_for(to.count()).min(dst.len());
    dst[..used].fill(0);
    if from.kind == to.kind && elem != Elem::I4 {
        let n = elem.bytes_for(from.count()).min(used);
        dst[..n].copy_from_slice(&src[..n]);
        return;
    }
    for r in 0..from.rows {
        for c in 0..from.cols {
            let v = get_raw(src, elem, from.index(r, c));
            put_raw(dst, elem, to.index(r, c), v);
        }
    }
}

/// Sign-extends an int4 nibble.
#[inline]
pub fn i4_value(nibble: u32) -> i8 {
    (((nibble & 0x0f) as u8) << 4) as i8 >> 4
}

/// Decodes a normal-layout integer matrix (int4 or int8) of `count`
/// elements into int8 values.
pub fn decode_int(src: &[u8], elem: Elem, count: usize) -> Vec<i8> {
    match elem {
        Elem::I4 => (0..count)
            .map(|i| i4_value(get_raw(src, elem, i)))
            .collect(),
        _ => src[..count].iter().map(|&b| b as i8).collect(),
    }
}

/// Decodes a normal-layout fp16 matrix of `count` elements into f32.
pub fn decode_f16(src: &[u8], count: usize) -> Vec<f32> {
    src[..count * 2]
        .chunks_exact(2)
        .map(|b| half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom_b(k: usize, n: usize, sub_n: usize, sub_k: usize, seg: usize) -> Geometry {
        Geometry {
            rows: k,
            cols: n,
            kind: Kind::BNative { sub_n, sub_k, seg },
        }
    }

    #[test]
    fn b_native_indices_are_a_permutation() {
        for &(k, n, seg) in &[(64, 32, 64), (96, 48, 64), (160, 16, 64)] {
            let g = geom_b(k, n, 16, 32, seg);
            let mut seen = vec![false; g.count()];
            for r in 0..k {
                for c in 0..n {
                    let i = g.index(r, c);
                    assert!(!seen[i], "index {i} used twice");
                    seen[i] = true;
                }
            }
            assert!(seen.iter().all(|&s| s), "{k}x{n}: every slot used");
        }
    }

    #[test]
    fn int4_relayout_round_trips() {
        let norm = Geometry {
            rows: 4,
            cols: 64,
            kind: Kind::Norm,
        };
        let native = Geometry {
            rows: 4,
            cols: 64,
            kind: Kind::Blocked { sub: 32 },
        };
        let src: Vec<u8> = (0..128u32).map(|i| (i * 37 + 11) as u8).collect();
        let mut mid = vec![0u8; 128];
        let mut back = vec![0u8; 128];
        relayout(&src, &norm, &mut mid, &native, Elem::I4);
        relayout(&mid, &native, &mut back, &norm, Elem::I4);
        assert_eq!(src, back);
        assert_eq!(i4_value(0x8), -8);
        assert_eq!(i4_value(0x7), 7);
    }
}
