/* Step by step: about one second on the largest test (the time limit is derived from it). */
#include <stdio.h>
#include <inttypes.h>
int main(void) {
    uint64_t x, n;
    if (scanf("%" SCNu64 " %" SCNu64, &x, &n) != 2) return 1;
    for (uint64_t i = 0; i < n; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    printf("%" PRIu64 "\n", x);
    return 0;
}
