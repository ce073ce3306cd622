#!/usr/bin/env python3
"""Input validator: one line with an integer 2 <= n <= 2e9, nothing else. Exit 42: valid."""
import re
import sys

data = sys.stdin.buffer.read().decode("ascii", errors="strict")
m = re.fullmatch(r"([1-9][0-9]*)\n", data)
if not m or not 2 <= int(m.group(1)) <= 2 * 10**9:
    sys.exit(43)
sys.exit(42)
