"""The Cloudflare sandbox against ``api/cloudflare.md`` and the official SDK, cloudflare 5.9.0."""
from __future__ import annotations

from datetime import timedelta
from itertools import islice
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import cloudflare
import pytest
import requests

from tests.sandbox import Sandbox
from tests.sandbox.cloudflare import ACCOUNT_SCOPE, USER_SCOPE, ZONE_SCOPE, group_id, policy
from tests.sandbox.core import days_ago, isoformat_s, parse_time, utcnow

Call = Callable[..., requests.Response]
INVALID_TOKEN = (401, 1000, "Invalid API Token")
FORBIDDEN = (403, 9109, "Unauthorized to access requested resource")
ZONES = {"com.cloudflare.api.account.zone.*": "*"}
TOKEN_KEYS = {"id", "name", "status", "issued_on", "modified_on", "policies"}


@pytest.fixture(scope="module")
def running_sandbox():
    with Sandbox() as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox):
    """Overrides conftest's fixture: one server per module (stopping one takes a while); each
    test still gets a fresh Cloudflare state, no faults and an empty log."""
    running_sandbox["cloudflare"].reset()
    running_sandbox.faults.clear()
    running_sandbox.log.clear()
    return running_sandbox


@pytest.fixture
def cf(sandbox):
    return sandbox["cloudflare"]


@pytest.fixture
def call(cf) -> Call:
    """``call(method, path, token="admin", **requests_kwargs)``; path is below /client/v4."""
    def send(method: str, path: str, token: str | None = "admin", **kwargs: Any):
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {cf.admin_token if token == 'admin' else token}"
        return requests.request(method, cf.url + path, headers=headers, timeout=5, **kwargs)
    return send


@pytest.fixture
def client(cf, monkeypatch) -> cloudflare.Cloudflare:
    for variable in ("CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY", "CLOUDFLARE_API_TOKEN"):
        monkeypatch.delenv(variable, raising=False)   # the SDK would prefer key auth
    return cloudflare.Cloudflare(api_token=cf.admin_token, base_url=cf.url, max_retries=0)


def assert_error(response: requests.Response, status: int, code: int, message: str,
                 chain: list | None = None) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    entry: dict = {"code": code, "message": message}
    if chain:
        entry["error_chain"] = [{"code": c, "message": m} for c, m in chain]
    assert response.json() == {"success": False, "errors": [entry], "messages": [],
                               "result": None}


def works(call: Call, secret: str, account_id: str | None = None) -> bool:
    path = f"/accounts/{account_id}/tokens/verify" if account_id else "/user/tokens/verify"
    return call("GET", path, token=secret).status_code == 200


def identity(policies: list) -> set:
    """How a careful client compares policies: effect plus the set of permission-group ids."""
    def field(item: Any, key: str) -> Any:
        return item[key] if isinstance(item, dict) else getattr(item, key)
    return {(field(p, "effect"), frozenset(field(g, "id") for g in field(p, "permission_groups")))
            for p in policies}


def two_policies(cf) -> list[dict]:
    return [policy("Zone Read", "DNS Write"),
            policy("Account Settings Read",
                   resources={f"{ACCOUNT_SCOPE}.{cf.account_id}": "*"})]


# -- transport and authentication -------------------------------------------------------------

def test_base_url_and_admin_token_shape(cf, call):
    assert urlsplit(cf.url).path == "/client/v4"
    assert cf.admin_token.startswith("cfut_") and len(cf.admin_token) == 53
    admin = call("GET", f"/user/tokens/{cf.admin_token_id}").json()["result"]
    assert admin["name"] == "Sandbox admin" and "value" not in admin


def test_missing_credentials_answer_400_9106(call):
    assert_error(call("GET", "/user/tokens", token=None), 400, 9106,
                 "Missing X-Auth-Key, X-Auth-Email or Authorization headers")


