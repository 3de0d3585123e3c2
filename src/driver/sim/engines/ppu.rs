//! PPU + PPU_RDMA: max and average pooling of a cube read from memory
//! (`docs/sim.md`, "PPU").

use super::layout::{self, Atoms, Geometry, ATOM};
use super::{pow2, Ctx, Precision};
use crate::npu::regs::{ppu, ppu_rdma};

/// Runs a pooling task.
pub fn run(ctx: &Ctx<'_>) -> Result<(), String> {
    use ppu::*;
    let in_w = ctx.f(&DATA_CUBE_IN_WIDTH, data_cube_in_width::CUBE_IN_WIDTH) as usize + 1;
    let in_h = ctx.f(&DATA_CUBE_IN_HEIGHT, data_cube_in_height::CUBE_IN_HEIGHT) as usize + 1;
    let in_c = ctx.f(&DATA_CUBE_IN_CHANNEL, data_cube_in_channel::CUBE_IN_CHANNEL) as usize + 1;
    let out_w = ctx.f(&DATA_CUBE_OUT_WIDTH, data_cube_out_width::CUBE_OUT_WIDTH) as usize + 1;
    let out_h = ctx.f(&DATA_CUBE_OUT_HEIGHT, data_cube_out_height::CUBE_OUT_HEIGHT) as usize + 1;
    let out_c = ctx.f(
        &DATA_CUBE_OUT_CHANNEL,
        data_cube_out_channel::CUBE_OUT_CHANNEL,
    ) as usize
        + 1;
    let mode = &OPERATION_MODE_CFG;
    ctx.expect(mode, operation_mode_cfg::INDEX_EN, &[0])?;
    ctx.expect(mode, operation_mode_cfg::FLYING_MODE, &[1])?;
    ctx.expect(mode, operation_mode_cfg::NOTCH_ADDR, &[0])?;
    let method = ctx.expect(mode, operation_mode_cfg::POOLING_METHOD, &[0, 1])?;
    ctx.expect(&DATA_FORMAT, data_format::DPU_FLYIN, &[0])?;
    ctx.expect(&MISC_CTRL, misc_ctrl::MC_SURF_OUT, &[0])?;
    let proc = ctx.expect(&DATA_FORMAT, data_format::PROC_PRECISION, &[0, 2])?;
    let rdma_prec = ctx.expect(
        &ppu_rdma::DATA_FORMAT,
        ppu_rdma::data_format::IN_PRECISION,
        &[if proc == 0 { 1 } else { 2 }],
    )?;
    let prec = if rdma_prec == 1 {
        Precision::Int8
    } else {
        Precision::Fp16
    };
    let k = &POOLING_KERNEL_CFG;
    let kw = ctx.f(k, pooling_kernel_cfg::KERNEL_WIDTH) as usize + 1;
    let kh = ctx.f(k, pooling_kernel_cfg::KERNEL_HEIGHT) as usize + 1;
    let sw = ctx.f(k, pooling_kernel_cfg::KERNEL_STRIDE_WIDTH) as usize + 1;
    let sh = ctx.f(k, pooling_kernel_cfg::KERNEL_STRIDE_HEIGHT) as usize + 1;
    let pad = &POOLING_PADDING_CFG;
    let pl = ctx.f(pad, pooling_padding_cfg::PAD_LEFT) as usize;
    let pt = ctx.f(pad, pooling_padding_cfg::PAD_TOP) as usize;
    // The padding value of average pooling: a 35-bit signed integer
    // (PAD_VALUE_0 low 32 bits, PAD_VALUE_1 the top 3) for int8.
    let pad_low = ctx.r(&PADDING_VALUE_1_CFG);
    let pad_high = ctx.f(&PADDING_VALUE_2_CFG, padding_value_2_cfg::PAD_VALUE_1);
    let pad_value = (((i64::from(pad_high) << 32) | i64::from(pad_low)) << 29) >> 29;
    let rdma = (
        ctx.f(
            &ppu_rdma::CUBE_IN_WIDTH,
            ppu_rdma::cube_in_width::CUBE_IN_WIDTH,
        ) as usize
            + 1,
        ctx.f(
            &ppu_rdma::CUBE_IN_HEIGHT,
            ppu_rdma::cube_in_height::CUBE_IN_HEIGHT,
        ) as usize
            + 1,
        ctx.f(
            &ppu_rdma::CUBE_IN_CHANNEL,
            ppu_rdma::cube_in_channel::CUBE_IN_CHANNEL,
        ) as usize
            + 1,
    );
    if rdma != (in_w, in_h, in_c) || out_c != in_c {
        return Err(format!(
            "the PPU_RDMA cube {}x{}x{} and the PPU cubes {in_w}x{in_h}x{in_c} -> \
             {out_w}x{out_h}x{out_c} disagree",
            rdma.0, rdma.1, rdma.2
        ));
    }
    let surfaces = (in_c * prec.bytes()).div_ceil(ATOM);
    let src = Geometry {
        base: u64::from(ctx.r(&ppu_rdma::SRC_BASE_ADDR)),
        line: i64::from(ctx.f(
            &ppu_rdma::SRC_LINE_STRIDE,
            ppu_rdma::src_line_stride::SRC_LINE_STRIDE,
        )) * 16,
        surf: i64::from(ctx.f(
            &ppu_rdma::SRC_SURF_STRIDE,
            ppu_rdma::src_surf_stride::SRC_SURF_STRIDE,
        )) * 16,
    };
    let input = layout::read(ctx.space, &src, surfaces, in_h, in_w, "PPU_RDMA read")?;
    let rw = ctx.f(&RECIP_KERNEL_WIDTH, recip_kernel_width::RECIP_KERNEL_WIDTH);
    let rh = ctx.f(
        &RECIP_KERNEL_HEIGHT,
        recip_kernel_height::RECIP_KERNEL_HEIGHT,
    );
    let e = prec.bytes();
    let per = prec.per_atom();
    let mut out = Atoms::zeroed(surfaces, out_h, out_w);
    for s in 0..surfaces {
        for oy in 0..out_h {
            for ox in 0..out_w {
                let y0 = (oy * sh) as isize - pt as isize;
                let x0 = (ox * sw) as isize - pl as isize;
                for lane in 0..per {
                    let mut window = Window {
                        present: Vec::with_capacity(kw * kh),
                        padded: 0,
                    };
                    for y in y0.max(0)..(y0 + kh as isize).min(in_h as isize) {
                        for x in x0.max(0)..(x0 + kw as isize).min(in_w as isize) {
                            let at = input.at(s, y as usize, x as usize) + lane * e;
                            window.present.push(&input.bytes[at..at + e]);
                        }
                    }
                    window.padded = kw * kh - window.present.len();
                    let dst = out.at(s, oy, ox) + lane * e;
                    let recip = (rw, rh);
                    pool(
                        prec,
                        method,
                        &window,
                        recip,
                        pad_value,
                        &mut out.bytes[dst..dst + e],
                    )?;
                }
            }
        }
    }
    let dst = Geometry {
        base: u64::from(ctx.r(&DST_BASE_ADDR)),
        line: (out_w * ATOM) as i64,
        surf: i64::from(ctx.f(&DST_SURF_STRIDE, dst_surf_stride::DST_SURF_STRIDE)) * 16,
    };
    layout::write(ctx.space, &dst, &out, "PPU write")
}

