/* A C program built against an unpacked release tarball, once through
 * pkg-config and once through CMake's find_package(rknnrt), by
 * tools/test-package.sh: it includes the three headers, links
 * librknnrt, and checks a few calls behave as the C API says. */
#include <stdio.h>
#include <string.h>

#include "rknn_api.h"
#include "rknn_custom_op.h"
#include "rknn_matmul_api.h"

static int fail(const char *what, int got) {
    printf("consumer: %s (got %d)\n", what, got);
    return 1;
}

int main(void) {
    unsigned char junk[64];
    rknn_context ctx = 0;
    rknn_input_output_num io;
    int ret;

    memset(junk, 0x5a, sizeof junk);
    ret = rknn_init(&ctx, junk, sizeof junk, 0, NULL);
    if (ret != RKNN_ERR_MODEL_INVALID)
        return fail("rknn_init of junk must give RKNN_ERR_MODEL_INVALID", ret);
    ret = rknn_query(0, RKNN_QUERY_IN_OUT_NUM, &io, sizeof io);
    if (ret != RKNN_ERR_CTX_INVALID)
        return fail("rknn_query on context 0 must give RKNN_ERR_CTX_INVALID", ret);
    ret = rknn_destroy(0);
    if (ret != RKNN_ERR_CTX_INVALID)
        return fail("rknn_destroy(0) must give RKNN_ERR_CTX_INVALID", ret);
    printf("consumer: ok\n");
    return 0;
}
