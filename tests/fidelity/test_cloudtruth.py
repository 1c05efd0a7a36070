"""Fidelity of the CloudTruth sandbox to api/cloudtruth.md; no official SDK, so plain requests."""
from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from tests.sandbox import Sandbox
from tests.sandbox.core import days_ago, isoformat_s, utcnow

API = "/api/v1"
NOT_FOUND = {"detail": "Not found."}
NO_PERMISSION = {"detail": "You do not have permission to perform this action."}
BAD_CREDENTIALS = {"detail": "Incorrect authentication credentials."}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ACCOUNT_FIELDS = {"url", "id", "owner", "user", "description", "keys", "created_at",
                  "modified_at", "last_used_at"}


class Client:
    """Requests against the sandbox, authenticated with one API key (the admin's by default)."""

    def __init__(self, platform, key: str | None = None) -> None:
        self.platform = platform
        self.key = key or platform.admin_token

    def call(self, method: str, path: str, key: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {"Authorization": f"Api-Key {key or self.key}"})
        return requests.request(method, self.platform.url + API + path, headers=headers,
                                timeout=5, **kwargs)

    def account_path(self, account_id: str, suffix: str = "") -> str:
        return f"/serviceaccounts/{quote(account_id, safe='')}/{suffix}"

    def create(self, key: str | None = None, **body) -> requests.Response:
        return self.call("POST", "/serviceaccounts/", key=key, json=body)

    def whoami(self, key: str) -> requests.Response:
        return self.call("GET", "/users/current/", key=key)


@pytest.fixture(scope="module")
def running_sandbox():
    with Sandbox() as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox):
    """Overrides conftest's fixture: same Sandbox, started once per module, because stopping
    one takes about a second (five servers polling every 0.5 s). Each test still starts from
    an empty CloudTruth, a new admin key, no faults and an empty log."""
    running_sandbox["cloudtruth"].reset()
    running_sandbox.faults.clear()
    running_sandbox.log.clear()
    return running_sandbox


@pytest.fixture
def ct(sandbox):
    return sandbox["cloudtruth"]


@pytest.fixture
def api(ct) -> Client:
    return Client(ct)


def membership_of(api: Client, account_id: str) -> str:
    return api.call("GET", api.account_path(account_id)).json()["user"]["membership_id"]


# --------------------------------------------------------------------------- create / read
def test_base_url_is_the_host_root(ct, api):
    assert urlsplit(ct.url).path == ""
    assert api.call("GET", "/users/current/").status_code == 200


def test_create_returns_201_with_the_key_once_and_viewer_by_default(api):
    response = api.create(name="ci-deployer", description="Deploy pipeline")
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == ACCOUNT_FIELDS | {"apikey"} and "name" not in body
    prefix, dot, rest = body["apikey"].partition(".")
    assert (len(prefix), dot) == (8, ".") and len(rest) >= 20
    assert [k["prefix"] for k in body["keys"]] == [prefix]
    assert body["keys"][0] | {"created": None} == {
        "name": "", "prefix": prefix, "revoked": False, "has_expired": False,
        "created": None, "expiry_date": None}
    user = body["user"]
    assert (user["id"], user["type"], user["name"], user["role"]) == \
        (body["id"], "service", "ci-deployer", "VIEWER")
    assert body["id"].startswith("auth0|")
    assert body["url"].endswith(f"/api/v1/serviceaccounts/{body['id'].replace('|', '%7C')}/")
    assert re.match(r"^serviceaccount\+\w+@cloudtruth\.com$", user["email"])
    assert TIMESTAMP.match(body["created_at"]) and body["last_used_at"] is None
    fetched = api.call("GET", api.account_path(body["id"])).json()
    assert "apikey" not in fetched and fetched["keys"] == body["keys"]


def test_create_with_role_and_owner_given_as_url_or_id(ct, api):
    owner_url = api.call("GET", "/users/current/").json()["url"]
    by_url = api.create(name="a", role="CONTRIB", owner=owner_url).json()
    by_id = api.create(name="b", owner=ct.admin_user_id).json()
    assert by_url["user"]["role"] == "CONTRIB"
    assert by_url["owner"] == owner_url == by_id["owner"]


