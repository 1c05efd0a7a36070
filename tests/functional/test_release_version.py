"""The version a tarball built now would carry (issue 26): a released version's name on other
content fails ``make changelog-check`` (part of ``make test``)."""
import pathlib
import shutil
import subprocess
import sys

import yaml

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


def released_versions():
    """The released versions, oldest first."""
    releases = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())["releases"]
    return sorted(releases, key=lambda v: tuple(int(p) for p in v.split(".")))


def test_the_checkout_passes_the_release_check(tmp_path):
    """galaxy.yml names either the next release (fragments say what it will hold) or the newest
    release with nothing after it: what a tarball built now is."""
    version = [line.split(":", 1)[1].strip() for line in (ROOT / "galaxy.yml").read_text()
               .splitlines() if line.startswith("version:")][0]
    run = changelog_check(copy_of_the_checkout(tmp_path, version))
    assert run.returncode == 0, run.stdout + run.stderr
    assert version == "1.1.0", "this round's features are 1.1.0's (issue 26)"


def test_a_released_version_with_other_content_fails_the_check(tmp_path):
    copy = copy_of_the_checkout(tmp_path, "1.0.0")
    fragment = copy / "changelogs" / "fragments" / "later-change.yml"
    fragment.write_text("bugfixes:\n  - \"rotate role - a change made after 1.0.0.\"\n")
    run = changelog_check(copy)
    assert run.returncode != 0, run.stdout + run.stderr
    assert "galaxy.yml's version 1.0.0 was released on 2026-11-30" in run.stderr, run.stderr
    assert "later-change.yml" in run.stderr
    # Without a fragment, 1.0.0 is still not what the checkout holds once a later release exists.
    fragment.unlink()
    for extra in (copy / "changelogs" / "fragments").glob("*.y*ml"):
        extra.unlink()
    run = changelog_check(copy)
    later = released_versions()[released_versions().index("1.0.0") + 1:]
    if later:
        assert run.returncode != 0 and "%s came after it" % ", ".join(later) in run.stderr, (
            run.stdout + run.stderr)
    else:
        assert run.returncode == 0, run.stdout + run.stderr
    # The newest release without fragments is that release: the check passes.
    newest = released_versions()[-1]
    copy = copy_of_the_checkout(tmp_path / "newest", newest)
    for extra in (copy / "changelogs" / "fragments").glob("*.y*ml"):
        extra.unlink()
    run = changelog_check(copy)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "changelog: %s (released)" % newest in run.stdout
