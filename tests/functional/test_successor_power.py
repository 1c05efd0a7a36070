"""A successor with its predecessor's power, within the platform's lifetime policy (issue 22,
items 1 and 2), through real ansible-playbook runs of the modules and the rotation role."""
from datetime import timedelta

import pytest
import requests

from tests.functional.harness import clean_playbook, leaked, module_task, run_playbook
from tests.functional.test_rotate_role import assert_no_leak, file_sink, rotate, secret_in
from tests.sandbox.cloudflare import policy
from tests.sandbox.core import days_ago, parse_time, utcnow

ORG = "tokenops"


def in_days(days):
    return int((utcnow() + timedelta(days=days)).timestamp())


def pulumi_get(pulumi, path, secret):
    return requests.get(pulumi.url + path, headers={"Authorization": f"token {secret}"},
                        timeout=5)


def pulumi_task(pulumi, register, credential=None, ignore_errors=False, **args):
    conn = {"api_url": pulumi.url, "api_token": credential or pulumi.admin_token}
    return module_task("pulumi_token", register, {**conn, **args}, ignore_errors=ignore_errors)


def pulumi_info(pulumi, register, credential=None, **args):
    conn = {"api_url": pulumi.url, "api_token": credential or pulumi.admin_token}
    return {"name": register, "tokenops.tokens.pulumi_token_info": {**conn, **args},
            "register": register}


def expires_within(token, days, now=None):
    """Whether a listed Pulumi token expires within ``days`` of ``now``."""
    now = now or utcnow()
    return 0 < token["expires"] <= (now + timedelta(days=days)).timestamp()


# -- item 1: the successor keeps admin, role and description ---------------------------------

def test_pulumi_org_token_with_admin_and_a_custom_role_keeps_both_when_the_role_rotates_it(
        sandbox, tmp_path):
    """The demo's ci-org-admin: an admin organization token with a custom role, rotated by the
    role without admin or role in its params. Its consumer must still be let in."""
    pulumi = sandbox["pulumi"]
    pulumi.add_role("role-deployer", "stack-deployer")
    old_id, old_secret = pulumi.add_org_token("ci-org-admin", admin=True,
                                              role_id="role-deployer", description="ci admin",
                                              created=days_ago(120))
    audit = f"/api/orgs/{ORG}/auditlogs"
    assert pulumi_get(pulumi, audit, old_secret).status_code == 200
    sink = tmp_path / "sinks" / "ci-org-admin"
    sink.parent.mkdir()
    items = [{"provider": "pulumi", "id": "ci-org-admin", "max_age": "90d",
              "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                         "kind": "organization", "organization": ORG, "name": "ci-org-admin"},
              "deliver": [file_sink(sink)]}]
    run = rotate(tmp_path, items)
    assert run.rc == 0, run.output
    row = run.rows()["ci-org-admin"]
    assert row["action"] == "rotated", row
    new_secret = secret_in(sink)
    [successor] = pulumi.tokens("organization")
    assert successor["id"] == row["token_id"] != old_id
    assert (successor["name"], successor["admin"], successor["role"]["id"],
            successor["description"]) == ("ci-org-admin--2", True, "role-deployer", "ci admin")
    assert pulumi.secret_of(successor["id"]) == new_secret
    assert pulumi_get(pulumi, audit, new_secret).status_code == 200, "the consumer lost power"
    assert not sandbox.secrets.is_live(old_secret)
    assert_no_leak(sandbox, run)


