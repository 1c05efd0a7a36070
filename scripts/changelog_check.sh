#!/usr/bin/env bash
# The changelog and the version a tarball built now would carry (galaxy.yml's):
# - antsibull-changelog lint;
# - a released version is that release only: with changelog fragments that are not part of it,
#   or with a later release made, a tarball would carry its name with other content, and this
#   check fails (set galaxy.yml's version to the next one);
# - a version not released yet must come after every released one, and the release
#   `make release VERSION=<it>` would write is made in a throw-away copy: it must leave every
#   released section as it was, list what is new, and repeat no generated entry.
# Usage: scripts/changelog_check.sh <virtualenv with antsibull-changelog>
set -euo pipefail
venv="$(cd "$1" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$venv/bin:$PATH"
cd "$root"
antsibull-changelog lint
version="$(sed -n 's/^version: *//p' galaxy.yml)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/tokenops-changelog.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
copy="$tmp/ansible_collections/tokenops/tokens"
if ! grep -q "^  ${version//./\\.}:" changelogs/changelog.yaml; then
  # Not released yet: write the release `make release` would write, in a throw-away copy.
  mkdir -p "$copy"
  git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "$copy/"
  (cd "$copy" && ANSIBLE_COLLECTIONS_PATH="$tmp" antsibull-changelog release --version "$version" >/dev/null)
fi
python - "$root" "$copy" "$version" <<'PY'
import os
import re
import sys

import yaml

root, copy, version = sys.argv[1:]


def fail(message):
    sys.exit("changelog-check: " + message)


def load(base):
    with open(os.path.join(base, "changelogs", "changelog.yaml")) as handle:
        return yaml.safe_load(handle)["releases"]


def key(text):
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


released = load(root)
fragments = sorted(name for name in os.listdir(os.path.join(root, "changelogs", "fragments"))
                   if name.endswith((".yml", ".yaml")))
if version in released:
    unreleased = [name for name in fragments if name not in released[version].get("fragments", [])]
    if unreleased:
        fail("galaxy.yml's version %s was released on %s, and %d changelog fragment(s) are not "
             "part of it (%s): a tarball built now would carry %s's name with other content. "
             "Set galaxy.yml's version to the next one." % (
                 version, released[version].get("release_date"), len(unreleased),
                 ", ".join(unreleased), version))
    later = [v for v in released if key(v) > key(version)]
    if later:
        fail("galaxy.yml's version %s was released on %s, and %s came after it: a tarball built "
             "now would carry %s's name with later content. Set galaxy.yml's version to the "
             "newest release or the next one." % (version, released[version].get("release_date"),
                                                  ", ".join(later), version))
    changelog = os.path.join(root, "CHANGELOG.md")
else:
    newer = [v for v in released if key(v) >= key(version)]
    if newer:
        fail("galaxy.yml's version %s is not after the released %s" % (version, ", ".join(newer)))
    after = load(copy)
    changed = [v for v in released if after.get(v) != released[v]]
    if changed:
        fail("the release of %s would change the released section(s) %s" % (
            version, ", ".join(changed)))
    if not after.get(version, {}).get("changes") and not after.get(version, {}).get("modules"):
        fail("a release of %s would say nothing: add changelog fragments" % version)
    changelog = os.path.join(copy, "CHANGELOG.md")

text = open(changelog).read()
# The section of this version only: from its heading to the next version's.
start = re.search(r"^#+ v%s\n" % re.escape(version).replace("\\.", r"\\?\."), text, re.M)
if not start:
    fail("no v%s section in %s" % (version, changelog))
following = re.search(r"^## v", text[start.end():], re.M)
text = text[start.end():start.end() + following.start()] if following else text[start.end():]
sections = dict(re.findall(r"^#+ ([^\n]+)\n(.*?)(?=^#|\Z)", text, re.M | re.S))
# antsibull-changelog escapes Markdown punctuation: "* tokenops\.tokens\.pactflow\_token \- ..."
entry = re.compile(r"^\* tokenops\\?\.tokens\\?\.([\w\\]+) \\?- ", re.M)
modules = [m.replace("\\", "") for m in entry.findall(sections.get("New Modules", ""))]
roles = [m.replace("\\", "") for m in entry.findall(sections.get("New Roles", ""))]
if len(modules) != len(set(modules)):
    fail("a module is listed twice under New Modules: %s" % modules)
repeats = [line for line in text.splitlines() if re.match(r"^\* New (module|role)", line, re.I)]
if repeats:
    fail("fragments repeat what antsibull-changelog generates from version_added: %s" % repeats)
print("changelog: %s (%s) would list %d change section(s), %d new module(s), %d new role(s); "
      "released sections unchanged" % (
          version, "released" if version in released else "next release",
          len(sections), len(modules), len(roles)))
PY
