/*
 * One model, several threads: the vendor's "one context per thread"
 * pattern with rknn_dup_context (contexts share the weights, each has its
 * own internal memory). The main thread computes the reference outputs of
 * every input on the first context; then each of THREADS threads runs its
 * own duplicated context LOOPS times on inputs that differ per thread and
 * per run, and compares every output with the reference.
 *
 *   multi_context_threads model.rknn [loops]
 *
 * Prints "thread <t>: <n> runs equal the single-threaded outputs" per
 * thread and exits 0 only when every output is equal.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rknn_api.h"

#define THREADS 4
#define INPUTS 13

static int check(int ret, const char *what)
{
    if (ret != RKNN_SUCC)
        fprintf(stderr, "%s failed: %d\n", what, ret);
    return ret == RKNN_SUCC;
}

struct job {
    rknn_context ctx;
    int thread;
    int loops;
    uint32_t in_size;  /* bytes of one uint8 NHWC input */
    uint32_t out_n;    /* float elements of output 0 */
    float *reference;  /* INPUTS x out_n */
    int ok;
};

static void fill_input(uint8_t *buf, uint32_t n, int seed)
{
    for (uint32_t i = 0; i < n; i++)
        buf[i] = (uint8_t)((i * 29u + (uint32_t)seed * 67u) % 253u);
}

/* Sets input `seed`, runs and copies output 0 (float) into `out`. */
static int infer(rknn_context ctx, uint8_t *in, uint32_t in_size, int seed,
                 float *out, uint32_t out_n)
{
    rknn_input input;
    rknn_output output;
    fill_input(in, in_size, seed);
    memset(&input, 0, sizeof(input));
    input.index = 0;
    input.buf = in;
    input.size = in_size;
    input.type = RKNN_TENSOR_UINT8;
    input.fmt = RKNN_TENSOR_NHWC;
    memset(&output, 0, sizeof(output));
    output.index = 0;
    output.want_float = 1;
    output.is_prealloc = 1;
    output.buf = out;
    output.size = out_n * sizeof(float);
    return check(rknn_inputs_set(ctx, 1, &input), "rknn_inputs_set") &&
           check(rknn_run(ctx, NULL), "rknn_run") &&
           check(rknn_outputs_get(ctx, 1, &output, NULL), "rknn_outputs_get");
}

static void *worker(void *arg)
{
    struct job *j = arg;
    uint8_t *in = malloc(j->in_size);
    float *out = malloc(j->out_n * sizeof(float));
    j->ok = in != NULL && out != NULL;
    for (int i = 0; j->ok && i < j->loops; i++) {
        int seed = (j->thread * 5 + i) % INPUTS;
        j->ok = infer(j->ctx, in, j->in_size, seed, out, j->out_n) &&
                memcmp(out, j->reference + (size_t)seed * j->out_n,
                       j->out_n * sizeof(float)) == 0;
        if (!j->ok)
            fprintf(stderr, "thread %d: run %d (input %d) differs\n",
                    j->thread, i, seed);
    }
    free(in);
    free(out);
    return NULL;
}

int main(int argc, char **argv)
{
    rknn_context ctx = 0;
    rknn_tensor_attr in_attr, out_attr;
    struct job jobs[THREADS];
    pthread_t threads[THREADS];
    int loops = argc > 2 ? atoi(argv[2]) : 50;
    int failed = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s model.rknn [loops]\n", argv[0]);
        return 2;
    }
    if (!check(rknn_init(&ctx, argv[1], 0, 0, NULL), "rknn_init"))
        return 1;
    memset(&in_attr, 0, sizeof(in_attr));
    memset(&out_attr, 0, sizeof(out_attr));
    if (!check(rknn_query(ctx, RKNN_QUERY_INPUT_ATTR, &in_attr, sizeof(in_attr)), "query input") ||
        !check(rknn_query(ctx, RKNN_QUERY_OUTPUT_ATTR, &out_attr, sizeof(out_attr)), "query output"))
        return 1;

    /* Single-threaded reference outputs on the first context. */
    uint32_t in_size = in_attr.n_elems;
    uint32_t out_n = out_attr.n_elems;
    float *reference = malloc((size_t)INPUTS * out_n * sizeof(float));
    uint8_t *in = malloc(in_size);
    if (reference == NULL || in == NULL)
        return 1;
    for (int s = 0; s < INPUTS; s++)
        if (!infer(ctx, in, in_size, s, reference + (size_t)s * out_n, out_n))
            return 1;
    free(in);

    for (int t = 0; t < THREADS; t++) {
        jobs[t].thread = t;
        jobs[t].loops = loops;
        jobs[t].in_size = in_size;
        jobs[t].out_n = out_n;
        jobs[t].reference = reference;
        if (!check(rknn_dup_context(&ctx, &jobs[t].ctx), "rknn_dup_context"))
            return 1;
    }
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&threads[t], NULL, worker, &jobs[t]) != 0)
            return 1;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        if (jobs[t].ok)
            printf("thread %d: %d runs equal the single-threaded outputs\n", t, loops);
        else
            failed = 1;
        check(rknn_destroy(jobs[t].ctx), "rknn_destroy");
    }
    check(rknn_destroy(ctx), "rknn_destroy");
    free(reference);
    return failed;
}
