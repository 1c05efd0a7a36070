"""The rotation role delivering to CI: GitHub Actions secrets and TFE variables (issue 25).

Real ansible-playbook against the sandbox: the GitHub stand-in opens what the sink sealed (its
plaintext is the oracle), the TFE sandbox keeps the value a sensitive read hides.
"""
import os
import signal
import time

import pytest

from tests.functional.test_rotate_role import assert_no_leak, rotate
from tests.sandbox.core import days_ago

ORG = "tokenops"


def github_sinks(github, key, repo, other):
    conn = {"api_url": github.url, "token": github.admin_token}
    return [
        dict(conn, type="github_secret", repository=repo, key=key),
        dict(conn, type="github_secret", repository=repo, environment="production", key=key),
        dict(conn, type="github_secret", organization=ORG, key=key, visibility="selected",
             selected_repositories=[repo.split("/")[1], other]),
    ]


def tfe_sinks(tfe, key):
    conn = {"api_url": tfe.url, "api_token": tfe.admin_token, "organization": tfe.organization}
    return [dict(conn, type="tfe_variable", workspace="prod", key=key),
            dict(conn, type="tfe_variable", variable_set="shared", key=key,
                 description="rotated by tokenops")]


@pytest.fixture
def estate(sandbox):
    """A Cloudflare and a Pulumi token for GitHub, a TFE and a Cloudflare token for TFE."""
    github, tfe = sandbox["github"], sandbox["tfe"]
    cloudflare, pulumi = sandbox["cloudflare"], sandbox["pulumi"]
    github.add_repo(f"{ORG}/infra", environments=["production"])
    github.add_repo(f"{ORG}/app", private=False)
    tfe.add_workspace("prod")
    tfe.add_varset("shared", workspaces=["prod"])
    tfe.add_variable("CLOUDFLARE_API_TOKEN", "stale", varset="shared")
    team = tfe.add_team("deployers")
    old = {
        "cf-gh": cloudflare.add_token("cf-gh", issued_on=days_ago(120))[1],
        "pulumi-gh": pulumi.add_personal_token("pulumi-gh", created=days_ago(120))[1],
        "tfe-tfe": tfe.add_token(team, "deploy", created_at=days_ago(120))[1],
        "cf-tfe": cloudflare.add_token("cf-tfe", issued_on=days_ago(120))[1],
    }
    cf = {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}
    items = [
        {"provider": "cloudflare", "id": "cf-gh", "params": dict(cf, name="cf-gh"),
         "max_age": "90d",
         "deliver": github_sinks(github, "CLOUDFLARE_API_TOKEN", f"{ORG}/infra", f"{ORG}/app")},
        {"provider": "pulumi", "id": "pulumi-gh",
         "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                    "description": "pulumi-gh"},
         "max_age": "90d",
         "deliver": github_sinks(github, "PULUMI_ACCESS_TOKEN", f"{ORG}/infra", f"{ORG}/app")},
        {"provider": "tfe", "id": "tfe-tfe",
         "params": {"api_url": tfe.url, "api_token": tfe.admin_token,
                    "organization": tfe.organization, "team": "deployers",
                    "description": "deploy"},
         "max_age": "90d", "deliver": tfe_sinks(tfe, "TFE_TOKEN")},
        {"provider": "cloudflare", "id": "cf-tfe", "params": dict(cf, name="cf-tfe"),
         "max_age": "90d", "deliver": tfe_sinks(tfe, "CLOUDFLARE_API_TOKEN")},
    ]
    return items, old


def github_values(github, key):
    return {github.secret_value(key, repository=f"{ORG}/infra"),
            github.secret_value(key, repository=f"{ORG}/infra", environment="production"),
            github.secret_value(key, organization=ORG)}


def tfe_values(tfe, key):
    return {tfe.variable(key, workspace="prod")["value"],
            tfe.variable(key, varset="shared")["value"]}


