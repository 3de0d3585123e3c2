//! Conv and ConvTranspose kernels (NCHW), in f32 and int8.
//!
//! Conv lowers to im2col + the shared GEMM core (1×1 stride-1 unpadded
//! convolutions skip im2col; depthwise convolutions use a direct loop).
//! ConvTranspose runs the GEMM first and scatters the columns (col2im).

mod fp32;
mod int8;
#[cfg(test)]
mod tests;
mod transpose;

use std::ops::Range;

use super::im2col::valid_span;
use super::{In, KernelError, Out};
use crate::graph::{Activation, DType, Op, Window};

/// Elements of one im2col tile; tiles cover whole blocks of output pixels.
const COL_BUDGET: usize = 1 << 18;

/// Runs Conv or ConvTranspose, dispatching on the element types.
pub fn run(op: &Op, inputs: &[In<'_>], outputs: &mut [Out<'_>]) -> Result<(), KernelError> {
    let [out] = outputs else {
        return Err(KernelError::invalid(op, "expected one output"));
    };
    let (x, w, bias) = match inputs {
        [x, w] => (x, w, None),
        [x, w, b] => (x, w, Some(b)),
        _ => {
            return Err(KernelError::invalid(
                op,
                "expected inputs x, w and optional bias",
            ))
        }
    };
    let (g, activation, f32_kernel, i8_kernel): (_, _, Kernel, Kernel) = match *op {
        Op::Conv {
            window,
            group,
            activation,
        } => (
            Geom::conv(op, &window, group, x, w, out)?,
            activation,
            fp32::conv,
            int8::conv,
        ),
        Op::ConvTranspose {
            window,
            group,
            output_padding,
            activation,
        } => (
            Geom::conv_transpose(op, &window, group, output_padding, x, w, out)?,
            activation,
            transpose::run_f32,
            transpose::run_i8,
        ),
        _ => return Err(KernelError::unsupported(op, "not a convolution")),
    };
    let args = Args {
        g,
        activation,
        x,
        w,
        bias,
    };
    match x.info.dtype {
        DType::F32 => f32_kernel(op, &args, out),
        DType::I8 => i8_kernel(op, &args, out),
        dt => Err(unsupported_dtype(op, dt)),
    }
}

