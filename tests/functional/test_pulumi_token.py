"""pulumi_token and pulumi_token_info through real ansible-playbook against the sandbox (issue 6)."""
from tests.functional.harness import clean_playbook, leaked, module_task, run_playbook
from tests.sandbox.core import days_ago


def connection(sandbox):
    pulumi = sandbox["pulumi"]
    return {"api_url": pulumi.url, "api_token": pulumi.admin_token}


def token_task(sandbox, register, check_mode=None, **args):
    return module_task("pulumi_token", register, {**connection(sandbox), **args}, check_mode)


def info_task(sandbox, register, **args):
    return {"name": register, "tokenops.tokens.pulumi_token_info": {**connection(sandbox), **args},
            "register": register}


def live_ids(pulumi, kind):
    return {t["id"] for t in pulumi.tokens(kind)}


def test_personal_token_lifecycle(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("deploy-old", created=days_ago(40))
    fresh_id, fresh_secret = pulumi.add_personal_token("deploy-fresh", created=days_ago(5))
    sandbox.log.clear()

    run = clean_playbook(sandbox, tmp_path / "check", [
        token_task(sandbox, "predicted", check_mode=True, description="ci"),
        token_task(sandbox, "rotation_predicted", check_mode=True, description="deploy-old",
                   rotate="due", max_age="30d"),
    ])
    assert run["predicted"]["changed"] and run["predicted"]["rotated"]
    assert "secret" not in run["predicted"]
    assert run["rotation_predicted"]["changed"] and run["rotation_predicted"]["rotated"]
    assert set(sandbox.log.methods("pulumi")) == {"GET"}
    assert "ci" not in [t["description"] for t in pulumi.tokens("personal")]
    assert pulumi.secrets.is_live(old_secret)

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "apply", [
        token_task(sandbox, "created", description="ci", expires_in="30d"),
        token_task(sandbox, "again", description="ci", expires_in="30d"),
        token_task(sandbox, "rotated", description="deploy-old", rotate="due", max_age="30d"),
        token_task(sandbox, "left_alone", description="deploy-fresh", rotate="due",
                   max_age="30d"),
        token_task(sandbox, "after_rotation", description="deploy-old", rotate="due",
                   max_age="30d"),
    ])
    created = run["created"]
    assert created["changed"] and created["rotated"]
    assert sandbox.secrets.is_live(created["secret"])
    assert pulumi.secret_of(created["token"]["id"]) == created["secret"]
    assert created["token"]["expires_at"] is not None

    assert not run["again"]["changed"] and "secret" not in run["again"]
    assert run["again"]["token"]["id"] == created["token"]["id"]

    rotated = run["rotated"]
    assert rotated["changed"] and rotated["rotated"] and rotated["previous_id"] == old_id
    assert not sandbox.secrets.is_live(old_secret), "the old secret still works"
    assert pulumi.token_by_id(old_id) is None, "the old token was not deleted"
    assert sandbox.secrets.is_live(rotated["secret"])

    assert not run["left_alone"]["changed"] and sandbox.secrets.is_live(fresh_secret)
    assert not run["after_rotation"]["changed"], "a fresh rotation must not be due again"
    assert run["after_rotation"]["token"]["id"] == rotated["token"]["id"]

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "absent", [
        token_task(sandbox, "absent_check", check_mode=True, description="ci", state="absent"),
        token_task(sandbox, "removed", description="ci", state="absent"),
        token_task(sandbox, "removed_again", description="ci", state="absent"),
    ])
    assert run["absent_check"]["changed"]
    assert run["removed"]["changed"] and run["removed"]["token"] is None
    assert not run["removed_again"]["changed"]
    assert not sandbox.secrets.is_live(created["secret"])
    assert [e.method for e in sandbox.log.writes("pulumi")] == ["DELETE"]


def test_expired_token_is_found_and_every_page_is_read(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    expired_id, _secret = pulumi.add_personal_token("nightly", created=days_ago(60),
                                                    expires=days_ago(1))
    # The module asks for the largest page (1000), so paging needs more than that.
    pulumi.add_personal_tokens(1150, prefix="bulk")
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "expired", description="nightly"),
        token_task(sandbox, "last_page", description="bulk-1149"),
        info_task(sandbox, "listed", expired=True),
    ])
    assert not run["expired"]["changed"], "a duplicate was created next to an expired token"
    assert run["expired"]["token"]["id"] == expired_id
    assert "expired" in run.stdout        # the warning tells the user what to do about it
    assert not run["last_page"]["changed"]
    assert [t["id"] for t in run["listed"]["tokens"]] == [expired_id]
    list_requests = [e for e in sandbox.log.select("pulumi") if e.path == "/api/user/tokens"]
    assert len(list_requests) == 3 * 2, "each lookup should read exactly the two pages"
    assert any("continuationToken" in e.query for e in list_requests)
    assert sandbox.log.writes("pulumi") == []


