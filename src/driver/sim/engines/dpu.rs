//! DPU + DPU_RDMA: the post-processing pipeline after the MAC array, or
//! on a cube read from memory ("flying mode"): bias/scale (BS), batch-norm
//! (BN), element-wise (EW) with its operand conversion and lookup table,
//! output conversion, minimum/maximum reduction, and the write to memory
//! (`docs/sim.md`, "DPU").

use super::layout::{self, Atoms, Geometry, ATOM};
use super::lut;
use super::mac::Accumulated;
use super::{decode, shift_round, signed, unsupported, Ctx, Precision, Values};
use crate::npu::regs::{dpu, dpu_rdma, Field, Reg};

/// Where the DPU's input comes from.
pub enum Input {
    /// The MAC array (a convolution).
    Core(Accumulated),
    /// Memory, through the MRDMA.
    Memory,
}

/// The cube the DPU processes.
struct Cube {
    c: usize,
    h: usize,
    w: usize,
}

/// Runs the DPU; `rdma` says whether DPU_RDMA is enabled.
pub fn run(ctx: &Ctx<'_>, input: Input, rdma: bool) -> Result<(), String> {
    use dpu::*;
    let fm = feature_mode_cfg::OUTPUT_MODE;
    ctx.expect(&FEATURE_MODE_CFG, fm, &[2])?;
    ctx.expect(&FEATURE_MODE_CFG, feature_mode_cfg::TP_EN, &[0])?;
    ctx.expect(&FEATURE_MODE_CFG, feature_mode_cfg::COMB_USE, &[0])?;
    ctx.expect(&FEATURE_MODE_CFG, feature_mode_cfg::RGP_TYPE, &[0])?;
    ctx.expect(&DATA_FORMAT, data_format::MC_SURF_OUT, &[0])?;
    ctx.expect(&DATA_FORMAT, data_format::EW_TRUNCATE_NEG, &[0])?;
    ctx.expect(&UNNAMED_40C4, unnamed_40c4::VALUE, &[0])?;
    let flying = ctx.f(&FEATURE_MODE_CFG, feature_mode_cfg::FLYING_MODE) == 1;
    let cube = Cube {
        c: ctx.f(&DATA_CUBE_CHANNEL, data_cube_channel::CHANNEL) as usize + 1,
        h: ctx.f(&DATA_CUBE_HEIGHT, data_cube_height::HEIGHT) as usize + 1,
        w: ctx.f(&DATA_CUBE_WIDTH, data_cube_width::WIDTH) as usize + 1,
    };
    if ctx.f(&FEATURE_MODE_CFG, feature_mode_cfg::NONALIGN) == 1 && (cube.w, cube.h) != (1, 1) {
        return Err(unsupported(
            &FEATURE_MODE_CFG,
            ctx.r(&FEATURE_MODE_CFG),
            feature_mode_cfg::NONALIGN,
            1,
        ) + &format!(" on a {}x{} cube", cube.w, cube.h));
    }
    let proc = precision(ctx, &DATA_FORMAT, data_format::PROC_PRECISION, &[0, 1, 2])?;
    let out_prec = precision(
        ctx,
        &DATA_FORMAT,
        data_format::OUT_PRECISION,
        &[0, 1, 2, 4, 5],
    )?;
    let in_prec = precision(
        ctx,
        &DATA_FORMAT,
        data_format::IN_PRECISION,
        &[0, 1, 2, 4, 5],
    )?;
    let src = match input {
        Input::Core(acc) => {
            if flying {
                return Err(format!(
                    "{FEATURE_MODE_CFG} = {:#x}: flying mode in a convolution task",
                    ctx.r(&FEATURE_MODE_CFG)
                ));
            }
            if (acc.h, acc.w) != (cube.h, cube.w) || acc.c > cube.c {
                return Err(format!(
                    "the DPU cube {}x{}x{} does not hold the MAC output {}x{}x{}",
                    cube.w, cube.h, cube.c, acc.w, acc.h, acc.c
                ));
            }
            Source::Values(
                pad_channels(acc.sums.clone(), acc.c, cube.c, cube.h * cube.w),
                Some(acc),
            )
        }
        Input::Memory => {
            if !flying || !rdma {
                return Err(format!(
                    "{FEATURE_MODE_CFG} = {:#x}: a DPU task without a convolution must read its \
                     input in flying mode through DPU_RDMA",
                    ctx.r(&FEATURE_MODE_CFG)
                ));
            }
            mrdma(ctx, &cube, in_prec)?
        }
    };
    let stages = Stages::read(ctx, proc)?;
    match src {
        Source::Raw(atoms, unpool) => {
            if !stages.identity() {
                return Err(format!(
                    "the MRDMA reads {} data as {} but the DPU pipeline is not a plain copy",
                    if unpool.is_some() { "unpooled" } else { "raw" },
                    describe(in_prec)
                ));
            }
            write_raw(ctx, &cube, out_prec, atoms, unpool)
        }
        Source::Values(values, acc) => {
            let out = stages.apply(ctx, &cube, values, acc.as_ref(), rdma, in_prec)?;
            let out = minmax(ctx, &cube, out)?;
            write(ctx, &cube, out_prec, out)
        }
    }
}

fn describe(p: Precision) -> &'static str {
    match p {
        Precision::Int8 => "int8",
        Precision::Int16 => "int16",
        Precision::Fp16 => "fp16",
        Precision::Int32 => "int32",
        Precision::Fp32 => "fp32",
    }
}

