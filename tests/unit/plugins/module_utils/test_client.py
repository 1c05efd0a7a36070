"""Unit tests of the shared HTTP client: the conversation is stated exactly."""
import pytest
import requests
from urllib3.exceptions import NewConnectionError

from ansible_collections.tokenops.tokens.plugins.module_utils import _paging
from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, ApiClient, ApiError, AuthenticationError, RetryPolicy, TransportError,
    hinted_wait, join_path,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API

from ansible_collections.tokenops.tokens.tests.unit.utils.conversation import Conversation, Expect

BASE = "https://api.example.test"
SECRET = "s3cr3t-token-value-0123456789"


def client(*expected, api="cloudflare", retry=None, trailing_slash=False, base=BASE, **options):
    session = Conversation(*expected)
    sleeps = []
    spec = API[api]
    made = ApiClient(base, f"Bearer {SECRET}", spec.decode_error, session=session, **options,
                     sleep=sleeps.append, clock=lambda: 1_700_000_000.0, retry=retry,
                     trailing_slash=trailing_slash)
    return made, session, sleeps


# -- pagination ------------------------------------------------------------------------------

def test_jsonapi_pages_follow_next_page_to_the_end():
    def page(n, next_page):
        pagination = {"current-page": n, "next-page": next_page}
        return {"data": [{"id": f"at-{n}"}], "meta": {"pagination": pagination}}
    c, session, _sleeps = client(
        *[Expect("GET", f"{BASE}/orgs/o%2Fx/tokens?q=t&page%5Bnumber%5D={n}&page%5Bsize%5D=100",
                 body=page(n, next_page)) for n, next_page in ((1, 2), (2, 3), (3, None))],
    )
    items = list(_paging.iter_jsonapi(c, ("orgs", "o/x", "tokens"), {"q": "t"}))
    assert [i["id"] for i in items] == ["at-1", "at-2", "at-3"]
    assert session.finished()


def test_result_info_stops_when_total_count_is_reached_without_an_empty_page():
    def page(n):
        return {"result": [{"id": f"{n}-{i}"} for i in range(2)],
                "result_info": {"page": n, "per_page": 2, "count": 2, "total_count": 6}}
    pages = [Expect("GET", f"{BASE}/user/tokens?page={n}&per_page=2", body=page(n))
             for n in (1, 2, 3)]
    c, session, _sleeps = client(*pages)
    assert len(list(_paging.iter_result_info(c, "/user/tokens", per_page=2))) == 6
    assert session.finished()


def test_result_info_without_counts_stops_on_the_empty_page():
    def full(n):
        return {"result": [{"id": f"{n}a"}, {"id": f"{n}b"}]}
    c, session, _sleeps = client(
        Expect("GET", f"{BASE}/t?page=1&per_page=2", body=full(1)),
        Expect("GET", f"{BASE}/t?page=2&per_page=2", body=full(2)),
        Expect("GET", f"{BASE}/t?page=3&per_page=2", body=full(3)),
        Expect("GET", f"{BASE}/t?page=4&per_page=2", body={"result": []}),
    )
    assert len(list(_paging.iter_result_info(c, "/t", per_page=2))) == 6
    assert session.finished()


def test_continuation_token_is_followed_until_absent():
    c, session, _sleeps = client(
        Expect("GET", f"{BASE}/api/user/tokens?filter=all&maxResults=1000",
               body={"tokens": [{"id": "1"}], "continuationToken": "c2"}),
        Expect("GET", f"{BASE}/api/user/tokens?filter=all&maxResults=1000&continuationToken=c2",
               body={"tokens": [{"id": "2"}], "continuationToken": "c3"}),
        Expect("GET", f"{BASE}/api/user/tokens?filter=all&maxResults=1000&continuationToken=c3",
               body={"tokens": [{"id": "3"}], "continuationToken": None}),
    )
    items = list(_paging.iter_continuation(c, "/api/user/tokens", {"filter": "all"}))
    assert [i["id"] for i in items] == ["1", "2", "3"]
    assert session.finished()


def test_next_links_are_followed_and_ids_with_a_pipe_are_encoded():
    c, session, _sleeps = client(
        Expect("GET", f"{BASE}/api/v1/serviceaccounts/?page_size=100",
               body={"results": [{"id": "auth0|1"}], "next": f"{BASE}/api/v1/serviceaccounts/?page=2"}),
        Expect("GET", f"{BASE}/api/v1/serviceaccounts/?page=2",
               body={"results": [{"id": "auth0|2"}], "next": f"{BASE}/api/v1/serviceaccounts/?page=3"}),
        Expect("GET", f"{BASE}/api/v1/serviceaccounts/?page=3",
               body={"results": [{"id": "auth0|3"}], "next": None}),
        Expect("GET", f"{BASE}/api/v1/serviceaccounts/auth0%7C3/", body={"id": "auth0|3"}),
        trailing_slash=True,
    )
    items = list(_paging.iter_next_links(c, ("api", "v1", "serviceaccounts")))
    assert len(items) == 3
    assert c.get(("api", "v1", "serviceaccounts", items[-1]["id"]))["id"] == "auth0|3"
    assert session.finished()


