// Prints n itself: right for n = 1 only.
#include <cstdio>
int main() {
    unsigned long long n;
    if (scanf("%llu", &n) != 1) return 1;
    printf("%llu\n", n % 1000000007ULL);
    return 0;
}