def test_form_encoded_create_is_accepted(api):
    response = api.call("POST", "/serviceaccounts/", data={"name": "form-sa", "role": "ADMIN"})
    assert response.status_code == 201 and response.json()["user"]["role"] == "ADMIN"


@pytest.mark.parametrize("body, errors", [
    ({}, {"name": ["This field is required."]}),
    ({"name": "  "}, {"name": ["This field may not be blank."]}),
    ({"name": "x" * 129}, {"name": ["Ensure this field has no more than 128 characters."]}),
    ({"name": "a", "role": "viewer"}, {"role": ['"viewer" is not a valid choice.']}),
    ({"name": "a", "description": ["x"]}, {"description": ["Not a valid string."]}),
    ({"name": "a", "owner": "auth0|nobody"},
     {"owner": ["Invalid hyperlink - Object does not exist."]}),
])
def test_create_validation_errors(ct, api, body, errors):
    response = api.create(**body)
    assert (response.status_code, response.json()) == (400, errors)
    assert ct.accounts() == []


@pytest.mark.parametrize("kwargs, status, detail", [
    ({"data": "{oops", "headers_type": "application/json"}, 400, "JSON parse error - "),
    ({"data": "[1]", "headers_type": "application/json"}, 400, None),
    ({"data": "name=x", "headers_type": "text/plain"}, 415,
     'Unsupported media type "text/plain" in request.'),
])
def test_unparseable_bodies(ct, api, kwargs, status, detail):
    headers = {"Authorization": f"Api-Key {ct.admin_token}", "Content-Type": kwargs["headers_type"]}
    response = api.call("POST", "/serviceaccounts/", headers=headers, data=kwargs["data"])
    assert response.status_code == status
    if detail is None:
        expected = "Invalid data. Expected a dictionary, but got list."
        assert response.json() == {"__all__": [expected]}
    else:
        assert response.json()["detail"].startswith(detail)


def test_get_unknown_account_is_404(api):
    response = api.call("GET", api.account_path("auth0|000000000000000000000000"))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_ids_with_a_pipe_work_encoded_raw_and_through_the_url_field(ct, api):
    account_id = ct.add_service_account("pipe")[0]
    encoded = api.call("GET", api.account_path(account_id))
    raw = api.call("GET", f"/serviceaccounts/{account_id}/")
    via_url = requests.get(encoded.json()["url"],
                           headers={"Authorization": f"Api-Key {ct.admin_token}"}, timeout=5)
    assert "%7C" in encoded.json()["url"]
    assert [r.status_code for r in (encoded, raw, via_url)] == [200, 200, 200]
    assert raw.json()["id"] == via_url.json()["id"] == account_id


def test_entry_with_null_user_is_listed_read_and_deleted(ct, api):
    ct.add_service_account("normal")
    orphan = ct.add_userless_service_account(description="legacy")
    listed = api.call("GET", "/serviceaccounts/").json()["results"]
    assert [a["user"] for a in listed if a["id"] == orphan] == [None]
    body = api.call("GET", api.account_path(orphan)).json()
    assert (body["user"], body["keys"], body["description"]) == (None, [], "legacy")
    assert api.call("DELETE", api.account_path(orphan)).status_code == 204


# --------------------------------------------------------------------------- update / delete
def test_patch_description_and_owner_ignores_name_and_role(ct, api):
    account_id = ct.add_service_account("svc", created_at=days_ago(3))[0]
    owner_url = api.call("GET", "/users/current/").json()["url"]
    body = {"description": "new", "owner": owner_url, "name": "renamed", "role": "OWNER"}
    response = api.call("PATCH", api.account_path(account_id), json=body)
    assert response.status_code == 200
    updated = response.json()
    assert (updated["description"], updated["owner"]) == ("new", owner_url)
    assert (updated["user"]["name"], updated["user"]["role"]) == ("svc", "VIEWER")
    assert updated["modified_at"] > updated["created_at"]
    again = api.call("PATCH", api.account_path(account_id), json={"description": "new"})
    assert again.status_code == 200 and again.json()["owner"] == owner_url
    cleared = api.call("PATCH", api.account_path(account_id), json={"owner": None})
    assert cleared.json()["owner"] is None


