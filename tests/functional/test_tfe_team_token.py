"""tfe_team_token and tfe_team_token_info through real ansible-playbook against the sandbox
(issue 3), and the adapter the rotation role drives, used directly."""
import math
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import requests

from tests.functional.harness import clean_playbook, leaked, module_task
from tests.sandbox.core import days_ago

from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    connection_argument_spec, make_client,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API
from ansible_collections.tokenops.tokens.plugins.module_utils._tfe import (
    TfeTeamTokenAdapter, argument_spec,
)


def connection(sandbox):
    tfe = sandbox["tfe"]
    return {"api_url": tfe.url, "api_token": tfe.admin_token, "organization": tfe.organization}


def token_task(sandbox, register, check_mode=None, ignore_errors=False, **args):
    return module_task("tfe_team_token", register, {**connection(sandbox), **args},
                       check_mode, ignore_errors)


def info_task(sandbox, register, **args):
    return {"name": register,
            "tokenops.tokens.tfe_team_token_info": {**connection(sandbox), **args},
            "register": register}


def http_status(tfe, secret):
    """What the sandbox answers a request made with ``secret`` (200 works, 401 rejected)."""
    return requests.get(tfe.url + "/api/v2/account/details", timeout=10,
                        headers={"Authorization": "Bearer " + secret}).status_code


