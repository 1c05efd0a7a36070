#!/usr/bin/env bash
# Make build/collections/ansible_collections/tokenops/tokens point at this checkout, so that
# ansible-playbook and ansible-lint find the collection without installing it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$root/build/collections/ansible_collections/tokenops"
ln -sfn "$root" "$root/build/collections/ansible_collections/tokenops/tokens"
