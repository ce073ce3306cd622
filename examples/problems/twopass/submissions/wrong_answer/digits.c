/* Prints the number itself in the first run: not a word. */
#include <stdio.h>
int main(void) {
    int step;
    char value[64];
    if (scanf("%d %63s", &step, value) != 2) return 1;
    printf("%s\n", value);
    return 0;
}