def timestamp(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def described(tfe, team_id):
    return {t["attributes"]["description"]: t["id"] for t in tfe.tokens(team_id)
            if t["attributes"]["description"] is not None}


def writes(sandbox):
    return [(e.method, e.path.rsplit("/", 1)[-1]) for e in sandbox.log.writes("tfe")]


def test_described_token_check_create_rotate_due_and_absent(sandbox, tmp_path):
    tfe = sandbox["tfe"]
    team = tfe.add_team("deployers")
    # Same description on a team whose name also matches q=deployers: never confused.
    other = tfe.add_team("deployers-eu")
    other_id, other_secret = tfe.add_token(other, "ci")
    old_id, old_secret = tfe.add_token(team, "old-ci", created_at=days_ago(40))
    fresh_id, fresh_secret = tfe.add_token(team, "fresh-ci", created_at=days_ago(5))
    by_id, by_id_secret = tfe.add_token(team, "by-id")
    common = {"team": "deployers"}

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "check", [
        token_task(sandbox, "predicted", check_mode=True, description="ci", **common),
        token_task(sandbox, "rotation_predicted", check_mode=True, description="old-ci",
                   rotate="due", max_age="30d", **common),
    ])
    predicted = run["predicted"]
    assert predicted["changed"] and predicted["rotated"] and "secret" not in predicted
    assert predicted["token"]["description"] == "ci" and predicted["token"]["team_id"] == team
    assert run["rotation_predicted"]["changed"] and run["rotation_predicted"]["rotated"]
    assert "secret" not in run["rotation_predicted"]
    assert set(sandbox.log.methods("tfe")) == {"GET"}, writes(sandbox)
    assert "ci" not in described(tfe, team)
    assert sandbox.secrets.is_live(old_secret)

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "apply", [
        token_task(sandbox, "created", description="ci", expires_in="30d", **common),
        token_task(sandbox, "again", description="ci", expires_in="30d", **common),
        token_task(sandbox, "other_expiry", description="ci", expires_in="90d", **common),
        token_task(sandbox, "platform_expiry", description="ci-default", **common),
        token_task(sandbox, "rotated", description="old-ci", rotate="due", max_age="30d",
                   **common),
        token_task(sandbox, "left_alone", description="fresh-ci", rotate="due", max_age="30d",
                   **common),
        token_task(sandbox, "after_rotation", description="old-ci", rotate="due",
                   max_age="30d", **common),
    ])
    now = datetime.now(timezone.utc)
    created = run["created"]
    assert created["changed"] and created["rotated"]
    assert sandbox.secrets.is_live(created["secret"])
    assert tfe.secret_of(created["token"]["id"]) == created["secret"]
    assert created["token"]["team_id"] == team and not created["token"]["legacy"]
    assert abs(timestamp(created["token"]["expires_at"]) - (now + timedelta(days=30))) \
        < timedelta(minutes=5)

    again = run["again"]
    assert not again["changed"] and "secret" not in again and not again["rotated"]
    assert again["token"]["id"] == created["token"]["id"]
    # A different expiry is reported, never applied silently, and nothing is issued.
    assert not run["other_expiry"]["changed"] and "secret" not in run["other_expiry"]
    assert "expires_in asks for a different expiry" in run.stderr
    assert run.stderr.count("asks for a different expiry") == 1, "warned where nothing differs"
    # Without an expiry the platform picks two years; the module returns what it picked.
    chosen = run["platform_expiry"]["token"]
    assert timestamp(chosen["expires_at"]) - timestamp(chosen["created_at"]) >= timedelta(days=730)

    rotated = run["rotated"]
    assert rotated["changed"] and rotated["rotated"] and rotated["previous_id"] == old_id
    assert "max_age" in rotated["rotation_reason"]
    # The successor is the next generation of the description; lookups see every generation.
    assert rotated["token"]["description"] == "old-ci--2" and rotated["token"]["expires_at"]
    assert tfe.token_by_id(old_id) is None
    assert not sandbox.secrets.is_live(old_secret)
    assert http_status(tfe, old_secret) == 401, "the sandbox still accepts the old secret"
    assert http_status(tfe, rotated["secret"]) == 200, "the sandbox rejects the new secret"
    assert not run["left_alone"]["changed"] and sandbox.secrets.is_live(fresh_secret)
    assert run["left_alone"]["token"]["id"] == fresh_id
    assert not run["after_rotation"]["changed"], "a fresh rotation must not be due again"
    assert run["after_rotation"]["token"]["id"] == rotated["token"]["id"]
    # Overlap: the successor is created before the previous token is deleted.
    assert writes(sandbox) == [("POST", "authentication-tokens"),
                               ("POST", "authentication-tokens"),
                               ("POST", "authentication-tokens"), ("DELETE", old_id)]
    assert described(tfe, other) == {"ci": other_id} and sandbox.secrets.is_live(other_secret)

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "absent", [
        token_task(sandbox, "absent_check", check_mode=True, description="ci", state="absent",
                   **common),
        token_task(sandbox, "removed", description="ci", state="absent", **common),
        token_task(sandbox, "removed_again", description="ci", state="absent", **common),
        token_task(sandbox, "by_id", token_id=by_id, state="absent"),
        token_task(sandbox, "by_id_again", token_id=by_id, state="absent"),
    ])
    assert run["absent_check"]["changed"] and run["absent_check"]["token"] is None
    assert run["removed"]["changed"] and run["removed"]["token"] is None
    assert not run["removed_again"]["changed"]
    assert run["by_id"]["changed"] and not run["by_id_again"]["changed"]
    assert not sandbox.secrets.is_live(created["secret"])
    assert not sandbox.secrets.is_live(by_id_secret)
    assert writes(sandbox) == [("DELETE", created["token"]["id"]), ("DELETE", by_id)]
    assert "ci" in described(tfe, other)


