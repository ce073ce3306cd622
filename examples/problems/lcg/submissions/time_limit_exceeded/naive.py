# Step by step in Python: far too slow for the largest tests.
x, n = map(int, input().split())
for _ in range(n):
    x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
print(x)
