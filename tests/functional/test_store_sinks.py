"""Delivery to secret stores (issue 24): the role rotates tokens into HashiCorp Vault / OpenBao
KV version 2 (``vault_kv``) and AWS Secrets Manager (``aws_secretsmanager``), against a real
OpenBao server and moto's server mode (``tests/stores.py``, one of each per test session).

What consumers use reads the result back: hvac and AWX's HashiCorp Vault credential plugin
(``awx-plugins-core``) for Vault; boto3 by stage (and ``VersionIdsToStages``) for AWS. The
sandbox says which secrets work. Every run's output, report, journal and state directory, the
OpenBao audit log, the secrets' Vault metadata and AWS descriptions and tags are searched for
every secret the sandbox issued and every store credential.

The sinks are controller-side Python; the older ansible-core line runs the tests that go through
the role's tasks differently (the four platforms, the killed run, the consumer check under
ansible-runner), the newest line all of them (``wide``).
"""
import json
import os
import signal
import time

import pytest

from tests.functional.harness import leaked
from tests.functional.test_rotate_role import assert_no_leak, collect, rotate
from tests.sandbox.core import days_ago
from tests.stores import unique

from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_protocol import (
    IN_PLACE_CHECK_FAILED,
)


# -- what a test sets up ------------------------------------------------------------------------

def vault_sink(openbao, path, auth, key=None):
    """A ``vault_kv`` sink at ``secret/<path>``; ``auth`` is a token or ``(role_id, secret_id)``."""
    sink = {"type": "vault_kv", "url": openbao.url, "path": path}
    if isinstance(auth, tuple):
        sink.update(auth_method="approle", role_id=auth[0], secret_id=auth[1])
    else:
        sink.update(token=auth)
    if key:
        sink["key"] = key
    return sink


class Stores:
    """The store side of a test: Vault paths and AWS secrets, their credentials and readers."""

    def __init__(self, openbao, moto):
        self.openbao, self.moto = openbao, moto
        self.base = unique("ci")
        self.credentials = [moto.SECRET_KEY]

    def path(self, label):
        return "%s/%s" % (self.base, label)

    def vault_auth(self, labels, approle=False):
        policy = self.openbao.writer_policy([self.path(label) for label in labels])
        if approle:
            role_id, secret_id = self.openbao.approle([policy])
            self.credentials += [role_id, secret_id]
            return role_id, secret_id
        token = self.openbao.token([policy])
        self.credentials.append(token)
        return token

    def versions(self, label):
        """The current Vault version of a path (0: none)."""
        try:
            return self.openbao.metadata(self.path(label))["current_version"]
        except Exception:  # noqa: BLE001 (hvac's InvalidPath: no secret there)
            return 0

    def awx_vault_read(self, label, auth, key="token"):
        """What an AWX job's HashiCorp Vault Secret Lookup credential reads."""
        from awx_plugins.credentials import hashivault  # pylint: disable=import-outside-toplevel
        login = ({"role_id": auth[0], "secret_id": auth[1], "default_auth_path": "approle"}
                 if isinstance(auth, tuple) else {"token": auth})
        return hashivault.kv_backend(url=self.openbao.url, api_version="v2",
                                     secret_backend="secret", secret_path=self.path(label),
                                     secret_key=key, **login)

    def leaks(self, sandbox, aws_names, vault_labels):
        """Secrets or credentials in the audit log (outside the KV data they belong in), in the
        Vault metadata, in the AWS descriptions and tags, or in moto's request log."""
        known = list(sandbox.secrets.all_values())
        found = self.openbao.audit_leaks(
            known, allowed_data_paths={"secret/data/%s" % self.path(label)
                                       for label in vault_labels})
        texts = [self.moto.server_log.read_text()]
        for label in vault_labels:
            meta = self.openbao.metadata(self.path(label))
            texts.append(json.dumps(meta.get("custom_metadata")))
        for name in aws_names:
            about = self.moto.client().describe_secret(SecretId=name)
            texts.append(json.dumps([about.get("Description"), about.get("Tags")]))
        found += leaked(sandbox, *texts, extra=self.credentials)
        audit = self.openbao.audit_log.read_text()
        found += ["a store credential in the audit log" for credential in self.credentials
                  if credential in audit]
        return found