def test_legacy_token_create_regenerate_delete(sandbox, tmp_path):
    tfe = sandbox["tfe"]
    team = tfe.add_team("platform")
    tfe.add_token(team, "described-neighbour")

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "check", [
        token_task(sandbox, "predicted", check_mode=True, team="platform"),
    ])
    assert run["predicted"]["changed"] and run["predicted"]["rotated"]
    assert run["predicted"]["token"]["legacy"] and "secret" not in run["predicted"]
    assert set(sandbox.log.methods("tfe")) == {"GET"} and tfe.legacy_token(team) is None

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "apply", [
        token_task(sandbox, "created", team="platform"),
        token_task(sandbox, "again", team="platform"),
        token_task(sandbox, "regenerate_check", check_mode=True, team="platform",
                   rotate="always"),
        token_task(sandbox, "regenerated", team="platform", rotate="always"),
        token_task(sandbox, "by_team_id", team=team),
    ])
    created = run["created"]
    assert created["changed"] and created["token"]["legacy"]
    assert created["token"]["description"] is None
    # (regenerated later in this run) it was the secret of the token created
    assert sandbox.secrets.get(created["secret"]).subject["token_id"] == created["token"]["id"]
    assert not run["again"]["changed"] and "secret" not in run["again"]
    assert run["regenerate_check"]["changed"] and "secret" not in run["regenerate_check"]
    regenerated = run["regenerated"]
    assert regenerated["rotated"] and regenerated["previous_id"] == created["token"]["id"]
    assert not sandbox.secrets.is_live(created["secret"])
    assert http_status(tfe, created["secret"]) == 401
    assert http_status(tfe, regenerated["secret"]) == 200
    assert tfe.legacy_token(team)["id"] == regenerated["token"]["id"]
    assert not run["by_team_id"]["changed"]
    assert run["by_team_id"]["token"]["id"] == regenerated["token"]["id"]
    # Regeneration is one POST to the legacy path: nothing is deleted first.
    assert writes(sandbox) == [("POST", "authentication-token")] * 2
    assert list(described(tfe, team)) == ["described-neighbour"]

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "absent", [
        token_task(sandbox, "deleted", team="platform", state="absent"),
        token_task(sandbox, "deleted_again", team="platform", state="absent"),
    ])
    assert run["deleted"]["changed"] and not run["deleted_again"]["changed"]
    assert tfe.legacy_token(team) is None
    assert not sandbox.secrets.is_live(regenerated["secret"])
    assert list(described(tfe, team)) == ["described-neighbour"]


def request_counts(sandbox):
    """Team lookups and token list requests, with their queries."""
    teams, tokens = [], []
    for entry in sandbox.log.select("tfe"):
        query = parse_qs(entry.query)
        if entry.path.endswith("/teams"):
            teams.append(query)
        elif entry.path.endswith("/team-tokens"):
            tokens.append(query)
    return teams, tokens


def test_pagination_with_250_teams_and_300_tokens(sandbox, tmp_path):
    tfe = sandbox["tfe"]
    team_ids = tfe.add_teams(250, "team")
    target, legacy_team = team_ids[200], team_ids[249]
    deploy = tfe.add_tokens(150, [target], prefix="deploy")
    tfe.add_tokens(149, team_ids[:150], prefix="other")
    legacy_id, legacy_secret = tfe.add_token(legacy_team)
    # A team whose name differs only in case, holding the same description: q (case-insensitive
    # in the sandbox) lists it too; only the exact team may match.
    lookalike = tfe.add_team("Team-0200")
    lookalike_id, lookalike_secret = tfe.add_token(lookalike, "deploy-0149")
    teams_total = 250 + 2
    assert len(tfe.tokens()) == 301

    tasks = [
        token_task(sandbox, "last_page", team="team-0200", description="deploy-0149"),
        token_task(sandbox, "first_page", team="team-0200", description="deploy-0000"),
        token_task(sandbox, "legacy", team="team-0249"),
        info_task(sandbox, "listed", team="team-0200"),
    ]
    for ignored in (False, True):
        tfe.ignore_team_name_filter = ignored
        sandbox.log.clear()
        run = clean_playbook(sandbox, tmp_path / ("ignored" if ignored else "honoured"), tasks)
        assert not run["last_page"]["changed"] and not run["first_page"]["changed"]
        assert run["last_page"]["token"]["id"] == deploy[149][0]
        assert run["first_page"]["token"]["id"] == deploy[0][0]
        assert not run["legacy"]["changed"] and run["legacy"]["token"]["id"] == legacy_id
        listed = run["listed"]["tokens"]
        assert sorted(t["id"] for t in listed) == sorted(token_id for token_id, s in deploy)
        assert set(sandbox.log.methods("tfe")) == {"GET"}
        teams, tokens = request_counts(sandbox)
        # One team lookup per task; at most one page per 100 teams, one page when filtered.
        pages_per_lookup = math.ceil(teams_total / 100) if ignored else 1
        assert all(q["filter[names]"] in (["team-0200"], ["team-0249"]) for q in teams)
        assert all(q["page[size]"] == ["100"] for q in teams + tokens)
        assert len(teams) <= 4 * pages_per_lookup, teams
        # Token lists: narrowed by q, 151 tokens = two pages, once per described lookup.
        assert all(q.get("q") == ["team-0200"] for q in tokens), tokens
        assert len(tokens) == 3 * 2, tokens
        # + the legacy token's own GET, + the TTL policy the _info task reads for due-ness
        assert sandbox.log.select("tfe") and len(sandbox.log.select("tfe")) == \
            len(teams) + len(tokens) + 2
    assert sandbox.secrets.is_live(lookalike_secret) and sandbox.secrets.is_live(legacy_secret)
    assert described(tfe, lookalike) == {"deploy-0149": lookalike_id}


