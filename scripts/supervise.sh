#!/usr/bin/env bash
# Keeps one process of `make run` running: starts COMMAND, and when it exits starts it again after a
# pause that doubles from 1 s up to 30 s (back to 1 s once it has stayed up a minute). SIGTERM or
# SIGINT stops it: the command gets SIGTERM and this script exits with it, without a restart.
#
# Usage: scripts/supervise.sh NAME LOG_FILE COMMAND [ARG...]
# run.sh starts each supervisor in a session of its own (setsid), so a signal sent to make's process
# group (Ctrl-C, `timeout`, a CI runner) reaches run.sh only, which stops the supervisors in order.
set -uo pipefail
name=$1 log=$2
shift 2

child='' pause_pid='' stopping=0
stop() {
  stopping=1
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
  [ -n "$pause_pid" ] && kill "$pause_pid" 2>/dev/null
}
trap stop TERM INT

delay=1
while [ "$stopping" -eq 0 ]; do
  started=$SECONDS
  "$@" >>"$log" 2>&1 &
  child=$!
  # `wait` returns early when a signal is trapped; wait again until the command has really exited.
  while :; do
    wait "$child"
    rc=$?
    kill -0 "$child" 2>/dev/null || break
  done
  child=''
  [ "$stopping" -eq 1 ] && break
  [ $((SECONDS - started)) -ge 60 ] && delay=1
  echo "run: $name exited (status $rc); restarting in ${delay}s (log: $log)" >&2
  sleep "$delay" &
  pause_pid=$!
  wait "$pause_pid" 2>/dev/null
  pause_pid=''
  delay=$((delay * 2 > 30 ? 30 : delay * 2))
done
exit 0
