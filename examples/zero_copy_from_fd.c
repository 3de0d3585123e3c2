/*
 * Zero-copy inference with memory allocated outside the runtime
 * (user guide 2.3.0 Fig. 5-8): the program creates one memfd, maps it
 * itself, and hands two regions of it to the runtime with
 * rknn_create_mem_from_fd (the output at an offset):
 *
 *   zero_copy_from_fd model.rknn
 *
 * It writes the image and reads the result through its own mapping and
 * compares the result with the general API on the same model and image.
 * The fd stays the program's: it closes it after destroying the memory.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zero_copy_common.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s model.rknn\n", argv[0]);
        return 2;
    }
    rknn_context ctx = 0;
    CHECK(rknn_init(&ctx, argv[1], 0, 0, NULL));
    uint32_t in_bytes, out_bytes, hwc[3];
    zc_sizes(ctx, &in_bytes, &out_bytes, hwc);

    /* One file: the input at 0, the output at the next 4 KiB boundary. */
    size_t out_off = ((size_t)in_bytes + 4095) / 4096 * 4096;
    size_t total = out_off + out_bytes;
    int fd = (int)syscall(SYS_memfd_create, "zero_copy_from_fd", 0);
    if (fd < 0 || ftruncate(fd, (off_t)total) != 0) {
        perror("memfd");
        return 1;
    }
    uint8_t *virt = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (virt == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    rknn_tensor_mem *in_mem = rknn_create_mem_from_fd(ctx, fd, virt, in_bytes, 0);
    rknn_tensor_mem *out_mem =
        rknn_create_mem_from_fd(ctx, fd, virt, out_bytes, (int32_t)out_off);
    CHECK_PTR(in_mem);
    CHECK_PTR(out_mem);
    if (in_mem->flags != RKNN_TENSOR_MEMORY_FLAGS_FROM_FD || out_mem->offset != (int32_t)out_off) {
        fprintf(stderr, "unexpected rknn_tensor_mem fields\n");
        return 1;
    }

    uint8_t *img = zc_image(hwc[0], hwc[1], hwc[2], 7);
    size_t want_size = 0;
    float *want = zc_general(argv[1], img, (size_t)hwc[0] * hwc[1] * hwc[2], &want_size);
    zc_bind(ctx, in_mem, out_mem, img); /* writes through virt + offset */
    CHECK(rknn_run(ctx, NULL));
    CHECK(rknn_mem_sync(ctx, out_mem, RKNN_MEMORY_SYNC_FROM_DEVICE));
    int failed = want_size != out_bytes ||
                 zc_compare("memory from an fd", virt + out_off, want, want_size);

    CHECK(rknn_destroy(ctx));
    CHECK(rknn_destroy_mem(0, in_mem));
    CHECK(rknn_destroy_mem(0, out_mem));
    munmap(virt, total);
    close(fd);
    free(want);
    free(img);
    return failed;
}
