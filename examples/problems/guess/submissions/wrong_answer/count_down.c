/* Guesses 1000, 999, 998, ...: out of guesses for all but the largest numbers. */
#include <stdio.h>
#include <string.h>
int main(void) {
    char reply[16];
    for (int guess = 1000; guess >= 1; guess--) {
        printf("%d\n", guess);
        fflush(stdout);
        if (scanf("%15s", reply) != 1 || strcmp(reply, "correct") == 0) return 0;
    }
    return 0;
}
