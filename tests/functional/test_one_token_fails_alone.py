"""One token's failure stays that token's (issue 23, item 4).

An error that no step of a rotation expects (an answer the client or an adapter cannot read, a
date out of range, a full disk) failed the whole step for every platform with a bare message,
no report was written, and a TFE consumer waiting for its task file was stranded. Now it fails
its token only, naming the platform, the request it followed and what went wrong; the others
rotate and the report is written.

The engine runs in-process here (the code the role runs), on five platforms at once; the full
state directory runs through ansible-playbook, on a small tmpfs.
"""
import json
import os
import subprocess

import pytest

from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_engine import (
    finish_step, issue_step,
)

from tests.functional.test_fault_matrix import TARGETS
from tests.functional.test_rotate_role import assert_no_leak, file_sink, rotate
from tests.sandbox.core import days_ago

#: an HTTP date no clock can reach: Python's date parsing raises ValueError on it
YEAR_99999 = {"Retry-After": "Fri, 31 Dec 99999 23:59:59 GMT"}


def five_platforms(sandbox, tmp_path):
    """One due token per platform, each with a file sink; ``{platform: (item, sink)}``."""
    sinks = tmp_path / "sinks"
    sinks.mkdir(exist_ok=True)
    found = {}
    for target in TARGETS:
        item = target.seed(sandbox)
        sink = sinks / target.platform
        sink.write_text(target.identity(sandbox)[0][1])
        sink.chmod(0o600)
        found[target.platform] = (dict(item, deliver=[file_sink(sink)]), sink, target)
    return found


@pytest.mark.parametrize("step", ["issue", "verify", "revoke"])
def test_an_unreadable_retry_after_fails_one_platform_of_five(sandbox, tmp_path, step):
    targets = five_platforms(sandbox, tmp_path)
    pulumi_item = targets["pulumi"][0]
    method, path = targets["pulumi"][2].requests[step]
    options = {"unless_credential": pulumi_item["params"]["api_token"]} if step == "verify" else {}
    sandbox.faults.add("status", platform="pulumi", method=method, path=path, status=429,
                       headers=YEAR_99999, times=None, **options)
    tokens = [item for item, sink, target in targets.values()]
    state, report = tmp_path / "state", tmp_path / "report"
    issued = issue_step(tokens, str(state), fail_fast=False)
    finished = finish_step(tokens, str(state), str(report), issued["rows"], issued["outcomes"], [])
    rows = dict((row["label"], row) for row in finished["rows"])
    error = rows["pulumi"]["error"]
    assert rows["pulumi"]["action"] == "failed", rows["pulumi"]
    assert "Pulumi Cloud" in error and method in error, error
    for platform in ("pactflow", "tfe", "cloudflare", "cloudtruth"):
        assert rows[platform]["action"] == "rotated", rows[platform]
        held = targets[platform][1].read_text().strip()
        assert sandbox.secrets.is_live(held), platform
    written = json.loads((report / "report.json").read_text())
    assert {row["label"]: row["action"] for row in written["tokens"]}["pulumi"] == "failed"
    # Pulumi's consumer holds a working secret whatever step failed.
    assert sandbox.secrets.is_live(targets["pulumi"][1].read_text().strip())


@pytest.mark.parametrize("step, method, where", [
    ("issue", "POST", "create"), ("verify", "GET", "verify"), ("revoke", "DELETE", "retire")])
def test_an_error_no_step_expects_fails_one_platform_of_five(sandbox, tmp_path, monkeypatch,
                                                             step, method, where):
    """An answer of a shape the adapter does not expect (here: the adapter raises what reading
    such an answer raises, right after the real request) fails its token only, naming the
    platform and the request it followed."""
    from ansible_collections.tokenops.tokens.plugins.module_utils._pulumi import (
        PulumiTokenAdapter,
    )
    real = getattr(PulumiTokenAdapter, where)

    def unexpected(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise KeyError("tokenValue")

    monkeypatch.setattr(PulumiTokenAdapter, where, unexpected)
    targets = five_platforms(sandbox, tmp_path)
    tokens = [item for item, sink, target in targets.values()]
    state, report = tmp_path / "state", tmp_path / "report"
    issued = issue_step(tokens, str(state), fail_fast=False)
    finished = finish_step(tokens, str(state), str(report), issued["rows"], issued["outcomes"], [])
    rows = dict((row["label"], row) for row in finished["rows"])
    error = rows["pulumi"]["error"]
    assert rows["pulumi"]["action"] == "failed", rows["pulumi"]
    assert error.startswith("Pulumi Cloud: an unexpected error after %s /api/" % method), error
    assert "KeyError: 'tokenValue'" in error
    for platform in ("pactflow", "tfe", "cloudflare", "cloudtruth"):
        assert rows[platform]["action"] == "rotated", rows[platform]
    assert json.loads((report / "report.json").read_text())["tokens"]
    monkeypatch.undo()
    # The next run finishes from the journal: one Pulumi token, its consumer's secret works.
    issued = issue_step(tokens, str(state), fail_fast=False)
    finish_step(tokens, str(state), str(report), issued["rows"], issued["outcomes"], [])
    assert len(targets["pulumi"][2].identity(sandbox)) == 1
    assert sandbox.secrets.is_live(targets["pulumi"][1].read_text().strip())


# -- a full state directory ----------------------------------------------------------------------

@pytest.fixture
def small_filesystem(tmp_path):
    """A 64 KiB tmpfs (sixteen 4 KiB pages), mounted for the test and unmounted after it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (a full state directory)")
    mountpoint = tmp_path / "small"
    mountpoint.mkdir(mode=0o700)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs",
                              str(mountpoint)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % mounted.stderr.strip())
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(directory, leave_pages):
    """Fill ``directory``'s file system but ``leave_pages`` pages."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    stats = os.statvfs(directory)
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave_pages * stats.f_bsize))
    return filler