fn precision(ctx: &Ctx<'_>, reg: &Reg, field: Field, allowed: &[u32]) -> Result<Precision, String> {
    let code = ctx.expect(reg, field, allowed)?;
    Precision::from_code(code).ok_or_else(|| unsupported(reg, ctx.r(reg), field, code))
}

/// The DPU's input.
enum Source {
    /// Values for the pipeline (and the MAC output, for its window sums).
    Values(Values, Option<Accumulated>),
    /// Atoms to move unchanged, with the unpooling factors (x, y) when the
    /// MRDMA unpools.
    Raw(Atoms, Option<(usize, usize)>),
}

/// Extends `c` channels of `plane` values each to `to` channels with zeros.
fn pad_channels(v: Values, c: usize, to: usize, plane: usize) -> Values {
    match v {
        Values::Int(mut x) => {
            x.resize(to.max(c) * plane, 0);
            Values::Int(x)
        }
        Values::Float(mut x) => {
            x.resize(to.max(c) * plane, 0.0);
            Values::Float(x)
        }
    }
}

/// The elements of `atoms` (C-major cube of `c` channels) in `prec`.
fn unpack(atoms: &Atoms, c: usize, prec: Precision) -> Values {
    let e = prec.bytes();
    let per = prec.per_atom();
    let mut bytes = vec![0u8; c * atoms.h * atoms.w * e];
    for ch in 0..c {
        for y in 0..atoms.h {
            for x in 0..atoms.w {
                let from = atoms.at(ch / per, y, x) + (ch % per) * e;
                let to = ((ch * atoms.h + y) * atoms.w + x) * e;
                bytes[to..to + e].copy_from_slice(&atoms.bytes[from..from + e]);
            }
        }
    }
    decode(&bytes, prec)
}

/// Reads the flying input through the MRDMA.
fn mrdma(ctx: &Ctx<'_>, cube: &Cube, dpu_in: Precision) -> Result<Source, String> {
    use dpu_rdma::*;
    let fm = &FEATURE_MODE_CFG;
    ctx.expect(fm, feature_mode_cfg::MRDMA_DISABLE, &[0])?;
    ctx.expect(fm, feature_mode_cfg::FLYING_MODE, &[1])?;
    ctx.expect(fm, feature_mode_cfg::COMB_USE, &[0])?;
    let prec = precision(ctx, fm, feature_mode_cfg::IN_PRECISION, &[0, 1, 2])?;
    let w = ctx.f(&DATA_CUBE_WIDTH, data_cube_width::WIDTH) as usize + 1;
    let h = ctx.f(&DATA_CUBE_HEIGHT, data_cube_height::HEIGHT) as usize + 1;
    let c = ctx.f(&DATA_CUBE_CHANNEL, data_cube_channel::CHANNEL) as usize + 1;
    let dma = &SRC_DMA_CFG;
    ctx.expect(dma, src_dma_cfg::POOLING_METHOD, &[0])?;
    let unpool = ctx.f(dma, src_dma_cfg::UNPOOLING_EN) == 1;
    let line_notch = ctx.f(dma, src_dma_cfg::LINE_NOTCH_ADDR) as usize;
    let surf_notch = signed(ctx.f(&SURF_NOTCH, surf_notch::SURF_NOTCH_ADDR), 28) * 16;
    let line = (w + line_notch) * ATOM;
    let geo = Geometry {
        base: u64::from(ctx.r(&SRC_BASE_ADDR)),
        line: line as i64,
        surf: (((h - 1) * (w + line_notch) + w) * ATOM) as i64 + surf_notch,
    };
    let surfaces = (c * prec.bytes()).div_ceil(ATOM);
    let atoms = layout::read(ctx.space, &geo, surfaces, h, w, "DPU_RDMA MRDMA read")?;
    if unpool {
        let kx = ctx.f(dma, src_dma_cfg::KERNEL_WIDTH) as usize + 1;
        let ky = ctx.f(dma, src_dma_cfg::KERNEL_HEIGHT) as usize + 1;
        let sx = ctx.f(dma, src_dma_cfg::KERNEL_STRIDE_WIDTH) as usize + 1;
        let sy = ctx.f(dma, src_dma_cfg::KERNEL_STRIDE_HEIGHT) as usize + 1;
        if (kx, ky) != (sx, sy) || (cube.w, cube.h) != (w * kx, h) {
            return Err(format!(
                "{SRC_DMA_CFG} = {:#x}: unpooling {kx}x{ky} (stride {sx}x{sy}) of a {w}x{h} cube \
                 into a {}x{} DPU cube is not simulated",
                ctx.r(&SRC_DMA_CFG),
                cube.w,
                cube.h
            ));
        }
        return Ok(Source::Raw(atoms, Some((kx, ky))));
    }
    for f in [
        src_dma_cfg::KERNEL_WIDTH,
        src_dma_cfg::KERNEL_HEIGHT,
        src_dma_cfg::KERNEL_STRIDE_WIDTH,
        src_dma_cfg::KERNEL_STRIDE_HEIGHT,
    ] {
        ctx.expect(dma, f, &[0])?;
    }
    if (w, h) != (cube.w, cube.h) {
        return Err(format!(
            "the MRDMA cube {w}x{h} differs from the DPU cube {}x{}",
            cube.w, cube.h
        ));
    }
    if prec != dpu_in || c != cube.c {
        // A reinterpretation of the bytes (e.g. int8 data moved as int16):
        // only a plain copy can do that.
        return Ok(Source::Raw(atoms, None));
    }
    Ok(Source::Values(unpack(&atoms, c, prec), None))
}

