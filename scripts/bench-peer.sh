#!/usr/bin/env bash
# Intake beside the seed's Flask design (../shared/peers/seed-flask), both driven by the peer's own
# load.py in the same run, A B A B, with our judge live during our turns (and our stack stopped
# during the peer's): submissions/s accepted, and CPU time per accepted submission summed over
# every process of each system.
#
# CPU per submission is the difference between a long and a short load (BENCH_PEER_LONG and
# BENCH_PEER_SHORT seconds of submissions, default 12 and 2): registering and logging in the
# users, start-up and anything else fixed cancel out. Counted: ours — every process `make run`
# starts (edge, workers, nats-server, nx-27017) except the judge, which grades meanwhile; the
# peer's — both gunicorn services, PostgreSQL and RabbitMQ (both already running here, as the
# peer's README says; they serve nothing else during the run). The load script's own CPU is in
# neither: it is reported beside them, with the most our stack could accept on these cores at its
# measured cost if the judge's own grading took no CPU. Beside them, the share of the machine's CPU
# time the hypervisor gave to other guests during the long load (/proc/stat's steal): on the
# team's VMs a turn can run at half speed, and this (with the load client's CPU, the same code in
# every turn) is how such a turn shows.
#
# BENCH_PEER_JUDGE_SHARES=N (an experiment, unset by default): in our turns the judge and every
# process it starts go into a cgroup v1 `cpu` group with cpu.shares N (1024 is one session's
# weight), to see what intake a judge that yields the CPU to the API would give. Not how `make
# run` runs the judge.
#
# Needs PostgreSQL and RabbitMQ answering on 127.0.0.1 and root (for `su postgres`, rabbitmqctl);
# without them it says SKIPPED and why, and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PEER=${PEER_DIR:-$ROOT/../shared/peers/seed-flask}
VENV=${PEER_VENV:-$ROOT/.venv-peer}
SHORT=${BENCH_PEER_SHORT:-2}
LONG=${BENCH_PEER_LONG:-12}
ROUNDS=${BENCH_PEER_ROUNDS:-2}
JUDGE_SHARES=${BENCH_PEER_JUDGE_SHARES:-}
JUDGE_CPU_GROUP=/sys/fs/cgroup/cpu/bench-peer-judge-$$
if [ -n "$JUDGE_SHARES" ] && [ ! -w /sys/fs/cgroup/cpu ]; then
  echo "bench-peer: BENCH_PEER_JUDGE_SHARES needs a writable cgroup v1 cpu hierarchy; ignored" >&2
  JUDGE_SHARES=
fi

skip() { echo "bench-peer: SKIPPED: $*"; exit 0; }
[ -f "$PEER/load.py" ] || skip "no peer at $PEER"
command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 || skip "PostgreSQL does not answer on 127.0.0.1"
command -v rabbitmq-diagnostics >/dev/null && rabbitmq-diagnostics -q ping >/dev/null 2>&1 ||
  skip "RabbitMQ does not answer"
[ "$(id -u)" = 0 ] || skip "needs root (su postgres, rabbitmqctl)"

if [ ! -x "$VENV/bin/gunicorn" ] || [ ! -x "$VENV/bin/python" ]; then
  echo "bench-peer: installing the peer's requirements into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$PEER/requirements.txt"
