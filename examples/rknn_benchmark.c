/*
 * rknn_benchmark: measures the inference time of an .rknn model through the
 * RKNN C API and prints the same report as the vendor tool of that name.
 *
 *   rknn_benchmark model.rknn [in1.npy[#in2.npy...]] [loop_count=10] [core_mask=1]
 *
 * Inputs are NPY files (format 1.0 or 2.0; dtype <f4, <f2, |u1 or |i1), one
 * per model input, joined with '#'. Without inputs (or with an empty string)
 * every input is zero-filled UINT8 NHWC data of n_elems bytes. Image files
 * are not supported: decoding them needs a third-party library.
 *
 * After 5 warm-up runs and loop_count timed runs, the float32 outputs are
 * saved as rt_output<i>.npy and the top-5 values of each output printed.
 *
 * C99; build: gcc -std=c99 -Wall -Wextra -Werror -I include \
 *               examples/rknn_benchmark.c -L <dir of librknnrt.so> -lrknnrt
 */
#define _POSIX_C_SOURCE 200809L

#include "rknn_api.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define WARMUP_RUNS 5
#define TOP_NUM 5

/* ---- small helpers ------------------------------------------------------ */

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static void dump_tensor_attr(const rknn_tensor_attr *attr)
{
    uint32_t i;
    uint32_t n = attr->n_dims < RKNN_MAX_DIMS ? attr->n_dims : RKNN_MAX_DIMS;
    char name[RKNN_MAX_NAME_LEN + 1];

    memcpy(name, attr->name, RKNN_MAX_NAME_LEN);
    name[RKNN_MAX_NAME_LEN] = '\0';
    printf("  index=%u, name=%s, n_dims=%u, dims=[", attr->index, name, attr->n_dims);
    for (i = 0; i < n; i++) {
        printf("%s%u", i == 0 ? "" : ", ", attr->dims[i]);
    }
    printf("], n_elems=%u, size=%u, w_stride = %u, size_with_stride=%u, fmt=%s, type=%s, "
           "qnt_type=%s, zp=%d, scale=%f\n",
           attr->n_elems, attr->size, attr->w_stride, attr->size_with_stride,
           get_format_string(attr->fmt), get_type_string(attr->type),
           get_qnt_type_string(attr->qnt_type), attr->zp, attr->scale);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s);
    size_t lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* Reads a whole file; returns NULL (after printing why) on failure. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0;
    size_t used = 0;

    if (f == NULL) {
        printf("open %s failed: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t got;
        if (used == cap) {
            size_t ncap = cap == 0 ? 65536 : cap * 2;
            unsigned char *nbuf;
            if (ncap < cap) {
                printf("%s is too large\n", path);
                break;
            }
            nbuf = (unsigned char *)realloc(buf, ncap);
            if (nbuf == NULL) {
                printf("out of memory reading %s\n", path);
                break;
            }
            buf = nbuf;
            cap = ncap;
        }
        got = fread(buf + used, 1, cap - used, f);
        used += got;
        if (got == 0) {
            if (ferror(f)) {
                printf("read %s failed\n", path);
                break;
            }
            fclose(f);
            *len = used;
            return buf;
        }
    }
    fclose(f);
    free(buf);
    return NULL;
}

/* ---- NPY input ---------------------------------------------------------- */

typedef struct {
    rknn_tensor_type type;
    size_t elem_size;
    uint32_t n_dims;
    uint64_t dims[RKNN_MAX_DIMS];
    unsigned char *data;
    size_t size;
} npy_array;

/* Value of `key` in the header dict: pointer just after "'key':" and spaces. */
static const char *npy_field(const char *header, const char *key)
{
    char pattern[32];
    const char *p;

    snprintf(pattern, sizeof(pattern), "'%s'", key);
    p = strstr(header, pattern);
    if (p == NULL) {
        return NULL;
    }
    p += strlen(pattern);
    while (*p == ' ') {
        p++;
    }
    if (*p != ':') {
        return NULL;
    }
    p++;
    while (*p == ' ') {
        p++;
    }
    return p;
}

