# Interactive validator: answers the submission's guesses. Arguments: input answer feedback_dir.
# The input file holds the secret number.
import sys

secret = int(open(sys.argv[1]).read().split()[0])
feedback = sys.argv[3]


def reject(why):
    with open(feedback + "judgemessage.txt", "a") as f:
        f.write(why + "\n")
    sys.exit(43)


for guess_no in range(1, 11):
    line = sys.stdin.readline()
    if not line:
        reject(f"the submission stopped after {guess_no - 1} guesses")
    try:
        guess = int(line)
    except ValueError:
        reject(f"guess {guess_no} is not a number: {line.strip()[:40]!r}")
    if guess == secret:
        print("correct", flush=True)
        sys.exit(42)
    print("lower" if secret < guess else "higher", flush=True)
reject("no correct guess in 10")
