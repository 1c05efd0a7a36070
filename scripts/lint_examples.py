"""Every YAML example of README.md, roles/rotate/README.md and docs/ through ansible-lint's
production profile, as a user who copies it would lint it.

Usage: python scripts/lint_examples.py   (with ansible-lint on PATH; make lint runs it)

Each ```yaml block becomes a file of the kind ansible-lint recognises by its path: a list of
plays is a playbook, a list of tasks a task file, a mapping of role variables a vars file,
anything else (AWX credential type definitions, say) plain YAML. A block that is not valid YAML
fails. Modules of other collections that an example uses are mocked (MOCKED), since they are
not installed here.
"""
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = ["README.md", "roles/rotate/README.md"] + sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))
#: modules of collections the examples use but this project does not install
MOCKED = ["awx.awx.credential"]
BLOCK = re.compile(r"^(?P<indent>[ \t]*)```yaml\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
PLAY_KEYS = {"hosts", "import_playbook", "ansible.builtin.import_playbook"}


def blocks(source):
    """``(line, text)`` of every ```yaml block of ``source``, dedented."""
    text = (ROOT / source).read_text()
    for match in BLOCK.finditer(text):
        indent = match.group("indent")
        body = "".join(line[len(indent):] if line.startswith(indent) else line
                       for line in match.group("body").splitlines(keepends=True))
        yield text.count("\n", 0, match.start()) + 1, body


def kind(data):
    """Where ansible-lint expects a file of this content: playbooks/, tasks/, vars/ or yaml/."""
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        return "playbooks" if any(PLAY_KEYS & set(item) for item in data) else "tasks"
    if isinstance(data, dict) and any(key.startswith("rotate_") for key in data):
        return "vars"
    return "yaml"


def main():
    with tempfile.TemporaryDirectory(prefix="tokenops-examples.") as tmp:
        project = pathlib.Path(tmp)
        where, broken = {}, []
        for source in SOURCES:
            for line, body in blocks(source):
                try:
                    data = yaml.safe_load(body)
                except yaml.YAMLError as exc:
                    broken.append("%s:%d: not valid YAML: %s" % (source, line, exc))
                    continue
                name = "%s-%d.yml" % (re.sub(r"[^A-Za-z0-9]+", "-", source[:-3]).strip("-"),
                                      line)
                path = project / kind(data) / name
                path.parent.mkdir(exist_ok=True)
                path.write_text("---\n" + body)
                where[str(path.relative_to(project))] = "%s:%d" % (source, line)
        (project / ".ansible-lint").write_text(yaml.safe_dump(
            {"profile": "production", "offline": True, "mock_modules": MOCKED}))
        print("examples: %d YAML blocks from %s" % (len(where), ", ".join(SOURCES)))
        for path, origin in sorted(where.items(), key=lambda item: item[1]):
            print("  %s -> %s" % (origin, path))
        if broken:
            print("\n".join(broken), file=sys.stderr)
            return 1
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"))
        proc = subprocess.run(["ansible-lint", "--nocolor", "--project-dir", tmp]
                              + sorted(where), cwd=tmp, env=env, check=False)
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
