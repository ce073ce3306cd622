n = int(input())
a = 1
while a + (n - a) != n or a < 10 ** 18:
    a += 1
print(a, n - a)
