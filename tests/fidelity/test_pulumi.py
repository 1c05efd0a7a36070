"""Fidelity of the Pulumi Cloud sandbox against api/pulumi.md: pulumi-cloud-sdk and raw HTTP."""
from __future__ import annotations

import json
import re
import urllib.error
from datetime import timedelta

import pytest
import requests
from pulumi_cloud_sdk.api_client import ApiClient
from pulumi_cloud_sdk.apis.organizations_api_ import OrganizationsApi
from pulumi_cloud_sdk.apis.users_api_ import UsersApi
from pulumi_cloud_sdk.configuration import Configuration
from pulumi_cloud_sdk.models.create_org_access_token_request_ import CreateOrgAccessTokenRequest
from pulumi_cloud_sdk.models.create_personal_access_token_request_ import (
    CreatePersonalAccessTokenRequest)
from pulumi_cloud_sdk.models.create_team_access_token_request_ import (
    CreateTeamAccessTokenRequest)

from tests.sandbox import Sandbox
from tests.sandbox.core import days_ago, isoformat_s, utcnow

SECRET = re.compile(r"^pul-[0-9a-f]{40}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UNAUTHORIZED = {"code": 401, "message": "Unauthorized: No credentials provided or are invalid."}
TOKEN_NOT_FOUND = {"code": 404, "message": "Not Found: token not found"}
NAME_TAKEN = {"code": 409, "message": "Conflict: token name already exists"}
FORBIDDEN = {"code": 403, "message": "Forbidden: you are not allowed to perform this operation"}
TOKEN_FIELDS = {"id", "name", "description", "created", "lastUsed", "expires", "admin",
                "createdBy", "type"}


class Sdk:
    """The official SDK pointed at the sandbox with one credential."""

    def __init__(self, platform, token: str) -> None:
        config = Configuration()
        config.host, config.access_token = platform.url, token
        client = ApiClient(config)
        self.users, self.orgs = UsersApi(client), OrganizationsApi(client)


def sdk_error(call, *args, **kwargs) -> tuple[int, dict]:
    """Run an SDK call that must fail; return its status and decoded error body."""
    with pytest.raises(urllib.error.HTTPError) as failure:
        call(*args, **kwargs)
    return failure.value.code, json.loads(failure.value.read())


@pytest.fixture(scope="module")
def running_sandbox():
    with Sandbox() as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox):
    """Overrides conftest's fixture: one Sandbox per module, since stopping one takes about a
    second; each test still starts from a fresh Pulumi state, no faults and an empty log."""
    running_sandbox["pulumi"].reset()
    running_sandbox.faults.clear()
    running_sandbox.log.clear()
    return running_sandbox


@pytest.fixture
def pulumi(sandbox):
    return sandbox["pulumi"]


@pytest.fixture
def sdk(pulumi) -> Sdk:
    return Sdk(pulumi, pulumi.admin_token)


def call(pulumi, method: str, path: str, token: str | None = "admin",
         **kwargs) -> requests.Response:
    """Raw HTTP with ``Authorization: token <token>`` (None: no header)."""
    token = pulumi.admin_token if token == "admin" else token
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers.setdefault("Authorization", f"token {token}")
    return requests.request(method, pulumi.url + path, headers=headers, timeout=5, **kwargs)


def whoami(pulumi, token: str) -> requests.Response:
    return call(pulumi, "GET", "/api/user", token)


def org_path(pulumi, suffix: str = "") -> str:
    return f"/api/orgs/{pulumi.org_name}{suffix}"


def team_path(pulumi, suffix: str = "") -> str:
    return org_path(pulumi, f"/teams/{pulumi.team_name}{suffix}")


def in_two_days() -> int:
    return int((utcnow() + timedelta(days=2)).timestamp())


# --------------------------------------------------------------------------- personal tokens
def test_base_url_is_the_host_root(pulumi):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", pulumi.url)


