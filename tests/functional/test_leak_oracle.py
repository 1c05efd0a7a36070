"""The leak oracle: every path of every module, under every way Ansible writes output, searched
for every secret the sandbox ever issued (admin credentials included). Expected: zero hits.

Each platform contributes a scenario (a list of tasks: check mode, create with --diff, no-op,
rotation, listing, a failure with a revoked credential, delete). All scenarios run in one
playbook per output setting, on a fresh sandbox each time.

The rotation role contributes one more (``SinkScenario``): it delivers to every sink type that
talks to a store or a CI service (``vault_kv`` by token and by AppRole, ``aws_secretsmanager`` as
a whole value and as a JSON field, ``github_secret`` of a repository, an environment and an
organization, ``tfe_variable`` of a workspace and a variable set) and to a task file that
copies the secret under ``--diff``, with one consumer check that passes and one that fails
(rolled back where the store keeps versions, not rolled back where it cannot be), on a platform
that keeps the previous secret and on one that replaces it in place. Beside the run's output, the
stores are searched: the OpenBao audit log (outside the KV data the secret belongs in), the Vault
metadata, the AWS descriptions and tags, moto's request log, the TFE variables' descriptions;
every store credential is searched for too. ``test_check_mode_and_diff_of_the_sinks_show_no_
secret`` runs the role with ``--check --diff`` once.
"""
import json
import pathlib

import ansible_runner
import pytest
import yaml

from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import make_sink

from tests.functional.harness import ansible_env, leaked, lift_credentials, run_playbook
from tests.sandbox.core import days_ago
from tests.stores import unique

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core

SCENARIOS = {}


def scenario(platform):
    def register(build):
        SCENARIOS[platform] = build
        return build
    return register


def step(name, module, args, **extra):
    return {"name": name, "tokenops.tokens." + module: args, "register": name.replace("-", "_"),
            **extra}


def paths_of(tasks):
    return len(tasks)


def revoked_secret(sandbox, label):
    """A secret the sandbox issued and then revoked: a wrong credential the oracle knows."""
    pulumi = sandbox["pulumi"]
    token_id, secret = pulumi.add_personal_token(label)
    pulumi.delete_token(token_id)
    return secret


@scenario("pulumi")
def pulumi_scenario(sandbox):
    pulumi = sandbox["pulumi"]
    auth = {"api_url": pulumi.url, "api_token": pulumi.admin_token}
    revoked = revoked_secret(sandbox, "pulumi-revoked")
    personal = {**auth, "description": "oracle"}
    org = {**auth, "kind": "organization", "organization": pulumi.org_name, "name": "oracle"}
    return [
        step("pulumi-check", "pulumi_token", personal, check_mode=True),
        step("pulumi-create", "pulumi_token", personal, diff=True),
        step("pulumi-noop", "pulumi_token", personal),
        step("pulumi-rotate", "pulumi_token", {**personal, "rotate": "always"}, diff=True),
        step("pulumi-org", "pulumi_token", {**org, "admin": True}),
        step("pulumi-org-rotate", "pulumi_token", {**org, "rotate": "always"}),
        step("pulumi-info", "pulumi_token_info", auth),
        step("pulumi-bad-credential", "pulumi_token", {**personal, "api_token": revoked},
             ignore_errors=True),
        step("pulumi-absent", "pulumi_token", {**personal, "state": "absent"}, diff=True),
    ]