def pulumi_item(sandbox, label, deliver, **more):
    pulumi = sandbox["pulumi"]
    return {"provider": "pulumi", "id": label, "max_age": "90d", "deliver": deliver,
            "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                       "description": label}, **more}


# -- the four platforms into both stores ---------------------------------------------------------

def test_four_platforms_deliver_to_vault_and_aws_then_a_second_run_changes_nothing(
        sandbox, openbao, moto, tmp_path):
    pulumi, tfe, cloudflare, cloudtruth = (sandbox[name] for name in
                                           ("pulumi", "tfe", "cloudflare", "cloudtruth"))
    old = {
        "pulumi": pulumi.add_personal_token("stores-pulumi", created=days_ago(120)),
        "tfe": tfe.add_token(tfe.add_team("stores"), "stores-ci", created_at=days_ago(120)),
        "cloudflare": cloudflare.add_token("stores-cf", issued_on=days_ago(120)),
        "cloudtruth": cloudtruth.add_service_account("stores-ct", created_at=days_ago(120)),
    }
    stores = Stores(openbao, moto)
    labels = list(old)
    # Vault: pulumi's path holds its previous secret beside another field; the others are new.
    openbao.write(stores.path("pulumi"), {"token": old["pulumi"][1], "owner": "platform-team"})
    token = stores.vault_auth(labels)
    approle = stores.vault_auth(labels, approle=True)
    auth = {"pulumi": token, "tfe": approle, "cloudflare": token, "cloudtruth": approle}
    # AWS: a plain string (pulumi's exists, tfe's is absent and gets created) and a JSON field
    # beside other fields (cloudflare's, cloudtruth's).
    names = dict((label, unique(label)) for label in labels)
    aws = moto.client()
    aws.create_secret(Name=names["pulumi"], SecretString=old["pulumi"][1])
    aws.create_secret(Name=names["cloudflare"], SecretString=json.dumps(
        {"token": old["cloudflare"][1], "zone": "example.com"}))
    aws.create_secret(Name=names["cloudtruth"], SecretString=json.dumps(
        {"api_key": old["cloudtruth"][1], "environment": "production"}))
    aws_key = {"pulumi": None, "tfe": None, "cloudflare": "token", "cloudtruth": "api_key"}
    params = {
        "pulumi": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                   "description": "stores-pulumi"},
        "tfe": {"api_url": tfe.url, "api_token": tfe.admin_token,
                "organization": tfe.organization, "team": "stores", "description": "stores-ci"},
        "cloudflare": {"api_url": cloudflare.url, "api_token": cloudflare.admin_token,
                       "name": "stores-cf"},
        "cloudtruth": {"api_url": cloudtruth.url, "api_token": cloudtruth.admin_token,
                       "name": "stores-ct", "keep_previous_for": "5m"},
    }
    tokens = [{"provider": label, "id": label, "params": params[label], "max_age": "90d",
               "deliver": [vault_sink(openbao, stores.path(label), auth[label]),
                           moto.sink(names[label], **({"key": aws_key[label]}
                                                      if aws_key[label] else {}))]}
              for label in labels]
    before = {label: len(moto.stages(names[label]))
              for label in ("pulumi", "cloudflare", "cloudtruth")}

    run = rotate(tmp_path, tokens, name="apply")
    assert run.rc == 0, run.output
    rows = run.rows()
    delivered = {}
    for label in labels:
        row = rows[label]
        assert row["action"] == "rotated", row
        held = openbao.read(stores.path(label))["token"]
        delivered[label] = held
        # Every consumer path reads the new secret, and the platform accepts it.
        assert held != old[label][1] and sandbox.secrets.is_live(held), label
        assert stores.awx_vault_read(label, auth[label]) == held, label
        assert moto.current(names[label], aws_key[label]) == held, label
        stages = moto.stages(names[label])
        current = [v for v, s in stages.items() if "AWSCURRENT" in s]
        assert len(current) == 1
        if label != "tfe":
            assert len(stages) == before[label] + 1, "not one new version: %s" % stages
            assert [v for v, s in stages.items() if "AWSPREVIOUS" in s], "AWSPREVIOUS lost"
        # The previous token is revoked (CloudTruth: its window ends, here within 5 minutes).
        if label == "cloudtruth":
            assert sandbox.secrets.get(old[label][1]).revoked_at is not None
        else:
            assert not sandbox.secrets.is_live(old[label][1]), label
        custom = openbao.metadata(stores.path(label))["custom_metadata"]
        assert custom["tokenops_platform"] == label
        assert custom["tokenops_token_id"] == row["token_id"]
        assert custom["tokenops_rotated_at"] and custom["tokenops_expires_at"]
        assert row["delivered"] == ["vault_kv:%s/secret/%s#token" % (openbao.url,
                                                                     stores.path(label)),
                                    "aws_secretsmanager:%s%s" % (names[label], "#%s" % aws_key[
                                        label] if aws_key[label] else "")]
    # The other fields are untouched.
    assert openbao.read(stores.path("pulumi"))["owner"] == "platform-team"
    assert json.loads(aws.get_secret_value(SecretId=names["cloudflare"], VersionStage="AWSCURRENT")
                      ["SecretString"])["zone"] == "example.com"
    assert json.loads(aws.get_secret_value(SecretId=names["cloudtruth"], VersionStage="AWSCURRENT")
                      ["SecretString"])["environment"] == "production"
    assert_no_leak(sandbox, run)
    assert leaked(sandbox, run.output, run.report_md, run.written,
                  extra=stores.credentials) == []
    assert stores.leaks(sandbox, names.values(), labels) == []
    vault_versions = {label: stores.versions(label) for label in labels}
    aws_versions = {label: moto.stages(names[label]) for label in labels}

    # The second run changes nothing: not due, no platform write, no new store version.
    sandbox.log.clear()
    again = rotate(tmp_path, tokens, name="again")
    assert again.rc == 0, again.output
    assert {row["action"] for row in again.rows().values()} == {"not due"}, again.report_md
    assert set(sandbox.log.methods()) == {"GET"}, sandbox.log.writes()
    assert {label: stores.versions(label) for label in labels} == vault_versions
    assert {label: moto.stages(names[label]) for label in labels} == aws_versions

    # Someone puts a dead secret where Cloudflare's consumers read it: the next run reads the
    # stores back, finds it refused, and delivers a working one (the others stay untouched).
    moto.put_current(names["cloudflare"], json.dumps({"token": old["cloudflare"][1],
                                                      "zone": "example.com"}))
    third = rotate(tmp_path, tokens, name="third")
    assert third.rc == 0, third.output
    rows = third.rows()
    assert rows["cloudflare"]["action"] == "rotated", rows["cloudflare"]
    assert "refused by Cloudflare" in rows["cloudflare"]["reason"]
    assert sandbox.secrets.is_live(moto.current(names["cloudflare"], "token"))
    assert {row["action"] for label, row in rows.items() if label != "cloudflare"} == {"not due"}
    assert stores.leaks(sandbox, names.values(), labels) == []
    assert_no_leak(sandbox, third)


