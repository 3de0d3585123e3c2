/*
 * Custom CPU operators registered from C, after the vendor's custom op
 * demos and user guide (section 5.5): a cstSoftmax with init / compute /
 * destroy and a scratch buffer in priv_data, an ArgMax replacing the
 * built-in op, and the PyTorch demo's two-input, two-output
 * cstDualResidual, all in one rknn_register_custom_ops call.
 *
 *   custom_op_cpu model.rknn in0.bin[#in1.bin...] out_dir [mode] [loops]
 *
 * Inputs are raw float32 arrays in the model's order (NCHW for 4-D
 * inputs). Each output is written to out_dir/output<i>.bin: float32 for
 * float outputs, int64 for int64 outputs. mode:
 *   app     register the three ops (default);
 *   plugin  register ArgMax only: cstSoftmax must come from a
 *           librkcst_*.so plugin (RKNNRT_OP_PLUGIN_DIR);
 *   skip    ArgMax's init returns RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE, so
 *           the runtime's built-in ArgMax runs instead.
 * The perf table is printed after the last run. Exit status 0 on success.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rknn_api.h"
#include "rknn_custom_op.h"

#define CHECK(call)                                                            \
    do {                                                                       \
        int ret_ = (call);                                                     \
        if (ret_ < 0) {                                                        \
            fprintf(stderr, "%s failed: %d\n", #call, ret_);                   \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static int g_skip_argmax;
static int g_destroyed;

/* The tensor's data: virtual base address plus offset. */
static void *tensor_data(const rknn_custom_op_tensor *t)
{
    return (unsigned char *)t->mem.virt_addr + t->mem.offset;
}

/* An INT64 attribute with one element, or `fallback`. */
static int64_t int_attr(rknn_custom_op_context *op_ctx, const char *name, int64_t fallback)
{
    rknn_custom_op_attr a;
    rknn_custom_op_get_op_attr(op_ctx, name, &a);
    if (a.n_elems == 1 && a.dtype == RKNN_TENSOR_INT64)
        return ((int64_t *)a.data)[0];
    return fallback;
}

/* outside x channel x inside sizes around `axis` of a tensor. */
static void split_dims(const rknn_tensor_attr *attr, int axis, size_t *outside,
                       size_t *channel, size_t *inside)
{
    *outside = *channel = *inside = 1;
    for (int i = 0; i < (int)attr->n_dims; i++) {
        if (i < axis)
            *outside *= attr->dims[i];
        else if (i == axis)
            *channel = attr->dims[i];
        else
            *inside *= attr->dims[i];
    }
}

static int softmax_init(rknn_custom_op_context *op_ctx, rknn_custom_op_tensor *inputs,
                        uint32_t n_inputs, rknn_custom_op_tensor *outputs, uint32_t n_outputs)
{
    (void)outputs;
    if (n_inputs != 1 || n_outputs != 1)
        return -1;
    op_ctx->priv_data = malloc(inputs[0].attr.n_elems * sizeof(float));
    return op_ctx->priv_data ? 0 : -1;
}

static int softmax_compute(rknn_custom_op_context *op_ctx, rknn_custom_op_tensor *inputs,
                           uint32_t n_inputs, rknn_custom_op_tensor *outputs,
                           uint32_t n_outputs)
{
    (void)n_inputs;
    (void)n_outputs;
    const float *in = tensor_data(&inputs[0]);
    float *out = tensor_data(&outputs[0]);
    float *tmp = op_ctx->priv_data;
    rknn_custom_op_attr name;
    rknn_custom_op_get_op_attr(op_ctx, "name", &name);
    if (name.n_elems == 0 || name.dtype != RKNN_TENSOR_UINT8)
        return -1;
    int axis = (int)int_attr(op_ctx, "axis", -1);
    while (axis < 0)
        axis += (int)inputs[0].attr.n_dims;
    size_t outside, channel, inside;
    split_dims(&inputs[0].attr, axis, &outside, &channel, &inside);
    for (size_t o = 0; o < outside; o++) {
        for (size_t i = 0; i < inside; i++) {
            const float *x = in + o * channel * inside + i;
            float *y = out + o * channel * inside + i;
            float *t = tmp + o * channel * inside + i;
            float max = -FLT_MAX, sum = 0.0f;
            for (size_t c = 0; c < channel; c++)
                max = fmaxf(max, x[c * inside]);
            for (size_t c = 0; c < channel; c++) {
                t[c * inside] = expf(x[c * inside] - max);
                sum += t[c * inside];
            }
            for (size_t c = 0; c < channel; c++)
                y[c * inside] = t[c * inside] / sum;
        }
    }
    return 0;
}

