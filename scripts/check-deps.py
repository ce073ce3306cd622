#!/usr/bin/env python3
"""Checks the crate graph the design promises, from `cargo metadata` (so however it is built):

- no cycle among the workspace's crates, dev-dependencies included;
- nothing on the judge's side (judge-worker, sandbox, problem-package, common) reaches a database
  driver (mongodb, bson, mongo-store) through its normal or build dependencies;
- the submission worker does not depend on the judge or the sandbox;
- no crate depends on system-tests (it is a harness, not a library);
- the edge holds no database connection.

Exits 1 and names every broken rule."""
import json
import subprocess
import sys

host = next(line.split()[1] for line in subprocess.check_output(["rustc", "-vV"], text=True).splitlines()
            if line.startswith("host:"))
meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--filter-platform", host], text=True))
packages = {p["id"]: p for p in meta["packages"]}
members = {packages[i]["name"] for i in meta["workspace_members"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
name_of = {i: packages[i]["name"] for i in packages}


def edges(pkg_id, kinds):
    """Dependencies of a package through the given dependency kinds (None = normal)."""
    for dep in nodes[pkg_id]["deps"]:
        if any(k["kind"] in kinds for k in dep["dep_kinds"]):
            yield dep["pkg"]


def reachable(start_name, kinds):
    start = next(i for i in nodes if name_of[i] == start_name and name_of[i] in members)
    seen, todo = set(), [start]
    while todo:
        cur = todo.pop()
        for nxt in edges(cur, kinds):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return {name_of[i] for i in seen}


errors = []
runtime = {None, "build"}

# Cycles among workspace members, every dependency kind.
member_ids = [i for i in nodes if name_of[i] in members]
graph = {i: [d for d in edges(i, {None, "build", "dev"}) if name_of[d] in members] for i in member_ids}
state = {}


def visit(node, path):
    state[node] = "active"
    for nxt in graph[node]:
        if state.get(nxt) == "active":
            cycle = path[path.index(nxt):] + [nxt]
            errors.append("dependency cycle: " + " -> ".join(name_of[c] for c in cycle))
        elif nxt not in state:
            visit(nxt, path + [nxt])
    state[node] = "done"


for m in member_ids:
    if m not in state:
        visit(m, [m])

forbidden = {
    "judge-worker": {"mongodb", "bson", "mongo-store", "system-tests", "submission-worker", "auth-worker"},
    "sandbox": {"mongodb", "async-nats", "problem-package", "common"},
    "problem-package": {"mongodb", "async-nats", "sandbox", "nix", "seccompiler"},
    "common": {"mongodb", "bson", "sandbox"},
    "submission-worker": {"judge-worker", "sandbox", "seccompiler"},
    "edge": {"mongodb", "mongo-store", "judge-worker", "sandbox"},
}
for crate, banned in forbidden.items():
    found = reachable(crate, runtime) & banned
    for f in sorted(found):
        errors.append(f"{crate} depends on {f}")

for m in member_ids:
    if name_of[m] != "system-tests":
        if "system-tests" in {name_of[d] for d in edges(m, {None, "build", "dev"})}:
            errors.append(f"{name_of[m]} depends on system-tests")

if errors:
    print("crate graph: BROKEN")
    for e in errors:
        print("  -", e)
    sys.exit(1)
print(f"crate graph: ok ({len(members)} crates, no cycle, judge without a database driver, "
      "submission worker without the judge)")