def test_sdk_personal_token_lifecycle(pulumi, sdk):
    created = sdk.users.create_personal_token(CreatePersonalAccessTokenRequest("ci", 0))
    assert UUID.match(created.id) and SECRET.match(created.token_value)
    raw = call(pulumi, "GET", "/api/user/tokens").json()
    listed = next(token for token in raw["tokens"] if token["id"] == created.id)
    assert set(listed) == TOKEN_FIELDS and "continuationToken" not in raw
    assert created.token_value not in json.dumps(raw)
    assert listed | {"created": None} == {
        "id": created.id, "name": "", "description": "ci", "created": None, "lastUsed": 0,
        "expires": 0, "admin": False, "createdBy": "alice", "type": "personal"}
    assert ISO_SECONDS.match(listed["created"])
    assert whoami(pulumi, created.token_value).json()["githubLogin"] == "alice"

    assert sdk.users.delete_personal_token(created.id) == b""   # 204, no body
    assert [t.id for t in sdk.users.list_personal_tokens(filter="all").tokens] == \
        [pulumi.admin_token_id]
    assert whoami(pulumi, created.token_value).json() == UNAUTHORIZED
    assert not pulumi.sandbox.secrets.is_live(created.token_value)
    assert sdk_error(sdk.users.delete_personal_token, created.id) == (404, TOKEN_NOT_FOUND)
    assert [e.status for e in pulumi.sandbox.log.select("pulumi", "DELETE")] == [204, 404]


def test_sdk_current_user_for_a_user_and_a_team_bot(pulumi, sdk):
    user = sdk.users.get_current_user()
    assert (user.github_login, user.email, user.token_info) == ("alice", "alice@example.com", None)
    assert [(org.name, org.role.value) for org in user.organizations] == [("tokenops", "admin")]
    _ignored, team_secret = pulumi.add_team_token(pulumi.team_name, "bot")
    bot = Sdk(pulumi, team_secret).users.get_current_user()
    assert bot.github_login == "platform"
    assert (bot.token_info.name, bot.token_info.organization, bot.token_info.team) == \
        ("bot", "tokenops", "platform")


def test_create_answers_200_and_omitted_expires_means_never(pulumi):
    response = call(pulumi, "POST", "/api/user/tokens", json={"description": "no expiry"})
    assert response.status_code == 200 and set(response.json()) == {"id", "tokenValue"}
    assert pulumi.token_by_id(response.json()["id"])["expires"] == 0


def test_personal_list_filters_hide_expired_by_default(pulumi, sdk):
    fresh, _ignored = pulumi.add_personal_token("fresh", expires=utcnow() + timedelta(days=30))
    stale, _ignored = pulumi.add_personal_token("stale", created=days_ago(60), expires=days_ago(1))

    def ids(**query) -> set[str]:
        return {token.id for token in sdk.users.list_personal_tokens(**query).tokens}

    admin = pulumi.admin_token_id
    assert ids() == ids(filter="active") == {admin, fresh}
    assert ids(filter="expired") == {stale}
    assert ids(filter="all") == {admin, fresh, stale}


def test_refresh_tokens_are_listed_but_never_authenticate(pulumi, sdk):
    refresh_id, refresh_secret = pulumi.add_refresh_token("agent")
    listed = {t.id: t.type.value for t in sdk.users.list_personal_tokens().tokens}
    assert listed[refresh_id] == "refresh"
    assert whoami(pulumi, refresh_secret).json() == UNAUTHORIZED
    sdk.users.delete_personal_token(refresh_id)
    assert pulumi.token_by_id(refresh_id) is None


def test_personal_tokens_of_another_user_are_invisible(pulumi):
    _ignored, bob = pulumi.add_personal_token("bob's", user=pulumi.member_login)
    alice_ids = {t["id"] for t in call(pulumi, "GET", "/api/user/tokens").json()["tokens"]}
    bob_tokens = call(pulumi, "GET", "/api/user/tokens", bob).json()["tokens"]
    assert [t["description"] for t in bob_tokens] == ["bob's"]
    assert bob_tokens[0]["id"] not in alice_ids
    response = call(pulumi, "DELETE", f"/api/user/tokens/{bob_tokens[0]['id']}")
    assert (response.status_code, response.json()) == (404, TOKEN_NOT_FOUND)


# --------------------------------------------------------------------------- pagination
def test_pagination_walks_three_pages_through_the_sdk(pulumi, sdk):
    pulumi.add_personal_tokens(250)
    pages, cursor = [], None
    while True:
        page = sdk.users.list_personal_tokens(continuation_token=cursor, max_results=100)
        pages.append([token.id for token in page.tokens])
        cursor = page.continuation_token
        if cursor is None:
            break
    assert [len(page) for page in pages] == [100, 100, 51]
    everything = [token_id for page in pages for token_id in page]
    assert len(set(everything)) == 251 and everything[0] == pulumi.admin_token_id