static int softmax_destroy(rknn_custom_op_context *op_ctx)
{
    free(op_ctx->priv_data);
    op_ctx->priv_data = NULL;
    g_destroyed++;
    return 0;
}

static int argmax_init(rknn_custom_op_context *op_ctx, rknn_custom_op_tensor *inputs,
                       uint32_t n_inputs, rknn_custom_op_tensor *outputs, uint32_t n_outputs)
{
    (void)op_ctx;
    (void)inputs;
    (void)n_inputs;
    (void)n_outputs;
    if (outputs[0].attr.type != RKNN_TENSOR_INT64)
        return -1;
    return g_skip_argmax ? RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE : 0;
}

/* Index of the first maximum along `axis`, as int64. */
static int argmax_compute(rknn_custom_op_context *op_ctx, rknn_custom_op_tensor *inputs,
                          uint32_t n_inputs, rknn_custom_op_tensor *outputs,
                          uint32_t n_outputs)
{
    (void)n_inputs;
    (void)n_outputs;
    const float *in = tensor_data(&inputs[0]);
    int64_t *out = tensor_data(&outputs[0]);
    int axis = (int)int_attr(op_ctx, "axis", 0);
    while (axis < 0)
        axis += (int)inputs[0].attr.n_dims;
    size_t outside, channel, inside;
    split_dims(&inputs[0].attr, axis, &outside, &channel, &inside);
    for (size_t o = 0; o < outside; o++) {
        for (size_t i = 0; i < inside; i++) {
            const float *x = in + o * channel * inside + i;
            size_t best = 0;
            for (size_t c = 1; c < channel; c++)
                if (x[c * inside] > x[best * inside])
                    best = c;
            out[o * inside + i] = (int64_t)best;
        }
    }
    return 0;
}

static int dual_residual_compute(rknn_custom_op_context *op_ctx,
                                 rknn_custom_op_tensor *inputs, uint32_t n_inputs,
                                 rknn_custom_op_tensor *outputs, uint32_t n_outputs)
{
    if (n_inputs != 2 || n_outputs != 2)
        return -1;
    rknn_custom_op_attr alpha;
    rknn_custom_op_get_op_attr(op_ctx, "alpha", &alpha);
    if (alpha.n_elems != 1 || alpha.dtype != RKNN_TENSOR_FLOAT32)
        return -1;
    float a = ((float *)alpha.data)[0];
    const float *x = tensor_data(&inputs[0]);
    const float *y = tensor_data(&inputs[1]);
    float *o0 = tensor_data(&outputs[0]);
    float *o1 = tensor_data(&outputs[1]);
    for (uint32_t i = 0; i < outputs[0].attr.n_elems; i++) {
        o0[i] = x[i] * a - y[i];
        o1[i] = y[i] * a - x[i];
    }
    return 0;
}

static rknn_custom_op make_op(const char *type, int (*compute)(rknn_custom_op_context *,
                                                               rknn_custom_op_tensor *, uint32_t,
                                                               rknn_custom_op_tensor *, uint32_t))
{
    rknn_custom_op op;
    memset(&op, 0, sizeof(op));
    strncpy(op.op_type, type, RKNN_MAX_NAME_LEN - 1);
    op.version = 1;
    op.target = RKNN_TARGET_TYPE_CPU;
    op.compute = compute;
    return op;
}