# -- a concurrent writer, a killed run -----------------------------------------------------------

def wait_until(what, proc, seconds=90):
    deadline = time.monotonic() + seconds
    while not what():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.05)


@pytest.mark.wide
def test_a_concurrent_vault_writer_fails_the_sink_and_nothing_is_revoked(
        sandbox, openbao, moto, tmp_path):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("contended", created=days_ago(120))
    stores = Stores(openbao, moto)
    openbao.write(stores.path("app"), {"token": old_secret})
    name = unique("contended")
    moto.client().create_secret(Name=name, SecretString=old_secret)
    # The AWS sink is written first, then Vault's check-and-set meets the other writer's version:
    # the AWS secret is put back too (a token's sinks take the new secret all or none).
    tokens = [pulumi_item(sandbox, "contended", [
        moto.sink(name), vault_sink(openbao, stores.path("app"), stores.vault_auth(["app"]))])]
    # The issuing request is answered slowly; meanwhile another writer updates the secret (after
    # the preflight read its version, before the sink writes).
    sandbox.faults.add("delay", platform="pulumi", method="POST", path=r"^/api/user/tokens$",
                       delay=3, times=1)
    proc = rotate(tmp_path, tokens, name="contended", popen=True)
    try:
        wait_until(lambda: sandbox.log.select("pulumi", "POST"), proc)
        openbao.write(stores.path("app"), {"token": old_secret, "rotated_by": "someone else"})
        output = proc.communicate(timeout=240)[0]
    finally:
        if proc.poll() is None:
            kill_run(proc)
    run = collect(tmp_path, tmp_path / "contended", proc.returncode, output, "")
    row = run.rows()["contended"]
    assert row["action"] == "failed", row
    assert "another writer; nothing was written" in row["error"], row["error"]
    assert "vault_kv:%s/secret/%s#token" % (openbao.url, stores.path("app")) in row["error"]
    assert "/api/user/tokens/%s" % old_id not in [
        e.path for e in sandbox.log.select("pulumi", "DELETE")], "the previous token was revoked"
    assert sandbox.secrets.is_live(old_secret)
    live = [t["id"] for t in pulumi.tokens("personal") if t["description"] == "contended"]
    assert live == [old_id], "the unused new token was not deleted"
    assert openbao.read(stores.path("app")) == {"token": old_secret, "rotated_by": "someone else"}
    assert moto.current(name) == old_secret, "the AWS secret was not put back"
    assert_no_leak(sandbox, run)

    # The next run converges: the other writer's field is kept beside the new secret.
    again = rotate(tmp_path, tokens, name="again")
    assert again.rc == 0, again.output
    new = openbao.read(stores.path("app"))
    assert new["rotated_by"] == "someone else" and sandbox.secrets.is_live(new["token"])
    assert moto.current(name) == new["token"] and not sandbox.secrets.is_live(old_secret)
    assert stores.leaks(sandbox, [name], ["app"]) == []


