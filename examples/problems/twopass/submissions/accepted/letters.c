#include <stdio.h>
int main(void) {
    int step;
    char value[64];
    if (scanf("%d %63s", &step, value) != 2) return 1;
    for (char *c = value; *c; c++) putchar(step == 1 ? 'a' + (*c - '0') : '0' + (*c - 'a'));
    putchar('\n');
    return 0;
}
