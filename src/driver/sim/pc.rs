//! The PC of one simulated core: fetches each task's regcmd words the way
//! the kernel programs it and the tails chain it (`reference/rknpu-driver.md`
//! §1.6, §3.3), applies the register writes, and on the op-enable word
//! hands the core to the engines.

use crate::driver::TaskRange;
use crate::model::vendor::{Task, TASK_RECORD_LEN};
use crate::npu::pc as rules;
use crate::npu::regs::{self, Block, Word};
use crate::platform::Platform;

use super::engines;
use super::memory::AddressSpace;
use super::regfile::RegFile;

/// The task record `index` of a task buffer.
pub fn task_record(records: &[u8], index: u32) -> Task {
    let at = index as usize * TASK_RECORD_LEN;
    let b = &records[at..at + TASK_RECORD_LEN];
    let w = |i: usize| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
    Task {
        flags: w(0),
        op_idx: w(1),
        enable_mask: w(2),
        int_mask: w(3),
        int_clear: w(4),
        int_status: w(5),
        regcfg_amount: w(6),
        regcfg_offset: w(7),
        regcmd_addr: u64::from(w(8)) | (u64::from(w(9)) << 32),
    }
}

/// State of one core while it runs a job.
#[derive(Debug)]
pub struct CoreState {
    /// The register file.
    pub regs: RegFile,
    /// The DPU's two lookup tables (LE, LO) as written through
    /// `LUT_ACCESS_DATA`.
    pub lut: [Vec<u16>; 2],
    /// The platform whose rules apply.
    pub platform: Platform,
}

/// What the kernel writes to the CNA and CORE `S_POINTER` before a job:
/// `POINTER_PP_EN | EXECUTER_PP_EN | POINTER_PP_MODE`.
const KERNEL_S_POINTER: u32 = 0x0e;

/// Entries of each DPU lookup table.
pub const LUT_ENTRIES: usize = 1024;

impl CoreState {
    /// A core as the kernel leaves it when a job starts: registers 0,
    /// tables empty, and on multi-core chips the CNA and CORE register
    /// groups in ping-pong mode (`S_POINTER` = 0x0E, §1.6 step 2).
    pub fn new(platform: Platform) -> CoreState {
        let mut regs = RegFile::default();
        if platform.cores() > 1 {
            regs.set(&regs::cna::S_POINTER, KERNEL_S_POINTER);
            regs.set(&regs::core::S_POINTER, KERNEL_S_POINTER);
        }
        CoreState {
            regs,
            lut: [vec![0; LUT_ENTRIES], vec![0; LUT_ENTRIES]],
            platform,
        }
    }

    /// Applies one register write, with the side effect of
    /// `LUT_ACCESS_DATA`: while `LUT_ACCESS_CFG` selects write access, the
    /// value goes into the selected table at `LUT_ADDR`, which advances.
    fn write(&mut self, reg: &regs::Reg, value: u32) {
        self.regs.set(reg, value);
        if reg.offset != regs::dpu::LUT_ACCESS_DATA.offset {
            return;
        }
        use regs::dpu::lut_access_cfg as f;
        let cfg = self.regs.get(&regs::dpu::LUT_ACCESS_CFG);
        if f::LUT_ACCESS_TYPE.get(cfg) != 1 {
            return;
        }
        let table = f::LUT_TABLE_ID.get(cfg) as usize;
        let addr = f::LUT_ADDR.get(cfg) as usize;
        self.lut[table][addr] = regs::dpu::lut_access_data::LUT_ACCESS_DATA.get(value) as u16;
        let next = ((addr + 1) % LUT_ENTRIES) as u32;
        self.regs.set(
            &regs::dpu::LUT_ACCESS_CFG,
            (cfg & !f::LUT_ADDR.mask()) | (next << f::LUT_ADDR.low),
        );
    }
}

