#!/usr/bin/env bash
# Reports and checks the C library needs of ELF files (any architecture):
#
#   tools/check-glibc.sh <floor|""> file...
#
# Prints the highest GLIBC_ symbol version each file needs (objdump -T)
# and its NEEDED libraries (readelf -d). Fails if a file needs libstdc++
# or any library outside glibc (libc, libm, libdl, libpthread, librt,
# libutil), libgcc_s, the dynamic loader and librknnrt itself, or, when a floor is given
# (e.g. 2.17), a GLIBC_ version newer than the floor.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 <glibc floor or \"\"> <elf file>..." >&2
    exit 2
fi
floor=$1
shift

objdump_for() {
    # Debian's host objdump reads only x86; the cross binutils read theirs.
    case "$(readelf -h "$1" | sed -n 's/^ *Machine: *//p')" in
    AArch64) echo aarch64-linux-gnu-objdump ;;
    ARM) echo arm-linux-gnueabihf-objdump ;;
    *) echo objdump ;;
    esac
}

status=0
for f in "$@"; do
    top=$("$(objdump_for "$f")" -T "$f" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
    needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    echo "$(basename "$f"): highest GLIBC_${top:-none}; NEEDED: $needed"
    for lib in $needed; do
        case "$lib" in
        libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | libutil.so.* | \
            libgcc_s.so.* | ld-linux*.so.* | librknnrt.so) ;;
        *)
            echo "  FAIL: $lib is not part of glibc/libgcc (libstdc++ and others are not allowed)" >&2
            status=1
            ;;
        esac
    done
    if [ -n "$floor" ] && [ -n "$top" ] &&
        [ "$(printf '%s\n%s\n' "$top" "$floor" | sort -V | tail -n 1)" != "$floor" ]; then
        echo "  FAIL: needs GLIBC_$top, newer than the floor $floor" >&2
        status=1
    fi
done
exit $status
