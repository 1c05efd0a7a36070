"""Fidelity of the PactFlow sandbox to api/pactflow.md; no official SDK, so plain requests."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest
import requests

from tests.sandbox import Sandbox
from tests.sandbox.core import days_ago, utcnow

HAL = "application/hal+json;charset=utf-8"
READ_ONLY_DESCRIPTION = "Read only token (developer)"
READ_WRITE_DESCRIPTION = "Read/write token (CI)"
UNAUTHORIZED = {"error": {"message": "Unauthorized: a valid API token is required"}}
READ_ONLY_REFUSED = {"error": {"message":
                               "Unauthorized: a read/write API token is required for this action"}}
ACCESS_DENIED = {"error": {"message":
                           "Access denied: you do not have permission to perform this action"}}


class Client:
    """Requests against the sandbox with a bearer token (the admin's read-write one by default)."""

    def __init__(self, platform) -> None:
        self.platform = platform

    def call(self, method: str, path: str, token: str | None = None,
             headers: dict | None = None, extra_headers: dict | None = None,
             **kwargs) -> requests.Response:
        """``headers`` replaces the default ones (bearer, Accept); ``extra_headers`` adds."""
        if headers is None:
            headers = {"Authorization": f"Bearer {token or self.platform.admin_token}",
                       "Accept": "application/hal+json, application/json"}
        return requests.request(method, self.platform.url + path,
                                headers={**headers, **(extra_headers or {})}, timeout=5,
                                **kwargs)

    def tokens(self, token: str | None = None, **kwargs) -> requests.Response:
        return self.call("GET", "/settings/tokens", token, **kwargs)

    def regenerate(self, token_uuid: str, token: str | None = None,
                   **kwargs) -> requests.Response:
        return self.call("POST", f"/settings/tokens/{quote(token_uuid, safe='')}/regenerate",
                         token, **kwargs)

    def works(self, token: str) -> bool:
        return self.call("GET", "/user", token).status_code == 200


@pytest.fixture(scope="module")
def running_sandbox():
    with Sandbox() as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox):
    """Overrides conftest's fixture: one Sandbox per module, since stopping one takes about a
    second; each test still starts from a fresh PactFlow state, no faults and an empty log."""
    running_sandbox["pactflow"].reset()
    running_sandbox.faults.clear()
    running_sandbox.log.clear()
    return running_sandbox


@pytest.fixture
def pf(sandbox):
    return sandbox["pactflow"]


@pytest.fixture
def api(pf) -> Client:
    return Client(pf)


def read_only(pf, principal: str | None = None) -> dict:
    return pf.token_by_type("read-only", principal)


def read_write(pf, principal: str | None = None) -> dict:
    return pf.token_by_type("read-write", principal)


def wire(token: dict) -> dict:
    return {key: token[key] for key in ("uuid", "description", "value")}


# --------------------------------------------------------------------------- index and list
def test_base_url_is_the_host_root(pf):
    assert urlsplit(pf.url).path == ""


def test_admin_credential_is_the_demo_users_read_write_token(pf, api):
    assert pf.admin_token == read_write(pf)["value"]
    assert api.call("GET", "/user").json()["name"] == "Sandbox Admin"


