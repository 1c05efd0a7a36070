"""A result that carries a secret is hidden everywhere Ansible writes, and ``register`` still
receives it. The sandbox knows every secret it issued, so it is the oracle for leaks."""
import json
import pathlib

import ansible_runner
import pytest
import yaml

from tests.functional.harness import ansible_env, leaked, run_adhoc, run_playbook


def pulumi_task(sandbox, **args):
    platform = sandbox["pulumi"]
    return {"tokenops.tokens.pulumi_token": dict(api_url=platform.url,
                                                 api_token=platform.admin_token, **args)}


def issued_secrets(sandbox):
    admin = sandbox["pulumi"].admin_token
    return [s for s in sandbox.secrets.all_values() if s != admin]


@pytest.mark.parametrize("verbosity", [1, 4])
def test_playbook_hides_the_secret_and_register_receives_it(sandbox, tmp_path, verbosity):
    run = run_playbook(tmp_path, [
        {"name": "create", **pulumi_task(sandbox, description="hide-me"), "register": "created"},
        {"name": "show the metadata", "ansible.builtin.debug": {"var": "created.token"}},
    ], verbosity=verbosity, diff=True)
    assert run.rc == 0, run.output
    secret = run["created"]["secret"]
    assert secret in issued_secrets(sandbox) and sandbox.secrets.is_live(secret)
    assert "the output has been hidden" in run.stdout
    assert run["created"]["token"]["id"] in run.stdout, "the metadata should stay visible"
    assert leaked(sandbox, run.output) == []
    assert run.log, "ANSIBLE_LOG_PATH was not written"


def test_a_later_task_can_use_the_registered_secret(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    run = run_playbook(tmp_path, [
        {"name": "create", **pulumi_task(sandbox, description="pass-me-on"), "register": "created"},
        {"name": "list personal tokens with the new secret",
         "tokenops.tokens.pulumi_token_info": {"api_url": pulumi.url,
                                               "api_token": "{{ created.secret }}"},
         "register": "listed"},
    ])
    assert run.rc == 0, run.output
    assert "pass-me-on" in [t["description"] for t in run["listed"]["tokens"]]
    assert leaked(sandbox, run.output) == []


@pytest.mark.parametrize("verbosity", [0, 4])
def test_adhoc_hides_the_secret(sandbox, tmp_path, verbosity):
    pulumi = sandbox["pulumi"]
    before = set(issued_secrets(sandbox))
    # allow_secret_loss: without it (or secret_dest) an ad-hoc call that may issue a secret is
    # refused before any request (tests/functional/test_execution_paths.py)
    run = run_adhoc(tmp_path, "tokenops.tokens.pulumi_token",
                    {"description": "adhoc", "allow_secret_loss": True}, verbosity=verbosity,
                    env={"PULUMI_ACCESS_TOKEN": pulumi.admin_token,
                         "PULUMI_BACKEND_URL": pulumi.url})
    assert run.rc == 0, run.output
    assert len(set(issued_secrets(sandbox)) - before) == 1, "the module did not issue a secret"
    assert "the output has been hidden" in run.output
    assert "hid the result of" in run.output and "because it carries a secret" in run.output
    assert leaked(sandbox, run.output) == []


def test_ansible_runner_job_events_and_artifacts_hold_no_secret(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", ansible_env(tmp_path)["PATH"])  # runner looks up ansible-playbook
    private = tmp_path / "runner"
    (private / "project").mkdir(parents=True)
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    sink = tmp_path / "sink"
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "create", **pulumi_task(sandbox, description="runner"), "register": "created"},
        {"name": "deliver", "ansible.builtin.copy": {"content": "{{ created.secret }}",
                                                     "dest": str(sink), "mode": "0600"},
         "no_log": True},
    ]}]
    (private / "project" / "main.yml").write_text(yaml.safe_dump(play))
    env = {k: v for k, v in ansible_env(tmp_path).items() if k.startswith("ANSIBLE_")}
    result = ansible_runner.run(private_data_dir=str(private), playbook="main.yml",
                                envvars=env, verbosity=4, quiet=True)
    assert result.status == "successful", result.stdout.read()
    secret = sink.read_text()
    assert secret in issued_secrets(sandbox)
    events = list(result.events)
    assert any(e.get("event") == "runner_on_ok" for e in events)
    written = "\n".join(p.read_text(errors="replace")
                        for p in pathlib.Path(private).rglob("*") if p.is_file()
                        and "project" not in p.parts and "inventory" not in p.parts)
    assert written, "ansible-runner wrote no artifacts"
    assert leaked(sandbox, written, repr(events)) == []