/// Runs `range` of the task records on one core.
pub fn run_core(
    space: &AddressSpace,
    records: &[u8],
    range: TaskRange,
    core: u32,
    state: &mut CoreState,
) -> Result<(), String> {
    let platform = state.platform;
    let first = task_record(records, range.start);
    let mut addr = first.regcmd_addr;
    let mut amount = rules::data_amount(first.regcfg_amount, platform);
    for i in 0..range.count {
        let index = range.start + i;
        let at = |m: String| format!("core {core}, task {index}: {m}");
        let rec = task_record(records, index);
        if i > 0 {
            let pc = &state.regs;
            addr = u64::from(
                pc.field(
                    &regs::pc::BASE_ADDRESS,
                    regs::pc::base_address::PC_SOURCE_ADDR,
                ) << 4,
            );
            amount = pc.field(
                &regs::pc::REGISTER_AMOUNTS,
                regs::pc::register_amounts::PC_DATA_AMOUNT,
            );
            if addr == 0 {
                return Err(at(format!(
                    "task {} ended the chain but the job runs {} tasks from task {}",
                    index - 1,
                    range.count,
                    range.start
                )));
            }
            let want = rules::data_amount(rec.regcfg_amount, platform);
            if addr != rec.regcmd_addr || amount != want {
                return Err(at(format!(
                    "the tail of task {} chains to {addr:#x} ({amount} units) but this task's \
                     record says {:#x} ({want} units)",
                    index - 1,
                    rec.regcmd_addr
                )));
            }
        }
        if addr == 0 || addr > u64::from(u32::MAX) || !addr.is_multiple_of(16) {
            return Err(at(format!(
                "regcmd address {addr:#x} is not a 16-byte aligned 32-bit device address"
            )));
        }
        state.regs.set(&regs::pc::BASE_ADDRESS, 0);
        state.regs.set(&regs::pc::REGISTER_AMOUNTS, 0);
        let len = rules::fetched_words(amount, platform) as usize * 8;
        let bytes = space.read_vec(addr, len, "PC regcmd fetch").map_err(at)?;
        run_task(space, &bytes, &rec, state).map_err(at)?;
    }
    Ok(())
}

/// Applies one task's fetched words and runs the engines on its op-enable
/// word.
fn run_task(
    space: &AddressSpace,
    bytes: &[u8],
    rec: &Task,
    state: &mut CoreState,
) -> Result<(), String> {
    let mut prepared = false;
    let mut enabled = false;
    for (k, chunk) in bytes.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        if enabled {
            if word != 0 {
                return Err(format!(
                    "word {k} ({word:#018x}) follows the op-enable word; only zero padding may"
                ));
            }
            continue;
        }
        if word == 0 {
            continue;
        }
        let w = Word::decode(word);
        match w.target {
            regs::PREPARE_TARGET => {
                if word != regs::PREPARE_WORD {
                    return Err(format!(
                        "word {k} ({word:#018x}) is a malformed prepare word"
                    ));
                }
                prepared = true;
            }
            regs::OP_ENABLE_TARGET => {
                if w.offset != regs::OP_ENABLE_OFFSET || !prepared {
                    return Err(format!(
                        "word {k} ({word:#018x}): an op-enable word must write {:#06x} after the \
                         prepare word",
                        regs::OP_ENABLE_OFFSET
                    ));
                }
                if w.value != rec.enable_mask {
                    return Err(format!(
                        "the op-enable word enables blocks {:#x} but the task record says {:#x}",
                        w.value, rec.enable_mask
                    ));
                }
                engines::run(space, state, w.value)?;
                state.regs.ran(w.value);
                enabled = true;
            }
            target => {
                let Some(block) = Block::from_target(target) else {
                    return Err(format!(
                        "word {k} ({word:#018x}): unknown target {target:#06x}"
                    ));
                };
                let Some(reg) = regs::register(w.offset) else {
                    return Err(format!(
                        "word {k} ({word:#018x}): unknown {block} register offset {:#06x} \
                         (value {:#x})",
                        w.offset, w.value
                    ));
                };
                if reg.block != block {
                    return Err(format!(
                        "word {k} ({word:#018x}): {reg} written through the {block} target"
                    ));
                }
                if block == Block::Pc
                    && reg.offset != regs::pc::BASE_ADDRESS.offset
                    && reg.offset != regs::pc::REGISTER_AMOUNTS.offset
                {
                    return Err(format!(
                        "word {k}: {reg} cannot be written from a regcmd stream (value {:#x})",
                        w.value
                    ));
                }
                if reg.offset == regs::pc::BASE_ADDRESS.offset
                    && regs::pc::base_address::PC_SEL.get(w.value) != 0
                {
                    return Err(format!(
                        "word {k}: {reg} = {:#x} selects slave mode inside a PC chain",
                        w.value
                    ));
                }
                state.write(reg, w.value);
            }
        }
    }
    if !enabled {
        return Err(format!(
            "no op-enable word in the {} fetched words (missing or truncated tail)",
            bytes.len() / 8
        ));
    }
    Ok(())
}
