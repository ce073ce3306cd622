#include <stdio.h>
int main(void) {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    double s = 0;
    for (int i = 0; i < n; i++) { int x; scanf("%d", &x); s += x; }
    printf("%.9f\n", s / n);
    return 0;
}
