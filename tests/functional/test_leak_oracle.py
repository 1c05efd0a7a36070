"""The leak oracle: every path of every module, under every way Ansible writes output, searched
for every secret the sandbox ever issued (admin credentials included). Expected: zero hits.

Each platform contributes a scenario (a list of tasks: check mode, create with --diff, no-op,
rotation, listing, a failure with a revoked credential, delete). All scenarios run in one
playbook per output setting, on a fresh sandbox each time.
"""
import pathlib

import ansible_runner
import pytest
import yaml

from tests.functional.harness import ansible_env, leaked, lift_credentials, run_playbook

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
        name = task["register"]
        result = run[name]
        assert result is not None, name
        if task.get("ignore_errors"):
            assert result.get("failed"), "%s should have failed" % name
        else:
            assert not result.get("failed"), (name, result.get("msg"))
    issued = [run[t["register"]].get("secret") for t in tasks]
    assert sum(1 for secret in issued if secret) >= 3 * len(SCENARIOS)


@pytest.mark.parametrize("label,env,verbosity", OUTPUTS)
def test_no_secret_in_any_playbook_output(sandbox, tmp_path, label, env, verbosity, capsys):
    tasks = all_tasks(sandbox)
    run = run_playbook(tmp_path, tasks, env=env, verbosity=verbosity)
    assert run.rc == 0, run.output
    check_scenarios_ran(run, tasks)
    assert run.log, "ANSIBLE_LOG_PATH was not written"
    hits = leaked(sandbox, run.output)
    with capsys.disabled():
        print("\nleak oracle [%s]: %d paths x 3 outputs (stdout, stderr, log), %d secrets "
              "searched, %d hits" % (label, paths_of(tasks), len(sandbox.secrets.all_values()),
                                     len(hits)))
    assert hits == []


def test_no_secret_in_ansible_runner_events_or_artifacts(sandbox, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", ansible_env(tmp_path)["PATH"])
    private = tmp_path / "runner"
    (private / "project").mkdir(parents=True)
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    tasks = all_tasks(sandbox)
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
    assert len(done) == len(tasks), "every path must have run"
    inputs = ("project", "inventory", "env")
    written = "\n".join(p.read_text(errors="replace") for p in pathlib.Path(private).rglob("*")
                        if p.is_file() and not set(inputs) & set(p.relative_to(private).parts))
    hits = leaked(sandbox, written, repr(events))
    with capsys.disabled():
        print("\nleak oracle [ansible-runner]: %d paths x (%d events, artifacts), %d hits"
              % (paths_of(tasks), len(events), len(hits)))
    assert hits == []
