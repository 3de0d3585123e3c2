#!/usr/bin/env bash
# Proves a release tarball is complete and usable (docs/targets.md):
# unpacks it in a temporary directory and checks the layout and that the
# library is stripped. For the host (x86_64) tarball it then builds
# packaging/consumer/consumer.c with `pkg-config --cflags --libs rknnrt`
# (and --static against librknnrt.a) and with CMake's
# find_package(rknnrt), and runs each program. Finally it runs the
# packaged bin/rknn_benchmark (under qemu-user for aarch64/armv7) on
# MODEL if given, else without arguments (usage message).
#
#   tools/test-package.sh target/dist/rknnrt-<ver>-x86_64-unknown-linux-gnu.tar.gz [model.rknn]
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 <tarball> [model.rknn]" >&2
    exit 2
fi
tarball=$(realpath "$1")
model=${2:+$(realpath "$2")}
root=$(cd "$(dirname "$0")/.." && pwd)
consumer=$root/packaging/consumer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tar -C "$work" -xzf "$tarball"
prefix=$(echo "$work"/rknnrt-*)

for f in include/rknn_api.h include/rknn_matmul_api.h include/rknn_custom_op.h \
    lib/librknnrt.so lib/librknnrt.a bin/rknn_benchmark lib/pkgconfig/rknnrt.pc \
    lib/cmake/rknnrt/rknnrtConfig.cmake lib/cmake/rknnrt/rknnrtConfigVersion.cmake; do
    [ -e "$prefix/$f" ] || { echo "missing $f in $tarball" >&2; exit 1; }
done
if readelf -S "$prefix/lib/librknnrt.so" | grep -q '\.debug_\|\.symtab'; then
    echo "lib/librknnrt.so is not stripped" >&2
    exit 1
fi

case "$(readelf -h "$prefix/lib/librknnrt.so" | sed -n 's/^ *Machine: *//p')" in
AArch64) runner=(qemu-aarch64 -L /usr/aarch64-linux-gnu) ;;
ARM) runner=(qemu-arm -L /usr/arm-linux-gnueabihf) ;;
*) runner=() ;;
esac

if [ ${#runner[@]} -eq 0 ]; then
    echo "-- pkg-config"
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    pkg-config --modversion rknnrt
    # shellcheck disable=SC2046 # word splitting of the flags is intended
    gcc -std=c99 -Wall -Werror "$consumer/consumer.c" $(pkg-config --cflags --libs rknnrt) \
        -Wl,-rpath,"$prefix/lib" -o "$work/consumer_pc"
    "$work/consumer_pc"
    # shellcheck disable=SC2046
    gcc -std=c99 -Wall -Werror "$consumer/consumer.c" $(pkg-config --cflags rknnrt) \
        "$prefix/lib/librknnrt.a" $(pkg-config --static --libs-only-l rknnrt | sed 's/-lrknnrt//') \
        -o "$work/consumer_pc_static"
    "$work/consumer_pc_static"
    if readelf -d "$work/consumer_pc_static" | grep -q librknnrt; then
        echo "static consumer still needs librknnrt.so" >&2
        exit 1
    fi

    echo "-- cmake"
    cmake -S "$consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$work/build" >/dev/null
    "$work/build/consumer_shared"
    "$work/build/consumer_static"
fi

echo "-- bin/rknn_benchmark ${runner[*]}"
# The rpath ($ORIGIN/../lib) must find lib/librknnrt.so.
if [ -n "$model" ]; then
    (cd "$work" && "${runner[@]}" "$prefix/bin/rknn_benchmark" "$model" "" 2) | tee "$work/bench.txt"
    grep -q '^---- Top5 ----$' "$work/bench.txt" || { echo "rknn_benchmark gave no result" >&2; exit 1; }
else
    # Without arguments it prints its usage and fails.
    out=$("${runner[@]}" "$prefix/bin/rknn_benchmark" 2>&1 || true)
    case "$out" in
    Usage:*) echo "rknn_benchmark starts" ;;
    *)
        echo "rknn_benchmark did not start: $out" >&2
        exit 1
        ;;
    esac
fi
echo "package ok: $tarball"
