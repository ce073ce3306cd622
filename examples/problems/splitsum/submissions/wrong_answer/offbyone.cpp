#include <iostream>
int main() {
    long long n;
    std::cin >> n;
    std::cout << n / 2 << ' ' << n / 2 + 1 << '\n'; // one too many
}