/// One element type's kernel of a convolution.
type Kernel = fn(&Op, &Args<'_, '_>, &mut Out<'_>) -> Result<(), KernelError>;

fn unsupported_dtype(op: &Op, dt: DType) -> KernelError {
    KernelError::unsupported(
        op,
        format!("input type {dt:?} (f32 and int8 are supported)"),
    )
}

/// Validated geometry of a (transposed) convolution.
#[derive(Clone, Copy, Debug)]
pub(super) struct Geom {
    /// Batch.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub m: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Groups.
    pub group: usize,
    /// Input channels per group.
    pub cg: usize,
    /// Output channels per group.
    pub mg: usize,
    /// Window.
    pub win: Window,
}

impl Geom {
    /// Taps per output value of a Conv: `cg * kh * kw`.
    pub fn taps(&self) -> usize {
        self.cg * self.win.kernel[0] * self.win.kernel[1]
    }

    /// True for depthwise convolutions (one input and one output channel
    /// per group).
    pub fn is_depthwise(&self) -> bool {
        self.cg == 1 && self.mg == 1
    }

    /// True when the convolution is a plain matrix product per image
    /// (1×1 kernel, stride 1, no padding).
    pub fn is_pointwise(&self) -> bool {
        self.win.kernel == [1, 1] && self.win.stride == [1, 1] && self.win.pads == [0; 4]
    }

    /// Visits the taps of a direct depthwise convolution over one plane:
    /// for every kernel tap `k` (row-major) and every output row it
    /// reaches, calls `f(k, xs, ys)` with the input cells `xs` from the
    /// first one read to the end of its row (read at stride `sw`) and the
    /// output cells `ys` written. Taps in the padding are skipped.
    pub fn depthwise_taps(&self, mut f: impl FnMut(usize, Range<usize>, Range<usize>)) {
        let [kh, kw] = self.win.kernel;
        let [sh, sw] = self.win.stride;
        let [dh, dw] = self.win.dilation;
        for ki in 0..kh {
            let off_y = (ki * dh) as isize - self.win.pads[0] as isize;
            let (oy_lo, oy_hi) = valid_span(sh, off_y, self.h, self.oh);
            for kj in 0..kw {
                let off_x = (kj * dw) as isize - self.win.pads[1] as isize;
                let (ox_lo, ox_hi) = valid_span(sw, off_x, self.w, self.ow);
                if ox_lo >= ox_hi {
                    continue;
                }
                let ix0 = ((ox_lo * sw) as isize + off_x) as usize;
                for oy in oy_lo..oy_hi {
                    let iy = ((oy * sh) as isize + off_y) as usize;
                    f(
                        ki * kw + kj,
                        iy * self.w + ix0..(iy + 1) * self.w,
                        oy * self.ow + ox_lo..oy * self.ow + ox_hi,
                    );
                }
            }
        }
    }

    fn common(
        op: &Op,
        win: &Window,
        group: usize,
        x: &In<'_>,
        w: &In<'_>,
    ) -> Result<[usize; 8], KernelError> {
        let (&[n, c, h, wd], &[w0, w1, kh, kw]) =
            (x.info.shape.as_slice(), w.info.shape.as_slice())
        else {
            return Err(KernelError::invalid(op, "x and w must be 4-D (NCHW)"));
        };
        if group == 0 || c % group != 0 {
            return Err(KernelError::invalid(
                op,
                format!("group {group} does not divide {c} channels"),
            ));
        }
        if win.kernel != [kh, kw]
            || win.stride.contains(&0)
            || win.dilation.contains(&0)
            || kh == 0
            || kw == 0
        {
            return Err(KernelError::invalid(
                op,
                format!("window {win:?} does not match weights {:?}", w.info.shape),
            ));
        }
        Ok([n, c, h, wd, w0, w1, kh, kw])
    }

    fn conv(
        op: &Op,
        win: &Window,
        group: usize,
        x: &In<'_>,
        w: &In<'_>,
        out: &Out<'_>,
    ) -> Result<Geom, KernelError> {
        let [n, c, h, wd, m, cg, _, _] = Self::common(op, win, group, x, w)?;
        if cg * group != c || m % group != 0 {
            return Err(KernelError::invalid(
                op,
                format!(
                    "weights {:?} do not fit {c} channels in {group} groups",
                    w.info.shape
                ),
            ));
        }
        let oh = win.out_len(0, h, false);
        let ow = win.out_len(1, wd, false);
        let (Some(oh), Some(ow)) = (oh, ow) else {
            return Err(KernelError::invalid(
                op,
                "window larger than the padded input",
            ));
        };
        Self::check_out(op, out, [n, m, oh, ow])?;
        Ok(Geom {
            n,
            c,
            h,
            w: wd,
            m,
            oh,
            ow,
            group,
            cg,
            mg: m / group,
            win: *win,
        })
    }

    fn conv_transpose(
        op: &Op,
        win: &Window,
        group: usize,
        output_padding: [usize; 2],
        x: &In<'_>,
        w: &In<'_>,
        out: &Out<'_>,
    ) -> Result<Geom, KernelError> {
        let [n, c, h, wd, wc, mg, kh, kw] = Self::common(op, win, group, x, w)?;
        if wc != c {
            return Err(KernelError::invalid(
                op,
                format!("weights {:?} do not fit {c} channels", w.info.shape),
            ));
        }
        let full = |len: usize, axis: usize, k: usize| -> Option<usize> {
            let span = win.dilation[axis].checked_mul(k - 1)? + 1;
            win.stride[axis]
                .checked_mul(len.checked_sub(1)?)?
                .checked_add(output_padding[axis])?
                .checked_add(span)?
                .checked_sub(win.pads[axis].checked_add(win.pads[axis + 2])?)
        };
        let (Some(oh), Some(ow)) = (full(h, 0, kh), full(wd, 1, kw)) else {
            return Err(KernelError::invalid(op, "pads larger than the output"));
        };
        let m = mg * group;
        Self::check_out(op, out, [n, m, oh, ow])?;
        Ok(Geom {
            n,
            c,
            h,
            w: wd,
            m,
            oh,
            ow,
            group,
            cg: c / group,
            mg,
            win: *win,
        })
    }

    fn check_out(op: &Op, out: &Out<'_>, want: [usize; 4]) -> Result<(), KernelError> {
        if out.info.shape != want {
            return Err(KernelError::invalid(
                op,
                format!("output shape {:?}, expected {want:?}", out.info.shape),
            ));
        }
        Ok(())
    }
}

/// f32 input, weights and output of a convolution.
type F32Operands<'b, 'o> = (&'b [f32], &'b [f32], &'o mut [f32]);

/// Everything a convolution kernel needs besides the output.
pub(super) struct Args<'a, 'b> {
    /// Validated geometry.
    pub g: Geom,
    /// Fused activation.
    pub activation: Option<Activation>,
    /// Input.
    pub x: &'a In<'b>,
    /// Weights.
    pub w: &'a In<'b>,
    /// Optional bias [M].
    pub bias: Option<&'a In<'b>>,
}

impl<'b> Args<'_, 'b> {
    /// Checks the bias shape.
    pub fn check_bias(&self, op: &Op) -> Result<(), KernelError> {
        match self.bias {
            Some(b) if b.info.shape != [self.g.m] => Err(KernelError::invalid(
                op,
                format!("bias shape {:?}, expected [{}]", b.info.shape, self.g.m),
            )),
            _ => Ok(()),
        }
    }

    /// Checks the bias and returns the f32 input, weights and output,
    /// with every output plane already filled with its channel's bias
    /// (0 without bias), ready to accumulate into.
    pub fn f32_operands<'o>(
        &self,
        op: &Op,
        out: &'o mut Out<'_>,
    ) -> Result<F32Operands<'b, 'o>, KernelError> {
        self.check_bias(op)?;
        let x = self.x.f32(op)?;
        let w = self.w.f32(op)?;
        let bias = match self.bias {
            Some(b) => Some(b.f32(op)?),
            None => None,
        };
        let y = out.f32_mut(op)?;
        let pixels = self.g.oh * self.g.ow;
        for (i, plane) in y.chunks_exact_mut(pixels.max(1)).enumerate() {
            plane.fill(bias.map_or(0.0, |b| b[i % self.g.m]));
        }
        Ok((x, w, y))
    }
}

/// Output pixels per im2col tile for `taps` rows.
pub(super) fn tile_pixels(taps: usize, pixels: usize) -> usize {
    (COL_BUDGET / taps.max(1)).clamp(64, pixels.max(64))
}