def descendants(pid):
    """Every process below ``pid`` (ansible-core 2.21 starts each worker in its own session, so
    a process group does not hold them all)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_run(proc):
    """SIGKILL the run's process group and every process it started."""
    below = descendants(proc.pid)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for pid in below:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.communicate(timeout=60)[0]


def test_a_run_killed_between_the_store_writes_and_the_revoke_is_finished_once(
        sandbox, openbao, moto, tmp_path):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("killed-stores", created=days_ago(120))
    stores = Stores(openbao, moto)
    openbao.write(stores.path("app"), {"token": old_secret, "owner": "ops"})
    name = unique("killed")
    moto.client().create_secret(Name=name, SecretString=json.dumps(
        {"token": old_secret, "region": "eu"}))
    auth = stores.vault_auth(["app"], approle=True)
    tokens = [pulumi_item(sandbox, "killed-stores", [
        vault_sink(openbao, stores.path("app"), auth), moto.sink(name, key="token")])]
    vault_before, aws_before = stores.versions("app"), len(moto.stages(name))
    # The revoke of the previous token hangs (then is dropped unanswered): the run is killed
    # while it waits, after both stores took the new secret.
    sandbox.faults.add("drop", platform="pulumi", method="DELETE",
                       path=r"^/api/user/tokens/%s$" % old_id, delay=60, times=1)
    proc = rotate(tmp_path, tokens, name="killed", popen=True)
    try:
        wait_until(lambda: sandbox.log.select("pulumi", "DELETE"), proc)
    finally:
        output = kill_run(proc)
    killed = collect(tmp_path, tmp_path / "killed", proc.returncode, output, "")
    assert [e["step"] for e in killed.journal["entries"].values()] == ["delivered"]
    new = openbao.read(stores.path("app"))["token"]
    assert stores.versions("app") == vault_before + 1
    assert len(moto.stages(name)) == aws_before + 1
    assert sandbox.secrets.is_live(old_secret) and sandbox.secrets.is_live(new)
    assert_no_leak(sandbox, killed)

    run = rotate(tmp_path, tokens, name="next")
    assert run.rc == 0, run.output
    row = run.rows()["killed-stores"]
    assert row["action"] == "not due" and "revoking it now" in " ".join(row["notes"]), row
    live = [t["id"] for t in pulumi.tokens("personal") if t["description"] == "killed-stores"]
    assert len(live) == 1 and pulumi.secret_of(live[0]) == new, "not one live token"
    assert not sandbox.secrets.is_live(old_secret)
    # One new version in each store: the run that finished wrote none.
    assert stores.versions("app") == vault_before + 1
    assert len(moto.stages(name)) == aws_before + 1, moto.stages(name)
    assert stores.awx_vault_read("app", auth) == new == moto.current(name, "token")
    assert openbao.read(stores.path("app"))["owner"] == "ops"
    assert run.journal["entries"] == {}
    assert_no_leak(sandbox, run)
    assert stores.leaks(sandbox, [name], ["app"]) == []


