#!/usr/bin/env bash
# What a new user does, as README.md says: a virtualenv with only ansible-core and requests, the
# collection installed from the tarball `make build` wrote, and one module called ad hoc (here
# against the sandbox, served from a virtualenv with only tests/sandbox/requirements.txt).
# $1 is the project virtualenv, $2 the Python to use.
set -euo pipefail
venv="$(cd "$1" && pwd)"; python="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
tarball="$(ls "$root"/build/dist/tokenops-tokens-*.tar.gz)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/tokenops-fresh.XXXXXX")"
sandbox_pid=""
cleanup() { [ -z "$sandbox_pid" ] || kill "$sandbox_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
pin() { grep -h "^$1==" "$root"/tests/requirements-2.21.txt "$root"/tests/requirements-common.txt; }
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check "$(pin ansible-core)" "$(pin requests)"
# Nothing of the project's test tooling: only ansible-core, requests and their dependencies.
if "$tmp/venv/bin/pip" list --format freeze 2>/dev/null | grep -Eiq '^(flask|pytest|ansible-lint|werkzeug)=='; then
  echo "fresh-install: the virtualenv holds test tooling" >&2; exit 1
fi
export PATH="$tmp/venv/bin:/usr/bin:/bin" ANSIBLE_HOME="$tmp/ansible-home" \
  ANSIBLE_COLLECTIONS_PATH="$tmp/collections" ANSIBLE_LOCAL_TEMP="$tmp/ansible-tmp" ANSIBLE_NOCOLOR=1
cd "$tmp"
# README.md, "From a tarball":
cp "$tarball" .
ansible-galaxy collection install "./$(basename "$tarball")"
ansible-galaxy collection list tokenops.tokens
# The sandbox from a virtualenv made as README.md says (its own requirements file only).
"$python" -m venv "$tmp/sandbox-venv"
"$tmp/sandbox-venv/bin/pip" install --quiet --disable-pip-version-check \
  -r "$root/tests/sandbox/requirements.txt"
mkfifo "$tmp/endpoints"
(cd "$root" && exec "$tmp/sandbox-venv/bin/python" -m tests.sandbox --no-demo >"$tmp/endpoints") &
sandbox_pid=$!
# The first line is the endpoints; the banner follows: keep reading, so the sandbox never
# writes into a closed pipe.
exec 3<"$tmp/endpoints"
read -r endpoints <&3
cat <&3 >/dev/null &
url="$("$venv/bin/python" -c 'import json,sys; print(json.loads(sys.argv[1])["pulumi"]["url"])' "$endpoints")"
token="$("$venv/bin/python" -c 'import json,sys; print(json.loads(sys.argv[1])["pulumi"]["token"])' "$endpoints")"
# README.md, "A first call" (implicit localhost runs the module with this virtualenv's Python):
set +e
PULUMI_BACKEND_URL="$url" PULUMI_ACCESS_TOKEN="$token" \
  HOME="$tmp" ansible localhost -m tokenops.tokens.pulumi_token \
  -a "description=first-token expires_in=30d secret_dest=~/.first-pulumi-token" \
  >"$tmp/out.txt" 2>&1
rc=$?
set -e
cat "$tmp/out.txt"
[ "$rc" -eq 0 ] || { echo "fresh-install: the ad hoc call failed" >&2; exit 1; }
grep -q '"changed": true' "$tmp/out.txt" || { echo "fresh-install: nothing was created" >&2; exit 1; }
grep -q 'pul-' "$tmp/out.txt" && { echo "fresh-install: a secret was printed" >&2; exit 1; }
[ "$(stat -c %a "$tmp/.first-pulumi-token")" = 600 ] \
  || { echo "fresh-install: the secret file is not mode 0600" >&2; exit 1; }
grep -q '^pul-' "$tmp/.first-pulumi-token" \
  || { echo "fresh-install: the secret file holds no Pulumi token" >&2; exit 1; }
echo "fresh-install: ansible-core and requests only, installed from $(basename "$tarball"), one module called ad hoc"
