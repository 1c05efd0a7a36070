"""The sandbox's wire switches (``core.Platform.GENERIC_SWITCHES``, issue 22 item 8) against the
vendors' own clients and the standards they follow. Each switch is off by default, as the real
services are; each test says where the behaviour comes from.
"""
from __future__ import annotations

import email.utils
import re
import time
from urllib.parse import parse_qs, urlsplit

import cloudflare
import pytest
import requests
from pytfe import TFEClient, TFEConfig
from pytfe.models import TeamTokenListOptions
from pulumi_cloud_sdk.api_client import ApiClient
from pulumi_cloud_sdk.apis.users_api_ import UsersApi
from pulumi_cloud_sdk.configuration import Configuration

from tests.sandbox import Sandbox
from tests.sandbox.core import RATE_LIMIT_STYLES, Platform


@pytest.fixture(scope="module")
def running():
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running):
    for name in ("cloudflare", "pulumi", "cloudtruth", "pactflow"):
        running[name].reset()
    running["tfe"].reset_generic_switches()
    running["tfe"].rate_limiter = None
    running.faults.clear()
    running.log.clear()
    return running


def cloudflare_sdk(cf) -> cloudflare.Cloudflare:
    return cloudflare.Cloudflare(api_token=cf.admin_token, base_url=cf.url, max_retries=2)


def test_every_switch_is_off_by_default():
    assert (Platform.served_page_size, Platform.link_origin, Platform.rate_limit_style,
            Platform.transient_get_errors, Platform.secret_suffix) == (None, None, None, 0, "")


# -- short pages ----------------------------------------------------------------------------------

