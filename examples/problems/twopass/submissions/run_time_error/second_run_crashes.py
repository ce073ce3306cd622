step, value = input().split()
if step == "2":
    raise SystemExit(1)
print("".join(chr(ord("a") + int(c)) for c in value))
