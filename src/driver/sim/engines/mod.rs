//! What the op-enable word starts: the engines of the enabled blocks
//! (`docs/sim.md`).
//!
//! * CNA + CORE (+ DPU, DPU_RDMA): a convolution — feature and weight
//!   fetch ([`cna`]), the MAC array ([`mac`]), then the DPU ([`dpu`]).
//! * DPU + DPU_RDMA: the DPU alone, its input read from memory by the
//!   MRDMA ("flying mode").
//! * PPU + PPU_RDMA: pooling ([`ppu`]).
//!
//! Values move between the engines channel-major (channels × height ×
//! width) as [`Values`]: integers (the int8/int16 pipeline, kept exact in
//! `i64`) or floats (the fp16 pipeline, computed in `f32`).

mod cna;
mod dpu;
mod layout;
mod lut;
mod mac;
mod ppu;

use super::memory::AddressSpace;
use super::pc::CoreState;
use super::regfile::RegFile;
use crate::npu::regs::{Field, Reg};

/// Blocks enabled by a convolution task (CNA, CORE, DPU, DPU_RDMA).
const CONV: u32 = 0x1d;
/// A convolution without DPU_RDMA (no bias or operand reads).
const CONV_NO_RDMA: u32 = 0x0d;
/// The DPU reading its input from memory (DPU, DPU_RDMA).
const DPU_FLYING: u32 = 0x18;
/// Pooling (PPU, PPU_RDMA).
const POOL: u32 = 0x60;

/// Runs the blocks `mask` enables with the core's registers.
pub fn run(space: &AddressSpace, state: &mut CoreState, mask: u32) -> Result<(), String> {
    let ctx = Ctx {
        regs: &state.regs,
        space,
        lut: &state.lut,
    };
    match mask {
        CONV | CONV_NO_RDMA => {
            let conv = cna::Conv::read(&ctx)?;
            let out = mac::run(&ctx, &conv)?;
            dpu::run(&ctx, dpu::Input::Core(out), mask & 0x10 != 0)
        }
        DPU_FLYING => dpu::run(&ctx, dpu::Input::Memory, true),
        POOL => ppu::run(&ctx),
        _ => Err(format!(
            "op-enable mask {mask:#x}: this combination of blocks is not simulated (known: \
             {CONV:#x} convolution, {CONV_NO_RDMA:#x} convolution without DPU_RDMA, \
             {DPU_FLYING:#x} DPU from memory, {POOL:#x} pooling)"
        )),
    }
}

/// What the engines of one task see.
pub struct Ctx<'a> {
    /// The core's registers.
    pub regs: &'a RegFile,
    /// Device memory.
    pub space: &'a AddressSpace,
    /// The DPU's lookup tables.
    pub lut: &'a [Vec<u16>; 2],
}

impl Ctx<'_> {
    /// Field `field` of `reg`.
    pub fn f(&self, reg: &Reg, field: Field) -> u32 {
        self.regs.field(reg, field)
    }

    /// The whole value of `reg`.
    pub fn r(&self, reg: &Reg) -> u32 {
        self.regs.get(reg)
    }

    /// Fails unless field `field` of `reg` is one of `allowed`.
    pub fn expect(&self, reg: &Reg, field: Field, allowed: &[u32]) -> Result<u32, String> {
        let v = self.f(reg, field);
        if allowed.contains(&v) {
            Ok(v)
        } else {
            Err(unsupported(reg, self.r(reg), field, v))
        }
    }
}

/// The error for a field value the simulator does not implement.
pub fn unsupported(reg: &Reg, whole: u32, field: Field, value: u32) -> String {
    format!(
        "{reg} = {whole:#x}: {} = {value} ({value:#x}) is not simulated",
        field.name
    )
}

/// Element types of data in memory and in the DPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// Signed 8-bit integer.
    Int8,
    /// Signed 16-bit integer.
    Int16,
    /// IEEE half precision.
    Fp16,
    /// Signed 32-bit integer.
    Int32,
    /// IEEE single precision.
    Fp32,
}

impl Precision {
    /// The precision a DPU/CNA `*_PRECISION` field codes (0 int8, 1 int16,
    /// 2 fp16, 4 int32, 5 fp32).
    pub fn from_code(code: u32) -> Option<Precision> {
        Some(match code {
            0 => Precision::Int8,
            1 => Precision::Int16,
            2 => Precision::Fp16,
            4 => Precision::Int32,
            5 => Precision::Fp32,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn bytes(self) -> usize {
        match self {
            Precision::Int8 => 1,
            Precision::Int16 | Precision::Fp16 => 2,
            Precision::Int32 | Precision::Fp32 => 4,
        }
    }

    /// Whether values of this type go through the float pipeline.
    pub fn is_float(self) -> bool {
        matches!(self, Precision::Fp16 | Precision::Fp32)
    }

    /// Elements per 16-byte atom (the NC1HWC2 `C2`).
    pub fn per_atom(self) -> usize {
        16 / self.bytes()
    }
}

/// The values of a cube, integers or floats.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// The integer pipeline.
    Int(Vec<i64>),
    /// The float pipeline.
    Float(Vec<f32>),
}

/// The elements of `bytes` as `prec`, widened.
pub fn decode(bytes: &[u8], prec: Precision) -> Values {
    match prec {
        Precision::Int8 => Values::Int(bytes.iter().map(|&b| i64::from(b as i8)).collect()),
        Precision::Int16 => Values::Int(
            bytes
                .chunks_exact(2)
                .map(|c| i64::from(i16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
        Precision::Int32 => Values::Int(
            bytes
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
        ),
        Precision::Fp16 => Values::Float(
            bytes
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        ),
        Precision::Fp32 => Values::Float(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
    }
}

/// A signed `bits`-wide field value.
pub fn signed(v: u32, bits: u32) -> i64 {
    let shift = 64 - bits;
    (i64::from(v) << shift) >> shift
}

/// `2^e` exactly, for `e` in the normal range of `f32` (clamped to it).
pub fn pow2(e: i32) -> f32 {
    f32::from_bits(((e.clamp(-126, 127) + 127) as u32) << 23)
}

/// `v >> shift` rounded half up (`shift` 0: unchanged).
pub fn shift_round(v: i64, shift: u32) -> i64 {
    match shift {
        0 => v,
        s if s >= 63 => 0,
        s => (v + (1i64 << (s - 1))) >> s,
    }
}
