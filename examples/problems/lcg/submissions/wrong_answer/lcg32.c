/* 32-bit state: wrong once the numbers outgrow it. */
#include <stdio.h>
#include <inttypes.h>
int main(void) {
    uint64_t x0, n;
    if (scanf("%" SCNu64 " %" SCNu64, &x0, &n) != 2) return 1;
    uint32_t x = (uint32_t)x0;
    for (uint64_t i = 0; i < n; i++) x = x * 1664525u + 1013904223u;
    printf("%" PRIu32 "\n", x);
    return 0;
}