def test_organization_and_team_tokens_rotate_twice_without_name_conflicts(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    org = {"kind": "organization", "organization": pulumi.org_name, "name": "deployer",
           "admin": True}
    team = {"kind": "team", "organization": pulumi.org_name, "team": pulumi.team_name,
            "name": "ci"}
    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "org_created", **org),
        token_task(sandbox, "team_created", **team),
        token_task(sandbox, "org_rotated", rotate="always", **org),
        token_task(sandbox, "org_rotated_twice", rotate="always", **org),
        token_task(sandbox, "team_rotated", rotate="always", **team),
        token_task(sandbox, "team_rotated_twice", rotate="always", **team),
        token_task(sandbox, "org_unchanged", **org),
        token_task(sandbox, "team_unchanged", **team),
        info_task(sandbox, "org_listed", kind="organization", organization=pulumi.org_name),
    ])
    assert run["org_created"]["token"]["admin"] is True
    last = pulumi.token_by_id(run["org_rotated_twice"]["token"]["id"])
    assert last["admin"] is True, "a rotated admin token must stay an admin token"
    names = [run[step]["token"]["name"] for step in ("org_created", "org_rotated",
                                                     "org_rotated_twice")]
    assert names == ["deployer", "deployer--2", "deployer--3"]
    names = [run[step]["token"]["name"] for step in ("team_created", "team_rotated",
                                                     "team_rotated_twice")]
    assert names == ["ci", "ci--2", "ci--3"]
    for kind, last in (("organization", "org_rotated_twice"), ("team", "team_rotated_twice")):
        assert live_ids(pulumi, kind) == {run[last]["token"]["id"]}
        assert sandbox.secrets.is_live(run[last]["secret"])
    for step in ("org_created", "org_rotated", "team_created", "team_rotated"):
        assert not sandbox.secrets.is_live(run[step]["secret"])
    for step in ("org_unchanged", "team_unchanged"):
        assert not run[step]["changed"] and "secret" not in run[step]
    assert run["org_unchanged"]["token"]["name"] == "deployer--3"
    listed = run["org_listed"]["tokens"]
    assert [t["name"] for t in listed] == ["deployer--3"]
    assert all("secret" not in t for t in listed)