def notice_of(run, task):
    """The collection's line for the hidden result of ``task``: on stderr, so that stdout holds
    only what the stdout callback prints."""
    prefix = "tokenops.tokens hid the result of %s because it carries a secret" % task
    lines = [line for line in run.stderr.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_the_hidden_result_is_named_at_default_verbosity(sandbox, tmp_path):
    """Which token was created or rotated, its expiry and where the secret is: at verbosity 0,
    without the secret."""
    run = run_playbook(tmp_path, [
        {"name": "create", **pulumi_task(sandbox, description="named", expires_in="30d"),
         "register": "created"},
        {"name": "rotate", **pulumi_task(sandbox, description="named", expires_in="30d",
                                         rotate="always"), "register": "renewed"},
    ])
    assert run.rc == 0, run.output
    created, renewed = run["created"]["token"], run["renewed"]["token"]
    line = notice_of(run, "create")
    assert f'Pulumi Cloud token {created["id"]} ("named", expires {created["expires_at"]}) ' \
           "created" in line
    assert "the secret is in the registered result created.secret" in line
    line = notice_of(run, "rotate")
    assert f'Pulumi Cloud token {renewed["id"]} ("named", expires {renewed["expires_at"]}) ' \
           f'rotated (previous token {created["id"]})' in line
    assert "renewed.secret" in line
    assert leaked(sandbox, run.output) == []


def test_an_adhoc_call_names_the_token_and_the_file_it_wrote(sandbox, tmp_path):
    cloudflare = sandbox["cloudflare"]
    dest = tmp_path / "cf-token"
    run = run_adhoc(tmp_path, "tokenops.tokens.cloudflare_token",
                    {"name": "adhoc-named", "secret_dest": str(dest), "policies": [
                        {"effect": "allow", "permission_groups": ["Zone Read"],
                         "resources": {"com.cloudflare.api.account.zone.*": "*"}}]},
                    env={"CLOUDFLARE_API_TOKEN": cloudflare.admin_token,
                         "CLOUDFLARE_BASE_URL": cloudflare.url})
    assert run.rc == 0, run.output
    token_id = [t.id for t in cloudflare._tokens.values() if t.name == "adhoc-named"][0]
    line = notice_of(run, "tokenops.tokens.cloudflare_token")
    assert f'Cloudflare token {token_id} ("adhoc-named", no expiry) created' in line
    assert f"the secret is in {dest} on the target" in line
    assert sandbox.secrets.is_live(dest.read_text().strip())
    assert leaked(sandbox, run.output) == []


CALLBACKS = pathlib.Path(__file__).resolve().parent / "callback_plugins"


def run_with_stdout_callback(sandbox, tmp_path, callback):
    env = {"ANSIBLE_STDOUT_CALLBACK": callback, "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS)}
    return run_playbook(tmp_path, [
        {"name": "create", **pulumi_task(sandbox, description="parsed"), "register": "created"},
    ], env=env)


def test_a_json_stdout_callback_prints_one_valid_document(sandbox, tmp_path):
    """ansible-playbook | jq: stdout holds only what the stdout callback prints. The line that
    says why a result is hidden goes to stderr (information, not a warning of the task); printed
    on stdout, it broke the document."""
    run = run_with_stdout_callback(sandbox, tmp_path, "json_document")
    assert run.rc == 0, run.output
    document = json.loads(run.stdout)
    [created] = [t["hosts"]["localhost"] for t in document["tasks"] if t["task"] == "create"]
    assert "censored" in created and "secret" not in created
    assert notice_of(run, "create")
    assert "[WARNING]" not in run.stderr, run.stderr
    assert leaked(sandbox, run.output) == []


@pytest.mark.parametrize("callback", ["ansible.builtin.oneline", "ansible.builtin.minimal"])
def test_line_oriented_callbacks_keep_stdout_to_their_own_lines(sandbox, tmp_path, callback):
    """oneline prints one line per result and minimal one block per result: the notice is
    not a line of theirs on stdout, and stays visible on stderr."""
    run = run_with_stdout_callback(sandbox, tmp_path, callback)
    assert run.rc == 0, run.output
    assert "hid the result of create" not in run.stdout
    if callback.endswith("oneline"):
        assert all(line.startswith("localhost | ") for line in run.stdout.splitlines()
                   if line.strip()), run.stdout
    assert notice_of(run, "create")
    assert leaked(sandbox, run.output) == []
