//! The end of the DPU: minimum/maximum reduction, conversion to the
//! output precision and the write to memory.

use super::super::layout::{self, Atoms, Geometry, ATOM};
use super::super::{Ctx, Precision};
use super::{describe, Cube};
use crate::npu::regs::dpu;

/// The pipeline's result before it is written.
pub(super) enum Out {
    Int(Vec<i64>),
    /// Floats, and whether the conversion must be exact (CVT_ROUND).
    Float(Vec<f32>, bool),
}

/// `DATA_CUBE_HEIGHT.MINMAX_CTL`: 0 none, 7 the maximum over the channels
/// (every channel of a pixel receives it).
pub(super) fn minmax(ctx: &Ctx<'_>, cube: &Cube, out: Out) -> Result<Out, String> {
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
pub(super) fn encode(out: &Out, i: usize, prec: Precision, dst: &mut [u8]) -> Result<(), String> {
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
pub(super) fn destination(ctx: &Ctx<'_>, cube: &Cube) -> Result<(Geometry, usize), String> {
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
pub(super) fn write(ctx: &Ctx<'_>, cube: &Cube, prec: Precision, out: Out) -> Result<(), String> {
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
pub(super) fn write_raw(
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
