/*
 * rknn_matmul_api_demo - C = A * B through the RKNN matmul C API.
 *
 * Command line (as the vendor demo):
 *
 *   rknn_matmul_api_demo <matmul_type> <M,K,N> [B_layout=0] [AC_layout=0]
 *                        [loop_count=10] [core_mask=0] [print_result=1]
 *                        [iommu_domain_id=0]
 *
 * Random A and B are laid out as B_layout / AC_layout ask (0 NORM,
 * 1 NATIVE, 2 TP_NORM for B), multiplied loop_count times, and C is
 * checked against a naive C reference: exactly for integer C (within one
 * step for the requantized int8 C), within fp16 / bf16 rounding for float
 * C. Prints the average time and GOPS; exits 0 when the result is correct.
 * Written in C99 against the vendor headers; builds unchanged against the
 * vendor SDK.
 */
#define _POSIX_C_SOURCE 199309L

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rknn_api.h"
#include "rknn_matmul_api.h"

/* Quantization parameters of the demo (scale 1 / zero point 0 would be
 * the defaults). Every B entry gets the same scale, so per-channel and
 * per-group B give the per-layer result. */
#define A_SCALE 0.2f
#define B_SCALE 0.1f
#define C_SCALE 0.8f
#define GROUP_SIZE 32

/* ---------------------------------------------------------------- fp16 */

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    float f;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24 */
        f = (float)mant * (1.0f / 16777216.0f);
        return (h & 0x8000u) ? -f : f;
    }
    if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    }
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Round to nearest even; the demo's values are small and finite. */
static uint16_t float_to_half(float f)
{
    uint32_t bits;
    uint32_t sign, mant;
    int32_t exp;
    memcpy(&bits, &f, sizeof bits);
    sign = (bits >> 16) & 0x8000u;
    exp = (int32_t)((bits >> 23) & 0xffu) - 127 + 15;
    mant = bits & 0x7fffffu;
    if (exp >= 31) {
        return (uint16_t)(sign | 0x7c00u);
    }
    if (exp <= 0) {
        /* subnormal half: shift the implicit one in */
        uint32_t m = mant | 0x800000u;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half_m, rem, halfway;
        if (shift > 24) {
            return (uint16_t)sign;
        }
        half_m = m >> shift;
        rem = m & ((1u << shift) - 1u);
        halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (half_m & 1u))) {
            half_m++;
        }
        return (uint16_t)(sign | half_m);
    } else {
        uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13);
        uint32_t rem = mant & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) {
            h++; /* may carry into the exponent, which is correct */
        }
        return (uint16_t)h;
    }
}

static float bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* --------------------------------------------------------------- types */

/* Element kinds of the operands. */
enum elem { E_F16, E_BF16, E_F32, E_I4, E_I8, E_I16, E_I32 };

static int elems_of(rknn_matmul_type t, enum elem *a, enum elem *b, enum elem *c)
{
    switch (t) {
    case RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32: *a = E_F16; *b = E_F16; *c = E_F32; return 0;
    case RKNN_INT8_MM_INT8_TO_INT32: *a = E_I8; *b = E_I8; *c = E_I32; return 0;
    case RKNN_INT8_MM_INT8_TO_INT8: *a = E_I8; *b = E_I8; *c = E_I8; return 0;
    case RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16: *a = E_F16; *b = E_F16; *c = E_F16; return 0;
    case RKNN_FLOAT16_MM_INT8_TO_FLOAT32: *a = E_F16; *b = E_I8; *c = E_F32; return 0;
    case RKNN_FLOAT16_MM_INT8_TO_FLOAT16: *a = E_F16; *b = E_I8; *c = E_F16; return 0;
    case RKNN_FLOAT16_MM_INT4_TO_FLOAT32: *a = E_F16; *b = E_I4; *c = E_F32; return 0;
    case RKNN_FLOAT16_MM_INT4_TO_FLOAT16: *a = E_F16; *b = E_I4; *c = E_F16; return 0;
    case RKNN_INT8_MM_INT8_TO_FLOAT32: *a = E_I8; *b = E_I8; *c = E_F32; return 0;
    case RKNN_INT4_MM_INT4_TO_INT16: *a = E_I4; *b = E_I4; *c = E_I16; return 0;
    case RKNN_INT8_MM_INT4_TO_INT32: *a = E_I8; *b = E_I4; *c = E_I32; return 0;
    case RKNN_FLOAT16_MM_INT4_TO_BFLOAT16: *a = E_F16; *b = E_I4; *c = E_BF16; return 0;
    case RKNN_INT8_MM_INT4_TO_FLOAT16: *a = E_I8; *b = E_I4; *c = E_F16; return 0;
    default: return -1;
    }
}

