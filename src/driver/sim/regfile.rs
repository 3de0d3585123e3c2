//! One core's register file: every block's 32-bit registers, written by
//! the regcmd words and read by the engines through `npu::regs`.

use crate::npu::regs::{Field, Reg};

/// Registers of offsets `0 .. 0x8000` (PC up to PPU_RDMA), one word each.
const WORDS: usize = 0x8000 / 4;

/// The registers of one core.
#[derive(Clone)]
pub struct RegFile {
    values: Box<[u32]>,
}

impl std::fmt::Debug for RegFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.values.iter().filter(|&&v| v != 0).count();
        write!(f, "RegFile({set} non-zero registers)")
    }
}

impl Default for RegFile {
    fn default() -> Self {
        RegFile {
            values: vec![0; WORDS].into_boxed_slice(),
        }
    }
}

impl RegFile {
    /// Stores `value` in `reg`.
    pub fn set(&mut self, reg: &Reg, value: u32) {
        self.values[usize::from(reg.offset) / 4] = value;
    }

    /// The value of `reg`.
    pub fn get(&self, reg: &Reg) -> u32 {
        self.values[usize::from(reg.offset) / 4]
    }

    /// Field `field` of `reg`.
    pub fn field(&self, reg: &Reg, field: Field) -> u32 {
        field.get(self.get(reg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npu::regs::{cna, ppu_rdma};

    #[test]
    fn registers_keep_values_and_fields_read_through_the_table() {
        let mut r = RegFile::default();
        r.set(&cna::CONV_CON1, 0x6000_a000);
        r.set(&ppu_rdma::DATA_FORMAT, 2);
        assert_eq!(r.get(&cna::CONV_CON1), 0x6000_a000);
        assert_eq!(r.field(&cna::CONV_CON1, cna::conv_con1::ARGB_IN), 0xa);
        assert_eq!(
            r.field(&ppu_rdma::DATA_FORMAT, ppu_rdma::data_format::IN_PRECISION),
            2
        );
        assert_eq!(r.get(&cna::CONV_CON2), 0);
    }
}