# -- the consumer check ---------------------------------------------------------------------------

FAILING_CHECK = """\
- name: The consumer reads the new secret from Vault
  ansible.builtin.uri:
    url: "{url}/v1/secret/data/{path}"
    headers:
      X-Vault-Token: "{token}"
  register: consumer
- name: Touch a marker (the check ran with the new secret)
  ansible.builtin.copy:
    content: "{{{{ (consumer.json.data.data.token == rotate_secret) | string }}}}"
    dest: "{marker}"
    mode: "0600"
- name: "{failing}"
  ansible.builtin.fail:
    msg: the plan failed
"""


def run_with_runner(tmp_path, tokens, name):
    """The rotation playbook through ansible-runner, as AWX runs a job; ``(status, texts)``:
    everything the job produced (events, artifacts), for the leak oracle."""
    import ansible_runner  # pylint: disable=import-outside-toplevel
    import pathlib  # pylint: disable=import-outside-toplevel
    import shutil  # pylint: disable=import-outside-toplevel
    from tests.functional.harness import ROOT, ansible_env  # pylint: disable=import-outside-toplevel
    private = tmp_path / ("runner-" + name)
    shutil.copytree(ROOT / "playbooks", private / "project")
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    state = tmp_path / "state"
    envvars = {k: v for k, v in ansible_env(tmp_path / name).items() if k.startswith("ANSIBLE_")}
    (tmp_path / name).mkdir(exist_ok=True)
    result = ansible_runner.run(
        private_data_dir=str(private), playbook="rotate.yml", envvars=envvars, quiet=True,
        verbosity=2, extravars={"rotate_state_dir": str(state),
                                "rotate_report_dir": str(tmp_path / "report"),
                                "rotate_tokens": tokens})
    events = json.dumps(list(result.events))
    inputs = {"project", "inventory", "env"}
    produced = [p for p in pathlib.Path(private).rglob("*") if p.is_file() and p.name != "command"
                if not inputs & set(p.relative_to(private).parts)]
    assert any("job_events" in p.parts for p in produced), "ansible-runner wrote no job events"
    texts = [events] + [p.read_text(errors="replace") for p in produced]
    return result.status, collect(tmp_path, tmp_path / name, 0, "\n".join(texts), "")


