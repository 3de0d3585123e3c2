/*
 * Checks the generated headers in include/ against the vendor ABI
 * (reference/rknn-c-api.md): sizes, alignments and member offsets of every
 * public struct (LP64, and ILP32 when __arm__ is defined), the values of
 * every enumerator and #define, the exact type of every function, and the
 * strings of the static inline helpers.
 *
 * Built by tests/abi_layout.rs as C (gcc) and as C++ (g++), and as a
 * syntax-only ILP32 check with ABI_LAYOUT_ONLY defined.
 */
#include <stddef.h>
#include <stdint.h>

#include "rknn_api.h"
#include "rknn_custom_op.h"
#include "rknn_matmul_api.h"

/* Including every header twice must be harmless (include guards). */
#include "rknn_api.h"
#include "rknn_custom_op.h"
#include "rknn_matmul_api.h"

#ifdef __cplusplus
#include <type_traits>
#define CHECK(cond, what) static_assert(cond, what)
#define ALIGNOF(T) alignof(T)
#define CHECK_FN(name, type) \
    CHECK((std::is_same<decltype(&name), type>::value), "prototype of " #name)
#else
#define CHECK(cond, what) _Static_assert(cond, what)
#define ALIGNOF(T) _Alignof(T)
#define CHECK_FN(name, type) \
    CHECK(__builtin_types_compatible_p(__typeof__(&name), type), "prototype of " #name)
#endif

#define SIZE(T, size, align)                                   \
    CHECK(sizeof(T) == (size), "sizeof(" #T ") == " #size);    \
    CHECK(ALIGNOF(T) == (align), "alignof(" #T ") == " #align)
#define OFF(T, m, off) CHECK(offsetof(T, m) == (off), "offsetof(" #T ", " #m ") == " #off)
#define MSIZE(T, m, size) CHECK(sizeof(((T *)0)->m) == (size), "sizeof(" #T "." #m ") == " #size)
#define VAL(name, value) CHECK((name) == (value), #name " == " #value)

/* ---- enums and defines (identical on every ABI) ---- */

VAL(RKNN_FLAG_PRIOR_HIGH, 0x00000000);
VAL(RKNN_FLAG_PRIOR_MEDIUM, 0x00000001);
VAL(RKNN_FLAG_PRIOR_LOW, 0x00000002);
VAL(RKNN_FLAG_ASYNC_MASK, 0x00000004);
VAL(RKNN_FLAG_COLLECT_PERF_MASK, 0x00000008);
VAL(RKNN_FLAG_MEM_ALLOC_OUTSIDE, 0x00000010);
VAL(RKNN_FLAG_SHARE_WEIGHT_MEM, 0x00000020);
VAL(RKNN_FLAG_FENCE_IN_OUTSIDE, 0x00000040);
VAL(RKNN_FLAG_FENCE_OUT_OUTSIDE, 0x00000080);
VAL(RKNN_FLAG_COLLECT_MODEL_INFO_ONLY, 0x00000100);
VAL(RKNN_FLAG_INTERNAL_ALLOC_OUTSIDE, 0x00000200);
VAL(RKNN_FLAG_EXECUTE_FALLBACK_PRIOR_DEVICE_GPU, 0x00000400);
VAL(RKNN_FLAG_ENABLE_SRAM, 0x00000800);
VAL(RKNN_FLAG_SHARE_SRAM, 0x00001000);
VAL(RKNN_FLAG_DISABLE_PROC_HIGH_PRIORITY, 0x00002000);
VAL(RKNN_FLAG_DISABLE_FLUSH_INPUT_MEM_CACHE, 0x00004000);
VAL(RKNN_FLAG_DISABLE_FLUSH_OUTPUT_MEM_CACHE, 0x00008000);
VAL(RKNN_FLAG_MODEL_BUFFER_ZERO_COPY, 0x00010000);
VAL(RKNN_MEM_FLAG_ALLOC_NO_CONTEXT, 0x00020000);

VAL(RKNN_SUCC, 0);
VAL(RKNN_ERR_FAIL, -1);
VAL(RKNN_ERR_TIMEOUT, -2);
VAL(RKNN_ERR_DEVICE_UNAVAILABLE, -3);
VAL(RKNN_ERR_MALLOC_FAIL, -4);
VAL(RKNN_ERR_PARAM_INVALID, -5);
VAL(RKNN_ERR_MODEL_INVALID, -6);
VAL(RKNN_ERR_CTX_INVALID, -7);
VAL(RKNN_ERR_INPUT_INVALID, -8);
VAL(RKNN_ERR_OUTPUT_INVALID, -9);
VAL(RKNN_ERR_DEVICE_UNMATCH, -10);
VAL(RKNN_ERR_INCOMPATILE_PRE_COMPILE_MODEL, -11);
VAL(RKNN_ERR_INCOMPATILE_OPTIMIZATION_LEVEL_VERSION, -12);
VAL(RKNN_ERR_TARGET_PLATFORM_UNMATCH, -13);
VAL(RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE, -14);

VAL(RKNN_MAX_DIMS, 16);
VAL(RKNN_MAX_NUM_CHANNEL, 15);
VAL(RKNN_MAX_NAME_LEN, 256);
VAL(RKNN_MAX_DYNAMIC_SHAPE_NUM, 512);
VAL(RKNN_CUSTOM_OP_MAX_STR_LEN, 64);
VAL(RKNN_CUSTOM_OP_MAX_VALUE_LEN, 32);

VAL(RKNN_QUERY_IN_OUT_NUM, 0);
VAL(RKNN_QUERY_INPUT_ATTR, 1);
VAL(RKNN_QUERY_OUTPUT_ATTR, 2);
VAL(RKNN_QUERY_PERF_DETAIL, 3);
VAL(RKNN_QUERY_PERF_RUN, 4);
VAL(RKNN_QUERY_SDK_VERSION, 5);
VAL(RKNN_QUERY_MEM_SIZE, 6);
VAL(RKNN_QUERY_CUSTOM_STRING, 7);
VAL(RKNN_QUERY_NATIVE_INPUT_ATTR, 8);
VAL(RKNN_QUERY_NATIVE_OUTPUT_ATTR, 9);
VAL(RKNN_QUERY_NATIVE_NC1HWC2_INPUT_ATTR, 8);
VAL(RKNN_QUERY_NATIVE_NC1HWC2_OUTPUT_ATTR, 9);
VAL(RKNN_QUERY_NATIVE_NHWC_INPUT_ATTR, 10);
VAL(RKNN_QUERY_NATIVE_NHWC_OUTPUT_ATTR, 11);
VAL(RKNN_QUERY_DEVICE_MEM_INFO, 12);
VAL(RKNN_QUERY_INPUT_DYNAMIC_RANGE, 13);
VAL(RKNN_QUERY_CURRENT_INPUT_ATTR, 14);
VAL(RKNN_QUERY_CURRENT_OUTPUT_ATTR, 15);
VAL(RKNN_QUERY_CURRENT_NATIVE_INPUT_ATTR, 16);
VAL(RKNN_QUERY_CURRENT_NATIVE_OUTPUT_ATTR, 17);
VAL(RKNN_QUERY_CMD_MAX, 18);

VAL(RKNN_TENSOR_FLOAT32, 0);
VAL(RKNN_TENSOR_FLOAT16, 1);
VAL(RKNN_TENSOR_INT8, 2);
VAL(RKNN_TENSOR_UINT8, 3);
VAL(RKNN_TENSOR_INT16, 4);
VAL(RKNN_TENSOR_UINT16, 5);
VAL(RKNN_TENSOR_INT32, 6);
VAL(RKNN_TENSOR_UINT32, 7);
VAL(RKNN_TENSOR_INT64, 8);
VAL(RKNN_TENSOR_BOOL, 9);
VAL(RKNN_TENSOR_INT4, 10);
VAL(RKNN_TENSOR_BFLOAT16, 11);
VAL(RKNN_TENSOR_TYPE_MAX, 12);

VAL(RKNN_TENSOR_QNT_NONE, 0);
VAL(RKNN_TENSOR_QNT_DFP, 1);
VAL(RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC, 2);
VAL(RKNN_TENSOR_QNT_MAX, 3);

VAL(RKNN_TENSOR_NCHW, 0);
VAL(RKNN_TENSOR_NHWC, 1);
VAL(RKNN_TENSOR_NC1HWC2, 2);
VAL(RKNN_TENSOR_UNDEFINED, 3);
VAL(RKNN_TENSOR_FORMAT_MAX, 4);

VAL(RKNN_NPU_CORE_AUTO, 0);
VAL(RKNN_NPU_CORE_0, 1);
VAL(RKNN_NPU_CORE_1, 2);
VAL(RKNN_NPU_CORE_2, 4);
VAL(RKNN_NPU_CORE_0_1, RKNN_NPU_CORE_0 | RKNN_NPU_CORE_1);
VAL(RKNN_NPU_CORE_0_1_2, 7);
VAL(RKNN_NPU_CORE_ALL, 0xffff);
VAL(RKNN_NPU_CORE_UNDEFINED, 0x10000);

VAL(RKNN_TENSOR_MEMORY_FLAGS_ALLOC_INSIDE, 1);
VAL(RKNN_TENSOR_MEMORY_FLAGS_FROM_FD, 2);
VAL(RKNN_TENSOR_MEMORY_FLAGS_FROM_PHYS, 3);
VAL(RKNN_TENSOR_MEMORY_FLAGS_UNKNOWN, 4);

VAL(RKNN_FLAG_MEMORY_FLAGS_DEFAULT, 0);
VAL(RKNN_FLAG_MEMORY_CACHEABLE, 1);
VAL(RKNN_FLAG_MEMORY_NON_CACHEABLE, 2);
VAL(RKNN_FLAG_MEMORY_TRY_ALLOC_SRAM, 4);

VAL(RKNN_MEMORY_SYNC_TO_DEVICE, 1);
VAL(RKNN_MEMORY_SYNC_FROM_DEVICE, 2);
VAL(RKNN_MEMORY_SYNC_BIDIRECTIONAL, 3);

VAL(RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32, 1);
VAL(RKNN_INT8_MM_INT8_TO_INT32, 2);
VAL(RKNN_INT8_MM_INT8_TO_INT8, 3);
VAL(RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16, 4);
VAL(RKNN_FLOAT16_MM_INT8_TO_FLOAT32, 5);
VAL(RKNN_FLOAT16_MM_INT8_TO_FLOAT16, 6);
VAL(RKNN_FLOAT16_MM_INT4_TO_FLOAT32, 7);
VAL(RKNN_FLOAT16_MM_INT4_TO_FLOAT16, 8);
VAL(RKNN_INT8_MM_INT8_TO_FLOAT32, 9);
VAL(RKNN_INT4_MM_INT4_TO_INT16, 10);
VAL(RKNN_INT8_MM_INT4_TO_INT32, 11);
VAL(RKNN_FLOAT16_MM_INT4_TO_BFLOAT16, 12);
VAL(RKNN_INT8_MM_INT4_TO_FLOAT16, 15);

VAL(RKNN_QUANT_TYPE_PER_LAYER_SYM, 0);
VAL(RKNN_QUANT_TYPE_PER_LAYER_ASYM, 1);
VAL(RKNN_QUANT_TYPE_PER_CHANNEL_SYM, 2);
VAL(RKNN_QUANT_TYPE_PER_CHANNEL_ASYM, 3);
VAL(RKNN_QUANT_TYPE_PER_GROUP_SYM, 4);
VAL(RKNN_QUANT_TYPE_PER_GROUP_ASYM, 5);

VAL(RKNN_MM_LAYOUT_NORM, 0);
VAL(RKNN_MM_LAYOUT_NATIVE, 1);
VAL(RKNN_MM_LAYOUT_TP_NORM, 2);

VAL(RKNN_TARGET_TYPE_CPU, 1);
VAL(RKNN_TARGET_TYPE_GPU, 2);
VAL(RKNN_TARGET_TYPE_MAX, 3);

/* Every enum type is 4 bytes, 4-aligned. */
SIZE(rknn_query_cmd, 4, 4);
SIZE(rknn_tensor_type, 4, 4);
SIZE(rknn_tensor_qnt_type, 4, 4);
SIZE(rknn_tensor_format, 4, 4);
SIZE(rknn_core_mask, 4, 4);
SIZE(rknn_tensor_mem_flags, 4, 4);
SIZE(rknn_mem_alloc_flags, 4, 4);
SIZE(rknn_mem_sync_mode, 4, 4);
SIZE(rknn_matmul_type, 4, 4);
SIZE(rknn_matmul_quant_type, 4, 4);
SIZE(rknn_matmul_layout, 4, 4);
SIZE(rknn_target_type, 4, 4);
SIZE(enum _rknn_query_cmd, 4, 4);
SIZE(enum _rknn_tensor_type, 4, 4);
SIZE(enum _rknn_core_mask, 4, 4);
SIZE(enum _rknn_matmul_type, 4, 4);
SIZE(enum _rknn_target_type, 4, 4);

/* ---- structs without pointers or 64-bit members (every ABI) ---- */

SIZE(rknn_input_output_num, 8, 4);
OFF(rknn_input_output_num, n_input, 0);
OFF(rknn_input_output_num, n_output, 4);

SIZE(rknn_tensor_attr, 376, 4);
OFF(rknn_tensor_attr, index, 0);
OFF(rknn_tensor_attr, n_dims, 4);
OFF(rknn_tensor_attr, dims, 8);
OFF(rknn_tensor_attr, name, 72);
OFF(rknn_tensor_attr, n_elems, 328);
OFF(rknn_tensor_attr, size, 332);
OFF(rknn_tensor_attr, fmt, 336);
OFF(rknn_tensor_attr, type, 340);
OFF(rknn_tensor_attr, qnt_type, 344);
OFF(rknn_tensor_attr, fl, 348);
OFF(rknn_tensor_attr, zp, 352);
OFF(rknn_tensor_attr, scale, 356);
OFF(rknn_tensor_attr, w_stride, 360);
OFF(rknn_tensor_attr, size_with_stride, 364);
OFF(rknn_tensor_attr, pass_through, 368);
OFF(rknn_tensor_attr, h_stride, 372);
MSIZE(rknn_tensor_attr, dims, 64);
MSIZE(rknn_tensor_attr, name, 256);

SIZE(rknn_input_range, 33040, 4);
OFF(rknn_input_range, index, 0);
OFF(rknn_input_range, shape_number, 4);
OFF(rknn_input_range, fmt, 8);
OFF(rknn_input_range, name, 12);
OFF(rknn_input_range, dyn_range, 268);
OFF(rknn_input_range, n_dims, 33036);
MSIZE(rknn_input_range, name, 256);
MSIZE(rknn_input_range, dyn_range, 32768);
MSIZE(rknn_input_range, dyn_range[0], 64);

SIZE(rknn_sdk_version, 512, 1);
OFF(rknn_sdk_version, api_version, 0);
OFF(rknn_sdk_version, drv_version, 256);
MSIZE(rknn_sdk_version, api_version, 256);
MSIZE(rknn_sdk_version, drv_version, 256);

SIZE(rknn_custom_string, 1024, 1);
OFF(rknn_custom_string, string, 0);
MSIZE(rknn_custom_string, string, 1024);

SIZE(rknn_matmul_tensor_attr, 332, 4);
OFF(rknn_matmul_tensor_attr, name, 0);
OFF(rknn_matmul_tensor_attr, n_dims, 256);
OFF(rknn_matmul_tensor_attr, dims, 260);
OFF(rknn_matmul_tensor_attr, size, 324);
OFF(rknn_matmul_tensor_attr, type, 328);
MSIZE(rknn_matmul_tensor_attr, name, 256);
MSIZE(rknn_matmul_tensor_attr, dims, 64);

SIZE(rknn_matmul_io_attr, 996, 4);
OFF(rknn_matmul_io_attr, A, 0);
OFF(rknn_matmul_io_attr, B, 332);
OFF(rknn_matmul_io_attr, C, 664);

SIZE(rknn_matmul_shape, 12, 4);
OFF(rknn_matmul_shape, M, 0);
OFF(rknn_matmul_shape, K, 4);
OFF(rknn_matmul_shape, N, 8);

SIZE(rknn_matmul_info, 64, 4);
SIZE(struct rknn_matmul_info_t, 64, 4);
OFF(rknn_matmul_info, M, 0);
OFF(rknn_matmul_info, K, 4);
OFF(rknn_matmul_info, N, 8);
OFF(rknn_matmul_info, type, 12);
OFF(rknn_matmul_info, B_layout, 16);
OFF(rknn_matmul_info, B_quant_type, 18);
OFF(rknn_matmul_info, AC_layout, 20);
OFF(rknn_matmul_info, AC_quant_type, 22);
OFF(rknn_matmul_info, iommu_domain_id, 24);
OFF(rknn_matmul_info, group_size, 28);
OFF(rknn_matmul_info, reserved, 30);
MSIZE(rknn_matmul_info, reserved, 34);

/* ---- structs with 64-bit members (LP64 and AAPCS32 agree) ---- */

SIZE(rknn_perf_run, 8, 8);
OFF(rknn_perf_run, run_duration, 0);

SIZE(rknn_mem_size, 64, 8);
OFF(rknn_mem_size, total_weight_size, 0);
OFF(rknn_mem_size, total_internal_size, 4);
OFF(rknn_mem_size, total_dma_allocated_size, 8);
OFF(rknn_mem_size, total_sram_size, 16);
OFF(rknn_mem_size, free_sram_size, 20);
OFF(rknn_mem_size, reserved, 24);
MSIZE(rknn_mem_size, reserved, 40);

SIZE(rknn_run_extend, 24, 8);
OFF(rknn_run_extend, frame_id, 0);
OFF(rknn_run_extend, non_block, 8);
OFF(rknn_run_extend, timeout_ms, 12);
OFF(rknn_run_extend, fence_fd, 16);

SIZE(rknn_output_extend, 8, 8);
OFF(rknn_output_extend, frame_id, 0);

SIZE(rknn_perf_detail, 16, 8);
OFF(rknn_perf_detail, perf_data, 0);
OFF(rknn_perf_detail, data_len, 8);

SIZE(rknn_tensor_mem, 40, 8);
SIZE(struct _rknn_tensor_memory, 40, 8);
OFF(rknn_tensor_mem, virt_addr, 0);
OFF(rknn_tensor_mem, phys_addr, 8);
OFF(rknn_tensor_mem, fd, 16);
OFF(rknn_tensor_mem, offset, 20);
OFF(rknn_tensor_mem, size, 24);
OFF(rknn_tensor_mem, flags, 28);
OFF(rknn_tensor_mem, priv_data, 32);

SIZE(rknn_custom_op_tensor, 416, 8);
OFF(rknn_custom_op_tensor, attr, 0);
OFF(rknn_custom_op_tensor, mem, 376);

/* ---- pointer-size dependent structs ---- */

#if UINTPTR_MAX == UINT64_MAX /* LP64: aarch64, x86-64 */

SIZE(rknn_context, 8, 8);
SIZE(rknn_matmul_ctx, 8, 8);
SIZE(rknn_custom_op_interal_context, 8, 8);

SIZE(rknn_input, 32, 8);
OFF(rknn_input, index, 0);
OFF(rknn_input, buf, 8);
OFF(rknn_input, size, 16);
OFF(rknn_input, pass_through, 20);
OFF(rknn_input, type, 24);
OFF(rknn_input, fmt, 28);

SIZE(rknn_output, 24, 8);
OFF(rknn_output, want_float, 0);
OFF(rknn_output, is_prealloc, 1);
OFF(rknn_output, index, 4);
OFF(rknn_output, buf, 8);
OFF(rknn_output, size, 16);

SIZE(rknn_init_extend, 136, 8);
OFF(rknn_init_extend, ctx, 0);
OFF(rknn_init_extend, real_model_offset, 8);
OFF(rknn_init_extend, real_model_size, 12);
OFF(rknn_init_extend, model_buffer_fd, 16);
OFF(rknn_init_extend, model_buffer_flags, 20);
OFF(rknn_init_extend, reserved, 24);
MSIZE(rknn_init_extend, reserved, 112);

SIZE(rknn_quant_params, 288, 8);
OFF(rknn_quant_params, name, 0);
OFF(rknn_quant_params, scale, 256);
OFF(rknn_quant_params, scale_len, 264);
OFF(rknn_quant_params, zp, 272);
OFF(rknn_quant_params, zp_len, 280);
MSIZE(rknn_quant_params, name, 256);

SIZE(rknn_gpu_op_context, 24, 8);
OFF(rknn_gpu_op_context, cl_context, 0);
OFF(rknn_gpu_op_context, cl_command_queue, 8);
OFF(rknn_gpu_op_context, cl_kernel, 16);

SIZE(rknn_custom_op_context, 48, 8);
OFF(rknn_custom_op_context, target, 0);
OFF(rknn_custom_op_context, internal_ctx, 8);
OFF(rknn_custom_op_context, gpu_ctx, 16);
OFF(rknn_custom_op_context, priv_data, 40);

SIZE(rknn_custom_op_attr, 272, 8);
OFF(rknn_custom_op_attr, name, 0);
OFF(rknn_custom_op_attr, dtype, 256);
OFF(rknn_custom_op_attr, n_elems, 260);
OFF(rknn_custom_op_attr, data, 264);
MSIZE(rknn_custom_op_attr, name, 256);

SIZE(rknn_custom_op, 832, 8);
OFF(rknn_custom_op, version, 0);
OFF(rknn_custom_op, target, 4);
OFF(rknn_custom_op, op_type, 8);
OFF(rknn_custom_op, cl_kernel_name, 264);
OFF(rknn_custom_op, cl_kernel_source, 520);
OFF(rknn_custom_op, cl_source_size, 528);
OFF(rknn_custom_op, cl_build_options, 536);
OFF(rknn_custom_op, init, 792);
OFF(rknn_custom_op, prepare, 800);
OFF(rknn_custom_op, compute, 808);
OFF(rknn_custom_op, compute_native, 816);
OFF(rknn_custom_op, destroy, 824);
MSIZE(rknn_custom_op, op_type, 256);
MSIZE(rknn_custom_op, cl_kernel_name, 256);
MSIZE(rknn_custom_op, cl_build_options, 256);

#elif defined(__arm__) /* ILP32 (AAPCS32) */

SIZE(rknn_context, 4, 4);
SIZE(rknn_matmul_ctx, 4, 4);
SIZE(rknn_custom_op_interal_context, 4, 4);

SIZE(rknn_input, 24, 4);
OFF(rknn_input, index, 0);
OFF(rknn_input, buf, 4);
OFF(rknn_input, size, 8);
OFF(rknn_input, pass_through, 12);
OFF(rknn_input, type, 16);
OFF(rknn_input, fmt, 20);

SIZE(rknn_output, 16, 4);
OFF(rknn_output, want_float, 0);
OFF(rknn_output, is_prealloc, 1);
OFF(rknn_output, index, 4);
OFF(rknn_output, buf, 8);
OFF(rknn_output, size, 12);

SIZE(rknn_init_extend, 132, 4);
OFF(rknn_init_extend, ctx, 0);
OFF(rknn_init_extend, real_model_offset, 4);
OFF(rknn_init_extend, real_model_size, 8);
OFF(rknn_init_extend, model_buffer_fd, 12);
OFF(rknn_init_extend, model_buffer_flags, 16);
OFF(rknn_init_extend, reserved, 20);
MSIZE(rknn_init_extend, reserved, 112);

SIZE(rknn_quant_params, 272, 4);
OFF(rknn_quant_params, name, 0);
OFF(rknn_quant_params, scale, 256);
OFF(rknn_quant_params, scale_len, 260);
OFF(rknn_quant_params, zp, 264);
OFF(rknn_quant_params, zp_len, 268);
MSIZE(rknn_quant_params, name, 256);

SIZE(rknn_gpu_op_context, 12, 4);
OFF(rknn_gpu_op_context, cl_context, 0);
OFF(rknn_gpu_op_context, cl_command_queue, 4);
OFF(rknn_gpu_op_context, cl_kernel, 8);

SIZE(rknn_custom_op_context, 24, 4);
OFF(rknn_custom_op_context, target, 0);
OFF(rknn_custom_op_context, internal_ctx, 4);
OFF(rknn_custom_op_context, gpu_ctx, 8);
OFF(rknn_custom_op_context, priv_data, 20);

SIZE(rknn_custom_op_attr, 268, 4);
OFF(rknn_custom_op_attr, name, 0);
OFF(rknn_custom_op_attr, dtype, 256);
OFF(rknn_custom_op_attr, n_elems, 260);
OFF(rknn_custom_op_attr, data, 264);
MSIZE(rknn_custom_op_attr, name, 256);

SIZE(rknn_custom_op, 816, 8);
OFF(rknn_custom_op, version, 0);
OFF(rknn_custom_op, target, 4);
OFF(rknn_custom_op, op_type, 8);
OFF(rknn_custom_op, cl_kernel_name, 264);
OFF(rknn_custom_op, cl_kernel_source, 520);
OFF(rknn_custom_op, cl_source_size, 528);
OFF(rknn_custom_op, cl_build_options, 536);
OFF(rknn_custom_op, init, 792);
OFF(rknn_custom_op, prepare, 796);
OFF(rknn_custom_op, compute, 800);
OFF(rknn_custom_op, compute_native, 804);
OFF(rknn_custom_op, destroy, 808);
MSIZE(rknn_custom_op, op_type, 256);
MSIZE(rknn_custom_op, cl_kernel_name, 256);
MSIZE(rknn_custom_op, cl_build_options, 256);

#else
#error "abi_layout.c knows LP64 and 32-bit ARM only"
#endif

/* ---- function types (reference §4.1-4.3) ---- */

typedef int (*custom_op_callback)(rknn_custom_op_context *, rknn_custom_op_tensor *, uint32_t,
                                  rknn_custom_op_tensor *, uint32_t);
#ifdef __cplusplus
CHECK((std::is_same<decltype(rknn_custom_op::init), custom_op_callback>::value), "init");
CHECK((std::is_same<decltype(rknn_custom_op::destroy), int (*)(rknn_custom_op_context *)>::value),
      "destroy");
CHECK((std::is_same<get_custom_op_func, rknn_custom_op *(*)()>::value), "get_custom_op_func");
#endif

CHECK_FN(rknn_init, int (*)(rknn_context *, void *, uint32_t, uint32_t, rknn_init_extend *));
CHECK_FN(rknn_dup_context, int (*)(rknn_context *, rknn_context *));
CHECK_FN(rknn_destroy, int (*)(rknn_context));
CHECK_FN(rknn_query, int (*)(rknn_context, rknn_query_cmd, void *, uint32_t));
CHECK_FN(rknn_inputs_set, int (*)(rknn_context, uint32_t, rknn_input *));
CHECK_FN(rknn_set_batch_core_num, int (*)(rknn_context, int));
CHECK_FN(rknn_set_core_mask, int (*)(rknn_context, rknn_core_mask));
CHECK_FN(rknn_run, int (*)(rknn_context, rknn_run_extend *));
CHECK_FN(rknn_wait, int (*)(rknn_context, rknn_run_extend *));
CHECK_FN(rknn_outputs_get, int (*)(rknn_context, uint32_t, rknn_output *, rknn_output_extend *));
CHECK_FN(rknn_outputs_release, int (*)(rknn_context, uint32_t, rknn_output *));
CHECK_FN(rknn_create_mem_from_phys, rknn_tensor_mem *(*)(rknn_context, uint64_t, void *, uint32_t));
CHECK_FN(rknn_create_mem_from_fd,
         rknn_tensor_mem *(*)(rknn_context, int32_t, void *, uint32_t, int32_t));
CHECK_FN(rknn_create_mem_from_mb_blk, rknn_tensor_mem *(*)(rknn_context, void *, int32_t));
CHECK_FN(rknn_create_mem, rknn_tensor_mem *(*)(rknn_context, uint32_t));
CHECK_FN(rknn_create_mem2, rknn_tensor_mem *(*)(rknn_context, uint64_t, uint64_t));
CHECK_FN(rknn_destroy_mem, int (*)(rknn_context, rknn_tensor_mem *));
CHECK_FN(rknn_set_weight_mem, int (*)(rknn_context, rknn_tensor_mem *));
CHECK_FN(rknn_set_internal_mem, int (*)(rknn_context, rknn_tensor_mem *));
CHECK_FN(rknn_set_io_mem, int (*)(rknn_context, rknn_tensor_mem *, rknn_tensor_attr *));
CHECK_FN(rknn_set_input_shape, int (*)(rknn_context, rknn_tensor_attr *));
CHECK_FN(rknn_set_input_shapes, int (*)(rknn_context, uint32_t, rknn_tensor_attr *));
CHECK_FN(rknn_mem_sync, int (*)(rknn_context, rknn_tensor_mem *, rknn_mem_sync_mode));

CHECK_FN(rknn_matmul_create, int (*)(rknn_matmul_ctx *, rknn_matmul_info *, rknn_matmul_io_attr *));
CHECK_FN(rknn_matmul_create_dynamic_shape,
         int (*)(rknn_matmul_ctx *, rknn_matmul_info *, int, rknn_matmul_shape *,
                 rknn_matmul_io_attr *));
CHECK_FN(rknn_matmul_set_io_mem,
         int (*)(rknn_matmul_ctx, rknn_tensor_mem *, rknn_matmul_tensor_attr *));
CHECK_FN(rknn_matmul_set_core_mask, int (*)(rknn_matmul_ctx, rknn_core_mask));
CHECK_FN(rknn_matmul_set_quant_params, int (*)(rknn_matmul_ctx, rknn_quant_params *));
CHECK_FN(rknn_matmul_get_quant_params, int (*)(rknn_matmul_ctx, rknn_quant_params *, float *));
CHECK_FN(rknn_matmul_set_dynamic_shape, int (*)(rknn_matmul_ctx, rknn_matmul_shape *));
CHECK_FN(rknn_matmul_run, int (*)(rknn_matmul_ctx));
CHECK_FN(rknn_matmul_destroy, int (*)(rknn_matmul_ctx));
CHECK_FN(rknn_B_normal_layout_to_native_layout,
         int (*)(void *, void *, int, int, rknn_matmul_info *));

CHECK_FN(rknn_register_custom_ops, int (*)(rknn_context, rknn_custom_op *, uint32_t));
CHECK_FN(rknn_custom_op_get_op_attr,
         void (*)(rknn_custom_op_context *, const char *, rknn_custom_op_attr *));

#ifndef ABI_LAYOUT_ONLY

#include <stdio.h>
#include <string.h>

static int failures;

static void expect(const char *what, unsigned value, const char *got, const char *want)
{
    if (strcmp(got, want) != 0) {
        printf("%s(%u) = \"%s\", want \"%s\"\n", what, value, got, want);
        failures++;
    }
}

/* Uses the enums the way vendor demos do. */
static int element_size(rknn_tensor_type type)
{
    switch (type) {
    case RKNN_TENSOR_INT8:
    case RKNN_TENSOR_UINT8:
    case RKNN_TENSOR_BOOL:
        return 1;
    case RKNN_TENSOR_FLOAT16:
    case RKNN_TENSOR_BFLOAT16:
    case RKNN_TENSOR_INT16:
    case RKNN_TENSOR_UINT16:
        return 2;
    case RKNN_TENSOR_FLOAT32:
    case RKNN_TENSOR_INT32:
    case RKNN_TENSOR_UINT32:
        return 4;
    case RKNN_TENSOR_INT64:
        return 8;
    default:
        return 0;
    }
}

int main(void)
{
    static const char *const types[] = {"FP32",  "FP16",   "INT8",  "UINT8", "INT16", "UINT16",
                                        "INT32", "UINT32", "INT64", "BOOL",  "INT4",  "BF16"};
    static const char *const qnts[] = {"NONE", "DFP", "AFFINE"};
    static const char *const fmts[] = {"NCHW", "NHWC", "NC1HWC2", "UNDEFINED"};
    static const char *const mm[] = {
        "UNKNOW",
        "RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32",
        "RKNN_INT8_MM_INT8_TO_INT32",
        "RKNN_INT8_MM_INT8_TO_INT8",
        "RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16",
        "RKNN_FLOAT16_MM_INT8_TO_FLOAT32",
        "RKNN_FLOAT16_MM_INT8_TO_FLOAT16",
        "RKNN_FLOAT16_MM_INT4_TO_FLOAT32",
        "RKNN_FLOAT16_MM_INT4_TO_FLOAT16",
        "RKNN_INT8_MM_INT8_TO_FLOAT32",
        "RKNN_INT4_MM_INT4_TO_INT16",
        "RKNN_INT8_MM_INT4_TO_INT32",
        "RKNN_FLOAT16_MM_INT4_TO_BFLOAT16",
        "UNKNOW", /* 13: unused */
        "UNKNOW", /* 14: unused */
        "UNKNOW", /* 15: RKNN_INT8_MM_INT4_TO_FLOAT16 has no case in v2.3.2 */
        "UNKNOW",
    };
    unsigned i;

    for (i = 0; i < 20; i++) {
        expect("get_type_string", i, get_type_string((rknn_tensor_type)i),
               i < sizeof(types) / sizeof(types[0]) ? types[i] : "UNKNOW");
        expect("get_qnt_type_string", i, get_qnt_type_string((rknn_tensor_qnt_type)i),
               i < sizeof(qnts) / sizeof(qnts[0]) ? qnts[i] : "UNKNOW");
        expect("get_format_string", i, get_format_string((rknn_tensor_format)i),
               i < sizeof(fmts) / sizeof(fmts[0]) ? fmts[i] : "UNKNOW");
        expect("get_matmul_type_string", i, get_matmul_type_string((rknn_matmul_type)i),
               i < sizeof(mm) / sizeof(mm[0]) ? mm[i] : "UNKNOW");
    }
    expect("get_type_string", 0xffffffffu, get_type_string((rknn_tensor_type)0xffffffffu),
           "UNKNOW");

    {
        rknn_tensor_type t = RKNN_TENSOR_UINT8;
        rknn_tensor_attr attr;
        rknn_input in;
        memset(&attr, 0, sizeof(attr));
        memset(&in, 0, sizeof(in));
        attr.type = RKNN_TENSOR_INT64;
        attr.fmt = RKNN_TENSOR_NHWC;
        attr.qnt_type = RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC;
        in.type = t;
        in.fmt = RKNN_TENSOR_NHWC;
        if (element_size(t) != 1 || element_size(attr.type) != 8 || element_size(in.type) != 1) {
            printf("enum switch gave the wrong element size\n");
            failures++;
        }
        expect("get_qnt_type_string", attr.qnt_type, get_qnt_type_string(attr.qnt_type),
               "AFFINE");
        expect("get_format_string", in.fmt, get_format_string(in.fmt), "NHWC");
    }

    if (failures != 0) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("abi_layout: ok\n");
    return 0;
}

#endif /* ABI_LAYOUT_ONLY */