static const char *type_name(rknn_matmul_type t)
{
    /* get_matmul_type_string has no case for type 15 (v2.3.2). */
    return t == RKNN_INT8_MM_INT4_TO_FLOAT16 ? "RKNN_INT8_MM_INT4_TO_FLOAT16"
                                             : get_matmul_type_string(t);
}

static size_t elem_bytes(enum elem e, size_t n)
{
    switch (e) {
    case E_I4: return (n + 1) / 2;
    case E_I8: return n;
    case E_F16: case E_BF16: case E_I16: return 2 * n;
    default: return 4 * n;
    }
}

/* Stores raw element i (a bit pattern; int4 in the low nibble, even
 * index in the low nibble of its byte). */
static void put_raw(uint8_t *dst, enum elem e, size_t i, uint32_t v)
{
    switch (e) {
    case E_I4:
        if (i % 2 == 0) {
            dst[i / 2] = (uint8_t)((dst[i / 2] & 0xf0u) | (v & 0x0fu));
        } else {
            dst[i / 2] = (uint8_t)((dst[i / 2] & 0x0fu) | ((v & 0x0fu) << 4));
        }
        break;
    case E_I8: dst[i] = (uint8_t)v; break;
    case E_F16: case E_BF16: case E_I16: {
        uint16_t h = (uint16_t)v;
        memcpy(dst + 2 * i, &h, 2);
        break;
    }
    default: memcpy(dst + 4 * i, &v, 4); break;
    }
}

static uint32_t get_raw(const uint8_t *src, enum elem e, size_t i)
{
    uint16_t h;
    uint32_t w;
    switch (e) {
    case E_I4: return (i % 2 == 0) ? (src[i / 2] & 0x0fu) : (uint32_t)(src[i / 2] >> 4);
    case E_I8: return src[i];
    case E_F16: case E_BF16: case E_I16: memcpy(&h, src + 2 * i, 2); return h;
    default: memcpy(&w, src + 4 * i, 4); return w;
    }
}

/* The value of raw C element v. */
static double value_of(enum elem e, uint32_t v)
{
    switch (e) {
    case E_F16: return half_to_float((uint16_t)v);
    case E_BF16: return bf16_to_float((uint16_t)v);
    case E_F32: { float f; memcpy(&f, &v, 4); return f; }
    case E_I8: return (int8_t)(uint8_t)v;
    case E_I16: return (int16_t)(uint16_t)v;
    default: return (int32_t)v;
    }
}

