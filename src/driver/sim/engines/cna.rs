//! CNA: what a convolution reads — the feature cube (NC1HWC2 or the
//! packed 1–4 channel "ARGB" input), the weights in the vendor's native
//! blocks, padding, stride and dilation — decoded from the CNA and CORE
//! registers and checked (`docs/sim.md`, "CNA").

use super::layout::{self, Geometry};
use super::{decode, shift_round, signed, unsupported, Ctx, Precision, Values};
use crate::npu::regs::{cna, core};

/// Kernels per weight block: 32 for int8, 16 for fp16.
fn kernel_group(prec: Precision) -> usize {
    if prec == Precision::Int8 {
        32
    } else {
        16
    }
}

/// Input channels per weight block.
const CHANNEL_GROUP: usize = 32;
/// Bytes of one depthwise weight block along the channels.
const DEPTHWISE_GROUP_BYTES: usize = 64;
/// Input channels are handled in blocks of this many; `DATAIN_CHANNEL_REAL`
/// counts the valid channels of the last block.
const REAL_CHANNEL_BLOCK: usize = 64;

/// A decoded convolution.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    /// Data precision (int8 or fp16).
    pub prec: Precision,
    /// Depthwise (one kernel per channel) instead of direct.
    pub depthwise: bool,
    /// Input width, height.
    pub w: usize,
    /// Input height.
    pub h: usize,
    /// Input channels as stored (padded).
    pub c: usize,
    /// Input channels that take part.
    pub c_real: usize,
    /// Output width and height.
    pub ow: usize,
    /// Output height.
    pub oh: usize,
    /// Kernel width, height and count.
    pub kw: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernels (output channels of a direct convolution).
    pub kernels: usize,
    /// Strides.
    pub sx: usize,
    /// Vertical stride.
    pub sy: usize,
    /// Dilations.
    pub dx: usize,
    /// Vertical dilation.
    pub dy: usize,
    /// Padding left and top.
    pub pad_left: usize,
    /// Padding top.
    pub pad_top: usize,
    /// The value of padded input positions.
    pub pad: Pad,
    /// The input feature values, `c_real × h × w`.
    pub input: Values,
    /// The weights, `kernels × c_real × kh × kw` (depthwise: `c_real × kh × kw`).
    pub weights: Values,
}

/// A padding value in the convolution's precision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pad {
    /// Integer.
    Int(i64),
    /// Float.
    Float(f32),
}