def test_a_next_link_outside_api_urls_path_is_refused_before_sending_the_credential():
    c, session, _sleeps = client(
        Expect("GET", f"{BASE}/v4/items/?page_size=100",
               body={"results": [{"id": 1}], "next": "https://evil.example.test/items/?page=2"}),
        base=f"{BASE}/v4",
    )
    with pytest.raises(ApiError, match="outside api_url"):
        list(_paging.iter_next_links(c, "/items/"))
    assert session.finished()


def test_join_path_encodes_every_segment():
    assert join_path(("a", "b|c", "d/e", "f g")) == "/a/b%7Cc/d%2Fe/f%20g"
    assert join_path(("x",), trailing_slash=True) == "/x/"


# -- retries -------------------------------------------------------------------------------

def test_retry_after_is_honoured_on_a_read():
    c, session, sleeps = client(
        Expect("GET", f"{BASE}/r", status=429, headers={"Retry-After": "7"}, body={}),
        Expect("GET", f"{BASE}/r", body={"ok": True}),
    )
    assert c.get("/r") == {"ok": True}
    assert sleeps == [7.0]
    assert session.finished()


def test_x_ratelimit_reset_seconds_and_unix_time_are_honoured():
    c, session, sleeps = client(
        Expect("GET", f"{BASE}/r", status=429, headers={"X-RateLimit-Reset": "0.25"}, body={}),
        Expect("GET", f"{BASE}/r", status=429, headers={"X-RateLimit-Reset": "1700000003"}, body={}),
        Expect("GET", f"{BASE}/r", body={"ok": True}),
    )
    assert c.get("/r") == {"ok": True}
    assert sleeps == [0.25, 3.0]
    assert session.finished()


def test_5xx_on_a_read_backs_off_exponentially_then_succeeds():
    c, session, sleeps = client(
        Expect("GET", f"{BASE}/r", status=503, body={}),
        Expect("GET", f"{BASE}/r", status=502, body={}),
        Expect("GET", f"{BASE}/r", body={"ok": 1}),
        retry=RetryPolicy(backoff=1.0),
    )
    assert c.get("/r") == {"ok": 1}
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0
    assert session.finished()


def test_total_wait_cap_stops_retrying_and_says_so():
    c, session, sleeps = client(
        Expect("GET", f"{BASE}/r", status=429, headers={"Retry-After": "4"}, body={}),
        Expect("GET", f"{BASE}/r", status=429, headers={"Retry-After": "4"}, body={}),
        Expect("GET", f"{BASE}/r", status=429, headers={"Retry-After": "4"},
               body={"success": False, "errors": [{"code": 971, "message": "Please wait"}]}),
        retry=RetryPolicy(max_total_wait=10),
    )
    with pytest.raises(ApiError) as caught:
        c.get("/r")
    assert caught.value.status == 429
    assert "gave up after waiting 8.0s" in str(caught.value)
    assert "Please wait (code 971)" in str(caught.value)
    assert sleeps == [4.0, 4.0]
    assert session.finished()


def test_a_wait_longer_than_the_cap_per_wait_is_not_taken():
    c, session, sleeps = client(
        Expect("GET", f"{BASE}/r", status=429, headers={"Retry-After": "300"}, body={}),
        retry=RetryPolicy(max_wait=60),
    )
    with pytest.raises(ApiError):
        c.get("/r")
    assert sleeps == []
    assert session.finished()


def test_post_is_not_retried_after_a_500():
    c, session, sleeps = client(Expect("POST", f"{BASE}/tokens", status=500, body={}))
    with pytest.raises(AmbiguousWriteError, match="may or may not have acted"):
        c.post("/tokens", {"name": "x"})
    assert sleeps == [] and session.finished()


def test_post_is_not_retried_after_a_read_timeout():
    c, session, sleeps = client(
        Expect("POST", f"{BASE}/tokens", raises=requests.exceptions.ReadTimeout("slow")))
    with pytest.raises(AmbiguousWriteError, match="timed out"):
        c.post("/tokens", {"name": "x"})
    assert sleeps == [] and session.finished()


def test_post_is_not_retried_after_a_dropped_connection():
    dropped = requests.exceptions.ConnectionError("Connection aborted.")
    c, session, sleeps = client(Expect("POST", f"{BASE}/tokens", raises=dropped))
    with pytest.raises(AmbiguousWriteError):
        c.post("/tokens", {"name": "x"})
    assert sleeps == [] and session.finished()