def test_the_role_delivers_to_github_secrets_and_tfe_variables_then_writes_nothing(
        sandbox, tmp_path, estate):
    items, old = estate
    github, tfe = sandbox["github"], sandbox["tfe"]
    run = rotate(tmp_path, items)
    assert run.rc == 0, run.output
    rows = run.rows()
    assert all(rows[label]["action"] == "rotated" for label in old), rows
    assert rows["cf-gh"]["delivered"][1].startswith(
        "github_secret:tokenops/infra environment production CLOUDFLARE_API_TOKEN on http://")
    assert rows["cf-tfe"]["delivered"][1].startswith(
        "tfe_variable:tokenops/variable set shared CLOUDFLARE_API_TOKEN (env) on http://")

    for label, key, values in (("cf-gh", "CLOUDFLARE_API_TOKEN", github_values),
                               ("pulumi-gh", "PULUMI_ACCESS_TOKEN", github_values),
                               ("tfe-tfe", "TFE_TOKEN", tfe_values),
                               ("cf-tfe", "CLOUDFLARE_API_TOKEN", tfe_values)):
        platform = github if values is github_values else tfe
        delivered = values(platform, key)
        assert len(delivered) == 1, (label, "every sink holds one value")
        new = delivered.pop()
        assert new != old[label] and sandbox.secrets.is_live(new), label
        assert not sandbox.secrets.is_live(old[label]), (label, "the previous token is revoked")
    assert github.secret("CLOUDFLARE_API_TOKEN", organization=ORG).visibility == "selected"
    assert github.selected_repositories("CLOUDFLARE_API_TOKEN", ORG) == [
        f"{ORG}/app", f"{ORG}/infra"]
    variable = tfe.variable("CLOUDFLARE_API_TOKEN", varset="shared")
    assert variable["sensitive"] is True and variable["description"] == "rotated by tokenops"
    assert len(tfe._varsets[tfe.varset_by_name("shared")].variables) == 2, \
        "the stale variable was updated in place, and TFE_TOKEN added"
    assert_no_leak(sandbox, run)

    sandbox.log.clear()
    again = rotate(tmp_path, items, name="again")
    assert again.rc == 0, again.output
    assert [e for e in sandbox.log.entries if e.method != "GET"] == [], "a second run writes nothing"
    assert_no_leak(sandbox, again)


def test_check_mode_shows_the_sinks_and_writes_nothing(sandbox, tmp_path, estate):
    items, _old = estate
    run = rotate(tmp_path, items, check=True)
    assert run.rc == 0, run.output
    assert [e for e in sandbox.log.entries if e.method != "GET"] == []
    assert "4 would rotate" in run.output
    assert ("would deliver to github_secret:tokenops/infra CLOUDFLARE_API_TOKEN on %s, "
            "github_secret:tokenops/infra environment production CLOUDFLARE_API_TOKEN on %s, "
            "github_secret:organization tokenops CLOUDFLARE_API_TOKEN on %s"
            % ((sandbox["github"].url,) * 3)) in run.output, run.output
    assert ("would deliver to tfe_variable:tokenops/workspace prod TFE_TOKEN (env) on %s"
            % sandbox["tfe"].url) in run.output


@pytest.mark.parametrize("breakage,option", [
    ("wrong_github_token", "deliver[0].token"),
    ("unknown_repository", "deliver[0].repository"),
    ("unknown_environment", "deliver[1].environment"),
    ("reader_token", "deliver[0].token"),
    ("unknown_workspace", "deliver[0].workspace"),
    ("read_only_team", "deliver[0].api_token"),
])
def test_preflight_failures_come_before_any_platform_write(sandbox, tmp_path, estate, breakage,
                                                           option):
    items, old = estate
    github, tfe = sandbox["github"], sandbox["tfe"]
    target = items[0] if "workspace" not in breakage and "team" not in breakage else items[3]
    sink = target["deliver"][0]
    if breakage == "wrong_github_token":
        sink["token"] = "ghp_" + "0" * 36
    elif breakage == "unknown_repository":
        sink["repository"] = f"{ORG}/nowhere"
    elif breakage == "unknown_environment":
        target["deliver"][1]["environment"] = "staging"
    elif breakage == "reader_token":
        github.add_user("reader")
        github.add_repo("reader/own")
        github.set_role(f"{ORG}/infra", "reader", "read")
        sink["token"] = github.issue_token("reader")
    elif breakage == "unknown_workspace":
        sink["workspace"] = "nowhere"
    elif breakage == "read_only_team":
        team = tfe.add_team("readers")
        tfe.grant_workspace_access(team, "prod", variables="read")
        sink["api_token"] = tfe.add_token(team, "reader")[1]
    run = rotate(tmp_path, [target])
    assert run.rc != 0
    label = target["id"]
    assert f"rotate_tokens[{label}].{option}" in run.output, run.output
    platform = target["provider"]
    assert [e for e in sandbox.log.entries if e.method != "GET"] == [], "nothing was written"
    assert sandbox.secrets.is_live(old[label])
    assert len(sandbox[platform].secrets.live(platform)) >= 1
    assert_no_leak(sandbox, run)


