#!/usr/bin/env bash
# The changelog: antsibull-changelog lint, then the release a `make release VERSION=1.0.0` would
# write, made in a throw-away copy: a release summary, the modules under "New Modules" and the
# role under "New Roles" (generated from version_added), and no fragment repeating them.
set -euo pipefail
venv="$(cd "$1" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$venv/bin:$PATH"
cd "$root"
antsibull-changelog lint
tmp="$(mktemp -d "${TMPDIR:-/tmp}/tokenops-changelog.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
copy="$tmp/ansible_collections/tokenops/tokens"
mkdir -p "$copy"
git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "$copy/"
version="${RELEASE_VERSION:-1.0.0}"
(cd "$copy" && ANSIBLE_COLLECTIONS_PATH="$tmp" antsibull-changelog release --version "$version" >/dev/null)
changelog="$copy/CHANGELOG.md"
python - "$changelog" "$version" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
version = sys.argv[2]
def section(title):
    match = re.search(r"^#+ %s\n(.*?)(?=^#|\Z)" % re.escape(title), text, re.M | re.S)
    assert match, "no %r section in the %s changelog" % (title, version)
    return match.group(1)
assert section("Release Summary").strip()
# antsibull-changelog escapes Markdown punctuation: "* tokenops\.tokens\.pactflow\_token \- ..."
entry = re.compile(r"^\* tokenops\\?\.tokens\\?\.([\w\\]+) \\?- ", re.M)
modules = [m.replace("\\", "") for m in entry.findall(section("New Modules"))]
roles = [m.replace("\\", "") for m in entry.findall(section("New Roles"))]
assert len(modules) == 11 and len(set(modules)) == 11, modules
assert roles == ["rotate"], roles
repeats = [line for line in text.splitlines() if re.match(r"^\* New (module|role)", line, re.I)]
assert not repeats, repeats
print("changelog: %s would list %d new modules, the role %s and a release summary"
      % (version, len(modules), roles[0]))
PY