def test_rate_limit_is_waited_out_and_failed_creates_are_not_repeated_blindly(
        sandbox, tmp_path):
    tfe = sandbox["tfe"]
    steady_team, flaky_team = tfe.add_team("steady"), tfe.add_team("flaky")
    lossy_team, rotor_team = tfe.add_team("lossy"), tfe.add_team("rotor")
    tfe.add_token(steady_team, "steady")
    rotor_id, rotor_secret = tfe.add_token(rotor_team, "rotor")
    tfe.max_token_ttl = timedelta(days=30)
    sandbox.faults.add("status", platform="tfe", method="GET", path="/team-tokens$", status=429,
                       headers={"X-RateLimit-Limit": "30", "X-RateLimit-Reset": "1.500"},
                       message="You have exceeded the API's rate limit.")
    for team in (flaky_team, rotor_team):
        sandbox.faults.add("status", platform="tfe", method="POST", status=500,
                           path="/teams/%s/authentication-tokens$" % team)
    sandbox.faults.add("lost_response", platform="tfe", method="POST",
                       path="/teams/%s/authentication-tokens$" % lossy_team)
    moments = []
    add = sandbox.log.add
    sandbox.log.add = lambda entry: (moments.append((entry, time.monotonic())), add(entry))

    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "steady", team="steady", description="steady"),
        token_task(sandbox, "flaky", team="flaky", description="flaky"),
        token_task(sandbox, "lossy", team="lossy", description="lossy", ignore_errors=True),
        token_task(sandbox, "rotor", team="rotor", description="rotor", rotate="always"),
        token_task(sandbox, "too_long", team="flaky", description="long", expires_in="60d",
                   ignore_errors=True),
    ])
    # 429 on a GET: repeated once, after the 1.5 s the platform's X-RateLimit-Reset asked for.
    lists = [(e, at) for e, at in moments if e.path.endswith("/team-tokens")]
    assert [e.status for e, at in lists[:2]] == [429, 200]
    assert 1.5 <= lists[1][1] - lists[0][1] < 4, "did not wait as the platform asked"
    assert not run["steady"]["changed"]

    def requests_for(team):
        return [(e.method, e.status) for e, at in moments
                if team in e.path or (e.method == "GET" and e.path.endswith("/team-tokens"))]

    # 500 on the create POST: the module looks (GET) before it creates again; one token results.
    flaky = run["flaky"]
    assert flaky["changed"] and sandbox.secrets.is_live(flaky["secret"])
    assert list(described(tfe, flaky_team)) == ["flaky"]
    flaky_requests = [m for m, s in requests_for(flaky_team)]
    first_post = flaky_requests.index("POST")
    # (two POSTs: "too_long", on the same team, is refused before any write, below)
    assert flaky_requests[first_post + 1] == "GET" and flaky_requests.count("POST") == 2
    # A create whose answer was lost: it did happen; the module says so and does not repeat it.
    lossy = run["lossy"]
    assert lossy["failed"] and "did create token" in lossy["msg"]
    assert lossy["orphan_id"] == described(tfe, lossy_team)["lossy"]
    assert [m for m, s in requests_for(lossy_team)].count("POST") == 1
    # A rotation whose create POST failed: the previous token still works; after a look the
    # create is made again, the previous token is deleted, one generation holds the description.
    rotor = run["rotor"]
    assert rotor["rotated"] and rotor["previous_id"] == rotor_id
    assert described(tfe, rotor_team) == {"rotor--2": rotor["token"]["id"]}
    rotor_requests = requests_for(rotor_team)
    first_post = rotor_requests.index(("POST", 500))
    assert rotor_requests[first_post + 1:first_post + 3] == [("GET", 200), ("POST", 201)]
    assert sandbox.secrets.is_live(rotor["secret"]) and not sandbox.secrets.is_live(rotor_secret)
    # An expiry beyond the organization's TTL policy is refused before any write.
    assert run["too_long"]["failed"] and "status" not in run["too_long"]
    assert "beyond the cap of 30d set by the team token TTL policy" in run["too_long"]["msg"]