def test_patch_validation_and_unknown_id(ct, api):
    account_id = ct.add_service_account("svc")[0]
    bad = api.call("PATCH", api.account_path(account_id), json={"description": {"a": 1}})
    assert (bad.status_code, bad.json()) == (400, {"description": ["Not a valid string."]})
    missing = api.call("PATCH", api.account_path("auth0|gone"), json={"description": "x"})
    assert (missing.status_code, missing.json()) == (404, NOT_FOUND)


def test_delete_kills_the_key_and_second_delete_is_404(sandbox, ct, api):
    account_id, key = ct.add_service_account("doomed")
    assert api.whoami(key).status_code == 200
    response = api.call("DELETE", api.account_path(account_id))
    assert (response.status_code, response.content) == (204, b"")
    assert not sandbox.secrets.is_live(key)
    denied = api.whoami(key)
    assert (denied.status_code, denied.json()) == (401, BAD_CREDENTIALS)
    assert api.call("GET", api.account_path(account_id)).status_code == 404
    again = api.call("DELETE", api.account_path(account_id))
    assert (again.status_code, again.json()) == (404, NOT_FOUND)


# --------------------------------------------------------------------------- rekey
def test_rekey_without_expire_at_revokes_the_old_key_at_once(sandbox, ct, api):
    account_id, old = ct.add_service_account("rotating")
    response = api.call("POST", api.account_path(account_id, "rekey/"), json={})
    assert response.status_code == 200
    body = response.json()
    new = body["apikey"]
    assert new != old and body["expire_at"] is None and set(body) >= ACCOUNT_FIELDS
    assert api.whoami(old).json() == BAD_CREDENTIALS and not sandbox.secrets.is_live(old)
    assert api.whoami(new).json()["id"] == account_id
    assert [(k["prefix"], k["revoked"]) for k in body["keys"]] == \
        [(old.split(".")[0], True), (new.split(".")[0], False)]


def test_rekey_with_expire_at_keeps_both_keys_until_then(sandbox, ct, api):
    account_id, old = ct.add_service_account("overlap")
    expire_at = utcnow() + timedelta(hours=1)
    response = api.call("POST", api.account_path(account_id, "rekey/"),
                        json={"expire_at": isoformat_s(expire_at)})
    body = response.json()
    assert response.status_code == 200
    assert body["expire_at"] == expire_at.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert api.whoami(old).status_code == 200 and api.whoami(body["apikey"]).status_code == 200
    old_key = body["keys"][0]
    assert (old_key["expiry_date"], old_key["revoked"]) == (body["expire_at"], False)
    assert sandbox.secrets.get(old).revoked_at == expire_at.replace(microsecond=0)


def test_old_key_dies_when_the_overlap_ends(ct, api):
    account_id, old = ct.add_service_account("short-overlap")
    expire_at = (utcnow() + timedelta(seconds=0.5)).isoformat()
    new = api.call("POST", api.account_path(account_id, "rekey/"),
                   json={"expire_at": expire_at}).json()["apikey"]
    time.sleep(0.6)
    assert api.whoami(old).status_code == 401 and api.whoami(new).status_code == 200
    assert api.call("GET", api.account_path(account_id)).json()["keys"][0]["has_expired"] is True


@pytest.mark.parametrize("expire_at, message", [
    ("next tuesday", "Datetime has wrong format. Use one of these formats instead: "
                     "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."),
    ("2020-01-01T00:00:00Z", "The expiration date must be in the future."),
])
def test_rekey_rejects_bad_or_past_expiry_and_keeps_the_key(ct, api, expire_at, message):
    account_id, old = ct.add_service_account("svc")
    response = api.call("POST", api.account_path(account_id, "rekey/"),
                        json={"expire_at": expire_at})
    assert (response.status_code, response.json()) == (400, {"expire_at": [message]})
    assert api.whoami(old).status_code == 200 and len(ct.account(account_id).keys) == 1


def test_rekey_unknown_account_is_404(api):
    response = api.call("POST", api.account_path("auth0|gone", "rekey/"), json={})
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


