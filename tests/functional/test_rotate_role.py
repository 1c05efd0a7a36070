"""The rotation role through real ansible-playbook against the sandbox (issue 8).

Each scenario groups its cases into few playbook runs; every run's output, report, journal and
sink directory is searched for every secret the sandbox ever issued.
"""
import json
import os
import pathlib
import stat
import subprocess
from dataclasses import dataclass, field

import yaml

import pytest

from tests.functional.harness import BIN, Run, ansible_env, leaked
from tests.sandbox.core import days_ago

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core


@dataclass
class Case:
    """One token of a scenario: its role item and what the test expects of it."""

    label: str
    item: dict
    old_secret: str | None
    due: bool
    overlaps: bool
    sinks: list = field(default_factory=list)


@dataclass
class Rotation(Run):
    report: dict | None = None
    report_md: str = ""
    journal: dict | None = None
    written: str = ""

    def rows(self):
        return {row["label"]: row for row in (self.report or {}).get("tokens", [])}


def role_playbook(tmp_path, tokens, *, fail_fast=False, extra=None):
    state, report = tmp_path / "state", tmp_path / "report"
    variables = {"rotate_tokens": tokens, "rotate_state_dir": str(state),
                 "rotate_report_dir": str(report), "rotate_fail_fast": fail_fast}
    variables.update(extra or {})
    vars_file = tmp_path / "rotate-vars.yml"
    vars_file.write_text(yaml.safe_dump(variables, sort_keys=False))
    vars_file.chmod(0o600)
    playbook = tmp_path / "rotate-play.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "rotate", "hosts": "localhost", "gather_facts": False, "connection": "local",
        "vars_files": [str(vars_file)], "roles": [{"role": "tokenops.tokens.rotate"}]}]))
    return playbook


def rotate(tmp_path, tokens, *, name="run", check=False, fail_fast=False, verbosity=0,
           extra=None, popen=False, env=None):
    """Run the role over ``tokens``; the state and report dirs are shared by every run of a test."""
    work = tmp_path / name
    work.mkdir(parents=True, exist_ok=True)
    playbook = role_playbook(tmp_path, tokens, fail_fast=fail_fast, extra=extra)
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)]
    if check:
        cmd.append("--check")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    env = ansible_env(work, env)
    if popen:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, cwd=work, start_new_session=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work, timeout=300,
                          check=False)
    return collect(tmp_path, work, proc.returncode, proc.stdout, proc.stderr)


def collect(tmp_path, work, rc, stdout, stderr):
    log = work / "ansible.log"
    run = Rotation(rc, stdout, stderr, log=log.read_text() if log.exists() else "")
    report_json = tmp_path / "report" / "report.json"
    if report_json.exists():
        run.report = json.loads(report_json.read_text())
        run.report_md = (tmp_path / "report" / "report.md").read_text()
    journal = tmp_path / "state" / "journal.json"
    if journal.exists():
        run.journal = json.loads(journal.read_text())
    run.written = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "state").rglob("*")
                            if p.is_file()) if (tmp_path / "state").exists() else ""
    return run


def assert_no_leak(sandbox, run, *extra_paths):
    texts = [run.output, run.report_md, json.dumps(run.report), json.dumps(run.journal), run.written]
    texts += [pathlib.Path(p).read_text(errors="replace") for p in extra_paths
              if pathlib.Path(p).exists()]
    assert leaked(sandbox, *texts) == []


def file_sink(path, **more):
    return {"type": "file", "path": str(path), **more}


# -- the five platforms ----------------------------------------------------------------------

def pulumi_cases(sandbox, sinks):
    pulumi = sandbox["pulumi"]
    conn = {"api_url": pulumi.url, "api_token": pulumi.admin_token}
    due_id, due_secret = pulumi.add_personal_token("rot-due", created=days_ago(120))
    fresh_id, fresh_secret = pulumi.add_personal_token("rot-fresh", created=days_ago(5))
    org_id, org_secret = pulumi.add_org_token("rot-org", created=days_ago(100))
    password = sinks / "vault-password"
    password.write_text("correct horse\n")
    return [
        Case("pulumi-due", {"provider": "pulumi", "id": "pulumi-due",
                            "params": dict(conn, description="rot-due"), "max_age": "90d",
                            "deliver": [file_sink(sinks / "pulumi-due.env", format="env")]},
             due_secret, True, True, [sinks / "pulumi-due.env"]),
        Case("pulumi-fresh", {"provider": "pulumi", "id": "pulumi-fresh",
                              "params": dict(conn, description="rot-fresh"), "max_age": "90d",
                              "deliver": [file_sink(sinks / "pulumi-fresh")]},
             fresh_secret, False, True, [sinks / "pulumi-fresh"]),
        Case("pulumi-org", {"provider": "pulumi", "id": "pulumi-org",
                            "params": dict(conn, kind="organization", organization="tokenops",
                                           name="rot-org"),
                            "max_age": "90d",
                            "deliver": [{"type": "vault_file", "path": str(sinks / "org.vault"),
                                         "vault_password_file": str(password)},
                                        file_sink(sinks / "org.json", format="json")]},
             org_secret, True, True, [sinks / "org.vault", sinks / "org.json"]),
    ]