static int npy_parse_header(const char *path, const char *header, npy_array *arr)
{
    const char *p;
    char descr[16];
    size_t n = 0;
    char quote;

    p = npy_field(header, "descr");
    if (p == NULL || (*p != '\'' && *p != '"')) {
        printf("%s: NPY header has no 'descr'\n", path);
        return -1;
    }
    quote = *p++;
    while (*p != '\0' && *p != quote && n + 1 < sizeof(descr)) {
        descr[n++] = *p++;
    }
    descr[n] = '\0';
    if (strcmp(descr, "<f4") == 0) {
        arr->type = RKNN_TENSOR_FLOAT32;
        arr->elem_size = 4;
    } else if (strcmp(descr, "<f2") == 0) {
        arr->type = RKNN_TENSOR_FLOAT16;
        arr->elem_size = 2;
    } else if (strcmp(descr, "|u1") == 0 || strcmp(descr, "<u1") == 0) {
        arr->type = RKNN_TENSOR_UINT8;
        arr->elem_size = 1;
    } else if (strcmp(descr, "|i1") == 0 || strcmp(descr, "<i1") == 0) {
        arr->type = RKNN_TENSOR_INT8;
        arr->elem_size = 1;
    } else {
        printf("%s: unsupported NPY dtype '%s' (supported: <f4, <f2, |u1, |i1)\n", path, descr);
        return -1;
    }
    if (arr->elem_size > 1 && !host_is_little_endian()) {
        printf("%s: little-endian NPY data needs a little-endian host\n", path);
        return -1;
    }

    p = npy_field(header, "fortran_order");
    if (p == NULL || strncmp(p, "False", 5) != 0) {
        printf("%s: only C-order NPY arrays are supported\n", path);
        return -1;
    }

    p = npy_field(header, "shape");
    if (p == NULL || *p != '(') {
        printf("%s: NPY header has no 'shape'\n", path);
        return -1;
    }
    p++;
    arr->n_dims = 0;
    for (;;) {
        char *end;
        unsigned long long v;
        while (*p == ' ' || *p == ',') {
            p++;
        }
        if (*p == ')') {
            break;
        }
        if (*p < '0' || *p > '9') {
            printf("%s: malformed NPY shape\n", path);
            return -1;
        }
        errno = 0;
        v = strtoull(p, &end, 10);
        if (errno != 0 || end == p || arr->n_dims >= RKNN_MAX_DIMS) {
            printf("%s: NPY shape has too many or too large dimensions\n", path);
            return -1;
        }
        arr->dims[arr->n_dims++] = (uint64_t)v;
        p = end;
    }
    return 0;
}

/* Loads an NPY v1.0/v2.0 file; returns 0 on success. */
static int npy_load(const char *path, npy_array *arr)
{
    size_t len = 0;
    size_t header_len;
    size_t start;
    size_t elems = 1;
    uint32_t i;
    char *header;
    unsigned char *file = read_file(path, &len);

    memset(arr, 0, sizeof(*arr));
    if (file == NULL) {
        return -1;
    }
    if (len < 10 || memcmp(file, "\x93NUMPY", 6) != 0) {
        printf("%s is not an NPY file\n", path);
        free(file);
        return -1;
    }
    if (file[6] == 1) {
        header_len = (size_t)file[8] | ((size_t)file[9] << 8);
        start = 10;
    } else if (file[6] == 2 && len >= 12) {
        header_len = (size_t)file[8] | ((size_t)file[9] << 8) | ((size_t)file[10] << 16) |
                     ((size_t)file[11] << 24);
        start = 12;
    } else {
        printf("%s: unsupported NPY version %u.%u (supported: 1.0, 2.0)\n", path, file[6], file[7]);
        free(file);
        return -1;
    }
    if (header_len > len - start) {
        printf("%s: truncated NPY header\n", path);
        free(file);
        return -1;
    }
    header = (char *)malloc(header_len + 1);
    if (header == NULL) {
        printf("out of memory\n");
        free(file);
        return -1;
    }
    memcpy(header, file + start, header_len);
    header[header_len] = '\0';
    if (npy_parse_header(path, header, arr) != 0) {
        free(header);
        free(file);
        return -1;
    }
    free(header);
    for (i = 0; i < arr->n_dims; i++) {
        if (arr->dims[i] != 0 && elems > SIZE_MAX / arr->dims[i]) {
            elems = SIZE_MAX;
            break;
        }
        elems *= (size_t)arr->dims[i];
    }
    start += header_len;
    if (elems == 0 || elems > (len - start) / arr->elem_size || elems * arr->elem_size > UINT32_MAX) {
        printf("%s: NPY data is empty, truncated or too large\n", path);
        free(file);
        return -1;
    }
    arr->size = elems * arr->elem_size;
    arr->data = (unsigned char *)malloc(arr->size);
    if (arr->data == NULL) {
        printf("out of memory\n");
        free(file);
        return -1;
    }
    memcpy(arr->data, file + start, arr->size);
    free(file);
    return 0;
}

