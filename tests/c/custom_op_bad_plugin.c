/*
 * Broken custom op plugins for toolchain/tests/custom_ops_c.rs, one per
 * macro; the runtime must skip each with a warning naming the file:
 *   BAD_NO_ENTRY   exports no get_rknn_custom_op;
 *   BAD_NULL       get_rknn_custom_op returns NULL;
 *   BAD_VERSION    returns an op with version 0;
 *   BAD_DUPLICATE  returns a second cstSoftmax whose compute fails (it
 *                  must never run: the first plugin of a type wins).
 */
#include <string.h>

#include "rknn_custom_op.h"

#if defined(BAD_NO_ENTRY)
RKNN_CUSTOM_OP_EXPORT int not_the_entry_point(void);
RKNN_CUSTOM_OP_EXPORT int not_the_entry_point(void) { return 0; }
#elif defined(BAD_NULL)
RKNN_CUSTOM_OP_EXPORT rknn_custom_op *get_rknn_custom_op(void);
RKNN_CUSTOM_OP_EXPORT rknn_custom_op *get_rknn_custom_op(void) { return NULL; }
#else
static int failing_compute(rknn_custom_op_context *op_ctx, rknn_custom_op_tensor *inputs,
                           uint32_t n_inputs, rknn_custom_op_tensor *outputs,
                           uint32_t n_outputs)
{
    (void)op_ctx;
    (void)inputs;
    (void)n_inputs;
    (void)outputs;
    (void)n_outputs;
    return -99;
}

static rknn_custom_op op;

RKNN_CUSTOM_OP_EXPORT rknn_custom_op *get_rknn_custom_op(void);

RKNN_CUSTOM_OP_EXPORT rknn_custom_op *get_rknn_custom_op(void)
{
    memset(&op, 0, sizeof(op));
    strncpy(op.op_type, "cstSoftmax", RKNN_MAX_NAME_LEN - 1);
    op.target = RKNN_TARGET_TYPE_CPU;
    op.compute = failing_compute;
#if defined(BAD_VERSION)
    op.version = 0;
#else
    op.version = 1;
#endif
    return &op;
}
#endif
