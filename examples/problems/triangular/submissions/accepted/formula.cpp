#include <cstdio>
int main() {
    const unsigned long long p = 1000000007ULL;
    unsigned long long n;
    if (scanf("%llu", &n) != 1) return 1;
    unsigned long long a = n % p, b = (n + 1) % p;
    // Halve the even factor before reducing, so no inverse is needed.
    if (n % 2 == 0) a = (n / 2) % p; else b = ((n + 1) / 2) % p;
    printf("%llu\n", a * b % p);
    return 0;
}
