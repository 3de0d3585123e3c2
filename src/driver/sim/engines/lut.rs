//! The DPU's lookup tables (LE and LO), as the element-wise stage uses
//! them for activations such as sigmoid: two linearly interpolated tables
//! over input ranges set by `LUT_LE_START/END` and `LUT_LO_START/END`,
//! with `1 << LUT_*_INDEX_SELECT` inputs between entries, filled through
//! `LUT_ACCESS_DATA` before the task (`docs/sim.md`, "LUT").

use super::{shift_round, signed, Ctx};
use crate::npu::regs::dpu;

/// A table and its input range.
struct Table<'a> {
    start: i64,
    end: i64,
    select: u32,
    entries: &'a [u16],
}

impl Table<'_> {
    fn hits(&self, x: f64) -> bool {
        x >= self.start as f64 && x <= self.end as f64
    }

    fn last(&self) -> usize {
        ((self.end - self.start) >> self.select) as usize
    }

    fn entry(&self, i: usize) -> i64 {
        i64::from(self.entries[i.min(self.last())] as i16)
    }

    /// Interpolated value at integer input `x`.
    fn at_int(&self, x: i64) -> i64 {
        let d = x - self.start;
        if d < 0 {
            return self.entry(0);
        }
        let i = (d >> self.select) as usize;
        if i >= self.last() {
            return self.entry(self.last());
        }
        let frac = d & ((1i64 << self.select) - 1);
        let (a, b) = (self.entry(i), self.entry(i + 1));
        a + shift_round((b - a) * frac, self.select)
    }

    /// Interpolated value at float input `x`.
    fn at_float(&self, x: f32) -> f32 {
        let d = (f64::from(x) - self.start as f64) / f64::from(1u32 << self.select);
        if d <= 0.0 {
            return self.entry(0) as f32;
        }
        let i = d.floor() as usize;
        if i >= self.last() {
            return self.entry(self.last()) as f32;
        }
        let frac = d - i as f64;
        let (a, b) = (self.entry(i) as f64, self.entry(i + 1) as f64);
        (a + (b - a) * frac) as f32
    }
}

/// The configured tables and the choice rules.
struct Luts<'a> {
    le: Table<'a>,
    lo: Table<'a>,
    hybrid_lo: bool,
    underflow_lo: bool,
    overflow_lo: bool,
}

fn read<'a>(ctx: &Ctx<'a>) -> Result<Luts<'a>, String> {
    use dpu::*;
    ctx.expect(&LUT_CFG, lut_cfg::LUT_EXPAND_EN, &[0])?;
    ctx.expect(&LUT_CFG, lut_cfg::LUT_ROAD_SEL, &[0])?;
    ctx.expect(&LUT_CFG, lut_cfg::LUT_CAL_SEL, &[0])?;
    ctx.expect(&LUT_CFG, lut_cfg::LUT_LO_LE_MUX, &[2])?;
    for (reg, f) in [
        (
            &LUT_LE_SLOPE_SCALE,
            lut_le_slope_scale::LUT_LE_SLOPE_OFLOW_SCALE,
        ),
        (
            &LUT_LE_SLOPE_SCALE,
            lut_le_slope_scale::LUT_LE_SLOPE_UFLOW_SCALE,
        ),
        (
            &LUT_LO_SLOPE_SCALE,
            lut_lo_slope_scale::LUT_LO_SLOPE_OFLOW_SCALE,
        ),
        (
            &LUT_LO_SLOPE_SCALE,
            lut_lo_slope_scale::LUT_LO_SLOPE_UFLOW_SCALE,
        ),
    ] {
        ctx.expect(reg, f, &[0])?;
    }
    let table = |start: &crate::npu::regs::Reg,
                 end: &crate::npu::regs::Reg,
                 select,
                 id: usize|
     -> Result<Table<'a>, String> {
        let t = Table {
            start: signed(ctx.r(start), 32),
            end: signed(ctx.r(end), 32),
            select,
            entries: &ctx.lut[id],
        };
        if t.end <= t.start || t.select > 20 || t.last() >= t.entries.len() {
            return Err(format!(
                "{start}/{end} = {:#x}/{:#x} with index select {select}: a table of {} entries \
                 is not simulated",
                ctx.r(start),
                ctx.r(end),
                ((t.end - t.start).max(0) >> t.select.min(20)) + 1
            ));
        }
        Ok(t)
    };
    Ok(Luts {
        le: table(
            &LUT_LE_START,
            &LUT_LE_END,
            ctx.f(&LUT_INFO, lut_info::LUT_LE_INDEX_SELECT),
            0,
        )?,
        lo: table(
            &LUT_LO_START,
            &LUT_LO_END,
            ctx.f(&LUT_INFO, lut_info::LUT_LO_INDEX_SELECT),
            1,
        )?,
        hybrid_lo: ctx.f(&LUT_CFG, lut_cfg::LUT_HYBRID_PRIORITY) == 1,
        underflow_lo: ctx.f(&LUT_CFG, lut_cfg::LUT_UFLOW_PRIORITY) == 1,
        overflow_lo: ctx.f(&LUT_CFG, lut_cfg::LUT_OFLOW_PRIORITY) == 1,
    })
}

impl Luts<'_> {
    /// Whether input `x` is looked up in the LO table.
    fn pick_lo(&self, x: f64) -> Result<bool, String> {
        Ok(match (self.le.hits(x), self.lo.hits(x)) {
            (true, true) => self.hybrid_lo,
            (true, false) => false,
            (false, true) => true,
            _ if x < self.le.start.min(self.lo.start) as f64 => self.underflow_lo,
            _ if x > self.le.end.max(self.lo.end) as f64 => self.overflow_lo,
            _ => {
                return Err(format!(
                    "LUT input {x} falls between the LE and LO ranges, which is not simulated"
                ))
            }
        })
    }
}

/// Looks every integer of `v` up.
pub fn apply_int(ctx: &Ctx<'_>, v: &mut [i64]) -> Result<(), String> {
    let l = read(ctx)?;
    for x in v.iter_mut() {
        let t = if l.pick_lo(*x as f64)? { &l.lo } else { &l.le };
        *x = t.at_int(*x);
    }
    Ok(())
}

/// Looks every float of `v` up.
pub fn apply_float(ctx: &Ctx<'_>, v: &mut [f32]) -> Result<(), String> {
    let l = read(ctx)?;
    for x in v.iter_mut() {
        let t = if l.pick_lo(f64::from(*x))? {
            &l.lo
        } else {
            &l.le
        };
        *x = t.at_float(*x);
    }
    Ok(())
}
