# Multi-pass validator. Arguments: input answer feedback_dir. Pass 1's input is "1 n": the
# submission's word goes into nextpass.in as "2 word". Pass 2's input is that file: the submission
# must print the answer, n.
import re
import sys

pass_no, _ = open(sys.argv[1]).read().split()
answer = open(sys.argv[2]).read().split()[0]
feedback = sys.argv[3]
out = sys.stdin.read().split()


def reject(why):
    with open(feedback + "judgemessage.txt", "a") as f:
        f.write(why + "\n")
    sys.exit(43)


if len(out) != 1:
    reject(f"pass {pass_no}: expected one token, got {len(out)}")
if pass_no == "1":
    if not re.fullmatch(r"[a-z]{1,30}", out[0]):
        reject("pass 1: not a word of at most 30 lowercase letters")
    with open(feedback + "nextpass.in", "w") as f:
        f.write(f"2 {out[0]}\n")
    sys.exit(42)
if out[0] != answer:
    reject(f"pass 2: expected {answer}, got {out[0][:40]}")
sys.exit(42)