/// The BRDMA/NRDMA operand streams: per 8-channel group, for each set bit
/// of `*_DATA_USE` in order, 8 values (bit 0: 32-bit ALU operands, bit 1:
/// 16-bit weight-offset operands, bit 2: 16-bit multipliers).
struct Streams {
    alu: Option<Vec<u32>>,
    ow: Option<Vec<i64>>,
    mul: Option<Vec<u16>>,
}

fn streams(
    ctx: &Ctx<'_>,
    base_reg: &Reg,
    cfg: &Reg,
    field: Field,
    c: usize,
) -> Result<Streams, String> {
    let used = ctx.f(cfg, field);
    if used & !0b111 != 0 {
        return Err(unsupported(cfg, ctx.r(cfg), field, used));
    }
    let mut s = Streams {
        alu: None,
        ow: None,
        mul: None,
    };
    if used == 0 {
        return Ok(s);
    }
    let group = [32usize, 16, 16]
        .iter()
        .enumerate()
        .filter(|(b, _)| used >> b & 1 == 1)
        .map(|(_, n)| n)
        .sum::<usize>();
    let groups = c.div_ceil(8);
    let raw = ctx.space.read_vec(
        u64::from(ctx.r(base_reg)),
        groups * group,
        &format!("DPU_RDMA operand read ({base_reg})"),
    )?;
    let (mut alu, mut ow, mut mul) = (Vec::new(), Vec::new(), Vec::new());
    for g in 0..groups {
        let mut at = g * group;
        for bit in 0..3 {
            if used >> bit & 1 == 0 {
                continue;
            }
            for i in 0..8 {
                match bit {
                    0 => alu.push(u32::from_le_bytes(
                        raw[at + 4 * i..at + 4 * i + 4].try_into().expect("4"),
                    )),
                    1 => ow.push(i64::from(i16::from_le_bytes([
                        raw[at + 2 * i],
                        raw[at + 2 * i + 1],
                    ]))),
                    _ => mul.push(u16::from_le_bytes([raw[at + 2 * i], raw[at + 2 * i + 1]])),
                }
            }
            at += if bit == 0 { 32 } else { 16 };
        }
    }
    s.alu = (used & 1 != 0).then_some(alu);
    s.ow = (used & 2 != 0).then_some(ow);
    s.mul = (used & 4 != 0).then_some(mul);
    Ok(s)
}

/// One of the BS and BN stages.
struct Affine {
    alu: Option<Operand>,
    ow: Option<Operand>,
    mul: Option<(Operand, u32, u32, bool)>,
    relu: bool,
}

/// A per-channel or per-layer operand (raw bits).
enum Operand {
    Layer(u32),
    Channel(Vec<u32>),
}

impl Operand {
    fn get(&self, c: usize) -> u32 {
        match self {
            Operand::Layer(v) => *v,
            Operand::Channel(v) => v.get(c).copied().unwrap_or(0),
        }
    }
}

/// The decoded DPU stages.
struct Stages {
    float: bool,
    bs: Option<Affine>,
    bn: Option<Affine>,
    ew: Option<Ew>,
    cvt: OutCvt,
}

/// The element-wise stage.
struct Ew {
    op: Option<EwOp>,
    relu: bool,
    lut: bool,
}

/// The element-wise operation with the ERDMA operand.
#[derive(Clone, Copy)]
struct EwOp {
    /// `EW_ALU_ALGO`: 2 add, 3 divide, 4 subtract.
    algo: u32,
    /// Operand conversion `(x + offset) · scale >> shift`, when enabled.
    cvt: Option<EwCvt>,
}

/// The operand conversion of the element-wise stage.
#[derive(Clone, Copy)]
struct EwCvt {
    offset: u32,
    scale: u32,
    shift: u32,
}

/// The output conversion.
struct OutCvt {
    offset: u32,
    scale: u32,
    shift: u32,
    minus_exp: u32,
    to_fp16: bool,
    round: bool,
}

/// Field values of an affine stage's config register, in a common order.
struct AffineFields {
    bypass: Field,
    alu_bypass: Field,
    alu_algo: Field,
    alu_src: Field,
    mul_bypass: Field,
    mul_prelu: Field,
    relu_bypass: Field,
    relux: Field,
}

