step, value = input().split()
if step == "1":
    print("".join(chr(ord("a") + int(c)) for c in value))
else:
    print("".join(str(ord(c) - ord("a")) for c in value))