def test_last_page_may_say_null_and_default_page_is_100(pulumi):
    pulumi.add_personal_tokens(120)
    first = call(pulumi, "GET", "/api/user/tokens").json()
    assert len(first["tokens"]) == 100 and first["continuationToken"]
    last = call(pulumi, "GET", "/api/user/tokens",
                params={"continuationToken": first["continuationToken"]}).json()
    assert len(last["tokens"]) == 21 and "continuationToken" not in last
    pulumi.null_continuation_token = True
    last = call(pulumi, "GET", "/api/user/tokens",
                params={"continuationToken": first["continuationToken"]}).json()
    assert last["continuationToken"] is None


@pytest.mark.parametrize("query, message", [
    ({"maxResults": "0"}, "Bad Request: maxResults must be between 1 and 1000"),
    ({"maxResults": "1001"}, "Bad Request: maxResults must be between 1 and 1000"),
    ({"maxResults": "ten"}, "Bad Request: invalid maxResults 'ten'"),
    ({"continuationToken": "not-a-cursor"}, "Bad Request: invalid continuation token"),
    ({"filter": "deleted"}, "Bad Request: invalid filter 'deleted'"),
    ({"sortBy": "secret"}, "Bad Request: invalid sortBy 'secret'"),
])
def test_bad_list_queries_answer_400(pulumi, query, message):
    response = call(pulumi, "GET", "/api/user/tokens", params=query)
    assert (response.status_code, response.json()) == (400, {"code": 400, "message": message})


def test_search_and_sort(pulumi, sdk):
    pulumi.add_org_token("zeta-bot")
    pulumi.add_org_token("alpha-bot")
    pulumi.add_org_token("other")
    page = sdk.orgs.list_org_tokens(pulumi.org_name, search="BOT", sort_by="name",
                                    sort_direction="desc")
    assert [token.name for token in page.tokens] == ["zeta-bot", "alpha-bot"]


# --------------------------------------------------------------------------- org tokens
def test_sdk_org_token_lifecycle_and_bot_identity(pulumi, sdk):
    request = CreateOrgAccessTokenRequest(description="deployer", expires=0, name="ci-admin",
                                          admin=True)
    created = sdk.orgs.create_org_token(pulumi.org_name, request)
    assert SECRET.match(created.token_value)
    [token] = sdk.orgs.list_org_tokens(pulumi.org_name).tokens
    assert (token.id, token.name, token.admin, token.type.value, token.created_by) == \
        (created.id, "ci-admin", True, "organization", "alice")
    user = whoami(pulumi, created.token_value).json()
    assert user["githubLogin"] == pulumi.org_name
    assert user["tokenInfo"] == {"name": "ci-admin", "organization": "tokenops", "team": ""}

    sdk.orgs.delete_org_token(pulumi.org_name, created.id)
    assert sdk.orgs.list_org_tokens(pulumi.org_name, filter="all").tokens == []
    assert whoami(pulumi, created.token_value).status_code == 401


def test_org_token_name_is_reserved_after_delete(pulumi, sdk):
    request = CreateOrgAccessTokenRequest(description="", expires=0, name="once", admin=False)
    created = sdk.orgs.create_org_token(pulumi.org_name, request)
    sdk.orgs.delete_org_token(pulumi.org_name, created.id)
    assert sdk_error(sdk.orgs.create_org_token, pulumi.org_name, request) == (409, NAME_TAKEN)
    team_request = CreateTeamAccessTokenRequest(description="", expires=0, name="once")
    assert sdk_error(sdk.orgs.create_team_token, pulumi.org_name, pulumi.team_name,
                     team_request) == (409, NAME_TAKEN)
    assert pulumi.name_reserved("once")


@pytest.mark.parametrize("body, message", [
    ({"admin": False}, "Bad Request: Token name is required"),
    ({"name": "x" * 41}, "Bad Request: Token name must be at most 40 characters"),
    ({"name": "has space"},
     "Bad Request: Token name may only contain alphanumeric, hyphens, or underscores"),
    ({"name": "ok", "admin": "yes"}, "Bad Request: admin must be a boolean"),
    ({"name": "ok", "roleID": "no-such-role"}, "Bad Request: role 'no-such-role' not found"),
    ({"name": "ok", "expires": "soon"}, "Bad Request: expires must be a unix timestamp in seconds"),
])
def test_org_token_validation(pulumi, body, message):
    response = call(pulumi, "POST", org_path(pulumi, "/tokens"), json=body)
    assert (response.status_code, response.json()) == (400, {"code": 400, "message": message})
    assert not pulumi.name_reserved("ok")


def test_forty_character_name_is_accepted(pulumi):
    response = call(pulumi, "POST", org_path(pulumi, "/tokens"), json={"name": "a-_9" * 10})
    assert response.status_code == 200


