"""Credentials in loop items and on the ad-hoc command line (issue 23, item 9).

ansible-core shows a loop item with every result (item label, the result's loop variable,
ansible-runner events) and quotes an ad-hoc task's arguments when it fails, out of reach of an
option's ``no_log``. The collection hides a result whose ``api_token`` came from the loop item and
warns about a credential on the command line; the last tests pin what ansible-core itself does,
so that a release that changes it is noticed (and README.md's "Secrets" updated).
"""
import json
import pathlib
import subprocess

import pytest

import ansible_runner
import yaml

from tests.functional.harness import BIN, ansible_env, leaked, run_playbook

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core

BAD = "pul-" + "0" * 40           # a credential the sandbox never issued: refused with 401


def loop_task(pulumi, **more):
    return dict({"name": "list every account's tokens",
                 "tokenops.tokens.pulumi_token_info": {"api_url": pulumi.url,
                                                       "api_token": "{{ item.token }}",
                                                       "max_retry_wait": 0},
                 "loop": "{{ accounts }}", "register": "listed", "ignore_errors": True}, **more)


def accounts(pulumi):
    return [{"name": "good", "token": pulumi.admin_token}, {"name": "bad", "token": BAD}]


def test_an_api_token_from_a_loop_item_is_hidden(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    pulumi.add_personal_token("listed")
    for verbosity in (0, 3):
        run = run_playbook(tmp_path / str(verbosity), [loop_task(pulumi)], verbosity=verbosity,
                           extra_vars={"accounts": accounts(pulumi)})
        assert run.rc == 0, run.output
        assert leaked(sandbox, run.output, extra=[BAD]) == []
        assert run.stdout.count("(item=(censored due to no_log))") == 2
        assert run.output.count("its api_token comes from the loop item") >= 2
        # The failure of the second item stays visible, as a warning, without its credential.
        assert "The hidden result failed: Pulumi Cloud: GET /api/user" in run.output
        first, second = run["listed"]["results"]
        assert first["tokens"] and not first.get("failed")   # register keeps the results
        assert second["failed"]


def test_an_api_token_from_a_loop_item_is_hidden_from_ansible_runner(sandbox, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setenv("PATH", ansible_env(tmp_path)["PATH"])
    pulumi = sandbox["pulumi"]
    private = tmp_path / "runner"
    (private / "project").mkdir(parents=True)
    (private / "project" / "loop.yml").write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "connection": "local",
        "tasks": [loop_task(pulumi)]}]))
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    envvars = {k: v for k, v in ansible_env(tmp_path).items() if k.startswith("ANSIBLE_")}
    result = ansible_runner.run(private_data_dir=str(private), playbook="loop.yml",
                                envvars=envvars, extravars={"accounts": accounts(pulumi)},
                                verbosity=3, quiet=True)
    assert result.status == "successful", result.stdout.read()
    events = list(result.events)
    assert any(e.get("event") == "runner_item_on_ok" for e in events)
    produced = [p for p in pathlib.Path(private).rglob("*") if p.is_file()
                and not {"project", "inventory", "env"} & set(p.relative_to(private).parts)
                and p.name != "command"]
    artifacts = "\n".join(p.read_text(errors="replace") for p in produced)
    assert leaked(sandbox, json.dumps(events), artifacts, extra=[BAD]) == []


def test_a_credential_on_the_ad_hoc_command_line_is_warned_about(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    env = ansible_env(tmp_path, {"PULUMI_BACKEND_URL": pulumi.url})
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
                           "-m", "tokenops.tokens.pulumi_token_info",
                           "-a", "api_token=%s" % pulumi.admin_token],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "api_token is given on the ad-hoc command line" in proc.stderr
    assert "PULUMI_ACCESS_TOKEN environment variable" in proc.stderr
    assert leaked(sandbox, proc.stdout + proc.stderr) == []
    # From the environment: no warning.
    env["PULUMI_ACCESS_TOKEN"] = pulumi.admin_token
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
                           "-m", "tokenops.tokens.pulumi_token_info"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
                          check=False)
    assert proc.returncode == 0 and "ad-hoc command line" not in proc.stderr


# -- what ansible-core does on its own (pinned) ------------------------------------------------

def test_pin_ansible_core_quotes_ad_hoc_arguments_when_a_task_fails(sandbox, tmp_path):
    """ansible-core's "Origin:" block quotes the first 120 characters of an ad-hoc task's
    arguments, no_log options included. If this fails, ansible-core changed: update README.md
    ("Secrets") and the collection's warning (plugin_utils/_secret_action.py)."""
    cloudflare = sandbox["cloudflare"]
    sandbox.faults.add("status", platform="cloudflare", status=500, times=None)
    short = cloudflare.admin_token[:12]
    env = ansible_env(tmp_path, {"CLOUDFLARE_BASE_URL": cloudflare.url})
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
                           "-m", "tokenops.tokens.cloudflare_token_info",
                           "-a", "api_token=%s max_retry_wait=0" % short],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
                          check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "Origin: <adhoc 'tokenops.tokens.cloudflare_token_info' task>" in output, output
    assert "'api_token': '%s'" % short in output, output


def test_pin_ansible_core_shows_loop_items_as_labels(tmp_path):
    """ansible-core shows a loop item as the item label unless loop_control.label says what to
    show. If this fails, ansible-core changed: update README.md ("Secrets") and
    plugin_utils/_secret_action.py."""
    marker = "not-a-secret-marker-7f3a"
    tasks = [{"name": "no label", "ansible.builtin.debug": {"msg": "hello"},
              "loop": [{"credential": marker}]},
             {"name": "with a label", "ansible.builtin.debug": {"msg": "hello"},
              "loop": [{"credential": marker}], "loop_control": {"label": "named"}}]
    run = run_playbook(tmp_path, tasks, verbosity=1)
    assert run.rc == 0, run.output
    assert "(item={'credential': '%s'})" % marker in run.stdout
    assert "(item=named)" in run.stdout
    assert run.stdout.count(marker) == 1
