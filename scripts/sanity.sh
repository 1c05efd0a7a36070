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
cd "$work"
PATH="$venv/bin:$PATH" ansible-test sanity --venv --python "$python" --color no --requirements
