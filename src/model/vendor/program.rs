//! The NPU program of a Toolkit2 file: the `task` records (kernel
//! `struct rknpu_task`), the `regcmd` word stream and the relocation
//! table (`rknn-vendor-format.md` sections 4.1, 4.2 and 4.4;
//! `rknpu-driver.md` for the task record).

use std::ops::Range;

use super::invalid;
use crate::model::ModelError;

/// Size of one `struct rknpu_task` record.
pub const TASK_RECORD_LEN: usize = 40;
/// Words of the PC tail that follow each task's `regcfg_amount` words.
pub const PC_TAIL_WORDS: u64 = 4;
/// Most tasks accepted.
pub const MAX_TASKS: usize = 1 << 16;
/// Most relocation entries accepted (all tensors together).
pub const MAX_RELOCATIONS: usize = 1 << 20;

/// One kernel task record (`struct rknpu_task`, 40 bytes, little-endian).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Task {
    /// `flags` (0 in files).
    pub flags: u32,
    /// `op_idx`: the runtime's op bookkeeping.
    pub op_idx: u32,
    /// `enable_mask`: the blocks enabled by the task (equal to the op-enable word of its tail).
    pub enable_mask: u32,
    /// `int_mask`: the completion interrupts.
    pub int_mask: u32,
    /// `int_clear`: interrupts cleared before the task.
    pub int_clear: u32,
    /// `int_status` (0 in files; written back by the kernel).
    pub int_status: u32,
    /// `regcfg_amount`: body register writes, excluding the 4-word PC tail.
    pub regcfg_amount: u32,
    /// `regcfg_offset` (0 in files).
    pub regcfg_offset: u32,
    /// `regcmd_addr`: byte offset of the task's block inside the `regcmd` buffer.
    pub regcmd_addr: u64,
}

impl Task {
    fn decode(b: &[u8]) -> Task {
        let w = |i: usize| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[32..40]);
        Task {
            flags: w(0),
            op_idx: w(1),
            enable_mask: w(2),
            int_mask: w(3),
            int_clear: w(4),
            int_status: w(5),
            regcfg_amount: w(6),
            regcfg_offset: w(7),
            regcmd_addr: u64::from_le_bytes(a),
        }
    }

    /// Byte range in the `regcmd` buffer of the task's body and PC tail.
    /// Checked at read time to lie inside the buffer.
    pub fn regcmd_range(&self) -> Range<u64> {
        let len = (self.regcfg_amount as u64 + PC_TAIL_WORDS) * 8;
        self.regcmd_addr..self.regcmd_addr.saturating_add(len)
    }
}

/// Decodes the `task` buffer and checks every record's regcmd block
/// (body plus PC tail) against the `regcmd` buffer of `regcmd_len` bytes.
pub fn parse_tasks(bytes: &[u8], regcmd_len: usize) -> Result<Vec<Task>, ModelError> {
    if bytes.is_empty() {
        return invalid("task buffer is empty".into());
    }
    if !bytes.len().is_multiple_of(TASK_RECORD_LEN) {
        return invalid(format!(
            "task buffer: {} bytes is not a whole number of {TASK_RECORD_LEN}-byte records",
            bytes.len()
        ));
    }
    let n = bytes.len() / TASK_RECORD_LEN;
    if n > MAX_TASKS {
        return invalid(format!(
            "task buffer: {n} tasks exceed the limit {MAX_TASKS}"
        ));
    }
    let tasks: Vec<Task> = bytes
        .chunks_exact(TASK_RECORD_LEN)
        .map(Task::decode)
        .collect();
    for (i, t) in tasks.iter().enumerate() {
        if t.regcfg_amount == 0 {
            return invalid(format!("task {i}: regcfg_amount is 0"));
        }
        if t.regcmd_addr % 8 != 0 {
            return invalid(format!(
                "task {i}: regcmd_addr {:#x} is not a multiple of 8",
                t.regcmd_addr
            ));
        }
        let end = t
            .regcmd_addr
            .checked_add((t.regcfg_amount as u64 + PC_TAIL_WORDS) * 8);
        if end.is_none_or(|e| e > regcmd_len as u64) {
            return invalid(format!(
                "task {i}: regcmd_addr {:#x} + (regcfg_amount {} + {PC_TAIL_WORDS} tail words) * 8 runs past the {regcmd_len}-byte regcmd buffer",
                t.regcmd_addr, t.regcfg_amount
            ));
        }
    }
    Ok(tasks)
}

/// One 64-bit register write of the regcmd stream:
/// `target(16) << 48 | value(32) << 16 | register(16)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegWrite {
    /// Block target (block id + 1, e.g. 0x0201 for CNA).
    pub target: u16,
    /// The 32-bit value.
    pub value: u32,
    /// Register offset.
    pub register: u16,
}

impl RegWrite {
    /// Splits one regcmd word.
    pub fn decode(word: u64) -> RegWrite {
        RegWrite {
            target: (word >> 48) as u16,
            value: (word >> 16) as u32,
            register: word as u16,
        }
    }
}

/// The `regcmd` buffer's words (little-endian u64).
pub fn regcmd_words(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect()
}

/// One patch: the regcmd word whose value field receives a buffer address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelocEntry {
    /// Byte offset added to the tensor's base address.
    pub offset: u32,
    /// Index of the regcmd word to patch.
    pub word: u32,
}

/// The relocations of one tensor (Graph slot 7 entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relocation {
    /// Name of the tensor whose address is patched in.
    pub name: String,
    /// Index of that tensor in [`super::VendorModel::tensors`].
    pub tensor: usize,
    /// The words to patch.
    pub entries: Vec<RelocEntry>,
    /// The second pair list of the entry, kept raw: observed as
    /// `(1, core)` with the core index of the schedule the word belongs to.
    pub pairs: Vec<(u32, u32)>,
}

/// Checks every relocation's word index against the `regcmd` buffer.
pub fn check_relocations(relocs: &[Relocation], regcmd_len: usize) -> Result<(), ModelError> {
    let words = regcmd_len / 8;
    for (i, r) in relocs.iter().enumerate() {
        for (j, e) in r.entries.iter().enumerate() {
            if e.word as usize >= words {
                return invalid(format!(
                    "relocation {i} ({}) entry {j}: word index {} is past the {words}-word regcmd buffer",
                    r.name, e.word
                ));
            }
        }
    }
    Ok(())
}