impl Conv {
    /// Decodes and checks the CNA and CORE registers and fetches the
    /// input and weights.
    pub fn read(ctx: &Ctx<'_>) -> Result<Conv, String> {
        use cna::*;
        let in_prec = ctx.expect(&CONV_CON1, conv_con1::IN_PRECISION, &[0, 2])?;
        ctx.expect(&CONV_CON1, conv_con1::PROC_PRECISION, &[in_prec])?;
        ctx.expect(&CONV_CON1, conv_con1::DECONV, &[0])?;
        let mode = ctx.expect(&CONV_CON1, conv_con1::CONV_MODE, &[0, 3])?;
        let argb = ctx.expect(&CONV_CON1, conv_con1::ARGB_IN, &[0, 8, 9, 10, 11])?;
        let prec = Precision::from_code(in_prec).unwrap_or(Precision::Int8);
        ctx.expect(&CONV_CON3, conv_con3::NN_MODE, &[0])?;
        ctx.expect(&CONV_CON3, conv_con3::DECONV_X_STRIDE, &[0])?;
        ctx.expect(&CONV_CON3, conv_con3::DECONV_Y_STRIDE, &[0])?;
        ctx.expect(&FC_CON0, fc_con0::FC_SKIP_EN, &[0])?;
        ctx.expect(&DCOMP_CTRL, dcomp_ctrl::DECOMP_CONTROL, &[0])?;
        let core_prec = ctx.f(&core::MISC_CFG, core::misc_cfg::PROC_PRECISION);
        if core_prec != in_prec {
            return Err(unsupported(
                &core::MISC_CFG,
                ctx.r(&core::MISC_CFG),
                core::misc_cfg::PROC_PRECISION,
                core_prec,
            ) + &format!(" with CNA precision {in_prec}"));
        }
        let depthwise = mode == 3;
        ctx.expect(
            &core::MISC_CFG,
            core::misc_cfg::DW_EN,
            &[u32::from(depthwise)],
        )?;
        ctx.expect(
            &core::CLIP_TRUNCATE,
            core::clip_truncate::CLIP_TRUNCATE,
            &[0],
        )?;
        ctx.expect(&core::UNNAMED_3030, core::unnamed_3030::VALUE, &[0])?;

        let w = ctx.f(&DATA_SIZE0, data_size0::DATAIN_WIDTH) as usize;
        let h = ctx.f(&DATA_SIZE0, data_size0::DATAIN_HEIGHT) as usize;
        let c = ctx.f(&DATA_SIZE1, data_size1::DATAIN_CHANNEL) as usize;
        let real_last = ctx.f(&DATA_SIZE1, data_size1::DATAIN_CHANNEL_REAL) as usize + 1;
        let full_blocks = c.saturating_sub(1) / REAL_CHANNEL_BLOCK;
        let c_real = full_blocks * REAL_CHANNEL_BLOCK + real_last;
        if w == 0 || h == 0 || c == 0 || c_real > c {
            return Err(format!(
                "{DATA_SIZE0} = {:#x}, {DATA_SIZE1} = {:#x}: input {w}x{h} with {c_real} of {c} \
                 channels",
                ctx.r(&DATA_SIZE0),
                ctx.r(&DATA_SIZE1)
            ));
        }
        let ow = ctx.f(&DATA_SIZE2, data_size2::DATAOUT_WIDTH) as usize;
        let atomics = ctx.f(&DATA_SIZE3, data_size3::DATAOUT_ATOMICS) as usize;
        if ow == 0 || !atomics.is_multiple_of(ow) {
            return Err(format!(
                "{DATA_SIZE3} = {:#x}: {atomics} output atoms are not whole lines of {ow}",
                ctx.r(&DATA_SIZE3)
            ));
        }
        let oh = atomics / ow;
        let core_w = ctx.f(&core::DATAOUT_SIZE_0, core::dataout_size_0::DATAOUT_WIDTH) as usize + 1;
        let core_h =
            ctx.f(&core::DATAOUT_SIZE_0, core::dataout_size_0::DATAOUT_HEIGHT) as usize + 1;
        if (core_w, core_h) != (ow, oh) {
            return Err(format!(
                "{} = {:#x} says {core_w}x{core_h} but the CNA produces {ow}x{oh}",
                core::DATAOUT_SIZE_0,
                ctx.r(&core::DATAOUT_SIZE_0)
            ));
        }
        let kw = ctx.f(&WEIGHT_SIZE2, weight_size2::WEIGHT_WIDTH) as usize;
        let kh = ctx.f(&WEIGHT_SIZE2, weight_size2::WEIGHT_HEIGHT) as usize;
        let kernels = ctx.f(&WEIGHT_SIZE2, weight_size2::WEIGHT_KERNELS) as usize;
        let per_kernel = kw * kh * c * prec.bytes();
        let want = if depthwise {
            (per_kernel, per_kernel, 1)
        } else {
            (per_kernel, per_kernel * kernels, kernels)
        };
        let got = (
            ctx.f(&WEIGHT_SIZE1, weight_size1::WEIGHT_BYTES_PER_KERNEL) as usize,
            ctx.f(&WEIGHT_SIZE0, weight_size0::WEIGHT_BYTES) as usize,
            kernels,
        );
        if kw == 0 || kh == 0 || got != want {
            return Err(format!(
                "{WEIGHT_SIZE0}/{WEIGHT_SIZE1}/{WEIGHT_SIZE2} = {:#x}/{:#x}/{:#x}: {} bytes per \
                 kernel, {} in total for {kernels} {kw}x{kh} kernels over {c} channels (expected \
                 {} and {})",
                ctx.r(&WEIGHT_SIZE0),
                ctx.r(&WEIGHT_SIZE1),
                ctx.r(&WEIGHT_SIZE2),
                got.0,
                got.1,
                want.0,
                want.1
            ));
        }
        let sx = ctx.f(&CONV_CON3, conv_con3::CONV_X_STRIDE) as usize;
        let sy = ctx.f(&CONV_CON3, conv_con3::CONV_Y_STRIDE) as usize;
        if sx == 0 || sy == 0 {
            return Err(unsupported(
                &CONV_CON3,
                ctx.r(&CONV_CON3),
                conv_con3::CONV_X_STRIDE,
                sx.min(sy) as u32,
            ));
        }
        let dx = ctx.f(&CONV_CON3, conv_con3::ATROUS_X_DILATION) as usize + 1;
        let dy = ctx.f(&CONV_CON3, conv_con3::ATROUS_Y_DILATION) as usize + 1;
        let pad_left = ctx.f(&PAD_CON0, pad_con0::PAD_LEFT) as usize;
        let pad_top = ctx.f(&PAD_CON0, pad_con0::PAD_TOP) as usize;
        let pad_raw = ctx.r(&PAD_CON1);
        let pad = match prec {
            Precision::Int8 => Pad::Int(signed(pad_raw & 0xff, 8)),
            _ => Pad::Float(half::f16::from_bits(pad_raw as u16).to_f32()),
        };
        let input = convert(ctx, fetch_input(ctx, prec, argb, w, h, c_real)?, c_real)?;
        let weights = fetch_weights(
            ctx,
            prec,
            &WeightShape {
                depthwise,
                kernels,
                c,
                c_real,
                kh,
                kw,
            },
        )?;
        Ok(Conv {
            prec,
            depthwise,
            w,
            h,
            c,
            c_real,
            ow,
            oh,
            kw,
            kh,
            kernels,
            sx,
            sy,
            dx,
            dy,
            pad_left,
            pad_top,
            pad,
            input,
            weights,
        })
    }