def test_legacy_key_headers_are_refused_for_token_management(call):
    response = call("GET", "/user/tokens/verify", token=None,
                    headers={"X-Auth-Email": "a@example.com", "X-Auth-Key": "k" * 37})
    assert_error(response, 400, 1001, 'Missing "Authorization" header')


@pytest.mark.parametrize("header", ["Token {admin}", "Bearer " + "a" * 37, "Bearer"])
def test_malformed_authorization_answers_6003_with_chain(cf, call, header):
    response = call("GET", "/user/tokens", token=None,
                    headers={"Authorization": header.format(admin=cf.admin_token)})
    assert_error(response, 400, 6003, "Invalid request headers",
                 [(6111, "Invalid format for Authorization header")])


def test_unknown_token_answers_401_1000(call):
    assert_error(call("GET", "/user/tokens", token="x" * 40), *INVALID_TOKEN)


def test_token_without_token_rights_gets_403_9109(cf, call):
    _ignored, secret = cf.add_token("dns", policies=[policy("DNS Read")])
    assert works(call, secret)                 # verify needs no permission
    assert_error(call("GET", "/user/tokens", token=secret), *FORBIDDEN)


def test_read_only_token_lists_but_cannot_create(cf, call):
    _ignored, secret = cf.add_token("reader", policies=[policy("API Tokens Read")])
    assert call("GET", "/user/tokens", token=secret).status_code == 200
    response = call("POST", "/user/tokens", token=secret,
                    json={"name": "x", "policies": [policy("Zone Read")]})
    assert_error(response, *FORBIDDEN)


def test_deny_policy_removes_a_right(cf, call):
    _ignored, secret = cf.add_token("half", policies=[policy("API Tokens Write"),
                                                      policy("API Tokens Read", effect="deny")])
    assert_error(call("GET", "/user/tokens", token=secret), *FORBIDDEN)


@pytest.mark.parametrize("rule", [{"in": ["10.0.0.0/8"]}, {"not_in": ["127.0.0.0/8"]}])
def test_ip_condition_blocks_other_locations(cf, call, rule):
    _ignored, secret = cf.add_token("pinned", condition={"request_ip": rule})
    assert_error(call("GET", "/user/tokens/verify", token=secret), 403, 9109,
                 "Cannot use the access token from location: 127.0.0.1")


def test_unknown_route_and_wrong_method_use_the_envelope(call):
    assert_error(call("GET", "/nothing/here"), 404, 7000, "No route for that URI")
    response = call("PATCH", "/user/tokens")
    assert_error(response, 405, 7001, "Method not allowed")
    assert {"GET", "POST"} <= set(response.headers["Allow"].split(", "))


@pytest.mark.parametrize("method,suffix", [("GET", ""), ("PUT", ""), ("DELETE", ""),
                                           ("PUT", "/value")])
def test_unknown_token_id_is_404_7003(call, method, suffix):
    path = f"/user/tokens/{'0' * 32}{suffix}"
    response = call(method, path, json={"name": "x", "policies": [policy("Zone Read")]})
    assert_error(response, 404, 7003,
                 f"Could not route to {path}, perhaps your object identifier is invalid?")


def test_disabled_and_not_yet_valid_tokens_are_rejected(cf, call):
    _ignored, disabled = cf.add_token("off", status="disabled")
    _ignored, later = cf.add_token("later", not_before=utcnow() + timedelta(hours=1))
    for secret in (disabled, later):
        assert_error(call("GET", "/user/tokens/verify", token=secret), *INVALID_TOKEN)


# -- user tokens through the official SDK ----------------------------------------------------

