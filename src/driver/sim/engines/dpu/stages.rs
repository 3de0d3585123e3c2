//! The DPU's arithmetic: bias/scale (BS), batch-norm (BN), element-wise
//! (EW) and the output conversion, on the integer and the float pipeline.

use super::super::lut;
use super::super::mac::Accumulated;
use super::super::{pow2, shift_round, Ctx, Precision, Values};
use super::output::Out;
use super::rdma::{erdma, streams, Streams};
use super::{describe, Cube};
use crate::npu::regs::{dpu, dpu_rdma, Field, Reg};

/// One of the BS and BN stages.
pub(super) struct Affine {
    alu: Option<Operand>,
    ow: Option<Operand>,
    mul: Option<Multiplier>,
    relu: bool,
}

/// The multiplier of an affine stage: `x · op`, rounded right shift by
/// `shift` (positive products) or `shift_neg` (negative ones); with
/// `prelu` only negative values are multiplied.
pub(super) struct Multiplier {
    op: Operand,
    shift: u32,
    shift_neg: u32,
    prelu: bool,
}

/// A per-channel or per-layer operand (raw bits). A per-channel operand
/// decoded from the registers is empty until its RDMA stream is read.
#[derive(Clone)]
pub(super) enum Operand {
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

    /// This operand with its per-channel values taken from `stream`.
    fn resolve(&self, stream: &mut Option<Vec<u32>>, what: &str) -> Result<Operand, String> {
        match self {
            Operand::Layer(v) => Ok(Operand::Layer(*v)),
            Operand::Channel(_) => stream.take().map(Operand::Channel).ok_or_else(|| {
                format!("per-channel {what} operands are enabled but the RDMA does not read them")
            }),
        }
    }
}

/// The decoded DPU stages.
pub(super) struct Stages {
    float: bool,
    bs: Option<Affine>,
    bn: Option<Affine>,
    ew: Option<Ew>,
    cvt: OutCvt,
}

/// The element-wise stage.
pub(super) struct Ew {
    op: Option<EwOp>,
    relu: bool,
    lut: bool,
}

/// What the element-wise stage computes from the value `x` and the
/// ERDMA operand `o`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EwKind {
    /// `EW_ALU_ALGO` 0: `max(x, o)`.
    Max,
    /// `EW_ALU_ALGO` 2: `x + o`.
    Add,
    /// `EW_ALU_ALGO` 3: `x / o` (float pipeline).
    Div,
    /// `EW_ALU_ALGO` 4: `x − o`.
    Sub,
    /// `EW_OP_TYPE` 1 (with `EW_ALU_ALGO` 0): `x · o`.
    Mul,
}

/// The element-wise operation with the ERDMA operand.
#[derive(Clone, Copy)]
pub(super) struct EwOp {
    /// The operation.
    kind: EwKind,
    /// Operand conversion `(x + offset) · scale >> shift`, when enabled.
    cvt: Option<EwCvt>,
}

/// The operand conversion of the element-wise stage (the scale is a
/// signed 16-bit value: the vendor subtracts by adding with a negative
/// scale).
#[derive(Clone, Copy)]
pub(super) struct EwCvt {
    offset: u32,
    scale: i16,
    shift: u32,
}

/// The output conversion.
pub(super) struct OutCvt {
    offset: u32,
    scale: u32,
    shift: u32,
    minus_exp: u32,
    to_fp16: bool,
    round: bool,
}

/// The registers and fields that program one affine stage.
pub(super) struct AffineRegs {
    cfg: Reg,
    alu: Reg,
    mul: Reg,
    bypass: Field,
    alu_bypass: Field,
    alu_algo: Field,
    alu_src: Field,
    mul_bypass: Field,
    mul_prelu: Field,
    relu_bypass: Field,
    relux: Field,
    mul_operand: Field,
    mul_shift: Field,
    mul_src: Field,
    mul_truncate: Field,
    /// The shift for negative products, in `DATA_FORMAT`.
    mul_shift_neg: Field,
}

/// The BS stage's registers.
const BS: AffineRegs = {
    use dpu::*;
    AffineRegs {
        cfg: BS_CFG,
        alu: BS_ALU_CFG,
        mul: BS_MUL_CFG,
        bypass: bs_cfg::BS_BYPASS,
        alu_bypass: bs_cfg::BS_ALU_BYPASS,
        alu_algo: bs_cfg::BS_ALU_ALGO,
        alu_src: bs_cfg::BS_ALU_SRC,
        mul_bypass: bs_cfg::BS_MUL_BYPASS,
        mul_prelu: bs_cfg::BS_MUL_PRELU,
        relu_bypass: bs_cfg::BS_RELU_BYPASS,
        relux: bs_cfg::BS_RELUX_EN,
        mul_operand: bs_mul_cfg::BS_MUL_OPERAND,
        mul_shift: bs_mul_cfg::BS_MUL_SHIFT_VALUE,
        mul_src: bs_mul_cfg::BS_MUL_SRC,
        mul_truncate: bs_mul_cfg::BS_TRUNCATE_SRC,
        mul_shift_neg: data_format::BS_MUL_SHIFT_VALUE_NEG,
    }
};

