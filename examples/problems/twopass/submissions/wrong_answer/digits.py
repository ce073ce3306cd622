# Prints the number itself in the first run: not a word.
step, value = input().split()
print(value)