def test_sdk_create_returns_value_policies_and_condition(cf, client, call, sandbox):
    created = client.user.tokens.create(
        name="deploy", policies=two_policies(cf),
        condition={"request_ip": {"in": ["127.0.0.1/32", "192.0.2.0/24"],
                                  "not_in": ["10.0.0.0/8"]}},
        expires_on=utcnow() + timedelta(days=30))
    assert created.value.startswith("cfut_") and sandbox.secrets.is_live(created.value)
    assert created.status == "active" and len(created.id) == 32
    assert identity(created.policies) == identity(two_policies(cf))
    assert all(len(p.id) == 32 for p in created.policies)
    assert {g.name for p in created.policies for g in p.permission_groups} == \
        {"Zone Read", "DNS Write", "Account Settings Read"}
    assert created.condition.request_ip.in_ == ["127.0.0.1/32", "192.0.2.0/24"]
    assert created.condition.request_ip.not_in == ["10.0.0.0/8"]
    assert works(call, created.value)


def test_drop_last_policy_on_create_fault_makes_the_token_with_one_policy_less(cf, client):
    """A fault, not fidelity: the create answers as usual, the token has lost a policy."""
    cf.drop_last_policy_on_create = True
    created = client.user.tokens.create(name="lossy", policies=two_policies(cf))
    assert len(created.policies) == 1 == len(client.user.tokens.get(created.id).policies)
    single = client.user.tokens.create(name="single", policies=two_policies(cf)[:1])
    assert len(single.policies) == 1


def test_create_wire_shape_and_value_shown_once(call):
    response = call("POST", "/user/tokens", json={"name": "x", "policies": [policy("Zone Read")]})
    assert response.status_code == 200
    body = response.json()
    assert (body["success"], body["errors"], body["messages"]) == (True, [], [])
    result = body["result"]
    assert set(result) == TOKEN_KEYS | {"value"}       # no condition, no dates when unset
    assert result["issued_on"].endswith("Z") and "." not in result["issued_on"]
    fetched = call("GET", f"/user/tokens/{result['id']}").json()["result"]
    assert "value" not in fetched and fetched["name"] == "x"


def test_legacy_dotted_condition_is_accepted_and_emitted_as_request_ip(call):
    body = {"name": "legacy", "policies": [policy("Zone Read")],
            "condition": {"request.ip": {"in": ["127.0.0.1/32"], "not_in": []}}}
    result = call("POST", "/user/tokens", json=body).json()["result"]
    assert result["condition"] == {"request_ip": {"in": ["127.0.0.1/32"]}}


def test_sdk_auto_pager_walks_three_pages_and_stops_on_the_empty_one(cf, client, sandbox):
    cf.add_tokens(12)
    # islice: a server that ignored ``page`` would feed the pager forever; fail instead of hang.
    names = [token.name for token in islice(client.user.tokens.list(per_page=5), 50)]
    assert sorted(names) == sorted([f"bulk-token-{i:03d}" for i in range(12)] +
                                   ["Sandbox admin"])
    pages = [parse_qs(e.query).get("page") for e in sandbox.log.select("cloudflare", "GET")]
    assert pages == [None, ["2"], ["3"], ["4"]]      # the 4th page is empty: the pager stops


def test_list_pages_carry_result_info_and_past_the_end_is_empty(cf, call):
    cf.add_tokens(14)                             # plus the admin token: 15
    first = call("GET", "/user/tokens", params={"per_page": 5}).json()
    assert first["result_info"] == {"page": 1, "per_page": 5, "count": 5, "total_count": 15,
                                    "total_pages": 3}
    third = call("GET", "/user/tokens", params={"per_page": 5, "page": 3}).json()
    assert [t["name"] for t in third["result"]] == \
        [f"bulk-token-{i:03d}" for i in range(10, 14)] + ["Sandbox admin"]   # oldest first
    beyond = call("GET", "/user/tokens", params={"per_page": 5, "page": 4}).json()
    assert beyond["result"] == [] and beyond["result_info"]["count"] == 0
    default = call("GET", "/user/tokens").json()["result_info"]
    assert (default["per_page"], default["count"]) == (20, 15)