/* --------------------------------------------------------------- misc */

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static int rand_int(int lo, int hi)
{
    return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void usage(const char *prog)
{
    printf("Usage:\n%s <matmul_type> <M,K,N> <B_layout> <AC_layout> <loop_count> <core_mask> "
           "<print_result> <iommu_domain_id>\n", prog);
    printf("\tmatmul_type = 1: RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32\n");
    printf("\tmatmul_type = 2: RKNN_INT8_MM_INT8_TO_INT32\n");
    printf("\tmatmul_type = 4: RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16\n");
    printf("\tmatmul_type = 7: RKNN_FLOAT16_MM_INT4_TO_FLOAT32\n");
    printf("\tmatmul_type = 10: RKNN_INT4_MM_INT4_TO_INT16\n");
    printf("\t(types 1-12 and 15)\n");
    printf("Example: A = [4,64], B = [64,32], int8 matmul test command as followed:\n");
    printf("%s 2 4,64,32\n", prog);
}

static void dump_attr(const rknn_matmul_tensor_attr *a)
{
    uint32_t i;
    printf("  name=%s, dims=(", a->name);
    for (i = 0; i < a->n_dims; ++i) {
        printf(i ? ", %u" : "%u", a->dims[i]);
    }
    printf("), size=%u, type=%s\n", a->size, get_type_string(a->type));
}

static int set_quant(rknn_matmul_ctx ctx, const char *name, float scale, int len, int with_zp)
{
    rknn_quant_params p;
    int i, ret;
    memset(&p, 0, sizeof p);
    strncpy(p.name, name, RKNN_MAX_NAME_LEN - 1);
    p.scale = (float *)malloc((size_t)len * sizeof(float));
    p.zp = with_zp ? (int32_t *)calloc((size_t)len, sizeof(int32_t)) : NULL;
    if (p.scale == NULL || (with_zp && p.zp == NULL)) {
        free(p.scale);
        free(p.zp);
        return -1;
    }
    for (i = 0; i < len; ++i) {
        p.scale[i] = scale;
    }
    p.scale_len = len;
    p.zp_len = with_zp ? len : 0;
    ret = rknn_matmul_set_quant_params(ctx, &p);
    free(p.scale);
    free(p.zp);
    return ret;
}

/* --------------------------------------------------------------- main */

int main(int argc, char *argv[])
{
    rknn_matmul_type type;
    int M, K, N, B_layout = 0, AC_layout = 0, loop_count = 10, core_mask = 0;
    int print_result = 1, iommu_domain_id = 0;
    enum elem ea, eb, ec;
    rknn_matmul_info info;
    rknn_matmul_io_attr io;
    rknn_matmul_ctx ctx = 0;
    rknn_tensor_mem *A = NULL, *B = NULL, *C = NULL;
    int32_t *a_int = NULL, *b_int = NULL;
    float *a_f = NULL, *b_f = NULL;
    uint8_t *a_norm = NULL, *b_norm = NULL, *b_tmp = NULL;
    double *ref = NULL;
    double total_us = 0.0, avg_us;
    int is_int_a, ret = -1, i, bad = 0;
    size_t mk, kn, mn, x;
    int subK, subN;

    if (argc < 3) {
        usage(argv[0]);
        return -1;
    }
    type = (rknn_matmul_type)atoi(argv[1]);
    if (elems_of(type, &ea, &eb, &ec) != 0) {
        fprintf(stderr, "invalid matmul_type: %d, required 1-12 or 15\n", (int)type);
        usage(argv[0]);
        return -1;
    }
    if (sscanf(argv[2], "%d,%d,%d", &M, &K, &N) != 3 || M <= 0 || K <= 0 || N <= 0) {
        fprintf(stderr, "M,K,N must be three positive numbers separated by ','\n");
        usage(argv[0]);
        return -1;
    }
    if (argc > 3) B_layout = atoi(argv[3]);
    if (argc > 4) AC_layout = atoi(argv[4]);
    if (argc > 5) loop_count = atoi(argv[5]);
    if (argc > 6) core_mask = atoi(argv[6]);
    if (argc > 7) print_result = atoi(argv[7]);
    if (argc > 8) iommu_domain_id = atoi(argv[8]);
    if (loop_count < 1) loop_count = 1;

    printf("MatMul matmul_type = %s, M = %d, K = %d, N = %d, B_layout = %d, AC_layout = %d, "
           "loop_count = %d, core_mask = %d, iommu_domain_id = %d\n",
           type_name(type), M, K, N, B_layout, AC_layout, loop_count, core_mask, iommu_domain_id);

    memset(&info, 0, sizeof info);
    info.M = M;
    info.K = K;
    info.N = N;
    info.type = type;
    info.B_layout = (int16_t)B_layout;
    info.AC_layout = (int16_t)AC_layout;
    info.iommu_domain_id = iommu_domain_id;
    /* As the vendor demo: per-channel B for some mixed types, per-group
     * B for others. */
    if (type == RKNN_FLOAT16_MM_INT8_TO_FLOAT32 || type == RKNN_FLOAT16_MM_INT4_TO_FLOAT32 ||
        type == RKNN_INT8_MM_INT4_TO_INT32) {
        info.B_quant_type = RKNN_QUANT_TYPE_PER_CHANNEL_SYM;
    } else if ((type == RKNN_FLOAT16_MM_INT4_TO_FLOAT16 || type == RKNN_INT8_MM_INT8_TO_FLOAT32) &&
               K % GROUP_SIZE == 0) {
        info.B_quant_type = RKNN_QUANT_TYPE_PER_GROUP_SYM;
        info.group_size = GROUP_SIZE;
    }

    memset(&io, 0, sizeof io);
    ret = rknn_matmul_create(&ctx, &info, &io);
    if (ret < 0) {
        fprintf(stderr, "rknn_matmul_create fail! ret=%d\n", ret);
        return -1;
    }
    ret = -1;
    if (rknn_matmul_set_core_mask(ctx, (rknn_core_mask)core_mask) < 0) {
        fprintf(stderr, "warning: rknn_matmul_set_core_mask(%d) refused, using the default cores\n",
                core_mask);
    }

    is_int_a = (ea != E_F16);
    mk = (size_t)M * (size_t)K;
    kn = (size_t)K * (size_t)N;
    mn = (size_t)M * (size_t)N;

    /* Quantization parameters: A and C per layer, B as created. */
    if (eb != E_F16) {
        int len = 1;
        if (info.B_quant_type == RKNN_QUANT_TYPE_PER_CHANNEL_SYM) len = N;
        if (info.B_quant_type == RKNN_QUANT_TYPE_PER_GROUP_SYM) len = N * (K / GROUP_SIZE);
        if (set_quant(ctx, io.B.name, B_SCALE, len, len == N) < 0) {
            fprintf(stderr, "rknn_matmul_set_quant_params(B) fail!\n");
            goto out;
        }
    }
    if (is_int_a && set_quant(ctx, io.A.name, A_SCALE, 1, 1) < 0) {
        fprintf(stderr, "rknn_matmul_set_quant_params(A) fail!\n");
        goto out;
    }
    if (ec == E_I8 && set_quant(ctx, io.C.name, C_SCALE, 1, 1) < 0) {
        fprintf(stderr, "rknn_matmul_set_quant_params(C) fail!\n");
        goto out;
    }

    printf("input/output matmul tensor attribute:\n");
    dump_attr(&io.A);
    dump_attr(&io.B);
    dump_attr(&io.C);

    /* Random data: fp16 in [-1, 1), int8 in full range, int4 in [-8, 7]. */
    a_int = (int32_t *)calloc(mk, sizeof *a_int);
    b_int = (int32_t *)calloc(kn, sizeof *b_int);
    a_f = (float *)calloc(mk, sizeof *a_f);
    b_f = (float *)calloc(kn, sizeof *b_f);
    a_norm = (uint8_t *)calloc(elem_bytes(ea, mk) + 1, 1);
    b_norm = (uint8_t *)calloc(elem_bytes(eb, kn) + 1, 1);
    b_tmp = (uint8_t *)calloc(elem_bytes(eb, kn) + 1, 1);
    ref = (double *)calloc(mn, sizeof *ref);
    if (!a_int || !b_int || !a_f || !b_f || !a_norm || !b_norm || !b_tmp || !ref) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }
    for (x = 0; x < mk; ++x) {
        if (ea == E_F16) {
            uint16_t h = float_to_half((float)rand_int(-1000, 999) / 1000.0f);
            a_f[x] = half_to_float(h);
            put_raw(a_norm, ea, x, h);
        } else {
            a_int[x] = ea == E_I4 ? rand_int(-8, 7) : rand_int(-128, 127);
            put_raw(a_norm, ea, x, (uint32_t)a_int[x]);
        }
    }
    for (x = 0; x < kn; ++x) {
        if (eb == E_F16) {
            uint16_t h = float_to_half((float)rand_int(-1000, 999) / 1000.0f);
            b_f[x] = half_to_float(h);
            put_raw(b_norm, eb, x, h);
        } else {
            b_int[x] = eb == E_I4 ? rand_int(-8, 7) : rand_int(-128, 127);
            put_raw(b_norm, eb, x, (uint32_t)b_int[x]);
        }
    }

    A = rknn_create_mem(ctx, io.A.size);
    B = rknn_create_mem(ctx, io.B.size);
    C = rknn_create_mem(ctx, io.C.size);
    if (A == NULL || B == NULL || C == NULL) {
        fprintf(stderr, "rknn_create_mem fail!\n");
        goto out;
    }

    /* A: normal [M, K] or native [K/subK, M, subK]. */
    if (AC_layout == 1) {
        int m, k;
        subK = (int)io.A.dims[2];
        memset(A->virt_addr, 0, io.A.size);
        for (m = 0; m < M; ++m) {
            for (k = 0; k < K; ++k) {
                size_t dst = ((size_t)(k / subK) * (size_t)M + (size_t)m) * (size_t)subK + (size_t)(k % subK);
                put_raw((uint8_t *)A->virt_addr, ea, dst, get_raw(a_norm, ea, (size_t)m * K + k));
            }
        }
    } else {
        memcpy(A->virt_addr, a_norm, elem_bytes(ea, mk));
    }

    /* B: normal [K, N], transposed [N, K] or native (converted by the
     * library, K segments included). */
    if (B_layout == 1) {
        memcpy(b_tmp, b_norm, elem_bytes(eb, kn));
        if (rknn_B_normal_layout_to_native_layout(b_tmp, B->virt_addr, K, N, &info) < 0) {
            fprintf(stderr, "rknn_B_normal_layout_to_native_layout fail!\n");
            goto out;
        }
    } else if (B_layout == 2) {
        int k, n;
        memset(B->virt_addr, 0, io.B.size);
        for (k = 0; k < K; ++k) {
            for (n = 0; n < N; ++n) {
                put_raw((uint8_t *)B->virt_addr, eb, (size_t)n * K + k, get_raw(b_norm, eb, (size_t)k * N + n));
            }
        }
    } else {
        memcpy(B->virt_addr, b_norm, elem_bytes(eb, kn));
    }

    if (rknn_matmul_set_io_mem(ctx, A, &io.A) < 0 || rknn_matmul_set_io_mem(ctx, B, &io.B) < 0 ||
        rknn_matmul_set_io_mem(ctx, C, &io.C) < 0) {
        fprintf(stderr, "rknn_matmul_set_io_mem fail!\n");
        goto out;
    }

    printf("Begin perf ...\n");
    for (i = 0; i < loop_count; ++i) {
        double t0 = now_us(), el;
        if (rknn_matmul_run(ctx) < 0) {
            fprintf(stderr, "rknn_matmul_run error\n");
            goto out;
        }
        el = now_us() - t0;
        total_us += el;
        printf("%4d: Elapse Time = %.2fms, FPS = %.2f\n", i, el / 1000.0, 1e6 / (el > 0 ? el : 1));
    }
    avg_us = total_us / loop_count;
    printf("Average Time = %.2fms, Average FPS = %.2f\n", avg_us / 1000.0, 1e6 / (avg_us > 0 ? avg_us : 1));
    printf("GOPS = %.2f\n", 2.0 * (double)M * K * N / (avg_us > 0 ? avg_us : 1) / 1e3);

    /* Naive reference. */
    {
        int m, n, k;
        float mult = A_SCALE * B_SCALE / C_SCALE;
        for (m = 0; m < M; ++m) {
            for (n = 0; n < N; ++n) {
                double s = 0.0;
                long long acc = 0;
                for (k = 0; k < K; ++k) {
                    if (!is_int_a) {
                        double bv = eb == E_F16 ? (double)b_f[(size_t)k * N + n]
                                                : (double)((float)b_int[(size_t)k * N + n] * B_SCALE);
                        s += (double)a_f[(size_t)m * K + k] * bv;
                    } else {
                        acc += (long long)a_int[(size_t)m * K + k] * b_int[(size_t)k * N + n];
                    }
                }
                if (!is_int_a) {
                    ref[(size_t)m * N + n] = s;
                } else if (ec == E_I32) {
                    ref[(size_t)m * N + n] = (double)acc;
                } else if (ec == E_I16) {
                    ref[(size_t)m * N + n] = (double)(acc > 32767 ? 32767 : acc < -32768 ? -32768 : acc);
                } else if (ec == E_I8) {
                    float r = roundf((float)acc * mult);
                    ref[(size_t)m * N + n] = r > 127.0f ? 127.0 : r < -128.0f ? -128.0 : (double)r;
                } else {
                    ref[(size_t)m * N + n] = (double)acc * A_SCALE * B_SCALE;
                }
            }
        }
    }

    /* Compare (C read back to normal layout). */
    subN = AC_layout == 1 ? (int)io.C.dims[2] : 1;
    for (x = 0; x < mn; ++x) {
        size_t m = x / (size_t)N, n = x % (size_t)N;
        size_t at = AC_layout == 1 ? ((n / (size_t)subN) * (size_t)M + m) * (size_t)subN + n % (size_t)subN : x;
        double got = value_of(ec, get_raw((const uint8_t *)C->virt_addr, ec, at));
        double want = ref[x];
        double tol;
        switch (ec) {
        case E_F16: tol = fabs(want) / 1024.0 + 1e-3 + 1e-6 * K; break;
        case E_BF16: tol = fabs(want) / 128.0 + 1e-2 + 1e-6 * K; break;
        case E_F32: tol = fabs(want) * 1e-5 + 1e-5 * K; break;
        case E_I8: tol = 1.0; break;
        default: tol = 0.0; break;
        }
        if (fabs(got - want) > tol) {
            if (bad < 5) {
                fprintf(stderr, "C[%zu][%zu] = %f, expected %f\n", m, n, got, want);
            }
            bad++;
        }
    }

    if (print_result) {
        int m, n;
        printf("C (first rows and columns, normal layout):\n");
        for (m = 0; m < M && m < 4; ++m) {
            for (n = 0; n < N && n < 8; ++n) {
                size_t idx = (size_t)m * N + n;
                size_t at = AC_layout == 1 ? (((size_t)n / subN) * M + m) * subN + (size_t)n % subN : idx;
                printf(" %10.4f", value_of(ec, get_raw((const uint8_t *)C->virt_addr, ec, at)));
            }
            printf("\n");
        }
    }

    if (bad == 0) {
        printf("%s matmul result is correct M x K x N is %d %d %d AC_layout is %d B_layout is %d\n",
               type_name(type), M, K, N, AC_layout, B_layout);
        ret = 0;
    } else {
        printf("%s matmul result is wrong (%d mismatches) M x K x N is %d %d %d AC_layout is %d B_layout is %d\n",
               type_name(type), bad, M, K, N, AC_layout, B_layout);
        ret = -1;
    }

out:
    rknn_matmul_destroy(ctx);
    if (A) rknn_destroy_mem(ctx, A);
    if (B) rknn_destroy_mem(ctx, B);
    if (C) rknn_destroy_mem(ctx, C);
    free(a_int);
    free(b_int);
    free(a_f);
    free(b_f);
    free(a_norm);
    free(b_norm);
    free(b_tmp);
    free(ref);
    return ret;
}
