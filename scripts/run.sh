#!/usr/bin/env bash
# Starts the whole stack on this machine, no Docker: nats-server with nats.conf, the MongoDB-wire
# server (nx-27017 from .venv, unless MONGODB_URI is set), the workers and the edge. Everything
# lives under DATA_DIR (default ./data), which survives restarts. Ctrl-C stops what it started.
#
# Ports: EDGE_PORT (default 8080), NATS_PORT (default 4322), MONGO_PORT (default 27117); a taken
# port is replaced by a free one, and the ports in use are printed.
#
# CLUSTER=3 starts three nats-servers instead of one (routes, JetStream on each, server names
# judge-nats-1..3, stores in DATA_DIR/nats-1..3), provisions every stream, consumer and bucket with
# three replicas and gives every client all three URLs.
#
# Every process runs under scripts/supervise.sh, which restarts it with backoff when it exits, in a
# session of its own: Ctrl-C, or a SIGTERM sent to make's whole process group, reaches only this
# script, which stops the services, then the servers, and ignores the signals that follow (make
# relays one more TERM) until it is done.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA_DIR=${DATA_DIR:-$ROOT/data}
BIN=${BIN:-$ROOT/target/release}
mkdir -p "$DATA_DIR"/{secrets,logs,nats,mongo}
chmod 700 "$DATA_DIR/secrets"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pick_port() { if port_free "$1"; then echo "$1"; else free_port; fi; }
wait_port() {
  for _ in $(seq 1 300); do
    if ! port_free "$1"; then return 0; fi
    sleep 0.1
  done
  echo "run: $2 did not start on port $1 (see $DATA_DIR/logs)" >&2
  return 1
}

# Secrets, made once and kept: NATS passwords and the token signing key pair. A password starts
# with a letter: nats-server parses a `$VAR` it reads from the environment as a config value, so
# one starting with digits is read as a number ("7K0d…": 7K is 7168, then a parse error) and the
# server does not start. One made by an earlier release that starts otherwise is made again (only
# the services started here use them).
secret() {
  local f="$DATA_DIR/secrets/$1"
  if [ ! -s "$f" ] || ! grep -qE '^[A-Za-z]' "$f"; then
    (umask 077; printf 'p%s' "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" > "$f")
  fi
  cat "$f"
}
for u in edge auth submission judge admin; do
  export "NATS_${u^^}_PASSWORD=$(secret "nats-$u")"
done
if [ ! -s "$DATA_DIR/secrets/jwt-private.pem" ]; then
  rm -f "$DATA_DIR/secrets/jwt-private.pem" "$DATA_DIR/secrets/jwt-public.pem"
  "$BIN/auth-worker" keygen --private "$DATA_DIR/secrets/jwt-private.pem" --public "$DATA_DIR/secrets/jwt-public.pem"
fi

EDGE_PORT=$(pick_port "${EDGE_PORT:-8080}")
CLUSTER=${CLUSTER:-1}
case "$CLUSTER" in 1|3) ;; *) echo "run: CLUSTER must be 1 or 3, not $CLUSTER" >&2; exit 2 ;; esac

pids=()
stopping=0
stop_all() {
  [ "$stopping" -eq 1 ] && return
  stopping=1
  # Ignore, not reset: make relays a second TERM to this script while it is stopping.
  trap '' INT TERM
  echo
  echo "run: stopping"
  # Services first (they finish their requests), then the servers they use.
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  echo "run: stopped; data kept in $DATA_DIR"
  exit "$1"
}
trap 'stop_all 0' INT TERM
trap 'stop_all $?' EXIT

# start NAME COMMAND...: runs COMMAND under the supervisor (restarted with backoff), logging to
# DATA_DIR/logs/NAME.log.
start() {
  local name=$1
  shift
  setsid "$ROOT/scripts/supervise.sh" "$name" "$DATA_DIR/logs/$name.log" "$@" </dev/null &
  pids+=($!)
}

urls=()
if [ "$CLUSTER" -eq 1 ]; then
  NATS_PORT=$(pick_port "${NATS_PORT:-4322}")
  : >"$DATA_DIR/logs/nats.log"
  start nats nats-server -c "$ROOT/nats.conf" -a 127.0.0.1 -p "$NATS_PORT" -sd "$DATA_DIR/nats"
  wait_port "$NATS_PORT" nats-server
  urls+=("nats://127.0.0.1:$NATS_PORT")
  export NATS_REPLICAS=1
