/*
 * The general C API end to end, as a C application uses it, with every
 * return value checked: rknn_init from a path and from a buffer, every
 * query, rknn_inputs_set in several types and formats, rknn_run,
 * rknn_outputs_get (want_float 0/1, runtime-allocated and preallocated),
 * rknn_outputs_release, rknn_dup_context, rknn_destroy, and the error
 * paths (double release, bad indices, bad sizes, stale contexts).
 *
 * Usage: capi_flow <relu_f32.rknn> <conv_int8.rknn>
 * (the models of tests/common/mod.rs, written by the harness
 * tests/capi_flow.rs or `cargo run --example write_test_models`).
 * Exit status 0 and "capi_flow: all checks passed" on success; built and
 * run under valgrind by .ci/memcheck.sh.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rknn_api.h"

static int g_checks;

#define CHECK(cond)                                                              \
    do {                                                                         \
        g_checks++;                                                              \
        if (!(cond)) {                                                           \
            fprintf(stderr, "capi_flow:%d: check failed: %s\n", __LINE__, #cond); \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

/* `call` must return `want`. */
#define EXPECT(call, want)                                                         \
    do {                                                                           \
        int ret_ = (call);                                                         \
        g_checks++;                                                                \
        if (ret_ != (want)) {                                                      \
            fprintf(stderr, "capi_flow:%d: %s returned %d, expected %d (%s)\n",    \
                    __LINE__, #call, ret_, (int)(want), #want);                    \
            exit(1);                                                               \
        }                                                                          \
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

static void query_attr(rknn_context ctx, rknn_query_cmd cmd, uint32_t index, rknn_tensor_attr *a)
{
    memset(a, 0, sizeof(*a));
    a->index = index;
    EXPECT(rknn_query(ctx, cmd, a, sizeof(*a)), RKNN_SUCC);
    CHECK(a->index == index);
    CHECK(a->n_dims >= 1 && a->n_dims <= RKNN_MAX_DIMS);
    CHECK(memchr(a->name, '\0', sizeof(a->name)) != NULL);
}

/* IEEE half bits of `v`, exact for the multiples of 1/4 in [-8, 8]. */
static uint16_t half_bits(float v)
{
    uint32_t x;
    memcpy(&x, &v, sizeof(x));
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    if ((x & 0x7fffffffu) == 0)
        return sign;
    int exp = (int)((x >> 23) & 0xff) - 127 + 15;
    return (uint16_t)(sign | (uint16_t)(exp << 10) | (uint16_t)((x >> 13) & 0x3ffu));
}

/* Sets one input of the Relu model (x [1,3,4,4]). */
static int set_input(rknn_context ctx, void *buf, uint32_t size, rknn_tensor_type type,
                     rknn_tensor_format fmt)
{
    rknn_input in;
    memset(&in, 0, sizeof(in));
    in.index = 0;
    in.buf = buf;
    in.size = size;
    in.type = type;
    in.fmt = fmt;
    return rknn_inputs_set(ctx, 1, &in);
}

/* Runs and checks that the float output equals relu(want_nchw). */
static void run_and_check_relu(rknn_context ctx, const float *x_nchw)
{
    EXPECT(rknn_run(ctx, NULL), RKNN_SUCC);
    rknn_output out;
    memset(&out, 0, sizeof(out));
    out.want_float = 1;
    EXPECT(rknn_outputs_get(ctx, 1, &out, NULL), RKNN_SUCC);
    CHECK(out.buf != NULL);
    CHECK(out.size == 48 * sizeof(float));
    const float *y = out.buf;
    for (int i = 0; i < 48; i++)
        CHECK(y[i] == (x_nchw[i] > 0.0f ? x_nchw[i] : 0.0f));
    EXPECT(rknn_outputs_release(ctx, 1, &out), RKNN_SUCC);
    CHECK(out.buf == NULL);
}

static void relu_flow(const char *path)
{
    rknn_context ctx = 0;
    EXPECT(rknn_init(&ctx, (void *)path, 0, RKNN_FLAG_COLLECT_PERF_MASK, NULL), RKNN_SUCC);
    CHECK(ctx != 0);

    /* Every query. */
    rknn_input_output_num num;
    EXPECT(rknn_query(ctx, RKNN_QUERY_IN_OUT_NUM, &num, sizeof(num)), RKNN_SUCC);
    CHECK(num.n_input == 1 && num.n_output == 1);
    EXPECT(rknn_query(ctx, RKNN_QUERY_IN_OUT_NUM, &num, sizeof(num) - 1), RKNN_ERR_PARAM_INVALID);
    EXPECT(rknn_query(ctx, RKNN_QUERY_IN_OUT_NUM, NULL, sizeof(num)), RKNN_ERR_PARAM_INVALID);

    rknn_tensor_attr a;
    query_attr(ctx, RKNN_QUERY_INPUT_ATTR, 0, &a);
    CHECK(a.n_elems == 48 && a.type == RKNN_TENSOR_FLOAT32 && a.size == 48 * 4);
    CHECK(strcmp(a.name, "x") == 0);
    query_attr(ctx, RKNN_QUERY_OUTPUT_ATTR, 0, &a);
    CHECK(a.n_elems == 48 && strcmp(a.name, "y") == 0);
    static const rknn_query_cmd attr_cmds[][2] = {
        {RKNN_QUERY_NATIVE_INPUT_ATTR, 1},         {RKNN_QUERY_NATIVE_OUTPUT_ATTR, 0},
        {RKNN_QUERY_NATIVE_NHWC_INPUT_ATTR, 1},    {RKNN_QUERY_NATIVE_NHWC_OUTPUT_ATTR, 0},
        {RKNN_QUERY_CURRENT_INPUT_ATTR, 1},        {RKNN_QUERY_CURRENT_OUTPUT_ATTR, 0},
        {RKNN_QUERY_CURRENT_NATIVE_INPUT_ATTR, 1}, {RKNN_QUERY_CURRENT_NATIVE_OUTPUT_ATTR, 0},
    };
    for (size_t i = 0; i < sizeof(attr_cmds) / sizeof(attr_cmds[0]); i++) {
        query_attr(ctx, attr_cmds[i][0], 0, &a);
        CHECK(a.n_elems == 48);
    }
    memset(&a, 0, sizeof(a));
    a.index = 1;
    CHECK(rknn_query(ctx, RKNN_QUERY_INPUT_ATTR, &a, sizeof(a)) < 0);
    a.index = 0;
    EXPECT(rknn_query(ctx, RKNN_QUERY_INPUT_ATTR, &a, sizeof(a) - 4), RKNN_ERR_PARAM_INVALID);

    rknn_sdk_version ver;
    EXPECT(rknn_query(ctx, RKNN_QUERY_SDK_VERSION, &ver, sizeof(ver)), RKNN_SUCC);
    CHECK(ver.api_version[0] != '\0' && ver.drv_version[0] != '\0');
    rknn_mem_size mem;
    EXPECT(rknn_query(ctx, RKNN_QUERY_MEM_SIZE, &mem, sizeof(mem)), RKNN_SUCC);
    rknn_custom_string custom;
    EXPECT(rknn_query(ctx, RKNN_QUERY_CUSTOM_STRING, &custom, sizeof(custom)), RKNN_SUCC);
    CHECK(strcmp(custom.string, "relu test model") == 0);
    rknn_perf_run perf_run;
    EXPECT(rknn_query(ctx, RKNN_QUERY_PERF_RUN, &perf_run, sizeof(perf_run)), RKNN_ERR_FAIL);
    rknn_perf_detail detail;
    EXPECT(rknn_query(ctx, RKNN_QUERY_PERF_DETAIL, &detail, sizeof(detail)), RKNN_ERR_FAIL);
    EXPECT(rknn_query(ctx, RKNN_QUERY_DEVICE_MEM_INFO, &mem, sizeof(mem)), RKNN_ERR_FAIL);
    EXPECT(rknn_query(ctx, RKNN_QUERY_INPUT_DYNAMIC_RANGE, &mem, sizeof(mem)),
           RKNN_ERR_MODEL_INVALID);
    EXPECT(rknn_query(ctx, RKNN_QUERY_CMD_MAX + 100, &mem, sizeof(mem)), RKNN_ERR_PARAM_INVALID);

    /* outputs_get before any run. */
    rknn_output out;
    memset(&out, 0, sizeof(out));
    EXPECT(rknn_outputs_get(ctx, 1, &out, NULL), RKNN_ERR_FAIL);

    /* float32 NCHW, float32 NHWC, float16 NHWC, uint8 NHWC inputs. */
    float x[48], x_nhwc[48];
    uint16_t h_nhwc[48];
    uint8_t u_nhwc[48];
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 16; i++) {
            float v = (float)(c * 16 + i - 20) / 4.0f;
            x[c * 16 + i] = v;
            x_nhwc[i * 3 + c] = v;
            h_nhwc[i * 3 + c] = half_bits(v);
        }
    EXPECT(set_input(ctx, x, sizeof(x), RKNN_TENSOR_FLOAT32, RKNN_TENSOR_NCHW), RKNN_SUCC);
    run_and_check_relu(ctx, x);
    EXPECT(set_input(ctx, x_nhwc, sizeof(x_nhwc), RKNN_TENSOR_FLOAT32, RKNN_TENSOR_NHWC), RKNN_SUCC);
    run_and_check_relu(ctx, x);
    EXPECT(set_input(ctx, h_nhwc, sizeof(h_nhwc), RKNN_TENSOR_FLOAT16, RKNN_TENSOR_NHWC), RKNN_SUCC);
    run_and_check_relu(ctx, x);
    float u_nchw[48];
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 16; i++) {
            u_nhwc[i * 3 + c] = (uint8_t)(c * 16 + i);
            u_nchw[c * 16 + i] = (float)(c * 16 + i);
        }
    EXPECT(set_input(ctx, u_nhwc, sizeof(u_nhwc), RKNN_TENSOR_UINT8, RKNN_TENSOR_NHWC), RKNN_SUCC);
    run_and_check_relu(ctx, u_nchw);

    /* Performance queries after a run. */
    EXPECT(rknn_query(ctx, RKNN_QUERY_PERF_RUN, &perf_run, sizeof(perf_run)), RKNN_SUCC);
    CHECK(perf_run.run_duration >= 0);
    EXPECT(rknn_query(ctx, RKNN_QUERY_PERF_DETAIL, &detail, sizeof(detail)), RKNN_SUCC);
    CHECK(detail.perf_data != NULL && detail.data_len > 0);
    CHECK(strlen(detail.perf_data) == detail.data_len);

    /* Preallocated float output, then an output buffer one byte short. */
    float y[48];
    memset(&out, 0, sizeof(out));
    out.want_float = 1;
    out.is_prealloc = 1;
    out.buf = y;
    out.size = sizeof(y);
    EXPECT(rknn_outputs_get(ctx, 1, &out, NULL), RKNN_SUCC);
    for (int i = 0; i < 48; i++)
        CHECK(y[i] == u_nchw[i]);
    EXPECT(rknn_outputs_release(ctx, 1, &out), RKNN_SUCC);
    CHECK(out.buf == y);
    out.size = sizeof(y) - 1;
    EXPECT(rknn_outputs_get(ctx, 1, &out, NULL), RKNN_ERR_OUTPUT_INVALID);

    /* Input error paths; the context stays usable. */
    rknn_input ins[2];
    memset(ins, 0, sizeof(ins));
    ins[0].buf = x;
    ins[0].size = sizeof(x);
    ins[0].type = RKNN_TENSOR_FLOAT32;
    ins[0].fmt = RKNN_TENSOR_NCHW;
    ins[1] = ins[0];
    EXPECT(rknn_inputs_set(ctx, 2, ins), RKNN_ERR_PARAM_INVALID);
    EXPECT(rknn_inputs_set(ctx, 1, NULL), RKNN_ERR_PARAM_INVALID);
    EXPECT(set_input(ctx, x, sizeof(x) - 1, RKNN_TENSOR_FLOAT32, RKNN_TENSOR_NCHW),
           RKNN_ERR_INPUT_INVALID);
    EXPECT(set_input(ctx, NULL, sizeof(x), RKNN_TENSOR_FLOAT32, RKNN_TENSOR_NCHW),
           RKNN_ERR_INPUT_INVALID);
    EXPECT(set_input(ctx, x, sizeof(x), (rknn_tensor_type)99, RKNN_TENSOR_NCHW),
           RKNN_ERR_INPUT_INVALID);
    EXPECT(set_input(ctx, x, sizeof(x), RKNN_TENSOR_FLOAT32, (rknn_tensor_format)99),
           RKNN_ERR_INPUT_INVALID);
    ins[0].index = 3;
    CHECK(rknn_inputs_set(ctx, 1, ins) < 0);

    /* Output error paths. */
    rknn_output outs[2];
    memset(outs, 0, sizeof(outs));
    outs[0].index = 7;
    EXPECT(rknn_outputs_get(ctx, 1, outs, NULL), RKNN_ERR_OUTPUT_INVALID);
    outs[0].index = 0;
    EXPECT(rknn_outputs_get(ctx, 2, outs, NULL), RKNN_ERR_PARAM_INVALID);
    EXPECT(rknn_outputs_get(ctx, 1, NULL, NULL), RKNN_ERR_PARAM_INVALID);
    /* Double release of a runtime-allocated output. */
    EXPECT(rknn_outputs_get(ctx, 1, outs, NULL), RKNN_SUCC);
    rknn_output copy = outs[0];
    EXPECT(rknn_outputs_release(ctx, 1, outs), RKNN_SUCC);
    EXPECT(rknn_outputs_release(ctx, 1, &copy), RKNN_ERR_PARAM_INVALID);
    EXPECT(rknn_outputs_release(ctx, 1, NULL), RKNN_ERR_PARAM_INVALID);

    /* Still works after all the errors. */
    EXPECT(set_input(ctx, x, sizeof(x), RKNN_TENSOR_FLOAT32, RKNN_TENSOR_NCHW), RKNN_SUCC);
    run_and_check_relu(ctx, x);

    /* An output left lent is freed by rknn_destroy. */
    memset(&out, 0, sizeof(out));
    out.want_float = 1;
    EXPECT(rknn_outputs_get(ctx, 1, &out, NULL), RKNN_SUCC);
    EXPECT(rknn_destroy(ctx), RKNN_SUCC);

    /* Stale context. */
    EXPECT(rknn_destroy(ctx), RKNN_ERR_CTX_INVALID);
    EXPECT(rknn_run(ctx, NULL), RKNN_ERR_CTX_INVALID);
    EXPECT(rknn_query(ctx, RKNN_QUERY_IN_OUT_NUM, &num, sizeof(num)), RKNN_ERR_CTX_INVALID);
    EXPECT(set_input(ctx, x, sizeof(x), RKNN_TENSOR_FLOAT32, RKNN_TENSOR_NCHW), RKNN_ERR_CTX_INVALID);
}

