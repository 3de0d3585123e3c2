/*
 * Dynamic-shape inference over every shape set of a model, with the
 * general API and with zero-copy memory (after the vendor's
 * rknn_dynamic_shape_input_demo and user guide 2.3.0 section 5.4.4):
 *
 *   rknn_dynshape_demo model.rknn data_dir [min_cos=0.999] [rounds=2]
 *
 * The model has one 4-D image input. For shape set k (as
 * RKNN_QUERY_INPUT_DYNAMIC_RANGE lists them) data_dir holds
 * input_<k>.bin, a uint8 NHWC image of that set's height and width, and
 * ref_<k>_<j>.bin, the float32 reference of output j (onnxruntime). Each
 * round goes through every set: choose it with rknn_set_input_shapes,
 * query the current attributes, run, and compare every output with its
 * reference (cosine similarity >= min_cos). Zero-copy memory is created
 * once, sized for the largest set, and bound again after every switch.
 * Exit status 0 when every comparison passes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rknn_api.h"

#define CHECK(expr)                                                           \
    do {                                                                      \
        int check_ret_ = (expr);                                              \
        if (check_ret_ != RKNN_SUCC) {                                        \
            fprintf(stderr, "%s:%d: %s returned %d\n", __FILE__, __LINE__,    \
                    #expr, check_ret_);                                       \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

#define CHECK_PTR(p)                                                          \
    do {                                                                      \
        if ((p) == NULL) {                                                    \
            fprintf(stderr, "%s:%d: %s is NULL\n", __FILE__, __LINE__, #p);   \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

#define MAX_OUTPUTS 8

/* Reads a whole file; *size receives its length. */
static void *read_file(const char *dir, const char *name, size_t *size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = malloc(len > 0 ? (size_t)len : 1);
    CHECK_PTR(data);
    if (len < 0 || fread(data, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *size = (size_t)len;
    return data;
}

static void dump_range(const rknn_input_range *r)
{
    printf("input %u (%s): %u shapes, fmt %s:", r->index, r->name, r->shape_number,
           r->fmt == RKNN_TENSOR_NHWC ? "NHWC" : "UNDEFINED");
    for (uint32_t s = 0; s < r->shape_number; s++) {
        printf(" [");
        for (uint32_t d = 0; d < r->n_dims; d++)
            printf("%s%u", d ? "," : "", r->dyn_range[s][d]);
        printf("]");
    }
    printf("\n");
}

static void query_attr(rknn_context ctx, rknn_query_cmd cmd, uint32_t index,
                       rknn_tensor_attr *attr)
{
    memset(attr, 0, sizeof(*attr));
    attr->index = index;
    CHECK(rknn_query(ctx, cmd, attr, sizeof(*attr)));
}

/* The model's shape sets and its input/output counts. */
struct model_info {
    rknn_input_output_num io;
    rknn_tensor_attr input;
    rknn_input_range range;
};

static void model_info(rknn_context ctx, struct model_info *m)
{
    CHECK(rknn_query(ctx, RKNN_QUERY_IN_OUT_NUM, &m->io, sizeof(m->io)));
    if (m->io.n_input != 1 || m->io.n_output > MAX_OUTPUTS) {
        fprintf(stderr, "expected one input and at most %d outputs\n", MAX_OUTPUTS);
        exit(1);
    }
    query_attr(ctx, RKNN_QUERY_INPUT_ATTR, 0, &m->input);
    memset(&m->range, 0, sizeof(m->range));
    m->range.index = 0;
    CHECK(rknn_query(ctx, RKNN_QUERY_INPUT_DYNAMIC_RANGE, &m->range, sizeof(m->range)));
    if (m->range.n_dims != 4 || m->range.fmt != RKNN_TENSOR_NHWC) {
        fprintf(stderr, "expected a 4-D NHWC image input\n");
        exit(1);
    }
}

/* Chooses shape set s (dims from the range, as the vendor demo does). */
static void choose_set(rknn_context ctx, struct model_info *m, uint32_t s)
{
    rknn_tensor_attr attr = m->input;
    attr.n_dims = m->range.n_dims;
    for (uint32_t d = 0; d < attr.n_dims; d++)
        attr.dims[d] = m->range.dyn_range[s][d];
    attr.fmt = RKNN_TENSOR_NHWC;
    CHECK(rknn_set_input_shapes(ctx, 1, &attr));
}

/* Compares output j of set s with its reference; returns 1 on failure. */
static int compare(const char *dir, const char *flow, uint32_t s, uint32_t j,
                   const rknn_tensor_attr *cur, const float *got, double min_cos)
{
    char name[64];
    size_t size;
    snprintf(name, sizeof(name), "ref_%u_%u.bin", s, j);
    float *want = read_file(dir, name, &size);
    int failed = size != (size_t)cur->n_elems * sizeof(float);
    double dot = 0, gg = 0, ww = 0, max_abs = 0;
    for (uint32_t i = 0; !failed && i < cur->n_elems; i++) {
        dot += (double)got[i] * want[i];
        gg += (double)got[i] * got[i];
        ww += (double)want[i] * want[i];
        double e = fabs((double)got[i] - want[i]);
        if (e > max_abs)
            max_abs = e;
    }
    double cos = gg > 0 && ww > 0 ? dot / sqrt(gg * ww) : (gg == ww ? 1.0 : 0.0);
    failed = failed || !(cos >= min_cos);
    printf("set %u %s: output %u '%s' [", s, flow, j, cur->name);
    for (uint32_t d = 0; d < cur->n_dims; d++)
        printf("%s%u", d ? "," : "", cur->dims[d]);
    printf("] cos %.6f max_abs %.5f %s\n", cos, max_abs, failed ? "FAILED" : "ok");
    free(want);
    return failed;
}

/* The image of set s, checked against the current input attribute. */
static uint8_t *load_image(const char *dir, uint32_t s, const rknn_tensor_attr *cur,
                           size_t *size)
{
    char name[64];
    snprintf(name, sizeof(name), "input_%u.bin", s);
    uint8_t *img = read_file(dir, name, size);
    if (*size != (size_t)cur->dims[0] * cur->dims[1] * cur->dims[2] * cur->dims[3]) {
        fprintf(stderr, "%s has %zu bytes for an NHWC input of %u x %u x %u\n", name,
                *size, cur->dims[1], cur->dims[2], cur->dims[3]);
        exit(1);
    }
    return img;
}

/* rknn_inputs_set / rknn_outputs_get over every set. */
static int general_flow(const char *model, const char *dir, double min_cos, int rounds)
{
    rknn_context ctx = 0;
    CHECK(rknn_init(&ctx, (void *)model, 0, 0, NULL));
    struct model_info m;
    model_info(ctx, &m);
    dump_range(&m.range);
    int failed = 0;
    for (int r = 0; r < rounds; r++) {
        for (uint32_t s = 0; s < m.range.shape_number; s++) {
            choose_set(ctx, &m, s);
            rknn_tensor_attr cur_in, cur_out[MAX_OUTPUTS];
            query_attr(ctx, RKNN_QUERY_CURRENT_INPUT_ATTR, 0, &cur_in);
            for (uint32_t j = 0; j < m.io.n_output; j++)
                query_attr(ctx, RKNN_QUERY_CURRENT_OUTPUT_ATTR, j, &cur_out[j]);
            size_t size;
            uint8_t *img = load_image(dir, s, &cur_in, &size);
            rknn_input in;
            memset(&in, 0, sizeof(in));
            in.index = 0;
            in.type = RKNN_TENSOR_UINT8;
            in.fmt = RKNN_TENSOR_NHWC;
            in.buf = img;
            in.size = (uint32_t)size;
            CHECK(rknn_inputs_set(ctx, 1, &in));
            CHECK(rknn_run(ctx, NULL));
            rknn_output out[MAX_OUTPUTS];
            memset(out, 0, sizeof(out));
            for (uint32_t j = 0; j < m.io.n_output; j++) {
                out[j].index = j;
                out[j].want_float = 1;
            }
            CHECK(rknn_outputs_get(ctx, m.io.n_output, out, NULL));
            for (uint32_t j = 0; j < m.io.n_output; j++)
                failed |= compare(dir, "general", s, j, &cur_out[j], out[j].buf, min_cos);
            CHECK(rknn_outputs_release(ctx, m.io.n_output, out));
            free(img);
        }
    }
    CHECK(rknn_destroy(ctx));
    return failed;
}

/* rknn_create_mem + rknn_set_io_mem over every set. */
static int zero_copy_flow(const char *model, const char *dir, double min_cos, int rounds)
{
    rknn_context ctx = 0;
    CHECK(rknn_init(&ctx, (void *)model, 0, 0, NULL));
    struct model_info m;
    model_info(ctx, &m);

    /* Memory for the largest set: a first pass over the sets reads every
     * current size (RKNN_QUERY_INPUT_ATTR / OUTPUT_ATTR describe the
     * largest set too, but for several inputs the largest shapes may come
     * from different sets). */
    uint32_t in_size = 0, out_size[MAX_OUTPUTS] = {0};
    for (uint32_t s = 0; s < m.range.shape_number; s++) {
        choose_set(ctx, &m, s);
        rknn_tensor_attr a;
        query_attr(ctx, RKNN_QUERY_CURRENT_INPUT_ATTR, 0, &a);
        uint32_t bytes = a.dims[0] * a.dims[1] * a.w_stride * a.dims[3];
        if (bytes > in_size)
            in_size = bytes;
        for (uint32_t j = 0; j < m.io.n_output; j++) {
            query_attr(ctx, RKNN_QUERY_CURRENT_OUTPUT_ATTR, j, &a);
            if (a.n_elems * 4 > out_size[j])
                out_size[j] = a.n_elems * 4;
        }
    }
    rknn_tensor_mem *in_mem = rknn_create_mem(ctx, in_size);
    CHECK_PTR(in_mem);
    rknn_tensor_mem *out_mem[MAX_OUTPUTS];
    for (uint32_t j = 0; j < m.io.n_output; j++) {
        out_mem[j] = rknn_create_mem(ctx, out_size[j]);
        CHECK_PTR(out_mem[j]);
    }
    printf("zero-copy memory: input %u bytes, outputs", in_size);
    for (uint32_t j = 0; j < m.io.n_output; j++)
        printf(" %u", out_size[j]);
    printf(" bytes\n");

    int failed = 0;
    for (int r = 0; r < rounds; r++) {
        for (uint32_t s = 0; s < m.range.shape_number; s++) {
            choose_set(ctx, &m, s);
            rknn_tensor_attr cur_in, cur_out[MAX_OUTPUTS];
            query_attr(ctx, RKNN_QUERY_CURRENT_INPUT_ATTR, 0, &cur_in);
            size_t size;
            uint8_t *img = load_image(dir, s, &cur_in, &size);
            /* Copy the image row by row to the input's w_stride. */
            uint32_t h = cur_in.dims[1], w = cur_in.dims[2], c = cur_in.dims[3];
            uint32_t stride = cur_in.w_stride ? cur_in.w_stride : w;
            for (uint32_t y = 0; y < h; y++)
                memcpy((uint8_t *)in_mem->virt_addr + (size_t)y * stride * c,
                       img + (size_t)y * w * c, (size_t)w * c);
            CHECK(rknn_mem_sync(ctx, in_mem, RKNN_MEMORY_SYNC_TO_DEVICE));
            cur_in.type = RKNN_TENSOR_UINT8;
            cur_in.fmt = RKNN_TENSOR_NHWC;
            CHECK(rknn_set_io_mem(ctx, in_mem, &cur_in));
            for (uint32_t j = 0; j < m.io.n_output; j++) {
                query_attr(ctx, RKNN_QUERY_CURRENT_OUTPUT_ATTR, j, &cur_out[j]);
                rknn_tensor_attr a = cur_out[j];
                a.type = RKNN_TENSOR_FLOAT32;
                a.fmt = a.n_dims == 4 ? RKNN_TENSOR_NCHW : RKNN_TENSOR_UNDEFINED;
                CHECK(rknn_set_io_mem(ctx, out_mem[j], &a));
            }
            CHECK(rknn_run(ctx, NULL));
            for (uint32_t j = 0; j < m.io.n_output; j++) {
                CHECK(rknn_mem_sync(ctx, out_mem[j], RKNN_MEMORY_SYNC_FROM_DEVICE));
                failed |= compare(dir, "zero-copy", s, j, &cur_out[j],
                                  out_mem[j]->virt_addr, min_cos);
            }
            free(img);
        }
    }
    CHECK(rknn_destroy(ctx));
    CHECK(rknn_destroy_mem(0, in_mem));
    for (uint32_t j = 0; j < m.io.n_output; j++)
        CHECK(rknn_destroy_mem(0, out_mem[j]));
    return failed;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s model.rknn data_dir [min_cos=0.999] [rounds=2]\n",
                argv[0]);
        return 2;
    }
    double min_cos = argc > 3 ? atof(argv[3]) : 0.999;
    int rounds = argc > 4 ? atoi(argv[4]) : 2;
    int failed = general_flow(argv[1], argv[2], min_cos, rounds);
    failed |= zero_copy_flow(argv[1], argv[2], min_cos, rounds);
    printf("%s\n", failed ? "FAILED" : "all outputs match");
    return failed;
}