def test_platform_errors_surface_and_bad_input_sends_nothing(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    sandbox.faults.add("status", platform="pulumi", method="POST", status=400,
                       message="Bad Request: description is not acceptable")
    run = run_playbook(tmp_path / "bad-request", [
        {**token_task(sandbox, "refused", description="x"), "ignore_errors": True},
    ])
    assert run["refused"]["failed"]
    assert "Bad Request: description is not acceptable" in run["refused"]["msg"]
    assert run["refused"]["status"] == 400

    sandbox.log.clear()
    run = run_playbook(tmp_path / "bad-input", [
        {**token_task(sandbox, "too_long", description="x", expires_in="3y"),
         "ignore_errors": True},
        {**token_task(sandbox, "no_name", kind="organization",
                      organization=pulumi.org_name), "ignore_errors": True},
        {**token_task(sandbox, "bad_name", kind="team", organization=pulumi.org_name,
                      team=pulumi.team_name, name="ci--4"), "ignore_errors": True},
    ])
    assert run["too_long"]["msg"].startswith("expires_in:")
    assert run["no_name"]["msg"].startswith("name:")
    assert run["bad_name"]["msg"].startswith("name:")
    assert sandbox.log.select("pulumi") == [], "bad input must fail before any request"
    assert leaked(sandbox, run.output) == []


def test_present_absent_present_rotate_after_names_were_reserved_by_deletion(
        sandbox, tmp_path):
    """Pulumi keeps org and team token names reserved after deletion (409 on any create with a
    used name): each run succeeds, always on the next free generation, one live token at the
    end; every request carries Content-Type and Accept."""
    pulumi = sandbox["pulumi"]
    org = {"kind": "organization", "organization": pulumi.org_name, "name": "gitlab-ci-cd"}
    team = {"kind": "team", "organization": pulumi.org_name, "team": pulumi.team_name,
            "name": "ci"}
    # A history of deletions: generations 1..3 of the team token were used and deleted.
    for name in ("ci", "ci--2", "ci--3"):
        pulumi.delete_token(pulumi.add_team_token(pulumi.team_name, name)[0])
    sandbox.log.clear()
    steps = []
    for label, args in (("org", org), ("team", team)):
        steps += [token_task(sandbox, f"{label}_present", **args),
                  token_task(sandbox, f"{label}_absent", state="absent", **args),
                  token_task(sandbox, f"{label}_again", **args),
                  token_task(sandbox, f"{label}_rotated", rotate="always", **args),
                  token_task(sandbox, f"{label}_unchanged", **args)]
    run = clean_playbook(sandbox, tmp_path, steps)
    names = [run[f"org_{step}"]["token"]["name"] for step in ("present", "again", "rotated")]
    assert names == ["gitlab-ci-cd", "gitlab-ci-cd--2", "gitlab-ci-cd--3"]
    names = [run[f"team_{step}"]["token"]["name"] for step in ("present", "again", "rotated")]
    assert names == ["ci--4", "ci--5", "ci--6"]
    for label, kind in (("org", "organization"), ("team", "team")):
        assert run[f"{label}_absent"]["changed"] and run[f"{label}_again"]["changed"]
        assert run[f"{label}_rotated"]["rotated"]
        assert not run[f"{label}_unchanged"]["changed"]
        assert live_ids(pulumi, kind) == {run[f"{label}_rotated"]["token"]["id"]}
        assert sandbox.secrets.is_live(run[f"{label}_rotated"]["secret"])
        for step in ("present", "again"):
            assert not sandbox.secrets.is_live(run[f"{label}_{step}"]["secret"])
    creates = [e.status for e in sandbox.log.select("pulumi", "POST")]
    # org: gitlab-ci-cd again is taken (1); team: ci..ci--3 (3), then ci..ci--4 (4)
    assert creates.count(409) == 8 and creates.count(200) == 6     # a 409 creates nothing
    entries = sandbox.log.select("pulumi")
    assert {e.content_type for e in entries} == {"application/json"}
    assert {e.accept for e in entries} == {"application/vnd.pulumi+8"}


def test_a_team_token_deleted_behind_the_modules_back_is_taken_as_gone(sandbox, tmp_path):
    """A team-token delete of an id that no longer exists answers 400: after a fresh listing
    shows the id is gone, state: absent succeeds."""
    pulumi = sandbox["pulumi"]
    team = {"kind": "team", "organization": pulumi.org_name, "team": pulumi.team_name,
            "name": "nightly"}
    token_id, _secret = pulumi.add_team_token(pulumi.team_name, "nightly")
    # the token disappears between the module's listing and its DELETE
    sandbox.faults.add("status", platform="pulumi", method="DELETE", status=400,
                       message="the requested token is not a team token")
    run = clean_playbook(sandbox, tmp_path, [
        {**token_task(sandbox, "kept", state="absent", **team), "ignore_errors": True},
    ])
    assert run["kept"]["failed"] and run["kept"]["status"] == 400   # still listed: not gone
    assert pulumi.token_by_id(token_id)
    pulumi.delete_token(token_id)
    from ansible_collections.tokenops.tokens.plugins.module_utils._module import make_client
    from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API
    from ansible_collections.tokenops.tokens.plugins.module_utils._pulumi import (
        PulumiTokenAdapter)
    params = {**connection(sandbox), **team, "timeout": 10, "validate_certs": True}
    adapter = PulumiTokenAdapter(make_client(API["pulumi"], params), params)
    sandbox.log.clear()
    adapter.delete({"id": token_id})        # gone: the 400 and a listing without it
    assert [(e.method, e.status) for e in sandbox.log.select("pulumi")] == [
        ("DELETE", 400), ("GET", 200)]


def test_a_timestamp_in_a_shape_the_module_does_not_read_makes_the_age_unknown(
        sandbox, tmp_path):
    """Issue 13: Go's ``2026-01-02 15:04:05.123 +0000 UTC`` in ``created``: each run succeeds,
    warns naming the field, and reports the age as unknown (rotate: due does not count it)."""
    pulumi = sandbox["pulumi"]
    pulumi.created_style = "go"
    token_id, secret = pulumi.add_personal_token("ci", created=days_ago(200))
    assert pulumi.tokens("personal")[-1]["created"].endswith(" +0000 UTC")
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "due", description="ci", rotate="due", max_age="90d"),
        info_task(sandbox, "listed", max_age="90d"),
    ])
    due = run["due"]
    assert not due["changed"] and not due["rotated"] and due["token"]["id"] == token_id
    assert due["token"]["created_at"] is None
    [listed] = [t for t in run["listed"]["tokens"] if t["id"] == token_id]
    assert listed["age_seconds"] is None and listed["created_at"] is None
    assert listed["due"] is False
    text = " ".join(run.output.split())
    assert f"token {token_id}: created_at is" in text and "+0000 UTC" in text
    assert "taken as unknown" in text
    assert sandbox.log.writes("pulumi") == [] and sandbox.secrets.is_live(secret)
