#!/usr/bin/env bash
# Run galaxy-importer (what Galaxy and Automation Hub run on upload) on the tarball that
# `make build` produced, offline (tests/galaxy-importer.cfg). Fails on any error or warning.
set -euo pipefail
venv="$(cd "$1" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
tarball="$(ls "$root"/build/dist/tokenops-tokens-*.tar.gz)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/tokenops-import.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"   # galaxy-importer writes importer_result.json into the working directory
rc=0
GALAXY_IMPORTER_CONFIG="$root/tests/galaxy-importer.cfg" ANSIBLE_LOCAL_TEMP="$tmp/ansible-tmp" \
  PATH="$venv/bin:$PATH" "$venv/bin/python" -m galaxy_importer.main "$tarball" >"$tmp/out.txt" 2>&1 || rc=$?
grep -v '^Loading ' "$tmp/out.txt" || true
errors=$(grep -c '^ERROR' "$tmp/out.txt" || true)
warnings=$(grep -c '^WARNING' "$tmp/out.txt" || true)
echo "galaxy-importer: $(basename "$tarball"): $errors errors, $warnings warnings (exit $rc)"
if [ "$rc" -ne 0 ] || [ "$errors" -ne 0 ] || [ "$warnings" -ne 0 ] \
   || ! grep -q 'Importer processing completed successfully' "$tmp/out.txt"; then
  exit 1
fi
# Only what users need ships (galaxy.yml build_ignore).
shipped="$(tar -tzf "$tarball")"
for devonly in Makefile noxfile.py antsibull-nox.toml scripts/ playbooks/demo/ tests/sandbox/ tests/functional/ ee/ .ci/ .nox/; do
  if grep -q "^${devonly}" <<<"$shipped"; then echo "galaxy-import: $devonly is in the tarball" >&2; exit 1; fi
done
for needed in LICENSE README.md roles/rotate/README.md requirements.txt meta/execution-environment.yml; do
  grep -qx "$needed" <<<"$shipped" || { echo "galaxy-import: $needed is not in the tarball" >&2; exit 1; }
done
echo "galaxy-import: the tarball holds the licence, READMEs and requirements, and no developer-only files"
