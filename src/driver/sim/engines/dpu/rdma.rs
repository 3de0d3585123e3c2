//! DPU_RDMA: the DPU's reads from memory — the flying input (MRDMA), the
//! per-channel operand streams (BRDMA, NRDMA) and the element-wise
//! operand (ERDMA).

use super::super::layout::{self, Atoms, Geometry, ATOM};
use super::super::{decode, signed, unsupported, Ctx, Precision, Values};
use super::{precision, Cube, Source};
use crate::npu::regs::{dpu_rdma, Field, Reg};

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
pub(super) fn mrdma(ctx: &Ctx<'_>, cube: &Cube, dpu_in: Precision) -> Result<Source, String> {
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
pub(super) struct Streams {
    pub(super) alu: Option<Vec<u32>>,
    pub(super) ow: Option<Vec<i64>>,
    pub(super) mul: Option<Vec<u16>>,
}

pub(super) fn streams(
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

/// Reads the element-wise operand cube through the ERDMA.
pub(super) fn erdma(ctx: &Ctx<'_>, cube: &Cube) -> Result<Values, String> {
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
