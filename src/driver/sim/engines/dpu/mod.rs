//! DPU + DPU_RDMA: the post-processing pipeline after the MAC array, or
//! on a cube read from memory ("flying mode"): bias/scale (BS), batch-norm
//! (BN), element-wise (EW) with its operand conversion and lookup table,
//! output conversion, minimum/maximum reduction, and the write to memory
//! (`docs/sim.md`, "DPU").

mod output;
mod rdma;
mod stages;

use super::layout::Atoms;
use super::mac::Accumulated;
use super::{unsupported, Ctx, Precision, Values};
use crate::npu::regs::{dpu, Field, Reg};
use output::{minmax, write, write_raw};
use rdma::mrdma;
use stages::Stages;

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