def test_pulumi_module_rotation_keeps_admin_role_and_description(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    pulumi.add_role("role-deployer", "stack-deployer")
    pulumi.add_org_token("deployer", admin=True, role_id="role-deployer",
                         description="the deployer", created=days_ago(30))
    run = clean_playbook(sandbox, tmp_path, [
        pulumi_task(pulumi, "rotated", kind="organization", organization=ORG, name="deployer",
                    rotate="always"),
        pulumi_info(pulumi, "listed", kind="organization", organization=ORG, name="deployer"),
    ])
    token = run["rotated"]["token"]
    assert (token["admin"], token["role_id"], token["description"]) == (
        True, "role-deployer", "the deployer")
    [listed] = run["listed"]["tokens"]
    assert listed["role_id"] == "role-deployer" and listed["role"]["name"] == "stack-deployer"
    assert pulumi_get(pulumi, f"/api/orgs/{ORG}/auditlogs", run["rotated"]["secret"]).ok


def test_a_new_pulumi_org_token_takes_its_role_from_role_id(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    pulumi.add_role("role-auditor", "auditor", default_identifier="admin")
    run = clean_playbook(sandbox, tmp_path, [
        pulumi_task(pulumi, "created", kind="organization", organization=ORG, name="auditor",
                    role_id="role-auditor"),
        pulumi_task(pulumi, "again", kind="organization", organization=ORG, name="auditor",
                    role_id="role-auditor"),
    ])
    assert run["created"]["token"]["role_id"] == "role-auditor"
    assert pulumi.token_by_id(run["created"]["token"]["id"])["role"]["id"] == "role-auditor"
    assert not run["again"]["changed"]


def test_a_successor_read_back_without_its_role_is_deleted_and_the_predecessor_kept(
        sandbox, tmp_path):
    """A service that drops roleID (the token then gets the default member role): the
    comparison catches it, the new token is deleted, the previous one keeps working."""
    pulumi = sandbox["pulumi"]
    pulumi.add_role("role-deployer", "stack-deployer")
    old_id, old_secret = pulumi.add_org_token("deployer", role_id="role-deployer",
                                              created=days_ago(30))
    pulumi.drop_role_on_create = True
    run = run_playbook(tmp_path, [
        pulumi_task(pulumi, "rotated", kind="organization", organization=ORG, name="deployer",
                    rotate="always", ignore_errors=True)])
    failed = run["rotated"]
    assert failed["failed"] and "role_id: 'role-deployer' asked, none read back" in failed["msg"]
    assert "it was deleted, and the previous token was kept" in failed["msg"]
    assert [t["id"] for t in pulumi.tokens("organization")] == [old_id]
    assert sandbox.secrets.is_live(old_secret)
    assert leaked(sandbox, run.output) == []


def test_an_admin_org_token_is_refused_before_any_write_when_it_would_rotate_an_org_token(
        sandbox, tmp_path):
    """pulumi/docs (access tokens): an admin organization token may do what an organization
    admin does "except for the creation or deletion of other organization tokens"."""
    pulumi = sandbox["pulumi"]
    pulumi.add_org_token("deployer", created=days_ago(30))
    _ignored, admin_bot = pulumi.add_org_token("admin-bot", admin=True)
    sandbox.log.clear()
    run = run_playbook(tmp_path, [
        pulumi_task(pulumi, "rotated", credential=admin_bot, kind="organization",
                    organization=ORG, name="deployer", rotate="always", ignore_errors=True)])
    assert run["rotated"]["failed"]
    assert "api_token is the organization token 'admin-bot'" in run["rotated"]["msg"]
    assert "except for the creation or deletion of other organization tokens" in \
        run["rotated"]["msg"]
    assert sandbox.log.writes("pulumi") == []


# -- item 2: Pulumi's organization expiry cap --------------------------------------------------

def test_pulumi_expiry_cap_makes_tokens_due_and_successors_stay_within_it(sandbox, tmp_path):
    """A 90-day cap: a never-expiring personal token and an organization token whose lifetime
    (365 days) is beyond it are due with the reason; their successors expire within 90 days."""
    pulumi = sandbox["pulumi"]
    _admin_id, admin = pulumi.add_personal_token("ci admin", expires=in_days(60))
    _never_id, never_secret = pulumi.add_personal_token("laptop", created=days_ago(3))
    long_id, long_secret = pulumi.add_org_token("deployer", created=days_ago(10),
                                                expires=in_days(355))
    pulumi.max_access_token_expiry_days = 90
    assert pulumi_get(pulumi, f"/api/orgs/{ORG}/tokens", long_secret).status_code == 403
    run = clean_playbook(sandbox, tmp_path / "info", [
        pulumi_info(pulumi, "personal", credential=admin, organization=ORG,
                    description="laptop"),
        pulumi_info(pulumi, "org", credential=admin, kind="organization", organization=ORG,
                    name="deployer"),
    ])
    [laptop] = run["personal"]["tokens"]
    assert laptop["due"] and laptop["due_reason"].startswith("never expires, and the access "
                                                             "token expiry policy of organization "
                                                             "tokenops")
    [deployer] = run["org"]["tokens"]
    assert deployer["due"] and "its lifetime (365 days" in deployer["due_reason"]
    assert "beyond the cap of 90d" in deployer["due_reason"]
    assert run["org"]["token_policy"]["max_lifetime_seconds"] == 90 * 86400

    run = clean_playbook(sandbox, tmp_path / "rotate", [
        pulumi_task(pulumi, "personal", credential=admin, organization=ORG,
                    description="laptop", rotate="due", max_age="365d"),
        pulumi_task(pulumi, "org", credential=admin, kind="organization", organization=ORG,
                    name="deployer", rotate="due", max_age="365d"),
    ])
    for name in ("personal", "org"):
        result = run[name]
        assert result["rotated"], name
        assert "beyond the cap of 90d" in result["rotation_reason"] or \
            result["rotation_reason"].startswith("never expires"), result["rotation_reason"]
        token = pulumi.token_by_id(result["token"]["id"])
        assert expires_within(token, 90), token
    assert "the new token expires at" in run.output        # the copied lifetime was cut
    assert pulumi_get(pulumi, f"/api/orgs/{ORG}/tokens", run["org"]["secret"]).status_code == 403
    # ^ a plain organization token may not list tokens, but it is no longer refused for the
    # policy: its 403 is the permission one
    assert "does not comply" not in pulumi_get(
        pulumi, f"/api/orgs/{ORG}/tokens", run["org"]["secret"]).json()["message"]
    assert not sandbox.secrets.is_live(never_secret) and not sandbox.secrets.is_live(long_secret)


def test_pulumi_cap_through_the_role_and_the_predecessor_kept_when_the_successor_is_refused(
        sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    _admin_id, admin = pulumi.add_personal_token("ci admin", expires=in_days(60))
    _never_id, never_secret = pulumi.add_personal_token("laptop", created=days_ago(3))
    long_id, long_secret = pulumi.add_org_token("deployer", created=days_ago(10),
                                                expires=in_days(355))
    pulumi.max_access_token_expiry_days = 90
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    conn = {"api_url": pulumi.url, "api_token": admin}
    items = [
        {"provider": "pulumi", "id": "laptop", "max_age": "365d",
         "params": dict(conn, organization=ORG, description="laptop"),
         "deliver": [file_sink(sinks / "laptop")]},
        {"provider": "pulumi", "id": "deployer", "max_age": "365d",
         "params": dict(conn, kind="organization", organization=ORG, name="deployer"),
         "deliver": [file_sink(sinks / "deployer")]},
    ]
    plan = rotate(tmp_path, items, name="check", check=True)
    assert plan.rc == 0, plan.output
    lines = plan.stdout.splitlines()
    for label in ("laptop", "deployer"):
        assert any(f"| {label} |" in line and "would rotate" in line for line in lines), label
    assert any("| deployer |" in line and "beyond the cap of 90d" in line for line in lines)

    # The policy cannot be read (so nothing says the token is due: force it): the successor is
    # asked for the copied lifetime, the platform refuses it, and the previous token stays.
    pulumi.metadata_status = 403
    forced = [dict(items[1], force=True)]
    del forced[0]["max_age"]
    refused = rotate(tmp_path, forced, name="unreadable")
    row = refused.rows()["deployer"]
    assert row["action"] == "failed" and "expires must be within" in row["error"]
    assert any("could not be read" in note for note in row["notes"]), row
    assert [t["id"] for t in pulumi.tokens("organization")] == [long_id]
    assert sandbox.secrets.is_live(long_secret)

    pulumi.metadata_status = None
    run = rotate(tmp_path, items, name="rotate")
    assert run.rc == 0, run.output
    for label in ("laptop", "deployer"):
        row = run.rows()[label]
        assert row["action"] == "rotated", row
        token = pulumi.token_by_id(row["token_id"])
        assert expires_within(token, 90), token
        assert pulumi.secret_of(row["token_id"]) == secret_in(sinks / label)
        assert any("the new token expires at" in note for note in row["notes"]), row
    assert not sandbox.secrets.is_live(never_secret) and not sandbox.secrets.is_live(long_secret)
    again = rotate(tmp_path, items, name="again")
    assert {row["action"] for row in again.rows().values()} == {"not due"}, again.rows()
    assert_no_leak(sandbox, run)


@pytest.mark.parametrize("kind", ["organization", "team"])
def test_a_pulumi_machine_successor_over_the_cap_counts_as_refused(sandbox, tmp_path, kind):
    """An organization or team token is checked against its organization ("List teams"), which
    the expiry policy guards, not on /api/user, which it does not: a successor over the cap (here
    another admin tightens the policy right after the create) is refused as its consumers will
    find it, deleted, and the previous token and the consumer's secret kept."""
    pulumi = sandbox["pulumi"]
    _admin_id, admin = pulumi.add_personal_token("ci admin", expires=in_days(30))
    options = dict(created=days_ago(120), expires=in_days(180))
    if kind == "organization":
        old_id, old_secret = pulumi.add_org_token("deployer", **options)
    else:
        old_id, old_secret = pulumi.add_team_token(pulumi.team_name, "deployer", **options)
    sink = tmp_path / "deployer"
    sink.write_text(old_secret)
    sink.chmod(0o600)
    params = {"api_url": pulumi.url, "api_token": admin, "kind": kind, "organization": ORG,
              "name": "deployer", "max_verify_wait": 1}
    if kind == "team":
        params["team"] = pulumi.team_name
    pulumi.expiry_policy_after_create = 90
    run = rotate(tmp_path, [{"provider": "pulumi", "id": "deployer", "max_age": "90d",
                             "params": params, "deliver": [file_sink(sink)]}])
    row = run.rows()["deployer"]
    assert pulumi.max_access_token_expiry_days == 90, "the fault never hit: proves nothing"
    assert row["action"] == "failed", row
    assert "verification of the new secret failed" in row["error"], row
    assert "did not accept the new secret" in row["error"], row
    assert [t["id"] for t in pulumi.tokens(kind)] == [old_id], "the successor was kept"
    assert secret_in(sink) == old_secret
    assert_no_leak(sandbox, run)


# -- Cloudflare and TFE successors that differ (sandbox faults) --------------------------------

def cloudflare_two_policies():
    return [policy("Zone Read"), policy("DNS Write")]


def test_a_cloudflare_successor_without_a_policy_is_deleted_and_the_predecessor_kept(
        sandbox, tmp_path):
    """The role replaces by default: a successor created without one of its predecessor's
    policies is read back, compared, deleted; the consumer keeps the working secret and the
    report says which policy was missing. The module says the same."""
    cloudflare = sandbox["cloudflare"]
    old_id, old_secret = cloudflare.add_token("deploy", policies=cloudflare_two_policies(),
                                              issued_on=days_ago(120))
    cloudflare.drop_last_policy_on_create = True
    sink = tmp_path / "deploy"
    sink.write_text(old_secret)
    sink.chmod(0o600)
    conn = {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}
    run = rotate(tmp_path, [{"provider": "cloudflare", "id": "deploy", "max_age": "90d",
                             "params": dict(conn, name="deploy"),
                             "deliver": [file_sink(sink)]}])
    row = run.rows()["deploy"]
    assert row["action"] == "failed", row
    assert "does not carry the power of token %s" % old_id in row["error"], row
    assert "policies:" in row["error"] and "read back" in row["error"], row
    assert "it was deleted, and the previous token was kept" in row["error"], row
    assert [t["id"] for t in cloudflare.tokens() if t["name"] == "deploy"] == [old_id]
    assert secret_in(sink) == old_secret and sandbox.secrets.is_live(old_secret)
    assert_no_leak(sandbox, run)

    module = run_playbook(tmp_path / "module", [module_task(
        "cloudflare_token", "replaced", dict(conn, name="deploy", rotation="replace",
                                             rotate="always"), ignore_errors=True)])
    failed = module["replaced"]
    assert failed["failed"] and "policies:" in failed["msg"], failed
    assert "it was deleted, and the previous token was kept" in failed["msg"]
    assert [t["id"] for t in cloudflare.tokens() if t["name"] == "deploy"] == [old_id]
    assert leaked(sandbox, module.output) == []


def test_a_tfe_successor_made_in_another_team_is_deleted_and_the_predecessor_kept(
        sandbox, tmp_path):
    """A described team token's successor that TFE makes in another team acts with that team's
    permissions: read back, compared, deleted; the previous token and the consumer's secret are
    kept, and the report says which team was asked and which was read back."""
    tfe = sandbox["tfe"]
    team = tfe.add_team("platform")
    other = tfe.add_team("elsewhere")
    old_id, old_secret = tfe.add_token(team, "ci", created_at=days_ago(120))
    tfe.create_in_team = other
    sink = tmp_path / "ci"
    sink.write_text(old_secret)
    sink.chmod(0o600)
    params = dict(tfe_conn(tfe), team="platform", description="ci")
    run = rotate(tmp_path, [{"provider": "tfe", "id": "ci", "max_age": "90d", "params": params,
                             "deliver": [file_sink(sink)]}])
    row = run.rows()["ci"]
    assert row["action"] == "failed", row
    assert "team_id: %r asked, %r read back" % (team, other) in row["error"], row
    assert "it was deleted, and the previous token was kept" in row["error"], row
    assert [t["id"] for t in tfe.tokens()] == [old_id], "the successor was kept"
    assert secret_in(sink) == old_secret and sandbox.secrets.is_live(old_secret)
    assert_no_leak(sandbox, run)

    module = run_playbook(tmp_path / "module", [module_task(
        "tfe_team_token", "rotated", dict(params, rotate="always"), ignore_errors=True)])
    failed = module["rotated"]
    assert failed["failed"] and "team_id: %r asked, %r read back" % (team, other) in \
        failed["msg"], failed
    assert [t["id"] for t in tfe.tokens()] == [old_id]
    assert leaked(sandbox, module.output) == []


# -- item 2: TFE's team token TTL policy -------------------------------------------------------

def tfe_conn(tfe):
    return {"api_url": tfe.url, "api_token": tfe.admin_token, "organization": ORG}


def lifetime(token):
    attributes = token["attributes"]
    return parse_time(attributes["expired-at"]) - parse_time(attributes["created-at"])


def test_tfe_ttl_policy_makes_described_and_legacy_tokens_due_and_successors_fit(
        sandbox, tmp_path):
    tfe = sandbox["tfe"]
    team = tfe.add_team("platform")
    described_id, described_secret = tfe.add_token(team, "ci", created_at=days_ago(10))
    legacy_id, legacy_secret = tfe.add_token(team, created_at=days_ago(10))
    tfe.max_token_ttl = timedelta(days=30)
    run = clean_playbook(sandbox, tmp_path / "info", [
        {"name": "listed", "tokenops.tokens.tfe_team_token_info": {**tfe_conn(tfe),
                                                                   "team": "platform"},
         "register": "listed"}])
    listed = {t["id"]: t for t in run["listed"]["tokens"]}
    for token_id in (described_id, legacy_id):
        assert listed[token_id]["due"], listed[token_id]
        assert "beyond the cap of 30d set by the team token TTL policy of organization " \
               "tokenops" in listed[token_id]["due_reason"]
    assert run["listed"]["token_policy"]["max_lifetime"] == "30d"

    sinks = tmp_path / "sinks"
    sinks.mkdir()
    items = [{"provider": "tfe", "id": "described", "max_age": "365d",
              "params": dict(tfe_conn(tfe), team="platform", description="ci"),
              "deliver": [file_sink(sinks / "described")]},
             {"provider": "tfe", "id": "legacy", "max_age": "365d",
              "params": dict(tfe_conn(tfe), team="platform"),
              "deliver": [file_sink(sinks / "legacy")]}]
    result = rotate(tmp_path, items)
    assert result.rc == 0, result.output
    for label in ("described", "legacy"):
        row = result.rows()[label]
        assert row["action"] == "rotated", row
        assert "beyond the cap of 30d" in row["reason"], row
        token = tfe.token_by_id(row["token_id"])
        assert lifetime(token) <= timedelta(days=30), token
        assert tfe.secret_of(row["token_id"]) == secret_in(sinks / label)
    assert not sandbox.secrets.is_live(described_secret)
    assert not sandbox.secrets.is_live(legacy_secret)
    assert_no_leak(sandbox, result)


def test_tfe_rotate_always_without_expires_in_asks_within_the_cap(sandbox, tmp_path):
    tfe = sandbox["tfe"]
    team = tfe.add_team("platform")
    tfe.add_token(team, "ci", expired_at=days_ago(-20))
    tfe.add_token(team, expired_at=days_ago(-20))
    tfe.max_token_ttl = timedelta(days=30)      # capped_default "refuse": none sent is a 422
    run = clean_playbook(sandbox, tmp_path, [
        module_task("tfe_team_token", name, dict(tfe_conn(tfe), team="platform",
                                                 rotate="always", **extra))
        for name, extra in (("described", {"description": "ci"}), ("legacy", {}),
                            ("created", {"description": "new"}))])
    for name in ("described", "legacy", "created"):
        token = tfe.token_by_id(run[name]["token"]["id"])
        assert timedelta(days=29) < lifetime(token) <= timedelta(days=30), token
        assert run[name]["token_policy"]["max_lifetime_seconds"] == 30 * 86400
    assert "no expires_in or expires_at was given" in run.output


def test_tfe_policy_that_cannot_be_read_is_said_not_taken_for_none(sandbox, tmp_path):
    tfe = sandbox["tfe"]
    team = tfe.add_team("platform")
    tfe.add_token(team, "ci", created_at=days_ago(10))
    tfe.ttl_policies_status = 403
    run = clean_playbook(sandbox, tmp_path, [
        {"name": "listed", "tokenops.tokens.tfe_team_token_info": {**tfe_conn(tfe),
                                                                   "team": "platform"},
         "register": "listed"},
        module_task("tfe_team_token", "rotated", dict(tfe_conn(tfe), team="platform",
                                                      description="ci", rotate="always"))])
    for name in ("listed", "rotated"):
        policy = run[name]["token_policy"]
        assert not policy["readable"] and policy["max_lifetime_seconds"] is None
        assert "403" in policy["unreadable_reason"]
    assert "team token TTL policy of organization tokenops (token-ttl-policies) could not be " \
           "read" in run.output


def test_tfe_role_refuses_an_expiry_beyond_the_cap_while_planning_even_in_place(
        sandbox, tmp_path):
    """A legacy token is regenerated in place: an expiry the policy refuses must stop the run
    before the regenerate, not after the previous secret ended."""
    tfe = sandbox["tfe"]
    team = tfe.add_team("platform")
    _legacy_id, legacy_secret = tfe.add_token(team, expired_at=days_ago(-20))
    tfe.max_token_ttl = timedelta(days=30)
    sandbox.log.clear()
    items = [{"provider": "tfe", "id": "legacy", "force": True,
              "params": dict(tfe_conn(tfe), team="platform", expires_in="60d"),
              "deliver": [file_sink(tmp_path / "legacy")]}]
    run = rotate(tmp_path, items)
    row = run.rows()["legacy"]
    assert row["action"] == "failed" and row["reason"] == "could not plan", row
    assert "expires_in: " in row["error"] and "beyond the cap of 30d" in row["error"]
    assert sandbox.log.writes("tfe") == [] and sandbox.secrets.is_live(legacy_secret)
