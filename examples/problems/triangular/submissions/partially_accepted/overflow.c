/* The formula in 64 bits without reducing first: right for subtasks 1 and 2, overflows in 3. */
#include <stdio.h>
int main(void) {
    unsigned long long n;
    if (scanf("%llu", &n) != 1) return 1;
    printf("%llu\n", n * (n + 1) / 2 % 1000000007ULL);
    return 0;
}