@scenario("tfe")
def tfe_scenario(sandbox):
    tfe = sandbox["tfe"]
    auth = {"api_url": tfe.url, "api_token": tfe.admin_token, "organization": tfe.organization}
    team_id = tfe.add_team("oracle")
    tfe.add_token(team_id, description="unrelated")
    revoked = revoked_secret(sandbox, "tfe-revoked")
    described = {**auth, "team": "oracle", "description": "oracle"}
    legacy = {**auth, "team": "oracle"}
    return [
        step("tfe-check", "tfe_team_token", described, check_mode=True),
        step("tfe-create", "tfe_team_token", described, diff=True),
        step("tfe-noop", "tfe_team_token", described),
        step("tfe-rotate", "tfe_team_token", {**described, "rotate": "always"}, diff=True),
        step("tfe-legacy", "tfe_team_token", legacy),
        step("tfe-legacy-rotate", "tfe_team_token", {**legacy, "rotate": "always"}),
        step("tfe-info", "tfe_team_token_info", auth),
        step("tfe-bad-credential", "tfe_team_token", {**described, "api_token": revoked},
             ignore_errors=True),
        step("tfe-absent", "tfe_team_token", {**described, "state": "absent"}),
    ]


@scenario("pactflow")
def pactflow_scenario(sandbox):
    pactflow = sandbox["pactflow"]
    auth = {"api_url": pactflow.url, "api_token": pactflow.admin_token}   # the read-write token
    read_only = {**auth, "type": "read-only"}
    return [
        step("pactflow-check", "pactflow_token", dict(read_only, rotate="always"),
             check_mode=True),
        step("pactflow-import", "pactflow_token", read_only, diff=True),
        step("pactflow-rotate", "pactflow_token", dict(read_only, rotate="always"), diff=True),
        step("pactflow-info", "pactflow_token_info", auth),
        step("pactflow-bad-credential", "pactflow_token",
             dict(read_only, api_token=revoked_secret(sandbox, "pactflow-revoked")),
             ignore_errors=True),
        step("pactflow-self-refused", "pactflow_token", dict(auth, type="read-write",
                                                             rotate="always"),
             ignore_errors=True),
    ]


@scenario("cloudtruth")
def cloudtruth_scenario(sandbox):
    cloudtruth = sandbox["cloudtruth"]
    auth = {"api_url": cloudtruth.url, "api_token": cloudtruth.admin_token}
    account = {**auth, "name": "oracle-bot"}
    return [
        step("cloudtruth-check", "cloudtruth_service_account", account, check_mode=True),
        step("cloudtruth-create", "cloudtruth_service_account", dict(account, role="viewer"),
             diff=True),
        step("cloudtruth-noop", "cloudtruth_service_account", account),
        step("cloudtruth-update", "cloudtruth_service_account",
             dict(account, description="changed", role="contrib"), diff=True),
        step("cloudtruth-rekey-overlap", "cloudtruth_service_account",
             dict(account, rotate="always", keep_previous_for="1h")),
        step("cloudtruth-rekey", "cloudtruth_service_account", dict(account, rotate="always")),
        step("cloudtruth-info", "cloudtruth_service_account_info", auth),
        step("cloudtruth-bad-credential", "cloudtruth_service_account",
             dict(account, api_token=revoked_secret(sandbox, "cloudtruth-revoked")),
             ignore_errors=True),
        step("cloudtruth-absent", "cloudtruth_service_account", dict(account, state="absent"),
             diff=True),
    ]


@scenario("cloudflare")
def cloudflare_scenario(sandbox):
    cloudflare = sandbox["cloudflare"]
    auth = {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}
    zone_read = [{"permission_groups": ["Zone Read"],
                  "resources": {"com.cloudflare.api.account.zone.*": "*"}}]
    token = {**auth, "name": "oracle", "policies": zone_read,
             "condition": {"request_ip": {"in": ["192.0.2.0/24"]}}}
    return [
        step("cloudflare-check", "cloudflare_token", token, check_mode=True),
        step("cloudflare-create", "cloudflare_token", token, diff=True),
        step("cloudflare-noop", "cloudflare_token", token),
        step("cloudflare-update", "cloudflare_token", dict(token, status="disabled"), diff=True),
        step("cloudflare-roll", "cloudflare_token",
             dict(token, status="disabled", rotate="always")),
        step("cloudflare-info", "cloudflare_token_info", auth),
        step("cloudflare-bad-credential", "cloudflare_token",
             dict(token, api_token=revoked_secret(sandbox, "cloudflare-revoked")),
             ignore_errors=True),
        step("cloudflare-absent", "cloudflare_token", dict(token, state="absent"), diff=True),
    ]