static int dims_equal(const uint64_t *a, const uint32_t *b, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }
    return 1;
}

static void print_shape(const char *label, const uint64_t *d64, const uint32_t *d32, uint32_t n)
{
    uint32_t i;
    printf("%s(", label);
    for (i = 0; i < n; i++) {
        printf("%s%llu", i == 0 ? "" : ", ",
               d64 != NULL ? (unsigned long long)d64[i] : (unsigned long long)d32[i]);
    }
    printf(")");
}

/*
 * Loads one NPY input and decides the rknn_input layout: a 4-D array whose
 * last dim is the model's channel count (and H, W match) is NHWC, one laid
 * out like an NCHW model input is NCHW, any other array must have the
 * model input's dims exactly and is passed as UNDEFINED. A 3-D array for a
 * 4-D input is read as batch 1.
 */
static int load_npy_input(const char *path, const rknn_tensor_attr *attr, rknn_input *in,
                          unsigned char **data)
{
    npy_array arr;
    uint64_t d[RKNN_MAX_DIMS];
    uint32_t n;
    uint32_t c = 0, h = 0, w = 0;
    rknn_tensor_format fmt;

    printf("Loading %s\n", path);
    if (npy_load(path, &arr) != 0) {
        return -1;
    }
    n = arr.n_dims;
    memcpy(d, arr.dims, sizeof(d));
    if (attr->n_dims == 4 && n == 3) {
        memmove(d + 1, d, 3 * sizeof(d[0]));
        d[0] = 1;
        n = 4;
    }
    if (attr->fmt == RKNN_TENSOR_NHWC) {
        h = attr->dims[1];
        w = attr->dims[2];
        c = attr->dims[3];
    } else if (attr->fmt == RKNN_TENSOR_NCHW) {
        c = attr->dims[1];
        h = attr->dims[2];
        w = attr->dims[3];
    }
    if (n == 4 && attr->n_dims == 4 && c != 0 && d[0] == attr->dims[0] && d[1] == h && d[2] == w &&
        d[3] == c) {
        fmt = RKNN_TENSOR_NHWC;
    } else if (n == 4 && attr->n_dims == 4 && c != 0 && d[0] == attr->dims[0] && d[1] == c &&
               d[2] == h && d[3] == w) {
        fmt = RKNN_TENSOR_NCHW;
    } else if (n == attr->n_dims && dims_equal(d, attr->dims, n)) {
        fmt = n == 4 ? attr->fmt : RKNN_TENSOR_UNDEFINED;
    } else {
        print_shape("npy shape match failed!, ", arr.dims, NULL, arr.n_dims);
        print_shape(" != ", NULL, attr->dims, attr->n_dims);
        printf("\n");
        free(arr.data);
        return -1;
    }
    printf("npy data type:%s\n", get_type_string(arr.type));
    *data = arr.data;
    in->buf = arr.data;
    in->size = (uint32_t)arr.size;
    in->type = arr.type;
    in->fmt = fmt;
    return 0;
}

/* ---- NPY output --------------------------------------------------------- */

