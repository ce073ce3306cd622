# x -> a*x + c composed with itself by squaring: O(log n).
A, C, M = 6364136223846793005, 1442695040888963407, 1 << 64


def main():
    x, n = map(int, input().split())
    a, c = A, C  # the step applied 2^k times
    while n:
        if n & 1:
            x = (a * x + c) % M
        a, c = (a * a) % M, (a * c + c) % M
        n >>= 1
    print(x)


main()
