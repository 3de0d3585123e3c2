//! Contexts, memory planning and execution (placeholder).

pub mod io;
