"""Unit tests of pagination (issue 22 item 5): the platform's totals and links end a listing,
never a page's length; rewritten ``next`` links stay on api_url's origin; a listing that changes
while it is read yields every item once or fails, never a partial listing."""
import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils import _paging
from ansible_collections.tokenops.tokens.plugins.module_utils._client import ApiClient, ApiError
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API

from ansible_collections.tokenops.tokens.tests.unit.utils.conversation import Conversation, Expect

BASE = "https://api.example.test"
SECRET = "s3cr3t-token-value-0123456789"


def client(*expected, base=BASE, api="cloudflare"):
    session = Conversation(*expected)
    made = ApiClient(base, f"Bearer {SECRET}", API[api].decode_error, session=session,
                     sleep=lambda seconds: None, platform="Example")
    return made, session


def ids(items):
    return [item["id"] for item in items]


# -- short pages: the server serves fewer than asked --------------------------------------------

def cloudflare_page(tokens, page, served, per_page=50):
    shown = tokens[(page - 1) * served:page * served]
    return Expect("GET", f"{BASE}/user/tokens?page={page}&per_page={per_page}", body={
        "result": [{"id": t} for t in shown],
        "result_info": {"page": page, "per_page": served, "count": len(shown),
                        "total_count": len(tokens), "total_pages": -(-len(tokens) // served)}})


def test_61_tokens_served_25_to_a_page_are_all_read():
    """Asked for 50, the server serves 25: a short page is not the last one."""
    tokens = ["t%02d" % n for n in range(61)]
    c, session = client(*[cloudflare_page(tokens, page, 25) for page in (1, 2, 3)])
    assert ids(_paging.iter_result_info(c, "/user/tokens")) == tokens
    assert session.finished()


def test_result_info_with_only_total_pages_stops_after_the_last_page():
    pages = [Expect("GET", f"{BASE}/t?page={n}&per_page=50",
                    body={"result": [{"id": n}], "result_info": {"total_pages": 2}})
             for n in (1, 2)]
    c, session = client(*pages)
    assert ids(_paging.iter_result_info(c, "/t")) == [1, 2]
    assert session.finished()


def test_jsonapi_short_pages_follow_next_page():
    def page(n, next_page):
        return Expect("GET", f"{BASE}/t?page%5Bnumber%5D={n}&page%5Bsize%5D=100", body={
            "data": [{"id": f"at-{n}-{i}"} for i in range(20)],
            "meta": {"pagination": {"current-page": n, "next-page": next_page,
                                    "total-count": 60}}})
    c, session = client(page(1, 2), page(2, 3), page(3, None))
    assert len(list(_paging.iter_jsonapi(c, "/t"))) == 60
    assert session.finished()


# -- rewritten next links -------------------------------------------------------------------------

@pytest.mark.parametrize("rewritten", [
    "http://api.example.test/api/v1/accounts/?page=2",            # scheme (TLS ends at the proxy)
    "https://10.0.0.7:8443/api/v1/accounts/?page=2",              # the backend's host and port
    "http://backend.internal:8000/api/v1/accounts/?page=2",
])
def test_a_rewritten_next_link_is_followed_on_api_urls_origin(rewritten):
    c, session = client(
        Expect("GET", f"{BASE}/api/v1/accounts/?page_size=100",
               body={"count": 2, "next": rewritten, "results": [{"id": "a"}]}),
        Expect("GET", f"{BASE}/api/v1/accounts/?page=2",
               body={"count": 2, "next": None, "results": [{"id": "b"}]}),
    )
    assert ids(_paging.iter_next_links(c, "/api/v1/accounts/")) == ["a", "b"]
    assert [r.url.split("/api/")[0] for r in session.sent] == [BASE, BASE]
    assert session.finished()


def test_a_next_link_under_api_urls_path_keeps_its_query():
    base = f"{BASE}/cloudtruth"
    c, session = client(
        Expect("GET", f"{base}/api/v1/accounts/?page_size=100",
               body={"next": "http://internal/cloudtruth/api/v1/accounts/?page=2&page_size=100",
                     "results": [{"id": "a"}]}),
        Expect("GET", f"{base}/api/v1/accounts/?page=2&page_size=100",
               body={"next": None, "results": [{"id": "b"}]}),
        base=base)
    assert ids(_paging.iter_next_links(c, "/api/v1/accounts/")) == ["a", "b"]
    assert session.finished()


# -- listings that change while they are read ------------------------------------------------------

def jsonapi(n, items, total, next_page):
    return Expect("GET", f"{BASE}/t?page%5Bnumber%5D={n}&page%5Bsize%5D=2", body={
        "data": [{"id": i} for i in items],
        "meta": {"pagination": {"next-page": next_page, "total-count": total}}})


def test_a_token_created_while_the_listing_is_read_shifts_pages_and_is_read_again():
    """Between page 1 and 2 another job creates 'new' at the front: 'b' comes again on page
    2 and 'new' is on no page read. The listing is read again; each id comes out once."""
    c, session = client(
        jsonapi(1, ["a", "b"], 3, 2), jsonapi(2, ["b", "c"], 4, None),      # shifted
        jsonapi(1, ["new", "a"], 4, 2), jsonapi(2, ["b", "c"], 4, None),    # settled
    )
    assert sorted(ids(_paging.iter_jsonapi(c, "/t", page_size=2))) == ["a", "b", "c", "new"]
    assert session.finished()


def test_a_token_deleted_while_the_listing_is_read_is_not_allowed_to_hide_another():
    """'a' is deleted after page 1: 'c' moves to page 1 and would be missed; the changed total
    makes the listing be read again."""
    c, session = client(
        jsonapi(1, ["a", "b"], 4, 2), jsonapi(2, ["d"], 3, None),
        jsonapi(1, ["b", "c"], 3, 2), jsonapi(2, ["d"], 3, None),
    )
    assert sorted(ids(_paging.iter_jsonapi(c, "/t", page_size=2))) == ["a", "b", "c", "d"]
    assert session.finished()


def test_a_listing_that_never_settles_fails_instead_of_returning_part_of_it():
    pages = []
    for total in (3, 4, 5):
        pages += [jsonapi(1, ["a", "b"], total, 2), jsonapi(2, ["c"], total + 1, None)]
    c, session = client(*pages)
    with pytest.raises(_paging.ListingChangedError, match="Example: the listing GET /t changed"):
        list(_paging.iter_jsonapi(c, "/t", page_size=2))
    assert session.finished()


def test_fewer_items_than_the_stated_total_is_read_again():
    c, session = client(
        Expect("GET", f"{BASE}/t?page=1&per_page=50",
               body={"result": [{"id": 1}], "result_info": {"total_count": 2, "total_pages": 1}}),
        Expect("GET", f"{BASE}/t?page=2&per_page=50",
               body={"result": [], "result_info": {"total_count": 2, "total_pages": 1}}),
        Expect("GET", f"{BASE}/t?page=1&per_page=50",
               body={"result": [{"id": 1}, {"id": 2}], "result_info": {"total_count": 2}}),
    )
    assert ids(_paging.iter_result_info(c, "/t")) == [1, 2]
    assert session.finished()


def test_a_server_that_ignores_the_page_asked_for_ends_without_looping():
    """Cloudflare's SDK loops for ever on such a server (api/cloudflare.md section 7)."""
    same = {"result": [{"id": 1}, {"id": 2}]}
    pages = []
    for read in range(_paging.MAX_READS):
        pages += [Expect("GET", f"{BASE}/t?page=1&per_page=50", body=same),
                  Expect("GET", f"{BASE}/t?page=2&per_page=50", body=same)]
    c, session = client(*pages)
    with pytest.raises(_paging.ListingChangedError):
        list(_paging.iter_result_info(c, "/t"))
    assert session.finished()


def test_a_repeated_continuation_page_is_read_again():
    def page(items, cursor=None, sent=None):
        url = f"{BASE}/tokens?maxResults=1000" + (f"&continuationToken={sent}" if sent else "")
        return Expect("GET", url, body={"tokens": [{"id": i} for i in items],
                                        "continuationToken": cursor})
    c, session = client(page(["1", "2"], "c2"), page(["2", "3"], None, "c2"),
                        page(["1", "2"], "c2"), page(["3"], None, "c2"))
    assert ids(_paging.iter_continuation(c, "/tokens")) == ["1", "2", "3"]
    assert session.finished()


def test_a_caller_that_stops_early_reads_no_further():
    c, session = client(jsonapi(1, ["a", "b"], 4, 2))
    assert next(iter(_paging.iter_jsonapi(c, "/t", page_size=2)))["id"] == "a"
    assert session.finished()


def test_listing_errors_are_api_errors():
    assert issubclass(_paging.ListingChangedError, ApiError)
