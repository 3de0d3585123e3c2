//! NPU programs: the register map ([`regs`]), the PC's fetch rules
//! ([`pc`]) and vendor-compiled programs made runnable on a
//! [`crate::driver::Device`] ([`program`]).

pub mod pc;
pub mod program;
pub mod regs;
