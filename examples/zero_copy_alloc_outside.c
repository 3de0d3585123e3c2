/*
 * Every memory from outside (user guide 2.3.0 Fig. 5-9, §9.2.2): the model
 * file is read into memory made with rknn_create_mem2 without a context
 * and used in place (RKNN_FLAG_MODEL_BUFFER_ZERO_COPY); with
 * RKNN_FLAG_MEM_ALLOC_OUTSIDE the weights (cacheable) and the internal
 * memory (non-cacheable) come from rknn_create_mem2 sized by
 * RKNN_QUERY_MEM_SIZE, and so do the input and output:
 *
 *   zero_copy_alloc_outside model.rknn
 *
 * The output is compared with the general API on the same model and image.
 */
#include "zero_copy_common.h"

static rknn_tensor_mem *read_model(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    rknn_tensor_mem *mem =
        rknn_create_mem2(0, (uint64_t)len, RKNN_MEM_FLAG_ALLOC_NO_CONTEXT);
    CHECK_PTR(mem);
    if (fread(mem->virt_addr, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: short read\n", path);
        exit(1);
    }
    fclose(f);
    return mem;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s model.rknn\n", argv[0]);
        return 2;
    }
    rknn_tensor_mem *model = read_model(argv[1]);
    rknn_init_extend ext;
    memset(&ext, 0, sizeof(ext));
    ext.model_buffer_fd = model->fd;
    ext.model_buffer_flags = model->flags;
    rknn_context ctx = 0;
    CHECK(rknn_init(&ctx, model->virt_addr, model->size,
                    RKNN_FLAG_MEM_ALLOC_OUTSIDE | RKNN_FLAG_MODEL_BUFFER_ZERO_COPY, &ext));

    rknn_mem_size ms;
    CHECK(rknn_query(ctx, RKNN_QUERY_MEM_SIZE, &ms, sizeof(ms)));
    printf("total weight size: %u, total internal size: %u, allocated inside: %llu\n",
           ms.total_weight_size, ms.total_internal_size,
           (unsigned long long)ms.total_dma_allocated_size);
    if (rknn_run(ctx, NULL) == RKNN_SUCC) {
        fprintf(stderr, "rknn_run must fail before the memory is given\n");
        return 1;
    }
    rknn_tensor_mem *weights =
        rknn_create_mem2(ctx, ms.total_weight_size, RKNN_FLAG_MEMORY_CACHEABLE);
    rknn_tensor_mem *internal =
        rknn_create_mem2(ctx, ms.total_internal_size, RKNN_FLAG_MEMORY_NON_CACHEABLE);
    CHECK_PTR(weights);
    CHECK_PTR(internal);
    CHECK(rknn_set_weight_mem(ctx, weights));
    CHECK(rknn_set_internal_mem(ctx, internal));

    uint32_t in_bytes, out_bytes, hwc[3];
    zc_sizes(ctx, &in_bytes, &out_bytes, hwc);
    rknn_tensor_mem *in_mem = rknn_create_mem2(ctx, in_bytes, RKNN_FLAG_MEMORY_CACHEABLE);
    rknn_tensor_mem *out_mem = rknn_create_mem2(ctx, out_bytes, RKNN_FLAG_MEMORY_CACHEABLE);
    CHECK_PTR(in_mem);
    CHECK_PTR(out_mem);
    uint8_t *img = zc_image(hwc[0], hwc[1], hwc[2], 3);
    size_t want_size = 0;
    float *want = zc_general(argv[1], img, (size_t)hwc[0] * hwc[1] * hwc[2], &want_size);
    zc_bind(ctx, in_mem, out_mem, img);
    CHECK(rknn_run(ctx, NULL));
    CHECK(rknn_mem_sync(ctx, out_mem, RKNN_MEMORY_SYNC_FROM_DEVICE));
    int failed = want_size != out_bytes ||
                 zc_compare("memory allocated outside", out_mem->virt_addr, want, want_size);

    /* The vendor's cleanup order: memory first, then the context. Memory
       destroyed while still set is freed with the context; until then runs
       refuse it. */
    CHECK(rknn_destroy_mem(ctx, weights));
    if (rknn_run(ctx, NULL) == RKNN_SUCC) {
        fprintf(stderr, "a run used destroyed weights memory\n");
        failed = 1;
    }
    CHECK(rknn_destroy_mem(ctx, internal));
    CHECK(rknn_destroy_mem(ctx, in_mem));
    CHECK(rknn_destroy_mem(ctx, out_mem));
    CHECK(rknn_destroy_mem(ctx, model));
    CHECK(rknn_destroy(ctx));
    free(want);
    free(img);
    return failed;
}