fi
PY=$VENV/bin/python

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  [ -z "$JUDGE_SHARES" ] || rmdir "$JUDGE_CPU_GROUP" 2>/dev/null || true
  rabbitmqctl -q delete_queue submissions >/dev/null 2>&1 || true
  su postgres -c "dropdb --if-exists seed_bench_auth; dropdb --if-exists seed_bench_main" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The peer, as its README starts it (databases of this run's own).
su postgres -c "psql -q -c \"DO \\\$\\\$ BEGIN CREATE ROLE seed LOGIN PASSWORD 'seed'; EXCEPTION WHEN duplicate_object THEN NULL; END \\\$\\\$\"" >/dev/null
su postgres -c "dropdb --if-exists seed_bench_auth; dropdb --if-exists seed_bench_main" >/dev/null 2>&1 || true
su postgres -c "createdb -O seed seed_bench_auth && createdb -O seed seed_bench_main"
AUTH_DB=postgresql://seed:seed@127.0.0.1:5432/seed_bench_auth
MAIN_DB=postgresql://seed:seed@127.0.0.1:5432/seed_bench_main
export RABBITMQ_URL='amqp://guest:guest@127.0.0.1:5672/%2F'
export JWT_SECRET_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
(cd "$PEER" && DATABASE_URL=$AUTH_DB FLASK_APP=auth_service.app:create_app "$VENV/bin/flask" db upgrade >"$WORK/migrate.log" 2>&1)
(cd "$PEER" && DATABASE_URL=$MAIN_DB FLASK_APP=main_service.app:create_app "$VENV/bin/flask" db upgrade >>"$WORK/migrate.log" 2>&1)
PEER_AUTH=$(free_port); PEER_MAIN=$(free_port)
(cd "$PEER" && DATABASE_URL=$AUTH_DB exec "$VENV/bin/gunicorn" -w 2 -b "127.0.0.1:$PEER_AUTH" 'auth_service.app:create_app()' 2>"$WORK/auth.log") &
PIDS+=($!)
(cd "$PEER" && DATABASE_URL=$MAIN_DB exec "$VENV/bin/gunicorn" -w 2 -b "127.0.0.1:$PEER_MAIN" 'main_service.app:create_app()' 2>"$WORK/main.log") &
PIDS+=($!)
PEER_ROOTS="${PIDS[0]} ${PIDS[1]} $(pgrep -o -x postgres) $(pgrep -o -f 'beam.smp.*rabbit')"

# Ours, as `make run` starts it (its own ports and data), with the per-user limits out of the way.
# Started afresh for each of its turns and stopped before the peer's: our judge grades the
# backlog of a turn long after it, and must not take the CPUs from the peer's turn.
OURS=
start_ours() {
  EDGE_PORT=$(free_port)
  (
    export DATA_DIR=$WORK/ours-$1 EDGE_PORT NATS_PORT=$(free_port) MONGO_PORT=$(free_port)
    export SUBMISSION_PER_MINUTE=1000000 SUBMISSION_MAX_QUEUED=1000000
    exec setsid scripts/run.sh >"$WORK/ours.log" 2>&1
  ) &
  OURS=$!
  PIDS+=("$OURS")
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$EDGE_PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -sf "http://127.0.0.1:$EDGE_PORT/readyz" >/dev/null ||
    { tail -20 "$WORK/ours.log"; echo "bench-peer: our stack did not start" >&2; exit 1; }
  # The judge announces its languages once it is up; a submission before that is refused.
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$EDGE_PORT/api/languages" | grep -q python3 && break
    sleep 0.2
  done
  if [ -n "$JUDGE_SHARES" ]; then
    # The judge, its zygotes and theirs; the programs they fork are born in the group.
    mkdir -p "$JUDGE_CPU_GROUP"
    echo "$JUDGE_SHARES" > "$JUDGE_CPU_GROUP/cpu.shares"
    local j z
    for j in $(pgrep -f "^$ROOT/target/release/judge-worker serve" || true); do
      for z in $j $(pgrep -P "$j") $(for c in $(pgrep -P "$j"); do pgrep -P "$c"; done); do
        echo "$z" > "$JUDGE_CPU_GROUP/cgroup.procs" 2>/dev/null || true
      done
    done
    echo "bench-peer: our judge's $(wc -l < "$JUDGE_CPU_GROUP/cgroup.procs") processes at cpu.shares $JUDGE_SHARES" >&2
  fi
}
stop_ours() {
  kill -TERM "$OURS" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$OURS" 2>/dev/null || break; sleep 0.1; done
}
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$PEER_AUTH/healthz" >/dev/null 2>&1 &&
    curl -sf "http://127.0.0.1:$PEER_MAIN/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$PEER_MAIN/healthz" >/dev/null || { tail -20 "$WORK/main.log"; echo "bench-peer: the peer did not start" >&2; exit 1; }

# CPU seconds of whole process trees, by process name (`name=seconds ...`): every live member's
# own time and that of the children it reaped (which holds every member that ended), the subtrees
# of processes named in $2 left out.
tree_cpu() {
  python3 - "$1" "${2:-}" <<'EOF'
import os, sys
roots = [int(p) for p in sys.argv[1].split()]
leave_out = set(sys.argv[2].split(",")) - {""}
tick = os.sysconf("SC_CLK_TCK")
procs = {}
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        stat = open(f"/proc/{d}/stat").read()
    except OSError:
        continue
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    f = stat[stat.rindex(")") + 2 :].split()
    procs[int(d)] = (int(f[1]), comm, sum(int(x) for x in f[11:15]))
children = {}
for pid, (ppid, _, _) in procs.items():
    children.setdefault(ppid, []).append(pid)
by_name, todo = {}, [r for r in roots if r in procs]
while todo:
    pid = todo.pop()
    if procs[pid][1] in leave_out:
        continue
    by_name[procs[pid][1]] = by_name.get(procs[pid][1], 0) + procs[pid][2] / tick
    todo.extend(children.get(pid, []))
print(" ".join(f"{k}={v}" for k, v in by_name.items()))
EOF
}

# One load of $2 seconds against system $1: prints "accepted cpu_seconds submit_json".
load() {
  local system=$1 seconds=$2 roots args before after
  if [ "$system" = peer ]; then
    roots=$PEER_ROOTS
    args=(--auth-url "http://127.0.0.1:$PEER_AUTH" --main-url "http://127.0.0.1:$PEER_MAIN" --x-user-id)
  else
    roots=$OURS
    args=(--auth-url "http://127.0.0.1:$EDGE_PORT" --problem-id aplusb)
  fi
  before=$(tree_cpu "$roots" judge-worker)
  stat_before=$(head -1 /proc/stat)
  # The load client's own CPU seconds go to load.cpu (its rusage, read by a parent that waits).
  python3 -c 'import resource, subprocess, sys
code = subprocess.run(sys.argv[2:]).returncode
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(str(r.ru_utime + r.ru_stime))
sys.exit(code)' "$WORK/load.cpu" "$PY" "$PEER/load.py" "${args[@]}" --phases submit --users 20 \
    --concurrency 16 --duration "$seconds" --warmup 1 >"$WORK/load.json" 2>"$WORK/load.err"
  after=$(tree_cpu "$roots" judge-worker)
  stat_after=$(head -1 /proc/stat)
  python3 - "$before" "$after" "$WORK/load.json" "$(cat "$WORK/load.cpu")" "$stat_before" "$stat_after" <<'EOF'
import json, sys
s = json.load(open(sys.argv[3]))
ok = s["submit"]["ok"] + s.get("warmup", {}).get("submit", {}).get("ok", 0)
errors = s["submit"]["errors"]
if errors:
    sys.exit(f"bench-peer: {errors} submissions refused: {s['submit']['status_counts']}")
cpu = lambda text: dict((k, float(v)) for k, v in (kv.split("=") for kv in text.split()))
before, after = cpu(sys.argv[1]), cpu(sys.argv[2])
used = ",".join(f"{k}={after[k] - before.get(k, 0)}" for k in after)
# The share of the machine's CPU time the hypervisor gave to others meanwhile (/proc/stat's steal).
ticks = [int(b) - int(a) for a, b in zip(sys.argv[5].split()[1:9], sys.argv[6].split()[1:9])]
stolen = 100 * ticks[7] / max(1, sum(ticks))
print(ok, sum(after.values()) - sum(before.values()), s["submit"]["ok_rps"], s["submit"]["latency_ms"]["p50"], s["submit"]["latency_ms"]["p99"], used, sys.argv[4], f"{stolen:.1f}")
EOF
}

echo
echo "## Intake beside the seed's Flask design (load.py, 20 users, 16 in flight; our judge live${JUDGE_SHARES:+, at cpu.shares $JUDGE_SHARES})"
echo
echo "| round | system | submissions/s | p50 ms | p99 ms | CPU ms per accepted submission | load.py's CPU ms per submission | CPU stolen by the host % |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
declare -A RATE CPU CLIENT
SHARES=()
for round in $(seq 1 "$ROUNDS"); do
  for system in peer ours; do
    [ "$system" = ours ] && start_ours "$round"
    out=$(load "$system" "$SHORT"); read -r n1 c1 _ _ _ u1 l1 _ <<<"$out"
    out=$(load "$system" "$LONG"); read -r n2 c2 rps p50 p99 u2 l2 stolen <<<"$out"
    per=$(python3 -c "print(f'{($c2 - $c1) * 1000 / max(1, $n2 - $n1):.2f}')")
    client=$(python3 -c "print(f'{($l2 - $l1) * 1000 / max(1, $n2 - $n1):.2f}')")
    # Each process's share, for the note under the table.
    SHARES+=("round $round, $system: $(python3 -c "
u = lambda t: dict((k, float(v)) for k, v in (kv.split('=') for kv in t.split(',') if kv))
a, b = u('$u1'), u('$u2')
d = {k: (b[k] - a.get(k, 0)) * 1000 / max(1, $n2 - $n1) for k in b}
print(', '.join(f'{k} {v:.2f}' for k, v in sorted(d.items(), key=lambda kv: -kv[1]) if abs(v) >= 0.01))")")
    [ "$system" = ours ] && stop_ours
    RATE[$system,$round]=$rps; CPU[$system,$round]=$per; CLIENT[$system,$round]=$client
    echo "| $round | $([ $system = peer ] && echo 'seed-flask (gunicorn 2+2 sync workers, PostgreSQL, RabbitMQ)' || echo 'ours (make run)') | $rps | $p50 | $p99 | $per | $client | $stolen |"
  done
done
echo
echo "CPU ms per accepted submission by process:"
printf -- '- %s\n' "${SHARES[@]}"
echo
for round in $(seq 1 "$ROUNDS"); do
  python3 -c "
r = ${RATE[ours,$round]} / ${RATE[peer,$round]}; c = ${CPU[peer,$round]} / max(0.01, ${CPU[ours,$round]})
cores = $(nproc)
ceiling = cores * 1000 / (${CPU[ours,$round]} + ${CLIENT[ours,$round]})
print(f'round $round: intake {r:.1f}x the peer (goal 10x: {\"met\" if r >= 10 else \"NOT MET\"}); the peer spends {c:.1f}x our CPU per submission (goal 10x: {\"met\" if c >= 10 else \"NOT MET\"})')
print(f'  at our cost (judge live) and load.py\'s, {cores} cores could accept at most {ceiling:.0f}/s if the judge itself took no CPU ({ceiling / ${RATE[peer,$round]}:.1f}x the peer)')"
done