# --------------------------------------------------------------------------- memberships / users
def test_membership_patch_changes_the_role_and_the_keys_powers(ct, api):
    account_id, key = ct.add_service_account("grow")
    assert api.create(key=key, name="child").status_code == 403
    membership_id = membership_of(api, account_id)
    response = api.call("PATCH", f"/memberships/{membership_id}/", json={"role": "CONTRIB"})
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["role"]) == (membership_id, "CONTRIB")
    assert body["user"].endswith(f"/users/{quote(account_id, safe='')}/")
    assert re.search(r"/api/v1/organizations/[0-9a-f-]{36}/$", body["organization"])
    assert api.call("GET", f"/memberships/{membership_id}/").json() == body
    assert api.whoami(key).json()["role"] == "CONTRIB"
    assert api.create(key=key, name="child").status_code == 201


def test_membership_errors(ct, api):
    account_id = ct.add_service_account("svc")[0]
    path = f"/memberships/{membership_of(api, account_id)}/"
    bad = api.call("PATCH", path, json={"role": "SUPER"})
    assert (bad.status_code, bad.json()) == (400, {"role": ['"SUPER" is not a valid choice.']})
    unknown = api.call("PATCH", "/memberships/00000000-0000-0000-0000-000000000000/",
                       json={"role": "VIEWER"})
    assert (unknown.status_code, unknown.json()) == (404, NOT_FOUND)


def test_memberships_list_filters_by_user_and_role(ct, api):
    account_id = ct.add_service_account("svc", role="ADMIN")[0]
    by_user = api.call("GET", "/memberships/", params={"user": account_id}).json()
    assert by_user["count"] == 1 and by_user["results"][0]["role"] == "ADMIN"
    owners = api.call("GET", "/memberships/", params={"role": "OWNER"}).json()["results"]
    assert [m["user"] for m in owners] == [api.call("GET", "/users/current/").json()["url"]]
    bad = api.call("GET", "/memberships/", params={"role": "boss"})
    assert bad.status_code == 400 and "boss" in bad.json()["role"][0]


def test_membership_create_for_a_user_without_one(ct, api):
    user_id = ct.add_user("newcomer", role=None)
    user_url = api.call("GET", f"/users/{quote(user_id, safe='')}/").json()["url"]
    created = api.call("POST", "/memberships/", json={"user": user_url, "role": "VIEWER"})
    assert created.status_code == 201 and created.json()["role"] == "VIEWER"
    duplicate = api.call("POST", "/memberships/", json={"user": user_url, "role": "VIEWER"})
    assert duplicate.status_code == 400 and "__all__" in duplicate.json()
    missing = api.call("POST", "/memberships/", json={"role": "VIEWER"})
    assert missing.json() == {"user": ["This field is required."]}


def test_users_current_with_a_service_account_key(ct, api):
    account_id, key = ct.add_service_account("prober", role="CONTRIB")
    response = api.whoami(key)
    assert response.status_code == 200
    me = response.json()
    assert (me["id"], me["type"], me["name"], me["role"], me["organization_name"]) == \
        (account_id, "service", "prober", "CONTRIB", "Sandbox Org")
    assert me["membership_id"] == membership_of(api, account_id)
    assert TIMESTAMP.match(api.call("GET", api.account_path(account_id)).json()["last_used_at"])


def test_users_list_filter_and_lookup(ct, api):
    account_id = ct.add_service_account("svc")[0]
    services = api.call("GET", "/users/", params={"type": "service"}).json()
    interactive = api.call("GET", "/users/", params={"type": "interactive"}).json()
    assert [u["id"] for u in services["results"]] == [account_id]
    assert [u["name"] for u in interactive["results"]] == ["sandbox-owner"]
    assert api.call("GET", f"/users/{quote(account_id, safe='')}/").json()["name"] == "svc"
    assert api.call("GET", "/users/auth0%7Cnobody/").json() == NOT_FOUND


# --------------------------------------------------------------------------- auth and roles
@pytest.mark.parametrize("header, status, body", [
    (None, 401, {"detail": "Authentication credentials were not provided."}),
    ("Api-Key not.a-key", 401, BAD_CREDENTIALS),
    ("Bearer {admin}", 401, BAD_CREDENTIALS),
    ("Token {admin}", 401, BAD_CREDENTIALS),
    ("api-key {admin}", 200, None),
])
def test_authentication(ct, api, header, status, body):
    headers = {} if header is None else {"Authorization": header.format(admin=ct.admin_token)}
    response = api.call("GET", "/serviceaccounts/", headers=headers)
    assert response.status_code == status
    if body is not None:
        assert response.json() == body
        assert response.headers["WWW-Authenticate"] == "Api-Key"