def test_direction_desc_reverses_the_order(cf, call):
    cf.add_tokens(3, issued_on=days_ago(1))
    names = [t["name"] for t in call("GET", "/user/tokens", params={"direction": "desc"})
             .json()["result"]]
    assert names == ["Sandbox admin", "bulk-token-002", "bulk-token-001", "bulk-token-000"]


@pytest.mark.parametrize("params", [{"per_page": 4}, {"per_page": 51}, {"page": 0},
                                    {"page": "x"}, {"direction": "up"},
                                    {"include_expired": "maybe"}])
def test_bad_list_parameters_answer_400(call, params):
    response = call("GET", "/user/tokens", params=params)
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == 1001


def test_float_page_numbers_from_the_sdk_are_accepted(call):
    assert call("GET", "/user/tokens", params={"page": "1.0", "per_page": "5.0"}).status_code \
        == 200


def test_expired_tokens_are_hidden_unless_asked_and_their_secret_fails(cf, call, client):
    token_id, secret = cf.add_token("old", issued_on=days_ago(100), expires_on=days_ago(1))
    assert token_id not in [t.id for t in client.user.tokens.list()]
    listed = [t for t in client.user.tokens.list(include_expired=True) if t.id == token_id]
    assert [t.status for t in listed] == ["expired"]
    assert_error(call("GET", "/user/tokens/verify", token=secret), *INVALID_TOKEN)


def test_sdk_get_and_update_replace_every_mutable_field(cf, client, call):
    token_id, secret = cf.add_token("svc", issued_on=days_ago(3),
                                    condition={"request_ip": {"in": ["127.0.0.1/32"]}})
    assert client.user.tokens.get(token_id).name == "svc"
    updated = client.user.tokens.update(token_id, name="svc-renamed",
                                        policies=[policy("DNS Read")], status="disabled")
    assert (updated.name, updated.status, updated.condition) == ("svc-renamed", "disabled", None)
    assert identity(updated.policies) == identity([policy("DNS Read")])
    assert updated.modified_on > updated.issued_on
    assert_error(call("GET", "/user/tokens/verify", token=secret), *INVALID_TOKEN)
    kept = client.user.tokens.update(token_id, name="svc-renamed", policies=[policy("DNS Read")])
    assert kept.status == "disabled"               # status omitted: unchanged


def test_sdk_roll_kills_the_old_secret_and_the_new_one_verifies(cf, client, call, sandbox):
    token_id, old = cf.add_token("rolling", issued_on=days_ago(120))
    new = client.user.tokens.value.update(token_id)
    assert isinstance(new, str) and new.startswith("cfut_") and new != old
    assert_error(call("GET", "/user/tokens/verify", token=old), *INVALID_TOKEN)
    assert not sandbox.secrets.is_live(old)
    assert client.with_options(api_token=new).user.tokens.verify().id == token_id
    assert cf.token(token_id)["value"] == new and cf.token(token_id)["name"] == "rolling"


def test_roll_accepts_an_empty_object_and_answers_a_bare_string(cf, call):
    token_id, _ignored = cf.add_token("rolling")
    body = call("PUT", f"/user/tokens/{token_id}/value", json={}).json()
    assert body["result"] == cf.token(token_id)["value"]


def test_sdk_verify_and_its_message(cf, client, call):
    token_id, secret = cf.add_token("v", expires_on=utcnow() + timedelta(days=2))
    verified = client.with_options(api_token=secret).user.tokens.verify()
    assert (verified.id, verified.status) == (token_id, "active")
    body = call("GET", "/user/tokens/verify", token=secret).json()
    assert body["messages"] == [{"code": 10000, "message": "This API Token is valid and active",
                                 "type": None}]
    assert body["result"]["expires_on"] == cf.token(token_id)["expires_on"]


