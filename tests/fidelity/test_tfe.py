"""The TFE sandbox against ``api/tfe.md`` and the official SDK, pytfe 1.5.0."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
import requests
from pytfe import TFEClient, TFEConfig
from pytfe.errors import AuthError, NotFound, RateLimited, TFEError
from pytfe.models import (CategoryType, TeamListOptions, TeamTokenCreateOptions,
                          TeamTokenListOptions, VariableCreateOptions,
                          VariableSetApplyToWorkspacesOptions, VariableSetCreateOptions,
                          VariableSetListOptions,
                          VariableSetRemoveFromWorkspacesOptions, VariableSetUpdateOptions,
                          VariableSetVariableCreateOptions, VariableSetVariableUpdateOptions,
                          VariableUpdateOptions, Workspace)

from tests.sandbox.core import days_ago, parse_time, utcnow

ORG = "tokenops"
JSONAPI = "application/vnd.api+json"
NOT_FOUND = {"errors": [{"status": "404", "title": "not found"}]}
UNAUTHORIZED = {"errors": [{"status": "401", "title": "unauthorized"}]}
PAGINATION_KEYS = {"current-page", "page-size", "prev-page", "next-page", "total-pages",
                   "total-count"}
Call = Callable[..., requests.Response]


@pytest.fixture
def tfe(sandbox):
    return sandbox["tfe"]


@pytest.fixture
def call(tfe) -> Call:
    """``call(method, path, token=<admin>, **requests_kwargs)``; path is below /api/v2."""
    def send(method: str, path: str, token: str | None = "admin", **kwargs: Any):
        headers = {"Content-Type": JSONAPI, "Accept": JSONAPI, **kwargs.pop("headers", {})}
        if token is not None:
            headers["Authorization"] = f"Bearer {tfe.admin_token if token == 'admin' else token}"
        return requests.request(method, f"{tfe.url}/api/v2{path}", headers=headers,
                                timeout=5, **kwargs)
    return send


@pytest.fixture
def client(tfe) -> TFEClient:
    return TFEClient(TFEConfig(address=tfe.url, token=tfe.admin_token, max_retries=0))


def described_body(description: Any = "ci-deploy", expired_at: Any = None,
                   kind: Any = "authentication-tokens") -> dict:
    attributes = {"description": description}
    if expired_at is not None:
        attributes["expired-at"] = expired_at
    return {"data": {"type": kind, "attributes": attributes}}


def assert_error(response: requests.Response, status: int, title: str,
                 detail: str | None = None, pointer: str | None = None) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == JSONAPI
    entry = response.json()["errors"][0]
    assert (entry["status"], entry["title"]) == (str(status), title)
    assert entry.get("detail") == detail
    assert entry.get("source", {}).get("pointer") == pointer


def works(call: Call, secret: str) -> bool:
    return call("GET", "/account/details", token=secret).status_code == 200


# -- transport, auth, errors -----------------------------------------------------------------

def test_ping_answers_204_with_rate_limit_header_and_needs_no_token(call):
    response = call("GET", "/ping", token=None)
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["X-RateLimit-Limit"] == "30"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"},
                                     {"Authorization": "Token {admin}"}])
def test_missing_invalid_or_non_bearer_credential_gets_401(tfe, call, headers):
    headers = {key: value.format(admin=tfe.admin_token) for key, value in headers.items()}
    response = call("GET", f"/organizations/{ORG}/team-tokens", token=None, headers=headers)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == JSONAPI
    assert response.json() == UNAUTHORIZED


def test_unknown_path_and_wrong_method_answer_jsonapi_errors(call):
    unknown = call("GET", "/no-such-thing")
    assert unknown.status_code == 404 and unknown.json() == NOT_FOUND
    assert_error(call("PATCH", "/authentication-tokens/at-x"), 405, "method not allowed")


def test_account_details_names_the_admin_user_or_the_team_service_user(tfe, call):
    admin = call("GET", "/account/details").json()["data"]
    assert admin["type"] == "users" and admin["id"] == tfe.admin_user_id
    assert admin["attributes"]["is-service-account"] is False
    team_id = tfe.add_team("ci")
    _ignored, secret = tfe.add_token(team_id, "ci-deploy")
    service = call("GET", "/account/details", token=secret).json()["data"]
    assert service["attributes"]["is-service-account"] is True
    assert service["attributes"]["username"] == f"api-{team_id}"


def test_organization_read_and_unknown_organization(call):
    response = call("GET", f"/organizations/{ORG}")
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["name"] == ORG
    assert call("GET", "/organizations/other").json() == NOT_FOUND
    assert call("GET", "/organizations/other/team-tokens").status_code == 404
    assert call("GET", "/organizations/other/teams").status_code == 404


# -- teams -------------------------------------------------------------------------------------

def test_team_read_and_unknown_team(tfe, call):
    team_id = tfe.add_team("platform")
    team = call("GET", f"/teams/{team_id}").json()["data"]
    assert (team["id"], team["type"], team["attributes"]["name"]) == (team_id, "teams", "platform")
    assert call("GET", "/teams/team-missing").json() == NOT_FOUND


@pytest.mark.parametrize("query", ["filter[names]=ci", "filter%5Bnames%5D=ci"])
def test_team_filter_by_names_accepts_plain_and_encoded_brackets(tfe, call, query):
    ci = tfe.add_team("ci")
    tfe.add_team("ci-extra")
    body = call("GET", f"/organizations/{ORG}/teams?{query}").json()
    assert [team["id"] for team in body["data"]] == [ci]
    assert body["meta"]["pagination"]["total-count"] == 1


def test_team_filter_comma_list_and_repeated_keys_keep_the_last(tfe, call):
    tfe.add_teams(3, prefix="t")
    joined = call("GET", f"/organizations/{ORG}/teams",
                  params={"filter[names]": "t-0000,t-0002"}).json()["data"]
    assert [team["attributes"]["name"] for team in joined] == ["t-0000", "t-0002"]
    repeated = call("GET", f"/organizations/{ORG}/teams",
                    params=[("filter[names]", "t-0000"), ("filter[names]", "t-0001")]).json()
    assert [team["attributes"]["name"] for team in repeated["data"]] == ["t-0001"]


def test_team_filter_can_be_ignored_like_some_tfe_releases(tfe, call):
    tfe.add_teams(3, prefix="t")
    tfe.ignore_team_name_filter = True
    body = call("GET", f"/organizations/{ORG}/teams", params={"filter[names]": "t-0001"}).json()
    assert body["meta"]["pagination"]["total-count"] == 4      # three plus owners


def test_team_q_is_a_case_insensitive_substring(tfe, call):
    tfe.add_team("Platform-Core")
    tfe.add_team("ci")
    names = [team["attributes"]["name"] for team in
             call("GET", f"/organizations/{ORG}/teams", params={"q": "platform"}).json()["data"]]
    assert names == ["Platform-Core"]


def test_teams_page_over_three_pages_and_stop(tfe, call):
    tfe.add_teams(249)      # 250 with owners
    seen, page, pages = [], 1, []
    while page is not None:
        body = call("GET", f"/organizations/{ORG}/teams",
                    params={"page[number]": page, "page[size]": 100}).json()
        seen += [team["id"] for team in body["data"]]
        pages.append(body["meta"]["pagination"])
        page = body["meta"]["pagination"]["next-page"]
    assert len(pages) == 3 and len(seen) == len(set(seen)) == 250
    assert pages[-1] == {"current-page": 3, "page-size": 100, "prev-page": 2, "next-page": None,
                         "total-pages": 3, "total-count": 250}


# -- described tokens --------------------------------------------------------------------------

def test_create_described_token_returns_201_with_secret_and_default_two_year_expiry(tfe, call):
    team_id = tfe.add_team("ci")
    response = call("POST", f"/teams/{team_id}/authentication-tokens", json=described_body())
    assert response.status_code == 201
    assert response.headers["Content-Type"] == JSONAPI
    data = response.json()["data"]
    assert data["type"] == "authentication-tokens" and data["id"].startswith("at-")
    assert len(data["id"]) == 19
    attributes = data["attributes"]
    assert attributes["description"] == "ci-deploy" and attributes["last-used-at"] is None
    assert ".atlasv1." in attributes["token"] and tfe.secrets.is_live(attributes["token"])
    created, expires = parse_time(attributes["created-at"]), parse_time(attributes["expired-at"])
    assert created.replace(year=created.year + 2) == expires
    assert attributes["created-at"].endswith("Z") and len(attributes["created-at"]) == 24
    assert data["relationships"] == {
        "team": {"data": {"id": team_id, "type": "teams"}},
        "created-by": {"data": {"id": tfe.admin_user_id, "type": "users"}}}
    assert works(call, attributes["token"])


@pytest.mark.parametrize("kind", ["authentication-tokens", "authentication-token", "", None])
def test_create_accepts_any_data_type_and_echoes_expiry_at_ms(tfe, call, kind):
    team_id = tfe.add_team("ci")
    body = described_body(expired_at="2051-04-11T23:15:59Z", kind=kind)
    if kind is None:
        del body["data"]["type"]
    response = call("POST", f"/teams/{team_id}/authentication-tokens", json=body)
    assert response.status_code == 201
    assert response.json()["data"]["attributes"]["expired-at"] == "2051-04-11T23:15:59.000Z"


def test_duplicate_description_is_422_in_the_same_team_only(tfe, call):
    first, second = tfe.add_team("a"), tfe.add_team("b")
    tfe.add_token(first, "deploy")
    duplicate = call("POST", f"/teams/{first}/authentication-tokens", json=described_body("deploy"))
    assert duplicate.json() == {"errors": [{
        "status": "422", "title": "invalid attributes",
        "detail": "Validation failed: Description has already been taken",
        "source": {"pointer": "/data/attributes/description"}}]}
    assert duplicate.status_code == 422
    other = call("POST", f"/teams/{second}/authentication-tokens", json=described_body("deploy"))
    assert other.status_code == 201
    assert len(tfe.tokens(first)) == 1


def test_empty_description_is_accepted_and_echoed(tfe, call):
    team_id = tfe.add_team("ci")
    response = call("POST", f"/teams/{team_id}/authentication-tokens", json=described_body(""))
    assert response.status_code == 201
    assert response.json()["data"]["attributes"]["description"] == ""


@pytest.mark.parametrize("body, detail, pointer", [
    (described_body(None), "Validation failed: Description is required",
     "/data/attributes/description"),
    (described_body(expired_at="next tuesday"),
     "Validation failed: Expired at must be an ISO 8601 time", "/data/attributes/expired-at"),
    (described_body(expired_at="2001-01-01T00:00:00Z"),
     "Validation failed: Expired at must be in the future", "/data/attributes/expired-at"),
    ({"data": "nope"}, "data: must be an object", "/data"),
])
def test_create_validation_errors_are_422_and_create_nothing(tfe, call, body, detail, pointer):
    team_id = tfe.add_team("ci")
    response = call("POST", f"/teams/{team_id}/authentication-tokens", json=body)
    assert_error(response, 422, "invalid attributes", detail, pointer)
    assert tfe.tokens() == []


def test_create_with_a_body_that_is_not_json_is_400(tfe, call):
    team_id = tfe.add_team("ci")
    assert_error(call("POST", f"/teams/{team_id}/authentication-tokens", data="{nope"), 400,
                 "bad request", "the request body is not valid JSON")


def test_expiry_beyond_the_organization_max_ttl_is_422(tfe, call):
    team_id = tfe.add_team("ci")
    tfe.max_token_ttl = timedelta(days=30)
    too_late = (utcnow() + timedelta(days=31)).isoformat()
    response = call("POST", f"/teams/{team_id}/authentication-tokens",
                    json=described_body(expired_at=too_late))
    assert response.status_code == 422
    assert "maximum team token lifetime" in response.json()["errors"][0]["detail"]


def test_create_on_unknown_team_or_old_tfe_is_404(tfe, call):
    assert call("POST", "/teams/team-missing/authentication-tokens",
                json=described_body()).json() == NOT_FOUND
    team_id = tfe.add_team("ci")
    tfe.described_tokens_supported = False
    response = call("POST", f"/teams/{team_id}/authentication-tokens", json=described_body())
    assert response.status_code == 404 and tfe.tokens() == []


def test_show_by_id_hides_the_secret_and_404s_when_unknown(tfe, call):
    team_id = tfe.add_team("ci")
    token_id, _ignored = tfe.add_token(team_id, "ci-deploy", created_at=days_ago(40))
    response = call("GET", f"/authentication-tokens/{token_id}")
    assert response.status_code == 200
    assert response.json()["data"] == tfe.token_by_id(token_id)
    assert response.json()["data"]["attributes"]["token"] is None
    assert call("GET", "/authentication-tokens/at-nonexistent").json() == NOT_FOUND


def test_delete_by_id_is_204_kills_the_secret_and_then_404(tfe, call):
    team_id = tfe.add_team("ci")
    token_id, secret = tfe.add_token(team_id, "ci-deploy")
    kept_id, kept = tfe.add_token(team_id, "other")
    assert works(call, secret)
    response = call("DELETE", f"/authentication-tokens/{token_id}")
    assert response.status_code == 204 and response.content == b""
    assert call("GET", "/account/details", token=secret).json() == UNAUTHORIZED
    assert not tfe.secrets.is_live(secret) and works(call, kept)
    assert call("DELETE", f"/authentication-tokens/{token_id}").json() == NOT_FOUND


def test_expired_token_is_rejected_but_still_listed(tfe, call):
    team_id = tfe.add_team("ci")
    token_id, secret = tfe.add_token(team_id, "old", created_at=days_ago(100),
                                     expired_at=days_ago(1))
    assert call("GET", "/account/details", token=secret).status_code == 401
    assert not tfe.secrets.is_live(secret)
    listed = call("GET", f"/organizations/{ORG}/team-tokens",
                  params={"filter[status]": "expired"}).json()["data"]
    assert [token["id"] for token in listed] == [token_id]


def test_using_a_token_sets_last_used_at(tfe, call):
    team_id = tfe.add_team("ci")
    token_id, secret = tfe.add_token(team_id, "ci-deploy")
    assert tfe.token_by_id(token_id)["attributes"]["last-used-at"] is None
    works(call, secret)
    used = parse_time(tfe.token_by_id(token_id)["attributes"]["last-used-at"])
    assert abs((utcnow() - used).total_seconds()) < 5


# -- legacy tokens -----------------------------------------------------------------------------

def test_legacy_read_and_delete_404_when_the_team_has_none(tfe, call):
    team_id = tfe.add_team("ci")
    assert call("GET", f"/teams/{team_id}/authentication-token").json() == NOT_FOUND
    assert call("DELETE", f"/teams/{team_id}/authentication-token").json() == NOT_FOUND


def test_legacy_regenerate_replaces_the_secret_and_keeps_described_tokens(tfe, call):
    team_id = tfe.add_team("ci")
    _ignored, described = tfe.add_token(team_id, "ci-deploy")
    path = f"/teams/{team_id}/authentication-token"
    first = call("POST", path, json={"data": {"type": "authentication-token", "attributes": {}}})
    assert first.status_code == 201
    assert first.json()["data"]["attributes"]["description"] is None
    old = first.json()["data"]["attributes"]["token"]
    second = call("POST", path, data="").json()["data"]       # an empty body is allowed
    assert second["id"] != first.json()["data"]["id"]
    assert call("GET", "/account/details", token=old).json() == UNAUTHORIZED
    assert works(call, second["attributes"]["token"]) and works(call, described)
    shown = call("GET", path).json()["data"]
    assert shown["id"] == second["id"] and shown["attributes"]["token"] is None
    assert len(tfe.tokens(team_id)) == 2


def test_legacy_delete_is_204_and_revokes(tfe, call):
    team_id = tfe.add_team("ci")
    _ignored, secret = tfe.add_token(team_id)
    response = call("DELETE", f"/teams/{team_id}/authentication-token")
    assert response.status_code == 204 and response.content == b""
    assert not tfe.secrets.is_live(secret) and tfe.legacy_token(team_id) is None


def test_legacy_token_is_readable_and_deletable_by_its_id(tfe, call):
    team_id = tfe.add_team("ci")
    token_id, _ignored = tfe.add_token(team_id)
    assert call("GET", f"/authentication-tokens/{token_id}").json()["data"]["id"] == token_id
    assert call("DELETE", f"/authentication-tokens/{token_id}").status_code == 204
    assert call("GET", f"/teams/{team_id}/authentication-token").status_code == 404


# -- the organization's token list ---------------------------------------------------------------

def test_list_pages_with_all_pagination_keys_and_encoded_links(tfe, call):
    tfe.add_tokens(45, tfe.add_teams(5))
    body = call("GET", f"/organizations/{ORG}/team-tokens").json()
    assert len(body["data"]) == 20 and set(body["meta"]["pagination"]) == PAGINATION_KEYS
    assert body["meta"]["pagination"]["total-pages"] == 3
    assert "page%5Bnumber%5D=2" in body["links"]["next"] and body["links"]["prev"] is None
    assert all(token["attributes"]["token"] is None for token in body["data"])
    last = call("GET", f"/organizations/{ORG}/team-tokens", params={"page[number]": 3}).json()
    assert len(last["data"]) == 5 and last["meta"]["pagination"]["next-page"] is None
    beyond = call("GET", f"/organizations/{ORG}/team-tokens", params={"page[number]": 4}).json()
    assert beyond["data"] == []


def test_list_clamps_page_size_to_100_and_empty_list_has_one_page(tfe, call):
    empty = call("GET", f"/organizations/{ORG}/team-tokens").json()
    assert empty["data"] == [] and empty["meta"]["pagination"]["total-pages"] == 1
    tfe.add_tokens(150)
    body = call("GET", f"/organizations/{ORG}/team-tokens", params={"page[size]": 500}).json()
    assert len(body["data"]) == 100 and body["meta"]["pagination"]["page-size"] == 100


def test_list_q_narrows_by_team_name(tfe, call):
    alpha, beta = tfe.add_team("alpha"), tfe.add_team("beta")
    tfe.add_token(alpha, "one")
    tfe.add_token(beta, "two")
    tfe.add_token(beta)
    listed = call("GET", f"/organizations/{ORG}/team-tokens", params={"q": "beta"}).json()["data"]
    assert {token["relationships"]["team"]["data"]["id"] for token in listed} == {beta}
    assert len(listed) == 2


def test_list_sorts_by_expiry_by_default_and_on_request(tfe, call):
    team_a, team_b = tfe.add_team("a-team"), tfe.add_team("b-team")
    later, _ignored = tfe.add_token(team_a, "later", expired_at=days_ago(-90))
    never, _ignored = tfe.add_token(team_b, "never", expired_at=None)
    sooner, _ignored = tfe.add_token(team_b, "sooner", expired_at=days_ago(-10))

    def ids(sort: str | None) -> list[str]:
        params = {"sort": sort} if sort else {}
        return [token["id"] for token in call(
            "GET", f"/organizations/{ORG}/team-tokens", params=params).json()["data"]]
    assert ids(None) == ids("expired-at") == [sooner, later, never]
    assert ids("-expired-at") == [never, later, sooner]
    assert ids("-team-name") == [never, sooner, later]
    assert_error(call("GET", f"/organizations/{ORG}/team-tokens", params={"sort": "color"}),
                 400, "bad request",
                 "invalid sort parameter 'color'; use one of team-name, created-by, "
                 "expired-at, last-used-at, optionally with a leading -")


@pytest.mark.parametrize("key", ["filter[status]", "filter[expiry_status]"])
def test_list_filters_by_expiry_status(tfe, call, key):
    team_id = tfe.add_team("ci")
    expired, _ignored = tfe.add_token(team_id, "expired", created_at=days_ago(9), expired_at=days_ago(1))
    soon, _ignored = tfe.add_token(team_id, "soon", expired_at=days_ago(-3))
    month, _ignored = tfe.add_token(team_id, "month", expired_at=days_ago(-20))
    never, _ignored = tfe.add_token(team_id, "never", expired_at=None)

    def ids(value: str) -> set[str]:
        return {token["id"] for token in call(
            "GET", f"/organizations/{ORG}/team-tokens", params={key: value}).json()["data"]}
    assert ids("expired") == {expired}
    assert ids("expiring_in_7_days") == {soon}
    assert ids("expiring_in_30_days") == {soon, month}
    assert ids("no_expiration,expired") == {never, expired}
    assert ids("active") == {soon, month, never}
    assert call("GET", f"/organizations/{ORG}/team-tokens",
                params={key: "bogus"}).status_code == 400


def test_bulk_delete_is_all_or_nothing(tfe, call):
    team_id = tfe.add_team("ci")
    (first, first_secret), (second, _ignored) = tfe.add_tokens(2, [team_id])
    path = f"/organizations/{ORG}/team-tokens"
    refs = [{"type": "authentication-tokens", "id": first}, {"id": "at-missing"}]
    assert call("DELETE", path, json={"data": refs}).json() == NOT_FOUND
    assert len(tfe.tokens()) == 2
    refs[1]["id"] = second
    response = call("DELETE", path, json={"data": refs})
    assert response.status_code == 204 and tfe.tokens() == []
    assert not tfe.secrets.is_live(first_secret)
    assert call("DELETE", path, json={"data": "x"}).status_code == 422


# -- who may do what ---------------------------------------------------------------------------

def test_a_non_owner_team_token_sees_404_and_403_on_bulk_delete(tfe, call):
    team_id = tfe.add_team("ci")
    token_id, secret = tfe.add_token(team_id, "ci-deploy")
    assert call("GET", f"/authentication-tokens/{token_id}", token=secret).json() == NOT_FOUND
    assert call("GET", f"/organizations/{ORG}/team-tokens", token=secret).status_code == 404
    assert call("POST", f"/teams/{team_id}/authentication-tokens", token=secret,
                json=described_body("x")).status_code == 404
    assert_error(call("DELETE", f"/organizations/{ORG}/team-tokens", token=secret,
                      json={"data": []}), 403, "forbidden")
    assert call("GET", f"/teams/{team_id}", token=secret).status_code == 200
    assert call("GET", f"/organizations/{ORG}", token=secret).status_code == 200


def test_an_owners_team_token_manages_tokens_as_its_team(tfe, call):
    _ignored, owner_secret = tfe.add_token(tfe.owners_team_id, "automation")
    team_id = tfe.add_team("ci")
    response = call("POST", f"/teams/{team_id}/authentication-tokens", token=owner_secret,
                    json=described_body())
    assert response.status_code == 201
    assert response.json()["data"]["relationships"]["created-by"]["data"] == {
        "id": tfe.owners_team_id, "type": "teams"}


# -- rate limits and faults --------------------------------------------------------------------

def test_rate_limit_429_has_numeric_status_and_reset_header(tfe, call):
    tfe.enforce_rate_limit(1, 30)
    assert call("GET", f"/organizations/{ORG}").status_code == 200
    limited = call("GET", f"/organizations/{ORG}")
    assert limited.status_code == 429
    assert limited.json() == {"errors": [{"status": 429, "title": "Too many requests",
                                          "detail": "You have exceeded the API's rate limit."}]}
    assert limited.headers["X-RateLimit-Limit"] == "1"
    assert 0 < float(limited.headers["X-RateLimit-Reset"]) <= 30
    assert "Retry-After" not in limited.headers
    tfe.send_retry_after = True
    assert 1 <= int(call("GET", f"/organizations/{ORG}").headers["Retry-After"]) <= 30


def test_pytfe_surfaces_429_as_rate_limited(tfe, client):
    tfe.enforce_rate_limit(0, 30)
    tfe.send_retry_after = True
    with pytest.raises(RateLimited) as raised:
        client.team_tokens.read_by_id("at-anything")
    assert raised.value.retry_after is not None and raised.value.retry_after >= 1


def test_injected_status_fault_uses_the_error_body(sandbox, call):
    sandbox.faults.add("status", platform="tfe", method="GET", status=503,
                       headers={"Retry-After": "0"})
    response = call("GET", f"/organizations/{ORG}")
    assert_error(response, 503, "service unavailable", "injected fault")
    assert response.headers["Retry-After"] == "0"


def test_lost_response_creates_the_token_but_the_client_sees_a_connection_error(
        sandbox, tfe, call):
    team_id = tfe.add_team("ci")
    sandbox.faults.add("lost_response", platform="tfe", method="POST")
    with pytest.raises(requests.ConnectionError):
        call("POST", f"/teams/{team_id}/authentication-tokens", json=described_body())
    [token] = tfe.tokens(team_id)
    assert token["attributes"]["description"] == "ci-deploy"
    assert tfe.secrets.is_live(tfe.secret_of(token["id"]))


def test_drop_fault_fails_the_request_and_changes_nothing(sandbox, tfe, call):
    team_id = tfe.add_team("ci")
    sandbox.faults.add("drop", platform="tfe", method="POST")
    with pytest.raises(requests.ConnectionError):
        call("POST", f"/teams/{team_id}/authentication-tokens", json=described_body())
    assert tfe.tokens() == []
    assert call("POST", f"/teams/{team_id}/authentication-tokens",
                json=described_body()).status_code == 201


# -- the official SDK ----------------------------------------------------------------------------

def test_create_in_team_fault_makes_a_described_token_in_another_team(tfe, client):
    """A fault, not fidelity: the create answers 201, the token belongs to another team."""
    asked, other = tfe.add_team("asked"), tfe.add_team("other")
    tfe.create_in_team = other
    created = client.team_tokens.create_with_options(
        asked, TeamTokenCreateOptions(description="ci"))
    assert client.team_tokens.read_by_id(created.id).team.id == other


def test_pytfe_creates_reads_and_deletes_described_tokens(tfe, client):
    team_id = tfe.add_team("ci")
    expiry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    created = client.team_tokens.create_with_options(
        team_id, TeamTokenCreateOptions(description="ci-deploy", expired_at=expiry))
    assert created.token and tfe.secrets.is_live(created.token)
    assert created.expired_at == expiry and created.team.id == team_id
    assert created.created_by.user.id == tfe.admin_user_id
    read = client.team_tokens.read_by_id(created.id)
    assert read.token is None and read.description == "ci-deploy"
    with pytest.raises(TFEError) as duplicate:
        client.team_tokens.create_with_options(
            team_id, TeamTokenCreateOptions(description="ci-deploy"))
    assert duplicate.value.status == 422
    assert str(duplicate.value) == "Validation failed: Description has already been taken"
    client.team_tokens.delete_by_id(created.id)
    assert not tfe.secrets.is_live(created.token)
    with pytest.raises(NotFound):
        client.team_tokens.read_by_id(created.id)


def test_pytfe_regenerates_the_legacy_token(tfe, client, call):
    team_id = tfe.add_team("ci")
    first = client.team_tokens.create(team_id)
    assert first.description is None and works(call, first.token)
    second = client.team_tokens.create(team_id)
    assert call("GET", "/account/details", token=first.token).status_code == 401
    assert works(call, second.token)
    assert client.team_tokens.read(team_id).id == second.id
    client.team_tokens.delete(team_id)
    assert not tfe.secrets.is_live(second.token)
    with pytest.raises(NotFound):
        client.team_tokens.read(team_id)


def test_pytfe_lists_every_team_token_across_pages(sandbox, tfe, client):
    team_ids = tfe.add_teams(250)
    seeded = {token_id for token_id, _ignored in tfe.add_tokens(300, team_ids)}
    sandbox.log.clear()
    listed = list(client.team_tokens.list(ORG))
    assert {token.id for token in listed} == seeded and len(listed) == 300
    assert [entry.status for entry in sandbox.log.select("tfe", "GET")] == [200, 200, 200]
    narrowed = list(client.team_tokens.list(ORG, TeamTokenListOptions(query="team-0007")))
    assert {token.team.id for token in narrowed} == {team_ids[7]}


def test_pytfe_finds_a_team_by_name_and_reads_it(tfe, client):
    tfe.add_teams(250)
    wanted = tfe.team_by_name("team-0123")
    [team] = list(client.teams.list(ORG, TeamListOptions(names=["team-0123"])))
    assert team.id == wanted and team.name == "team-0123"
    assert client.teams.read(wanted).name == "team-0123"


def test_pytfe_maps_a_bad_token_to_auth_error(tfe):
    client = TFEClient(TFEConfig(address=tfe.url, token="wrong", max_retries=0))
    with pytest.raises(AuthError) as raised:
        client.team_tokens.read_by_id("at-anything")
    assert raised.value.status == 401


# -- seed helpers ------------------------------------------------------------------------------

def test_seed_helpers_reject_bad_input(tfe):
    team_id = tfe.add_team("ci")
    tfe.add_token(team_id, "taken")
    with pytest.raises(ValueError):
        tfe.add_token(team_id, "taken")
    with pytest.raises(ValueError):
        tfe.add_team("ci")
    with pytest.raises(ValueError):
        tfe.add_team("bad name")
    with pytest.raises(ValueError):
        tfe.add_token("team-missing")


def test_demo_data_has_tokens_due_under_90_days_and_fresh_ones(tfe, capsys):
    tfe.seed_demo()
    ages = [utcnow() - parse_time(token["attributes"]["created-at"]) for token in tfe.tokens()]
    assert any(age > timedelta(days=90) for age in ages)
    assert any(age < timedelta(days=30) for age in ages)
    assert all(tfe.secrets.is_live(tfe.secret_of(token["id"])) for token in tfe.tokens())
    assert capsys.readouterr().out == ""


# -- corrections found against real-world sources (issue 13) ----------------------------------

UNSUPPORTED_MEDIA_TYPE = {"errors": [{"status": "415", "title": "unsupported media type"}]}


@pytest.mark.parametrize("method,path", [
    ("POST", "/teams/{team}/authentication-tokens"),
    ("POST", "/teams/{team}/authentication-token"),
    ("DELETE", "/authentication-tokens/{token}"),
    ("DELETE", "/teams/{team}/authentication-token"),
    ("DELETE", "/organizations/tokenops/team-tokens"),
])
def test_mutating_requests_without_the_media_type_get_415_even_bodiless(tfe, method, path):
    team = tfe.add_team("ci")
    token_id, _secret = tfe.add_token(team, "ci")
    tfe.add_token(team)
    url = f"{tfe.url}/api/v2{path.format(team=team, token=token_id)}"
    auth = {"Authorization": f"Bearer {tfe.admin_token}"}
    for headers in (auth, {**auth, "Content-Type": "application/json"}):
        response = requests.request(method, url, headers=headers, timeout=5)
        assert response.status_code == 415
        assert response.json() == UNSUPPORTED_MEDIA_TYPE
    assert len(tfe.tokens(team)) == 2
    tfe.require_media_type = False
    assert requests.request(method, url, headers=auth, timeout=5).status_code != 415


def test_a_bodiless_delete_with_the_media_type_succeeds(tfe, call):
    team = tfe.add_team("ci")
    token_id, _secret = tfe.add_token(team, "ci")
    assert call("DELETE", f"/authentication-tokens/{token_id}").status_code == 204


def test_older_release_has_no_described_tokens_never_expiring_legacy_and_team_delete_only(
        tfe, call):
    tfe.as_older_release()
    team = tfe.add_team("ci")
    assert call("POST", f"/teams/{team}/authentication-tokens",
                json=described_body()).json() == NOT_FOUND
    created = call("POST", f"/teams/{team}/authentication-token")
    assert created.status_code == 201
    data = created.json()["data"]
    assert data["attributes"]["expired-at"] is None
    assert call("DELETE", f"/authentication-tokens/{data['id']}").json() == NOT_FOUND
    assert call("DELETE", f"/teams/{team}/authentication-token").status_code == 204
    assert not works(call, data["attributes"]["token"])


def test_ttl_policy_lists_the_team_cap_that_a_longer_expiry_breaks(tfe, call):
    tfe.max_token_ttl = timedelta(days=30)
    policies = call("GET", "/organizations/tokenops/token-ttl-policies").json()["data"]
    team_policy = next(p for p in policies if p["attributes"]["token-type"] == "team")
    assert team_policy["attributes"]["max-ttl-ms"] == 30 * 86400 * 1000
    assert call("GET", "/organizations/tokenops").json()["data"]["attributes"][
        "max-ttl-enabled"] is True
    team = tfe.add_team("ci")
    too_late = (utcnow() + timedelta(days=31)).isoformat()
    response = call("POST", f"/teams/{team}/authentication-tokens",
                    json=described_body(expired_at=too_late))
    assert response.status_code == 422 and tfe.tokens() == []


def test_account_details_names_the_team_of_a_team_token(tfe, call):
    team = tfe.add_team("ci")
    _id, secret = tfe.add_token(team, "ci")
    data = call("GET", "/account/details", token=secret).json()["data"]
    assert data["type"] == "users" and data["attributes"]["is-service-account"] is True
    resource = data["relationships"]["authenticated-resource"]["data"]
    assert resource == {"type": "teams", "id": team}
    admin = call("GET", "/account/details").json()["data"]
    assert admin["relationships"]["authenticated-resource"]["data"] == {
        "type": "users", "id": tfe.admin_user_id}


def test_organizations_lists_what_the_token_sees(tfe, call):
    body = call("GET", "/organizations").json()
    assert [org["attributes"]["name"] for org in body["data"]] == [ORG]
    assert body["meta"]["pagination"]["total-count"] == 1


def test_a_pytfe_script_starts_by_listing_organizations(tfe, client):
    """The way a pytfe user starts: find the organization, then its teams and tokens."""
    organizations = [org.name for org in client.organizations.list()]
    assert organizations == [ORG]
    team_id = tfe.add_team("ci")
    teams = list(client.teams.list(organizations[0]))
    assert team_id in [team.id for team in teams]
    created = client.team_tokens.create_with_options(
        team_id, TeamTokenCreateOptions(description="from-a-script"))
    assert created.token
    client.team_tokens.delete_by_id(created.id)
    assert tfe.tokens(team_id) == []


# -- token TTL policies ----------------------------------------------------------------------
# pytfe 1.5.0 organization_token_ttl_policies / go-tfe OrganizationTokenTTLPolicies; the
# provider's tfe_org_max_token_ttl_policy (terraform-provider-tfe #1996) reads an empty list as
# "disabled" and documents: "Existing tokens that exceed newly configured limits will stop
# working and return an unauthorized error".

def test_pytfe_lists_no_policy_until_the_organization_sets_one(tfe, client):
    assert list(client.organization_token_ttl_policies.list(ORG)) == []
    tfe.max_token_ttl = timedelta(days=30)
    policies = {p.token_type.value: p.max_ttl_ms
                for p in client.organization_token_ttl_policies.list(ORG)}
    assert policies["team"] == 30 * 86400 * 1000 and set(policies) == {
        "organization", "team", "user", "audit_trails"}


def test_team_tokens_beyond_the_policy_answer_401(tfe, call):
    team = tfe.add_team("ci")
    _old_id, old = tfe.add_token(team, "old", created_at=days_ago(10))          # 2 years
    _never_id, never = tfe.add_token(team, "never", expired_at=None)
    _short_id, short = tfe.add_token(team, "short", expired_at=days_ago(-20))
    tfe.max_token_ttl = timedelta(days=30)
    for secret in (old, never):
        response = call("GET", "/account/details", token=secret)
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
        pytfe = TFEClient(TFEConfig(address=tfe.url, token=secret, max_retries=0))
        with pytest.raises(AuthError):
            list(pytfe.organizations.list())
    assert works(call, short)
    tfe.max_token_ttl = None
    assert works(call, old)                 # the policy refuses it; it was never revoked


@pytest.mark.parametrize("capped_default, status", [("refuse", 422), ("cap", 201)])
def test_create_without_expiry_under_a_cap(tfe, call, capped_default, status):
    """No source says what a create without expired-at does under a cap shorter than the
    two-year default; both readings are switches (see the sandbox's docstring)."""
    team = tfe.add_team("ci")
    tfe.max_token_ttl, tfe.capped_default = timedelta(days=30), capped_default
    response = call("POST", f"/teams/{team}/authentication-tokens", json=described_body())
    assert response.status_code == status
    if status == 201:
        attributes = response.json()["data"]["attributes"]
        lifetime = parse_time(attributes["expired-at"]) - parse_time(attributes["created-at"])
        assert lifetime == timedelta(days=30) and works(call, attributes["token"])
    else:
        assert response.json()["errors"][0]["source"] == {"pointer": "/data/attributes/expired-at"}
        assert tfe.tokens() == []


def test_ttl_policies_status_switch(tfe, client):
    tfe.ttl_policies_status = 404
    with pytest.raises(NotFound):
        list(client.organization_token_ttl_policies.list(ORG))


# -- workspaces, workspace variables, variable sets (issue 25) ----------------------------------

def test_pytfe_reads_a_workspace_by_name_and_lists_workspaces(tfe, client):
    ws_id = tfe.add_workspace("prod")
    tfe.add_workspace("staging")
    workspace = client.workspaces.read("prod", organization=ORG)
    assert (workspace.id, workspace.name) == (ws_id, "prod")
    assert sorted(ws.name for ws in client.workspaces.list(ORG)) == ["prod", "staging"]
    with pytest.raises(NotFound):
        client.workspaces.read("nowhere", organization=ORG)


def test_pytfe_creates_lists_updates_and_deletes_workspace_variables(tfe, client, call):
    ws_id = tfe.add_workspace("prod")
    plain = client.variables.create(ws_id, VariableCreateOptions(
        key="region", value="eu-west-1", category=CategoryType.TERRAFORM, hcl=False,
        description="where"))
    assert (plain.key, plain.value, plain.category, plain.sensitive) == (
        "region", "eu-west-1", CategoryType.TERRAFORM, False)
    secret = client.variables.create(ws_id, VariableCreateOptions(
        key="CLOUDFLARE_API_TOKEN", value="first-secret", category=CategoryType.ENV,
        sensitive=True))
    assert secret.value is None and secret.sensitive is True, "a sensitive value is write-only"
    # pytfe 1.5.0 builds a workspace Variable from the dashed attribute names, so its
    # version_id stays None (its variable-set variables map version-id): read it raw.
    assert secret.version_id is None

    def version() -> str:
        return call("GET", f"/workspaces/{ws_id}/vars/{secret.id}").json()[
            "data"]["attributes"]["version-id"]
    first_version = version()
    assert len(first_version) == 32
    assert tfe.variable("CLOUDFLARE_API_TOKEN", workspace="prod")["value"] == "first-secret"

    listed = {variable.key: variable for variable in client.variables.list(ws_id)}
    assert set(listed) == {"region", "CLOUDFLARE_API_TOKEN"}
    assert listed["CLOUDFLARE_API_TOKEN"].value is None
    assert listed["region"].value == "eu-west-1"
    assert "first-secret" not in call("GET", f"/workspaces/{ws_id}/vars").text
    assert [e.query for e in tfe.sandbox.log.select("tfe", "GET")
            if e.path.endswith("/vars")][-1] == "", "one unpaginated request"

    updated = client.variables.update(ws_id, secret.id, VariableUpdateOptions(
        value="second-secret"))
    assert updated.value is None and version() != first_version
    assert tfe.variable("CLOUDFLARE_API_TOKEN", workspace="prod")["value"] == "second-secret"

    client.variables.delete(ws_id, plain.id)
    assert [variable.key for variable in client.variables.list(ws_id)] == [
        "CLOUDFLARE_API_TOKEN"]
    with pytest.raises(NotFound):
        client.variables.read(ws_id, plain.id)


def test_variable_documents_have_the_spec_attributes_and_relationships(tfe, call):
    ws_id = tfe.add_workspace("prod")
    created = call("POST", f"/workspaces/{ws_id}/vars", json={"data": {
        "type": "vars", "attributes": {"key": "TOKEN", "value": "v", "category": "env",
                                       "sensitive": True}}})
    assert created.status_code == 201
    data = created.json()["data"]
    assert set(data["attributes"]) == {"key", "value", "sensitive", "category", "hcl",
                                       "created-at", "description", "version-id"}
    assert data["attributes"]["value"] is None
    assert data["relationships"]["configurable"]["data"] == {"id": ws_id, "type": "workspaces"}
    assert data["links"]["self"] == f"/api/v2/workspaces/{ws_id}/vars/{data['id']}"


@pytest.mark.parametrize("attributes,detail,pointer", [
    ({"value": "v", "category": "env"}, "Key can't be blank", "/data/attributes/key"),
    ({"key": "K", "value": "v"}, "Category is not included in the list",
     "/data/attributes/category"),
    ({"key": "K", "value": "v", "category": "policy"}, "Category is not included in the list",
     "/data/attributes/category"),
    ({"key": "TAKEN", "value": "v", "category": "env"}, "Key has already been taken",
     "/data/attributes/key"),
])
def test_variable_create_validation_is_422_naming_the_attribute(
        tfe, call, attributes, detail, pointer):
    ws_id = tfe.add_workspace("prod")
    tfe.add_variable("TAKEN", "old", workspace="prod")
    response = call("POST", f"/workspaces/{ws_id}/vars",
                    json={"data": {"type": "vars", "attributes": attributes}})
    assert_error(response, 422, "invalid attributes", detail, pointer)
    assert len(call("GET", f"/workspaces/{ws_id}/vars").json()["data"]) == 1


def test_the_same_key_may_exist_once_per_category(tfe, call):
    ws_id = tfe.add_workspace("prod")
    tfe.add_variable("TOKEN", "env value", workspace="prod", category="env")
    response = call("POST", f"/workspaces/{ws_id}/vars", json={"data": {
        "type": "vars", "attributes": {"key": "TOKEN", "value": "tf", "category": "terraform"}}})
    assert response.status_code == 201


def test_a_sensitive_variable_cannot_be_made_non_sensitive(tfe, call):
    ws_id = tfe.add_workspace("prod")
    var_id = tfe.add_variable("TOKEN", "secret", workspace="prod", sensitive=True)
    response = call("PATCH", f"/workspaces/{ws_id}/vars/{var_id}", json={"data": {
        "type": "vars", "attributes": {"sensitive": False}}})
    assert_error(response, 422, "invalid attributes",
                 "Sensitive variables cannot be made non-sensitive", "/data/attributes/sensitive")
    assert tfe.variable("TOKEN", workspace="prod")["sensitive"] is True


def test_pytfe_manages_a_variable_set_and_its_variables(tfe, client):
    prod = tfe.add_workspace("prod")
    varset = client.variable_sets.create(ORG, VariableSetCreateOptions(
        name="cloudflare", description="shared credentials", global_=False))
    assert varset.name == "cloudflare" and varset.global_ is False
    client.variable_sets.apply_to_workspaces(varset.id, VariableSetApplyToWorkspacesOptions(
        workspaces=[Workspace.model_construct(id=prod)]))
    assert [vs.id for vs in client.variable_sets.list_for_workspace(prod)] == [varset.id]
    assert [vs.name for vs in client.variable_sets.list(
        ORG, VariableSetListOptions(query="cloud"))] == ["cloudflare"]

    variable = client.variable_set_variables.create(varset.id, VariableSetVariableCreateOptions(
        key="CLOUDFLARE_API_TOKEN", value="first", category=CategoryType.ENV, sensitive=True))
    assert variable.value is None and variable.version_id
    assert tfe.variable("CLOUDFLARE_API_TOKEN", varset="cloudflare")["value"] == "first"
    listed = list(client.variable_set_variables.list(varset.id))
    assert [(v.key, v.value, v.sensitive) for v in listed] == [
        ("CLOUDFLARE_API_TOKEN", None, True)]

    updated = client.variable_set_variables.update(
        varset.id, variable.id, VariableSetVariableUpdateOptions(value="second"))
    assert updated.version_id != variable.version_id
    assert client.variable_set_variables.read(varset.id, variable.id).version_id == \
        updated.version_id
    assert tfe.variable("CLOUDFLARE_API_TOKEN", varset="cloudflare")["value"] == "second"

    renamed = client.variable_sets.update(varset.id, VariableSetUpdateOptions(
        description="rotated by tokenops"))
    assert renamed.description == "rotated by tokenops"
    assert client.variable_sets.read(varset.id).name == "cloudflare"

    client.variable_set_variables.delete(varset.id, variable.id)
    assert list(client.variable_set_variables.list(varset.id)) == []
    client.variable_sets.remove_from_workspaces(
        varset.id, VariableSetRemoveFromWorkspacesOptions(
            workspaces=[Workspace.model_construct(id=prod)]))
    assert list(client.variable_sets.list_for_workspace(prod)) == []
    client.variable_sets.delete(varset.id)
    with pytest.raises(NotFound):
        client.variable_sets.read(varset.id)


def test_variable_set_variables_page_and_duplicate_keys_are_refused(tfe, call):
    varset_id = tfe.add_varset("many")
    for index in range(25):
        tfe.add_variable(f"K{index:02d}", "v", varset="many", sensitive=False)
    first = call("GET", f"/varsets/{varset_id}/relationships/vars").json()
    assert len(first["data"]) == 20 and first["meta"]["pagination"]["total-count"] == 25
    duplicate = call("POST", f"/varsets/{varset_id}/relationships/vars", json={"data": {
        "type": "vars", "attributes": {"key": "K00", "value": "v", "category": "env"}}})
    assert_error(duplicate, 422, "invalid attributes", "Key has already been taken",
                 "/data/attributes/key")
    assert call("GET", f"/varsets/{varset_id}").json()["data"]["attributes"]["var-count"] == 25


def test_team_tokens_reach_variables_only_as_granted(tfe, call):
    ws_id = tfe.add_workspace("prod")
    var_id = tfe.add_variable("TOKEN", "v", workspace="prod")
    varset_id = tfe.add_varset("shared")
    team_id = tfe.add_team("ci")
    _ignored, secret = tfe.add_token(team_id, "ci")
    body = {"data": {"type": "vars", "attributes": {"value": "new"}}}
    assert call("GET", f"/workspaces/{ws_id}/vars", token=secret).status_code == 404
    assert call("GET", f"/varsets/{varset_id}", token=secret).status_code == 404
    tfe.grant_workspace_access(team_id, "prod", variables="read")
    assert call("GET", f"/workspaces/{ws_id}/vars", token=secret).status_code == 200
    assert_error(call("PATCH", f"/workspaces/{ws_id}/vars/{var_id}", token=secret, json=body),
                 403, "forbidden")
    tfe.grant_workspace_access(team_id, "prod", variables="write")
    assert call("PATCH", f"/workspaces/{ws_id}/vars/{var_id}", token=secret,
                json=body).status_code == 200
    assert tfe.variable("TOKEN", workspace="prod")["value"] == "new"
    tfe.grant_manage_varsets(team_id)
    assert call("GET", f"/varsets/{varset_id}", token=secret).status_code == 200
