#!/usr/bin/env bash
# antsibull-docs lint-collection-docs --plugin-docs: the collection's docs, changelog and every
# plugin's and role's documentation, checked the way the Ansible docsite build checks them.
set -euo pipefail
venv="$(cd "$1" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/link_collection.sh"
cd "$root/build/collections/ansible_collections/tokenops/tokens"
ANSIBLE_COLLECTIONS_PATH="$root/build/collections" PATH="$venv/bin:$PATH" \
  antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs all .
echo "antsibull-docs lint-collection-docs --plugin-docs: clean"
