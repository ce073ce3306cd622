#!/usr/bin/env python3
"""Checks that `make run` is forgiving and stops cleanly, as a supervisor or CI runner would use it:

1. starts `make run` (scripts/run.sh through make, with the debug binaries, a temporary DATA_DIR and
   free ports) in a process group of its own, and waits until /readyz says 200;
2. SIGKILLs the edge: the stack must not stop, and /readyz must answer 200 again (restarted);
3. sends SIGTERM to make's whole process group (what `timeout`, CI runners and many supervisors
   do; make relays a second TERM to run.sh) and checks that make exits and that no process of the
   stack is left running.

Usage: scripts/run-check.py BIN_DIR   (the directory holding edge, auth-worker, ...)
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return r.status == 200
    except Exception:
        return False


def wait_ready(port, within, what):
    deadline = time.time() + within
    while time.time() < deadline:
        if ready(port):
            return
        time.sleep(0.25)
    fail(what)


def stack_processes(data_dir):
    """Pids of processes whose command line names the run's DATA_DIR or its binaries."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if data_dir in cmd or f"DATA_DIR={data_dir}".encode() in env:
            found.append((int(pid), cmd.strip()))
    return found


def fail(message):
    print(f"run check FAILED: {message}")
    print(open(LOG).read()[-3000:] if os.path.exists(LOG) else "")
    for pid, _ in stack_processes(DATA_DIR):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    sys.exit(1)


bin_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug")
tmp = tempfile.mkdtemp(prefix="run-check-")
DATA_DIR = os.path.join(tmp, "data")
LOG = os.path.join(tmp, "make.log")
edge_port = free_port()
makefile = os.path.join(tmp, "Makefile")
with open(makefile, "w") as f:
    # The real recipe's shape: make runs scripts/run.sh as its child.
    f.write(f"run:\n\t@{ROOT}/scripts/run.sh\n")
env = {
    **os.environ,
    "BIN": bin_dir,
    "DATA_DIR": DATA_DIR,
    "EDGE_PORT": str(edge_port),
    "NATS_PORT": str(free_port()),
    "MONGO_PORT": str(free_port()),
}
env.pop("MONGODB_URI", None)
started = time.time()
make = subprocess.Popen(
    ["make", "-f", makefile, "run"],
    env=env,
    stdout=open(LOG, "w"),
    stderr=subprocess.STDOUT,
    start_new_session=True,
    # A background child of a non-interactive shell inherits SIGINT ignored; restore the default.
    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
)
wait_ready(edge_port, 120, "the stack did not become ready in 2 minutes")

edges = [pid for pid, cmd in stack_processes(DATA_DIR) if cmd == os.path.join(bin_dir, "edge")]
if len(edges) != 1:
    fail(f"expected one edge process, found {edges}")
os.kill(edges[0], signal.SIGKILL)
time.sleep(0.5)
if make.poll() is not None:
    fail("the stack stopped when the edge was killed")
wait_ready(edge_port, 30, "the killed edge was not restarted within 30 s")

os.killpg(make.pid, signal.SIGTERM)
try:
    make.wait(timeout=60)
except subprocess.TimeoutExpired:
    fail("make did not exit within 60 s of SIGTERM to its process group")
deadline = time.time() + 30
while stack_processes(DATA_DIR) and time.time() < deadline:
    time.sleep(0.25)
left = stack_processes(DATA_DIR)
if left:
    fail("still running after SIGTERM to make's process group:\n  " + "\n  ".join(c for _, c in left))
log = open(LOG).read()
if "run: stopped" not in log:
    fail("run.sh did not finish stopping")
print(
    f"make run: a killed edge restarted; SIGTERM to make's process group stopped everything "
    f"({time.time() - started:.0f} s)"
)