else
  first=${NATS_PORT:-4322}
  ports=() routes=()
  for n in 1 2 3; do
    ports+=("$(pick_port $((first + n - 1)))")
    cport=$(free_port)
    cports+=("$cport")
    routes+=("nats://127.0.0.1:$cport")
  done
  for n in 1 2 3; do
    : >"$DATA_DIR/logs/nats-$n.log"
    start "nats-$n" nats-server -c "$ROOT/nats.conf" -a 127.0.0.1 -p "${ports[$((n - 1))]}" \
      -sd "$DATA_DIR/nats-$n" --name "judge-nats-$n" --cluster_name judge \
      --cluster "nats://127.0.0.1:${cports[$((n - 1))]}" --routes "$(IFS=,; echo "${routes[*]}")"
    urls+=("nats://127.0.0.1:${ports[$((n - 1))]}")
  done
  for n in 1 2 3; do wait_port "${ports[$((n - 1))]}" "nats-server $n"; done
  NATS_PORT=${ports[0]}
  export NATS_REPLICAS=3
fi
NATS_URL=$(IFS=,; echo "${urls[*]}")
export NATS_URL

if [ -z "${MONGODB_URI:-}" ]; then
  MONGO_PORT=$(pick_port "${MONGO_PORT:-27117}")
  start nx-27017 "$ROOT/.venv/bin/nx-27017" --data-dir "$DATA_DIR/mongo" --host 127.0.0.1 -p "$MONGO_PORT" \
    --log-file "$DATA_DIR/logs/nx-27017.log" --pid-file "$DATA_DIR/nx-27017.pid"
  wait_port "$MONGO_PORT" nx-27017
  export MONGODB_URI="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"
fi

# Streams, consumers and the package bucket (operator credentials), then the example problems
# (each import is a no-op when the package has not changed).
NATS_USER=admin NATS_PASSWORD="$NATS_ADMIN_PASSWORD" "$BIN/submission-worker" provision \
  >>"$DATA_DIR/logs/provision.log" 2>&1
NATS_USER=submission NATS_PASSWORD="$NATS_SUBMISSION_PASSWORD" \
  "$BIN/submission-worker" import "$ROOT"/examples/problems/*/ >>"$DATA_DIR/logs/provision.log" 2>&1

export JWT_PRIVATE_KEY_FILE="$DATA_DIR/secrets/jwt-private.pem"
export JWT_PUBLIC_KEY_FILE="$DATA_DIR/secrets/jwt-public.pem"

NATS_USER=auth NATS_PASSWORD="$NATS_AUTH_PASSWORD" start auth-worker "$BIN/auth-worker" serve
NATS_USER=submission NATS_PASSWORD="$NATS_SUBMISSION_PASSWORD" start submission-worker \
  "$BIN/submission-worker" serve
# The judge's sandbox needs root (namespaces, cgroups); without it no judge runs.
if [ "$(id -u)" -eq 0 ]; then
  NATS_USER=judge NATS_PASSWORD="$NATS_JUDGE_PASSWORD" JUDGE_CACHE_DIR="$DATA_DIR/judge-cache" \
    start judge-worker "$BIN/judge-worker" serve
else
  echo "run: not root: the judge (sandbox) is not started; submissions will wait" >&2
fi
EDGE_ADDR="127.0.0.1:$EDGE_PORT" NATS_USER=edge NATS_PASSWORD="$NATS_EDGE_PASSWORD" start edge "$BIN/edge"
wait_port "$EDGE_PORT" edge

for _ in $(seq 1 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
    "http://127.0.0.1:$EDGE_PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

cat <<EOT

  Online judge running: http://127.0.0.1:$EDGE_PORT
    API        http://127.0.0.1:$EDGE_PORT/api   (try: curl http://127.0.0.1:$EDGE_PORT/readyz)
    NATS       $NATS_URL   ($CLUSTER node(s), replicas $NATS_REPLICAS; operators: nats --server $NATS_URL --user admin --password \$(cat $DATA_DIR/secrets/nats-admin))
    MongoDB    $MONGODB_URI
    data       $DATA_DIR   (logs in $DATA_DIR/logs)
  Ctrl-C stops everything; a process that exits is restarted (with backoff).

EOT
# The supervisors never exit on their own; a signal interrupts this wait and runs stop_all.
while :; do
  wait || true
  sleep 1
done