/// The BN stage's registers.
const BN: AffineRegs = {
    use dpu::*;
    AffineRegs {
        cfg: BN_CFG,
        alu: BN_ALU_CFG,
        mul: BN_MUL_CFG,
        bypass: bn_cfg::BN_BYPASS,
        alu_bypass: bn_cfg::BN_ALU_BYPASS,
        alu_algo: bn_cfg::BN_ALU_ALGO,
        alu_src: bn_cfg::BN_ALU_SRC,
        mul_bypass: bn_cfg::BN_MUL_BYPASS,
        mul_prelu: bn_cfg::BN_MUL_PRELU,
        relu_bypass: bn_cfg::BN_RELU_BYPASS,
        relux: bn_cfg::BN_RELUX_EN,
        mul_operand: bn_mul_cfg::BN_MUL_OPERAND,
        mul_shift: bn_mul_cfg::BN_MUL_SHIFT_VALUE,
        mul_src: bn_mul_cfg::BN_MUL_SRC,
        mul_truncate: bn_mul_cfg::BN_TRUNCATE_SRC,
        mul_shift_neg: data_format::BN_MUL_SHIFT_VALUE_NEG,
    }
};

impl Stages {
    pub(super) fn read(ctx: &Ctx<'_>, proc: Precision) -> Result<Stages, String> {
        use dpu::*;
        let float = proc.is_float();
        let bs = affine(ctx, &BS)?;
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
        let bn = affine(ctx, &BN)?;
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
    pub(super) fn identity(&self) -> bool {
        self.bs.is_none()
            && self.bn.is_none()
            && self.ew.is_none()
            && self.cvt.offset == 0
            && self.cvt.scale == 1
            && self.cvt.shift == 0
            && self.cvt.minus_exp == 0
            && !self.cvt.to_fp16
    }

    pub(super) fn apply(
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
                    || matches!(
                        a.mul,
                        Some(Multiplier {
                            op: Operand::Channel(_),
                            ..
                        })
                    )
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
        let k = c.scale as f32 * pow2(-(c.shift as i32));
        let offset = f32::from_bits(c.offset);
        let unit = pow2(-(c.minus_exp as i32));
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
            let unit = f64::from(pow2(-(c.minus_exp as i32)));
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

/// Decodes an affine stage (`None` when bypassed); per-channel operands
/// stay empty until [`with_streams`].
pub(super) fn affine(ctx: &Ctx<'_>, r: &AffineRegs) -> Result<Option<Affine>, String> {
    if ctx.f(&r.cfg, r.bypass) == 1 {
        return Ok(None);
    }
    ctx.expect(&r.cfg, r.relux, &[0])?;
    let alu = if ctx.f(&r.cfg, r.alu_bypass) == 0 {
        ctx.expect(&r.cfg, r.alu_algo, &[2])?;
        Some(if ctx.f(&r.cfg, r.alu_src) == 1 {
            Operand::Channel(Vec::new())
        } else {
            Operand::Layer(ctx.r(&r.alu))
        })
    } else {
        None
    };
    let mul = if ctx.f(&r.cfg, r.mul_bypass) == 0 {
        ctx.expect(&r.mul, r.mul_truncate, &[0])?;
        Some(Multiplier {
            op: if ctx.f(&r.mul, r.mul_src) == 1 {
                Operand::Channel(Vec::new())
            } else {
                Operand::Layer(ctx.f(&r.mul, r.mul_operand))
            },
            shift: ctx.f(&r.mul, r.mul_shift),
            shift_neg: ctx.f(&dpu::DATA_FORMAT, r.mul_shift_neg),
            prelu: ctx.f(&r.cfg, r.mul_prelu) == 1,
        })
    } else {
        None
    };
    Ok(Some(Affine {
        alu,
        ow: None,
        mul,
        relu: ctx.f(&r.cfg, r.relu_bypass) == 0,
    }))
}

/// `a` with its per-channel operands read from `s`.
pub(super) fn with_streams(a: &Affine, s: Streams) -> Result<Affine, String> {
    let mut alu = s.alu;
    let mut ow = s.ow.map(|o| o.into_iter().map(|x| x as u32).collect());
    let mut mul = s.mul.map(|m| m.into_iter().map(u32::from).collect());
    Ok(Affine {
        alu: a
            .alu
            .as_ref()
            .map(|o| o.resolve(&mut alu, "ALU"))
            .transpose()?,
        ow: a
            .ow
            .as_ref()
            .map(|o| o.resolve(&mut ow, "weight offset"))
            .transpose()?,
        mul: a
            .mul
            .as_ref()
            .map(|m| {
                Ok::<_, String>(Multiplier {
                    op: m.op.resolve(&mut mul, "multiplier")?,
                    ..*m
                })
            })
            .transpose()?,
        relu: a.relu,
    })
}

/// BS or BN on the integer pipeline.
pub(super) fn int_affine(
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
    if let Some(m) = &a.mul {
        for c in 0..cube.c {
            let k = i64::from(m.op.get(c) as u16 as i16);
            for x in &mut v[c * plane..(c + 1) * plane] {
                if m.prelu && *x >= 0 {
                    continue;
                }
                let p = *x * k;
                *x = if p >= 0 {
                    shift_round(p, m.shift)
                } else {
                    shift_round(p, m.shift_neg)
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
pub(super) fn float_affine(a: &Affine, v: &mut [f32], plane: usize) -> Result<(), String> {
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
    if let Some(m) = &a.mul {
        if m.shift != 0 {
            return Err(format!(
                "a multiplier shift of {} on the float pipeline is not simulated",
                m.shift
            ));
        }
        for c in 0..channels {
            let k = half::f16::from_bits(m.op.get(c) as u16).to_f32();
            for x in &mut v[c * plane..(c + 1) * plane] {
                if !m.prelu || *x < 0.0 {
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
pub(super) fn ew(ctx: &Ctx<'_>) -> Result<Option<Ew>, String> {
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
        let kind = if ctx.expect(cfg, ew_cfg::EW_OP_TYPE, &[0, 1])? == 1 {
            ctx.expect(cfg, ew_cfg::EW_ALU_ALGO, &[0])?;
            EwKind::Mul
        } else {
            match ctx.expect(cfg, ew_cfg::EW_ALU_ALGO, &[0, 2, 3, 4])? {
                0 => EwKind::Max,
                2 => EwKind::Add,
                3 => EwKind::Div,
                _ => EwKind::Sub,
            }
        };
        let cvt = if ctx.f(cfg, ew_cfg::EW_OP_CVT_BYPASS) == 0 {
            ctx.expect(&EW_CVT_SCALE_VALUE, ew_cvt_scale_value::EW_TRUNCATE, &[0])?;
            Some(EwCvt {
                offset: ctx.r(&EW_CVT_OFFSET_VALUE),
                scale: ctx.f(&EW_CVT_SCALE_VALUE, ew_cvt_scale_value::EW_OP_CVT_SCALE) as u16
                    as i16,
                shift: ctx.f(&EW_CVT_SCALE_VALUE, ew_cvt_scale_value::EW_OP_CVT_SHIFT),
            })
        } else {
            None
        };
        Some(EwOp { kind, cvt })
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

/// EW on the integer pipeline.
pub(super) fn int_ew(
    ctx: &Ctx<'_>,
    e: &Ew,
    v: &mut [i64],
    operand: Option<&Values>,
) -> Result<(), String> {
    if let Some(EwOp { kind, cvt }) = e.op {
        if kind == EwKind::Div {
            return Err(format!(
                "{}: an integer element-wise division is not simulated",
                dpu::EW_CFG
            ));
        }
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
            *x = match kind {
                EwKind::Max => (*x).max(o),
                EwKind::Add => *x + o,
                EwKind::Sub => *x - o,
                EwKind::Mul => *x * o,
                EwKind::Div => *x,
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
pub(super) fn float_ew(
    ctx: &Ctx<'_>,
    e: &Ew,
    v: &mut [f32],
    operand: Option<&Values>,
) -> Result<(), String> {
    if let Some(EwOp { kind, cvt }) = e.op {
        let Some(Values::Float(op)) = operand else {
            return Err(
                "a float element-wise operation with an integer operand is not simulated".into(),
            );
        };
        for (x, &o) in v.iter_mut().zip(op) {
            let o = match cvt {
                Some(c) => {
                    (o + f32::from_bits(c.offset)) * f32::from(c.scale) * pow2(-(c.shift as i32))
                }
                None => o,
            };
            *x = match kind {
                EwKind::Max => x.max(o),
                EwKind::Add => *x + o,
                EwKind::Div => *x / o,
                EwKind::Sub => *x - o,
                EwKind::Mul => *x * o,
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
