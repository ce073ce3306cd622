#include <cstdio>
#include <cstdlib>
// Touches 512 MiB, twice the limit, one page at a time through a volatile pointer so that the
// compiler cannot drop the allocation.
int main() {
    const size_t n = 512u << 20;
    volatile char *p = static_cast<volatile char *>(std::malloc(n));
    if (!p) return 1;
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    std::printf("%d\n", p[n - 1]);
}