class SinkScenario:
    """The rotation role delivering to the four store and CI sink types (see the module's
    docstring), set up in ``tmp_path`` against the sandbox, OpenBao and moto."""

    ORG = "tokenops"
    CHECK_PASSES = [{"name": "the consumer accepts the new secret",
                     "ansible.builtin.assert": {"that": ["rotate_secret | length > 10"]}}]
    CHECK_FAILS = [{"name": "terraform plan refuses the new secret",
                    "ansible.builtin.fail": {"msg": "the plan failed"}}]
    # A user's task-file sink: the secret copied into a file (its --diff would show it).
    COPY = [{"name": "copy the secret where the consumer reads it",
             "ansible.builtin.copy": {"content": "{{ rotate_secret }}\n",
                                      "dest": "{{ consumer_copy }}", "mode": "0600"}}]

    def __init__(self, sandbox, openbao, moto, tmp_path):
        self.sandbox, self.openbao, self.moto = sandbox, openbao, moto
        self.tmp_path = tmp_path
        tmp_path.mkdir(parents=True, exist_ok=True)
        pulumi, cloudflare, tfe = sandbox["pulumi"], sandbox["cloudflare"], sandbox["tfe"]
        github = sandbox["github"]
        github.add_repo(self.ORG + "/infra", environments=["production"])
        github.add_repo(self.ORG + "/app")
        tfe.add_workspace("oracle")
        tfe.add_varset("oracle-shared", workspaces=["oracle"])
        self.base = unique("oracle")
        self.paths = {label: "%s/%s" % (self.base, label)
                      for label in ("kept", "rolled", "in-place")}
        policy = openbao.writer_policy(list(self.paths.values()))
        self.vault_token = openbao.token([policy])
        self.role_id, self.secret_id = openbao.approle([policy])
        self.names = {label: unique("oracle-" + label) for label in self.paths}
        old = {
            "kept": pulumi.add_personal_token("oracle-kept", created=days_ago(120))[1],
            "rolled": cloudflare.add_token("oracle-rolled", issued_on=days_ago(120))[1],
            "in-place": tfe.add_token(tfe.add_team("oracle-legacy"),
                                      created_at=days_ago(120))[1],
        }
        aws = moto.client()
        aws.create_secret(Name=self.names["kept"], SecretString=json.dumps(
            {"token": old["kept"], "zone": "example.com"}))
        aws.create_secret(Name=self.names["rolled"], SecretString=old["rolled"])
        openbao.write(self.paths["rolled"], {"token": old["rolled"], "owner": "ops"})
        self.old = old
        checks = {}
        for name, tasks in (("passes", self.CHECK_PASSES), ("fails", self.CHECK_FAILS),
                            ("copy", self.COPY)):
            checks[name] = tmp_path / ("%s.yml" % name)
            checks[name].write_text(yaml.safe_dump(tasks, sort_keys=False))
        self.copy = tmp_path / "consumer-copy"
        gh = {"api_url": github.url, "token": github.admin_token}
        tf = {"api_url": tfe.url, "api_token": tfe.admin_token, "organization": tfe.organization}
        approle = {"type": "vault_kv", "url": openbao.url, "auth_method": "approle",
                   "role_id": self.role_id, "secret_id": self.secret_id}
        by_token = {"type": "vault_kv", "url": openbao.url, "token": self.vault_token}
        self.tokens = [
            {"provider": "pulumi", "id": "oracle-kept", "max_age": "90d",
             "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                        "description": "oracle-kept"},
             "deliver": [dict(approle, path=self.paths["kept"]),
                         moto.sink(self.names["kept"], key="token"),
                         dict(gh, type="github_secret", repository=self.ORG + "/infra",
                              key="PULUMI_ACCESS_TOKEN"),
                         dict(tf, type="tfe_variable", workspace="oracle",
                              key="PULUMI_ACCESS_TOKEN", description="oracle"),
                         {"type": "tasks", "file": str(checks["copy"])}],
             "check_tasks": str(checks["passes"])},
            {"provider": "cloudflare", "id": "oracle-rolled", "max_age": "90d",
             "params": {"api_url": cloudflare.url, "api_token": cloudflare.admin_token,
                        "name": "oracle-rolled"},
             "deliver": [dict(by_token, path=self.paths["rolled"]),
                         moto.sink(self.names["rolled"]),
                         dict(gh, type="github_secret", organization=self.ORG,
                              visibility="selected", selected_repositories=["infra", "app"],
                              key="CLOUDFLARE_API_TOKEN"),
                         dict(tf, type="tfe_variable", variable_set="oracle-shared",
                              key="CLOUDFLARE_API_TOKEN")],
             "check_tasks": str(checks["fails"])},
            {"provider": "tfe", "id": "oracle-in-place", "max_age": "90d",
             "params": {"api_url": tfe.url, "api_token": tfe.admin_token,
                        "organization": tfe.organization, "team": "oracle-legacy"},
             "deliver": [dict(by_token, path=self.paths["in-place"]),
                         moto.sink(self.names["in-place"]),
                         dict(gh, type="github_secret", repository=self.ORG + "/infra",
                              environment="production", key="TFE_TOKEN")],
             "check_tasks": str(checks["fails"])},
        ]
        self.credentials = [self.vault_token, self.role_id, self.secret_id, moto.SECRET_KEY]
        self.vars_file = tmp_path / "rotate-vars.yml"
        self.vars_file.write_text(yaml.safe_dump({
            "rotate_tokens": self.tokens, "rotate_state_dir": str(tmp_path / "state"),
            "rotate_report_dir": str(tmp_path / "report"), "consumer_copy": str(self.copy)}))
        self.vars_file.chmod(0o600)

    def tasks(self, **apply):
        """The role's run as tasks of the oracle's playbook: its variables loaded without a
        trace (credentials never in a playbook's text, which ansible-core quotes), and its
        failure (a failed consumer check fails the run) rescued so that the play carries on."""
        return [
            {"name": "load the rotation's variables", "no_log": True,
             "ansible.builtin.include_vars": {"file": str(self.vars_file)}},
            {"name": "rotate into the stores and CI", "block": [
                {"name": "rotate", "ansible.builtin.include_role": dict(
                    {"name": "tokenops.tokens.rotate"}, **({"apply": apply} if apply else {}))}],
             "rescue": [{"name": "the run failed, as a failed consumer check makes it",
                         "ansible.builtin.debug": {"msg": "rotation failed"}}]},
        ]

    def report(self):
        path = self.tmp_path / "report" / "report.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def check_ran(self):
        """The paths really happened: rotated into every sink, rolled back where it can be,
        reported as failed in place."""
        rows = {row["label"]: row for row in self.report().get("tokens", [])}
        assert rows["oracle-kept"]["action"] == "rotated", rows["oracle-kept"]
        rolled = rows["oracle-rolled"]
        assert rolled["action"] == "failed" and rolled["error"].startswith("rolled back: "), \
            rolled
        assert "not rolled back: github_secret" in rolled["error"]
        assert "tfe_variable" in rolled["error"].split("not rolled back: ")[1]
        assert rows["oracle-in-place"]["action"] == "failed"
        assert "nothing was rolled back" in rows["oracle-in-place"]["error"]
        held = self.openbao.read(self.paths["kept"])["token"]
        assert self.sandbox.secrets.is_live(held) and held != self.old["kept"]
        assert self.copy.read_text().strip() == held, "the task file did not copy the secret"
        assert self.openbao.read(self.paths["rolled"])["token"] == self.old["rolled"]

    def texts(self):
        """What the stores keep beside the secrets' values, and every file the run wrote (but
        the sinks')."""
        texts = [self.moto.server_log.read_text()]
        for path in self.paths.values():
            try:
                texts.append(json.dumps(self.openbao.metadata(path)))
            except Exception:  # noqa: BLE001 (no secret written there in this run)
                continue
        aws = self.moto.client()
        for name in self.names.values():
            try:
                about = aws.describe_secret(SecretId=name)
            except aws.exceptions.ResourceNotFoundException:
                continue        # check mode: not created
            texts.append(json.dumps([about.get("Description"), about.get("Tags"),
                                     about.get("Name")]))
        tfe = self.sandbox["tfe"]
        for key, holder in (("PULUMI_ACCESS_TOKEN", {"workspace": "oracle"}),
                            ("CLOUDFLARE_API_TOKEN", {"varset": "oracle-shared"})):
            found = tfe.variable(key, **holder) or {}
            texts.append(json.dumps({k: v for k, v in found.items() if k != "value"}))
        sinks = {self.copy}
        for path in (self.tmp_path / "state", self.tmp_path / "report"):
            texts += [p.read_text(errors="replace") for p in path.rglob("*")
                      if p.is_file() and p not in sinks]
        return texts

    def leaks(self, *outputs):
        """Every secret the sandbox issued, or a store credential, found anywhere but where it
        belongs."""
        known = list(self.sandbox.secrets.all_values())
        found = self.openbao.audit_leaks(known, allowed_data_paths={
            "secret/data/%s" % path for path in self.paths.values()})
        found += leaked(self.sandbox, *(list(outputs) + self.texts()), extra=self.credentials)
        audit = self.openbao.audit_log.read_text()
        found += ["a store credential in the audit log" for credential in self.credentials
                  if credential in audit]
        return found


