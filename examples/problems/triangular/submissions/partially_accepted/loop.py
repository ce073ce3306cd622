# Adds up one number at a time: subtasks 1 and 2, too slow for 3.
n = int(input())
total = 0
i = 1
while i <= n:
    total += i
    i += 1
print(total % 1_000_000_007)
