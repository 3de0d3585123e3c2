#!/usr/bin/env bash
# Builds the release tarball of one Linux target, laid out like the vendor
# runtime directory (see docs/targets.md):
#
#   tools/package.sh x86_64-unknown-linux-gnu        # -> target/dist/rknnrt-<ver>-<target>.tar.gz
#   tools/package.sh aarch64-unknown-linux-gnu
#   tools/package.sh armv7-unknown-linux-gnueabihf
#
#   include/rknn_api.h rknn_matmul_api.h rknn_custom_op.h
#   lib/librknnrt.so (stripped) lib/librknnrt.a
#   lib/pkgconfig/rknnrt.pc
#   lib/cmake/rknnrt/rknnrtConfig.cmake rknnrtConfigVersion.cmake
#   bin/rknn_benchmark (examples/rknn_benchmark.c, rpath $ORIGIN/../lib)
#
# GLIBC floor: with cargo-zigbuild and zig (pip's `ziglang`) installed, the
# library and the benchmark link against glibc RKNNRT_GLIBC_FLOOR (default
# 2.17); without them, against the build machine's glibc. Setting
# RKNNRT_GLIBC_FLOOR explicitly makes zig mandatory. In both cases the
# script checks the result: no GLIBC_ symbol newer than the floor in use,
# and no libstdc++ (or any library outside libc/libm/libdl/libpthread/
# librt/libgcc_s/ld.so) among the NEEDED entries.
#
# Output directory: RKNNRT_DIST_DIR (default target/dist). Build files go
# to target/package so ordinary builds are not disturbed.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 <x86_64-unknown-linux-gnu|aarch64-unknown-linux-gnu|armv7-unknown-linux-gnueabihf>" >&2
    exit 2
fi
target=$1
cd "$(dirname "$0")/.."
root=$PWD

case "$target" in
x86_64-unknown-linux-gnu) cross= zig_triple=x86_64-linux-gnu pointer=8 ;;
aarch64-unknown-linux-gnu) cross=aarch64-linux-gnu- zig_triple=aarch64-linux-gnu pointer=8 ;;
armv7-unknown-linux-gnueabihf) cross=arm-linux-gnueabihf- zig_triple=arm-linux-gnueabihf pointer=4 ;;
*)
    echo "$0: unsupported target $target" >&2
    exit 2
    ;;
esac

# Native libraries a program linking librknnrt.a needs (rustc's
# native-static-libs for *-linux-gnu).
static_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}

zig_cc() {
    if command -v zig >/dev/null 2>&1; then zig cc "$@"; else python3 -m ziglang cc "$@"; fi
}
have_zig() {
    cargo zigbuild --help >/dev/null 2>&1 &&
        { command -v zig >/dev/null 2>&1 || python3 -m ziglang version >/dev/null 2>&1; }
}

floor=${RKNNRT_GLIBC_FLOOR:-}
if [ -n "$floor" ] && ! have_zig; then
    echo "$0: RKNNRT_GLIBC_FLOOR=$floor needs cargo-zigbuild and zig (cargo install cargo-zigbuild; pip install ziglang)" >&2
    exit 1
fi
if [ -z "$floor" ] && have_zig; then
    floor=2.17
fi

export CARGO_TARGET_DIR=$root/target/package
# No debug info in the packaged build (it is stripped anyway).
profile_flags=(--release --lib --config profile.release.debug=0)
if [ -n "$floor" ]; then
    echo "== $target: cargo zigbuild, glibc $floor"
    cargo zigbuild "${profile_flags[@]}" --target "$target.$floor"
    cc() { zig_cc -target "$zig_triple.$floor" "$@"; }
else
    echo "== $target: cargo build, glibc of this machine (install cargo-zigbuild and ziglang for 2.17)"
    cargo build "${profile_flags[@]}" --target "$target"
    cc() { "${cross}gcc" "$@"; }
fi
built=$CARGO_TARGET_DIR/$target/release

name=rknnrt-$version-$target
dist=${RKNNRT_DIST_DIR:-$root/target/dist}
stage=$dist/$name
rm -rf "$stage"
mkdir -p "$stage/include" "$stage/lib/pkgconfig" "$stage/lib/cmake/rknnrt" "$stage/bin"

cp include/rknn_api.h include/rknn_matmul_api.h include/rknn_custom_op.h "$stage/include/"
cp "$built/librknnrt.so" "$built/librknnrt.a" "$stage/lib/"
"${cross}strip" --strip-unneeded "$stage/lib/librknnrt.so"
"${cross}strip" --strip-debug "$stage/lib/librknnrt.a"

cc -std=c99 -O2 -Wall -Wextra -Werror -I"$stage/include" examples/rknn_benchmark.c \
    -L"$stage/lib" -lrknnrt -Wl,-rpath,'$ORIGIN/../lib' -o "$stage/bin/rknn_benchmark"
"${cross}strip" "$stage/bin/rknn_benchmark"

subst() {
    sed -e "s|@VERSION@|$version|g" -e "s|@VERSION_MAJOR@|$major|g" \
        -e "s|@VERSION_MINOR@|$minor|g" -e "s|@SIZEOF_VOID_P@|$pointer|g" \
        -e "s|@STATIC_LIBS@|$static_libs|g" \
        -e "s|@CMAKE_STATIC_LIBS@|$(echo "$static_libs" | sed 's/-l//g; s/ /;/g')|g" "$1" >"$2"
}
subst packaging/rknnrt.pc.in "$stage/lib/pkgconfig/rknnrt.pc"
subst packaging/rknnrtConfig.cmake.in "$stage/lib/cmake/rknnrt/rknnrtConfig.cmake"
subst packaging/rknnrtConfigVersion.cmake.in "$stage/lib/cmake/rknnrt/rknnrtConfigVersion.cmake"

tools/check-glibc.sh "${floor:-}" "$stage/lib/librknnrt.so" "$stage/bin/rknn_benchmark"

tar -C "$dist" -czf "$dist/$name.tar.gz" "$name"
echo "== $dist/$name.tar.gz"