def pactflow_cases(sandbox, sinks):
    pactflow = sandbox["pactflow"]
    conn = {"api_url": pactflow.url, "api_token": pactflow.admin_token}
    read_only = pactflow.token_by_type("read-only")
    # PactFlow reports no issue date: the first run rotates (age unknown), the re-run knows it.
    return [Case("pactflow-ro", {"provider": "pactflow", "id": "pactflow-ro",
                                 "params": dict(conn, type="read-only"), "max_age": "30d",
                                 "deliver": [file_sink(sinks / "pactflow-ro")]},
                 read_only["value"], True, False, [sinks / "pactflow-ro"])]


def tfe_cases(sandbox, sinks):
    tfe = sandbox["tfe"]
    conn = {"api_url": tfe.url, "api_token": tfe.admin_token, "organization": tfe.organization}
    team = tfe.add_team("rotators")
    legacy_id, legacy_secret = tfe.add_token(team, created_at=days_ago(120))
    fresh_id, fresh_secret = tfe.add_token(team, "ci-fresh", created_at=days_ago(3))
    return [
        Case("tfe-legacy", {"provider": "tfe", "id": "tfe-legacy",
                            "params": dict(conn, team="rotators"), "max_age": "90d",
                            "deliver": [file_sink(sinks / "tfe-legacy")]},
             legacy_secret, True, False, [sinks / "tfe-legacy"]),
        Case("tfe-fresh", {"provider": "tfe", "id": "tfe-fresh",
                           "params": dict(conn, team="rotators", description="ci-fresh"),
                           "max_age": "90d", "deliver": [file_sink(sinks / "tfe-fresh")]},
             fresh_secret, False, False, [sinks / "tfe-fresh"]),
    ]


def cloudflare_cases(sandbox, sinks):
    cloudflare = sandbox["cloudflare"]
    conn = {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}
    due_id, due_secret = cloudflare.add_token("rot-cf-due", issued_on=days_ago(120))
    fresh_id, fresh_secret = cloudflare.add_token("rot-cf-fresh", issued_on=days_ago(2))
    return [
        Case("cloudflare-due", {"provider": "cloudflare", "id": "cloudflare-due",
                                "params": dict(conn, name="rot-cf-due"), "max_age": "90d",
                                "deliver": [file_sink(sinks / "cloudflare-due")]},
             due_secret, True, False, [sinks / "cloudflare-due"]),
        Case("cloudflare-fresh", {"provider": "cloudflare", "id": "cloudflare-fresh",
                                  "params": dict(conn, name="rot-cf-fresh"), "max_age": "90d",
                                  "deliver": [file_sink(sinks / "cloudflare-fresh")]},
             fresh_secret, False, False, [sinks / "cloudflare-fresh"]),
    ]


def cloudtruth_cases(sandbox, sinks):
    cloudtruth = sandbox["cloudtruth"]
    conn = {"api_url": cloudtruth.url, "api_token": cloudtruth.admin_token}
    due_id, due_secret = cloudtruth.add_service_account("rot-ct-due", created_at=days_ago(120))
    fresh_id, fresh_secret = cloudtruth.add_service_account("rot-ct-fresh",
                                                            created_at=days_ago(4))
    return [
        Case("cloudtruth-due", {"provider": "cloudtruth", "id": "cloudtruth-due",
                                "params": dict(conn, name="rot-ct-due"), "max_age": "90d",
                                "deliver": [file_sink(sinks / "cloudtruth-due")]},
             due_secret, True, None, [sinks / "cloudtruth-due"]),
        Case("cloudtruth-fresh", {"provider": "cloudtruth", "id": "cloudtruth-fresh",
                                  "params": dict(conn, name="rot-ct-fresh"), "max_age": "90d",
                                  "deliver": [file_sink(sinks / "cloudtruth-fresh")]},
             fresh_secret, False, None, [sinks / "cloudtruth-fresh"]),
    ]


PLATFORM_CASES = [pulumi_cases, tfe_cases, pactflow_cases, cloudflare_cases, cloudtruth_cases]