def test_org_tokens_with_a_custom_role(pulumi, sdk):
    pulumi.add_role("role-1", "Deployer")
    request = CreateOrgAccessTokenRequest(description="", expires=0, name="roled", admin=False,
                                          role_id="role-1")
    created = sdk.orgs.create_org_token(pulumi.org_name, request)
    pulumi.add_org_token("plain")
    [token] = sdk.orgs.list_org_tokens_with_role(pulumi.org_name, "role-1").tokens
    assert token.id == created.id and token.role.name == "Deployer"
    assert sdk_error(sdk.orgs.list_org_tokens_with_role, pulumi.org_name, "nope")[0] == 404


def test_org_delete_of_unknown_or_other_kind(pulumi):
    team_token, _ignored = pulumi.add_team_token(pulumi.team_name, "t1")
    unknown = call(pulumi, "DELETE", org_path(pulumi, "/tokens/no-such-id"))
    wrong_kind = call(pulumi, "DELETE", org_path(pulumi, f"/tokens/{team_token}"))
    assert (unknown.status_code, unknown.json()) == (404, TOKEN_NOT_FOUND)
    assert wrong_kind.json() == {
        "code": 400, "message": "Bad Request: the requested token is not an organization token"}


# --------------------------------------------------------------------------- team tokens
def test_sdk_team_token_lifecycle(pulumi, sdk):
    request = CreateTeamAccessTokenRequest(description="deploys", expires=in_two_days(),
                                           name="team-ci")
    created = sdk.orgs.create_team_token(pulumi.org_name, pulumi.team_name, request)
    [token] = sdk.orgs.list_team_tokens(pulumi.org_name, pulumi.team_name).tokens
    assert (token.id, token.type.value, token.expires) == (created.id, "team", request.expires)
    assert whoami(pulumi, created.token_value).json()["tokenInfo"]["team"] == "platform"
    sdk.orgs.delete_team_token(pulumi.org_name, pulumi.team_name, created.id)
    assert sdk.orgs.list_team_tokens(pulumi.org_name, pulumi.team_name).tokens == []
    assert whoami(pulumi, created.token_value).json() == UNAUTHORIZED


def test_team_delete_rejects_other_kinds_and_teams(pulumi):
    org_token, _ignored = pulumi.add_org_token("org-one")
    other_team_token, _ignored = pulumi.add_team_token("other-team", "elsewhere")
    wrong_kind = call(pulumi, "DELETE", team_path(pulumi, f"/tokens/{org_token}"))
    other_team = call(pulumi, "DELETE", team_path(pulumi, f"/tokens/{other_team_token}"))
    assert (wrong_kind.status_code, wrong_kind.json()) == (
        400, {"code": 400, "message": "Bad Request: the requested token is not a team token"})
    assert (other_team.status_code, other_team.json()) == (404, TOKEN_NOT_FOUND)
    assert pulumi.token_by_id(org_token) and pulumi.token_by_id(other_team_token)


def test_teams_lookup(pulumi, sdk):
    pulumi.add_teams(3)
    team = sdk.orgs.get_team(pulumi.org_name, pulumi.team_name)
    assert (team.name, team.display_name, team.kind.value) == ("platform", "Platform", "pulumi")
    assert len(sdk.orgs.list_teams(pulumi.org_name).teams) == 4
    missing = call(pulumi, "GET", org_path(pulumi, "/teams/nope/tokens"))
    assert missing.json() == {"code": 404, "message": "Not Found: team 'nope' not found"}


# --------------------------------------------------------------------------- expiry
def test_expires_beyond_two_years_is_rejected(pulumi, sdk):
    too_far = int((utcnow() + timedelta(days=2 * 365 + 2)).timestamp())
    status, body = sdk_error(sdk.users.create_personal_token,
                             CreatePersonalAccessTokenRequest("far", too_far))
    assert (status, body) == (400, {"code": 400, "message":
                                    "Bad Request: expires must be no more than two years from now"})
    past = call(pulumi, "POST", "/api/user/tokens", json={"expires": 1_000_000_000})
    assert past.json() == {"code": 400, "message": "Bad Request: expires must be in the future"}
    assert len(pulumi.tokens("personal")) == 1


def test_expired_token_gets_401_and_moves_to_the_expired_filter(pulumi):
    token_id, secret = pulumi.add_personal_token("short", created=days_ago(3), expires=days_ago(1))
    assert whoami(pulumi, secret).json() == UNAUTHORIZED
    assert not pulumi.sandbox.secrets.is_live(secret)
    expired = call(pulumi, "GET", "/api/user/tokens", params={"filter": "expired"}).json()
    assert [token["id"] for token in expired["tokens"]] == [token_id]


