#!/usr/bin/env bash
# Starts the whole stack on this machine, no Docker: nats-server with nats.conf, the MongoDB-wire
# server (nx-27017 from .venv, unless MONGODB_URI is set), the workers and the edge. Everything
# lives under DATA_DIR (default ./data), which survives restarts. Ctrl-C stops what it started.
#
# Ports: EDGE_PORT (default 8080), NATS_PORT (default 4322), MONGO_PORT (default 27117); a taken
# port is replaced by a free one, and the ports in use are printed. The children run in sessions
# of their own, so Ctrl-C reaches only this script, which stops the services before the servers.
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

# Secrets, made once and kept: NATS passwords and the token signing key pair.
secret() {
  local f="$DATA_DIR/secrets/$1"
  [ -s "$f" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$f")
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
NATS_PORT=$(pick_port "${NATS_PORT:-4322}")
export NATS_URL="nats://127.0.0.1:$NATS_PORT"

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "run: stopping"
  # Services first (they finish their requests), then the servers they use.
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  echo "run: stopped; data kept in $DATA_DIR"
  exit 0
}
trap stop_all INT TERM EXIT

setsid nats-server -c "$ROOT/nats.conf" -a 127.0.0.1 -p "$NATS_PORT" -sd "$DATA_DIR/nats" \
  >"$DATA_DIR/logs/nats.log" 2>&1 &
pids+=($!)
wait_port "$NATS_PORT" nats-server

if [ -z "${MONGODB_URI:-}" ]; then
  MONGO_PORT=$(pick_port "${MONGO_PORT:-27117}")
  setsid "$ROOT/.venv/bin/nx-27017" --data-dir "$DATA_DIR/mongo" --host 127.0.0.1 -p "$MONGO_PORT" \
    --log-file "$DATA_DIR/logs/nx-27017.log" --pid-file "$DATA_DIR/nx-27017.pid" \
    >/dev/null 2>&1 &
  pids+=($!)
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

NATS_USER=auth NATS_PASSWORD="$NATS_AUTH_PASSWORD" setsid "$BIN/auth-worker" serve \
  >"$DATA_DIR/logs/auth-worker.log" 2>&1 &
pids+=($!)
NATS_USER=submission NATS_PASSWORD="$NATS_SUBMISSION_PASSWORD" setsid "$BIN/submission-worker" serve \
  >"$DATA_DIR/logs/submission-worker.log" 2>&1 &
pids+=($!)
# The judge's sandbox needs root (namespaces, cgroups); without it no judge runs.
if [ "$(id -u)" -eq 0 ]; then
  NATS_USER=judge NATS_PASSWORD="$NATS_JUDGE_PASSWORD" JUDGE_CACHE_DIR="$DATA_DIR/judge-cache" \
    setsid "$BIN/judge-worker" serve >"$DATA_DIR/logs/judge-worker.log" 2>&1 &
  pids+=($!)
else
  echo "run: not root: the judge (sandbox) is not started; submissions will wait" >&2
fi
EDGE_ADDR="127.0.0.1:$EDGE_PORT" NATS_USER=edge NATS_PASSWORD="$NATS_EDGE_PASSWORD" setsid "$BIN/edge" \
  >"$DATA_DIR/logs/edge.log" 2>&1 &
pids+=($!)
wait_port "$EDGE_PORT" edge

for _ in $(seq 1 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
    "http://127.0.0.1:$EDGE_PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

cat <<EOT

  Online judge running: http://127.0.0.1:$EDGE_PORT
    API        http://127.0.0.1:$EDGE_PORT/api   (try: curl http://127.0.0.1:$EDGE_PORT/readyz)
    NATS       $NATS_URL   (operators: nats --server $NATS_URL --user admin --password \$(cat $DATA_DIR/secrets/nats-admin))
    MongoDB    $MONGODB_URI
    data       $DATA_DIR   (logs in $DATA_DIR/logs)
  Ctrl-C stops everything.

EOT
wait -n "${pids[@]}" || true
echo "run: a process exited; see $DATA_DIR/logs" >&2