/* int8 outputs of `ctx` after a run: the raw tensor and its float view
 * must agree through the output's zero point and scale. */
static void check_int8_outputs(rknn_context ctx, int8_t q[18])
{
    rknn_tensor_attr a;
    query_attr(ctx, RKNN_QUERY_OUTPUT_ATTR, 0, &a);
    CHECK(a.type == RKNN_TENSOR_INT8 && a.qnt_type == RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC);
    CHECK(a.n_elems == 18 && a.size == 18);

    rknn_output outs[1];
    memset(outs, 0, sizeof(outs));
    outs[0].want_float = 0;
    EXPECT(rknn_outputs_get(ctx, 1, outs, NULL), RKNN_SUCC);
    CHECK(outs[0].size == 18);
    memcpy(q, outs[0].buf, 18);
    EXPECT(rknn_outputs_release(ctx, 1, outs), RKNN_SUCC);

    float f[18];
    memset(outs, 0, sizeof(outs));
    outs[0].want_float = 1;
    outs[0].is_prealloc = 1;
    outs[0].buf = f;
    outs[0].size = sizeof(f);
    EXPECT(rknn_outputs_get(ctx, 1, outs, NULL), RKNN_SUCC);
    EXPECT(rknn_outputs_release(ctx, 1, outs), RKNN_SUCC);
    for (int i = 0; i < 18; i++)
        CHECK(fabsf(f[i] - (float)(q[i] - a.zp) * a.scale) <= 1e-6f);

    int8_t q2[18];
    memset(outs, 0, sizeof(outs));
    outs[0].is_prealloc = 1;
    outs[0].buf = q2;
    outs[0].size = sizeof(q2);
    EXPECT(rknn_outputs_get(ctx, 1, outs, NULL), RKNN_SUCC);
    CHECK(memcmp(q, q2, sizeof(q2)) == 0);
}