def test_a_failed_consumer_check_rolls_the_stores_back_and_keeps_the_previous_token(
        sandbox, openbao, moto, tmp_path, monkeypatch):
    from tests.functional.harness import ansible_env  # pylint: disable=import-outside-toplevel
    monkeypatch.setenv("PATH", ansible_env(tmp_path)["PATH"])     # runner finds ansible-playbook
    pulumi, tfe = sandbox["pulumi"], sandbox["tfe"]
    old_id, old_secret = pulumi.add_personal_token("checked", created=days_ago(120))
    team = tfe.add_team("checked-team")
    legacy_id, legacy_secret = tfe.add_token(team, created_at=days_ago(120))
    stores = Stores(openbao, moto)
    for label, secret in (("overlap", old_secret), ("in-place", legacy_secret)):
        openbao.write(stores.path(label), {"token": secret, "owner": "ops"})
    token = stores.vault_auth(["overlap", "in-place"])
    names = {"overlap": unique("checked"), "in-place": unique("legacy")}
    moto.client().create_secret(Name=names["overlap"], SecretString=old_secret)
    moto.client().create_secret(Name=names["in-place"], SecretString=legacy_secret)
    consumer = tmp_path / "consumer.env"
    consumer.write_text("PULUMI_ACCESS_TOKEN=%s\n" % old_secret)
    consumer.chmod(0o640)
    checks = {}
    for label in ("overlap", "in-place"):
        checks[label] = tmp_path / ("check-%s.yml" % label)
        failing = "terraform plan refuses the new credential"
        checks[label].write_text(FAILING_CHECK.format(
            url=openbao.url, path=stores.path(label), token=openbao.root_token,
            marker=tmp_path / ("checked-%s" % label), failing=failing))
    stores.credentials.append(openbao.root_token)
    tokens = [
        pulumi_item(sandbox, "checked", [
            vault_sink(openbao, stores.path("overlap"), token), moto.sink(names["overlap"]),
            {"type": "file", "path": str(consumer), "format": "env"}],
            check_tasks=str(checks["overlap"])),
        {"provider": "tfe", "id": "checked-legacy", "max_age": "90d",
         "params": {"api_url": tfe.url, "api_token": tfe.admin_token,
                    "organization": tfe.organization, "team": "checked-team"},
         "deliver": [vault_sink(openbao, stores.path("in-place"), token),
                     moto.sink(names["in-place"])],
         "check_tasks": str(checks["in-place"])},
    ]
    status, run = run_with_runner(tmp_path, tokens, "checked")
    assert status == "failed"           # the role fails the run, naming the failed tokens
    rows = run.rows()
    # The check ran with the new secret, as the consumer read it from Vault.
    assert (tmp_path / "checked-overlap").read_text() == "True"
    assert (tmp_path / "checked-in-place").read_text() == "True"

    # Overlap: both stores and the file hold the previous secret again; the previous token works,
    # the new one is gone; the report says rolled back.
    row = rows["checked"]
    assert row["action"] == "failed" and row["error"].startswith(
        'rolled back: the check task file %s failed at the task "terraform plan refuses the new '
        'credential". put back: ' % checks["overlap"]), row["error"]
    assert openbao.read(stores.path("overlap")) == {"token": old_secret, "owner": "ops"}
    assert stores.awx_vault_read("overlap", token) == old_secret
    assert moto.current(names["overlap"]) == old_secret
    assert consumer.read_text() == "PULUMI_ACCESS_TOKEN=%s\n" % old_secret
    assert oct(consumer.stat().st_mode & 0o777) == "0o640"
    assert sandbox.secrets.is_live(old_secret)
    live = [t["id"] for t in pulumi.tokens("personal") if t["description"] == "checked"]
    assert live == [old_id], "the new token was not deleted"
    assert row["token_id"] == old_id

    # In place: reported as failed, in the docs' words; nothing is rolled back over a dead secret.
    row = rows["checked-legacy"]
    assert row["action"] == "failed"
    assert row["error"] == IN_PLACE_CHECK_FAILED % (
        'the check task file %s failed at the task "terraform plan refuses the new credential"'
        % checks["in-place"], row["platform"]), row["error"]
    held = openbao.read(stores.path("in-place"))["token"]
    assert held != legacy_secret and sandbox.secrets.is_live(held)
    assert moto.current(names["in-place"]) == held
    assert not sandbox.secrets.is_live(legacy_secret)
    assert run.journal["entries"] == {}
    assert_no_leak(sandbox, run)
    assert leaked(sandbox, run.output, extra=stores.credentials) == [], \
        "a secret or a store credential is in ansible-runner's events or artifacts"
    assert stores.leaks(sandbox, names.values(), ["overlap", "in-place"]) == []


# -- broken stores fail before anything is issued -------------------------------------------------

