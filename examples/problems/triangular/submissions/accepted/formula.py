n = int(input())
print(n * (n + 1) // 2 % 1_000_000_007)
