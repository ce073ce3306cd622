#!/usr/bin/env python3
"""Input validator: one line "x n" with 0 <= x < 2^64 and 0 <= n <= 10^9. Exit 42: valid."""
import re
import sys

data = sys.stdin.buffer.read().decode("ascii", errors="strict")
m = re.fullmatch(r"(0|[1-9][0-9]*) (0|[1-9][0-9]*)\n", data)
if not m or int(m.group(1)) >= 1 << 64 or int(m.group(2)) > 10**9:
    sys.exit(43)
sys.exit(42)