def test_post_is_retried_when_it_provably_never_left():
    refused = requests.exceptions.ConnectionError(NewConnectionError(None, "refused"))
    c, session, sleeps = client(
        Expect("POST", f"{BASE}/tokens", raises=requests.exceptions.ConnectTimeout("connect")),
        Expect("POST", f"{BASE}/tokens", raises=refused),
        Expect("POST", f"{BASE}/tokens", status=201, body={"id": "new"}),
    )
    assert c.post("/tokens", {"name": "x"}) == {"id": "new"}
    assert len(sleeps) == 2 and session.finished()


def test_post_is_retried_after_a_429_since_the_platform_did_not_act():
    c, session, sleeps = client(
        Expect("POST", f"{BASE}/tokens", status=429, headers={"retry-after": "1"}, body={}),
        Expect("POST", f"{BASE}/tokens", status=200, body={"id": "new"}),
    )
    assert c.post("/tokens", {"name": "x"}) == {"id": "new"}
    assert sleeps == [1.0] and session.finished()


def test_unreadable_body_after_a_post_is_ambiguous():
    c, session, _sleeps = client(Expect("POST", f"{BASE}/tokens", status=200, body='{"trunc'))
    with pytest.raises(AmbiguousWriteError, match="not JSON"):
        c.post("/tokens", {})


def test_connection_failure_on_a_read_is_a_transport_error_after_retries():
    fail = requests.exceptions.ConnectionError("reset")
    c, session, sleeps = client(*[Expect("GET", f"{BASE}/r", raises=fail) for attempt in range(3)],
                                retry=RetryPolicy(max_attempts=3))
    with pytest.raises(TransportError):
        c.get("/r")
    assert len(sleeps) == 2 and session.finished()


# -- errors --------------------------------------------------------------------------------

def test_error_messages_never_contain_the_secret_or_the_authorization_header():
    echoed = {"errors": [{"code": 1000, "message": f"Invalid API Token Bearer {SECRET}"}]}
    c, session, _sleeps = client(
        Expect("GET", f"{BASE}/r", status=401, body=echoed, headers={"CF-Ray": "abc123"}))
    with pytest.raises(AuthenticationError) as caught:
        c.get("/r")
    text = str(caught.value) + repr(caught.value.details) + str(caught.value.platform_message)
    assert SECRET not in text
    assert "Authorization" not in text
    assert "Invalid API Token" in text and "abc123" in text and "api_token" in text


def test_a_secret_remembered_during_the_run_is_redacted_too():
    c, session, _sleeps = client(
        Expect("GET", f"{BASE}/r", status=400, body={"code": 400, "message": "bad pul-newsecret"}),
        api="pulumi")
    c.remember_secret("pul-newsecret")
    with pytest.raises(ApiError) as caught:
        c.get("/r")
    assert "pul-newsecret" not in str(caught.value)


@pytest.mark.parametrize("api", ["cloudflare", "pulumi", "tfe", "cloudtruth", "pactflow"])
def test_an_echoed_credential_is_masked_before_the_body_is_cut(api):
    """A proxy's HTML page quoting the Authorization header after more than the 200 characters
    that are kept, and a request id echoing it (issue 14)."""
    page = "<html><body>" + "x" * 190 + f"<pre>Authorization: Bearer {SECRET}</pre></body></html>"
    c, session, _sleeps = client(
        Expect("GET", f"{BASE}/r", status=403, body=page,
               headers={"Content-Type": "text/html", "X-Request-Id": f"req-{SECRET}"}), api=api)
    with pytest.raises(ApiError) as caught:
        c.get("/r")
    text = str(caught.value) + repr(caught.value.details) + str(caught.value.platform_message)
    for start in range(0, len(SECRET) - 7):
        assert SECRET[start:start + 8] not in text, "a piece of the credential got through"
    assert caught.value.request_id == "req-********"


def test_not_found_is_a_value_when_allowed():
    c, session, _sleeps = client(
        Expect("GET", f"{BASE}/r", status=404, body={}),
        Expect("DELETE", f"{BASE}/r", status=404, body={}))
    assert c.get("/r", allow_not_found=True) is None
    assert c.delete("/r") is False


@pytest.mark.parametrize("api, body, expected", [
    ("tfe", {"errors": [{"status": "422", "title": "invalid attributes",
                         "detail": "Validation failed: Description has already been taken"}]},
     "Validation failed: Description has already been taken"),
    ("pulumi", {"code": 409, "message": "Conflict: token name already exists"},
     "Conflict: token name already exists"),
    ("cloudtruth", {"role": ["\"BOSS\" is not a valid choice."]}, 'role: "BOSS" is not a valid choice.'),
    ("pactflow", {"error": {"message": "Not Found"}}, "Not Found"),
])
def test_platform_error_bodies_are_decoded(api, body, expected):
    c, session, _sleeps = client(Expect("POST", f"{BASE}/x", status=422, body=body), api=api)
    with pytest.raises(ApiError) as caught:
        c.post("/x", {})
    assert caught.value.platform_message == expected
    assert "HTTP 422" in str(caught.value)


