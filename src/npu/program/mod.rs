//! Vendor-compiled NPU programs made runnable on a [`Device`].
//!
//! [`VendorProgram::new`] turns a [`VendorModel`] (plus the file it was
//! read from) into a validated, device-independent program: the memory
//! plan ([`MemoryLayout`]), the 1-/2-/3-core [`Schedule`]s, the words to
//! relocate and the PC chain words. [`LoadedProgram::load`] allocates its
//! buffers on a device, copies the streams and constants, patches every
//! address, and runs it for a core mask. `docs/npu.md` describes the
//! rules this follows.
//!
//! Nothing here knows the C API: inputs and outputs are tensors with a
//! device address ([`LoadedProgram::tensor_address`]) that the caller can
//! move into a buffer of its own ([`LoadedProgram::bind`]).

mod layout;
mod loaded;
mod schedule;

use std::ops::Range;

pub use layout::{ConstCopy, MemoryLayout, Placement, Region, CONST_ALIGN, MAX_INTERNAL};
pub use loaded::{JobPlan, LoadedProgram};
pub use schedule::{Part, Schedule, Step};

use super::pc;
use super::regs::{self, Block, Word};
use crate::driver::{Device, DriverError};
use crate::model::vendor::{regcmd_words, Task, VendorModel};
use crate::model::ModelError;
use crate::platform::Platform;

/// Why a program could not be built, loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// The file's program is inconsistent (maps to `RKNN_ERR_MODEL_INVALID`).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The device refused an allocation or a job.
    #[error(transparent)]
    Driver(#[from] DriverError),
}

/// One relocated regcmd word: its value becomes the address of `tensor`
/// plus `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WordReloc {
    /// Index of the word in the regcmd buffer.
    pub word: u32,
    /// Tensor index.
    pub tensor: usize,
    /// Byte offset added to the tensor's address.
    pub offset: u32,
}

/// A validated vendor program, not yet on any device.
#[derive(Clone, Debug)]
pub struct VendorProgram {
    /// Platform the program was compiled for.
    pub platform: Platform,
    /// Memory plan.
    pub layout: MemoryLayout,
    /// Schedules: index `n - 1` is for `n` cores.
    pub schedules: Vec<Schedule>,
    /// The task records, as in the file (`regcmd_addr` relative to the
    /// regcmd buffer).
    pub tasks: Vec<Task>,
    /// File range of the regcmd buffer.
    pub regcmd: Range<usize>,
    /// Relocated words, grouped by tensor.
    pub relocs: Vec<WordReloc>,
    /// Tail words that chain to another stream: `(word index, regcmd
    /// offset of the next stream)`.
    pub chain_words: Vec<(u32, u32)>,
    /// Tensor names (for messages).
    names: Vec<String>,
}

fn invalid<T>(m: String) -> Result<T, ModelError> {
    Err(ModelError::Invalid(m))
}

/// Checks one body word: a write to a register the table knows, through
/// the target of its block, and not to the PC (whose registers only the
/// tail writes).
pub fn check_body_word(word: u64) -> Result<&'static regs::Reg, String> {
    let w = Word::decode(word);
    let Some(block) = Block::from_target(w.target) else {
        return Err(format!(
            "word {word:#018x}: target {:#06x} is not a block",
            w.target
        ));
    };
    let Some(reg) = regs::register(w.offset) else {
        return Err(format!(
            "word {word:#018x}: register offset {:#06x} is unknown",
            w.offset
        ));
    };
    if reg.block != block {
        return Err(format!(
            "word {word:#018x}: {reg} is written through the {block} target"
        ));
    }
    if block == Block::Pc {
        return Err(format!(
            "word {word:#018x}: {reg} may only be written by the tail"
        ));
    }
    Ok(reg)
}