def test_a_run_killed_between_the_github_write_and_the_revoke_is_finished_by_the_next(
        sandbox, tmp_path, estate):
    items, old = estate
    github, cloudflare = sandbox["github"], sandbox["cloudflare"]
    item = items[0]
    # The revoke of the previous Cloudflare token hangs (and never acts): the run is killed
    # while it waits, after every GitHub secret was written.
    hang = sandbox.faults.add("drop", platform="cloudflare", method="DELETE", delay=8)
    proc = rotate(tmp_path, [item], name="killed", popen=True)
    try:
        deadline = time.monotonic() + 60
        while not sandbox.log.select("cloudflare", "DELETE"):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the run never reached the revoke"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    written = github_values(github, "CLOUDFLARE_API_TOKEN")
    assert len(written) == 1 and None not in written
    new = written.pop()
    assert sandbox.secrets.is_live(new) and sandbox.secrets.is_live(old["cf-gh"])

    hang.times = 0      # the next run's revoke goes through
    sandbox.log.clear()
    run = rotate(tmp_path, [item], name="recovery")
    assert run.rc == 0, run.output
    assert sandbox.secrets.is_live(new) and not sandbox.secrets.is_live(old["cf-gh"]), \
        "one live token: the one every secret holds"
    assert [t["name"] for t in cloudflare.tokens()].count("cf-gh") == 1
    assert github_values(github, "CLOUDFLARE_API_TOKEN") == {new}
    assert not [e for e in sandbox.log.entries if e.platform == "github" and e.method == "PUT"]
    assert_no_leak(sandbox, run)


def test_without_pynacl_the_github_sink_fails_before_any_request(
        sandbox, tmp_path, estate, monkeypatch):
    items, old = estate
    hidden = tmp_path / "no-nacl"
    (hidden / "nacl").mkdir(parents=True)
    (hidden / "nacl" / "__init__.py").write_text("raise ImportError('PyNaCl is not installed')\n")
    monkeypatch.setenv("PYTHONPATH", str(hidden))
    run = rotate(tmp_path, [items[0]])
    assert run.rc != 0
    assert ("rotate_tokens[cf-gh].deliver[0]: the github_secret sink needs the PyNaCl Python "
            "library on the controller (pip install PyNaCl)") in run.output, run.output
    assert sandbox.log.entries == [] or {e.method for e in sandbox.log.entries} == {"GET"}
    assert sandbox.secrets.is_live(old["cf-gh"])


def test_a_sink_failing_after_one_that_cannot_be_put_back_keeps_the_secret_it_holds_alive(
        sandbox, tmp_path, estate):
    """The workspace variable takes the new Cloudflare token, then the variable set refuses
    it: the workspace cannot be put back, so the new token must stay alive (its consumers hold
    it) until a later run has delivered a newer one everywhere."""
    items, old = estate
    tfe, cloudflare = sandbox["tfe"], sandbox["cloudflare"]
    item = items[3]
    refusal = sandbox.faults.add("status", platform="tfe", method="PATCH",
                                 path="/varsets/.*/relationships/vars/", status=422,
                                 message="refused by the test")
    failed = rotate(tmp_path, [item], name="failed")
    assert failed.rc != 0 and refusal.hits == 1
    row = failed.rows()["cf-tfe"]
    assert row["action"] == "failed" and (
        "tfe_variable:tokenops/workspace prod CLOUDFLARE_API_TOKEN (env) on %s holds the new "
        "secret (not put back: this store keeps no earlier version)" % tfe.url) in row["error"], row
    assert "The new token %s is kept for it" % row["token_id"] in row["error"], row
    held = tfe.variable("CLOUDFLARE_API_TOKEN", workspace="prod")["value"]
    assert held != old["cf-tfe"]
    assert sandbox.secrets.is_live(held), "the workspace's consumers hold it: it stays"
    assert sandbox.secrets.is_live(old["cf-tfe"]), "the variable set's consumers hold this one"
    assert_no_leak(sandbox, failed)

    run = rotate(tmp_path, [item], name="recovery")
    assert run.rc == 0, run.output
    newest = tfe_values(tfe, "CLOUDFLARE_API_TOKEN")
    assert len(newest) == 1 and held not in newest
    newest = newest.pop()
    assert sandbox.secrets.is_live(newest)
    assert not sandbox.secrets.is_live(held) and not sandbox.secrets.is_live(old["cf-tfe"])
    assert [t["name"] for t in cloudflare.tokens()].count("cf-tfe") == 1
    assert_no_leak(sandbox, run)


def test_a_tfe_team_token_that_writes_its_own_variable_uses_the_live_secret_at_each_step(
        sandbox, tmp_path):
    """The owners team's legacy token is replaced in place and is also the sink's credential:
    the preflight reads with the previous secret (still live), the write must use the new one
    (the previous died when it was regenerated)."""
    tfe = sandbox["tfe"]
    tfe.add_workspace("prod")
    _ignored, own = tfe.add_token(tfe.owners_team_id, created_at=days_ago(120))
    conn = {"api_url": tfe.url, "api_token": own, "organization": tfe.organization}
    item = {"provider": "tfe", "id": "self", "max_age": "90d",
            "params": dict(conn, team="owners", allow_self_rotation=True),
            "deliver": [dict(conn, type="tfe_variable", workspace="prod", key="TFE_TOKEN")]}
    run = rotate(tmp_path, [item])
    assert run.rc == 0, run.output
    held = tfe.variable("TFE_TOKEN", workspace="prod")["value"]
    assert held != own and sandbox.secrets.is_live(held) and not sandbox.secrets.is_live(own)
    assert_no_leak(sandbox, run)