def test_auth_failure_status_can_be_403(ct, api):
    ct.auth_failure_status = 403
    response = api.call("GET", "/serviceaccounts/", key="nope")
    assert (response.status_code, response.json()) == (403, BAD_CREDENTIALS)
    assert "WWW-Authenticate" not in response.headers


def test_expired_key_is_rejected(ct, api):
    account_id, key = ct.add_service_account("old", key_expires_at=days_ago(1))
    assert api.whoami(key).json() == BAD_CREDENTIALS
    assert api.call("GET", api.account_path(account_id)).json()["keys"][0]["has_expired"] is True


def test_viewer_reads_but_cannot_write(ct, api):
    viewer = ct.add_service_account("viewer")[1]
    other_id = ct.add_service_account("other")[0]
    viewer_id = ct.account_by_name("viewer").id
    assert api.call("GET", "/serviceaccounts/", key=viewer).status_code == 200
    attempts = [
        api.create(key=viewer, name="x", role="VIEWER"),
        api.call("PATCH", api.account_path(other_id), key=viewer, json={"description": "x"}),
        api.call("DELETE", api.account_path(other_id), key=viewer),
        api.call("POST", api.account_path(viewer_id, "rekey/"), key=viewer, json={}),
        api.call("PATCH", f"/memberships/{membership_of(api, viewer_id)}/", key=viewer,
                 json={"role": "OWNER"}),
    ]
    assert [(r.status_code, r.json()) for r in attempts] == [(403, NO_PERMISSION)] * 5
    assert len(ct.accounts()) == 2 and ct.role_of(viewer_id) == "VIEWER"


def test_nobody_grants_above_their_own_role(ct, api):
    viewer = ct.add_service_account("viewer")[1]
    contrib = ct.add_service_account("contrib", role="CONTRIB")[1]
    admin_id, admin = ct.add_service_account("admin", role="ADMIN")
    owner_id = ct.add_service_account("owner", role="OWNER")[0]
    create_denied = {"detail": "Cannot create membership with more privileges than your own"}
    assert api.create(key=viewer, name="x", role="OWNER").json() == create_denied
    denied = api.create(key=contrib, name="x", role="ADMIN")
    assert (denied.status_code, denied.json()) == (403, create_denied)
    assert api.create(key=contrib, name="y", role="CONTRIB").status_code == 201
    promote = api.call("PATCH", f"/memberships/{membership_of(api, admin_id)}/", key=admin,
                       json={"role": "OWNER"})
    assert (promote.status_code, promote.json()) == \
        (403, {"detail": "Cannot update membership with more privileges than your own"})
    assert api.call("DELETE", api.account_path(owner_id), key=admin).json() == NO_PERMISSION
    assert api.call("POST", api.account_path(owner_id, "rekey/"), key=admin,
                    json={}).status_code == 403


def test_contributor_manages_only_its_own_accounts(ct, api):
    contrib = ct.add_service_account("contrib", role="CONTRIB")[1]
    foreign_id = ct.add_service_account("foreign")[0]
    own_id = api.create(key=contrib, name="mine").json()["id"]
    patch = {"description": "changed"}
    assert api.call("PATCH", api.account_path(own_id), key=contrib, json=patch).status_code == 200
    assert api.call("PATCH", api.account_path(foreign_id), key=contrib,
                    json=patch).json() == NO_PERMISSION
    assert api.call("PATCH", api.account_path(foreign_id), json=patch).status_code == 200


# --------------------------------------------------------------------------- pagination / routing
def test_pagination_over_three_pages_follows_absolute_next_links(ct, api):
    created = {pair[0] for pair in ct.add_service_accounts(7)}
    url = ct.url + API + "/serviceaccounts/?page_size=3"
    headers = {"Authorization": f"Api-Key {ct.admin_token}"}
    pages = []
    while url:
        body = requests.get(url, headers=headers, timeout=5).json()
        pages.append(body)
        url = body["next"]
    assert [len(p["results"]) for p in pages] == [3, 3, 1]
    assert {p["count"] for p in pages} == {7}
    assert {a["id"] for p in pages for a in p["results"]} == created
    assert parse_qs(urlsplit(pages[0]["next"]).query) == {"page_size": ["3"], "page": ["2"]}
    assert pages[0]["next"].startswith(ct.url + API + "/serviceaccounts/")
    assert pages[0]["previous"] is None and pages[2]["next"] is None
    assert parse_qs(urlsplit(pages[1]["previous"]).query) == {"page_size": ["3"]}
    assert pages[2]["previous"].endswith("page=2")


