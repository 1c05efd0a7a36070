#!/usr/bin/env bash
# The execution environment, as docs/awx.md builds it, up to the container engine: run the
# documented `ansible-builder create` on ee/execution-environment.yml and check the build context
# it produces, and check that ansible-builder reads the installed collection's own dependency
# stub (meta/execution-environment.yml) as requests. Building the image needs podman or docker:
#   podman build -f build/ee/Containerfile -t tokenops-ee build/ee
set -euo pipefail
venv="$(cd "$1" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$venv/bin:$PATH"
cd "$root"
tarball="$(ls build/dist/tokenops-tokens-*.tar.gz)"
rm -rf build/ee
# The command in docs/awx.md, taken from it word for word:
command="$(grep '^ansible-builder create ' docs/awx.md)"
[ "$(wc -l <<<"$command")" -eq 1 ] || { echo "ee: docs/awx.md must hold one ansible-builder create command" >&2; exit 1; }
echo "+ $command"
eval "$command"
containerfile=build/ee/Containerfile; [ -f "$containerfile" ] || containerfile=""
fail() { echo "ee: $*" >&2; exit 1; }
[ -n "$containerfile" ] || fail "no Containerfile in build/ee"
cmp -s "$tarball" "build/ee/_build/collections/$(basename "$tarball")" \
  || fail "the build context does not hold the tarball make build wrote"
grep -q '^ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"$' "$containerfile" || fail "base image"
grep -q 'ansible-core==2.21.5 ansible-runner==2.4.3' "$containerfile" || fail "ansible-core/runner pins"
grep -q 'ansible-galaxy collection install .*-r requirements.yml' "$containerfile" \
  || fail "no collection install step"
grep -q 'introspect.py introspect' "$containerfile" || fail "no introspection of collection requirements"
python - build/ee/_build/requirements.yml <<'PY' || fail "galaxy requirements"
import sys, yaml
reqs = yaml.safe_load(open(sys.argv[1]))
assert reqs["collections"] == [{"name": "/build/collections/tokenops-tokens.tar.gz", "type": "file"}], reqs
PY
# What ansible-builder's introspection finds in the collection installed from the tarball.
installed="$(mktemp -d "${TMPDIR:-/tmp}/tokenops-ee.XXXXXX")"
trap 'rm -rf "$installed"' EXIT
ansible-galaxy collection install --offline -p "$installed" "$tarball" >/dev/null
deps="$(ansible-builder introspect --sanitize "$installed" 2>/dev/null)"
echo "$deps"
grep -q "requests>=2.25  # from collection tokenops.tokens" <<<"$deps" \
  || fail "ansible-builder did not find requests in the collection's dependency stub"
echo "ee: build context in build/ee ($(basename "$containerfile")) with $(basename "$tarball"); build the image with: podman build -f $containerfile -t tokenops-ee build/ee"
