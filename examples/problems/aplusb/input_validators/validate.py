#!/usr/bin/env python3
"""Input validator: one line "a b", integers with |a|, |b| <= 2e9, nothing else. Exit 42: valid."""
import re
import sys

data = sys.stdin.buffer.read().decode("ascii", errors="strict")
m = re.fullmatch(r"(0|-?[1-9][0-9]*) (0|-?[1-9][0-9]*)\n", data)
if not m or any(abs(int(x)) > 2 * 10**9 for x in m.groups()):
    sys.exit(43)
sys.exit(42)
