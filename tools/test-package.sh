#!/usr/bin/env bash
# Proves a host release tarball is usable by C projects (docs/targets.md):
# unpacks it in a temporary directory, builds packaging/consumer/consumer.c
# with `pkg-config --cflags --libs rknnrt` (and --static against
# librknnrt.a) and with CMake's find_package(rknnrt), runs each program,
# and runs the packaged bin/rknn_benchmark.
#
#   tools/test-package.sh target/dist/rknnrt-<ver>-x86_64-unknown-linux-gnu.tar.gz
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 <host tarball>" >&2
    exit 2
fi
tarball=$(realpath "$1")
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

echo "-- bin/rknn_benchmark"
# Without arguments it prints its usage and fails; that it starts at all
# shows the rpath finds lib/librknnrt.so.
out=$("$prefix/bin/rknn_benchmark" 2>&1 || true)
case "$out" in
Usage:*) echo "rknn_benchmark starts" ;;
*)
    echo "rknn_benchmark did not start: $out" >&2
    exit 1
    ;;
esac
echo "package ok: $tarball"