impl Stages {
    fn read(ctx: &Ctx<'_>, proc: Precision) -> Result<Stages, String> {
        use dpu::*;
        let float = proc.is_float();
        let bs = affine(
            ctx,
            &BS_CFG,
            AffineFields {
                bypass: bs_cfg::BS_BYPASS,
                alu_bypass: bs_cfg::BS_ALU_BYPASS,
                alu_algo: bs_cfg::BS_ALU_ALGO,
                alu_src: bs_cfg::BS_ALU_SRC,
                mul_bypass: bs_cfg::BS_MUL_BYPASS,
                mul_prelu: bs_cfg::BS_MUL_PRELU,
                relu_bypass: bs_cfg::BS_RELU_BYPASS,
                relux: bs_cfg::BS_RELUX_EN,
            },
            &BS_ALU_CFG,
            &BS_MUL_CFG,
            (
                bs_mul_cfg::BS_MUL_OPERAND,
                bs_mul_cfg::BS_MUL_SHIFT_VALUE,
                bs_mul_cfg::BS_MUL_SRC,
                bs_mul_cfg::BS_TRUNCATE_SRC,
            ),
            data_format::BS_MUL_SHIFT_VALUE_NEG,
        )?;
        let bs = match bs {
            Some(mut a) => {
                let cfg = &BS_OW_CFG;
                if ctx.f(cfg, bs_ow_cfg::OD_BYPASS) == 0 {
                    a.ow = Some(if ctx.f(cfg, bs_ow_cfg::OW_SRC) == 1 {
                        Operand::Channel(Vec::new())
                    } else {
                        Operand::Layer(ctx.f(&BS_OW_OP, bs_ow_op::OW_OP))
                    });
                }
                ctx.expect(cfg, bs_ow_cfg::TP_ORG_EN, &[0])?;
                ctx.expect(cfg, bs_ow_cfg::RGP_CNTER, &[0])?;
                Some(a)
            }
            None => None,
        };
        let bn = affine(
            ctx,
            &BN_CFG,
            AffineFields {
                bypass: bn_cfg::BN_BYPASS,
                alu_bypass: bn_cfg::BN_ALU_BYPASS,
                alu_algo: bn_cfg::BN_ALU_ALGO,
                alu_src: bn_cfg::BN_ALU_SRC,
                mul_bypass: bn_cfg::BN_MUL_BYPASS,
                mul_prelu: bn_cfg::BN_MUL_PRELU,
                relu_bypass: bn_cfg::BN_RELU_BYPASS,
                relux: bn_cfg::BN_RELUX_EN,
            },
            &BN_ALU_CFG,
            &BN_MUL_CFG,
            (
                bn_mul_cfg::BN_MUL_OPERAND,
                bn_mul_cfg::BN_MUL_SHIFT_VALUE,
                bn_mul_cfg::BN_MUL_SRC,
                bn_mul_cfg::BN_TRUNCATE_SRC,
            ),
            data_format::BN_MUL_SHIFT_VALUE_NEG,
        )?;
        let ew = ew(ctx)?;
        let cvt = OutCvt {
            offset: ctx.r(&OUT_CVT_OFFSET),
            scale: ctx.f(&OUT_CVT_SCALE, out_cvt_scale::OUT_CVT_SCALE),
            shift: ctx.f(&OUT_CVT_SHIFT, out_cvt_shift::OUT_CVT_SHIFT),
            minus_exp: ctx.f(&OUT_CVT_SHIFT, out_cvt_shift::MINUS_EXP),
            to_fp16: ctx.f(&OUT_CVT_SCALE, out_cvt_scale::FP32TOFP16_EN) == 1,
            round: ctx.f(&OUT_CVT_SHIFT, out_cvt_shift::CVT_ROUND) == 1,
        };
        ctx.expect(&OUT_CVT_SHIFT, out_cvt_shift::CVT_TYPE, &[0])?;
        Ok(Stages {
            float,
            bs,
            bn,
            ew,
            cvt,
        })
    }

    /// Whether the pipeline leaves `out` precision data unchanged.
    fn identity(&self) -> bool {
        self.bs.is_none()
            && self.bn.is_none()
            && self.ew.is_none()
            && self.cvt.offset == 0
            && self.cvt.scale == 1
            && self.cvt.shift == 0
            && self.cvt.minus_exp == 0
            && !self.cvt.to_fp16
    }

    fn apply(
        &self,
        ctx: &Ctx<'_>,
        cube: &Cube,
        values: Values,
        acc: Option<&Accumulated>,
        rdma: bool,
        in_prec: Precision,
    ) -> Result<Out, String> {
        let plane = cube.h * cube.w;
        let need_streams = |a: &Option<Affine>| {
            a.as_ref().is_some_and(|a| {
                matches!(a.alu, Some(Operand::Channel(_)))
                    || matches!(a.ow, Some(Operand::Channel(_)))
                    || matches!(a.mul, Some((Operand::Channel(_), ..)))
            })
        };
        if (need_streams(&self.bs)
            || need_streams(&self.bn)
            || self.ew.as_ref().is_some_and(|e| e.op.is_some()))
            && !rdma
        {
            return Err("the DPU reads operands from memory but DPU_RDMA is not enabled".into());
        }
        let bs = match &self.bs {
            Some(a) if need_streams(&self.bs) => Some(with_streams(
                a,
                streams(
                    ctx,
                    &dpu_rdma::BS_BASE_ADDR,
                    &dpu_rdma::BRDMA_CFG,
                    dpu_rdma::brdma_cfg::BRDMA_DATA_USE,
                    cube.c,
                )?,
            )?),
            _ => None,
        };
        let bn = match &self.bn {
            Some(a) if need_streams(&self.bn) => Some(with_streams(
                a,
                streams(
                    ctx,
                    &dpu_rdma::BN_BASE_ADDR,
                    &dpu_rdma::NRDMA_CFG,
                    dpu_rdma::nrdma_cfg::NRDMA_DATA_USE,
                    cube.c,
                )?,
            )?),
            _ => None,
        };
        let bs = bs.as_ref().or(self.bs.as_ref());
        let bn = bn.as_ref().or(self.bn.as_ref());
        let operand = match &self.ew {
            Some(Ew { op: Some(_), .. }) => Some(erdma(ctx, cube)?),
            _ => None,
        };
        match values {
            Values::Int(mut v) => {
                if self.float {
                    return Err(format!(
                        "{} input in a float DPU pipeline is not simulated",
                        describe(in_prec)
                    ));
                }
                if let Some(a) = bs {
                    int_affine(a, &mut v, cube, acc)?;
                }
                if let Some(a) = bn {
                    int_affine(a, &mut v, cube, acc)?;
                }
                if let Some(e) = &self.ew {
                    int_ew(ctx, e, &mut v, operand.as_ref())?;
                }
                Ok(self.int_out(v))
            }
            Values::Float(mut v) => {
                if !self.float {
                    return Err(format!(
                        "{} input in an integer DPU pipeline is not simulated",
                        describe(in_prec)
                    ));
                }
                if let Some(a) = bs {
                    float_affine(a, &mut v, plane)?;
                }
                if let Some(a) = bn {
                    float_affine(a, &mut v, plane)?;
                }
                if let Some(e) = &self.ew {
                    float_ew(ctx, e, &mut v, operand.as_ref())?;
                }
                Ok(self.float_out(v))
            }
        }
    }

