#!/usr/bin/env bash
# ansible-lint with the production profile, on the collection as it would be installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/link_collection.sh"
cd "$root"
ansible-lint --profile production --offline --nocolor