def test_bad_input_and_unknown_things_fail_clearly(sandbox, tmp_path):
    tfe = sandbox["tfe"]
    tfe.add_team("known")
    tfe.described_tokens_supported = False
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "unknown_team", team="nosuchteam", description="x",
                   ignore_errors=True),
        token_task(sandbox, "unknown_team_id", team="team-AAAAAAAAAAAAAAAA",
                   ignore_errors=True),
        token_task(sandbox, "past", team="known", description="x",
                   expires_at="2020-01-01T00:00:00Z", ignore_errors=True),
        token_task(sandbox, "both", team="known", description="x", token_id="at-123",
                   ignore_errors=True),
        token_task(sandbox, "bad_name", team="bad name!", ignore_errors=True),
        token_task(sandbox, "no_org", team="known", organization="", ignore_errors=True),
        token_task(sandbox, "missing_id", token_id="at-AAAAAAAAAAAAAAAA", ignore_errors=True),
        token_task(sandbox, "missing_id_check", token_id="at-AAAAAAAAAAAAAAAA",
                   check_mode=True, ignore_errors=True),
        token_task(sandbox, "unknown_org", team="known", organization="nope",
                   ignore_errors=True),
        token_task(sandbox, "old_release", team="known", description="new",
                   ignore_errors=True),
    ])
    messages = {name: run[name].get("msg", "") for name in run.results}
    assert all(run[name]["failed"] for name in run.results), messages
    assert messages["unknown_team"].startswith("team: no team named 'nosuchteam'")
    assert "may not see it" in messages["unknown_team"]
    assert messages["unknown_team_id"].startswith("team: team-AAAAAAAAAAAAAAAA was not found")
    assert "may not see it" in messages["unknown_team_id"]
    assert messages["past"].startswith("expires_at:") and "past" in messages["past"]
    assert "mutually exclusive" in messages["both"] and "description" in messages["both"]
    assert messages["bad_name"].startswith("team:")
    assert messages["no_org"].startswith("organization:")
    assert messages["missing_id"].startswith("token_id:") and "not found" in messages["missing_id"]
    assert messages["missing_id_check"].startswith("token_id:")
    assert messages["unknown_org"].startswith("organization:")
    assert "does not support described team tokens" in messages["old_release"]
    assert run["unknown_team"]["status"] == 404
    # The only write was the create an older TFE refused; nothing was created.
    assert writes(sandbox) == [("POST", "authentication-tokens")]
    assert len(tfe.tokens()) == 0


