//! The rknnrt offline compiler (placeholder).
