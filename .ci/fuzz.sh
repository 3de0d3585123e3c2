#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time (docs/testing.md).
#   .ci/fuzz.sh [seconds-per-target]     (default 60)
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer=address, sancov);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them, so no nightly
# toolchain is needed. Each target starts from its seed corpus in
# fuzz/corpus/<target>/ (read only: new inputs go to target/fuzz-corpus/);
# a crash, panic, sanitizer report, timeout (10 s) or out-of-memory
# (2 GiB) fails the script and leaves the input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
targets=(rknn_reader inputs_set convert_input onnx_import vendor_reader)
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
cargo fuzz build
for t in "${targets[@]}"; do
    scratch="target/fuzz-corpus/$t"
    mkdir -p "$scratch"
    printf '\n--- fuzz %s for %ss ---\n' "$t" "$seconds"
    cargo fuzz run "$t" "$scratch" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
        grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)'
done