def secret_in(sink):
    """The secret a sink holds, whatever its format."""
    sink = pathlib.Path(sink)
    text = sink.read_text()
    if sink.suffix == ".vault":
        password = sink.parent / "vault-password"
        text = subprocess.run([str(BIN / "ansible-vault"), "view", "--vault-password-file",
                               str(password), str(sink)], capture_output=True, text=True,
                              check=True).stdout
        # ansible-core 2.21's view ends what it shows with a newline of its own.
        text = text[:-1] if text.endswith("\n") and not text.endswith("\n\n") else text
    if sink.suffix == ".json":
        return json.loads(text)["secret"]
    if sink.suffix == ".env":
        name, value = text.strip().split("=", 1)
        assert name.endswith("_TOKEN") or name.endswith("_KEY"), name
        return value
    return text


def test_mixed_run_check_mode_then_rotate_then_nothing_due(sandbox, tmp_path):
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    cases = [case for build in PLATFORM_CASES for case in build(sandbox, sinks)]
    tokens = [case.item for case in cases]
    providers = {case.item["provider"] for case in cases}
    assert providers == {"pulumi", "tfe", "pactflow", "cloudflare", "cloudtruth"}

    # Check mode: the plan, and nothing changed on any platform or in any sink.
    sandbox.log.clear()
    run = rotate(tmp_path, tokens, name="check", check=True)
    assert run.rc == 0, run.output
    assert set(sandbox.log.methods()) == {"GET"}, "check mode sent a write"
    for case in cases:
        assert ("| %s |" % case.label) in run.stdout
        expected = "would rotate" if case.due else "not due"
        assert any(case.label in line and expected in line for line in run.stdout.splitlines()), \
            (case.label, expected)
        if case.old_secret:
            assert sandbox.secrets.is_live(case.old_secret), case.label
    assert list(sinks.iterdir()) == [sinks / "vault-password"], "check mode wrote a sink"
    assert not (tmp_path / "state").exists() and not (tmp_path / "report").exists()
    assert_no_leak(sandbox, run)

    # The real run: only the due tokens rotate; every sink holds a secret the sandbox accepts.
    sandbox.log.clear()
    run = rotate(tmp_path, tokens, name="apply")
    assert run.rc == 0, run.output
    rows = run.rows()
    for case in cases:
        row = rows[case.label]
        if not case.due:
            assert row["action"] == "not due", row
            assert sandbox.secrets.is_live(case.old_secret)
            assert not any(pathlib.Path(s).exists() for s in case.sinks)
            continue
        assert row["action"] == "rotated", row
        for sink in case.sinks:
            assert stat.S_IMODE(os.stat(sink).st_mode) == 0o600, sink
            new = secret_in(sink)
            assert new != case.old_secret and sandbox.secrets.is_live(new), (case.label, sink)
        # Overlapping platforms revoke the previous secret after delivery; in-place ones lost it
        # when the new one was issued. Either way it no longer works, except CloudTruth's: its
        # rekey keeps the previous key for an explicit window (an hour unless set), then it stops.
        if case.item["provider"] == "cloudtruth":
            assert sandbox.secrets.get(case.old_secret).revoked_at is not None
            assert "works until" in " ".join(row["notes"]), row
        else:
            assert not sandbox.secrets.is_live(case.old_secret), case.label
        # In place only where the platform cannot hold two secrets (issue 15).
        assert row["in_place"] is (case.label in ("tfe-legacy", "pactflow-ro")), row
        if row["in_place"]:
            assert "replaced in place" in " ".join(row["notes"]), row
    # Overlap: the previous pulumi token was deleted only after the new one existed and worked.
    pulumi_requests = [(e.method, e.path) for e in sandbox.log.select("pulumi")]
    created = pulumi_requests.index(("POST", "/api/user/tokens"))
    verified = pulumi_requests.index(("GET", "/api/user"), created)
    deleted = [i for i, (m, p) in enumerate(pulumi_requests) if m == "DELETE"
               and p.startswith("/api/user/tokens/")]
    assert deleted and deleted[0] > verified
    assert run.journal == {"entries": {}, "rotated": run.journal["rotated"], "version": 1}
    assert "| pulumi-due |" in run.report_md and "rotated" in run.report_md
    assert_no_leak(sandbox, run)
    delivered = {s: pathlib.Path(s).read_bytes() for c in cases for s in c.sinks
                 if pathlib.Path(s).exists()}

    # The re-run changes nothing: no write request, every sink as it was.
    sandbox.log.clear()
    run = rotate(tmp_path, tokens, name="rerun")
    assert run.rc == 0, run.output
    assert set(sandbox.log.methods()) == {"GET"}, sandbox.log.writes()
    assert {row["action"] for row in run.rows().values()} == {"not due"}, run.report_md
    for sink, content in delivered.items():
        assert pathlib.Path(sink).read_bytes() == content
    assert_no_leak(sandbox, run)


