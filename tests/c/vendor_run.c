/*
 * A vendor-compiled .rknn through the C API as an application runs it:
 * rknn_init from the file, the queries an application makes (counts,
 * input/output and native attributes, SDK version, memory sizes),
 * rknn_inputs_set with float32 NCHW data, rknn_run, rknn_outputs_get
 * with want_float, then the same model loaded from a buffer and run on
 * a duplicated context, which must give the same bytes.
 *
 * Usage: vendor_run <model.rknn> <input0.f32> [<input1.f32> ...] <out-prefix>
 * Each input file holds the raw float32 NCHW data of one model input;
 * output k is written as <out-prefix><k>.f32 (raw float32, model order).
 * Run by tests/vendor_run.rs with RKNNRT_DEVICE=sim.
 * Prints "vendor_run: ok" and exits 0 on success.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rknn_api.h"

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "vendor_run:%d: check failed: %s\n", __LINE__, #cond); \
            exit(1);                                                            \
        }                                                                       \
    } while (0)

#define EXPECT_OK(call)                                                         \
    do {                                                                        \
        int ret_ = (call);                                                      \
        if (ret_ != RKNN_SUCC) {                                                \
            fprintf(stderr, "vendor_run:%d: %s returned %d\n", __LINE__, #call, \
                    ret_);                                                      \
            exit(1);                                                            \
        }                                                                       \
    } while (0)

static unsigned char *read_file(const char *path, uint32_t *size)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    CHECK(n > 0);
    CHECK(fseek(f, 0, SEEK_SET) == 0);
    unsigned char *buf = malloc((size_t)n);
    CHECK(buf != NULL);
    CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (uint32_t)n;
    return buf;
}

static void print_attr(const char *what, const rknn_tensor_attr *a)
{
    printf("%s %u: name=%s n_dims=%u dims=[", what, a->index, a->name, a->n_dims);
    for (uint32_t d = 0; d < a->n_dims; d++)
        printf(d ? ", %u" : "%u", a->dims[d]);
    printf("] n_elems=%u size=%u w_stride=%u size_with_stride=%u fmt=%s type=%s "
           "qnt_type=%s zp=%d scale=%f\n",
           a->n_elems, a->size, a->w_stride, a->size_with_stride,
           get_format_string(a->fmt), get_type_string(a->type),
           get_qnt_type_string(a->qnt_type), a->zp, a->scale);
}

/* Sets every input from `data` (float32 NCHW), runs, and returns the
 * outputs as float32 (caller frees each). */
static float **run_once(rknn_context ctx, uint32_t n_in, uint32_t n_out,
                        unsigned char **data, uint32_t *sizes, uint32_t *out_sizes)
{
    rknn_input *inputs = calloc(n_in, sizeof(rknn_input));
    CHECK(inputs != NULL);
    for (uint32_t i = 0; i < n_in; i++) {
        inputs[i].index = i;
        inputs[i].buf = data[i];
        inputs[i].size = sizes[i];
        inputs[i].type = RKNN_TENSOR_FLOAT32;
        inputs[i].fmt = RKNN_TENSOR_NCHW;
    }
    EXPECT_OK(rknn_inputs_set(ctx, n_in, inputs));
    free(inputs);
    EXPECT_OK(rknn_run(ctx, NULL));
    rknn_output *outputs = calloc(n_out, sizeof(rknn_output));
    CHECK(outputs != NULL);
    for (uint32_t k = 0; k < n_out; k++) {
        outputs[k].index = k;
        outputs[k].want_float = 1;
    }
    EXPECT_OK(rknn_outputs_get(ctx, n_out, outputs, NULL));
    float **result = calloc(n_out, sizeof(float *));
    CHECK(result != NULL);
    for (uint32_t k = 0; k < n_out; k++) {
        result[k] = malloc(outputs[k].size);
        CHECK(result[k] != NULL);
        memcpy(result[k], outputs[k].buf, outputs[k].size);
        out_sizes[k] = outputs[k].size;
    }
    EXPECT_OK(rknn_outputs_release(ctx, n_out, outputs));
    free(outputs);
    return result;
}