impl VendorProgram {
    /// Builds the program of `model`, read from `file`.
    pub fn new(model: &VendorModel, file: &[u8]) -> Result<VendorProgram, ModelError> {
        let Some(platform) = Platform::from_name(&model.target) else {
            return invalid(format!(
                "the model targets {:?}, which this runtime does not know",
                model.target
            ));
        };
        let layout = MemoryLayout::plan(model)?;
        let words = regcmd_words(&file[model.regcmd.clone()]);
        let mut tails = Vec::with_capacity(model.tasks.len());
        let mut body_of_word: Vec<Option<u32>> = vec![None; words.len()];
        for (i, t) in model.tasks.iter().enumerate() {
            if !t.regcmd_addr.is_multiple_of(16) {
                return invalid(format!(
                    "task {i}: regcmd offset {:#x} is not 16-byte aligned",
                    t.regcmd_addr
                ));
            }
            let first = (t.regcmd_addr / 8) as usize;
            let tail_at = first + t.regcfg_amount as usize;
            let tail = pc::parse_tail(&words[tail_at..tail_at + pc::TAIL_WORDS as usize])
                .map_err(|e| ModelError::Invalid(format!("task {i}: {e}")))?;
            if tail.enable_mask != t.enable_mask {
                return invalid(format!(
                    "task {i}: the tail enables blocks {:#x} but the record says {:#x}",
                    tail.enable_mask, t.enable_mask
                ));
            }
            for (k, &w) in words[first..tail_at].iter().enumerate() {
                check_body_word(w).map_err(|e| {
                    ModelError::Invalid(format!("task {i}, word {}: {e}", first + k))
                })?;
                body_of_word[first + k] = Some(i as u32);
            }
            tails.push(tail);
        }
        let mut chain_words = Vec::new();
        let mut seen_blocks = std::collections::HashSet::new();
        for (i, (t, tail)) in model.tasks.iter().zip(&tails).enumerate() {
            if !seen_blocks.insert(t.regcmd_addr) {
                continue;
            }
            let Some(next) = tail.next else { continue };
            let Some(target) = model
                .tasks
                .iter()
                .find(|n| n.regcmd_addr == u64::from(next))
            else {
                return invalid(format!(
                    "task {i}: the tail chains to regcmd offset {next:#x}, where no task starts"
                ));
            };
            if tail.next_amount != pc::data_amount(target.regcfg_amount, platform) {
                return invalid(format!(
                    "task {i}: the tail asks for {} units at {next:#x} but that task needs {}",
                    tail.next_amount,
                    pc::data_amount(target.regcfg_amount, platform)
                ));
            }
            let word = (t.regcmd_addr / 8) as u32 + t.regcfg_amount;
            chain_words.push((word, next));
        }
        let mut relocs = Vec::new();
        for r in &model.relocations {
            let Some(place) = layout.tensors[r.tensor] else {
                return invalid(format!(
                    "relocation of tensor {} ({:?}), which has no memory",
                    r.name, model.tensors[r.tensor].kind
                ));
            };
            for e in &r.entries {
                if body_of_word[e.word as usize].is_none() {
                    return invalid(format!(
                        "relocation of {}: word {} is not inside a task's register writes",
                        r.name, e.word
                    ));
                }
                if u64::from(e.offset) >= place.size.max(1) {
                    return invalid(format!(
                        "relocation of {}: offset {} is past its {} bytes",
                        r.name, e.offset, place.size
                    ));
                }
                relocs.push(WordReloc {
                    word: e.word,
                    tensor: r.tensor,
                    offset: e.offset,
                });
            }
        }
        let schedules = schedule::derive(model, &tails, platform)?;
        Ok(VendorProgram {
            platform,
            layout,
            schedules,
            tasks: model.tasks.clone(),
            regcmd: model.regcmd.clone(),
            relocs,
            chain_words,
            names: model.tensors.iter().map(|t| t.name.clone()).collect(),
        })
    }

    /// Name of tensor `t`.
    pub fn tensor_name(&self, t: usize) -> &str {
        self.names.get(t).map_or("?", String::as_str)
    }

    /// Loads the program on `device` (see [`LoadedProgram::load`]).
    pub fn load(&self, device: &dyn Device, file: &[u8]) -> Result<LoadedProgram, ProgramError> {
        LoadedProgram::load(self, device, file)
    }
}