def test_sdk_permission_groups_catalogue_and_filters(client, cf):
    groups = client.user.tokens.permission_groups.list().result
    assert len(groups) >= 15 and all(g.scopes and g.id for g in groups)
    twice = [g for g in groups if g.name == "Access: Apps and Policies Write"]
    assert sorted(g.scopes[0] for g in twice) == [ACCOUNT_SCOPE, ZONE_SCOPE]
    assert len({g.id for g in twice}) == 2
    by_name = client.user.tokens.permission_groups.list(name="DNS Read").result
    assert [g.id for g in by_name] == ["82e64a83756745bbbb1c9c2701bf816b"]
    user_level = client.user.tokens.permission_groups.list(scope=USER_SCOPE).result
    assert {g.name for g in user_level} >= {"API Tokens Read", "API Tokens Write"}
    account = client.accounts.tokens.permission_groups.list(account_id=cf.account_id).result
    assert not any(USER_SCOPE in g.scopes for g in account)


def test_sdk_delete_returns_the_id_and_kills_the_secret(cf, client, call, sandbox):
    token_id, secret = cf.add_token("gone")
    assert client.user.tokens.delete(token_id).id == token_id
    assert not sandbox.secrets.is_live(secret) and cf.token(token_id) is None
    with pytest.raises(cloudflare.NotFoundError):
        client.user.tokens.get(token_id)


def test_reordered_reads_change_policy_order_and_ids(cf, call):
    token_id, _ignored = cf.add_token("multi", policies=two_policies(cf))
    stored = cf.token(token_id)["policies"]
    first, second = (call("GET", f"/user/tokens/{token_id}").json()["result"]["policies"]
                     for _ignored in range(2))
    assert identity(first) == identity(stored)
    assert [p["permission_groups"][0]["id"] for p in first] == \
        [p["permission_groups"][-1]["id"] for p in reversed(stored)]
    assert {p["id"] for p in first}.isdisjoint({p["id"] for p in second})
    cf.reorder_policies = False
    assert call("GET", f"/user/tokens/{token_id}").json()["result"]["policies"] == stored


def test_last_used_on_appears_after_use(cf, call):
    token_id, secret = cf.add_token("used")
    assert "last_used_on" not in cf.token(token_id)
    works(call, secret)
    assert parse_time(cf.token(token_id)["last_used_on"]) > utcnow() - timedelta(minutes=1)


# -- account-owned tokens --------------------------------------------------------------------

def test_sdk_account_token_lifecycle(cf, client, call, sandbox):
    account = cf.account_id
    created = client.accounts.tokens.create(account_id=account, name="acct",
                                            policies=[policy("Workers Scripts Write")])
    assert created.value.startswith("cfat_")
    assert works(call, created.value, account)
    cf.add_tokens(11, account_id=account)
    listed = list(client.accounts.tokens.list(account_id=account, per_page=5))
    assert len(listed) == 12 and created.id in {t.id for t in listed}
    assert created.id not in {t.id for t in client.user.tokens.list()}
    assert client.accounts.tokens.get(created.id, account_id=account).name == "acct"
    updated = client.accounts.tokens.update(created.id, account_id=account, name="acct2",
                                            policies=[policy("Account Settings Read")])
    assert updated.name == "acct2"
    new = client.accounts.tokens.value.update(created.id, account_id=account)
    assert not works(call, created.value, account) and works(call, new, account)
    verified = client.with_options(api_token=new).accounts.tokens.verify(account_id=account)
    assert verified.id == created.id
    assert client.accounts.tokens.delete(created.id, account_id=account).id == created.id
    assert not sandbox.secrets.is_live(new)


def test_verify_paths_refuse_the_other_kind_of_token(cf, call):
    _ignored, account_secret = cf.add_token("acct", account_id=cf.account_id)
    # An account-owned token on the user path: 401 code 1000, as a bad token (counterscale #246)
    assert_error(call("GET", "/user/tokens/verify", token=account_secret), *INVALID_TOKEN)
    cf.account_token_user_verify_status = 403       # what freellmapi #297 saw
    assert_error(call("GET", "/user/tokens/verify", token=account_secret), *FORBIDDEN)
    assert works(call, account_secret, cf.account_id)
    assert_error(call("GET", f"/accounts/{cf.account_id}/tokens/verify"), *FORBIDDEN)
    assert_error(call("GET", "/user/tokens", token=account_secret), *FORBIDDEN)