def test_index_links_to_the_api_tokens(pf, api):
    response = api.call("GET", "/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == HAL
    relation = response.json()["_links"]["pb:api-tokens"]
    assert relation == {"href": pf.url + "/settings/tokens", "title": "API tokens"}


def test_list_shows_both_tokens_with_their_values(pf, api, sandbox):
    response = api.tokens()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == HAL
    body = response.json()
    assert body["_embedded"]["items"] == [wire(read_only(pf)), wire(read_write(pf))]
    assert body["_links"] == {"self": {"href": pf.url + "/settings/tokens"}}
    assert [item["description"] for item in body["_embedded"]["items"]] == \
        [READ_ONLY_DESCRIPTION, READ_WRITE_DESCRIPTION]
    assert all(sandbox.secrets.is_live(item["value"]) for item in body["_embedded"]["items"])


def test_list_has_no_pagination(api):
    """Contract: no pagination on token lists; paging parameters change nothing."""
    first = api.tokens().json()
    paged = api.call("GET", "/settings/tokens?page=2&size=1").json()
    assert paged["_embedded"] == first["_embedded"] and len(paged["_embedded"]["items"]) == 2
    assert set(paged["_links"]) == {"self"}


def test_list_shows_only_the_callers_tokens(pf, api):
    alice = pf.add_user("Alice")
    items = api.tokens(read_write(pf, alice)["value"]).json()["_embedded"]["items"]
    assert items == [wire(read_only(pf, alice)), wire(read_write(pf, alice))]
    assert read_write(pf)["uuid"] not in {item["uuid"] for item in items}


def test_current_user_profile(pf, api):
    body = api.call("GET", "/user", read_only(pf)["value"]).json()
    assert body["uuid"] == pf.admin_uuid and body["type"] == 0
    assert body["typeDescription"] == "User"
    assert body["_embedded"]["roles"][0]["name"] == "Administrator"


# --------------------------------------------------------------------------- regenerate
@pytest.mark.parametrize("body", [
    {},
    {"json": {}},
    {"data": b"{not json", "extra_headers": {"Content-Type": "application/json"}},
], ids=["no body", "empty object", "garbage"])
def test_regenerate_issues_a_new_value_and_kills_the_old_one(pf, api, sandbox, body):
    before = read_write(pf)
    response = api.regenerate(before["uuid"], **body)
    assert response.status_code == 201
    assert response.headers["Content-Type"] == HAL
    token = response.json()
    assert (token["uuid"], token["description"]) == (before["uuid"], READ_WRITE_DESCRIPTION)
    assert token["value"] != before["value"] and token["value"] == read_write(pf)["value"]
    assert token["_links"]["self"]["href"] == f"{pf.url}/settings/tokens/{before['uuid']}"
    old = api.tokens(before["value"])
    assert old.status_code == 401 and old.json() == UNAUTHORIZED
    assert not sandbox.secrets.is_live(before["value"])
    assert api.works(token["value"]) and sandbox.secrets.is_live(token["value"])


def test_regenerate_is_not_idempotent(pf, api):
    uuid = read_only(pf)["uuid"]
    values = {api.regenerate(uuid).json()["value"] for _ignored in range(3)}
    assert len(values) == 3


def test_regenerating_the_read_only_token_leaves_the_read_write_one(pf, api):
    old_read_only = read_only(pf)["value"]
    response = api.regenerate(read_only(pf)["uuid"])
    assert response.status_code == 201 and response.json()["description"] == READ_ONLY_DESCRIPTION
    assert not api.works(old_read_only) and api.works(pf.admin_token)


def test_regenerate_unknown_uuid_is_404(pf, api, sandbox):
    response = api.regenerate("no-such-token")
    assert response.status_code == 404 and response.headers["Content-Type"] == HAL
    assert response.json() == {"error": {
        "message": "No API token with uuid 'no-such-token' for the current user"}}
    assert sandbox.secrets.is_live(pf.admin_token)


def test_regenerate_another_principals_token_is_404(pf, api, sandbox):
    alice_token = read_write(pf, pf.add_user("Alice"))
    assert api.regenerate(alice_token["uuid"]).status_code == 404
    assert sandbox.secrets.is_live(alice_token["value"])


def test_read_only_token_cannot_regenerate_the_read_write_token(pf, api, sandbox):
    response = api.regenerate(read_write(pf)["uuid"], read_only(pf)["value"])
    assert response.status_code == 401 and response.json() == READ_ONLY_REFUSED
    assert sandbox.secrets.is_live(pf.admin_token)


def test_read_only_token_cannot_regenerate_even_itself_unless_switched(pf, api):
    """SmartBear: a read-write token is required for every non-GET request."""
    token = read_only(pf)
    refused = api.regenerate(token["uuid"], token["value"])
    assert refused.status_code == 401 and refused.json() == READ_ONLY_REFUSED
    assert api.works(token["value"])
    pf.read_only_may_regenerate_itself = True       # the contract's earlier assumption
    response = api.regenerate(token["uuid"], token["value"])
    assert response.status_code == 201 and not api.works(token["value"])


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_read_only_token_is_refused_on_every_non_get_request(pf, method):
    token = read_only(pf)
    for path in ("/settings/tokens", f"/settings/tokens/{token['uuid']}/regenerate", "/nowhere"):
        answer = requests.request(method, pf.url + path, timeout=5,
                                  headers={"Authorization": f"Bearer {token['value']}"})
        assert (answer.status_code, answer.json()) == (401, READ_ONLY_REFUSED)


def test_short_token_ids_are_path_escaped_and_work(pf, api):
    pf.token_id_style = "short"
    viewer = pf.add_user("Short Ids", role="viewer")
    pf.read_only_may_regenerate_itself = True      # a Viewer has only a read-only token
    token = read_only(pf, viewer)
    assert len(token["uuid"]) == 22 and token["uuid"].count("-") != 4
    assert api.regenerate(token["uuid"], token["value"]).json()["uuid"] == token["uuid"]


# --------------------------------------------------------------------------- auth
@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic dXNlcjpwYXNz"},
], ids=["missing", "unknown", "empty", "basic"])
@pytest.mark.parametrize("method, path", [("GET", "/"), ("GET", "/settings/tokens"),
                                          ("POST", "/settings/tokens/x/regenerate"),
                                          ("GET", "/user")])
