/*
 * Two models sharing one internal buffer (user guide 2.3.0 §9.3, the
 * rknn_internal_mem_reuse_demo pattern): both contexts are created with
 * RKNN_FLAG_MEM_ALLOC_OUTSIDE, one buffer of the larger
 * total_internal_size is allocated, and each context gets a view of it
 * made with rknn_create_mem_from_fd on the buffer's fd. The models then run
 * one after the other, several times:
 *
 *   zero_copy_internal_reuse model_a.rknn model_b.rknn [loops=3]
 *
 * Each output is compared with the general API on the same model and image.
 */
#include "zero_copy_common.h"

struct model {
    const char *path;
    rknn_context ctx;
    rknn_mem_size ms;
    rknn_tensor_mem *weights, *internal, *in, *out;
    uint32_t out_bytes;
    uint8_t *img;
    float *want;
};

static void setup(struct model *m, uint32_t seed)
{
    CHECK(rknn_init(&m->ctx, (void *)m->path, 0, RKNN_FLAG_MEM_ALLOC_OUTSIDE, NULL));
    CHECK(rknn_query(m->ctx, RKNN_QUERY_MEM_SIZE, &m->ms, sizeof(m->ms)));
    m->weights = rknn_create_mem(m->ctx, m->ms.total_weight_size);
    CHECK_PTR(m->weights);
    CHECK(rknn_set_weight_mem(m->ctx, m->weights));
    uint32_t in_bytes, hwc[3];
    zc_sizes(m->ctx, &in_bytes, &m->out_bytes, hwc);
    m->in = rknn_create_mem(m->ctx, in_bytes);
    m->out = rknn_create_mem(m->ctx, m->out_bytes);
    CHECK_PTR(m->in);
    CHECK_PTR(m->out);
    m->img = zc_image(hwc[0], hwc[1], hwc[2], seed);
    size_t want_size = 0;
    m->want = zc_general(m->path, m->img, (size_t)hwc[0] * hwc[1] * hwc[2], &want_size);
    if (want_size != m->out_bytes) {
        fprintf(stderr, "%s: output size %zu != %u\n", m->path, want_size, m->out_bytes);
        exit(1);
    }
    zc_bind(m->ctx, m->in, m->out, m->img);
}

static void teardown(struct model *m)
{
    CHECK(rknn_destroy(m->ctx));
    CHECK(rknn_destroy_mem(0, m->weights));
    CHECK(rknn_destroy_mem(0, m->internal));
    CHECK(rknn_destroy_mem(0, m->in));
    CHECK(rknn_destroy_mem(0, m->out));
    free(m->img);
    free(m->want);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s model_a.rknn model_b.rknn [loops]\n", argv[0]);
        return 2;
    }
    int loops = argc > 3 ? atoi(argv[3]) : 3;
    struct model a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.path = argv[1];
    b.path = argv[2];
    setup(&a, 1);
    setup(&b, 2);

    uint32_t max = a.ms.total_internal_size > b.ms.total_internal_size
                       ? a.ms.total_internal_size
                       : b.ms.total_internal_size;
    printf("internal sizes: %u and %u, shared buffer: %u bytes\n",
           a.ms.total_internal_size, b.ms.total_internal_size, max);
    rknn_tensor_mem *shared = rknn_create_mem(a.ctx, max);
    CHECK_PTR(shared);
    a.internal = rknn_create_mem_from_fd(a.ctx, shared->fd, shared->virt_addr,
                                         a.ms.total_internal_size, 0);
    b.internal = rknn_create_mem_from_fd(b.ctx, shared->fd, shared->virt_addr,
                                         b.ms.total_internal_size, 0);
    CHECK_PTR(a.internal);
    CHECK_PTR(b.internal);
    CHECK(rknn_set_internal_mem(a.ctx, a.internal));
    CHECK(rknn_set_internal_mem(b.ctx, b.internal));

    int failed = 0;
    for (int i = 0; i < loops && !failed; i++) {
        CHECK(rknn_run(a.ctx, NULL));
        CHECK(rknn_mem_sync(a.ctx, a.out, RKNN_MEMORY_SYNC_FROM_DEVICE));
        failed |= zc_compare("model a", a.out->virt_addr, a.want, a.out_bytes);
        CHECK(rknn_run(b.ctx, NULL));
        CHECK(rknn_mem_sync(b.ctx, b.out, RKNN_MEMORY_SYNC_FROM_DEVICE));
        failed |= zc_compare("model b", b.out->virt_addr, b.want, b.out_bytes);
    }
    teardown(&a);
    teardown(&b);
    CHECK(rknn_destroy_mem(0, shared));
    return failed;
}
