//! The vendor C ABI (placeholder until the ABI work lands).