    /// The output conversion of the float pipeline: `(x · scale ·
    /// 2^-shift + offset) · 2^-minus_exp`, the offset an fp32 bit pattern.
    fn float_out(&self, v: Vec<f32>) -> Out {
        let c = &self.cvt;
        let k = c.scale as f32 * (-(c.shift as f32)).exp2();
        let offset = f32::from_bits(c.offset);
        let unit = (-(c.minus_exp as f32)).exp2();
        Out::Float(
            v.into_iter().map(|x| (x * k + offset) * unit).collect(),
            c.round,
        )
    }

    /// The output conversion of the integer pipeline.
    fn int_out(&self, v: Vec<i64>) -> Out {
        let c = &self.cvt;
        let offset = i64::from(c.offset as i32);
        let scaled: Vec<i64> = v
            .into_iter()
            .map(|x| shift_round(x * i64::from(c.scale), c.shift) + offset)
            .collect();
        if c.to_fp16 {
            let unit = (-(c.minus_exp as f64)).exp2();
            Out::Float(
                scaled
                    .into_iter()
                    .map(|x| (x as f64 * unit) as f32)
                    .collect(),
                c.round,
            )
        } else {
            Out::Int(scaled)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn affine(
    ctx: &Ctx<'_>,
    cfg: &Reg,
    f: AffineFields,
    alu_reg: &Reg,
    mul_reg: &Reg,
    mul_fields: (Field, Field, Field, Field),
    neg_field: Field,
) -> Result<Option<Affine>, String> {
    if ctx.f(cfg, f.bypass) == 1 {
        return Ok(None);
    }
    ctx.expect(cfg, f.relux, &[0])?;
    let alu = if ctx.f(cfg, f.alu_bypass) == 0 {
        ctx.expect(cfg, f.alu_algo, &[2])?;
        Some(if ctx.f(cfg, f.alu_src) == 1 {
            Operand::Channel(Vec::new())
        } else {
            Operand::Layer(ctx.r(alu_reg))
        })
    } else {
        None
    };
    let (operand, shift, src, truncate) = mul_fields;
    let mul = if ctx.f(cfg, f.mul_bypass) == 0 {
        ctx.expect(mul_reg, truncate, &[0])?;
        let op = if ctx.f(mul_reg, src) == 1 {
            Operand::Channel(Vec::new())
        } else {
            Operand::Layer(ctx.f(mul_reg, operand))
        };
        Some((
            op,
            ctx.f(mul_reg, shift),
            ctx.f(&dpu::DATA_FORMAT, neg_field),
            ctx.f(cfg, f.mul_prelu) == 1,
        ))
    } else {
        None
    };
    Ok(Some(Affine {
        alu,
        ow: None,
        mul,
        relu: ctx.f(cfg, f.relu_bypass) == 0,
    }))
}

/// Fills the per-channel operands of `a` from `s`.
fn with_streams(a: &Affine, s: Streams) -> Result<Affine, String> {
    let pick = |o: &Option<Operand>,
                stream: Option<Vec<u32>>,
                what: &str|
     -> Result<Option<Operand>, String> {
        Ok(match o {
            None => None,
            Some(Operand::Layer(v)) => Some(Operand::Layer(*v)),
            Some(Operand::Channel(_)) => Some(Operand::Channel(stream.ok_or_else(|| {
                format!("per-channel {what} operands are enabled but the RDMA does not read them")
            })?)),
        })
    };
    let mul = match &a.mul {
        None => None,
        Some((op, sh, shn, prelu)) => {
            let op = pick(
                &Some(match op {
                    Operand::Layer(v) => Operand::Layer(*v),
                    Operand::Channel(_) => Operand::Channel(Vec::new()),
                }),
                s.mul.map(|m| m.into_iter().map(u32::from).collect()),
                "multiplier",
            )?
            .expect("some");
            Some((op, *sh, *shn, *prelu))
        }
    };
    Ok(Affine {
        alu: pick(&a.alu, s.alu, "ALU")?,
        ow: pick(
            &a.ow,
            s.ow.map(|o| o.into_iter().map(|x| x as u32).collect()),
            "weight offset",
        )?,
        mul,
        relu: a.relu,
    })
}

/// BS or BN on the integer pipeline.
fn int_affine(
    a: &Affine,
    v: &mut [i64],
    cube: &Cube,
    acc: Option<&Accumulated>,
) -> Result<(), String> {
    let plane = cube.h * cube.w;
    if let Some(ow) = &a.ow {
        let acc = acc.filter(|a| !a.window.is_empty()).ok_or_else(|| {
            "the weight zero-point correction (BS_OW_CFG.OD_BYPASS = 0) needs a convolution's \
             window sums"
                .to_string()
        })?;
        let per_channel = acc.window.len() > plane;
        for c in 0..cube.c {
            let k = i64::from(ow.get(c) as i32);
            for p in 0..plane {
                let win = if per_channel {
                    acc.window.get(c * plane + p).copied().unwrap_or(0)
                } else {
                    acc.window[p]
                };
                v[c * plane + p] += k * win;
            }
        }
    }
    if let Some(alu) = &a.alu {
        for c in 0..cube.c {
            let k = i64::from(alu.get(c) as i32);
            for x in &mut v[c * plane..(c + 1) * plane] {
                *x += k;
            }
        }
    }
    if let Some((mul, shift, shift_neg, prelu)) = &a.mul {
        for c in 0..cube.c {
            let k = i64::from(mul.get(c) as u16 as i16);
            for x in &mut v[c * plane..(c + 1) * plane] {
                if *prelu && *x >= 0 {
                    continue;
                }
                let p = *x * k;
                *x = if p >= 0 {
                    shift_round(p, *shift)
                } else {
                    shift_round(p, *shift_neg)
                };
            }
        }
    }
    if a.relu {
        for x in v.iter_mut() {
            *x = (*x).max(0);
        }
    }
    Ok(())
}

/// BS or BN on the float pipeline: operands are fp32 (ALU) and fp16
/// (multiplier) bit patterns.
fn float_affine(a: &Affine, v: &mut [f32], plane: usize) -> Result<(), String> {
    if a.ow.is_some() {
        return Err(
            "the weight zero-point correction on the float pipeline is not simulated".into(),
        );
    }
    let channels = v.len() / plane.max(1);
    if let Some(alu) = &a.alu {
        for c in 0..channels {
            let k = f32::from_bits(alu.get(c));
            for x in &mut v[c * plane..(c + 1) * plane] {
                *x += k;
            }
        }
    }
    if let Some((mul, shift, _, prelu)) = &a.mul {
        if *shift != 0 {
            return Err(format!(
                "a multiplier shift of {shift} on the float pipeline is not simulated"
            ));
        }
        for c in 0..channels {
            let k = half::f16::from_bits(mul.get(c) as u16).to_f32();
            for x in &mut v[c * plane..(c + 1) * plane] {
                if !*prelu || *x < 0.0 {
                    *x *= k;
                }
            }
        }
    }
    if a.relu {
        for x in v.iter_mut() {
            *x = x.max(0.0);
        }
    }
    Ok(())
}

/// Decodes the element-wise stage.
fn ew(ctx: &Ctx<'_>) -> Result<Option<Ew>, String> {
    use dpu::*;
    let cfg = &EW_CFG;
    if ctx.f(cfg, ew_cfg::EW_BYPASS) == 1 {
        return Ok(None);
    }
    ctx.expect(cfg, ew_cfg::EW_RELUX_EN, &[0])?;
    ctx.expect(cfg, ew_cfg::EW_MUL_PRELU, &[0])?;
    ctx.expect(cfg, ew_cfg::EW_BINARY_EN, &[0])?;
    ctx.expect(cfg, ew_cfg::EW_EQUAL_EN, &[0])?;
    let op = if ctx.f(cfg, ew_cfg::EW_OP_BYPASS) == 0 {
        ctx.expect(cfg, ew_cfg::EW_OP_SRC, &[1])?;
        ctx.expect(cfg, ew_cfg::EW_OP_TYPE, &[0])?;
        let algo = ctx.expect(cfg, ew_cfg::EW_ALU_ALGO, &[2, 3, 4])?;
        let cvt = if ctx.f(cfg, ew_cfg::EW_OP_CVT_BYPASS) == 0 {
            ctx.expect(&EW_CVT_SCALE_VALUE, ew_cvt_scale_value::EW_TRUNCATE, &[0])?;
            Some(EwCvt {
                offset: ctx.r(&EW_CVT_OFFSET_VALUE),
                scale: ctx.f(&EW_CVT_SCALE_VALUE, ew_cvt_scale_value::EW_OP_CVT_SCALE),
                shift: ctx.f(&EW_CVT_SCALE_VALUE, ew_cvt_scale_value::EW_OP_CVT_SHIFT),
            })
        } else {
            None
        };
        Some(EwOp { algo, cvt })
    } else {
        None
    };
    let lut = ctx.f(cfg, ew_cfg::EW_LUT_BYPASS) == 0;
    Ok(Some(Ew {
        op,
        relu: ctx.f(cfg, ew_cfg::EW_RELU_BYPASS) == 0,
        lut,
    }))
}

/// Reads the element-wise operand cube through the ERDMA.
fn erdma(ctx: &Ctx<'_>, cube: &Cube) -> Result<Values, String> {
    use dpu_rdma::*;
    ctx.expect(&ERDMA_CFG, erdma_cfg::ERDMA_DISABLE, &[0])?;
    ctx.expect(&ERDMA_CFG, erdma_cfg::ERDMA_NONALIGN, &[0])?;
    ctx.expect(&ERDMA_CFG, erdma_cfg::ERDMA_SURF_MODE, &[0])?;
    let prec = match ctx.expect(&ERDMA_CFG, erdma_cfg::ERDMA_DATA_SIZE, &[1, 2])? {
        1 => Precision::Int8,
        _ => Precision::Fp16,
    };
    let notch = ctx.f(&DATA_CUBE_HEIGHT, data_cube_height::EW_LINE_NOTCH_ADDR) as usize;
    let geo = Geometry {
        base: u64::from(ctx.r(&EW_BASE_ADDR)),
        line: ((cube.w + notch) * ATOM) as i64,
        surf: i64::from(ctx.f(&EW_SURF_STRIDE, ew_surf_stride::EW_SURF_STRIDE)) * 16,
    };
    let surfaces = (cube.c * prec.bytes()).div_ceil(ATOM);
    let atoms = layout::read(
        ctx.space,
        &geo,
        surfaces,
        cube.h,
        cube.w,
        "DPU_RDMA ERDMA read",
    )?;
    Ok(unpack(&atoms, cube.c, prec))
}

/// EW on the integer pipeline.
fn int_ew(ctx: &Ctx<'_>, e: &Ew, v: &mut [i64], operand: Option<&Values>) -> Result<(), String> {
    if let Some(EwOp { algo, cvt }) = e.op {
        let Some(Values::Int(op)) = operand else {
            return Err(
                "an integer element-wise operation with a float operand is not simulated".into(),
            );
        };
        for (x, &o) in v.iter_mut().zip(op) {
            let o = match cvt {
                Some(c) => shift_round(
                    (o + i64::from(c.offset as i32)) * i64::from(c.scale),
                    c.shift,
                ),
                None => o,
            };
            *x = match algo {
                2 => *x + o,
                4 => *x - o,
                _ => {
                    return Err(format!(
                        "{}: EW_ALU_ALGO {algo} on the integer pipeline is not simulated",
                        dpu::EW_CFG
                    ))
                }
            };
        }
    }
    if e.relu {
        for x in v.iter_mut() {
            *x = (*x).max(0);
        }
    }
    if e.lut {
        lut::apply_int(ctx, v)?;
    }
    Ok(())
}

/// EW on the float pipeline.
fn float_ew(ctx: &Ctx<'_>, e: &Ew, v: &mut [f32], operand: Option<&Values>) -> Result<(), String> {
    if let Some(EwOp { algo, cvt }) = e.op {
        let Some(Values::Float(op)) = operand else {
            return Err(
                "a float element-wise operation with an integer operand is not simulated".into(),
            );
        };
        for (x, &o) in v.iter_mut().zip(op) {
            let o = match cvt {
                Some(c) => {
                    (o + f32::from_bits(c.offset)) * c.scale as f32 * (-(c.shift as f32)).exp2()
                }
                None => o,
            };
            *x = match algo {
                2 => *x + o,
                3 => *x / o,
                _ => *x - o,
            };
        }
    }
    if e.relu {
        for x in v.iter_mut() {
            *x = x.max(0.0);
        }
    }
    if e.lut {
        lut::apply_float(ctx, v)?;
    }
    Ok(())
}

/// The pipeline's result before it is written.
enum Out {
    Int(Vec<i64>),
    /// Floats, and whether the conversion must be exact (CVT_ROUND).
    Float(Vec<f32>, bool),
}

/// `DATA_CUBE_HEIGHT.MINMAX_CTL`: 0 none, 7 the maximum over the channels
/// (every channel of a pixel receives it).
fn minmax(ctx: &Ctx<'_>, cube: &Cube, out: Out) -> Result<Out, String> {
    let ctl = ctx.expect(
        &dpu::DATA_CUBE_HEIGHT,
        dpu::data_cube_height::MINMAX_CTL,
        &[0, 7],
    )?;
    if ctl == 0 {
        return Ok(out);
    }
    let plane = cube.h * cube.w;
    Ok(match out {
        Out::Int(mut v) => {
            for p in 0..plane {
                let m = (0..cube.c).map(|c| v[c * plane + p]).max().unwrap_or(0);
                for c in 0..cube.c {
                    v[c * plane + p] = m;
                }
            }
            Out::Int(v)
        }
        Out::Float(mut v, r) => {
            for p in 0..plane {
                let m = (0..cube.c)
                    .map(|c| v[c * plane + p])
                    .fold(f32::NEG_INFINITY, f32::max);
                for c in 0..cube.c {
                    v[c * plane + p] = m;
                }
            }
            Out::Float(v, r)
        }
    })
}

/// Encodes one value of `out` as `prec`.
fn encode(out: &Out, i: usize, prec: Precision, dst: &mut [u8]) -> Result<(), String> {
    match (out, prec) {
        (Out::Int(v), Precision::Int8) => dst[0] = v[i].clamp(-128, 127) as i8 as u8,
        (Out::Int(v), Precision::Int16) => {
            dst.copy_from_slice(&(v[i].clamp(-32768, 32767) as i16).to_le_bytes())
        }
        (Out::Int(v), Precision::Int32) => dst.copy_from_slice(
            &(v[i].clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32).to_le_bytes(),
        ),
        (Out::Float(v, exact), Precision::Fp16) => {
            let h = half::f16::from_f32(v[i]);
            if *exact && h.to_f32() != v[i] && v[i].is_finite() {
                return Err(format!(
                    "{}: CVT_ROUND with an inexact fp16 conversion ({}) is not simulated",
                    dpu::OUT_CVT_SHIFT,
                    v[i]
                ));
            }
            dst.copy_from_slice(&h.to_le_bytes());
        }
        (Out::Float(v, _), Precision::Fp32) => dst.copy_from_slice(&v[i].to_le_bytes()),
        (Out::Float(v, _), Precision::Int16) => {
            let r = v[i].round_ties_even().clamp(-32768.0, 32767.0) as i16;
            dst.copy_from_slice(&r.to_le_bytes());
        }
        (_, p) => {
            return Err(format!(
                "{}: writing {} from this pipeline is not simulated",
                dpu::DATA_FORMAT,
                describe(p)
            ))
        }
    }
    Ok(())
}

/// The output geometry and the channels the WDMA writes.
fn destination(ctx: &Ctx<'_>, cube: &Cube) -> Result<(Geometry, usize), String> {
    use dpu::*;
    let wdma_c = ctx.f(&WDMA_SIZE_0, wdma_size_0::CHANNEL_WDMA) as usize + 1;
    let wdma_h = ctx.f(&WDMA_SIZE_1, wdma_size_1::HEIGHT_WDMA) as usize + 1;
    let wdma_w = ctx.f(&WDMA_SIZE_1, wdma_size_1::WIDTH_WDMA) as usize + 1;
    ctx.expect(&WDMA_SIZE_0, wdma_size_0::TP_PRECISION, &[0])?;
    if (wdma_w, wdma_h) != (cube.w, cube.h) || wdma_c < cube.c {
        return Err(format!(
            "{WDMA_SIZE_0}/{WDMA_SIZE_1} = {:#x}/{:#x}: writing {wdma_w}x{wdma_h}x{wdma_c} of a \
             {}x{}x{} cube is not simulated",
            ctx.r(&WDMA_SIZE_0),
            ctx.r(&WDMA_SIZE_1),
            cube.w,
            cube.h,
            cube.c
        ));
    }
    let notch = ctx.f(&DATA_CUBE_NOTCH_ADDR, data_cube_notch_addr::NOTCH_ADDR_0) as usize;
    Ok((
        Geometry {
            base: u64::from(ctx.r(&DST_BASE_ADDR)),
            line: ((cube.w + notch) * ATOM) as i64,
            surf: i64::from(ctx.f(&DST_SURF_STRIDE, dst_surf_stride::DST_SURF_STRIDE)) * 16,
        },
        wdma_c,
    ))
}

/// Writes the pipeline's result as `prec`; channels past the cube up to
/// the WDMA's channel count receive `OFFSET_PEND`.
fn write(ctx: &Ctx<'_>, cube: &Cube, prec: Precision, out: Out) -> Result<(), String> {
    let (geo, channels) = destination(ctx, cube)?;
    let e = prec.bytes();
    let per = prec.per_atom();
    let surfaces = (channels * e).div_ceil(ATOM);
    let mut atoms = Atoms::zeroed(surfaces, cube.h, cube.w);
    let pend = ctx.f(&dpu::OFFSET_PEND, dpu::offset_pend::OFFSET_PEND) as u16;
    let plane = cube.h * cube.w;
    for ch in 0..surfaces * per {
        for y in 0..cube.h {
            for x in 0..cube.w {
                let at = atoms.at(ch / per, y, x) + (ch % per) * e;
                let dst = &mut atoms.bytes[at..at + e];
                if ch < cube.c {
                    encode(&out, ch * plane + y * cube.w + x, prec, dst)?;
                } else if ch < channels {
                    let b = pend.to_le_bytes();
                    for (i, d) in dst.iter_mut().enumerate() {
                        *d = b[i % 2];
                    }
                }
            }
        }
    }
    layout::write(ctx.space, &geo, &atoms, "DPU write")
}

/// Writes atoms moved unchanged (with unpooling, each input pixel becomes
/// a `kx × ky` block: `kx` neighbours on the line, `ky` copies one
/// `DST_SURF_STRIDE` apart).
fn write_raw(
    ctx: &Ctx<'_>,
    cube: &Cube,
    prec: Precision,
    atoms: Atoms,
    unpool: Option<(usize, usize)>,
) -> Result<(), String> {
    let (geo, channels) = destination(ctx, cube)?;
    if channels != cube.c || (cube.c * prec.bytes()).div_ceil(ATOM) != atoms.surfaces {
        return Err(format!(
            "a plain copy of {} surfaces into {} {} channels is not simulated",
            atoms.surfaces,
            cube.c,
            describe(prec)
        ));
    }
    match unpool {
        None => layout::write(ctx.space, &geo, &atoms, "DPU write"),
        Some((kx, ky)) => {
            if atoms.surfaces != 1 {
                return Err("unpooling of more than one surface is not simulated".into());
            }
            let mut wide = Atoms::zeroed(1, atoms.h, atoms.w * kx);
            for y in 0..atoms.h {
                for x in 0..atoms.w {
                    let from = atoms.at(0, y, x);
                    for k in 0..kx {
                        let to = wide.at(0, y, x * kx + k);
                        wide.bytes[to..to + ATOM].copy_from_slice(&atoms.bytes[from..from + ATOM]);
                    }
                }
            }
            for k in 0..ky {
                let g = Geometry {
                    base: (geo.base as i64 + geo.surf * k as i64) as u64,
                    line: geo.line,
                    surf: geo.surf,
                };
                layout::write(ctx.space, &g, &wide, "DPU write (unpooled)")?;
            }
            Ok(())
        }
    }
}
