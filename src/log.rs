//! Logging in the vendor format (placeholder until the logging work lands).

/// Installs the logger once (idempotent).
pub fn init() {}
