#!/usr/bin/env bash
# Installs the toolchains of the judge's language table (judge-worker/languages.yaml) from Debian's
# packages. `make languages` runs it; `make test` too, because the tests check every language.
# A fast no-op when everything is present (one dpkg-query for the whole list).
#
#   scripts/languages.sh          install what is missing
#   scripts/languages.sh --check  only say what is missing (exit 1 if anything is)
set -euo pipefail
cd "$(dirname "$0")/.."

# One package (or a few) per language; the comment names the language ids of languages.yaml.
PACKAGES=(
  gcc g++                 # c, cpp
  python3                 # python3
  default-jdk-headless    # java
  nodejs                  # javascript
  golang-go               # go
  mono-mcs mono-runtime   # csharp
  kotlin                  # kotlin
  scala                   # scala
  ruby                    # ruby
  php-cli                 # php
  ghc                     # haskell
  fp-compiler             # pascal
  node-typescript         # typescript
  pypy3                   # pypy3
  lua5.4                  # lua
  perl                    # perl
  ocaml-nox               # ocaml
  gfortran                # fortran
  gdc                     # d
  elixir                  # elixir
  erlang-nox              # erlang
  racket                  # racket
  sbcl                    # commonlisp
  bash                    # bash
  nim                     # nim
)

missing=()
while read -r pkg status; do
  [ "$status" = "installed" ] || missing+=("$pkg")
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
# Packages dpkg has never heard of print nothing at all: count them too.
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed || {
    [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
  }
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "languages: missing packages: ${missing[*]}"
  exit 1
fi
# Node.js may come from another repository than Debian's (NodeSource): never replace it.
if command -v node >/dev/null; then
  missing=("${missing[@]/nodejs/}")
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "languages: installing ${missing[*]} (Debian packages; the first time takes several minutes)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends ${missing[*]} >/dev/null
