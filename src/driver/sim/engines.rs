//! What the op-enable word starts: the engines of the enabled blocks.

use super::memory::AddressSpace;
use super::pc::CoreState;

/// Runs the blocks `mask` enables with the core's registers.
pub fn run(_space: &AddressSpace, _state: &mut CoreState, mask: u32) -> Result<(), String> {
    Err(format!(
        "op-enable mask {mask:#x}: the engines of these blocks are not simulated"
    ))
}
