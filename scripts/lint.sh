#!/usr/bin/env bash
# ansible-lint with the production profile, on the collection as it would be installed, and on
# every YAML example of the READMEs and docs/ as a user who copies one would lint it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/link_collection.sh"
cd "$root"
ansible-lint --profile production --offline --nocolor
python "$root/scripts/lint_examples.py"