def test_bad_credentials_get_401_with_the_error_body(api, headers, method, path):
    response = api.call(method, path, headers=headers)
    assert response.status_code == 401 and response.json() == UNAUTHORIZED
    assert response.headers["Content-Type"] == HAL


def test_a_valid_value_under_another_scheme_is_401(pf, api):
    response = api.tokens(headers={"Authorization": f"Token {pf.admin_token}"})
    assert response.status_code == 401 and response.json() == UNAUTHORIZED


def test_bearer_scheme_is_case_insensitive(pf, api):
    assert api.tokens(headers={"Authorization": f"bearer {pf.admin_token}"}).status_code == 200


def test_expired_token_is_401_and_other_token_still_works(pf, api):
    pf.expire_token(read_only(pf)["uuid"])
    response = api.tokens(read_only(pf)["value"])
    assert response.status_code == 401 and response.json() == UNAUTHORIZED
    assert api.works(pf.admin_token)


def test_token_expiring_later_still_works(pf, api):
    pf.expire_token(read_only(pf)["uuid"], utcnow() + timedelta(hours=1))
    assert api.works(read_only(pf)["value"])


def test_token_lifetime_applies_to_regenerated_values(pf, api):
    pf.token_lifetime = timedelta(days=30)
    api.regenerate(read_only(pf)["uuid"])
    expires = read_only(pf)["expires_at"]
    assert expires is not None
    assert abs(expires - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)
    assert read_write(pf)["expires_at"] is None


def test_seeded_expired_user_cannot_authenticate(pf, api):
    old = pf.add_user("Lapsed", token_created_at=days_ago(100), expires_at=days_ago(10))
    assert not api.works(read_write(pf, old)["value"])
    assert not api.works(read_only(pf, old)["value"])


# --------------------------------------------------------------------------- roles
def test_viewer_has_only_a_read_only_token(pf, api):
    viewer = pf.add_user("Victor", role="viewer")
    assert read_write(pf, viewer) is None
    token = read_only(pf, viewer)
    items = api.tokens(token["value"]).json()["_embedded"]["items"]
    assert items == [wire(token)]
    # it cannot regenerate its only token: a read-only token makes no non-GET call
    assert api.regenerate(token["uuid"], token["value"]).status_code == 401


