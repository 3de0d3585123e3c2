//! Pooling kernels (NCHW): MaxPool, AveragePool, GlobalAveragePool and
//! GlobalMaxPool, in f32 and int8.
//!
//! Windows are resolved per output row and column into the range of
//! kernel taps that land inside the input (taps in the padding are
//! skipped; for max pooling padding is -inf, for average pooling it is
//! zero and counted in the divisor only with `count_include_pad`).

mod fp32;
mod int8;
#[cfg(test)]
mod tests;

use super::im2col::valid_span;
use super::{In, KernelError, Out};
use crate::graph::{DType, Op, Window};

/// Which reduction a pooling op computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Maximum.
    Max,
    /// Mean over the taps inside the input.
    AvgExcludePad,
    /// Mean over the taps inside the padded input.
    AvgIncludePad,
}

/// Kernel taps of one output position along one axis.
#[derive(Clone, Copy, Debug)]
pub(super) struct Taps {
    /// Input index of kernel tap `lo` (the first tap inside the input).
    pub start: usize,
    /// Number of taps inside the input (tap `lo + t` reads
    /// `start + t * dilation`).
    pub len: usize,
    /// Number of taps inside the padded input.
    pub padded: usize,
}

/// Validated pooling geometry with per-axis tap tables.
#[derive(Debug)]
pub(super) struct Plan {
    /// Batch × channels.
    pub planes: usize,
    /// Input height and width.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Dilation along H and W.
    pub dilation: [usize; 2],
    /// Taps per output row.
    pub rows: Vec<Taps>,
    /// Taps per output column.
    pub cols: Vec<Taps>,
    /// The reduction.
    pub kind: Kind,
}

fn axis_taps(win: &Window, axis: usize, in_len: usize, out_len: usize) -> Vec<Taps> {
    let (k, s, d) = (win.kernel[axis], win.stride[axis], win.dilation[axis]);
    let (pb, pe) = (win.pads[axis], win.pads[axis + 2]);
    (0..out_len)
        .map(|o| {
            let offset = (o * s) as isize - pb as isize;
            let (lo, hi) = valid_span(d, offset, in_len, k);
            let (plo, phi) = valid_span(d, (o * s) as isize, in_len + pb + pe, k);
            Taps {
                start: if hi > lo {
                    ((lo * d) as isize + offset) as usize
                } else {
                    0
                },
                len: hi - lo,
                padded: phi - plo,
            }
        })
        .collect()
}

impl Plan {
    fn new(op: &Op, x: &In<'_>, out: &Out<'_>) -> Result<Plan, KernelError> {
        let &[n, c, h, w] = x.info.shape.as_slice() else {
            return Err(KernelError::invalid(op, "input must be 4-D (NCHW)"));
        };
        let (win, ceil, kind) = match *op {
            Op::MaxPool { window, ceil_mode } => (window, ceil_mode, Kind::Max),
            Op::AveragePool {
                window,
                ceil_mode,
                count_include_pad,
            } => (
                window,
                ceil_mode,
                if count_include_pad {
                    Kind::AvgIncludePad
                } else {
                    Kind::AvgExcludePad
                },
            ),
            Op::GlobalMaxPool | Op::GlobalAveragePool => {
                let whole = Window {
                    kernel: [h, w],
                    stride: [1, 1],
                    pads: [0; 4],
                    dilation: [1, 1],
                };
                let kind = if *op == Op::GlobalMaxPool {
                    Kind::Max
                } else {
                    Kind::AvgExcludePad
                };
                (whole, false, kind)
            }
            _ => return Err(KernelError::unsupported(op, "not a pooling op")),
        };
        if win.stride.contains(&0) || win.dilation.contains(&0) || win.kernel.contains(&0) {
            return Err(KernelError::invalid(op, format!("bad window {win:?}")));
        }
        let (Some(oh), Some(ow)) = (win.out_len(0, h, ceil), win.out_len(1, w, ceil)) else {
            return Err(KernelError::invalid(
                op,
                "window larger than the padded input",
            ));
        };
        if out.info.shape != [n, c, oh, ow] {
            return Err(KernelError::invalid(
                op,
                format!(
                    "output shape {:?}, expected {:?}",
                    out.info.shape,
                    [n, c, oh, ow]
                ),
            ));
        }
        Ok(Plan {
            planes: n * c,
            h,
            w,
            oh,
            ow,
            dilation: win.dilation,
            rows: axis_taps(&win, 0, h, oh),
            cols: axis_taps(&win, 1, w, ow),
            kind,
        })
    }

    /// Divisor of an average for output (row taps, column taps); 0 for a
    /// window without any counted cell.
    pub fn count(&self, r: &Taps, c: &Taps) -> usize {
        match self.kind {
            Kind::AvgIncludePad => r.padded * c.padded,
            Kind::Max | Kind::AvgExcludePad => r.len * c.len,
        }
    }

    /// Fills every output cell of `y` (planes of `oh × ow`) from its
    /// window over `x` (planes of `h × w`): `reduce(cells, count)` gets
    /// the input values under the window and the divisor from
    /// [`Plan::count`]; a window without any counted cell yields `empty`.
    pub fn walk<T, U: Copy>(
        &self,
        x: &[T],
        y: &mut [U],
        empty: U,
        mut reduce: impl FnMut(Cells<'_, T>, usize) -> U,
    ) {
        let (in_plane, out_plane) = (self.h * self.w, self.oh * self.ow);
        for (xp, yp) in x
            .chunks_exact(in_plane.max(1))
            .zip(y.chunks_exact_mut(out_plane.max(1)))
            .take(self.planes)
        {
            for (oy, r) in self.rows.iter().enumerate() {
                let yrow = &mut yp[oy * self.ow..][..self.ow];
                for (yv, c) in yrow.iter_mut().zip(&self.cols) {
                    let n = self.count(r, c);
                    *yv = if n == 0 {
                        empty
                    } else {
                        let cells = Cells {
                            plane: xp,
                            w: self.w,
                            dilation: self.dilation,
                            r: *r,
                            c: *c,
                        };
                        reduce(cells, n)
                    };
                }
            }
        }
    }
}

/// The input values under one output cell's window, within one plane.
pub(super) struct Cells<'a, T> {
    plane: &'a [T],
    w: usize,
    dilation: [usize; 2],
    r: Taps,
    c: Taps,
}

impl<'a, T> Cells<'a, T> {
    /// The values inside the input, row by row (padding cells are
    /// skipped).
    pub fn iter(&self) -> impl Iterator<Item = &'a T> + 'a {
        let (plane, w, [dh, dw], r, c) = (self.plane, self.w, self.dilation, self.r, self.c);
        (0..r.len).flat_map(move |i| {
            let row = &plane[(r.start + i * dh) * w..][..w];
            row[c.start..].iter().step_by(dw).take(c.len)
        })
    }
}

/// Runs a pooling op, dispatching on the element type.
pub fn run(op: &Op, inputs: &[In<'_>], outputs: &mut [Out<'_>]) -> Result<(), KernelError> {
    let ([x], [out]) = (inputs, outputs) else {
        return Err(KernelError::invalid(
            op,
            "expected one input and one output",
        ));
    };
    let plan = Plan::new(op, x, out)?;
    match (x.info.dtype, out.info.dtype) {
        (DType::F32, DType::F32) => fp32::pool(op, &plan, x, out),
        (DType::I8, DType::I8) => int8::pool(op, &plan, x, out),
        (a, b) => Err(KernelError::unsupported(
            op,
            format!("types {a:?} -> {b:?} (f32 and int8 are supported)"),
        )),
    }
}