def test_hinted_wait_reads_http_dates():
    assert hinted_wait({"Retry-After": "Thu, 01 Jan 1970 00:00:10 GMT"}, now=4.0) == 6.0
    assert hinted_wait({}, now=0) is None


# -- redirects and other credentials ----------------------------------------------------------

def test_a_redirect_on_the_same_host_is_followed():
    c, session, _sleeps = client(
        Expect("GET", f"{BASE}/user/tokens", status=301,
               headers={"Location": "/user/tokens/"}),
        Expect("GET", f"{BASE}/user/tokens/", body={"result": []}),
    )
    assert c.get("/user/tokens") == {"result": []}
    assert session.finished()


def test_a_redirect_to_another_host_is_refused_before_sending_anything_there():
    c, session, _sleeps = client(
        Expect("GET", f"{BASE}/user/tokens", status=307,
               headers={"Location": "https://elsewhere.test/user/tokens"}),
    )
    with pytest.raises(ApiError, match="elsewhere.test.*refusing to send the credential"):
        c.get("/user/tokens")
    assert session.finished()


def test_credential_works_sends_the_other_secret_and_reads_401_as_no():
    other = "other-secret-value-42"
    c, session, _sleeps = client(
        Expect("GET", f"{BASE}/user/tokens/verify", body={"result": {"status": "active"}}),
        Expect("GET", f"{BASE}/user/tokens/verify", status=401, body={"errors": []}),
    )
    assert c.credential_works("/user/tokens/verify", other) is True
    assert c.credential_works("/user/tokens/verify", other) is False
    assert [r.headers["Authorization"] for r in session.sent] == [f"Bearer {other}"] * 2
    assert other not in c.redact(f"token {other}")


# -- issue 13: the headers the vendors' own clients send, set once per platform ---------------

def spec_client(api, *expected):
    session = Conversation(*expected)
    spec = API[api]
    made = ApiClient(BASE, f"Bearer {SECRET}", spec.decode_error, session=session,
                     sleep=lambda s: None, accept=spec.accept, content_type=spec.content_type,
                     content_type_on=spec.content_type_on)
    return made, session


def test_tfe_sends_its_media_type_on_every_mutating_request_even_bodiless():
    c, session = spec_client(
        "tfe", Expect("GET", f"{BASE}/a"), Expect("DELETE", f"{BASE}/b", status=204),
        Expect("POST", f"{BASE}/c", status=201, body={}), Expect("PATCH", f"{BASE}/d", body={}))
    c.get("/a")
    c.delete("/b")
    c.post("/c")
    c.patch("/d", {"data": {}})
    sent = [(r.method, r.headers.get("Content-Type"), r.headers.get("Accept"))
            for r in session.sent]
    jsonapi = "application/vnd.api+json"
    assert sent == [("GET", None, jsonapi), ("DELETE", jsonapi, jsonapi),
                    ("POST", jsonapi, jsonapi), ("PATCH", jsonapi, jsonapi)]
    assert session.finished()


def test_pulumi_sends_content_type_and_accept_on_every_request():
    c, session = spec_client("pulumi", Expect("GET", f"{BASE}/a", body={}),
                             Expect("DELETE", f"{BASE}/b", status=204))
    c.get("/a")
    c.delete("/b")
    assert {(r.headers.get("Content-Type"), r.headers.get("Accept")) for r in session.sent} == \
        {("application/json", "application/vnd.pulumi+8")}


def test_other_platforms_send_content_type_only_with_a_body():
    c, session = spec_client("cloudflare", Expect("DELETE", f"{BASE}/b", body={}))
    c.delete("/b")
    assert "Content-Type" not in session.sent[0].headers


def test_a_request_budget_holds_each_place_until_its_window_after_the_answer():
    """3 requests per 10 s: the fourth waits until 10 s after the first answer, not the first
    send, so a platform that counts requests when they arrive never sees 4 in a window."""
    from ansible_collections.tokenops.tokens.plugins.module_utils._client import RequestBudget
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    budget = RequestBudget(3, 10, clock=lambda: now[0], sleep=sleep)
    places = [budget.take() for dummy in range(3)]
    assert slept == []
    now[0] = 2.0                       # the answers arrive 2 s after the sends
    for place in places:
        budget.release(place)
    budget.take()
    assert slept == [10.0] and now[0] == 12.0
