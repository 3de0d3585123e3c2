//! The `extern "C"` surface. Every function checks its arguments, runs its
//! body under a panic barrier ([`guard`]) and reports failures as
//! `RKNN_ERR_*` codes with an `E RKNN:` log line (DESIGN.md rule 3).

pub mod custom_op;
pub mod dynamic;
pub mod frames;
pub mod general;
pub mod guard;
pub mod handles;
mod init_flags;
pub mod matmul;
pub mod mem_table;
mod outputs;
mod query;
pub mod zero_copy;
