#!/usr/bin/env python3
"""Checks compose.yaml (and compose.yaml + compose.cluster.yaml) as `docker-compose config` resolves
them, against the binaries this workspace builds:

- every command of a service run from our image names a subcommand, options and arguments that
  the binary's own clap `--help` lists (a renamed subcommand fails here, not at `compose up`);
- the one-shot `provision` service (operator credentials) runs `submission-worker provision`,
  waits for every NATS node to be healthy, and every other service of our image waits for it to
  complete (`condition: service_completed_successfully`);
- every service something waits on with `condition: service_healthy` has a healthcheck;
- on the cluster file: three nodes with distinct server names, routes and a cluster name, the
  provisioning with NATS_REPLICAS=3, and every client given all three URLs.

Usage: scripts/compose-check.py BIN_DIR   (the directory holding edge, auth-worker, ...)
"""

import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUR_BINARIES = {"edge", "auth-worker", "submission-worker", "judge-worker"}
# Placeholders for the variables compose.yaml requires (only the configuration is resolved).
ENV = {
    "JWT_PRIVATE_KEY_FILE": "/dev/null",
    "JWT_PUBLIC_KEY_FILE": "/dev/null",
    **{f"NATS_{u}_PASSWORD": "x" for u in ["EDGE", "AUTH", "SUBMISSION", "JUDGE", "ADMIN"]},
}

errors = []


def fail(where, message):
    errors.append(f"{where}: {message}")


def resolved(*files):
    args = ["docker-compose"]
    for f in files:
        args += ["-f", os.path.join(ROOT, f)]
    out = subprocess.run(
        args + ["config"], env={**os.environ, **ENV}, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        sys.exit(f"docker-compose config {' '.join(files)} failed:\n{out.stderr}")
    return yaml.safe_load(out.stdout)


_help_cache = {}


def clap_help(bin_dir, path):
    """The `--help` text of the binary and subcommand path, or None when clap refuses the path."""
    key = tuple(path)
    if key not in _help_cache:
        out = subprocess.run(
            [os.path.join(bin_dir, path[0]), *path[1:], "--help"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        _help_cache[key] = out.stdout if out.returncode == 0 else None
    return _help_cache[key]


def section(help_text, title):
    """The names listed under a clap help section (`Commands:`, `Arguments:`, `Options:`)."""
    names, inside = [], False
    for line in help_text.splitlines():
        if line.strip() == f"{title}:" or line.startswith(f"{title}:"):
            inside = True
            continue
        if inside:
            if not line.startswith(" "):
                inside = False
                continue
            m = re.match(r"\s+(\S+)", line)
            if m:
                names.append(m.group(1))
    return names


def check_command(where, bin_dir, command):
    """Walks the command through the binary's clap help, level by level."""
    path = [command[0]]
    help_text = clap_help(bin_dir, path)
    if help_text is None:
        return fail(where, f"`{command[0]} --help` fails: not a clap binary of ours?")
    positional = 0
    for arg in command[1:]:
        if arg.startswith("-"):
            flag = arg.split("=", 1)[0]
            if not re.search(rf"(^|[\s,]){re.escape(flag)}([\s=<,]|$)", help_text, re.M):
                fail(where, f"`{' '.join(path)}` has no option {flag}")
            continue
        commands = [c for c in section(help_text, "Commands") if c != "help"]
        if commands and positional == 0:
            if arg not in commands:
                return fail(where, f"`{' '.join(path)}` has no subcommand {arg!r} (has {commands})")
            path.append(arg)
            help_text = clap_help(bin_dir, path)
            if help_text is None:
                return fail(where, f"`{' '.join(path)} --help` fails")
            continue
        # A value: an option's argument or a positional argument the subcommand declares.
        if not section(help_text, "Arguments") and not re.search(r"-\S+ <", help_text):
            return fail(where, f"`{' '.join(path)}` takes no argument, got {arg!r}")
        positional += 1
    # A binary with subcommands and no default needs one; ours default to `serve` when they have
    # one, so only say when the help marks the subcommand as required.
    if len(path) == 1 and "Usage:" in help_text and re.search(r"Usage: \S+ <COMMAND>", help_text):
        fail(where, f"`{command[0]}` needs a subcommand")


def depends(service):
    d = service.get("depends_on") or {}
    if isinstance(d, list):
        return {name: "service_started" for name in d}
    return {name: (v or {}).get("condition", "service_started") for name, v in d.items()}


def ours(service):
    cmd = service.get("command") or []
    return bool(cmd) and cmd[0] in OUR_BINARIES


def check(config, label, bin_dir):
    services = config["services"]
    nats_nodes = [n for n, s in services.items() if "nats" in str(s.get("image", "")) and not ours(s)]
    if not nats_nodes:
        fail(label, "no nats-server service")
    provision = services.get("provision")
    if provision is None:
        return fail(label, "no one-shot `provision` service")
    if provision.get("command") != ["submission-worker", "provision"]:
        fail(f"{label} provision", f"command is {provision.get('command')}")
    if provision.get("environment", {}).get("NATS_USER") != "admin":
        fail(f"{label} provision", "does not connect as the operator (NATS_USER=admin)")
    if str(provision.get("restart", "no")) != "no":
        fail(f"{label} provision", "a one-shot service must not restart")
    for node in nats_nodes:
        if depends(provision).get(node) != "service_healthy":
            fail(f"{label} provision", f"does not wait for {node} to be healthy")
    for name, service in services.items():
        where = f"{label} {name}"
        if ours(service):
            check_command(where, bin_dir, service["command"])
            if name != "provision" and depends(service).get("provision") != "service_completed_successfully":
                fail(where, "does not wait for `provision` to complete successfully")
        for dep, condition in depends(service).items():
            if dep not in services:
                fail(where, f"depends on unknown service {dep}")
            elif condition == "service_healthy" and not services[dep].get("healthcheck"):
                fail(where, f"waits for {dep} to be healthy, but {dep} has no healthcheck")
    return services, nats_nodes


def check_cluster(config, bin_dir):
    services, nodes = check(config, "cluster", bin_dir)
    if len(nodes) != 3:
        fail("cluster", f"{len(nodes)} nats nodes, not 3")
    names = set()
    for node in nodes:
        cmd = services[node].get("command") or []
        for flag in ["--name", "--cluster_name", "--cluster", "--routes"]:
            if flag not in cmd:
                fail(f"cluster {node}", f"no {flag}")
        if "--name" in cmd:
            names.add(cmd[cmd.index("--name") + 1])
    if len(names) != len(nodes):
        fail("cluster", f"server names are not distinct: {sorted(names)}")
    if str(services["provision"].get("environment", {}).get("NATS_REPLICAS")) != "3":
        fail("cluster provision", "NATS_REPLICAS is not 3")
    for name, service in services.items():
        if ours(service):
            urls = str(service.get("environment", {}).get("NATS_URL", "")).split(",")
            if len(urls) != 3:
                fail(f"cluster {name}", f"NATS_URL has {len(urls)} servers, not 3")


def main():
    bin_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug")
    check(resolved("compose.yaml"), "compose.yaml", bin_dir)
    check_cluster(resolved("compose.yaml", "compose.cluster.yaml"), bin_dir)
    if errors:
        print("compose check FAILED:", *errors, sep="\n  ")
        sys.exit(1)
    checked = sorted({" ".join(k) for k in _help_cache})
    print(f"compose.yaml, compose.cluster.yaml: valid; commands checked against {', '.join(checked)}")


if __name__ == "__main__":
    main()