# --------------------------------------------------------------------------- auth
@pytest.mark.parametrize("headers", [{}, {"Authorization": "token pul-" + "0" * 40},
                                     {"Authorization": "token "}])
def test_missing_or_invalid_credentials_get_401(pulumi, headers):
    response = call(pulumi, "GET", "/api/user/tokens", token=None, headers=headers)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_bearer_scheme_is_refused(pulumi):
    response = call(pulumi, "GET", "/api/user", token=None,
                    headers={"Authorization": f"Bearer {pulumi.admin_token}"})
    assert response.status_code == 401


@pytest.mark.parametrize("accept", ["application/vnd.pulumi+8", "application/vnd.pulumi+9",
                                    "application/json"])
def test_every_accept_header_is_served(pulumi, accept):
    response = call(pulumi, "GET", "/api/user", headers={"Accept": accept})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"


def test_admin_org_token_manages_team_tokens_but_not_org_tokens(pulumi):
    _ignored, admin_bot = pulumi.add_org_token("admin-bot", admin=True)
    listed = call(pulumi, "GET", org_path(pulumi, "/tokens"), admin_bot)
    created = call(pulumi, "POST", team_path(pulumi, "/tokens"), admin_bot, json={"name": "tt"})
    refused = call(pulumi, "POST", org_path(pulumi, "/tokens"), admin_bot, json={"name": "oo"})
    assert listed.status_code == 200 and created.status_code == 200
    assert (refused.status_code, refused.json()) == (403, FORBIDDEN)
    assert pulumi.token_by_id(created.json()["id"])["createdBy"] == pulumi.org_name


@pytest.mark.parametrize("kind", ["member", "plain-org-token", "team-token"])
def test_callers_without_admin_rights_get_403(pulumi, kind):
    secret = {"member": lambda: pulumi.add_personal_token(user=pulumi.member_login)[1],
              "plain-org-token": lambda: pulumi.add_org_token("plain")[1],
              "team-token": lambda: pulumi.add_team_token(pulumi.team_name, "tt")[1]}[kind]()
    for method, path in [("GET", org_path(pulumi, "/tokens")),
                         ("POST", team_path(pulumi, "/tokens"))]:
        response = call(pulumi, method, path, secret, json={"name": "x"})
        assert (response.status_code, response.json()) == (403, FORBIDDEN)


def test_org_tokens_cannot_manage_personal_tokens(pulumi):
    _ignored, bot = pulumi.add_org_token("bot", admin=True)
    response = call(pulumi, "GET", "/api/user/tokens", bot)
    assert (response.status_code, response.json()["message"]) == (
        403, "Forbidden: personal access tokens can only be managed by a user")


def test_use_updates_last_used(pulumi):
    token_id, secret = pulumi.add_personal_token("used")
    before = int(utcnow().timestamp())
    whoami(pulumi, secret)
    assert pulumi.token_by_id(token_id)["lastUsed"] >= before


