// Output validator (problem package format): validate input answer feedback_dir < team_output.
// Exit 42: accepted, 43: wrong answer; the reason goes to feedback_dir/judgemessage.txt.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

static std::string feedback_dir;

[[noreturn]] static void verdict(int code, const std::string &message) {
    std::ofstream(feedback_dir + "/judgemessage.txt") << message << '\n';
    std::exit(code);
}

int main(int argc, char **argv) {
    if (argc < 4) return 1;
    feedback_dir = argv[3];
    long long n;
    std::ifstream(argv[1]) >> n;
    std::string line, rest;
    long long a, b;
    if (!(std::cin >> a >> b)) verdict(43, "expected two integers");
    if (std::cin >> rest) verdict(43, "trailing output");
    if (a <= 0 || b <= 0) verdict(43, "numbers must be positive");
    if (a + b != n) verdict(43, "sum is " + std::to_string(a + b) + ", not " + std::to_string(n));
    verdict(42, "ok");
}