/* Writes float32 data as an NPY v1.0 file with the given shape. */
static int save_npy(const char *path, const float *data, size_t elems, const uint32_t *dims,
                    uint32_t n_dims)
{
    char header[512];
    char shape[256];
    size_t used = 0;
    size_t total;
    uint32_t i;
    uint64_t prod = 1;
    unsigned char preamble[10];
    FILE *f;
    int ok;

    for (i = 0; i < n_dims; i++) {
        prod *= dims[i];
    }
    if (n_dims == 0 || prod != elems) {
        /* The attribute does not describe the buffer: save it flat. */
        snprintf(shape, sizeof(shape), "(%zu,)", elems);
    } else {
        used = (size_t)snprintf(shape, sizeof(shape), "(");
        for (i = 0; i < n_dims && used < sizeof(shape); i++) {
            used += (size_t)snprintf(shape + used, sizeof(shape) - used, "%s%u%s",
                                     i == 0 ? "" : " ", dims[i], (n_dims == 1 || i + 1 < n_dims) ? "," : "");
        }
        if (used + 2 > sizeof(shape)) {
            printf("output shape too long for %s\n", path);
            return -1;
        }
        snprintf(shape + used, sizeof(shape) - used, ")");
    }
    used = (size_t)snprintf(header, sizeof(header), "{'descr': '%cf4', 'fortran_order': False, 'shape': %s, }",
                            host_is_little_endian() ? '<' : '>', shape);
    /* Pad with spaces so that the data starts at a multiple of 64 bytes. */
    total = 10 + used + 1;
    while (total % 64 != 0 && used + 1 < sizeof(header)) {
        header[used++] = ' ';
        total++;
    }
    if (total % 64 != 0 || used + 1 >= sizeof(header)) {
        printf("NPY header too long for %s\n", path);
        return -1;
    }
    header[used++] = '\n';
    memcpy(preamble, "\x93NUMPY", 6);
    preamble[6] = 1;
    preamble[7] = 0;
    preamble[8] = (unsigned char)(used & 0xff);
    preamble[9] = (unsigned char)(used >> 8);

    f = fopen(path, "wb");
    if (f == NULL) {
        printf("open %s failed: %s\n", path, strerror(errno));
        return -1;
    }
    ok = fwrite(preamble, 1, sizeof(preamble), f) == sizeof(preamble) &&
         fwrite(header, 1, used, f) == used && fwrite(data, sizeof(float), elems, f) == elems;
    if (fclose(f) != 0) {
        ok = 0;
    }
    if (!ok) {
        printf("write %s failed\n", path);
        return -1;
    }
    return 0;
}

/* ---- top-N -------------------------------------------------------------- */

static void print_top_n(const float *prob, uint32_t count)
{
    uint32_t cls[TOP_NUM];
    float val[TOP_NUM];
    uint32_t top = count < TOP_NUM ? count : TOP_NUM;
    uint32_t j, i, k;

    for (j = 0; j < top; j++) {
        int found = 0;
        for (i = 0; i < count; i++) {
            int taken = 0;
            for (k = 0; k < j; k++) {
                if (cls[k] == i) {
                    taken = 1;
                    break;
                }
            }
            if (taken) {
                continue;
            }
            if (!found || prob[i] > val[j]) {
                val[j] = prob[i];
                cls[j] = i;
                found = 1;
            }
        }
    }
    printf("---- Top%u ----\n", top);
    for (j = 0; j < top; j++) {
        printf("%8.6f - %u\n", val[j], cls[j]);
    }
}

/* ---- main --------------------------------------------------------------- */

static int query(rknn_context ctx, rknn_query_cmd cmd, void *info, uint32_t size)
{
    int ret = rknn_query(ctx, cmd, info, size);
    if (ret != RKNN_SUCC) {
        printf("rknn_query fail! ret=%d\n", ret);
    }
    return ret;
}

