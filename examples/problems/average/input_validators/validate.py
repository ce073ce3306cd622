#!/usr/bin/env python3
"""Input validator: n (1..1000) on a line, then n integers in [-1e6, 1e6] on one line. Exit 42: valid."""
import re
import sys

INT = r"(?:0|-?[1-9][0-9]*)"
data = sys.stdin.buffer.read().decode("ascii", errors="strict")
m = re.fullmatch(rf"({INT})\n({INT}(?: {INT})*)\n", data)
if not m:
    sys.exit(43)
n = int(m.group(1))
values = [int(x) for x in m.group(2).split(" ")]
if not 1 <= n <= 1000 or len(values) != n or any(abs(v) > 10**6 for v in values):
    sys.exit(43)
sys.exit(42)