def test_cloudflare_short_pages_keep_the_sdks_auto_pager_whole(sandbox, monkeypatch):
    """cloudflare-python's ``SyncV4PagePaginationArray`` asks ``page+1`` until a page is empty
    and never looks at a page's length (api/cloudflare.md section 7; SDK-5 ``pagination.py``):
    a server that serves 25 of the 50 asked loses nothing for it."""
    for variable in ("CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY", "CLOUDFLARE_API_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    cf = sandbox["cloudflare"]
    cf.user_token_quota = 100
    cf.add_tokens(61)
    cf.served_page_size = 25
    listed = list(cloudflare_sdk(cf).user.tokens.list(per_page=50))
    assert len(listed) == 62                        # 61 and the admin token
    first = requests.get(cf.url + "/user/tokens", params={"per_page": 50},
                         headers={"Authorization": f"Bearer {cf.admin_token}"}, timeout=5).json()
    assert (len(first["result"]), first["result_info"]["per_page"],
            first["result_info"]["total_pages"]) == (25, 25, 3)


def test_tfe_short_pages_are_walked_by_pytfe_on_next_page(sandbox):
    """pytfe follows ``meta.pagination.next-page`` (api/tfe.md 4.4, PYTFE ``_base.py``)."""
    tfe = sandbox["tfe"]
    team = tfe.add_team("short-pages")
    tfe.add_tokens(30, [team])
    tfe.served_page_size = 7
    client = TFEClient(TFEConfig(address=tfe.url, token=tfe.admin_token))
    listed = list(client.team_tokens.list(tfe.organization, TeamTokenListOptions(page_size=20)))
    assert len(listed) == 30
    pages = [parse_qs(e.query) for e in sandbox.log.select("tfe", "GET")
             if e.path.endswith("/team-tokens")]
    assert len(pages) == 5                           # 7, 7, 7, 7, 2: page-size 20 asked


def test_pulumi_short_pages_carry_a_continuation_token(sandbox):
    """The cursor, not the count, says there is more (api/pulumi.md, ``continuationToken``)."""
    pulumi = sandbox["pulumi"]
    pulumi.add_personal_tokens(12)
    pulumi.served_page_size = 5
    config = Configuration()
    config.host, config.access_token = pulumi.url, pulumi.admin_token
    users = UsersApi(ApiClient(config))
    seen, cursor = [], None
    while True:
        page = users.list_personal_tokens(continuation_token=cursor, max_results=100)
        seen.append(len(page.tokens))
        cursor = page.continuation_token
        if not cursor:
            break
    assert seen == [5, 5, 3]                         # the admin token and the 12


def test_cloudtruth_short_pages_keep_count_and_next(sandbox):
    """Django REST framework's PageNumberPagination: ``count`` is the total, ``next`` the link
    the CLI follows until null (api/cloudtruth.md section 2)."""
    ct = sandbox["cloudtruth"]
    ct.add_service_accounts(9)
    ct.served_page_size = 4
    headers = {"Authorization": f"Api-Key {ct.admin_token}"}
    url, sizes = ct.url + "/api/v1/serviceaccounts/?page_size=100", []
    while url:
        body = requests.get(url, headers=headers, timeout=5).json()
        sizes.append(len(body["results"]))
        assert body["count"] == sum(1 for dummy in ct.accounts())
        url = body["next"]
    assert sum(sizes) == body["count"] and max(sizes) == 4


# -- rewritten next links ------------------------------------------------------------------------

def test_links_behind_a_proxy_carry_the_backends_origin_and_the_request_path(sandbox):
    """DRF builds ``next`` with ``request.build_absolute_uri()``; behind a proxy that does not
    pass ``X-Forwarded-Host``/``-Proto`` (Django's ``USE_X_FORWARDED_HOST`` and
    ``SECURE_PROXY_SSL_HEADER`` are off by default) the link names the backend's scheme, host
    and port, with the path and query the client asked for. TFE's JSON:API ``links`` likewise."""
    ct, tfe = sandbox["cloudtruth"], sandbox["tfe"]
    ct.add_service_accounts(3)
    ct.served_page_size = 2
    ct.link_origin = "http://10.0.0.7:8000"
    body = requests.get(ct.url + "/api/v1/serviceaccounts/?page_size=2&ordering=name",
                        headers={"Authorization": f"Api-Key {ct.admin_token}"}, timeout=5).json()
    link = urlsplit(body["next"])
    assert (link.scheme, link.netloc, link.path) == ("http", "10.0.0.7:8000",
                                                     "/api/v1/serviceaccounts/")
    assert parse_qs(link.query) == {"page_size": ["2"], "ordering": ["name"], "page": ["2"]}
    team = tfe.add_team("linked")
    tfe.add_tokens(3, [team])
    tfe.link_origin = "https://lb.internal:8443"
    answer = requests.get(tfe.url + f"/api/v2/organizations/{tfe.organization}/team-tokens",
                          params={"page[size]": 2},
                          headers={"Authorization": f"Bearer {tfe.admin_token}"}, timeout=5)
    assert answer.json()["links"]["next"].startswith(
        f"https://lb.internal:8443/api/v2/organizations/{tfe.organization}/team-tokens?")


# -- rate-limit header styles ----------------------------------------------------------------------

def refused(platform, style):
    platform.enforce_rate_limit(1, 30)
    platform.rate_limit_style = style
    headers = {"Authorization": f"Bearer {platform.admin_token}"}
    first = requests.get(platform.url + "/user/tokens", headers=headers, timeout=5)
    second = requests.get(platform.url + "/user/tokens", headers=headers, timeout=5)
    return first, second


def test_retry_after_styles_parse_as_the_cloudflare_sdk_reads_them(sandbox):
    """RFC 9110 10.2.3: delta-seconds or an HTTP-date; cloudflare-python's
    ``_parse_retry_after_header`` reads both (and go-tfe v2's ``getRetryDelay``)."""
    cf = sandbox["cloudflare"]
    sdk = cloudflare_sdk(cf)
    for style in ("retry-after-seconds", "retry-after-date"):
        first, second = refused(cf, style)
        assert first.status_code == 200 and "Retry-After" not in first.headers
        assert second.status_code == 429
        assert 25 <= sdk._parse_retry_after_header(second.headers) <= 31, style
    assert email.utils.parsedate_tz(second.headers["Retry-After"]) is not None


@pytest.mark.parametrize("style, pattern", [
    # go-tfe v1 rateLimitBackoff parses X-RateLimit-Reset as float seconds
    ("x-ratelimit-seconds", r"^\d+\.\d{3}$"),
    # GitHub REST API "x-ratelimit-reset: ... in UTC epoch seconds"
    ("x-ratelimit-epoch", r"^1\d{9}$"),
    ("x-ratelimit-epoch-ms", r"^1\d{12}$"),
])
def test_x_ratelimit_styles_on_every_answer(sandbox, style, pattern):
    cf = sandbox["cloudflare"]
    first, second = refused(cf, style)
    assert first.headers["X-RateLimit-Limit"] == "1"
    assert first.headers["X-RateLimit-Remaining"] == "0"
    assert second.status_code == 429 and second.headers["X-RateLimit-Remaining"] == "0"
    assert re.match(pattern, second.headers["X-RateLimit-Reset"]), second.headers
    if style == "x-ratelimit-epoch":
        assert 0 < int(second.headers["X-RateLimit-Reset"]) - time.time() <= 31


@pytest.mark.parametrize("style, limit_field, pattern", [
    # draft-ietf-httpapi-ratelimit-headers-00..06 (Heroku, DigitalOcean's godo #79)
    ("ietf-fields", "RateLimit-Remaining", r"^0$"),
    # draft 07: one Dictionary field
    ("ietf-dictionary", "RateLimit", r"^limit=1, remaining=0, reset=\d+$"),
    # draft 08 on, Cloudflare's form (api/cloudflare.md section 9: "default";r=50;t=30)
    ("ietf-structured", "RateLimit", r'^"default";r=0;t=\d+$'),
])
def test_ietf_styles(sandbox, style, limit_field, pattern):
    cf = sandbox["cloudflare"]
    first, second = refused(cf, style)
    assert re.match(pattern, second.headers[limit_field]), second.headers
    assert "Retry-After" not in second.headers
    assert "RateLimit-Policy" in first.headers


def test_none_style_is_a_bare_429(sandbox):
    """Pulumi documents no rate-limit header (api/pulumi.md section 8)."""
    first, second = refused(sandbox["cloudflare"], "none")
    assert second.status_code == 429
    assert not {"Retry-After", "Ratelimit", "X-RateLimit-Reset"} & set(second.headers)


def test_every_style_is_known():
    assert len(RATE_LIMIT_STYLES) == 9


# -- transient 5xx on reads ----------------------------------------------------------------------

def test_transient_5xx_on_reads_is_what_the_sdks_retry(sandbox, monkeypatch):
    """cloudflare-python retries >= 500 (``_should_retry``); go-tfe retries every 5xx and
    transport errors on reads since commit ea96361c (2026-08, "allow retries on
    connection/transport errors"); the Pulumi CLI retries GETs (api/pulumi.md section 8)."""
    for variable in ("CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY", "CLOUDFLARE_API_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    cf = sandbox["cloudflare"]
    cf.transient_get_errors = 1
    assert len(list(cloudflare_sdk(cf).user.tokens.list())) == 1
    statuses = [e.status for e in sandbox.log.select("cloudflare")]
    assert statuses[:2] == [503, 200] and set(statuses[1:]) == {200}   # then the empty page
    cf.transient_get_errors = 1
    create = requests.post(cf.url + "/user/tokens", timeout=5,
                           headers={"Authorization": f"Bearer {cf.admin_token}"},
                           json={"name": "w", "policies": []})
    assert create.status_code != 503, "only reads fail"
