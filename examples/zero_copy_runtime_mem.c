/*
 * Zero-copy inference with memory allocated by the runtime
 * (rknn_create_mem, user guide 2.3.0 Fig. 5-7):
 *
 *   zero_copy_runtime_mem model.rknn [loops=3]
 *
 * The input is the native NHWC layout with the type changed to UINT8 (the
 * image copied row by row to w_stride), the output float32 NCHW. Each run's
 * output is compared with the general API (rknn_inputs_set /
 * rknn_outputs_get) on the same model and image; exit status 0 when equal.
 */
#include "zero_copy_common.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s model.rknn [loops]\n", argv[0]);
        return 2;
    }
    int loops = argc > 2 ? atoi(argv[2]) : 3;
    rknn_context ctx = 0;
    CHECK(rknn_init(&ctx, argv[1], 0, 0, NULL));
    uint32_t in_bytes, out_bytes, hwc[3];
    zc_sizes(ctx, &in_bytes, &out_bytes, hwc);

    rknn_tensor_mem *in_mem = rknn_create_mem(ctx, in_bytes);
    rknn_tensor_mem *out_mem = rknn_create_mem(ctx, out_bytes);
    CHECK_PTR(in_mem);
    CHECK_PTR(out_mem);
    printf("input memory: fd %d, %u bytes; output memory: fd %d, %u bytes\n",
           in_mem->fd, in_mem->size, out_mem->fd, out_mem->size);

    int failed = 0;
    for (int i = 0; i < loops && !failed; i++) {
        uint8_t *img = zc_image(hwc[0], hwc[1], hwc[2], (uint32_t)i);
        size_t want_size = 0;
        float *want = zc_general(argv[1], img, (size_t)hwc[0] * hwc[1] * hwc[2],
                                 &want_size);
        /* Binding once is enough; rebinding each loop shows it is allowed. */
        zc_bind(ctx, in_mem, out_mem, img);
        CHECK(rknn_run(ctx, NULL));
        CHECK(rknn_mem_sync(ctx, out_mem, RKNN_MEMORY_SYNC_FROM_DEVICE));
        failed = want_size != out_bytes ||
                 zc_compare("runtime memory", out_mem->virt_addr, want, want_size);
        free(want);
        free(img);
    }
    CHECK(rknn_destroy(ctx));
    CHECK(rknn_destroy_mem(0, in_mem));
    CHECK(rknn_destroy_mem(0, out_mem));
    return failed;
}