static void int8_flow(const char *path)
{
    uint32_t size = 0;
    unsigned char *model = read_file(path, &size);
    rknn_context ctx = 0;
    EXPECT(rknn_init(&ctx, model, size, 0, NULL), RKNN_SUCC);
    /* The runtime copies what it needs: the buffer may go now. */
    memset(model, 0, size);
    free(model);

    rknn_tensor_attr a;
    query_attr(ctx, RKNN_QUERY_INPUT_ATTR, 0, &a);
    CHECK(a.type == RKNN_TENSOR_INT8 && a.n_elems == 18);
    query_attr(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0, &a);
    CHECK(a.fmt == RKNN_TENSOR_NC1HWC2 && a.size_with_stride > 0);
    uint32_t native_size = a.size_with_stride;

    uint8_t img[18];
    for (int i = 0; i < 18; i++)
        img[i] = (uint8_t)(i * 13);
    EXPECT(set_input(ctx, img, sizeof(img), RKNN_TENSOR_UINT8, RKNN_TENSOR_NHWC), RKNN_SUCC);
    EXPECT(rknn_run(ctx, NULL), RKNN_SUCC);
    int8_t q[18];
    check_int8_outputs(ctx, q);

    /* A duplicate context runs the same model to the same result. */
    rknn_context dup = 0;
    EXPECT(rknn_dup_context(&ctx, &dup), RKNN_SUCC);
    CHECK(dup != 0 && dup != ctx);
    rknn_output out;
    memset(&out, 0, sizeof(out));
    EXPECT(rknn_outputs_get(dup, 1, &out, NULL), RKNN_ERR_FAIL);
    EXPECT(set_input(dup, img, sizeof(img), RKNN_TENSOR_UINT8, RKNN_TENSOR_NHWC), RKNN_SUCC);
    EXPECT(rknn_run(dup, NULL), RKNN_SUCC);
    int8_t q_dup[18];
    check_int8_outputs(dup, q_dup);
    CHECK(memcmp(q, q_dup, sizeof(q)) == 0);
    EXPECT(rknn_dup_context(NULL, &dup), RKNN_ERR_PARAM_INVALID);

    /* Pass-through int8 in the native layout; other types are refused. */
    int8_t *native = calloc(native_size, 1);
    CHECK(native != NULL);
    rknn_input in;
    memset(&in, 0, sizeof(in));
    in.buf = native;
    in.size = native_size;
    in.pass_through = 1;
    in.type = RKNN_TENSOR_INT8;
    in.fmt = RKNN_TENSOR_NC1HWC2;
    EXPECT(rknn_inputs_set(ctx, 1, &in), RKNN_SUCC);
    EXPECT(rknn_run(ctx, NULL), RKNN_SUCC);
    in.type = RKNN_TENSOR_FLOAT32;
    EXPECT(rknn_inputs_set(ctx, 1, &in), RKNN_ERR_INPUT_INVALID);
    free(native);

    EXPECT(rknn_destroy(dup), RKNN_SUCC);
    EXPECT(rknn_destroy(ctx), RKNN_SUCC);
}

static void init_errors(const char *relu_path)
{
    rknn_context ctx = 0;
    EXPECT(rknn_init(NULL, (void *)relu_path, 0, 0, NULL), RKNN_ERR_PARAM_INVALID);
    EXPECT(rknn_init(&ctx, NULL, 0, 0, NULL), RKNN_ERR_PARAM_INVALID);
    CHECK(rknn_init(&ctx, "/nonexistent/model.rknn", 0, 0, NULL) < 0);
    unsigned char junk[64];
    memset(junk, 0xa5, sizeof(junk));
    EXPECT(rknn_init(&ctx, junk, sizeof(junk), 0, NULL), RKNN_ERR_MODEL_INVALID);
    CHECK(ctx == 0);
    EXPECT(rknn_destroy(0), RKNN_ERR_CTX_INVALID);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s <relu_f32.rknn> <conv_int8.rknn>\n", argv[0]);
        return 2;
    }
    init_errors(argv[1]);
    relu_flow(argv[1]);
    int8_flow(argv[2]);
    printf("capi_flow: all checks passed (%d checks)\n", g_checks);
    return 0;
}
