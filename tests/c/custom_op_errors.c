/*
 * The error paths of the custom op API, on the softmax_argmax model
 * (cstSoftmax, then an ArgMax the application replaces; the model keeps
 * the built-in ArgMax as its fallback):
 *
 *   custom_op_errors softmax_argmax.rknn
 *
 * Prints "ok: <check>" per check and "FAIL: <check>" for a wrong result;
 * exit status = number of failures. The runtime's E RKNN: lines on
 * stderr are checked by toolchain/tests/custom_ops_c.rs. Run it with
 * RKNNRT_OPENCL_LIB pointing at a missing file, so that GPU ops are
 * refused the same way on every machine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rknn_api.h"
#include "rknn_custom_op.h"

static const char *g_model;
static int g_failures;
static int g_compute_result;
static int g_prepare_result;
static int g_init_result;
static int g_computed;

static void expect(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok)
        g_failures++;
}

static rknn_context init(void)
{
    rknn_context ctx = 0;
    if (rknn_init(&ctx, (void *)g_model, 0, 0, NULL) != RKNN_SUCC) {
        fprintf(stderr, "rknn_init %s failed\n", g_model);
        exit(100);
    }
    return ctx;
}

static int result_init(rknn_custom_op_context *c, rknn_custom_op_tensor *i, uint32_t ni,
                       rknn_custom_op_tensor *o, uint32_t no)
{
    (void)c;
    (void)i;
    (void)ni;
    (void)o;
    (void)no;
    return g_init_result;
}

static int result_prepare(rknn_custom_op_context *c, rknn_custom_op_tensor *i, uint32_t ni,
                          rknn_custom_op_tensor *o, uint32_t no)
{
    (void)c;
    (void)i;
    (void)ni;
    (void)o;
    (void)no;
    return g_prepare_result;
}

/* Writes zeros (a valid softmax or index output) and returns the
 * configured result; also probes rknn_custom_op_get_op_attr. */
static int probing_compute(rknn_custom_op_context *c, rknn_custom_op_tensor *i, uint32_t ni,
                           rknn_custom_op_tensor *o, uint32_t no)
{
    (void)i;
    (void)ni;
    g_computed++;
    rknn_custom_op_attr a;
    a.n_elems = 99;
    a.data = &a;
    rknn_custom_op_get_op_attr(c, "no_such_attribute", &a);
    if (a.n_elems != 0 || a.data != NULL)
        return -50;
    rknn_custom_op_get_op_attr(c, NULL, &a);
    rknn_custom_op_get_op_attr(NULL, "axis", &a);
    rknn_custom_op_get_op_attr(c, "axis", NULL);
    rknn_custom_op_get_op_attr(c, "axis", &a);
    if (a.n_elems != 1 || a.dtype != RKNN_TENSOR_INT64)
        return -51;
    for (uint32_t k = 0; k < no; k++)
        memset((unsigned char *)o[k].mem.virt_addr + o[k].mem.offset, 0, o[k].mem.size);
    return g_compute_result;
}

static rknn_custom_op op_of(const char *type)
{
    rknn_custom_op op;
    memset(&op, 0, sizeof(op));
    strncpy(op.op_type, type, RKNN_MAX_NAME_LEN - 1);
    op.version = 1;
    op.target = RKNN_TARGET_TYPE_CPU;
    op.compute = probing_compute;
    return op;
}

