#!/usr/bin/env bash
# make docsite: the collection's docs site as docs.ansible.com builds it, offline, into
# build/docsite/build/html: antsibull-docs renders the plugin and role pages and the guides of
# docs/docsite (extra docs, links.yml), Sphinx builds the HTML. Fails on any warning of the
# collection's own; the warnings that come only from having no network are listed by name below
# (the intersphinx inventories Sphinx cannot download, and the labels of the Ansible docs those
# inventories would resolve) and filtered out.
# Usage: scripts/docsite.sh <virtualenv with antsibull-docs, Sphinx and sphinx-ansible-theme>
set -euo pipefail
venv="$(cd "$1" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/link_collection.sh"
out="$root/build/docsite"
rm -rf "$out" && mkdir -p "$out"
export PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$root/build/collections"
antsibull-docs sphinx-init --use-current --dest-dir "$out" tokenops.tokens >/dev/null
cd "$out"
mkdir -p rst && chmod og-w rst   # antsibull-docs wants the directory writable only by itself
antsibull-docs --config-file antsibull-docs.cfg collection --cleanup everything --use-current \
  --fail-on-error --dest-dir rst tokenops.tokens >/dev/null
sphinx-build -M html rst build -c . -q --keep-going -w warnings.log >sphinx.log 2>&1 \
  || { cat sphinx.log warnings.log >&2; exit 1; }
python - warnings.log <<'PY'
import re
import sys

#: the intersphinx inventories of the generated conf.py (python, python3, jinja2, ansible_devel),
#: as URL and local fallback file: unreachable offline
OFFLINE_INVENTORIES = (
    "https://docs.python.org/2/objects.inv", "../python2.inv",
    "https://docs.python.org/3/objects.inv", "../python3.inv",
    "http://jinja.palletsprojects.com/objects.inv", "../jinja2.inv",
    "https://docs.ansible.com/projects/ansible/devel/objects.inv", "../ansible_devel.inv",
)
#: labels of the Ansible docs (the ansible_devel inventory) that the pages refer to
OFFLINE_LABELS = ("action_plugins", "common_return_values", "ansible_configuration_settings")
#: the pages of ansible-core's own plugins, in the same inventory
OFFLINE_LABEL_PREFIX = "ansible_collections.ansible.builtin."

#: ansible-core's own settings (the inventory cache options' environment variables), documented
#: in the same inventory
OFFLINE_ENVVAR_PREFIX = "ANSIBLE_"

inventory = re.compile(r"^intersphinx inventory '(?P<name>[^']+)' not (?:fetchable|readable) ")
envvar = re.compile(r": WARNING: 'envvar' reference target not found: (?P<name>\S+) \[ref\.envvar\]$")
label = re.compile(r": WARNING: undefined label: '(?P<label>[^']+)' \[ref\.ref\]$")
filtered, own = 0, []
for line in open(sys.argv[1]).read().splitlines():
    match = inventory.match(line)
    if line.startswith("WARNING: failed to reach any of the inventories"):
        filtered += 1
        continue
    if match and match.group("name") in OFFLINE_INVENTORIES:
        continue
    match = envvar.search(line)
    if match and match.group("name").startswith(OFFLINE_ENVVAR_PREFIX):
        filtered += 1
        continue
    match = label.search(line)
    if match and (match.group("label") in OFFLINE_LABELS
                  or match.group("label").startswith(OFFLINE_LABEL_PREFIX)):
        filtered += 1
        continue
    if line.strip():
        own.append(line)
if own:
    print("docsite: %d warning(s) of the collection's own:" % len(own), file=sys.stderr)
    print("\n".join(own), file=sys.stderr)
    sys.exit(1)
print("docsite: built with 0 warnings of the collection's own (%d filtered that come only from "
      "having no network: intersphinx inventories, the Ansible docs' labels and ansible-core's "
      "environment variables)" % filtered)
PY
echo "docsite: $out/build/html/index.html"