def test_read_only_token_may_read(pf, api):
    value = read_only(pf)["value"]
    assert [api.call("GET", path, value).status_code for path in ("/", "/settings/tokens")] == \
        [200, 200]


def test_read_only_token_is_refused_on_admin_routes(pf, api):
    value = read_only(pf)["value"]
    account = pf.add_system_account("bot")
    for method, path in [("GET", f"/admin/users/{pf.admin_uuid}"),
                         ("GET", f"/admin/system-accounts/{account}/tokens"),
                         ("POST", "/admin/system-accounts")]:
        response = api.call(method, path, value, json={"name": "x"})
        assert (response.status_code, response.json()) == (401, READ_ONLY_REFUSED), path


def test_non_admin_read_write_token_is_403_on_admin_routes(pf, api):
    alice = read_write(pf, pf.add_user("Alice"))["value"]
    response = api.call("POST", "/admin/system-accounts", alice, json={"name": "x"})
    assert response.status_code == 403 and response.json() == ACCESS_DENIED


# --------------------------------------------------------------------------- system accounts
def test_system_account_tokens_are_listed_with_values(pf, api):
    account = pf.add_system_account("ci-publisher")
    response = api.call("GET", f"/admin/system-accounts/{account}/tokens")
    assert response.status_code == 200 and response.headers["Content-Type"] == HAL
    body = response.json()
    assert body["_embedded"]["items"] == [wire(read_only(pf, account)),
                                          wire(read_write(pf, account))]
    assert body["_links"]["self"]["href"] == f"{pf.url}/admin/system-accounts/{account}/tokens"
    me = api.call("GET", "/user", read_write(pf, account)["value"]).json()
    assert (me["uuid"], me["type"], me["typeDescription"]) == (account, 1, "System Account")


@pytest.mark.parametrize("target", ["unknown", "a user"])
def test_system_account_tokens_404(pf, api, target):
    account = "nope" if target == "unknown" else pf.add_user("Alice")
    response = api.call("GET", f"/admin/system-accounts/{account}/tokens")
    assert response.status_code == 404
    assert response.json() == {"error": {"message": f"No system account with uuid {account!r}"}}


def test_inactive_system_account_tokens_do_not_work(pf, api):
    account = pf.add_system_account("retired", active=False)
    assert not api.works(read_write(pf, account)["value"])
    assert api.call("GET", f"/admin/users/{account}").json()["active"] is False


def test_create_system_account_answers_201_with_location(pf, api):
    response = api.call("POST", "/admin/system-accounts",
                        json={"name": "release-bot", "active": True, "type": 1})
    assert response.status_code == 201
    location = response.headers["Location"]
    account = location.rsplit("/", 1)[-1]
    assert location == f"{pf.url}/admin/system-accounts/{account}"
    assert response.json()["name"] == "release-bot"
    user = api.call("GET", f"/admin/users/{account}").json()
    assert (user["type"], user["active"], user["email"]) == (1, True, None)
    tokens = api.call("GET", f"/admin/system-accounts/{account}/tokens").json()
    assert [item["description"] for item in tokens["_embedded"]["items"]] == \
        [READ_ONLY_DESCRIPTION, READ_WRITE_DESCRIPTION]
    assert api.works(tokens["_embedded"]["items"][1]["value"])


@pytest.mark.parametrize("body, errors", [
    ({}, {"name": ["can't be blank"]}),
    ({"name": "  "}, {"name": ["can't be blank"]}),
    ({"name": "x", "active": "yes"}, {"active": ["must be true or false"]}),
    ({"name": "x", "type": 0}, {"type": ["must be 1 (system account)"]}),
    ({"name": 5, "type": True},
     {"name": ["can't be blank"], "type": ["must be 1 (system account)"]}),
    ([], {"base": ["request body must be a JSON object"]}),
])
def test_create_system_account_validation(pf, api, body, errors):
    before = len(pf.tokens())
    response = api.call("POST", "/admin/system-accounts", json=body)
    assert response.status_code == 400 and response.json() == {"errors": errors}
    assert len(pf.tokens()) == before


