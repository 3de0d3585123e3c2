//! ONNX protobuf types, generated at build time by `build.rs` from the
//! vendored `proto/onnx.proto` (prost + protox).

#![allow(missing_docs, clippy::all, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