static void *read_file(const char *path, size_t want)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    void *buf = malloc(want);
    size_t got = buf ? fread(buf, 1, want, f) : 0;
    fclose(f);
    if (got != want) {
        fprintf(stderr, "%s: read %zu bytes, need %zu\n", path, got, want);
        exit(1);
    }
    return buf;
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s model.rknn in0.bin[#in1.bin...] out_dir [app|plugin|skip] [loops]\n",
                argv[0]);
        return 2;
    }
    const char *mode = argc > 4 ? argv[4] : "app";
    int loops = argc > 5 ? atoi(argv[5]) : 2;
    g_skip_argmax = strcmp(mode, "skip") == 0;

    rknn_context ctx = 0;
    CHECK(rknn_init(&ctx, argv[1], 0, RKNN_FLAG_COLLECT_PERF_MASK, NULL));

    rknn_custom_op ops[3];
    uint32_t n_ops = 0;
    if (strcmp(mode, "plugin") != 0) {
        ops[n_ops] = make_op("cstSoftmax", softmax_compute);
        ops[n_ops].init = softmax_init;
        ops[n_ops].destroy = softmax_destroy;
        n_ops++;
        ops[n_ops++] = make_op("cstDualResidual", dual_residual_compute);
    }
    ops[n_ops] = make_op("ArgMax", argmax_compute);
    ops[n_ops].init = argmax_init;
    n_ops++;
    CHECK(rknn_register_custom_ops(ctx, ops, n_ops));
    printf("registered %u custom ops (%s)\n", n_ops, mode);

    rknn_input_output_num io;
    CHECK(rknn_query(ctx, RKNN_QUERY_IN_OUT_NUM, &io, sizeof(io)));
    rknn_input *inputs = calloc(io.n_input, sizeof(rknn_input));
    size_t paths_len = strlen(argv[2]) + 1;
    char *paths = malloc(paths_len);
    if (!paths)
        return 1;
    memcpy(paths, argv[2], paths_len);
    char *next = paths;
    for (uint32_t i = 0; i < io.n_input; i++) {
        rknn_tensor_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.index = i;
        CHECK(rknn_query(ctx, RKNN_QUERY_INPUT_ATTR, &attr, sizeof(attr)));
        char *path = next;
        if (!path) {
            fprintf(stderr, "the model has %u inputs\n", io.n_input);
            return 1;
        }
        char *hash = strchr(path, '#');
        next = hash ? hash + 1 : NULL;
        if (hash)
            *hash = '\0';
        inputs[i].index = i;
        inputs[i].type = RKNN_TENSOR_FLOAT32;
        inputs[i].fmt = attr.n_dims == 4 ? RKNN_TENSOR_NCHW : RKNN_TENSOR_UNDEFINED;
        inputs[i].size = attr.n_elems * sizeof(float);
        inputs[i].buf = read_file(path, inputs[i].size);
    }
    free(paths);

    for (int l = 0; l < loops; l++) {
        CHECK(rknn_inputs_set(ctx, io.n_input, inputs));
        CHECK(rknn_run(ctx, NULL));
    }

    rknn_output *outputs = calloc(io.n_output, sizeof(rknn_output));
    for (uint32_t i = 0; i < io.n_output; i++) {
        rknn_tensor_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.index = i;
        CHECK(rknn_query(ctx, RKNN_QUERY_OUTPUT_ATTR, &attr, sizeof(attr)));
        outputs[i].index = i;
        outputs[i].want_float = attr.type != RKNN_TENSOR_INT64;
    }
    CHECK(rknn_outputs_get(ctx, io.n_output, outputs, NULL));
    for (uint32_t i = 0; i < io.n_output; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/output%u.bin", argv[3], i);
        write_file(path, outputs[i].buf, outputs[i].size);
        printf("output %u: %u bytes -> %s\n", i, outputs[i].size, path);
    }
    CHECK(rknn_outputs_release(ctx, io.n_output, outputs));

    rknn_perf_detail perf;
    CHECK(rknn_query(ctx, RKNN_QUERY_PERF_DETAIL, &perf, sizeof(perf)));
    printf("%s", perf.perf_data);

    CHECK(rknn_destroy(ctx));
    printf("destroy callbacks: %d\n", g_destroyed);
    for (uint32_t i = 0; i < io.n_input; i++)
        free(inputs[i].buf);
    free(inputs);
    free(outputs);
    return 0;
}