# --------------------------------------------------------------------------- errors
def test_unknown_org_route_and_method(pulumi):
    org = call(pulumi, "GET", "/api/orgs/elsewhere/tokens")
    route = call(pulumi, "GET", "/api/nothing")
    method = call(pulumi, "PUT", "/api/user/tokens")
    assert org.json() == {"code": 404, "message": "Not Found: organization 'elsewhere' not found"}
    assert route.json() == {"code": 404, "message": "Not Found: GET /api/nothing"}
    assert (method.status_code, method.json()["code"]) == (405, 405)
    assert "POST" in method.headers["Allow"]
    pulumi.router_404_plain_text = True
    plain = call(pulumi, "GET", "/api/nothing")
    assert (plain.status_code, plain.text) == (404, "404 page not found\n")


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]"])
def test_malformed_bodies_answer_400(pulumi, data):
    response = call(pulumi, "POST", "/api/user/tokens", data=data,
                    headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == 400


def test_rate_limit_answers_429_with_retry_after(pulumi):
    pulumi.enforce_rate_limit(2, 60)
    statuses = [call(pulumi, "GET", "/api/user").status_code for _ignored in range(3)]
    limited = call(pulumi, "GET", "/api/user")
    assert statuses == [200, 200, 429]
    assert limited.json() == {"code": 429, "message": "Too Many Requests: rate limit exceeded"}
    assert limited.headers["Retry-After"] == "60"
    pulumi.send_retry_after = False
    assert "Retry-After" not in call(pulumi, "GET", "/api/user").headers


def test_status_fault_uses_the_platform_error_body(sandbox, pulumi):
    sandbox.faults.add("status", platform="pulumi", method="GET", status=503,
                       headers={"Retry-After": "2"})
    response = call(pulumi, "GET", "/api/user")
    assert (response.status_code, response.json()) == (
        503, {"code": 503, "message": "injected fault"})
    assert response.headers["Retry-After"] == "2"


def test_lost_response_creates_the_token_but_the_client_never_hears(sandbox, pulumi):
    sandbox.faults.add("lost_response", platform="pulumi", method="POST")
    with pytest.raises(requests.ConnectionError):
        call(pulumi, "POST", org_path(pulumi, "/tokens"), json={"name": "ghost"})
    [ghost] = pulumi.tokens("organization")
    assert ghost["name"] == "ghost" and sandbox.secrets.is_live(pulumi.secret_of(ghost["id"]))
    retry = call(pulumi, "POST", org_path(pulumi, "/tokens"), json={"name": "ghost"})
    assert retry.json() == NAME_TAKEN


def test_drop_fault_changes_nothing(sandbox, pulumi):
    token_id, secret = pulumi.add_personal_token("kept")
    sandbox.faults.add("drop", platform="pulumi", method="DELETE")
    with pytest.raises(requests.ConnectionError):
        call(pulumi, "DELETE", f"/api/user/tokens/{token_id}")
    assert pulumi.token_by_id(token_id) is not None and whoami(pulumi, secret).status_code == 200


# --------------------------------------------------------------------------- seed helpers
def test_seed_helpers_back_date_and_expose_state(pulumi):
    created = days_ago(40)
    expires = utcnow() + timedelta(days=10)
    token_id, secret = pulumi.add_org_token("aged", admin=True, description="d", created=created,
                                            expires=expires, last_used=days_ago(2))
    token = pulumi.token_by_id(token_id)
    assert token["created"] == isoformat_s(created)
    assert token["expires"] == int(expires.timestamp()) and token["lastUsed"] > 0
    assert pulumi.secret_of(token_id) == secret and SECRET.match(secret)
    with pytest.raises(ValueError):
        pulumi.add_team_token(pulumi.team_name, "aged")
    assert [t["name"] for t in pulumi.tokens("organization")] == ["aged"]


@pytest.mark.parametrize("style, pattern", [
    ("iso_ms", r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"),
    ("space", r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$"),
])
def test_created_style_switch(pulumi, style, pattern):
    pulumi.created_style = style
    [token] = call(pulumi, "GET", "/api/user/tokens").json()["tokens"]
    assert re.match(pattern, token["created"])


def test_seed_demo_has_due_and_fresh_tokens(pulumi):
    pulumi.seed_demo()
    tokens = {token["description"] or token["name"]: token for token in pulumi.tokens()}
    assert {"ci-deploy", "laptop", "ci-org-admin", "platform-deployer", "old-expired",
            "agent signup"} <= set(tokens)
    ninety_days_ago = isoformat_s(days_ago(90))
    assert tokens["ci-deploy"]["created"] < ninety_days_ago < tokens["laptop"]["created"]
    assert tokens["ci-org-admin"]["created"] < ninety_days_ago
    expired = tokens["old-expired"]
    assert not pulumi.sandbox.secrets.is_live(pulumi.secret_of(expired["id"]))


# ------------------------------------------------------ corrections found against real sources
NOT_TEAM_TOKEN = {"code": 400, "message": "Bad Request: the requested token is not a team token"}


def test_team_delete_of_a_token_that_is_gone_answers_400(pulumi, sdk):
    request = CreateTeamAccessTokenRequest(description="", expires=0, name="short-lived")
    created = sdk.orgs.create_team_token(pulumi.org_name, pulumi.team_name, request)
    sdk.orgs.delete_team_token(pulumi.org_name, pulumi.team_name, created.id)
    again = call(pulumi, "DELETE", team_path(pulumi, f"/tokens/{created.id}"))
    assert (again.status_code, again.json()) == (400, NOT_TEAM_TOKEN)
    never = call(pulumi, "DELETE", team_path(pulumi, "/tokens/no-such-id"))
    assert (never.status_code, never.json()) == (400, NOT_TEAM_TOKEN)
    pulumi.gone_team_token_delete_status = 404
    assert call(pulumi, "DELETE", team_path(pulumi, f"/tokens/{created.id}")).json() \
        == TOKEN_NOT_FOUND


def test_a_first_create_with_a_name_used_before_is_409_for_team_tokens_too(pulumi):
    team_token, _secret = pulumi.add_team_token(pulumi.team_name, "nightly")
    pulumi.delete_token(team_token)
    assert pulumi.tokens("team") == []
    answer = call(pulumi, "POST", team_path(pulumi, "/tokens"),
                  json={"name": "nightly", "description": "", "expires": 0})
    assert (answer.status_code, answer.json()) == (409, NAME_TAKEN)
    assert pulumi.tokens("team") == []


@pytest.mark.parametrize("method,path", [("GET", "/api/user/tokens"),
                                         ("GET", "/api/orgs/tokenops/tokens"),
                                         ("DELETE", "/api/user/tokens/{id}")])
def test_content_type_and_accept_on_every_call_are_served(pulumi, method, path):
    """The vendor's clients send both on every request, GET and DELETE included."""
    token_id, _secret = pulumi.add_personal_token("to-delete")
    headers = {"Content-Type": "application/json", "Accept": "application/vnd.pulumi+8"}
    answer = call(pulumi, method, path.format(id=token_id), headers=headers)
    assert answer.status_code in (200, 204)


# --------------------------------------------------------------------------- expiry policy
# pulumi/docs#20344 and the 2026-07-27 blog "Enforce Access Token Expiry Policies": an
# organization caps token expiry in days (maxAccessTokenExpiryDays, GET /api/orgs/{org}/metadata);
# a token that never expires or lives longer gets 403 on every request against the
# organization; organization and team token creates over the cap are refused, personal ones are
# not. pulumi/docs#21382: compliance is judged on the total lifetime, creation to expiry.
def in_days(days: float) -> int:
    return int((utcnow() + timedelta(days=days)).timestamp())


def compliant_admin(pulumi, days: int = 30) -> Sdk:
    """The sandbox's admin credential never expires; under a policy it needs one that complies."""
    _ignored, secret = pulumi.add_personal_token("ci admin", expires=in_days(days))
    return Sdk(pulumi, secret)


def test_sdk_reads_the_expiry_policy_from_the_organization_metadata(pulumi, sdk):
    assert sdk.orgs.get_organization_metadata(pulumi.org_name).max_access_token_expiry_days == 0
    pulumi.max_access_token_expiry_days = 90
    metadata = compliant_admin(pulumi).orgs.get_organization_metadata(pulumi.org_name)
    assert metadata.max_access_token_expiry_days == 90 and metadata.user_role.value == "admin"


def test_tokens_beyond_the_policy_get_403_on_organization_requests_only(pulumi):
    never_id, never = pulumi.add_org_token("never", admin=True)
    _long_id, long_lived = pulumi.add_org_token("long", admin=True, created=days_ago(10),
                                                expires=in_days(355))
    _short_id, short = pulumi.add_org_token("short", admin=True, expires=in_days(80))
    pulumi.max_access_token_expiry_days = 90
    for secret in (never, long_lived):
        refused = call(pulumi, "GET", org_path(pulumi, "/tokens"), secret)
        assert refused.status_code == 403
        assert refused.json()["message"].startswith(
            "Forbidden: access token does not comply with the access token expiry policy of "
            "organization 'tokenops' (tokens may live at most 90 days)")
        assert whoami(pulumi, secret).status_code == 200      # /api/user is not guarded
    assert call(pulumi, "GET", org_path(pulumi, "/tokens"), short).status_code == 200
    assert pulumi.token_by_id(never_id) is not None           # refused, not deleted


def test_remaining_lifetime_rule_lets_an_old_long_token_age_into_compliance(pulumi):
    _ignored, old = pulumi.add_org_token("old", admin=True, created=days_ago(300),
                                         expires=in_days(60))
    pulumi.max_access_token_expiry_days = 90
    assert call(pulumi, "GET", org_path(pulumi, "/tokens"), old).status_code == 403
    pulumi.expiry_policy_rule = "remaining"
    assert call(pulumi, "GET", org_path(pulumi, "/tokens"), old).status_code == 200


def test_creates_over_the_policy_are_refused_for_machine_tokens_not_personal_ones(pulumi):
    pulumi.max_access_token_expiry_days = 90
    admin = compliant_admin(pulumi)
    over = {"code": 400, "message": "Bad Request: expires must be within the organization's "
                                    "maximum access token expiry of 90 days"}
    for expires in (0, in_days(91)):
        request = CreateOrgAccessTokenRequest(description="", expires=expires, name="o%d" % expires,
                                              admin=False)
        assert sdk_error(admin.orgs.create_org_token, pulumi.org_name, request) == (400, over)
        team = CreateTeamAccessTokenRequest(description="", expires=expires, name="t%d" % expires)
        assert sdk_error(admin.orgs.create_team_token, pulumi.org_name, pulumi.team_name,
                         team) == (400, over)
    within = CreateOrgAccessTokenRequest(description="", expires=in_days(89), name="ok",
                                         admin=False)
    assert admin.orgs.create_org_token(pulumi.org_name, within).token_value
    personal = admin.users.create_personal_token(
        CreatePersonalAccessTokenRequest(description="never", expires=0))
    assert personal.token_value


def test_list_teams_answers_machine_tokens_and_is_guarded_by_the_expiry_policy(pulumi):
    """"List teams" (GET /api/orgs/{org}/teams) is allowed to team, organization and admin
    tokens (the permission table of pulumi/docs content/docs/pulumi-cloud/access-management/
    access-tokens.md); it is a request against the organization, so the expiry policy guards it,
    and a token over the cap gets 403 there while /api/user still answers 200."""
    _ignored, org = pulumi.add_org_token("member-bot", expires=in_days(300))
    _ignored, team = pulumi.add_team_token(pulumi.team_name, "team-bot", expires=in_days(300))
    sdk_teams = [team.name for team in Sdk(pulumi, org).orgs.list_teams(pulumi.org_name).teams]
    assert sdk_teams == [pulumi.team_name]
    assert Sdk(pulumi, team).orgs.list_teams(pulumi.org_name).teams
    pulumi.max_access_token_expiry_days = 90
    for secret in (org, team):
        assert call(pulumi, "GET", org_path(pulumi, "/teams"), secret).status_code == 403
        assert whoami(pulumi, secret).status_code == 200


def test_expiry_policy_after_create_fault_tightens_the_policy_after_a_create(pulumi, sdk):
    pulumi.expiry_policy_after_create = 90
    request = CreateOrgAccessTokenRequest(description="", expires=in_days(300), name="made",
                                          admin=False)
    made = sdk.orgs.create_org_token(pulumi.org_name, request)
    assert pulumi.max_access_token_expiry_days == 90 and pulumi.expiry_policy_after_create is None
    assert call(pulumi, "GET", org_path(pulumi, "/teams"), made.token_value).status_code == 403


def test_metadata_status_switch_makes_the_policy_unreadable(pulumi, sdk):
    pulumi.metadata_status = 403
    assert sdk_error(sdk.orgs.get_organization_metadata, pulumi.org_name) == (403, FORBIDDEN)


# --------------------------------------------------------------------------- roles
def test_audit_logs_answer_admin_tokens_and_admin_roles_only(pulumi, sdk):
    """"Get audit log events" is in the Admin column only of the docs' permission table; a
    custom role acts as its defaultIdentifier (AccessTokenRole in pulumi-cloud-sdk)."""
    pulumi.add_role("role-admin", "Auditor", default_identifier="admin")
    pulumi.add_role("role-deploy", "Deployer")
    secrets = {name: pulumi.add_org_token(name, **options)[1] for name, options in (
        ("admin", {"admin": True}), ("member", {}), ("auditor", {"role_id": "role-admin"}),
        ("deployer", {"role_id": "role-deploy"}))}
    assert sdk.orgs.list_audit_log_events_handler_v1(pulumi.org_name).audit_log_events == []
    for name, expected in (("admin", 200), ("member", 403), ("auditor", 200), ("deployer", 403)):
        response = call(pulumi, "GET", org_path(pulumi, "/auditlogs"), secrets[name])
        assert response.status_code == expected, name


def test_sdk_lists_an_org_token_with_admin_and_a_custom_role(pulumi, sdk):
    pulumi.add_role("role-1", "Deployer")
    request = CreateOrgAccessTokenRequest(description="ci", expires=0, name="both", admin=True,
                                          role_id="role-1")
    created = sdk.orgs.create_org_token(pulumi.org_name, request)
    [token] = sdk.orgs.list_org_tokens(pulumi.org_name).tokens
    assert (token.id, token.admin, token.role.id, token.role.name,
            token.role.default_identifier.value) == (created.id, True, "role-1", "Deployer",
                                                     "member")


def test_drop_role_on_create_fault_creates_a_member_token(pulumi, sdk):
    pulumi.add_role("role-1", "Deployer")
    pulumi.drop_role_on_create = True
    request = CreateOrgAccessTokenRequest(description="", expires=0, name="roleless",
                                          admin=False, role_id="role-1")
    created = sdk.orgs.create_org_token(pulumi.org_name, request)
    assert "role" not in pulumi.token_by_id(created.id)