def test_create_system_account_with_a_non_json_body_is_400(api):
    response = api.call("POST", "/admin/system-accounts", data=b"name=x")
    assert response.status_code == 400
    assert response.json() == {"errors": {"base": ["request body must be a JSON object"]}}


def test_get_user_fields_and_404(pf, api):
    user = api.call("GET", f"/admin/users/{pf.admin_uuid}").json()
    assert {"uuid", "name", "email", "active", "type", "typeDescription", "createdAt",
            "updatedAt", "lastLogin", "identityProviderId", "_embedded", "_links"} <= set(user)
    assert user["createdAt"].endswith("Z") and user["_embedded"]["teams"] == []
    missing = api.call("GET", "/admin/users/nobody")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"message": "No user with uuid 'nobody'"}}


# --------------------------------------------------------------------------- routing errors
@pytest.mark.parametrize("path", ["/no/such/path", "/settings/tokens/", "/settings/tokens/x"])
def test_unknown_paths_are_404_with_the_error_body(api, path):
    response = api.call("GET", path)
    assert response.status_code == 404 and response.headers["Content-Type"] == HAL
    assert response.json() == {"error": {"message": "Not Found"}}


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/settings/tokens", "GET"), ("POST", "/settings/tokens", "GET"),
    ("GET", "/settings/tokens/x/regenerate", "POST"),
])
def test_wrong_methods_are_405_with_allow(api, method, path, allowed):
    response = api.call(method, path)
    assert response.status_code == 405
    assert response.json() == {"error": {"message": "Method Not Allowed"}}
    assert allowed in response.headers["Allow"].split(", ")


# --------------------------------------------------------------------------- switches
def test_values_can_be_omitted_from_lists_but_regenerate_still_returns_one(pf, api):
    pf.include_values = False
    account = pf.add_system_account("bot")
    account_tokens = api.call("GET", f"/admin/system-accounts/{account}/tokens")
    for body in (api.tokens().json(), account_tokens.json()):
        assert all(set(item) == {"uuid", "description"} for item in body["_embedded"]["items"])
    assert api.regenerate(read_only(pf)["uuid"]).json()["value"] == read_only(pf)["value"]


def test_extra_item_is_an_unrecognised_but_real_token(pf, api, sandbox):
    pf.extra_item = True
    items = api.tokens().json()["_embedded"]["items"]
    assert items[:2] == [wire(read_only(pf)), wire(read_write(pf))] and len(items) == 3
    extra = items[2]
    assert extra["description"] not in (READ_ONLY_DESCRIPTION, READ_WRITE_DESCRIPTION)
    assert sandbox.secrets.is_live(extra["value"])
    pf.extra_item = False
    assert len(api.tokens().json()["_embedded"]["items"]) == 2


def test_reverse_items_lists_read_write_first(pf, api):
    pf.reverse_items = True
    items = api.tokens().json()["_embedded"]["items"]
    assert [item["description"] for item in items] == \
        [READ_WRITE_DESCRIPTION, READ_ONLY_DESCRIPTION]


def test_extra_fields_add_undocumented_keys(pf, api):
    pf.extra_fields = True
    item = api.tokens().json()["_embedded"]["items"][0]
    assert set(item) == {"uuid", "description", "value", "createdAt", "lastUsedAt"}