# Ways Ansible writes output: (name, environment, verbosity). ANSIBLE_LOG_PATH is always set.
WIDE = pytest.mark.wide
OUTPUTS = [
    pytest.param("default", {}, 0, marks=WIDE, id="default"),
    pytest.param("default -vvvv", {}, 4, id="default -vvvv"),
    pytest.param("json results -vv", {"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}, 2, marks=WIDE,
                 id="json results -vv"),
    pytest.param("yaml results -vvvv", {"ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml"}, 4,
                 marks=WIDE, id="yaml results -vvvv"),
    pytest.param("minimal -v", {"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal"}, 1,
                 marks=WIDE, id="minimal -v"),
    pytest.param("oneline -vvv", {"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.oneline"}, 3,
                 id="oneline -vvv"),
]


def all_tasks(sandbox):
    tasks = []
    for build in SCENARIOS.values():
        tasks.extend(build(sandbox))
    return tasks


def check_scenarios_ran(run, tasks):
    """The oracle only means something if the paths really happened."""
    for task in tasks:
        if "register" not in task:
            continue        # the role's run: SinkScenario.check_ran
        name = task["register"]
        result = run[name]
        assert result is not None, name
        if task.get("ignore_errors"):
            assert result.get("failed"), "%s should have failed" % name
        else:
            assert not result.get("failed"), (name, result.get("msg"))
    issued = [run[t["register"]].get("secret") for t in tasks if "register" in t]
    assert sum(1 for secret in issued if secret) >= 3 * len(SCENARIOS)


@pytest.mark.parametrize("label,env,verbosity", OUTPUTS)
def test_no_secret_in_any_playbook_output(sandbox, openbao, moto, tmp_path, label, env,
                                          verbosity, capsys):
    sinks = SinkScenario(sandbox, openbao, moto, tmp_path / "sinks")
    tasks = all_tasks(sandbox) + sinks.tasks(diff=True)
    run = run_playbook(tmp_path, tasks, env=env, verbosity=verbosity)
    assert run.rc == 0, run.output
    check_scenarios_ran(run, tasks)
    sinks.check_ran()
    assert run.log, "ANSIBLE_LOG_PATH was not written"
    hits = sinks.leaks(run.output)
    with capsys.disabled():
        print("\nleak oracle [%s]: %d paths x 3 outputs (stdout, stderr, log) + the role into "
              "%d sinks and the stores, %d secrets searched, %d hits"
              % (label, paths_of(tasks), sum(len(t["deliver"]) for t in sinks.tokens),
                 len(sandbox.secrets.all_values()), len(hits)))
    assert hits == []


def test_check_mode_and_diff_of_the_sinks_show_no_secret(sandbox, openbao, moto, tmp_path):
    """``--check --diff``: the plan names every sink, nothing is written anywhere (no platform
    write, no new Vault version, no AWS secret created, no GitHub or TFE write), no secret
    shows."""
    sinks = SinkScenario(sandbox, openbao, moto, tmp_path / "sinks")
    versions = {label: openbao.metadata(path)["current_version"]
                for label, path in sinks.paths.items() if openbao.read(path)}
    existing = [sinks.names["kept"], sinks.names["rolled"]]
    stages = {name: moto.stages(name) for name in existing}
    sandbox.log.clear()
    run = run_playbook(tmp_path, sinks.tasks(), check=True, diff=True, verbosity=2)
    assert run.rc == 0, run.output
    assert "3 would rotate" in run.output, run.output
    for item in sinks.tokens:
        assert "would deliver to %s" % ", ".join(
            describe(sink) for sink in item["deliver"]) in run.output, item["id"]
    assert ("aws_secretsmanager:%s: the secret does not exist; a real run creates it, empty, "
            "before issuing" % sinks.names["in-place"]) in run.output
    assert sandbox.log.writes() == [], "check mode wrote to a platform, GitHub or TFE"
    assert {label: openbao.metadata(path)["current_version"]
            for label, path in sinks.paths.items() if label in versions} == versions
    assert {name: moto.stages(name) for name in stages} == stages
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        # absent: a real run creates it before issuing; check mode only says it would deliver
        moto.client().describe_secret(SecretId=sinks.names["in-place"])
    assert not sinks.copy.exists()
    assert sinks.leaks(run.output) == []


def describe(raw):
    """How the report names a sink (``Sink.describe``), from its options."""
    return make_sink(raw, "x", "x", "x", "X").describe()


def test_no_secret_in_ansible_runner_events_or_artifacts(sandbox, openbao, moto, tmp_path,
                                                         monkeypatch, capsys):
    monkeypatch.setenv("PATH", ansible_env(tmp_path)["PATH"])
    private = tmp_path / "runner"
    (private / "project").mkdir(parents=True)
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    sinks = SinkScenario(sandbox, openbao, moto, tmp_path / "sinks")
    tasks = all_tasks(sandbox) + sinks.tasks(diff=True)
    credentials = {}
    play = [{"hosts": "localhost", "gather_facts": False,
             "tasks": lift_credentials(tasks, credentials)}]
    (private / "project" / "main.yml").write_text(yaml.safe_dump(play))
    env = {k: v for k, v in ansible_env(tmp_path).items() if k.startswith("ANSIBLE_")}
    # Credentials arrive as extra vars, the way AWX injects them; the inputs in env/ are the
    # job's own, so only what the run wrote is searched.
    result = ansible_runner.run(private_data_dir=str(private), playbook="main.yml",
                                envvars=env, extravars=credentials, verbosity=4, quiet=True)
    assert result.status == "successful", result.stdout.read()
    events = list(result.events)
    done = [e for e in events if e.get("event") in ("runner_on_ok", "runner_on_failed")]
    modules = [e for e in done if (e.get("event_data") or {}).get("task") in
               set(t["name"] for t in tasks if "register" in t)]
    assert len(modules) == len([t for t in tasks if "register" in t]), \
        "every path must have run"
    sinks.check_ran()
    inputs = ("project", "inventory", "env")
    written = "\n".join(p.read_text(errors="replace") for p in pathlib.Path(private).rglob("*")
                        if p.is_file() and not set(inputs) & set(p.relative_to(private).parts))
    hits = sinks.leaks(written, repr(events))
    with capsys.disabled():
        print("\nleak oracle [ansible-runner]: %d paths x (%d events, artifacts), %d hits"
              % (paths_of(tasks), len(events), len(hits)))
    assert hits == []
