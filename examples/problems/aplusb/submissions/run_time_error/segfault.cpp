#include <cstdio>
int main() {
    volatile int *p = nullptr;
    *p = 1;
    std::printf("%d\n", *p);
}
