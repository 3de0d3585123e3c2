//! One core's register file, written by the regcmd words and read by the
//! engines through `npu::regs`.
//!
//! Every functional block keeps two groups of its registers from
//! `OPERATION_ENABLE` (+0x8) on (ping-pong, `reference/rknpu-driver.md`
//! §3.2); `S_STATUS` and `S_POINTER` (+0x0, +0x4) and the PC are single.
//! Writes go to the group the block's pointer selects and the engines
//! read that group. When a block has run (its op-enable bit was set) and
//! its `S_POINTER.POINTER_PP_EN` is set, its pointer flips, so the next
//! task writes the other group and inherits the values that group held
//! two tasks before. `POINTER_PP_CLEAR` / `EXECUTER_PP_CLEAR` reset the
//! pointer to group 0.

use crate::npu::regs::{Block, Field, Reg};

/// Registers of offsets `0 .. 0x8000` (PC up to PPU_RDMA), one word each.
const WORDS: usize = 0x8000 / 4;

/// Bit of `S_POINTER`: the pointer flips after each run.
const POINTER_PP_EN: u32 = 1 << 1;
/// Bits of `S_POINTER` that reset the pointer.
const PP_CLEAR: u32 = (1 << 4) | (1 << 5);

/// The registers of one core.
#[derive(Clone)]
pub struct RegFile {
    groups: [Box<[u32]>; 2],
    pointer: [usize; 8],
}

impl std::fmt::Debug for RegFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |g: &[u32]| g.iter().filter(|&&v| v != 0).count();
        write!(
            f,
            "RegFile({} + {} non-zero registers, pointers {:?})",
            set(&self.groups[0]),
            set(&self.groups[1]),
            self.pointer
        )
    }
}

impl Default for RegFile {
    fn default() -> Self {
        RegFile {
            groups: [
                vec![0; WORDS].into_boxed_slice(),
                vec![0; WORDS].into_boxed_slice(),
            ],
            pointer: [0; 8],
        }
    }
}

/// Index of `block` in the pointer table.
fn slot(block: Block) -> usize {
    usize::from(block.base() >> 12)
}

/// Whether `reg` exists once (status, pointer, the PC) rather than per group.
fn single(reg: &Reg) -> bool {
    reg.block == Block::Pc || reg.offset - reg.block.base() < 8
}

impl RegFile {
    /// The group `reg` is read from and written to now.
    fn group(&self, reg: &Reg) -> usize {
        if single(reg) {
            0
        } else {
            self.pointer[slot(reg.block)]
        }
    }

    /// Stores `value` in `reg`.
    pub fn set(&mut self, reg: &Reg, value: u32) {
        let g = self.group(reg);
        self.groups[g][usize::from(reg.offset) / 4] = value;
        if reg.block != Block::Pc && reg.offset == reg.block.base() + 4 && value & PP_CLEAR != 0 {
            self.pointer[slot(reg.block)] = 0;
        }
    }

    /// The value of `reg`.
    pub fn get(&self, reg: &Reg) -> u32 {
        self.groups[self.group(reg)][usize::from(reg.offset) / 4]
    }

    /// Field `field` of `reg`.
    pub fn field(&self, reg: &Reg, field: Field) -> u32 {
        field.get(self.get(reg))
    }

    /// After the blocks of `mask` (op-enable bits) have run: flips the
    /// pointer of each of them whose ping-pong is enabled.
    pub fn ran(&mut self, mask: u32) {
        for b in Block::ALL {
            let Some(bit) = b.op_enable_bit() else {
                continue;
            };
            if mask & bit == 0 {
                continue;
            }
            let s_pointer = self.groups[0][usize::from(b.base() + 4) / 4];
            if s_pointer & POINTER_PP_EN != 0 {
                self.pointer[slot(b)] ^= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npu::regs::{cna, dpu, ppu_rdma};

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

    #[test]
    fn ping_pong_groups_alternate_per_run_and_clear_resets_them() {
        let mut r = RegFile::default();
        r.set(&dpu::S_POINTER, 0x0e);
        r.set(&dpu::EW_CFG, 0x383);
        r.ran(0x08);
        // The second task writes the other group: EW_CFG is still 0 there.
        assert_eq!(r.get(&dpu::EW_CFG), 0);
        r.set(&dpu::EW_CFG, 0x8402c0);
        r.ran(0x18);
        assert_eq!(r.get(&dpu::EW_CFG), 0x383);
        // A block that did not run keeps its pointer.
        r.ran(0x60);
        assert_eq!(r.get(&dpu::EW_CFG), 0x383);
        r.ran(0x08);
        assert_eq!(r.get(&dpu::EW_CFG), 0x8402c0);
        // S_POINTER itself is single; clearing returns to group 0.
        r.set(&dpu::S_POINTER, 0x30);
        assert_eq!(r.get(&dpu::S_POINTER), 0x30);
        assert_eq!(r.get(&dpu::EW_CFG), 0x383);
        r.ran(0x08);
        assert_eq!(r.get(&dpu::EW_CFG), 0x383);
    }
}
