//! Window helpers shared by convolution and pooling: the range of output
//! positions whose tap lands inside the input, and im2col.

use crate::graph::Window;

/// The output positions `o` in `0..out_len` for which
/// `o * stride + offset` lies in `0..in_len`, as a half-open range
/// (empty when none do). `stride` must be non-zero.
pub(crate) fn valid_span(
    stride: usize,
    offset: isize,
    in_len: usize,
    out_len: usize,
) -> (usize, usize) {
    let stride_i = stride as isize;
    let lo = if offset >= 0 {
        0
    } else {
        ((-offset) + stride_i - 1) / stride_i
    } as usize;
    let last = in_len as isize - 1 - offset;
    let hi = if last < 0 {
        0
    } else {
        ((last / stride_i) as usize + 1).min(out_len)
    };
    (lo.min(hi), hi)
}

/// Image geometry for [`im2col`]: channels, input size, output size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ImageDims {
    /// Channels of the image.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output width.
    pub ow: usize,
}

/// Writes the column matrix of output pixels `p0..p1` (pixel `p` is
/// output row `p / ow`, column `p % ow`) into `col`, which holds
/// `c * kh * kw` rows of `p1 - p0` values; row `(ci * kh + ki) * kw + kj`
/// holds the input under tap (ki, kj) of channel ci, or `pad` where the
/// tap falls into the padding. `x` is the image `[c, h, w]`.
pub(crate) fn im2col<T: Copy>(
    x: &[T],
    d: ImageDims,
    win: &Window,
    (p0, p1): (usize, usize),
    pad: T,
    col: &mut [T],
) {
    let [kh, kw] = win.kernel;
    let [sh, sw] = win.stride;
    let [dh, dw] = win.dilation;
    let width = p1 - p0;
    if width == 0 {
        return;
    }
    let mut rows = col.chunks_exact_mut(width);
    for ci in 0..d.c {
        let plane = &x[ci * d.h * d.w..(ci + 1) * d.h * d.w];
        for ki in 0..kh {
            let off_y = (ki * dh) as isize - win.pads[0] as isize;
            for kj in 0..kw {
                let Some(row) = rows.next() else { return };
                let off_x = (kj * dw) as isize - win.pads[1] as isize;
                let (ox_lo, ox_hi) = valid_span(sw, off_x, d.w, d.ow);
                let mut p = p0;
                while p < p1 {
                    let (oy, ox0) = (p / d.ow, p % d.ow);
                    let ox1 = d.ow.min(ox0 + (p1 - p));
                    let dst = &mut row[p - p0..p - p0 + (ox1 - ox0)];
                    let iy = (oy * sh) as isize + off_y;
                    if iy < 0 || iy >= d.h as isize {
                        dst.fill(pad);
                    } else {
                        let src = &plane[iy as usize * d.w..(iy as usize + 1) * d.w];
                        let (lo, hi) = (ox_lo.clamp(ox0, ox1), ox_hi.clamp(ox0, ox1));
                        let (lo, hi) = (lo, hi.max(lo));
                        dst[..lo - ox0].fill(pad);
                        dst[hi - ox0..].fill(pad);
                        let mid = &mut dst[lo - ox0..hi - ox0];
                        if lo < hi {
                            let start = (lo * sw) as isize + off_x;
                            let start = start as usize;
                            if sw == 1 {
                                mid.copy_from_slice(&src[start..start + (hi - lo)]);
                            } else {
                                for (i, v) in mid.iter_mut().enumerate() {
                                    *v = src[start + i * sw];
                                }
                            }
                        }
                    }
                    p += ox1 - ox0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_span_brute_force() {
        for stride in 1..4 {
            for offset in -7isize..7 {
                for in_len in 0..6 {
                    for out_len in 0..8 {
                        let (lo, hi) = valid_span(stride, offset, in_len, out_len);
                        for o in 0..out_len {
                            let i = (o * stride) as isize + offset;
                            let inside = i >= 0 && i < in_len as isize;
                            assert_eq!(
                                inside,
                                o >= lo && o < hi,
                                "s{stride} off{offset} {in_len} {out_len} o{o}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn im2col_brute_force() {
        let (c, h, w) = (2, 5, 6);
        let x: Vec<i32> = (0..(c * h * w) as i32).collect();
        let win = Window {
            kernel: [2, 3],
            stride: [2, 3],
            pads: [1, 2, 0, 1],
            dilation: [2, 1],
        };
        let (oh, ow) = (
            win.out_len(0, h, false).unwrap(),
            win.out_len(1, w, false).unwrap(),
        );
        let d = ImageDims { c, h, w, ow };
        let (p0, p1) = (1, oh * ow);
        let mut col = vec![0; c * 6 * (p1 - p0)];
        im2col(&x, d, &win, (p0, p1), -1, &mut col);
        for ci in 0..c {
            for ki in 0..2 {
                for kj in 0..3 {
                    let r = (ci * 2 + ki) * 3 + kj;
                    for p in p0..p1 {
                        let (oy, ox) = (p / ow, p % ow);
                        let iy = (oy * 2 + ki * 2) as isize - 1;
                        let ix = (ox * 3 + kj) as isize - 2;
                        let want = if iy >= 0 && iy < h as isize && ix >= 0 && ix < w as isize {
                            x[(ci * h + iy as usize) * w + ix as usize]
                        } else {
                            -1
                        };
                        assert_eq!(col[r * (p1 - p0) + p - p0], want);
                    }
                }
            }
        }
    }
}
