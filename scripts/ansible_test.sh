#!/usr/bin/env bash
# ansible-test units | integration for virtualenv $1 on Python $2, from a copy of the collection
# tree at ansible_collections/tokenops/tokens (as scripts/sanity.sh makes it).
#   units:       the tests under tests/unit, in a virtualenv ansible-test makes (--venv).
#   integration: the targets under tests/integration/targets. Without
#                tests/integration/integration_config.yml they run against the sandbox, which
#                this script starts (tests/integration/serve_sandbox.py) and describes in a generated
#                integration_config.yml; with
#                one (see docs/testing.md), against the accounts it names.
set -euo pipefail
venv="$(cd "$1" && pwd)"; python="$2"; command="$3"; shift 3
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/tokenops-ansible-test.XXXXXX")"
sandbox_pid=""
cleanup() { [ -z "$sandbox_pid" ] || kill "$sandbox_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
work="$tmp/ansible_collections/tokenops/tokens"
mkdir -p "$work"
(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "$work/")
export PATH="$venv/bin:$PATH"
case "$command" in
  units)
    cd "$work"
    ansible-test units --venv --python "$python" --color no --requirements "$@" 2>&1 | tee "$tmp/units.log"
    # ansible-test exits 0 when pytest collected nothing; a run that tested nothing is a failure.
    grep -Eq '[1-9][0-9]* passed' "$tmp/units.log" || { echo "ansible-test units ran no test" >&2; exit 1; }
    ;;
  integration)
    config="$root/tests/integration/integration_config.yml"
    if [ -f "$config" ]; then
      echo "integration: against the accounts in tests/integration/integration_config.yml"
      cp "$config" "$work/tests/integration/integration_config.yml"
    else
      echo "integration: against the sandbox"
      mkfifo "$tmp/ready"
      (cd "$root" && exec "$venv/bin/python" tests/integration/serve_sandbox.py \
        "$work/tests/integration/integration_config.yml" >"$tmp/ready") &
      sandbox_pid=$!
      read -r ready <"$tmp/ready"
      [ "$ready" = ready ] || { echo "integration: the sandbox did not start" >&2; exit 1; }
    fi
    cd "$work"
    ansible-test integration --local --python "$python" --color no "$@"
    ;;
  *) echo "usage: $0 VENV PYTHON units|integration [ansible-test options]" >&2; exit 2 ;;
esac