static int run_benchmark(rknn_context ctx, char *input_paths, int loop_count, uint32_t core_mask)
{
    rknn_sdk_version sdk_ver;
    rknn_mem_size mem_size;
    rknn_input_output_num io_num;
    rknn_custom_string custom_string;
    rknn_tensor_attr *input_attrs = NULL;
    rknn_tensor_attr *output_attrs = NULL;
    rknn_input *inputs = NULL;
    rknn_output *outputs = NULL;
    unsigned char **input_data = NULL;
    int outputs_held = 0;
    double total_time = 0.0;
    int status = -1;
    int ret;
    int i;
    uint32_t u;

    if (query(ctx, RKNN_QUERY_SDK_VERSION, &sdk_ver, sizeof(sdk_ver)) != RKNN_SUCC) {
        return -1;
    }
    sdk_ver.api_version[sizeof(sdk_ver.api_version) - 1] = '\0';
    sdk_ver.drv_version[sizeof(sdk_ver.drv_version) - 1] = '\0';
    printf("rknn_api/rknnrt version: %s, driver version: %s\n", sdk_ver.api_version, sdk_ver.drv_version);

    if (query(ctx, RKNN_QUERY_MEM_SIZE, &mem_size, sizeof(mem_size)) != RKNN_SUCC) {
        return -1;
    }
    printf("total weight size: %u, total internal size: %u\n", mem_size.total_weight_size,
           mem_size.total_internal_size);
    printf("total dma used size: %zu\n", (size_t)mem_size.total_dma_allocated_size);

    if (query(ctx, RKNN_QUERY_IN_OUT_NUM, &io_num, sizeof(io_num)) != RKNN_SUCC) {
        return -1;
    }
    printf("model input num: %u, output num: %u\n", io_num.n_input, io_num.n_output);

    input_attrs = (rknn_tensor_attr *)calloc(io_num.n_input + 1, sizeof(rknn_tensor_attr));
    output_attrs = (rknn_tensor_attr *)calloc(io_num.n_output + 1, sizeof(rknn_tensor_attr));
    inputs = (rknn_input *)calloc(io_num.n_input + 1, sizeof(rknn_input));
    outputs = (rknn_output *)calloc(io_num.n_output + 1, sizeof(rknn_output));
    input_data = (unsigned char **)calloc(io_num.n_input + 1, sizeof(unsigned char *));
    if (!input_attrs || !output_attrs || !inputs || !outputs || !input_data) {
        printf("out of memory\n");
        goto out;
    }

    printf("input tensors:\n");
    for (u = 0; u < io_num.n_input; u++) {
        input_attrs[u].index = u;
        if (query(ctx, RKNN_QUERY_INPUT_ATTR, &input_attrs[u], sizeof(rknn_tensor_attr)) != RKNN_SUCC) {
            goto out;
        }
        dump_tensor_attr(&input_attrs[u]);
    }
    printf("output tensors:\n");
    for (u = 0; u < io_num.n_output; u++) {
        output_attrs[u].index = u;
        if (query(ctx, RKNN_QUERY_OUTPUT_ATTR, &output_attrs[u], sizeof(rknn_tensor_attr)) != RKNN_SUCC) {
            goto out;
        }
        dump_tensor_attr(&output_attrs[u]);
    }

    if (query(ctx, RKNN_QUERY_CUSTOM_STRING, &custom_string, sizeof(custom_string)) != RKNN_SUCC) {
        goto out;
    }
    custom_string.string[sizeof(custom_string.string) - 1] = '\0';
    printf("custom string: %s\n", custom_string.string);

    /* Inputs: NPY files joined with '#', or zero-filled UINT8 NHWC data. */
    if (input_paths != NULL && input_paths[0] != '\0') {
        uint32_t count = 1;
        char *p;
        char *path;
        for (p = input_paths; *p != '\0'; p++) {
            count += *p == '#';
        }
        if (count != io_num.n_input) {
            printf("input missing!, need input number: %u, only get %u inputs\n", io_num.n_input, count);
            goto out;
        }
        path = input_paths;
        for (u = 0; u < io_num.n_input; u++) {
            char *sep = strchr(path, '#');
            if (sep != NULL) {
                *sep = '\0';
            }
            inputs[u].index = u;
            if (ends_with(path, ".npy")) {
                if (load_npy_input(path, &input_attrs[u], &inputs[u], &input_data[u]) != 0) {
                    goto out;
                }
            } else {
                printf("cannot read input '%s': image files (jpg, png, ...) cannot be decoded by this "
                       "build; supported inputs are .npy files (NPY 1.0/2.0 with dtype <f4, <f2, |u1 or "
                       "|i1)\n",
                       path);
                goto out;
            }
            path = sep != NULL ? sep + 1 : path + strlen(path);
        }
    } else {
        for (u = 0; u < io_num.n_input; u++) {
            size_t size = input_attrs[u].n_elems;
            input_data[u] = (unsigned char *)calloc(size + 1, 1);
            if (input_data[u] == NULL) {
                printf("out of memory\n");
                goto out;
            }
            inputs[u].index = u;
            inputs[u].buf = input_data[u];
            inputs[u].size = (uint32_t)size;
            inputs[u].type = RKNN_TENSOR_UINT8;
            inputs[u].fmt = RKNN_TENSOR_NHWC;
        }
    }
    for (u = 0; u < io_num.n_input; u++) {
        inputs[u].pass_through = 0;
    }

    ret = rknn_inputs_set(ctx, io_num.n_input, inputs);
    if (ret < 0) {
        printf("rknn_input_set fail! ret=%d\n", ret);
        goto out;
    }

    /* Like the vendor tool, a core mask the platform refuses is not fatal. */
    ret = rknn_set_core_mask(ctx, (rknn_core_mask)core_mask);
    if (ret != RKNN_SUCC) {
        fprintf(stderr, "warning: rknn_set_core_mask(%u) returned %d; continuing\n", core_mask, ret);
    }

    printf("Warmup ...\n");
    for (i = 0; i < WARMUP_RUNS; i++) {
        int64_t start = now_us();
        int64_t elapse;
        ret = rknn_run(ctx, NULL);
        elapse = now_us() - start;
        if (ret < 0) {
            printf("rknn run error %d\n", ret);
            goto out;
        }
        printf("%4d: Elapse Time = %.2fms, FPS = %.2f\n", i, elapse / 1000.f,
               elapse > 0 ? 1000.f * 1000.f / elapse : 0.f);
    }

    printf("Begin perf ...\n");
    for (i = 0; i < loop_count; i++) {
        int64_t start = now_us();
        int64_t elapse;
        ret = rknn_run(ctx, NULL);
        elapse = now_us() - start;
        if (ret < 0) {
            printf("rknn run error %d\n", ret);
            goto out;
        }
        total_time += elapse / 1000.f;
        printf("%4d: Elapse Time = %.2fms, FPS = %.2f\n", i, elapse / 1000.f,
               elapse > 0 ? 1000.f * 1000.f / elapse : 0.f);
    }
    printf("\nAvg Time %.2fms, Avg FPS = %.3f\n\n", total_time / loop_count,
           total_time > 0 ? loop_count * 1000.f / total_time : 0.0);

    for (u = 0; u < io_num.n_output; u++) {
        outputs[u].want_float = 1;
        outputs[u].is_prealloc = 0;
        outputs[u].index = u;
    }
    ret = rknn_outputs_get(ctx, io_num.n_output, outputs, NULL);
    if (ret < 0) {
        printf("rknn_outputs_get fail! ret=%d\n", ret);
        goto out;
    }
    outputs_held = 1;

    for (u = 0; u < io_num.n_output; u++) {
        char path[64];
        snprintf(path, sizeof(path), "rt_output%u.npy", u);
        printf("Save output to %s\n", path);
        if (save_npy(path, (const float *)outputs[u].buf, outputs[u].size / sizeof(float),
                     output_attrs[u].dims,
                     output_attrs[u].n_dims < RKNN_MAX_DIMS ? output_attrs[u].n_dims : RKNN_MAX_DIMS) != 0) {
            goto out;
        }
    }
    for (u = 0; u < io_num.n_output; u++) {
        print_top_n((const float *)outputs[u].buf, outputs[u].size / (uint32_t)sizeof(float));
    }
    status = 0;

out:
    if (outputs_held) {
        ret = rknn_outputs_release(ctx, io_num.n_output, outputs);
        if (ret < 0) {
            printf("rknn_outputs_release fail! ret=%d\n", ret);
            status = -1;
        }
    }
    if (input_data != NULL) {
        for (u = 0; u < io_num.n_input; u++) {
            free(input_data[u]);
        }
    }
    free(input_data);
    free(outputs);
    free(inputs);
    free(output_attrs);
    free(input_attrs);
    return status;
}