@pytest.mark.parametrize("page", ["4", "0", "abc"])
def test_page_outside_the_range_is_404(ct, api, page):
    ct.add_service_accounts(7)
    response = api.call("GET", "/serviceaccounts/", params={"page_size": 3, "page": page})
    assert (response.status_code, response.json()) == (404, {"detail": "Invalid page."})


def test_default_page_size_and_cap(ct, api):
    ct.add_service_accounts(150)
    default = api.call("GET", "/serviceaccounts/").json()
    assert (default["count"], len(default["results"])) == (150, 100)
    assert default["next"].endswith("page=2")
    ct.max_page_size = 120
    capped = api.call("GET", "/serviceaccounts/", params={"page_size": 5000}).json()
    assert len(capped["results"]) == 120
    empty = api.call("GET", "/memberships/", params={"user": "auth0|nobody"}).json()
    assert empty == {"count": 0, "next": None, "previous": None, "results": []}


def test_ordering(ct, api):
    ct.add_service_account("b-mid", created_at=days_ago(5))
    ct.add_service_account("a-new", created_at=days_ago(1))
    ct.add_service_account("c-old", created_at=days_ago(9))

    def names(ordering: str) -> list[str]:
        body = api.call("GET", "/serviceaccounts/", params={"ordering": ordering}).json()
        return [a["user"]["name"] for a in body["results"]]

    assert names("") == ["b-mid", "a-new", "c-old"]
    assert names("-created_at") == ["a-new", "b-mid", "c-old"]
    assert names("name") == ["a-new", "b-mid", "c-old"]
    assert names("bogus") == ["b-mid", "a-new", "c-old"]


def test_paths_need_the_trailing_slash(ct, api):
    listing = api.call("GET", "/serviceaccounts")
    create = api.call("POST", "/serviceaccounts", json={"name": "x"})
    assert [(r.status_code, r.json()) for r in (listing, create)] == [(404, NOT_FOUND)] * 2
    assert ct.accounts() == []


def test_unknown_path_and_method_answer_json(api):
    unknown = api.call("GET", "/nothing/")
    wrong = api.call("DELETE", "/serviceaccounts/")
    assert (unknown.status_code, unknown.json()) == (404, NOT_FOUND)
    assert (wrong.status_code, wrong.json()) == (405, {"detail": 'Method "DELETE" not allowed.'})
    assert "POST" in wrong.headers["Allow"]


# --------------------------------------------------------------------------- rate limits and faults
def test_rate_limit_answers_429_with_retry_after(ct, api):
    ct.enforce_rate_limit(2, 60)
    statuses = [api.call("GET", "/users/current/").status_code for attempt in range(3)]
    limited = api.call("GET", "/users/current/")
    assert statuses == [200, 200, 429] and limited.status_code == 429
    assert limited.json() == {"detail": "Request was throttled. Expected available in 60 seconds."}
    assert limited.headers["Retry-After"] == "60"
    ct.send_retry_after = False
    assert "Retry-After" not in api.call("GET", "/users/current/").headers


def test_status_fault_uses_the_platform_error_body(sandbox, api):
    sandbox.faults.add("status", platform="cloudtruth", method="GET", status=503,
                       headers={"Retry-After": "2"}, message="Service Unavailable")
    failed = api.call("GET", "/serviceaccounts/")
    assert (failed.status_code, failed.json()) == (503, {"detail": "Service Unavailable"})
    assert failed.headers["Retry-After"] == "2"
    assert api.call("GET", "/serviceaccounts/").status_code == 200


