"""Self-rotation (issue 15): rotating or deleting the token that api_token holds is refused
before any write unless allow_self_rotation; allowed (or where the platform cannot tell), it
completes: the new secret works, the previous one is revoked, and a later task of the same play
authenticates with the new secret. The sandbox is the oracle for which secrets work."""
from tests.functional.harness import leaked, module_task, run_playbook


def task(module, register, args, ignore_errors=False):
    return module_task(module, register, args, ignore_errors=ignore_errors)


def later_task(module, register, url, secret_of, **args):
    """A later task that authenticates with the secret the rotation returned."""
    return task(module, register, {"api_url": url,
                                   "api_token": "{{ %s.secret }}" % secret_of, **args})


def test_tfe_team_token_of_the_callers_own_team(sandbox, tmp_path):
    tfe = sandbox["tfe"]
    old_id, old_secret = tfe.add_token(tfe.owners_team_id, "automation")
    own = {"api_url": tfe.url, "api_token": old_secret, "organization": tfe.organization,
           "team": "owners", "description": "automation"}
    sandbox.log.clear()
    run = run_playbook(tmp_path, [
        task("tfe_team_token", "refused", dict(own, rotate="always"), ignore_errors=True),
        task("tfe_team_token", "refused_absent", dict(own, state="absent"),
             ignore_errors=True),
    ])
    assert run["refused"]["failed"] and run["refused"]["msg"].startswith("rotate: refusing")
    assert run["refused_absent"]["failed"] and "allow_self_rotation" in run["refused_absent"]["msg"]
    assert sandbox.log.writes("tfe") == [], "refused, yet written"
    assert sandbox.secrets.is_live(old_secret)

    run = run_playbook(tmp_path / "allowed", [
        task("tfe_team_token", "rotated", dict(own, rotate="always", allow_self_rotation=True)),
        later_task("tfe_team_token_info", "later", tfe.url, "rotated",
                   organization=tfe.organization, team="owners"),
    ])
    assert run.rc == 0, run.output
    rotated = run["rotated"]
    assert rotated["rotated"] and rotated["previous_id"] == old_id
    assert sandbox.secrets.is_live(rotated["secret"]) and not sandbox.secrets.is_live(old_secret)
    assert "was the credential in api_token" in run.output
    assert rotated["token"]["id"] in {t["id"] for t in run["later"]["tokens"]}
    assert leaked(sandbox, run.output) == []


def test_pulumi_organization_token_told_by_token_info(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_org_token("self-org", admin=True)
    own = {"api_url": pulumi.url, "api_token": old_secret, "kind": "organization",
           "organization": pulumi.org_name, "name": "self-org", "admin": True}
    sandbox.log.clear()
    run = run_playbook(tmp_path, [
        task("pulumi_token", "refused", dict(own, rotate="always"), ignore_errors=True),
        task("pulumi_token", "refused_absent", dict(own, state="absent"), ignore_errors=True),
    ])
    # Pulumi lets no organization token create organization tokens: that refusal comes first.
    assert run["refused"]["failed"] and run["refused"]["msg"].startswith(
        "rotate: api_token is the organization token 'self-org'")
    assert run["refused_absent"]["failed"] and run["refused_absent"]["msg"].startswith(
        "state: api_token is the organization token 'self-org'")
    assert sandbox.log.writes("pulumi") == [], "refused, yet written"
    assert sandbox.secrets.is_live(old_secret)

    # allow_self_rotation does not change what Pulumi forbids: refused before any write.
    sandbox.log.clear()
    run = run_playbook(tmp_path / "allowed", [
        task("pulumi_token", "allowed", dict(own, rotate="always", allow_self_rotation=True),
             ignore_errors=True)])
    assert run["allowed"]["failed"] and "status" not in run["allowed"]
    assert "except for the creation or deletion of other organization tokens" in \
        run["allowed"]["msg"]
    assert sandbox.log.writes("pulumi") == []
    assert not run["allowed"]["changed"] and sandbox.secrets.is_live(old_secret)
    assert leaked(sandbox, run.output) == []


def test_pulumi_personal_token_cannot_be_told_and_completes_safely(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("self-personal")
    run = run_playbook(tmp_path, [
        task("pulumi_token", "rotated", {"api_url": pulumi.url, "api_token": old_secret,
                                         "description": "self-personal", "rotate": "always"}),
        later_task("pulumi_token_info", "later", pulumi.url, "rotated"),
    ])
    assert run.rc == 0, run.output
    rotated = run["rotated"]
    assert rotated["rotated"] and rotated["previous_id"] == old_id
    assert sandbox.secrets.is_live(rotated["secret"]) and not sandbox.secrets.is_live(old_secret)
    assert "was the credential in api_token" in run.output, "the result must say so"
    assert rotated["token"]["id"] in {t["id"] for t in run["later"]["tokens"]}
    assert leaked(sandbox, run.output) == []


def test_the_role_carries_on_with_the_new_secret_after_rotating_its_own_credential(
        sandbox, tmp_path):
    """TFE legacy (in place): the owners team's token is the credential of two items; after the
    first rotates it, the second is rotated with the new secret."""
    from tests.functional.test_rotate_role import file_sink, rotate
    from tests.sandbox.core import days_ago
    tfe = sandbox["tfe"]
    self_id, self_secret = tfe.add_token(tfe.owners_team_id, created_at=days_ago(120))
    other_team = tfe.add_team("rotators")
    other_id, other_secret = tfe.add_token(other_team, "ci", created_at=days_ago(120))
    conn = {"api_url": tfe.url, "api_token": self_secret, "organization": tfe.organization}
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    items = [{"provider": "tfe", "id": "self", "max_age": "90d",
              "params": dict(conn, team="owners", allow_self_rotation=True),
              "deliver": [file_sink(sinks / "self")]},
             {"provider": "tfe", "id": "other", "max_age": "90d",
              "params": dict(conn, team="rotators", description="ci"),
              "deliver": [file_sink(sinks / "other")]}]
    refused = rotate(tmp_path / "refused", [dict(items[0], params=dict(conn, team="owners"))])
    assert refused.rc != 0 and "allow_self_rotation" in refused.rows()["self"]["error"]
    assert sandbox.secrets.is_live(self_secret)
    run = rotate(tmp_path, items)
    assert run.rc == 0, run.output
    rows = run.rows()
    assert rows["self"]["action"] == "rotated" and rows["other"]["action"] == "rotated", rows
    assert "was the credential in api_token" in " ".join(rows["self"]["notes"])
    new_self = (sinks / "self").read_text()
    assert sandbox.secrets.is_live(new_self) and not sandbox.secrets.is_live(self_secret)
    assert sandbox.secrets.is_live((sinks / "other").read_text())
    assert not sandbox.secrets.is_live(other_secret)
    # The second item's requests after the rotation carried the new secret.
    assert leaked(sandbox, run.output) == []
