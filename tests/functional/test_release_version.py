"""The version a tarball built now would carry (issue 26): a released version's name on other
content fails ``make changelog-check`` (part of ``make test``)."""
import pathlib
import shutil
import subprocess
import sys

from tests.functional.harness import ROOT

VENV = pathlib.Path(sys.executable).parent.parent


def copy_of_the_checkout(tmp_path, version):
    """The checkout's files (as git lists them) in ``tmp_path``, galaxy.yml at ``version``."""
    copy = tmp_path / "tokens"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    galaxy = copy / "galaxy.yml"
    lines = [("version: %s" % version) if line.startswith("version:") else line
             for line in galaxy.read_text().splitlines()]
    galaxy.write_text("\n".join(lines) + "\n")
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    subprocess.run(["git", "add", "-A"], cwd=copy, check=True)
    return copy


def changelog_check(copy):
    return subprocess.run(["bash", str(copy / "scripts" / "changelog_check.sh"), str(VENV)],
                          cwd=copy, capture_output=True, text=True, timeout=300, check=False)


def test_galaxy_yml_holds_a_version_that_was_not_released():
    galaxy = (ROOT / "galaxy.yml").read_text()
    released = (ROOT / "changelogs" / "changelog.yaml").read_text()
    version = [line.split(":", 1)[1].strip() for line in galaxy.splitlines()
               if line.startswith("version:")][0]
    assert "\n  %s:\n" % version not in released, version


def test_a_released_version_with_newer_fragments_fails_the_check(tmp_path):
    copy = copy_of_the_checkout(tmp_path, "1.0.0")
    fragments = sorted(p.name for p in (copy / "changelogs" / "fragments").glob("*.yml"))
    assert fragments, "no fragment since 1.0.0: nothing to tell apart"
    run = changelog_check(copy)
    assert run.returncode != 0, run.stdout + run.stderr
    assert "galaxy.yml's version 1.0.0 was released on 2026-11-30" in run.stderr, run.stderr
    assert all(name in run.stderr for name in fragments)
    # The same release without the fragments is that release: the check passes.
    for name in fragments:
        (copy / "changelogs" / "fragments" / name).unlink()
    run = changelog_check(copy)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "changelog: 1.0.0 (released)" in run.stdout