def test_a_full_state_directory_mid_issue_names_the_file_and_the_rotations_left_open(
        sandbox, tmp_path, small_filesystem):
    pulumi, tfe = sandbox["pulumi"], sandbox["tfe"]
    old_id, old_secret = pulumi.add_personal_token("full", created=days_ago(120))
    team = tfe.add_team("full-team")
    legacy_id, legacy_secret = tfe.add_token(team, created_at=days_ago(120))
    state = small_filesystem / "state"
    state.mkdir(mode=0o700)
    tokens = [
        {"provider": "pulumi", "id": "full",
         "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                    "description": "full"}, "max_age": "90d",
         "deliver": [file_sink(tmp_path / "pulumi-sink")]},
        {"provider": "tfe", "id": "tfe-legacy",
         "params": {"api_url": tfe.url, "api_token": tfe.admin_token,
                    "organization": tfe.organization, "team": "full-team"},
         "max_age": "90d", "deliver": [file_sink(tmp_path / "tfe-sink")]},
    ]
    # Room for one journal (one page), not for the temporary file of its next version: the
    # first rotation's first record is written, every later write of the journal is refused.
    fill(small_filesystem, leave_pages=1)
    run = rotate(tmp_path, tokens, extra={
        "rotate_state_dir": str(state), "rotate_lock_path": str(tmp_path / "lock" / "r.lock"),
        "rotate_report_dir": str(tmp_path / "report"), "rotate_fail_fast": False})
    assert run.rc != 0
    journal = state / "journal.json"
    assert "No space left on device writing %s" % journal in run.output, run.output
    assert "the rotations left open are" in run.output
    rows = run.rows()
    assert rows, "no report was written"
    assert {row["action"] for row in rows.values()} == {"failed"}
    for row in rows.values():
        assert "No space left on device: %s" % journal in row["error"], row
    open_labels = [e["label"] for e in json.loads(journal.read_text())["entries"].values()]
    assert open_labels, "the journal holds no open rotation"
    for label in open_labels:
        assert "%s (" % label in run.output
    assert_no_leak(sandbox, run)

    # Space again: the next run finishes what is open; every consumer holds a working secret.
    (small_filesystem / "filler").unlink()
    again = rotate(tmp_path, tokens, name="again", extra={
        "rotate_state_dir": str(state), "rotate_lock_path": str(tmp_path / "lock" / "r.lock"),
        "rotate_report_dir": str(tmp_path / "report")})
    assert again.rc == 0, again.output
    for name in ("pulumi-sink", "tfe-sink"):
        assert sandbox.secrets.is_live((tmp_path / name).read_text().strip()), name
    live = [t for t in pulumi.tokens("personal") if t["description"] == "full"]
    assert len(live) == 1
    assert json.loads(journal.read_text())["entries"] == {}


def test_a_credential_with_a_zero_width_space_names_api_token_in_the_role(sandbox, tmp_path):
    """The role path of issue 23's zero-width space (the client check itself is the HTTP
    client's): the run fails naming the item and api_token, never the value, and sends nothing
    with it."""
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("zwsp", created=days_ago(120))
    bad = pulumi.admin_token[:8] + "\u200b" + pulumi.admin_token[8:]
    tokens = [{"provider": "pulumi", "id": "zwsp",
               "params": {"api_url": pulumi.url, "api_token": bad, "description": "zwsp"},
               "max_age": "90d", "deliver": [file_sink(tmp_path / "sink")]}]
    run = rotate(tmp_path, tokens)
    assert run.rc != 0
    assert "rotate_tokens[zwsp].params.api_token" in run.output, run.output
    assert "latin-1" not in run.output and "codec" not in run.output
    assert bad not in run.output and pulumi.admin_token not in run.output
    assert sandbox.log.select("pulumi") == []
    assert sandbox.secrets.is_live(old_secret)
    assert_no_leak(sandbox, run)
