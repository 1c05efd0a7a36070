"""The role's engine reads ``rotate_tokens`` itself and lists each scope once per run (issue 18).

The engine takes the list from the task's variables (``tokens_var``) rather than from its
arguments, templating only the strings that hold a template; these tests hold it to what
Ansible would have made of the whole list: Jinja in an item, a list that is itself a template,
an inline-vault credential. The request counts check that a run with work to do lists each
scope once (the plan is part of the issue step).
"""
import subprocess

import pytest
import yaml

from tests.functional.harness import BIN, ansible_env
from tests.functional.test_rotate_role import collect, assert_no_leak
from tests.sandbox.core import days_ago

PLAY = {"name": "rotate", "hosts": "localhost", "gather_facts": False, "connection": "local"}


def run(tmp_path, variables, *, vars_text="", include=False, extra_args=()):
    """The role over ``variables`` (plus raw YAML ``vars_text``, for ``!vault`` values)."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    variables = dict(variables, rotate_state_dir=str(tmp_path / "state"),
                     rotate_report_dir=str(tmp_path / "report"))
    vars_file = tmp_path / "vars.yml"
    vars_file.write_text(yaml.safe_dump(variables, sort_keys=False) + vars_text)
    vars_file.chmod(0o600)
    play = dict(PLAY, vars_files=[str(vars_file)])
    if include:
        play["tasks"] = [{"name": "rotate", "ansible.builtin.include_role": {
            "name": "tokenops.tokens.rotate", "rolespec_validate": False}}]
    else:
        play["roles"] = [{"role": "tokenops.tokens.rotate"}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([play]))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook),
                           *extra_args], capture_output=True, text=True, env=ansible_env(work),
                          cwd=work, timeout=300, check=False)
    return collect(tmp_path, work, proc.returncode, proc.stdout, proc.stderr)


def encrypted(tmp_path, value):
    """``value`` as an inline-vault YAML block, and the password file that opens it."""
    password = tmp_path / "vault-pass"
    password.write_text("correct horse battery staple\n")
    password.chmod(0o600)
    proc = subprocess.run([str(BIN / "ansible-vault"), "encrypt_string",
                           "--vault-password-file", str(password), "--stdin-name", "x"],
                          input=value, capture_output=True, text=True, check=True,
                          env=ansible_env(tmp_path))
    block = proc.stdout.split(":", 1)[1]
    return block, password


@pytest.mark.parametrize("whole_list_templated", [False, True])
def test_templates_in_the_list_are_templated_as_ansible_would(
        sandbox, tmp_path, whole_list_templated):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("web-deploy", created=days_ago(120))
    vault_block, password = encrypted(tmp_path, pulumi.admin_token)
    sink = tmp_path / "web.token"
    variables = {
        "team_prefix": "web",
        "pulumi_url": pulumi.url,
        # The item holds Jinja, its credential is inline vault, an option and a whole element
        # are omitted as Ansible users do; the list itself may be a template.
        "pulumi_items": [{"provider": "pulumi", "id": "{{ team_prefix }}-deploy",
                          "params": {"api_url": "{{ pulumi_url }}",
                                     "api_token": "{{ pulumi_admin_token }}",
                                     "description": "{{ team_prefix }}-deploy",
                                     "timeout": "{{ pulumi_timeout | default(omit) }}"},
                          "max_age": "90d",
                          "deliver": [{"type": "file", "path": str(sink)}]},
                         "{{ with_staging | default(false) | ternary({'id': 'stg'}, omit) }}"],
    }
    if whole_list_templated:
        variables["rotate_tokens"] = "{{ pulumi_items }}"
    else:
        variables["rotate_tokens"] = variables.pop("pulumi_items")
    result = run(tmp_path, variables, vars_text="pulumi_admin_token:" + vault_block,
                 extra_args=("--vault-password-file", str(password)))
    assert result.rc == 0, result.output
    [row] = result.report["tokens"]
    assert (row["label"], row["action"], row["previous_id"]) == ("web-deploy", "rotated", old_id)
    assert sandbox.secrets.is_live(sink.read_text().strip())
    assert not sandbox.secrets.is_live(old_secret)
    assert_no_leak(sandbox, result, sink.parent / "vars.yml")


def test_a_run_with_work_lists_each_scope_once(sandbox, tmp_path):
    pulumi, tfe, cloudflare = sandbox["pulumi"], sandbox["tfe"], sandbox["cloudflare"]
    items = []
    for index, age in enumerate((120, 10, 10)):
        pulumi.add_personal_token("p-%d" % index, created=days_ago(age))
        items.append({"provider": "pulumi", "id": "p-%d" % index, "max_age": "90d",
                      "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                                 "description": "p-%d" % index}})
    teams = [tfe.add_team("team-a"), tfe.add_team("team-b")]
    for index, age in enumerate((120, 10, 10, 10)):
        tfe.add_token(teams[index % 2], description="t-%d" % index, created_at=days_ago(age))
        items.append({"provider": "tfe", "id": "t-%d" % index, "max_age": "90d",
                      "params": {"api_url": tfe.url, "api_token": tfe.admin_token,
                                 "organization": tfe.organization,
                                 "team": "team-%s" % "ab"[index % 2],
                                 "description": "t-%d" % index}})
    for index, age in enumerate((120, 10)):
        cloudflare.add_token("c-%d" % index, issued_on=days_ago(age))
        items.append({"provider": "cloudflare", "id": "c-%d" % index, "max_age": "90d",
                      "params": {"api_url": cloudflare.url, "api_token": cloudflare.admin_token,
                                 "name": "c-%d" % index}})
    for item in items:
        item["deliver"] = [{"type": "file", "path": str(tmp_path / item["id"])}]
    sandbox.log.clear()
    result = run(tmp_path, {"rotate_tokens": items}, include=True)
    assert result.rc == 0, result.output
    assert result.report["summary"] == {"rotated": 3, "not due": 6}
    listings = {
        "pulumi": "/api/user/tokens",
        "tfe": "/api/v2/organizations/%s/team-tokens" % tfe.organization,
        "cloudflare": "/client/v4/user/tokens",
    }
    for platform, path in listings.items():
        # (a rotated Pulumi token is read back newest first to compare its power: not a lookup)
        reads = [e for e in sandbox.log.select(platform, "GET") if e.path == path
                 and "sortDirection=desc" not in e.query]
        assert len(reads) == 1, (platform, [(e.method, e.path, e.query) for e in reads])


def test_without_ansible_cores_role_check_a_bad_item_still_fails_before_any_request(
        sandbox, tmp_path):
    """``rolespec_validate: false`` (docs/rotation.md, large lists) skips ansible-core's check
    of the role's argument spec; the engine's own check still names the item and the option."""
    pulumi = sandbox["pulumi"]
    item = {"provider": "pulumi", "id": "bad", "max_age": "ninety days",
            "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                       "description": "bad"},
            "deliver": [{"type": "file", "path": str(tmp_path / "bad")}]}
    sandbox.log.clear()
    result = run(tmp_path, {"rotate_tokens": [item]}, include=True)
    assert result.rc != 0
    assert "rotate_tokens[bad].max_age" in result.output
    assert sandbox.log.select() == []
    assert_no_leak(sandbox, result)