@pytest.mark.wide
def test_broken_stores_and_bad_input_fail_before_any_platform_write(
        sandbox, openbao, moto, tmp_path):
    pulumi = sandbox["pulumi"]
    stores = Stores(openbao, moto)
    closed = __import__("tests.stores", fromlist=["free_port"]).free_port()
    reader = openbao.policy(unique("reader"), 'path "secret/data/%s" { capabilities = ["read"] }\n'
                                              'path "secret/metadata/%s" { capabilities = '
                                              '["read"] }' % (stores.path("denied"),
                                                              stores.path("denied")))
    role_id, _secret_id = stores.vault_auth(["approle"], approle=True)
    plain_name, absent_name = unique("plain"), unique("absent")
    moto.client().create_secret(Name=plain_name, SecretString="not json")
    # An identity that may read and write existing secrets, but not create one.
    access, secret = moto.user(["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                                "secretsmanager:PutSecretValue",
                                "secretsmanager:UpdateSecretVersionStage"])
    stores.credentials += [secret, openbao.token([reader])]
    limited = {"access_key": access, "secret_key": secret}
    cases = {
        "unreachable": (vault_sink(openbao, stores.path("a"), "hvs.x", ) | {
            "url": "http://127.0.0.1:%d" % closed}, "url: http://127.0.0.1:%d cannot be reached"
            % closed),
        "wrong-token": (vault_sink(openbao, stores.path("a"), "hvs.not-a-token"),
                        "token: Vault refused the token"),
        "missing-mount": (vault_sink(openbao, stores.path("a"), openbao.root_token) | {
            "engine_mount_point": "nomount"}, "engine_mount_point: no secrets engine is mounted "
                                              "at nomount"),
        "kv-version-1": (vault_sink(openbao, stores.path("a"), openbao.root_token) | {
            "engine_mount_point": "kv1"}, "the vault_kv sink needs KV version 2"),
        "denied-path": (vault_sink(openbao, stores.path("denied"), stores.credentials[-1]),
                        "path: this token may not write the secret: its policies lack create on "
                        "secret/data/%s" % stores.path("denied")),
        "wrong-secret-id": (vault_sink(openbao, stores.path("approle"), (role_id, "bad-secret")),
                            "role_id and secret_id: Vault refused the AppRole login"),
        "no-create": (moto.sink(absent_name, **limited),
                      "name: the secret does not exist, and creating it: this identity may not "
                      "do it (secretsmanager:CreateSecret)"),
        "not-json": (moto.sink(plain_name, key="token", **limited),
                     "key: the secret's current value is not a JSON object"),
    }
    old = {label: pulumi.add_personal_token(label, created=days_ago(120))[1] for label in cases}
    tokens = [pulumi_item(sandbox, label, [sink]) for label, (sink, why) in cases.items()]
    sandbox.log.clear()
    moto.enforce_iam(True)
    try:
        check = rotate(tmp_path, tokens, name="check", check=True)
        run = rotate(tmp_path, tokens, name="apply")
    finally:
        moto.enforce_iam(False)
    assert check.rc == 0, check.output
    assert run.rc != 0
    rows = run.rows()
    for label, (sink, why) in cases.items():
        described = "vault_kv:" if label not in ("no-create", "not-json") \
            else "aws_secretsmanager:"
        shown = [line for line in check.stdout.splitlines() if "| %s |" % label in line]
        assert shown and "will fail before issuing" in check.stdout, label
        row = rows[label]
        assert row["action"] == "failed", (label, row)
        assert row["error"].startswith("a sink cannot take a new secret, so none was issued"), row
        assert described in row["error"] and why in row["error"], (label, row["error"])
        assert sandbox.secrets.is_live(old[label])
    plan_notes = check.stdout + check.log
    assert "name: the secret does not exist" not in plan_notes, \
        "check mode tried to create the absent secret"
    assert sandbox.log.writes() == [], "a platform write before the sinks were checked"
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        moto.client().describe_secret(SecretId=absent_name)
    assert_no_leak(sandbox, check)
    assert_no_leak(sandbox, run)
    assert leaked(sandbox, run.output, check.output, extra=stores.credentials) == []


@pytest.mark.wide
def test_without_hvac_or_boto3_the_store_sinks_fail_with_the_missing_library_message(
        sandbox, openbao, moto, tmp_path):
    hidden = tmp_path / "hidden"
    for package in ("hvac", "boto3"):
        (hidden / package).mkdir(parents=True)
        (hidden / package / "__init__.py").write_text(
            "raise ImportError('%s is hidden for this test')\n" % package)
    stores = Stores(openbao, moto)
    tokens = []
    for label, sink in (("no-hvac", vault_sink(openbao, stores.path("x"), openbao.root_token)),
                        ("no-boto3", moto.sink(unique("x")))):
        sandbox["pulumi"].add_personal_token(label, created=days_ago(120))
        tokens.append(pulumi_item(sandbox, label, [sink]))
    sandbox.log.clear()
    run = rotate(tmp_path, tokens, env={"PYTHONPATH": str(hidden)})
    rows = run.rows()
    for label, library in (("no-hvac", "hvac"), ("no-boto3", "boto3")):
        error = rows[label]["error"]
        assert "none was issued" in error, error
        assert "Failed to import the required Python library (%s)" % library in error, error
    assert sandbox.log.writes() == []
    assert_no_leak(sandbox, run)