int main(int argc, char **argv)
{
    CHECK(argc >= 4);
    const char *model = argv[1];
    const char *prefix = argv[argc - 1];
    uint32_t given = (uint32_t)(argc - 3);

    rknn_context ctx = 0;
    EXPECT_OK(rknn_init(&ctx, (void *)model, 0, 0, NULL));

    rknn_input_output_num io;
    EXPECT_OK(rknn_query(ctx, RKNN_QUERY_IN_OUT_NUM, &io, sizeof(io)));
    CHECK(io.n_input == given);
    printf("inputs %u outputs %u\n", io.n_input, io.n_output);

    rknn_sdk_version ver;
    EXPECT_OK(rknn_query(ctx, RKNN_QUERY_SDK_VERSION, &ver, sizeof(ver)));
    printf("sdk %s driver %s\n", ver.api_version, ver.drv_version);

    rknn_mem_size mem;
    EXPECT_OK(rknn_query(ctx, RKNN_QUERY_MEM_SIZE, &mem, sizeof(mem)));
    printf("weight %u internal %u dma %llu\n", mem.total_weight_size,
           mem.total_internal_size, (unsigned long long)mem.total_dma_allocated_size);
    CHECK(mem.total_weight_size > 0 && mem.total_internal_size > 0);

    for (uint32_t i = 0; i < io.n_input; i++) {
        rknn_tensor_attr a;
        memset(&a, 0, sizeof(a));
        a.index = i;
        EXPECT_OK(rknn_query(ctx, RKNN_QUERY_INPUT_ATTR, &a, sizeof(a)));
        print_attr("input", &a);
        a.index = i;
        EXPECT_OK(rknn_query(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, &a, sizeof(a)));
        print_attr("native input", &a);
    }
    for (uint32_t k = 0; k < io.n_output; k++) {
        rknn_tensor_attr a;
        memset(&a, 0, sizeof(a));
        a.index = k;
        EXPECT_OK(rknn_query(ctx, RKNN_QUERY_OUTPUT_ATTR, &a, sizeof(a)));
        print_attr("output", &a);
        a.index = k;
        EXPECT_OK(rknn_query(ctx, RKNN_QUERY_NATIVE_OUTPUT_ATTR, &a, sizeof(a)));
        print_attr("native output", &a);
    }

    unsigned char **data = calloc(io.n_input, sizeof(unsigned char *));
    uint32_t *sizes = calloc(io.n_input, sizeof(uint32_t));
    CHECK(data != NULL && sizes != NULL);
    for (uint32_t i = 0; i < io.n_input; i++)
        data[i] = read_file(argv[2 + i], &sizes[i]);

    uint32_t *out_sizes = calloc(io.n_output, sizeof(uint32_t));
    uint32_t *dup_sizes = calloc(io.n_output, sizeof(uint32_t));
    CHECK(out_sizes != NULL && dup_sizes != NULL);
    float **first = run_once(ctx, io.n_input, io.n_output, data, sizes, out_sizes);

    /* The same file as a buffer, then a duplicate of that context. */
    uint32_t model_size = 0;
    unsigned char *bytes = read_file(model, &model_size);
    rknn_context from_buf = 0, dup = 0;
    EXPECT_OK(rknn_init(&from_buf, bytes, model_size, 0, NULL));
    free(bytes);
    EXPECT_OK(rknn_dup_context(&from_buf, &dup));
    EXPECT_OK(rknn_destroy(from_buf));
    float **again = run_once(dup, io.n_input, io.n_output, data, sizes, dup_sizes);

    for (uint32_t k = 0; k < io.n_output; k++) {
        CHECK(out_sizes[k] == dup_sizes[k]);
        CHECK(memcmp(first[k], again[k], out_sizes[k]) == 0);
        char path[4096];
        snprintf(path, sizeof(path), "%s%u.f32", prefix, k);
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        CHECK(fwrite(first[k], 1, out_sizes[k], f) == out_sizes[k]);
        fclose(f);
        free(first[k]);
        free(again[k]);
    }
    free(first);
    free(again);
    for (uint32_t i = 0; i < io.n_input; i++)
        free(data[i]);
    free(data);
    free(sizes);
    free(out_sizes);
    free(dup_sizes);
    EXPECT_OK(rknn_destroy(dup));
    EXPECT_OK(rknn_destroy(ctx));
    printf("vendor_run: ok\n");
    return 0;
}
