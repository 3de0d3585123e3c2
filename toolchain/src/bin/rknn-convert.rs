//! `rknn-convert`: see `rknn_toolchain::cli` and `docs/convert.md`.

fn main() -> std::process::ExitCode {
    rknn_toolchain::cli::main()
}