# --------------------------------------------------------------------------- rate limits, faults
def test_rate_limit_answers_429_with_retry_after(pf, api):
    pf.enforce_rate_limit(2, 60)
    assert [api.tokens().status_code for _ignored in range(2)] == [200, 200]
    response = api.tokens()
    assert response.status_code == 429 and response.headers["Content-Type"] == HAL
    assert response.json() == {"error": {"message": "Too many requests"}}
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert api.tokens(read_only(pf)["value"]).status_code == 200   # budgets are per credential


def test_rate_limit_without_retry_after(pf, api):
    pf.enforce_rate_limit(1, 60)
    pf.send_retry_after = False
    api.tokens()
    response = api.tokens()
    assert response.status_code == 429 and "Retry-After" not in response.headers


def test_status_fault_uses_the_error_body(sandbox, api):
    sandbox.faults.add("status", platform="pactflow", method="GET", status=429,
                       headers={"Retry-After": "7"}, message="slow down")
    response = api.tokens()
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.json() == {"error": {"message": "slow down"}}
    assert api.tokens().status_code == 200


def test_lost_response_regenerates_but_the_client_never_hears(pf, api, sandbox):
    before = read_only(pf)
    sandbox.faults.add("lost_response", platform="pactflow", method="POST")
    with pytest.raises(requests.ConnectionError):
        api.regenerate(before["uuid"])
    after = read_only(pf)
    assert after["value"] != before["value"] and after["uuid"] == before["uuid"]
    assert not sandbox.secrets.is_live(before["value"]) and api.works(after["value"])
    assert [entry.status for entry in sandbox.log.select("pactflow", "POST")] == [201]


def test_drop_fault_changes_nothing(pf, api, sandbox):
    before = read_only(pf)
    sandbox.faults.add("drop", platform="pactflow", method="POST")
    with pytest.raises(requests.ConnectionError):
        api.regenerate(before["uuid"])
    assert read_only(pf)["value"] == before["value"] and api.works(before["value"])


# --------------------------------------------------------------------------- seed helpers
def test_token_helpers_describe_the_tokens(pf):
    token = read_only(pf)
    assert token["description"] == READ_ONLY_DESCRIPTION and token["type"] == "read-only"
    assert token["principal"] == pf.admin_uuid and pf.token_by_id(token["uuid"]) == token
    assert pf.token_by_id("missing") is None
    assert {t["uuid"] for t in pf.tokens(pf.admin_uuid)} == \
        {token["uuid"], read_write(pf)["uuid"]}


def test_backdating_sets_the_secrets_issue_time(pf, sandbox):
    token = read_only(pf)
    pf.set_token_created_at(token["uuid"], days_ago(120))
    assert sandbox.secrets.get(token["value"]).issued_at < days_ago(119)
    assert pf.token_by_id(token["uuid"])["created_at"] < days_ago(119)


def test_regenerate_helper_revokes_the_old_value(pf, api):
    old = read_only(pf)["value"]
    new = pf.regenerate(read_only(pf)["uuid"])
    assert not api.works(old) and api.works(new)


def test_bulk_system_accounts(pf):
    accounts = pf.add_system_accounts(5)
    assert [pf.principal(a).name for a in accounts] == [f"bulk-sa-{i:03d}" for i in range(5)]
    assert len(pf.tokens()) == 2 + 5 * 2


def test_demo_has_due_and_fresh_tokens(pf, api):
    pf.seed_demo()
    ages = [utcnow() - token["created_at"] for token in pf.tokens()]
    assert any(age > timedelta(days=90) for age in ages)
    assert any(age < timedelta(days=10) for age in ages)
    assert all(api.works(token["value"]) for token in pf.tokens())


def test_reset_revokes_every_token(pf, sandbox):
    values = [token["value"] for token in pf.tokens()]
    old_admin = pf.admin_token
    pf.extra_item = True
    new_admin = pf.reset()
    assert not any(sandbox.secrets.is_live(value) for value in values)
    assert new_admin != old_admin and sandbox.secrets.is_live(new_admin)
    assert pf.extra_item is False