    /// Output channels the MAC array produces.
    pub fn out_channels(&self) -> usize {
        if self.depthwise {
            self.c_real
        } else {
            self.kernels
        }
    }
}

/// The CNA's input conversion (`CVT_CON0..5`): with `CVT_BYPASS` 0, each
/// of up to 4 channels becomes `round(((x + CVT_OFFSETc) · CVT_SCALEc) /
/// 2^CVT_TRUNCATE_c)`, saturated to int8, `x` unsigned unless `DATA_SIGN`
/// (Mesa converts uint8 images this way: offset −128, scale 16384,
/// truncate 14).
fn convert(ctx: &Ctx<'_>, input: Values, c_real: usize) -> Result<Values, String> {
    use cna::*;
    if ctx.f(&CVT_CON0, cvt_con0::CVT_BYPASS) == 1 {
        ctx.expect(&CVT_CON5, cvt_con5::PER_CHANNEL_CVT_EN, &[0])?;
        return Ok(input);
    }
    ctx.expect(&CVT_CON0, cvt_con0::CVT_TYPE, &[0])?;
    ctx.expect(&CVT_CON0, cvt_con0::ROUND_TYPE, &[0])?;
    ctx.expect(&CVT_CON5, cvt_con5::PER_CHANNEL_CVT_EN, &[0, 0xffff])?;
    let Values::Int(mut x) = input else {
        return Err(format!(
            "{CVT_CON0} = {:#x}: input conversion of fp16 data is not simulated",
            ctx.r(&CVT_CON0)
        ));
    };
    if c_real > 4 {
        return Err(format!(
            "{CVT_CON0} = {:#x}: input conversion of {c_real} channels (at most 4) is not simulated",
            ctx.r(&CVT_CON0)
        ));
    }
    let unsigned = ctx.f(&CVT_CON0, cvt_con0::DATA_SIGN) == 0;
    let truncate = [
        cvt_con0::CVT_TRUNCATE_0,
        cvt_con0::CVT_TRUNCATE_1,
        cvt_con0::CVT_TRUNCATE_2,
        cvt_con0::CVT_TRUNCATE_3,
    ];
    let params = [&CVT_CON1, &CVT_CON2, &CVT_CON3, &CVT_CON4];
    let plane = x.len() / c_real.max(1);
    for (c, chunk) in x.chunks_mut(plane.max(1)).enumerate().take(c_real) {
        let v = ctx.r(params[c]);
        let scale = i64::from(v >> 16);
        let offset = signed(v & 0xffff, 16);
        let shift = ctx.f(&CVT_CON0, truncate[c]);
        for e in chunk.iter_mut() {
            let raw = if unsigned { *e & 0xff } else { *e };
            *e = shift_round((raw + offset) * scale, shift).clamp(-128, 127);
        }
    }
    Ok(Values::Int(x))
}

