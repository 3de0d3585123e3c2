#!/usr/bin/env bash
# Runs a cargo command for a target triple, with the C compiler and the
# qemu-user runner the integration tests need (see docs/targets.md):
#
#   tools/cross.sh aarch64-unknown-linux-gnu test --workspace
#   tools/cross.sh armv7-unknown-linux-gnueabihf test --workspace
#   tools/cross.sh aarch64-linux-android check --lib
#
# Linkers and cargo's own runners come from .cargo/config.toml; this script
# adds RKNNRT_TEST_CC / RKNNRT_TEST_RUNNER (read by tests/cross) and
# --target. For the host triple it only adds --target.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 <target-triple> <cargo subcommand> [args...]" >&2
    exit 2
fi
target=$1
sub=$2
shift 2

case "$target" in
aarch64-unknown-linux-gnu)
    export RKNNRT_TEST_CC=aarch64-linux-gnu-gcc
    export RKNNRT_TEST_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
    ;;
armv7-unknown-linux-gnueabihf)
    export RKNNRT_TEST_CC=arm-linux-gnueabihf-gcc
    export RKNNRT_TEST_RUNNER="qemu-arm -L /usr/arm-linux-gnueabihf"
    ;;
x86_64-unknown-linux-gnu | aarch64-linux-android | armv7-linux-androideabi) ;;
*)
    echo "$0: unknown target $target" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")/.."
exec cargo "$sub" --target "$target" "$@"