def test_lost_response_creates_the_account_but_the_client_never_hears(sandbox, ct, api):
    sandbox.faults.add("lost_response", platform="cloudtruth", method="POST")
    with pytest.raises(requests.ConnectionError):
        api.create(name="ghost")
    account = ct.account_by_name("ghost")
    assert account is not None and len(account.keys) == 1
    assert sandbox.secrets.is_live(account.keys[0].value)
    assert [e.status for e in sandbox.log.select("cloudtruth", "POST")] == [201]


def test_drop_fault_changes_nothing(sandbox, ct, api):
    account_id, key = ct.add_service_account("kept")
    sandbox.faults.add("drop", platform="cloudtruth", method="DELETE")
    with pytest.raises(requests.ConnectionError):
        api.call("DELETE", api.account_path(account_id))
    assert ct.account(account_id) is not None and api.whoami(key).status_code == 200


# --------------------------------------------------------------------------- seed helpers
def test_reset_revokes_every_key_and_empties_the_state(sandbox, ct, api):
    key = ct.add_service_account("before")[1]
    old_admin = ct.admin_token
    ct.auth_failure_status = 403
    new_admin = ct.reset()
    assert not sandbox.secrets.is_live(key) and not sandbox.secrets.is_live(old_admin)
    assert (ct.accounts(), ct.auth_failure_status) == ([], 401)
    assert api.whoami(old_admin).status_code == 401 and api.whoami(new_admin).status_code == 200


def test_seed_helpers_back_date_and_expose_state(ct, api):
    account_id, key = ct.add_service_account("aged", role="CONTRIB", description="d",
                                             created_at=days_ago(40), key_created=days_ago(10))
    body = api.call("GET", api.account_path(account_id)).json()
    assert body["created_at"] < body["keys"][0]["created"] < isoformat_s(days_ago(9))
    assert body["created_at"] < isoformat_s(days_ago(39))
    assert ct.account(account_id).description == "d" and ct.role_of(account_id) == "CONTRIB"
    ct.set_role(account_id, "ADMIN")
    assert api.whoami(key).json()["role"] == "ADMIN"
    assert ct.account("auth0|nobody") is None and ct.accounts()[0].id == account_id


def test_seed_demo_has_due_and_fresh_accounts_and_prints_nothing(ct, capsys):
    ct.seed_demo()
    ages = [(utcnow() - min(k.created for k in a.keys)).days for a in ct.accounts()]
    assert any(age > 90 for age in ages) and any(age < 30 for age in ages)
    assert capsys.readouterr() == ("", "")


# ------------------------------------------------------ corrections found against real sources
def test_rekey_answer_without_the_new_key_switch(sandbox, ct, api):
    """The only public schema of the rekey's 200 body is ``{expire_at}``: no key in it."""
    ct.rekey_returns_key = False
    account_id, old = ct.add_service_account("keyless-answer")
    expire_at = utcnow() + timedelta(hours=1)
    response = api.call("POST", api.account_path(account_id, "rekey/"),
                        json={"expire_at": isoformat_s(expire_at)})
    assert response.status_code == 200
    assert response.json() == {"expire_at": expire_at.strftime("%Y-%m-%dT%H:%M:%S.000000Z")}
    keys = api.call("GET", api.account_path(account_id)).json()["keys"]
    assert len(keys) == 2 and keys[0]["expiry_date"] is not None   # the rekey did happen
    assert api.whoami(old).status_code == 200                      # until expire_at


@pytest.mark.parametrize("body", [{}, {"expire_at": None}])
def test_rekey_with_null_expire_at_can_mean_never_expires(sandbox, ct, api, body):
    ct.null_expire_at_means_never = True
    account_id, old = ct.add_service_account("never-expires")
    response = api.call("POST", api.account_path(account_id, "rekey/"), json=body)
    assert response.status_code == 200
    old_key = response.json()["keys"][0]
    assert (old_key["revoked"], old_key["expiry_date"]) == (False, None)
    assert api.whoami(old).status_code == 200 and sandbox.secrets.is_live(old)


def test_2021_bodies_carry_no_role_or_membership_id(ct, api):
    ct.bodies_2021 = True
    account_id, _key = ct.add_service_account("old-server", role="ADMIN")
    user = api.call("GET", api.account_path(account_id)).json()["user"]
    assert "role" not in user and "membership_id" not in user
    assert user["name"] == "old-server"
