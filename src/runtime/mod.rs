//! Contexts, memory planning and execution (placeholder).
