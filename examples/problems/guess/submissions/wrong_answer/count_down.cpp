// Guesses 1000, 999, 998, ...: out of guesses for all but the largest numbers.
#include <iostream>
#include <string>
int main() {
    std::string reply;
    for (int guess = 1000; guess >= 1; guess--) {
        std::cout << guess << std::endl;
        if (!(std::cin >> reply) || reply == "correct") return 0;
    }
}
