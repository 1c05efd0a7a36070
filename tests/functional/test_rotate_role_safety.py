"""A rotation run that cannot strand a consumer (issue 16): sinks checked before issuing, file
ownership kept, lock and state files safe against other local users, journal records kept
apart per instance, inconclusive checks on in-place platforms, crashes.

Every case runs the role through real ansible-playbook against the sandbox, which knows every
secret it issued and so says which secrets work.
"""
import grp
import json
import os
import pwd
import signal
import stat
import time

import pytest

from tests.functional.test_rotate_role import assert_no_leak, file_sink, rotate
from tests.sandbox.core import days_ago

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core

NOBODY = pwd.getpwnam("nobody").pw_uid
NOGROUP = grp.getgrnam("nogroup").gr_gid


def cloudflare_item(sandbox, name, deliver, **more):
    cloudflare = sandbox["cloudflare"]
    return {"provider": "cloudflare", "id": name,
            "params": {"api_url": cloudflare.url, "api_token": cloudflare.admin_token,
                       "name": name}, "max_age": "90d", "deliver": deliver, **more}


def pulumi_item(sandbox, name, deliver, label=None):
    pulumi = sandbox["pulumi"]
    return {"provider": "pulumi", "id": label or name,
            "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                       "description": name}, "max_age": "90d", "deliver": deliver}


# -- sinks are checked before anything is issued ----------------------------------------------

def test_a_sink_that_cannot_take_the_secret_fails_before_any_write(sandbox, tmp_path):
    cloudflare = sandbox["cloudflare"]
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    old = {name: cloudflare.add_token(name, issued_on=days_ago(120))[1]
           for name in ("cf-vault", "cf-nodir")}
    for name, secret in old.items():
        (sinks / name).write_text(secret)
        (sinks / name).chmod(0o600)
    tokens = [
        cloudflare_item(sandbox, "cf-vault", [
            file_sink(sinks / "cf-vault"),
            {"type": "vault_file", "path": str(sinks / "cf-vault.vault"),
             "vault_password_file": str(tmp_path / "missing-password")}]),
        cloudflare_item(sandbox, "cf-nodir", [
            file_sink(sinks / "cf-nodir"), file_sink(tmp_path / "no-such-dir" / "secret")]),
    ]
    # Check mode says so in the plan.
    check = rotate(tmp_path, tokens, name="check", check=True)
    assert check.rc == 0, check.output
    assert check.stdout.count("will fail before issuing") == 2
    run = rotate(tmp_path, tokens)
    assert run.rc != 0
    rows = run.rows()
    assert "vault_password_file %s cannot be read" % (tmp_path / "missing-password") \
        in rows["cf-vault"]["error"]
    assert "vault_file:%s" % (sinks / "cf-vault.vault") in rows["cf-vault"]["error"]
    assert "the directory %s does not exist" % (tmp_path / "no-such-dir") \
        in rows["cf-nodir"]["error"]
    assert {row["action"] for row in rows.values()} == {"failed"}
    # No request that changes anything was sent; each consumer's secret still works.
    assert sandbox.log.writes("cloudflare") == []
    for name, secret in old.items():
        assert (sinks / name).read_text() == secret and sandbox.secrets.is_live(secret)
    assert_no_leak(sandbox, run)


# -- file sinks keep their owner, group and mode --------------------------------------------

def test_a_consumer_owned_sink_keeps_its_owner_group_and_mode(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    kept = consumer / "kept"
    old_id, old_secret = pulumi.add_personal_token("owned", created=days_ago(120))
    kept.write_text(old_secret)
    os.chown(kept, NOBODY, NOGROUP)
    kept.chmod(0o440)
    run = rotate(tmp_path, [pulumi_item(sandbox, "owned", [file_sink(kept)])])
    assert run.rc == 0, run.output
    info = os.stat(kept)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, NOGROUP, 0o440)
    assert sandbox.secrets.is_live(kept.read_text()) and not sandbox.secrets.is_live(old_secret)
    assert not list(consumer.glob(".*.tmp"))
    assert_no_leak(sandbox, run)


def test_a_sink_takes_owner_group_and_mode_as_copy_does(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    asked = consumer / "asked"
    pulumi.add_personal_token("asked", created=days_ago(120))
    run = rotate(tmp_path, [pulumi_item(sandbox, "asked", [
        file_sink(asked, owner="nobody", group=str(NOGROUP), mode="0640")])])
    assert run.rc == 0, run.output
    info = os.stat(asked)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, NOGROUP, 0o640)
    assert sandbox.secrets.is_live(asked.read_text())
    assert_no_leak(sandbox, run)


# -- lock and state files against other local users -----------------------------------------

def test_a_symlinked_lock_path_is_refused_and_its_target_untouched(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("locked", created=days_ago(120))
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)                      # like /tmp: anyone may create files here
    tokens = [pulumi_item(sandbox, "locked", [file_sink(tmp_path / "sink")])]
    # A directory other users can write is refused, sticky (issue 23) or not, before any
    # request, naming the directory, its owner and its mode.
    for mode in (0o1777, 0o777, 0o770):
        shared.chmod(mode)
        run = rotate(tmp_path, tokens, extra={"rotate_lock_path": str(shared / "rotate.lock")})
        assert run.rc != 0
        assert "rotate_lock_path: %s is owned by root, mode %04o" % (shared, mode) in run.output
    assert not (shared / "rotate.lock").exists()

    # In a private directory: a lock file that is a link, or another user's file, is refused.
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    (private / "rotate.lock").symlink_to(victim)
    run = rotate(tmp_path, tokens, extra={"rotate_lock_path": str(private / "rotate.lock")})
    assert run.rc != 0
    assert "%s is a symbolic link" % (private / "rotate.lock") in run.output
    assert victim.read_text() == "root's file\n"
    (private / "rotate.lock").unlink()
    (private / "rotate.lock").write_text("")
    os.chown(private / "rotate.lock", NOBODY, NOGROUP)
    run = rotate(tmp_path, tokens, extra={"rotate_lock_path": str(private / "rotate.lock")})
    assert run.rc != 0 and "it belongs to nobody" in run.output
    assert sandbox.log.writes() == [] and sandbox.secrets.is_live(old_secret)

    # A lock file of the run's own user in its own directory is fine.
    (private / "rotate.lock").unlink()
    run = rotate(tmp_path, tokens, extra={"rotate_lock_path": str(private / "rotate.lock")})
    assert run.rc == 0, run.output
    assert stat.S_IMODE(os.stat(private / "rotate.lock").st_mode) == 0o600


def test_under_umask_000_state_directories_are_0700_and_files_0600(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    pulumi.add_personal_token("umask", created=days_ago(120))
    base = tmp_path / "home"
    base.mkdir()
    state = base / "a" / "b" / "state"
    tokens = [pulumi_item(sandbox, "umask", [file_sink(tmp_path / "sink")])]
    previous = os.umask(0)
    try:
        run = rotate(tmp_path, tokens, extra={"rotate_state_dir": str(state),
                                              "rotate_report_dir": str(state / "report")})
    finally:
        os.umask(previous)
    assert run.rc == 0, run.output
    made = list(base.rglob("*"))
    assert {p.relative_to(base).as_posix() for p in made} >= {
        "a", "a/b", "a/b/state", "a/b/state/report", "a/b/state/journal.json",
        "a/b/state/rotate.lock", "a/b/state/report/report.json"}
    for path in made:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    assert stat.S_IMODE((tmp_path / "sink").stat().st_mode) == 0o600


def test_one_label_on_two_instances_keeps_two_journal_records(sandbox, tmp_path):
    from tests.sandbox import Sandbox
    staging = sandbox["pulumi"]
    staging_id, staging_secret = staging.add_personal_token("deploy", created=days_ago(120))
    with Sandbox() as other:
        production = other["pulumi"]
        prod_id, prod_secret = production.add_personal_token("deploy", created=days_ago(120))
        staging_tokens = [pulumi_item(sandbox, "deploy", [file_sink(tmp_path / "sink-staging")])]
        prod_tokens = [{"provider": "pulumi", "id": "deploy",
                        "params": {"api_url": production.url, "api_token": production.admin_token,
                                   "description": "deploy"},
                        "max_age": "90d", "deliver": [file_sink(tmp_path / "sink-production")]}]
        # Staging: every create's answer is lost, so its rotation stays open in the journal.
        sandbox.faults.add("lost_response", platform="pulumi", method="POST", times=None)
        run = rotate(tmp_path, staging_tokens, name="staging-lost")
        assert run.rc != 0
        assert len(run.journal["entries"]) == 1
        sandbox.faults.clear()

        # Production, same label, same state directory: its own token, rotated as usual.
        run = rotate(tmp_path, prod_tokens, name="production")
        assert run.rc == 0, run.output
        row = run.rows()["deploy"]
        assert row["action"] == "rotated" and "interrupted" not in json.dumps(row)
        assert production.token_by_id(prod_id) is None
        assert other.secrets.is_live((tmp_path / "sink-production").read_text())
        entries = list(run.journal["entries"].values())
        assert len(entries) == 1 and staging.url in json.dumps(run.journal)

        # Staging again: finishes its own rotation from its own record.
        run = rotate(tmp_path, staging_tokens, name="staging-again")
        assert run.rc == 0, run.output
        assert run.journal["entries"] == {}
        live = [t for t in staging.tokens("personal") if t["description"] == "deploy"]
        assert len(live) == 1
        assert sandbox.secrets.is_live((tmp_path / "sink-staging").read_text())
        assert not sandbox.secrets.is_live(staging_secret)
        assert_no_leak(sandbox, run)


# -- a killed run's surviving worker ---------------------------------------------------------

def test_tokens_named_by_their_credential_keep_a_journal_record_each(sandbox, tmp_path):
    # PactFlow names a token by the credential alone (type read-only of whoever api_token is),
    # and reports no issue date, so the journal is what makes the age known on the next run.
    pactflow = sandbox["pactflow"]
    tokens = []
    for name in ("ann", "bob", "cy"):
        user = pactflow.add_user(name)
        tokens.append({"provider": "pactflow", "id": "pactflow-" + name,
                       "params": {"api_url": pactflow.url, "type": "read-only",
                                  "api_token": pactflow.token_by_type("read-write",
                                                                      user)["value"]},
                       "max_age": "30d", "deliver": [file_sink(tmp_path / name)]})
    first = rotate(tmp_path, tokens, name="first")
    assert first.rc == 0, first.output
    assert {row["action"] for row in first.rows().values()} == {"rotated"}
    again = rotate(tmp_path, tokens, name="again")
    assert again.rc == 0, again.output
    assert {label: row["action"] for label, row in again.rows().items()} == {
        "pactflow-ann": "not due", "pactflow-bob": "not due", "pactflow-cy": "not due"}


def wait_for_step(journal, step, proc, seconds=60):
    """Until the journal shows ``step`` (written just before the request that issues)."""
    deadline = time.monotonic() + seconds
    while True:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the run never reached step %s" % step
        try:
            if step in json.dumps(json.loads(journal.read_text())["entries"]):
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)


def processes_running(text):
    """Pids of the processes whose command line holds ``text`` (a killed run's survivors)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                if text.encode() in handle.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def wait_until_gone(text, seconds=60):
    deadline = time.monotonic() + seconds
    while processes_running(text):
        assert time.monotonic() < deadline, "a process of the killed run never ended"
        time.sleep(0.1)


def test_a_process_group_killed_while_issuing_then_a_run_at_once_leaves_one_replacement(
        sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("killed", created=days_ago(120))
    sink = tmp_path / "sink"
    tokens = [pulumi_item(sandbox, "killed", [file_sink(sink)])]
    # The create is answered slowly: run 1 is killed (kill -9 -- -pgid) while it waits, between
    # issuing and delivering. ansible-core 2.21 started its worker in its own session, so the
    # worker lives on; run 2 starts at once.
    sandbox.faults.add("delay", platform="pulumi", method="POST", delay=6, times=1)
    first = rotate(tmp_path, tokens, name="killed", popen=True)
    wait_for_step(tmp_path / "state" / "journal.json", "issuing", first)
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate()
    survivors = processes_running(str(tmp_path / "rotate-play.yml"))
    second = rotate(tmp_path, tokens, name="at-once")
    assert second.rc == 0, second.output
    # Judge once the killed run's surviving worker has done whatever it was going to do.
    assert survivors, "no worker of the killed run survived: the case proves nothing"
    wait_until_gone(str(tmp_path / "rotate-play.yml"))
    live = [t for t in pulumi.tokens("personal") if t["description"] == "killed"]
    assert len(live) == 1, "%d tokens have the description: two replacements" % len(live)
    assert live[0]["id"] != old_id and not sandbox.secrets.is_live(old_secret)
    assert sink.read_text() == pulumi.secret_of(live[0]["id"])
    assert sandbox.secrets.is_live(sink.read_text())
    # Every later run converges: nothing due, only reads.
    sandbox.log.clear()
    later = rotate(tmp_path, tokens, name="later")
    assert later.rc == 0, later.output
    assert {row["action"] for row in later.rows().values()} == {"not due"}
    assert set(sandbox.log.methods()) == {"GET"}
    assert later.journal["entries"] == {}
    assert_no_leak(sandbox, second)


def test_a_run_killed_while_its_task_file_sink_runs_keeps_the_next_run_out_until_it_ends(
        sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    pulumi.add_personal_token("slow-sink", created=days_ago(120))
    sink, consumer, started, delay = (tmp_path / name for name in
                                      ("sink", "consumer", "started", "delay"))
    deliver = tmp_path / "deliver.yml"
    # The user's task pushes the secret to its consumer through a slow API. Run 1 is killed
    # (kill -9 -- -pgid) while the push is under way: its worker lives on in its own session and
    # will write run 1's secret 8 s later. Run 2, started at once, must not revoke that secret
    # underneath it: it waits until the worker is done, then rotates and pushes its own.
    deliver.write_text(json.dumps([{
        "name": "push the secret to the consumer (a slow API)",
        "ansible.builtin.shell": 'touch %s; sleep "$(cat %s)"; printf %%s "$S" > %s'
                                 % (started, delay, consumer),
        "environment": {"S": "{{ rotate_secret }}"}}]))
    delay.write_text("8")
    tokens = [pulumi_item(sandbox, "slow-sink", [file_sink(sink),
                                                 {"type": "tasks", "file": str(deliver)}])]
    first = rotate(tmp_path, tokens, name="killed", popen=True)
    deadline = time.monotonic() + 120
    while not started.exists():
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() < deadline, "run 1 never reached its task-file sink"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate()
    assert processes_running(str(tmp_path / "rotate-play.yml")), \
        "no worker of the killed run survived: the case proves nothing"
    delay.write_text("0")
    second = rotate(tmp_path, tokens, name="at-once")
    assert second.rc == 0, second.output
    wait_until_gone(str(tmp_path / "rotate-play.yml"))
    live = [t for t in pulumi.tokens("personal") if t["description"] == "slow-sink"]
    assert len(live) == 1, "%d tokens have the description" % len(live)
    assert sandbox.secrets.is_live(consumer.read_text()), \
        "the killed run's worker left the consumer a revoked secret"
    assert consumer.read_text() == sink.read_text() == pulumi.secret_of(live[0]["id"])
    assert_no_leak(sandbox, second)


# -- in place: a check that cannot conclude does not keep the new secret from the consumer ---

def test_an_inconclusive_check_in_place_delivers_and_says_not_verified(sandbox, tmp_path):
    tfe, cloudflare = sandbox["tfe"], sandbox["cloudflare"]
    team = tfe.add_team("legacy-team")
    legacy_id, legacy_secret = tfe.add_token(team, created_at=days_ago(120))
    roll_id, roll_secret = cloudflare.add_token("cf-roll", issued_on=days_ago(120))
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    tokens = [
        {"provider": "tfe", "id": "tfe-legacy",
         "params": {"api_url": tfe.url, "api_token": tfe.admin_token,
                    "organization": tfe.organization, "team": "legacy-team"},
         "max_age": "90d", "deliver": [file_sink(sinks / "tfe", format="env")]},
        cloudflare_item(sandbox, "cf-roll", [file_sink(sinks / "cloudflare", format="json")]),
    ]
    tokens[1]["params"]["max_retry_wait"] = 0.2
    tokens[1]["params"]["rotation"] = "roll"        # in place, as this test is about
    # The check of each new secret fails for a reason that says nothing about the secret.
    sandbox.faults.add("status", platform="tfe", method="GET", path=r"/account/details$",
                       status=404, times=None, unless_credential=tfe.admin_token)
    sandbox.faults.add("status", platform="cloudflare", method="GET",
                       path=r"/user/tokens/verify$", status=500, times=None,
                       unless_credential=cloudflare.admin_token)
    run = rotate(tmp_path, tokens)
    assert run.rc == 0, run.output
    rows = run.rows()
    held = {"tfe-legacy": (sinks / "tfe").read_text().split("=", 1)[1].strip(),
            "cf-roll": json.loads((sinks / "cloudflare").read_text())["secret"]}
    for label, old in (("tfe-legacy", legacy_secret), ("cf-roll", roll_secret)):
        assert rows[label]["action"] == "rotated"
        assert "delivered, not verified: the check failed" in " ".join(rows[label]["notes"])
        assert sandbox.secrets.is_live(held[label]), label
        assert not sandbox.secrets.is_live(old), label
    assert "delivered, not verified" in run.report_md
    assert {e["step"] for e in run.journal["entries"].values()} == {"unverified"}

    # The next run checks the delivered secrets again, and closes the records.
    sandbox.faults.clear()
    sandbox.log.clear()
    again = rotate(tmp_path, tokens, name="again")
    assert again.rc == 0, again.output
    for label, row in again.rows().items():
        assert row["action"] == "not due"
        assert "checked now: it works" in " ".join(row["notes"]), label
    assert again.journal["entries"] == {}
    assert set(sandbox.log.methods()) == {"GET"}
    assert_no_leak(sandbox, run)
    assert_no_leak(sandbox, again)
