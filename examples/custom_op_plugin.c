/*
 * A custom op plugin, after the vendor's plugin example (user guide
 * 5.5.4.4): built as librkcst_softmax.so and placed in the directory the
 * runtime searches (RKNNRT_OP_PLUGIN_DIR, or /usr/lib/rknpu/op_plugins/),
 * it provides the cstSoftmax op to every model that uses it and does not
 * register it itself. One plugin library holds one op.
 *
 *   gcc -shared -fPIC -Iinclude custom_op_plugin.c -Ltarget/release -lrknnrt -lm \
 *       -o librkcst_softmax.so
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "rknn_custom_op.h"

/* Softmax along the "axis" attribute of a float32 NCHW/UNDEFINED tensor. */
static int softmax_compute(rknn_custom_op_context *op_ctx, rknn_custom_op_tensor *inputs,
                           uint32_t n_inputs, rknn_custom_op_tensor *outputs,
                           uint32_t n_outputs)
{
    if (n_inputs != 1 || n_outputs != 1)
        return -1;
    const float *in =
        (const float *)((unsigned char *)inputs[0].mem.virt_addr + inputs[0].mem.offset);
    float *out = (float *)((unsigned char *)outputs[0].mem.virt_addr + outputs[0].mem.offset);
    const rknn_tensor_attr *attr = &inputs[0].attr;
    rknn_custom_op_attr a;
    rknn_custom_op_get_op_attr(op_ctx, "axis", &a);
    int axis = (a.n_elems == 1 && a.dtype == RKNN_TENSOR_INT64) ? (int)((int64_t *)a.data)[0] : -1;
    while (axis < 0)
        axis += (int)attr->n_dims;
    size_t outside = 1, channel = attr->dims[axis], inside = 1;
    for (int i = 0; i < axis; i++)
        outside *= attr->dims[i];
    for (int i = axis + 1; i < (int)attr->n_dims; i++)
        inside *= attr->dims[i];
    for (size_t o = 0; o < outside; o++) {
        for (size_t i = 0; i < inside; i++) {
            const float *x = in + o * channel * inside + i;
            float *y = out + o * channel * inside + i;
            float max = -FLT_MAX, sum = 0.0f;
            for (size_t c = 0; c < channel; c++)
                max = fmaxf(max, x[c * inside]);
            for (size_t c = 0; c < channel; c++) {
                y[c * inside] = expf(x[c * inside] - max);
                sum += y[c * inside];
            }
            for (size_t c = 0; c < channel; c++)
                y[c * inside] /= sum;
        }
    }
    return 0;
}

static rknn_custom_op plugin_op;

RKNN_CUSTOM_OP_EXPORT rknn_custom_op *get_rknn_custom_op(void);

RKNN_CUSTOM_OP_EXPORT rknn_custom_op *get_rknn_custom_op(void)
{
    memset(&plugin_op, 0, sizeof(plugin_op));
    strncpy(plugin_op.op_type, "cstSoftmax", RKNN_MAX_NAME_LEN - 1);
    plugin_op.version = 1;
    plugin_op.target = RKNN_TARGET_TYPE_CPU;
    plugin_op.compute = softmax_compute;
    return &plugin_op;
}