static int run_once(rknn_context ctx)
{
    float x[3 * 8 * 8];
    for (int k = 0; k < 3 * 8 * 8; k++)
        x[k] = (float)(k % 7) / 7.0f;
    rknn_input in;
    memset(&in, 0, sizeof(in));
    in.type = RKNN_TENSOR_FLOAT32;
    in.fmt = RKNN_TENSOR_NCHW;
    in.buf = x;
    in.size = sizeof(x);
    if (rknn_inputs_set(ctx, 1, &in) != RKNN_SUCC)
        return -1000;
    return rknn_run(ctx, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s softmax_argmax.rknn\n", argv[0]);
        return 100;
    }
    g_model = argv[1];
    rknn_custom_op ops[2];

    /* Arguments. */
    rknn_context ctx = init();
    expect(rknn_register_custom_ops(ctx, NULL, 1) == RKNN_ERR_PARAM_INVALID, "NULL op");
    ops[0] = op_of("cstSoftmax");
    expect(rknn_register_custom_ops(ctx, ops, 0) == RKNN_ERR_PARAM_INVALID, "no op");
    expect(rknn_register_custom_ops(0, ops, 1) == RKNN_ERR_CTX_INVALID, "context 0");
    ops[0].compute = NULL;
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_ERR_PARAM_INVALID, "NULL compute");
    ops[0] = op_of("cstSoftmax");
    ops[0].target = 5;
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_ERR_PARAM_INVALID, "bad target");
    ops[0] = op_of("cstSoftmax");
    ops[0].version = 0;
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_ERR_PARAM_INVALID, "version 0");
    ops[0] = op_of("cstSoftmax");
    memset(ops[0].op_type, 'x', sizeof(ops[0].op_type));
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_ERR_PARAM_INVALID,
           "op_type without NUL");
    ops[0] = op_of("");
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_ERR_PARAM_INVALID, "empty op_type");
    ops[0] = op_of("cstSoftmax");
    ops[0].target = RKNN_TARGET_TYPE_GPU;
    strcpy(ops[0].cl_kernel_name, "softmax");
    ops[0].cl_kernel_source = "__kernel void softmax(void) {}";
    ops[0].cl_source_size = strlen(ops[0].cl_kernel_source);
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_ERR_FAIL, "GPU op without OpenCL");

    /* Each type once: in one call and across calls. */
    ops[0] = op_of("cstSoftmax");
    ops[1] = op_of("cstSoftmax");
    expect(rknn_register_custom_ops(ctx, ops, 2) == RKNN_ERR_PARAM_INVALID,
           "a type twice in one call");
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_SUCC, "first registration");
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_ERR_PARAM_INVALID,
           "a type twice across calls");

    /* An op the model uses but nobody registered fails the run. */
    expect(run_once(ctx) == RKNN_ERR_FAIL, "run with ArgMax not registered");
    ops[0] = op_of("ArgMax");
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_SUCC, "register ArgMax");
    g_computed = 0;
    expect(run_once(ctx) == RKNN_SUCC && g_computed == 2, "run with both ops");

    /* Callbacks returning errors. */
    g_compute_result = -7;
    expect(run_once(ctx) == RKNN_ERR_FAIL, "compute returning -7");
    g_compute_result = 0;
    expect(run_once(ctx) == RKNN_SUCC, "the context still runs");
    rknn_destroy(ctx);

    ctx = init();
    ops[0] = op_of("cstSoftmax");
    ops[0].prepare = result_prepare;
    g_prepare_result = -2;
    ops[1] = op_of("ArgMax");
    expect(rknn_register_custom_ops(ctx, ops, 2) == RKNN_SUCC, "register with prepare");
    expect(run_once(ctx) == RKNN_ERR_FAIL, "prepare returning -2");
    g_prepare_result = 0;
    expect(run_once(ctx) == RKNN_SUCC, "prepare returning 0");
    rknn_destroy(ctx);

    ctx = init();
    ops[0] = op_of("cstSoftmax");
    ops[0].init = result_init;
    g_init_result = -3;
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_ERR_FAIL, "init returning -3");
    g_init_result = RKNN_WARNING_SKIP_CUSTOM_OP_COMPUTE;
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_ERR_FAIL,
           "skipping cstSoftmax (no built-in op)");
    ops[0] = op_of("ArgMax");
    ops[0].init = result_init;
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_SUCC,
           "skipping ArgMax (the built-in op runs)");
    g_init_result = 0;
    ops[0] = op_of("cstSoftmax");
    expect(rknn_register_custom_ops(ctx, ops, 1) == RKNN_SUCC, "register cstSoftmax");
    g_computed = 0;
    expect(run_once(ctx) == RKNN_SUCC && g_computed == 1,
           "only cstSoftmax's compute runs");
    rknn_destroy(ctx);

    printf("%d failure(s)\n", g_failures);
    return g_failures;
}