/// The reciprocal of an fp16 kernel size: 6-bit exponent (bias 31) and
/// 10-bit mantissa.
fn float_recip(bits: u32) -> Result<f32, String> {
    if bits >> 16 != 0 {
        return Err(format!(
            "a negative pooling reciprocal {bits:#x} is not simulated"
        ));
    }
    let exp = (bits >> 10) as i32 & 0x3f;
    let mant = (bits & 0x3ff) as f32 / 1024.0;
    Ok((1.0 + mant) * pow2(exp - 31))
}

/// `v / 2^shift` rounded to nearest, ties to even.
fn round_half_even(v: i64, shift: u32) -> i64 {
    let q = v >> shift;
    let r = v - (q << shift);
    let half = 1i64 << (shift - 1);
    if r > half || (r == half && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

/// The elements of one pooling window: those inside the input, and how
/// many positions fall into the padding.
struct Window<'a> {
    present: Vec<&'a [u8]>,
    padded: usize,
}

/// Pools one output element from its window. Maximum pooling ignores the
/// padding; average pooling counts padded positions with `pad_value` and
/// multiplies the sum by both reciprocals.
fn pool(
    prec: Precision,
    method: u32,
    window: &Window<'_>,
    (rw, rh): (u32, u32),
    pad_value: i64,
    dst: &mut [u8],
) -> Result<(), String> {
    if window.present.is_empty() {
        return Err("a pooling window lies entirely in the padding, which is not simulated".into());
    }
    match prec {
        Precision::Int8 => {
            let vals = window.present.iter().map(|b| i64::from(b[0] as i8));
            let v = if method == 1 {
                vals.max().unwrap_or(0)
            } else {
                let sum = vals.sum::<i64>() + pad_value * window.padded as i64;
                round_half_even(sum * i64::from(rw) * i64::from(rh), 32)
            };
            dst[0] = v.clamp(-128, 127) as i8 as u8;
        }
        _ => {
            let vals = window
                .present
                .iter()
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32());
            let v = if method == 1 {
                vals.fold(f32::NEG_INFINITY, f32::max)
            } else {
                if pad_value != 0 && window.padded > 0 {
                    return Err(format!(
                        "fp16 average pooling with padding value {pad_value:#x} is not simulated"
                    ));
                }
                vals.sum::<f32>() * float_recip(rw)? * float_recip(rh)?
            };
            dst.copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
        }
    }
    Ok(())
}