def test_unknown_and_malformed_account_ids(cf, call):
    assert_error(call("GET", f"/accounts/{'f' * 32}/tokens"), *FORBIDDEN)
    assert call("GET", "/accounts/not-an-id/tokens").json()["errors"][0]["code"] == 7003
    user_token_id, _ignored = cf.add_token("user-owned")
    assert call("GET", f"/accounts/{cf.account_id}/tokens/{user_token_id}").status_code == 404


def test_account_tokens_cannot_hold_user_level_groups(cf, call):
    body = {"name": "bad", "policies": [policy("API Tokens Read")]}
    response = call("POST", f"/accounts/{cf.account_id}/tokens", json=body)
    assert response.status_code == 400 and "account token" in response.json()["errors"][0][
        "message"]


# -- quotas and validation -------------------------------------------------------------------

def test_user_token_quota_is_enforced_and_switchable(cf, call):
    body = {"name": "one-more", "policies": [policy("Zone Read")]}
    cf.add_tokens(49)                              # plus the admin token: 50
    assert_error(call("POST", "/user/tokens", json=body), 400, 1001,
                 "Exceeded the maximum number of user API tokens (50)")
    cf.user_token_quota = 200
    cf.add_tokens(70, prefix="more")
    assert call("POST", "/user/tokens", json=body).status_code == 200
    assert call("GET", "/user/tokens").json()["result_info"]["total_count"] == 121


def test_account_token_quota(cf, call):
    cf.account_token_quota = 2
    cf.add_tokens(2, account_id=cf.account_id)
    response = call("POST", f"/accounts/{cf.account_id}/tokens",
                    json={"name": "x", "policies": [policy("Account Settings Read")]})
    assert_error(response, 400, 1001, "Exceeded the maximum number of account API tokens (2)")


def _with(**changes: Any) -> dict:
    body: dict = {"name": "v", "policies": [policy("Zone Read")], **changes}
    return {key: value for key, value in body.items() if value is not None}


@pytest.mark.parametrize("body,message", [
    (_with(name=None), "name: required, at most 120 characters"),
    (_with(name="n" * 121), "name: required, at most 120 characters"),
    (_with(policies=[]), "policies: at least one policy is required"),
    (_with(policies=[{**policy("Zone Read"), "effect": "maybe"}]),
     "policies.effect: must be 'allow' or 'deny'"),
    (_with(policies=[{**policy("Zone Read"), "id": "f" * 32}]),
     "Reusing existing policies is not supported by token creation"),
    (_with(policies=[{**policy("Zone Read"), "resources": {}}]),
     "policies.resources: must be a non-empty map of resource keys"),
    (_with(condition={"request_ip": {"in": ["300.1.1.1/8"]}}), None),
    (_with(expires_on="tomorrow"), "expires_on: must be an RFC 3339 date-time"),
    (_with(expires_on=isoformat_s(days_ago(1))), "expires_on: must be in the future"),
    (_with(not_before=isoformat_s(days_ago(-3)), expires_on=isoformat_s(days_ago(-2))),
     "not_before: must be before expires_on"),
])
def test_create_validation_errors_answer_400_1001(call, body, message):
    response = call("POST", "/user/tokens", json=body)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == 1001 and (message is None or error["message"] == message)


def test_unknown_permission_group_and_malformed_bodies(call):
    body = _with(policies=[{"effect": "allow", "permission_groups": [{"id": "0" * 32}],
                            "resources": ZONES}])
    assert call("POST", "/user/tokens", json=body).json()["errors"][0]["code"] == 1001
    assert_error(call("POST", "/user/tokens", data="{not json",
                      headers={"Content-Type": "application/json"}),
                 400, 6007, "Malformed JSON in request body")
    assert_error(call("POST", "/user/tokens", json=["a"]), 400, 1001,
                 "request body must be a JSON object")


