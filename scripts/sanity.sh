#!/usr/bin/env bash
# ansible-test sanity for virtualenv $1 on Python $2. ansible-test wants the collection at
# ansible_collections/tokenops/tokens and refuses a symlinked tree, so we test a copy of the
# files git knows (tracked, plus new ones not ignored), placed outside this checkout: inside it,
# ansible-test would ask this repository's git, which ignores build folders.
set -euo pipefail
venv="$(cd "$1" && pwd)"; python="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/tokenops-sanity.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
work="$tmp/ansible_collections/tokenops/tokens"
mkdir -p "$work"
(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "$work/")
# ansible-test skips its shellcheck test, with only a warning, when shellcheck is missing; the
# scripts are part of what sanity checks, so install it (as root, with apt-get) or fail.
if ! command -v shellcheck >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "sanity: installing shellcheck"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
  fi
  command -v shellcheck >/dev/null || {
    echo "sanity: shellcheck is missing; install it (apt-get install shellcheck)" >&2; exit 1; }
fi
cd "$work"
PATH="$venv/bin:$PATH" ansible-test sanity --venv --python "$python" --color no --requirements