int main(int argc, char *argv[])
{
    rknn_context ctx = 0;
    char *input_paths = NULL;
    long loop_count = 10;
    unsigned long core_mask = 1;
    int status;
    int ret;

    if (argc < 2) {
        printf("Usage:%s model_path [input_path] [loop_count] [core_mask]\n", argv[0]);
        return EXIT_FAILURE;
    }
    if (argc > 2) {
        input_paths = argv[2];
    }
    if (argc > 3) {
        char *end;
        errno = 0;
        loop_count = strtol(argv[3], &end, 10);
        if (errno != 0 || end == argv[3] || *end != '\0' || loop_count < 1 || loop_count > 100000000L) {
            printf("invalid loop_count '%s': expected a positive integer\n", argv[3]);
            return EXIT_FAILURE;
        }
    }
    if (argc > 4) {
        char *end;
        errno = 0;
        core_mask = strtoul(argv[4], &end, 10);
        if (errno != 0 || end == argv[4] || *end != '\0' || core_mask > 0xffffUL) {
            printf("invalid core_mask '%s': expected 0, 1, 2, 4, 3, 7 or 65535\n", argv[4]);
            return EXIT_FAILURE;
        }
    }

    ret = rknn_init(&ctx, argv[1], 0, 0, NULL);
    if (ret < 0) {
        printf("rknn_init fail! ret=%d\n", ret);
        return EXIT_FAILURE;
    }
    status = run_benchmark(ctx, input_paths, (int)loop_count, (uint32_t)core_mask);
    ret = rknn_destroy(ctx);
    if (ret < 0) {
        printf("rknn_destroy fail! ret=%d\n", ret);
        status = -1;
    }
    return status == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