def test_update_of_an_expired_token_may_resend_its_expiry_or_extend_it(cf, call):
    token_id, secret = cf.add_token("lapsed", expires_on=days_ago(2))
    shown = cf.token(token_id)
    resend = {"name": "lapsed", "policies": [policy("Zone Read")], "status": shown["status"],
              "expires_on": shown["expires_on"]}
    assert call("PUT", f"/user/tokens/{token_id}", json=resend).json()["result"]["status"] == \
        "expired"
    extended = {**resend, "expires_on": isoformat_s(days_ago(-30))}
    assert call("PUT", f"/user/tokens/{token_id}", json=extended).json()["result"]["status"] \
        == "active"
    assert works(call, secret)
    bad = {**resend, "status": "paused"}
    assert call("PUT", f"/user/tokens/{token_id}", json=bad).status_code == 400


# -- rate limits and faults ------------------------------------------------------------------

def test_rate_limited_answer_has_code_971_and_headers(cf, call):
    cf.enforce_rate_limit(1, 60)
    allowed = call("GET", "/user/tokens")
    assert allowed.headers["Ratelimit-Policy"] == '"default";q=1;w=60'
    limited = call("GET", "/user/tokens")
    assert_error(limited, 429, 971, "Please wait and consider throttling your request speed")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["Ratelimit"] == f'"default";r=0;t={limited.headers["Retry-After"]}'
    cf.send_retry_after = False
    assert "Retry-After" not in call("GET", "/user/tokens").headers


def test_sdk_surfaces_429_as_rate_limit_error(cf, client):
    cf.enforce_rate_limit(0, 60)
    with pytest.raises(cloudflare.RateLimitError):
        client.user.tokens.list().result


def test_lost_response_creates_the_token_but_the_client_sees_a_connection_error(
        cf, client, sandbox):
    sandbox.faults.add("lost_response", platform="cloudflare", method="POST")
    with pytest.raises(cloudflare.APIConnectionError):
        client.user.tokens.create(name="ghost", policies=[policy("Zone Read")])
    [ghost] = [t for t in cf.tokens() if t["name"] == "ghost"]
    assert sandbox.secrets.is_live(ghost["value"])


def test_drop_fault_fails_the_request_and_changes_nothing(cf, call, sandbox):
    token_id, secret = cf.add_token("kept")
    sandbox.faults.add("drop", platform="cloudflare", method="DELETE")
    with pytest.raises(requests.ConnectionError):
        call("DELETE", f"/user/tokens/{token_id}")
    assert cf.token(token_id) is not None and works(call, secret)


def test_status_fault_uses_the_envelope(sandbox, call):
    sandbox.faults.add("status", platform="cloudflare", status=503, message="injected",
                       headers={"Retry-After": "2"})
    response = call("GET", "/user/tokens")
    assert_error(response, 503, 10001, "injected")
    assert response.headers["Retry-After"] == "2"


# -- switches and seed helpers ---------------------------------------------------------------

def test_exposed_token_shows_revoked_status_and_its_secret_is_dead(cf, call, sandbox):
    token_id, secret = cf.add_token("leaked")
    cf.expose_token(token_id)
    assert call("GET", f"/user/tokens/{token_id}").json()["result"]["status"] == \
        "revoked (exposed)"
    assert not sandbox.secrets.is_live(secret)


def test_verify_propagation_switch_fails_the_first_verifies(cf, call):
    cf.verify_propagation_failures = 1
    created = call("POST", "/user/tokens", json=_with()).json()["result"]
    assert_error(call("GET", "/user/tokens/verify", token=created["value"]), 403, 10000,
                 "Authentication error")
    assert works(call, created["value"])