/// Reads the `c_real × h × w` input cube.
fn fetch_input(
    ctx: &Ctx<'_>,
    prec: Precision,
    argb: u32,
    w: usize,
    h: usize,
    c_real: usize,
) -> Result<Values, String> {
    use cna::*;
    let base = u64::from(ctx.r(&FEATURE_DATA_ADDR));
    let line_reg = ctx.f(&DMA_CON1, dma_con1::LINE_STRIDE) as i64;
    let surf_reg = signed(ctx.f(&DMA_CON2, dma_con2::SURF_STRIDE), 28);
    let e = prec.bytes();
    if argb != 0 {
        // Packed pixels of 1..4 channels, one surface.
        let channels = (argb - 7) as usize;
        if c_real > channels {
            return Err(format!(
                "{CONV_CON1}: ARGB_IN {argb} packs {channels} channels but {c_real} are real"
            ));
        }
        let pixel = channels * e;
        // Lines hold LINE_STRIDE pixels rounded up to a whole number of
        // atoms' worth of elements (16 int8, 8 fp16).
        let line = (line_reg as usize).next_multiple_of(prec.per_atom()) * pixel;
        let len = line * (h - 1) + pixel * w;
        let bytes = ctx.space.read_vec(base, len, "CNA feature read (packed)")?;
        let mut out = vec![0u8; c_real * h * w * e];
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c_real {
                    let from = y * line + x * pixel + ch * e;
                    let to = ((ch * h + y) * w + x) * e;
                    out[to..to + e].copy_from_slice(&bytes[from..from + e]);
                }
            }
        }
        return Ok(decode(&out, prec));
    }
    let per = prec.per_atom();
    let surfaces = c_real.div_ceil(per);
    let geo = Geometry {
        base,
        line: line_reg * 4,
        surf: (surf_reg + line_reg) * 16,
    };
    let atoms = layout::read(ctx.space, &geo, surfaces, h, w, "CNA feature read")?;
    let mut out = vec![0u8; c_real * h * w * e];
    for ch in 0..c_real {
        for y in 0..h {
            for x in 0..w {
                let from = atoms.at(ch / per, y, x) + (ch % per) * e;
                let to = ((ch * h + y) * w + x) * e;
                out[to..to + e].copy_from_slice(&atoms.bytes[from..from + e]);
            }
        }
    }
    Ok(decode(&out, prec))
}

/// What the weight fetch reads: `kernels` kernels of `kh × kw` over `c`
/// stored channels of which `c_real` take part (depthwise: one kernel per
/// channel).
#[derive(Clone, Copy)]
struct WeightShape {
    depthwise: bool,
    kernels: usize,
    c: usize,
    c_real: usize,
    kh: usize,
    kw: usize,
}

/// Reads the weights from `DCOMP_ADDR0` in the native block order: direct
/// `[kernel block][channel block][ky][kx][kernel][channel]`, depthwise
/// `[channel block][ky][kx][channel]`.
fn fetch_weights(ctx: &Ctx<'_>, prec: Precision, shape: &WeightShape) -> Result<Values, String> {
    let WeightShape {
        depthwise,
        kernels,
        c,
        c_real,
        kh,
        kw,
    } = *shape;
    let e = prec.bytes();
    let base = u64::from(ctx.r(&cna::DCOMP_ADDR0));
    let taps = kh * kw;
    if depthwise {
        let raw = ctx.space.read_vec(base, taps * c * e, "CNA weight read")?;
        let group = DEPTHWISE_GROUP_BYTES / e;
        let mut out = vec![0u8; c_real * taps * e];
        let mut at = 0;
        for g0 in (0..c).step_by(group) {
            let g = group.min(c - g0);
            for t in 0..taps {
                for i in 0..g {
                    let ch = g0 + i;
                    if ch < c_real {
                        let to = (ch * taps + t) * e;
                        out[to..to + e].copy_from_slice(&raw[at..at + e]);
                    }
                    at += e;
                }
            }
        }
        return Ok(decode(&out, prec));
    }
    let raw = ctx
        .space
        .read_vec(base, kernels * taps * c * e, "CNA weight read")?;
    let kg = kernel_group(prec);
    let mut out = vec![0u8; kernels * c_real * taps * e];
    let mut at = 0;
    for k0 in (0..kernels).step_by(kg) {
        let nk = kg.min(kernels - k0);
        for c0 in (0..c).step_by(CHANNEL_GROUP) {
            let nc = CHANNEL_GROUP.min(c - c0);
            for t in 0..taps {
                for k in 0..nk {
                    for i in 0..nc {
                        let ch = c0 + i;
                        if ch < c_real {
                            let to = (((k0 + k) * c_real + ch) * taps + t) * e;
                            out[to..to + e].copy_from_slice(&raw[at..at + e]);
                        }
                        at += e;
                    }
                }
            }
        }
    }
    Ok(decode(&out, prec))
}
