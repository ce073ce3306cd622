# A fine word in the first run, but the second run does not decode it.
step, value = input().split()
print("abc" if step == "1" else 7)