def test_failing_sink_and_failing_verification_keep_the_previous_secret(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    conn = {"api_url": pulumi.url, "api_token": pulumi.admin_token}
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    secrets = {label: pulumi.add_personal_token(label, created=days_ago(120))[1]
               for label in ("bad-verify", "bad-sink", "fine")}
    kept = sinks / "bad-sink-kept"
    kept.write_text("previous content")
    kept.chmod(0o600)
    (sinks / "not-a-dir").write_text("a file where a directory should be")

    def item(label, deliver):
        return {"provider": "pulumi", "id": label, "params": dict(conn, description=label),
                "max_age": "90d", "deliver": deliver}

    tokens = [item("bad-verify", [file_sink(sinks / "bad-verify")]),
              item("bad-sink", [file_sink(kept), file_sink(sinks / "not-a-dir" / "secret")]),
              item("fine", [file_sink(sinks / "fine")])]
    # The first check with a new secret (bad-verify's) is refused, and bad-verify does not ask
    # again (max_verify_wait: 0), so that one refusal counts.
    tokens[0]["params"]["max_verify_wait"] = 0
    sandbox.faults.add("status", platform="pulumi", method="GET", path="^/api/user$",
                       status=401, times=1)
    run = rotate(tmp_path, tokens, verbosity=4)
    assert run.rc != 0
    assert "Rotation failed for bad-verify, bad-sink" in run.output.replace("\n", " ")
    rows = run.rows()
    assert rows["bad-verify"]["action"] == "failed"
    assert "verification of the new secret failed" in rows["bad-verify"]["error"]
    assert rows["bad-sink"]["action"] == "failed"
    # Checked before issuing (issue 16): nothing was issued for it.
    assert "not-a-dir is not a directory" in rows["bad-sink"]["error"]
    assert "none was issued" in rows["bad-sink"]["error"]
    assert rows["fine"]["action"] == "rotated"
    for label in ("bad-verify", "bad-sink"):
        assert sandbox.secrets.is_live(secrets[label]), label
        # the unused replacement was deleted: one token with this description, the old one
        assert [t["description"] for t in pulumi.tokens("personal")].count(label) == 1
    assert not (sinks / "bad-verify").exists()
    assert kept.read_text() == "previous content"
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    assert not list(sinks.rglob(".*.tmp")), "a temporary file was left behind"
    assert sandbox.secrets.is_live((sinks / "fine").read_text())
    assert not sandbox.secrets.is_live(secrets["fine"])
    assert "bad-sink" in run.report_md and "is not a directory" in run.report_md
    assert run.journal["entries"] == {}
    assert_no_leak(sandbox, run)


def test_bad_items_fail_before_any_request(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    conn = {"api_url": pulumi.url, "api_token": pulumi.admin_token}
    sink = [file_sink(tmp_path / "s")]
    tokens = [
        {"provider": "pulumi", "id": "no-team", "params": dict(conn, kind="team",
                                                               organization="o", name="n"),
         "max_age": "90d", "deliver": sink},
        {"provider": "pulumi", "id": "bad-age", "params": dict(conn, description="x"),
         "max_age": "ninety days", "deliver": sink},
        {"provider": "pulumi", "id": "relative", "params": dict(conn, description="y"),
         "max_age": "9d", "deliver": [file_sink("relative/path")]},
        {"provider": "pulumi", "id": "bad-url", "params": dict(conn, description="z",
                                                               api_url="ftp://x"),
         "max_age": "9d", "deliver": sink},
        {"provider": "pulumi", "id": "state", "params": dict(conn, description="w", state="absent"),
         "max_age": "9d", "deliver": sink},
        {"provider": "pulumi", "id": "dotdot", "params": dict(conn, description="v"),
         "max_age": "9d", "deliver": [file_sink("/tmp/sinks/../../etc/cron.d/x")]},
        {"provider": "pulumi", "id": "mode", "params": dict(conn, description="u"),
         "max_age": "9d", "deliver": [file_sink(tmp_path / "m", mode="0999")]},
        {"provider": "pulumi", "id": "env-name", "params": dict(conn, description="t"),
         "max_age": "9d", "deliver": [file_sink(tmp_path / "e", format="env",
                                                variable="1 BAD")]},
        {"provider": "pulumi", "id": "typo", "params": dict(conn, descripton="s"),
         "max_age": "9d", "deliver": sink},
        {"provider": "pulumi", "id": "no-sink", "params": dict(conn, description="r"),
         "max_age": "9d", "deliver": []},
        {"provider": "pulumi", "id": "no-policy", "params": dict(conn, description="q"),
         "deliver": sink},
        {"provider": "pulumi", "id": "no-policy", "params": dict(conn, description="p"),
         "max_age": "9d", "deliver": sink},
    ]
    sandbox.log.clear()
    run = rotate(tmp_path, tokens)
    assert run.rc != 0
    assert sandbox.log.entries == []
    text = " ".join(run.output.split())
    for expected in ("rotate_tokens[no-team].params.team: required",
                     "rotate_tokens[bad-age].max_age:",
                     "rotate_tokens[relative].deliver[0].path: must be an absolute path",
                     "rotate_tokens[bad-url].params.api_url:",
                     "rotate_tokens[state].params.state: not allowed",
                     "rotate_tokens[dotdot].deliver[0].path: must not contain \"..\" segments",
                     "rotate_tokens[mode].deliver[0].mode:",
                     "rotate_tokens[env-name].deliver[0].variable:",
                     "rotate_tokens[typo].params",
                     "rotate_tokens[no-sink].deliver:",
                     "rotate_tokens[no-policy]"):
        assert expected in text, expected
    assert_no_leak(sandbox, run)


def test_a_cloudtruth_rekey_answer_without_the_key_fails_and_leaves_the_consumer_a_working_key(
        sandbox, tmp_path):
    """Issue 13: the rekey's answer may carry no key. The role reports the token as failed; the
    consumer's file still holds the previous key, which still works (the rekey sent an explicit
    future expire_at), and the next run does not shorten that window."""
    cloudtruth = sandbox["cloudtruth"]
    cloudtruth.rekey_returns_key = False
    conn = {"api_url": cloudtruth.url, "api_token": cloudtruth.admin_token}
    _account_id, consumer_key = cloudtruth.add_service_account("ct-keyless",
                                                               created_at=days_ago(120))
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    consumer = sinks / "ct-keyless"
    consumer.write_text(consumer_key)
    consumer.chmod(0o600)
    tokens = [{"provider": "cloudtruth", "id": "ct-keyless", "max_age": "90d",
               "params": dict(conn, name="ct-keyless"), "deliver": [file_sink(consumer)]}]
    run = rotate(tmp_path, tokens)
    assert run.rc != 0
    row = run.rows()["ct-keyless"]
    assert row["action"] == "failed", row
    assert "did not return the new key" in row["error"]
    assert consumer.read_text() == consumer_key
    assert sandbox.secrets.is_live(consumer_key)
    window_end = sandbox.secrets.get(consumer_key).revoked_at
    assert window_end is not None
    assert_no_leak(sandbox, run)

    run = rotate(tmp_path, tokens, name="again")
    assert consumer.read_text() == consumer_key and sandbox.secrets.is_live(consumer_key)
    assert sandbox.secrets.get(consumer_key).revoked_at == window_end
    assert_no_leak(sandbox, run)


def test_a_timestamp_the_role_cannot_read_makes_the_age_unknown_not_a_failure(sandbox, tmp_path):
    """Issue 13: Go's ``... +0000 UTC`` shape in Pulumi's ``created``: the run succeeds and the
    report says the age is unknown and why. As for any token of unknown age, the role rotates it
    once to start a known age (its journal), and the next run finds it not due."""
    pulumi = sandbox["pulumi"]
    pulumi.created_style = "go"
    _id, secret = pulumi.add_personal_token("go-time", created=days_ago(200))
    conn = {"api_url": pulumi.url, "api_token": pulumi.admin_token}
    tokens = [{"provider": "pulumi", "id": "go-time", "max_age": "90d",
               "params": dict(conn, description="go-time"),
               "deliver": [file_sink(tmp_path / "go-time")]}]
    run = rotate(tmp_path, tokens)
    assert run.rc == 0, run.output
    row = run.rows()["go-time"]
    assert row["action"] == "rotated" and row["reason"].startswith("age unknown"), row
    assert any("created_at is" in note and "+0000 UTC" in note for note in row["notes"]), row
    assert sandbox.secrets.is_live((tmp_path / "go-time").read_text())
    assert not sandbox.secrets.is_live(secret)
    assert_no_leak(sandbox, run)

    run = rotate(tmp_path, tokens, name="again")
    assert run.rc == 0, run.output
    row = run.rows()["go-time"]
    assert row["action"] == "not due" and "last rotation" in row["reason"], row
    assert any("created_at is" in note for note in row["notes"]), row
