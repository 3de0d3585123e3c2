//! Generates the ONNX protobuf types (`prost`) from the vendored
//! `proto/onnx.proto` with the pure-Rust `protox` compiler: no `protoc`
//! and no network at build time.

fn main() {
    let proto = "proto/onnx.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = match protox::compile([proto], ["proto"]) {
        Ok(fds) => fds,
        Err(e) => panic!("cannot compile {proto}: {e}"),
    };
    if let Err(e) = prost_build::Config::new().compile_fds(fds) {
        panic!("cannot generate Rust types from {proto}: {e}");
    }
}
