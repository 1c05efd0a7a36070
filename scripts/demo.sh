#!/usr/bin/env bash
# make demo: start the sandbox with demo data on all five platforms, run the rotation playbook,
# print the report, run it again to show that nothing is due, and stop the sandbox.
# Usage: scripts/demo.sh <virtualenv>   (the Makefile passes .venv/ansible-2.21)
set -euo pipefail
venv="$(cd "${1:?usage: scripts/demo.sh <virtualenv>}" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/link_collection.sh"
export PATH="$venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$root/build/collections"
export ANSIBLE_PYTHON_INTERPRETER="$venv/bin/python"
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0

demo_dir="$(mktemp -d "${TMPDIR:-/tmp}/tokenops-demo.XXXXXX")"
mkdir -m 700 "$demo_dir/sinks"
( umask 077 && printf 'demo vault password\n' > "$demo_dir/vault-password" )

python -m tests.sandbox > "$demo_dir/sandbox.out" 2> "$demo_dir/sandbox.err" &
sandbox_pid=$!
cleanup() {
  kill "$sandbox_pid" 2>/dev/null || true
  wait "$sandbox_pid" 2>/dev/null || true
  rm -rf "$demo_dir"
}
trap cleanup EXIT

# The sandbox's banner ends with its export block of the vendors' variables (the way AWX
# credential types inject them); wait for its last line.
for _attempt in $(seq 1 300); do
  grep -q '^# The sandbox is ready' "$demo_dir/sandbox.out" 2>/dev/null && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$demo_dir/sandbox.err" >&2; exit 1; }
  sleep 0.1
done
grep -q '^# The sandbox is ready' "$demo_dir/sandbox.out" \
  || { echo "the sandbox did not start" >&2; exit 1; }
eval "$(grep '^export ' "$demo_dir/sandbox.out")"

# Platforms whose adapter this checkout has (all five once every platform module is merged).
providers="$(PYTHONPATH="$root/build/collections" python - <<'PY'
import json
from ansible_collections.tokenops.tokens.plugins.module_utils._registry import available_providers
found = available_providers()
for name, provider in sorted(found.items()):
    if isinstance(provider, str):
        print("demo: skipping %s: %s" % (name, provider), file=__import__("sys").stderr)
print(json.dumps(sorted(n for n, p in found.items() if not isinstance(p, str))))
PY
)"

run() {
  local title="$1"; shift
  echo
  echo "=== $title"
  local started=$SECONDS
  if ! ansible-playbook -i localhost, playbooks/rotate.yml -e @playbooks/demo/demo_vars.yml \
      -e "demo_dir=$demo_dir" -e "{\"demo_providers\": $providers}" "$@" \
      > "$demo_dir/ansible.out" 2>&1; then
    cat "$demo_dir/ansible.out"
    echo "demo: the rotation playbook failed" >&2
    exit 1
  fi
  sed -n '/^PLAY RECAP/,$p' "$demo_dir/ansible.out"
  echo "($((SECONDS - started)) s)"
}

run "Check mode: the plan, nothing changed" --check
sed -n '/Show the plan/,/^$/p' "$demo_dir/ansible.out" | grep -E '"(\||#|Generated)' \
  | sed -E 's/^ *"//; s/",?$//; s/\\\\/\\/g'
run "Rotation run"
echo
cat "$demo_dir/report/report.md"
echo "Sinks written (mode, path):"
(cd "$demo_dir/sinks" && stat -c '  %a %n' -- *)
run "Second run: nothing is due"
echo
cat "$demo_dir/report/report.md"
echo "demo: done; the sandbox is stopped and $demo_dir removed"