def test_info_lists_filters_and_reports_due_without_secrets(sandbox, tmp_path):
    tfe = sandbox["tfe"]
    ci, platform = tfe.add_team("ci"), tfe.add_team("platform")
    secrets = [
        tfe.add_token(ci, created_at=days_ago(120)),
        tfe.add_token(ci, "nightly", created_at=days_ago(5)),
        tfe.add_token(ci, "release", created_at=days_ago(400), expired_at=days_ago(1)),
        tfe.add_token(ci, "soon", created_at=days_ago(20), expired_at=days_ago(-10)),
        tfe.add_token(platform, "nightly", created_at=days_ago(2)),
    ]
    ids = [token_id for token_id, secret in secrets]
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        info_task(sandbox, "everything", max_age="90d", renew_before="14d"),
        info_task(sandbox, "team", team="ci"),
        info_task(sandbox, "team_by_id", team=ci),
        info_task(sandbox, "description", description="nightly"),
        info_task(sandbox, "team_and_description", team="ci", description="nightly"),
        info_task(sandbox, "expired", expired=True),
        info_task(sandbox, "expiring", expiring_within="14d"),
    ])

    def listed(name):
        return sorted(t["id"] for t in run[name]["tokens"])

    everything = {t["id"]: t for t in run["everything"]["tokens"]}
    assert sorted(everything) == sorted(ids)
    assert everything[ids[0]]["due"] and everything[ids[0]]["legacy"]
    assert not everything[ids[1]]["due"] and everything[ids[1]]["age_seconds"] >= 5 * 86400
    assert everything[ids[2]]["due"] and everything[ids[2]]["expired"]
    assert everything[ids[3]]["due"] and "renew_before" in everything[ids[3]]["due_reason"]
    assert listed("team") == listed("team_by_id") == sorted(ids[:4])
    assert listed("description") == sorted([ids[1], ids[4]])
    assert listed("team_and_description") == [ids[1]]
    assert listed("expired") == [ids[2]]
    assert listed("expiring") == sorted([ids[2], ids[3]])
    assert set(sandbox.log.methods("tfe")) == {"GET"}
    for token in run["everything"]["tokens"]:
        assert "secret" not in token and "token" not in token
    assert leaked(sandbox, repr(run.results)) == []


def adapter_params(sandbox, **options):
    params = dict((name, spec.get("default")) for name, spec in
                  list(connection_argument_spec("tfe").items()) + list(argument_spec().items()))
    params.update(connection(sandbox), **options)
    return params


def test_adapter_interface_for_the_rotation_role(sandbox):
    tfe = sandbox["tfe"]
    ci, ops = tfe.add_team("ci"), tfe.add_team("ops")
    deploy_id, deploy_secret = tfe.add_token(ci, "deploy")
    legacy_id, legacy_secret = tfe.add_token(ops)
    tfe.add_token(ops, "deploy")
    client = make_client(API["tfe"], adapter_params(sandbox))
    adapters = [TfeTeamTokenAdapter(client, adapter_params(sandbox, team="ci",
                                                           description="deploy")),
                TfeTeamTokenAdapter(client, adapter_params(sandbox, team=ops))]
    for adapter in adapters:
        adapter.validate()
    assert adapters[0].overlaps and not adapters[1].overlaps    # described / legacy
    assert adapters[0].scope_key() == adapters[1].scope_key()

    sandbox.log.clear()
    listing = adapters[0].list_scope()
    found = [adapter.find_in(listing) for adapter in adapters]
    assert [token["id"] for token in found] == [deploy_id, legacy_id]
    token_lists = [e for e in sandbox.log.select("tfe") if e.path.endswith("/team-tokens")]
    assert len(token_lists) == 1, "one listing serves every token of the scope"

    for adapter, current, old_secret in zip(adapters, found, (deploy_secret, legacy_secret)):
        token, secret = adapter.issue_replacement(current)
        assert sandbox.secrets.is_live(old_secret) is adapter.overlaps
        assert adapter.verify(secret) is True
        adapter.retire(current)      # described: deletes the previous; legacy: nothing left
        assert adapter.verify(old_secret) is False
        assert token["id"] != current["id"] and sandbox.secrets.is_live(secret)
    assert described(tfe, ci) == {"deploy--2": adapters[0].find()["id"]}
    assert TfeTeamTokenAdapter(client, adapter_params(sandbox, team="ci")).find() is None


