# Finds the number of the first sample (500) at once, then fails instead of ending well.
print(500, flush=True)
input()
raise SystemExit(3)