def test_legacy_format_and_cidr_normalisation_switches(cf, call):
    cf.token_format, cf.normalise_cidrs = "legacy", True
    body = _with(condition={"request_ip": {"in": ["192.0.2.7/24", "10.1.0.0/16"]}})
    result = call("POST", "/user/tokens", json=body).json()["result"]
    assert len(result["value"]) == 40 and not result["value"].startswith("cf")
    assert result["condition"]["request_ip"]["in"] == ["10.1.0.0/16", "192.0.2.0/24"]


def test_seed_helpers_backdate_and_issue_real_secrets(cf, call, sandbox):
    token_id, secret = cf.add_token("aged", issued_on=days_ago(40), expires_on=days_ago(-5))
    record = cf.token(token_id)
    assert record["value"] == secret and record["account_id"] is None
    assert parse_time(record["issued_on"]) < utcnow() - timedelta(days=39)
    assert sandbox.secrets.get(secret).expires_at == parse_time(record["expires_on"])
    assert works(call, secret)
    assert group_id("Access: Apps and Policies Write", ZONE_SCOPE) != \
        group_id("Access: Apps and Policies Write", ACCOUNT_SCOPE)


def test_seed_demo_has_due_fresh_expired_and_account_tokens(cf):
    cf.seed_demo()
    user, account = cf.tokens(), cf.tokens(cf.account_id)
    ages = [utcnow() - parse_time(t["issued_on"]) for t in user + account]
    assert any(age > timedelta(days=90) for age in ages)
    assert any(age < timedelta(days=30) for age in ages)
    assert {"expired", "disabled", "active"} <= {t["status"] for t in user}
    assert account and all(t["value"].startswith("cfat_") for t in account)


# -- corrections found against real-world sources (issue 13) ----------------------------------

def test_include_expired_lists_only_recently_expired_tokens(cf, call):
    recent, _s1 = cf.add_token("recent", issued_on=days_ago(100), expires_on=days_ago(2))
    old, _s2 = cf.add_token("old", issued_on=days_ago(400), expires_on=days_ago(200))
    listed = [t["id"] for t in call("GET", "/user/tokens",
                                    params={"include_expired": "true"}).json()["result"]]
    assert recent in listed and old not in listed
    assert cf.token(old) is not None            # it still exists: readable by id
    assert call("GET", f"/user/tokens/{old}").json()["result"]["status"] == "expired"
    cf.expired_listing_window = None
    listed = [t["id"] for t in call("GET", "/user/tokens",
                                    params={"include_expired": "true"}).json()["result"]]
    assert old in listed


def test_list_self_shows_only_the_tokens_the_caller_created(cf, call):
    account = {f"{ACCOUNT_SCOPE}.{cf.account_id}": "*"}
    lister, lister_secret = cf.add_token("lister", account_id=cf.account_id,
                                         policies=[policy("Account API Tokens Write",
                                                          resources=account)])
    others, _s = cf.add_token("someone-elses", account_id=cf.account_id)
    mine, _s = cf.add_token("mine", account_id=cf.account_id, created_by=lister)
    path = f"/accounts/{cf.account_id}/tokens"
    assert {others, mine} <= {t["id"] for t in call("GET", path, token=lister_secret)
                              .json()["result"]}
    cf.list_self_only = frozenset({lister})
    assert [t["id"] for t in call("GET", path, token=lister_secret).json()["result"]] == [mine]


def test_roll_moves_modified_on_and_keeps_issued_on(cf, call):
    token_id, _secret = cf.add_token("svc", issued_on=days_ago(30))
    before = cf.token(token_id)
    rolled = call("PUT", f"/user/tokens/{token_id}/value", json={})
    assert rolled.status_code == 200
    after = call("GET", f"/user/tokens/{token_id}").json()["result"]
    assert after["issued_on"] == before["issued_on"]
    assert parse_time(after["modified_on"]) > parse_time(before["modified_on"])
