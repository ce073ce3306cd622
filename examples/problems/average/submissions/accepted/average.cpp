#include <iomanip>
#include <iostream>
int main() {
    int n;
    std::cin >> n;
    double s = 0;
    for (int i = 0; i < n; i++) { long long x; std::cin >> x; s += x; }
    std::cout << std::setprecision(12) << s / n << '\n';
}