# -- issue 13: as the real service answers ---------------------------------------------------

JSONAPI = "application/vnd.api+json"


def test_every_mutating_request_carries_the_media_type_the_service_requires(sandbox, tmp_path):
    """TFE answers 415 to a POST, PATCH or DELETE without its media type, bodiless DELETEs
    included; absent (both kinds) and a described rotation succeed with the rule on."""
    tfe = sandbox["tfe"]
    assert tfe.require_media_type           # the real service's rule is the default
    team = tfe.add_team("platform")
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "described", team="platform", description="ci"),
        token_task(sandbox, "rotated", team="platform", description="ci", rotate="always"),
        token_task(sandbox, "legacy", team="platform"),
        token_task(sandbox, "gone_described", team="platform", description="ci", state="absent"),
        token_task(sandbox, "gone_legacy", team="platform", state="absent"),
    ])
    assert run["rotated"]["rotated"] and run["gone_described"]["changed"]
    assert run["gone_legacy"]["changed"] and tfe.tokens(team) == []
    mutating = sandbox.log.writes("tfe")
    assert [(e.method, e.status) for e in mutating] == [
        ("POST", 201), ("POST", 201), ("DELETE", 204), ("POST", 201), ("DELETE", 204),
        ("DELETE", 204)]
    assert {e.content_type for e in mutating} == {JSONAPI}
    assert not sandbox.secrets.is_live(run["rotated"]["secret"])
    assert not sandbox.secrets.is_live(run["legacy"]["secret"])


def test_an_older_tfe_release_manages_the_legacy_token_and_refuses_described_clearly(
        sandbox, tmp_path):
    tfe = sandbox["tfe"]
    tfe.as_older_release()
    team = tfe.add_team("platform")
    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "legacy", team="platform"),
        token_task(sandbox, "again", team="platform"),
        token_task(sandbox, "regenerated", team="platform", rotate="always"),
        token_task(sandbox, "described", team="platform", description="ci", ignore_errors=True),
        token_task(sandbox, "gone", team="platform", state="absent"),
    ])
    assert run["legacy"]["token"]["expires_at"] is None     # never expires on those releases
    assert not run["again"]["changed"]
    assert run["regenerated"]["rotated"]
    assert run["described"]["failed"]
    assert "does not support described team tokens" in run["described"]["msg"]
    assert run["gone"]["changed"] and tfe.tokens(team) == []
    assert not sandbox.secrets.is_live(run["regenerated"]["secret"])
    # the legacy token is deleted through the team's path, the only one those releases have
    assert [e.path for e in sandbox.log.select("tfe", "DELETE")] == [
        f"/api/v2/teams/{team}/authentication-token"]


def test_a_lifetime_cap_refuses_the_successor_and_the_previous_token_stays(
        sandbox, tmp_path):
    tfe = sandbox["tfe"]
    tfe.max_token_ttl = timedelta(days=30)
    team = tfe.add_team("platform")
    token_id, secret = tfe.add_token(team, "ci", expired_at=days_ago(-20))
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "rotated", team="platform", description="ci", rotate="always",
                   expires_in="90d", ignore_errors=True),
    ])
    assert run["rotated"]["failed"] and not run["rotated"]["changed"]
    assert "expires_in: " in run["rotated"]["msg"]
    assert "beyond the cap of 30d set by the team token TTL policy" in run["rotated"]["msg"]
    assert sandbox.log.writes("tfe") == []      # refused before any write
    assert http_status(tfe, secret) == 200
    assert sandbox.secrets.is_live(secret) and tfe.token_by_id(token_id) is not None
