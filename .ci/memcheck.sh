#!/usr/bin/env bash
# Memory check of the C programs against the debug librknnrt.so under
# valgrind memcheck: no invalid reads/writes, no uses of uninitialised
# values, no definite leaks (docs/testing.md). Programs:
#   examples/rknn_benchmark.c  on an f32 and an int8 model (2 runs each)
#   tests/c/capi_flow.c        the general C API end to end, error paths too
#   tests/c/abi_layout.c       the C ABI layout checks
#   examples/zero_copy_*.c     the zero-copy examples on the f32 and int8
#                              conv chain models
#   examples/multi_context_threads.c  rknn_dup_context from 4 pthreads on
#                              the int8 conv chain model
#   examples/rknn_dynshape_demo.c  dynamic shapes: three shape sets, general
#                              and zero-copy flows (docs/dynamic_shapes.md)
#   examples/custom_op_cpu.c   custom ops registered from C (and skipped for
#                              the built-in ArgMax), and cstSoftmax from the
#                              plugin examples/custom_op_plugin.c
#   tests/c/custom_op_errors.c the custom-op error paths
#   tests/c/vendor_run.c       a vendor-compiled model (multi_io, int8) on the
#                              virtual NPU (RKNNRT_DEVICE=sim), from a file and
#                              from a buffer, on a duplicated context
# The models are written by `cargo run --example write_test_models`; the
# dynamic-shape model is converted from toolchain/tests/models/dynamic/ and
# the custom-op models from toolchain/tests/custom_ops/*.onnx by rknn-convert.
# Exit status: 0 clean, non-zero on a build failure or any valgrind error.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
command -v gcc >/dev/null || { apt-get update -qq && apt-get install -y -qq gcc; }

out=target/memcheck
rm -rf "$out"
mkdir -p "$out"
cargo build -q --lib
cargo build -q -p rknn-toolchain --bin rknn-convert
cargo run -q --example write_test_models -- "$out" >/dev/null
dyn_data=toolchain/tests/models/dynamic
cargo run -q -p rknn-toolchain --bin rknn-convert -- build "$dyn_data/model.onnx" -t rk3588 \
    --fp16 --mean 0,0,0 --std 255,255,255 --dynamic-input "1,3,24,40;1,3,32,32;1,3,17,21" \
    --no-progress --quiet -o "$out/dynamic_fp16.rknn" >/dev/null
cop=toolchain/tests/custom_ops
target/debug/rknn-convert build "$cop/softmax_argmax.onnx" -t rk3588 --quiet --no-progress \
    --custom-op cstSoftmax=same-as-input --custom-op ArgMax=builtin -o "$out/softmax_argmax.rknn"
target/debug/rknn-convert build "$cop/dual_residual.onnx" -t rk3588 --quiet --no-progress \
    --custom-op cstDualResidual=same-as-input -o "$out/dual_residual.rknn"
lib="$PWD/target/debug"

cc() { # cc <source> <exe> [extra flags...]
    local src=$1 exe=$2
    shift 2
    gcc -std=c99 -g -O1 -Wall -Wextra -Werror -Iinclude "$@" "$src" \
        -L"$lib" -Wl,-rpath,"$lib" -lrknnrt -lm -o "$out/$exe"
}
cc examples/rknn_benchmark.c rknn_benchmark
cc tests/c/capi_flow.c capi_flow
for zc in runtime_mem from_fd alloc_outside internal_reuse; do
    cc "examples/zero_copy_$zc.c" "zero_copy_$zc"
done
cc examples/multi_context_threads.c multi_context_threads -pthread
cc examples/rknn_dynshape_demo.c rknn_dynshape_demo
gcc -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude tests/c/abi_layout.c -o "$out/abi_layout"
cc examples/custom_op_cpu.c custom_op_cpu
cc tests/c/custom_op_errors.c custom_op_errors
cc tests/c/vendor_run.c vendor_run
vendor=../shared/fixtures/vendor/multi_io
for x in a b; do # raw float32 NCHW inputs for vendor_run.c
    python3 -c 'import sys, numpy; numpy.load(sys.argv[1]).astype("<f4").tofile(sys.argv[2])' \
        "$vendor/inputs/s0_$x.npy" "$out/vendor_$x.f32"
done
mkdir -p "$out/plugins" "$out/no_plugins"
cc examples/custom_op_plugin.c plugins/librkcst_softmax.so -shared -fPIC

failed=0
check() { # check <name> <command...>
    local name=$1
    shift
    local log="$out/$name.valgrind.log"
    if LD_LIBRARY_PATH="$lib" RKNN_LOG_LEVEL=0 valgrind --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-origins=yes \
        --log-file="$log" "$@" >"$out/$name.stdout" 2>"$out/$name.stderr"; then
        printf 'memcheck %-22s ok\n' "$name"
    else
        printf 'memcheck %-22s FAILED (exit %d)\n' "$name" "$?"
        cat "$log" "$out/$name.stdout" "$out/$name.stderr"
        failed=1
    fi
}
check benchmark_f32 "$out/rknn_benchmark" "$out/relu_f32.rknn" "" 2
check benchmark_int8 "$out/rknn_benchmark" "$out/conv_int8.rknn" "" 2
check capi_flow "$out/capi_flow" "$out/relu_f32.rknn" "$out/conv_int8.rknn"
check abi_layout "$out/abi_layout"
for model in conv_chain_f32 conv_chain_int8; do
    check "zc_runtime_mem_$model" "$out/zero_copy_runtime_mem" "$out/$model.rknn" 2
    check "zc_from_fd_$model" "$out/zero_copy_from_fd" "$out/$model.rknn"
    check "zc_alloc_outside_$model" "$out/zero_copy_alloc_outside" "$out/$model.rknn"
done
check multi_context_threads "$out/multi_context_threads" "$out/conv_chain_int8.rknn" 10
check zc_internal_reuse "$out/zero_copy_internal_reuse" "$out/conv_chain_f32.rknn" \
    "$out/conv_chain_int8.rknn" 2
check dynshape_demo "$out/rknn_dynshape_demo" "$out/dynamic_fp16.rknn" "$dyn_data" 0.9999 1
for mode in app skip; do
    check "custom_op_$mode" "$out/custom_op_cpu" "$out/softmax_argmax.rknn" \
        "$cop/softmax_argmax_input.bin" "$out" "$mode"
done
check custom_op_dual "$out/custom_op_cpu" "$out/dual_residual.rknn" \
    "$cop/dual_residual_input0.bin#$cop/dual_residual_input1.bin" "$out"
RKNNRT_OP_PLUGIN_DIR="$out/plugins" check custom_op_plugin "$out/custom_op_cpu" \
    "$out/softmax_argmax.rknn" "$cop/softmax_argmax_input.bin" "$out" plugin
RKNNRT_OP_PLUGIN_DIR="$out/no_plugins" RKNNRT_OPENCL_LIB=/nonexistent/libOpenCL.so \
    check custom_op_errors "$out/custom_op_errors" "$out/softmax_argmax.rknn"
RKNNRT_DEVICE=sim check vendor_run "$out/vendor_run" "$vendor/multi_io.rk3588.i8.rknn" \
    "$out/vendor_a.f32" "$out/vendor_b.f32" "$out/vendor_out_"
exit "$failed"
