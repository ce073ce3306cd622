#include <stdio.h>
int main(void) {
    const unsigned long long p = 1000000007ULL;
    unsigned long long n;
    if (scanf("%llu", &n) != 1) return 1;
    /* Halve the even factor first: no inverse needed, no product above 64 bits. */
    unsigned long long a = n % 2 == 0 ? (n / 2) % p : n % p;
    unsigned long long b = n % 2 == 0 ? (n + 1) % p : ((n + 1) / 2) % p;
    printf("%llu\n", a * b % p);
    return 0;
}
