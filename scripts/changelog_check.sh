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
version="$(sed -n 's/^version: *//p' galaxy.yml)"
if grep -q "^  ${version//./\\.}:" changelogs/changelog.yaml; then
  # Released: check the section CHANGELOG.md holds for galaxy.yml's version.
  changelog="$root/CHANGELOG.md"
else
  # Not released yet: write the release `make release` would write, in a throw-away copy.
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/tokenops-changelog.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  copy="$tmp/ansible_collections/tokenops/tokens"
  mkdir -p "$copy"
  git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "$copy/"
  version="${RELEASE_VERSION:-1.0.0}"
  (cd "$copy" && ANSIBLE_COLLECTIONS_PATH="$tmp" antsibull-changelog release --version "$version" >/dev/null)
  changelog="$copy/CHANGELOG.md"
fi
python - "$changelog" "$version" <<'PY'
import re, sys
version = sys.argv[2]
text = open(sys.argv[1]).read()
# The section of this version only: from its heading to the next version's.
start = re.search(r"^#+ v%s\n" % re.escape(version).replace("\\.", r"\\?\."), text, re.M)
assert start, "no v%s section in %s" % (version, sys.argv[1])
following = re.search(r"^## v", text[start.end():], re.M)
text = text[start.end():start.end() + following.start()] if following else text[start.end():]
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
