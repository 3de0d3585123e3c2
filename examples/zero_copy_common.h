/*
 * Helpers shared by the zero-copy examples (examples/zero_copy_*.c):
 * error checks, a synthetic uint8 NHWC image, the general-API reference run
 * and the comparison of outputs. Plain C99 against the vendor rknn_api.h.
 */
#ifndef ZERO_COPY_COMMON_H
#define ZERO_COPY_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rknn_api.h"

/* Exits with a message when an RKNN call does not return RKNN_SUCC. */
#define CHECK(expr)                                                           \
    do {                                                                      \
        int check_ret_ = (expr);                                              \
        if (check_ret_ != RKNN_SUCC) {                                        \
            fprintf(stderr, "%s:%d: %s returned %d\n", __FILE__, __LINE__,    \
                    #expr, check_ret_);                                       \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

/* Exits with a message when a pointer is NULL. */
#define CHECK_PTR(p)                                                          \
    do {                                                                      \
        if ((p) == NULL) {                                                    \
            fprintf(stderr, "%s:%d: %s is NULL\n", __FILE__, __LINE__, #p);   \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

static void zc_query(rknn_context ctx, rknn_query_cmd cmd, uint32_t index,
                     rknn_tensor_attr *attr)
{
    memset(attr, 0, sizeof(*attr));
    attr->index = index;
    CHECK(rknn_query(ctx, cmd, attr, sizeof(*attr)));
}

/* A deterministic uint8 NHWC image of h x w x c (caller frees). */
static uint8_t *zc_image(uint32_t h, uint32_t w, uint32_t c, uint32_t seed)
{
    size_t n = (size_t)h * w * c;
    uint8_t *img = malloc(n);
    CHECK_PTR(img);
    for (size_t i = 0; i < n; i++)
        img[i] = (uint8_t)((i * 37 + seed * 11) % 251);
    return img;
}

/* Copies an NHWC image into memory whose rows are w_stride pixels apart. */
static void zc_fill_strided(uint8_t *dst, const uint8_t *img, uint32_t h,
                            uint32_t w, uint32_t c, uint32_t w_stride)
{
    if (w_stride == 0)
        w_stride = w;
    for (uint32_t y = 0; y < h; y++)
        memcpy(dst + (size_t)y * w_stride * c, img + (size_t)y * w * c,
               (size_t)w * c);
}

/*
 * The reference: the general API on the same model file and image
 * (uint8 NHWC in, output 0 as float32). Returns a malloc'ed copy and its
 * size in bytes.
 */
static float *zc_general(const char *model_path, const uint8_t *img,
                         size_t img_size, size_t *out_size)
{
    rknn_context ctx = 0;
    CHECK(rknn_init(&ctx, (void *)model_path, 0, 0, NULL));
    rknn_input in;
    memset(&in, 0, sizeof(in));
    in.index = 0;
    in.buf = (void *)img;
    in.size = (uint32_t)img_size;
    in.type = RKNN_TENSOR_UINT8;
    in.fmt = RKNN_TENSOR_NHWC;
    CHECK(rknn_inputs_set(ctx, 1, &in));
    CHECK(rknn_run(ctx, NULL));
    rknn_output out;
    memset(&out, 0, sizeof(out));
    out.want_float = 1;
    CHECK(rknn_outputs_get(ctx, 1, &out, NULL));
    float *copy = malloc(out.size);
    CHECK_PTR(copy);
    memcpy(copy, out.buf, out.size);
    *out_size = out.size;
    CHECK(rknn_outputs_release(ctx, 1, &out));
    CHECK(rknn_destroy(ctx));
    return copy;
}

/* 0 when the zero-copy output equals the reference byte for byte. */
static int zc_compare(const char *what, const void *got, const float *want,
                      size_t bytes)
{
    if (memcmp(got, want, bytes) != 0) {
        const float *g = got;
        for (size_t i = 0; i < bytes / 4; i++) {
            if (memcmp(&g[i], &want[i], 4) != 0) {
                printf("%s: output differs at %zu: %g vs %g\n", what, i,
                       (double)g[i], (double)want[i]);
                break;
            }
        }
        return 1;
    }
    printf("%s: zero-copy output equals the general API (%zu floats)\n", what,
           bytes / 4);
    return 0;
}

/*
 * Binds the input (native NHWC attr with the type changed to UINT8, the
 * image copied row by row to w_stride) and output 0 (float32 NCHW) of
 * `ctx` to the memories `in_mem` and `out_mem`.
 */
static void zc_bind(rknn_context ctx, rknn_tensor_mem *in_mem,
                    rknn_tensor_mem *out_mem, const uint8_t *img)
{
    rknn_tensor_attr in_attr, out_attr;
    zc_query(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0, &in_attr);
    in_attr.type = RKNN_TENSOR_UINT8;
    zc_fill_strided((uint8_t *)in_mem->virt_addr + in_mem->offset, img,
                    in_attr.dims[1], in_attr.dims[2], in_attr.dims[3],
                    in_attr.w_stride);
    CHECK(rknn_mem_sync(ctx, in_mem, RKNN_MEMORY_SYNC_TO_DEVICE));
    CHECK(rknn_set_io_mem(ctx, in_mem, &in_attr));
    zc_query(ctx, RKNN_QUERY_NATIVE_OUTPUT_ATTR, 0, &out_attr);
    out_attr.type = RKNN_TENSOR_FLOAT32;
    out_attr.fmt = RKNN_TENSOR_NCHW;
    CHECK(rknn_set_io_mem(ctx, out_mem, &out_attr));
}

/* Bytes of the input memory (native size_with_stride, uint8) and of the
 * float32 output 0 of `ctx`; also the input's h, w, c. */
static void zc_sizes(rknn_context ctx, uint32_t *in_bytes, uint32_t *out_bytes,
                     uint32_t hwc[3])
{
    rknn_tensor_attr in_attr, out_attr;
    zc_query(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0, &in_attr);
    zc_query(ctx, RKNN_QUERY_OUTPUT_ATTR, 0, &out_attr);
    *in_bytes = in_attr.dims[1] * in_attr.w_stride * in_attr.dims[3];
    *out_bytes = out_attr.n_elems * 4;
    hwc[0] = in_attr.dims[1];
    hwc[1] = in_attr.dims[2];
    hwc[2] = in_attr.dims[3];
}

#endif
