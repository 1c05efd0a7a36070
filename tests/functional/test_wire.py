"""The HTTP client against hostile and unusual servers, through real ansible-playbook over
loopback (issues 22 items 4-5, 23 items 3-5).

- one 5xx on a listing GET is asked again: the module and the role go on;
- a server that serves fewer items than asked (short pages) and a proxy that rewrites the
  ``next`` links: every token is found, none is created twice, the credential stays home;
- a server that trickles, a 200 MB body, an endless body: each request ends within its
  ``timeout`` (and one repeat) with an error naming the bound, in bounded memory;
- a credential with a character HTTP cannot carry, and a new secret that ends in a line break:
  named, never printed, and the consumer keeps a working secret.
"""
import time

import pytest

from tests.functional.harness import leaked, module_task, run_playbook
from tests.functional.test_rotate_role import rotate
from tests.sandbox.core import days_ago

# -- the five platforms' listings -----------------------------------------------------------

LISTINGS = {
    "pulumi": ("pulumi_token", r"^/api/user/tokens$"),
    "tfe": ("tfe_team_token", r"/team-tokens$"),
    "cloudflare": ("cloudflare_token", r"^/client/v4/user/tokens$"),
    "cloudtruth": ("cloudtruth_service_account", r"^/api/v1/serviceaccounts/$"),
    "pactflow": ("pactflow_token", r"^/settings/tokens$"),
}


def existing_token(sandbox, platform):
    """Seed one token on ``platform``; ``(module args that find it, its secret)``."""
    service = sandbox[platform]
    conn = {"api_url": service.url, "api_token": service.admin_token}
    if platform == "pulumi":
        token_id, secret = service.add_personal_token("wire", created=days_ago(120))
        return dict(conn, description="wire"), secret
    if platform == "tfe":
        team = service.add_team("wire")
        token_id, secret = service.add_token(team, "wire", created_at=days_ago(120))
        return dict(conn, organization=service.organization, team="wire",
                    description="wire"), secret
    if platform == "cloudflare":
        token_id, secret = service.add_token("wire", issued_on=days_ago(120))
        return dict(conn, name="wire"), secret
    if platform == "cloudtruth":
        account_id, secret = service.add_service_account("wire", created_at=days_ago(120))
        return dict(conn, name="wire"), secret
    token = service.token_by_type("read-only")
    return dict(conn, type="read-only"), token["value"]


@pytest.mark.parametrize("platform", list(LISTINGS))
def test_one_500_on_a_listing_get_is_asked_again_by_a_module(sandbox, tmp_path, platform):
    module, listing = LISTINGS[platform]
    args, _secret = existing_token(sandbox, platform)
    sandbox.faults.add("status", platform=platform, method="GET", path=listing, status=500,
                       message="injected server error", times=1)
    run = run_playbook(tmp_path, [module_task(module, "found", args)])
    assert run.rc == 0, run.output
    assert run["found"]["changed"] is False
    answers = [e.status for e in sandbox.log.select(platform, "GET") if e.fault or e.status]
    assert 500 in answers, "the fault never hit the listing"
    assert sandbox.log.writes(platform) == []
    assert leaked(sandbox, run.output) == []


def role_item(sandbox, platform, sinks):
    args, secret = existing_token(sandbox, platform)
    sink = sinks / platform
    sink.write_text(secret)
    sink.chmod(0o600)
    return {"provider": platform, "id": platform, "params": args, "max_age": "90d",
            "deliver": [{"type": "file", "path": str(sink)}]}, sink


def test_one_500_on_each_platforms_listing_get_and_the_role_still_rotates(sandbox, tmp_path):
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    items, consumers = [], {}
    for platform, (_module, listing) in LISTINGS.items():
        item, consumers[platform] = role_item(sandbox, platform, sinks)
        items.append(item)
        sandbox.faults.add("status", platform=platform, method="GET", path=listing, status=500,
                           message="injected server error", times=1)
    run = rotate(tmp_path, items)
    assert run.rc == 0, run.output
    assert {label: row["action"] for label, row in run.rows().items()} == {
        platform: "rotated" for platform in LISTINGS}
    for platform, sink in consumers.items():
        assert sandbox.secrets.is_live(sink.read_text()), platform
    assert all(fault.hits == 1 for fault in sandbox.faults._faults)
    assert leaked(sandbox, run.output) == []


# -- answers of the wrong shape ------------------------------------------------------------

#: what a gateway, a captive portal or a changed API may answer a listing with
WRONG_SHAPES = ["null", "[]", '"maintenance"', "7",
                '{"data": "x", "result": 5, "results": {}, "tokens": "x", "_embedded": []}',
                '{"unrelated": true}']


@pytest.mark.parametrize("platform", list(LISTINGS))
def test_a_listing_of_the_wrong_shape_fails_clearly_and_creates_nothing(
        sandbox, tmp_path, platform):
    """A 200 whose JSON is not the platform's listing is an error naming the platform and the
    request, never a Python error (``'NoneType' object has no attribute 'get'``) and never an
    empty listing: a token missing from a listing is a token the module creates again."""
    module, listing = LISTINGS[platform]
    args, secret = existing_token(sandbox, platform)
    tasks = []
    for index, body in enumerate(WRONG_SHAPES):
        sandbox.faults.add("echo", platform=platform, method="GET", path=listing, status=200,
                           message=body, times=1)
        tasks.append(module_task(module, "shape%d" % index, args, ignore_errors=True))
    run = run_playbook(tmp_path, tasks)
    for index, body in enumerate(WRONG_SHAPES):
        result = run["shape%d" % index]
        assert result.get("failed"), (body, result)
        assert result["msg"].startswith(PLATFORM_TITLES[platform] + ": GET /"), \
            (body, result["msg"])
        assert "object has no attribute" not in result["msg"], (body, result["msg"])
        assert "not iterable" not in result["msg"], (body, result["msg"])
    assert sandbox.log.writes(platform) == []
    assert sandbox.secrets.is_live(secret)
    assert leaked(sandbox, run.output) == []


PLATFORM_TITLES = {"pulumi": "Pulumi Cloud", "tfe": "HCP Terraform / Terraform Enterprise",
                   "cloudflare": "Cloudflare", "cloudtruth": "CloudTruth", "pactflow": "PactFlow"}


# -- short pages and rewritten links ----------------------------------------------------------

def test_61_cloudflare_tokens_served_25_to_a_page_are_all_found(sandbox, tmp_path):
    cloudflare = sandbox["cloudflare"]
    cloudflare.user_token_quota = 100
    for index in range(61):
        cloudflare.add_token("bulk-%02d" % index, issued_on=days_ago(10 + index))
    cloudflare.served_page_size = 25
    conn = {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}
    run = run_playbook(tmp_path, [
        module_task("cloudflare_token", "last", dict(conn, name="bulk-60")),
        module_task("cloudflare_token_info", "all", conn),
    ])
    assert run.rc == 0, run.output
    assert run["last"]["changed"] is False, "a token on the third page was created again"
    assert sandbox.log.writes("cloudflare") == []
    assert len([t for t in run["all"]["tokens"] if t["name"].startswith("bulk-")]) == 61
    pages = [e.query for e in sandbox.log.select("cloudflare", "GET")
             if e.path == "/client/v4/user/tokens"]
    assert len(pages) == 6, pages          # three pages for each task, no empty fourth


@pytest.mark.parametrize("platform, served", [("tfe", 7), ("pulumi", 5), ("cloudtruth", 4)])
def test_short_pages_on_every_platform_find_the_last_token(sandbox, tmp_path, platform, served):
    service = sandbox[platform]
    conn = {"api_url": service.url, "api_token": service.admin_token}
    if platform == "tfe":
        team = service.add_team("short")
        for index in range(20):
            service.add_token(team, "short-%02d" % index)
        args = dict(conn, organization=service.organization, team="short",
                    description="short-19")
    elif platform == "pulumi":
        for index in range(20):
            service.add_personal_token("short-%02d" % index)
        args = dict(conn, description="short-19")
    else:
        for index in range(20):
            service.add_service_account("short-%02d" % index)
        args = dict(conn, name="short-19")
    service.served_page_size = served
    run = run_playbook(tmp_path, [module_task(LISTINGS[platform][0], "last", args)])
    assert run.rc == 0, run.output
    assert run["last"]["changed"] is False
    assert sandbox.log.writes(platform) == []


def test_next_links_rewritten_by_a_proxy_are_followed_on_api_urls_origin(sandbox, tmp_path):
    """CloudTruth behind a proxy that does not pass X-Forwarded-*: its ``next`` links name the
    backend's own scheme, host and port. The link's path is followed on api_url; nothing is
    sent to the backend address (a port where nothing should ever arrive)."""
    import socket
    cloudtruth = sandbox["cloudtruth"]
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(1)
    trap.settimeout(0.1)
    try:
        cloudtruth.link_origin = "http://127.0.0.1:%d" % trap.getsockname()[1]
        cloudtruth.served_page_size = 3
        for index in range(10):
            cloudtruth.add_service_account("linked-%02d" % index)
        conn = {"api_url": cloudtruth.url, "api_token": cloudtruth.admin_token}
        run = run_playbook(tmp_path, [module_task("cloudtruth_service_account", "last",
                                                  dict(conn, name="linked-09"))])
        with pytest.raises(socket.timeout):
            trap.accept()
    finally:
        trap.close()
    assert run.rc == 0, run.output
    assert run["last"]["changed"] is False
    assert sandbox.log.writes("cloudtruth") == []
    assert leaked(sandbox, run.output) == []


# -- deadline and size ------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_trickling_server_ends_a_module_in_well_under_a_minute(sandbox, tmp_path, where):
    """One byte every 2 s: each read returns within ``timeout: 5``, so requests' own timeout
    never fires; the deadline ends each attempt at 5 s and a timed-out read is asked once more."""
    args, _secret = existing_token(sandbox, "pulumi")
    sandbox.faults.add("trickle", platform="pulumi", method="GET", path=r"^/api/user/tokens$",
                       where=where, interval=2.0, size=100000, times=None)
    started = time.monotonic()
    run = run_playbook(tmp_path, [module_task("pulumi_token", "slow", dict(args, timeout=5),
                                              ignore_errors=True)])
    elapsed = time.monotonic() - started
    assert run["slow"]["failed"]
    assert "timed out: no complete answer within 5s" in run["slow"]["msg"]
    assert elapsed < 30, elapsed
    assert leaked(sandbox, run.output) == []


@pytest.mark.parametrize("action, where", [("huge_body", "declared"), ("huge_body", "chunked"),
                                           ("endless_body", "chunked")])
def test_a_huge_or_endless_body_is_refused_in_bounded_memory(sandbox, tmp_path, action, where):
    args, _secret = existing_token(sandbox, "cloudflare")
    sandbox.faults.add(action, platform="cloudflare", method="GET",
                       path=r"^/client/v4/user/tokens$", where=where, size=200 * 1024 * 1024,
                       times=None)
    run = run_playbook(tmp_path, [module_task("cloudflare_token", "huge", args,
                                              ignore_errors=True)], measure_memory=True)
    assert run["huge"]["failed"]
    assert "larger than 16 MiB" in run["huge"]["msg"], run["huge"]["msg"]
    assert run.peak_mib < 200, run.peak_mib


def test_max_body_mib_sets_the_limit(sandbox, tmp_path):
    args, _secret = existing_token(sandbox, "pulumi")
    sandbox.faults.add("huge_body", platform="pulumi", method="GET", path=r"^/api/user/tokens$",
                       where="chunked", size=3 << 20, times=None)
    run = run_playbook(tmp_path, [
        module_task("pulumi_token", "small", dict(args, max_body_mib=1), ignore_errors=True),
        module_task("pulumi_token", "zero", dict(args, max_body_mib=0), ignore_errors=True)])
    assert "larger than 1 MiB, the most this client reads (max_body_mib)" in run["small"]["msg"]
    assert run["zero"]["msg"] == "max_body_mib: must be at least 1 (MiB)"


def test_deeply_nested_json_is_an_error_naming_platform_method_and_path(sandbox, tmp_path):
    args, _secret = existing_token(sandbox, "tfe")
    sandbox.faults.add("deep_json", platform="tfe", method="GET", path=r"/team-tokens$",
                       times=None)
    run = run_playbook(tmp_path, [module_task("tfe_team_token", "deep", args,
                                              ignore_errors=True)])
    assert run["deep"]["failed"]
    assert ("HCP Terraform / Terraform Enterprise: GET /api/v2/organizations/tokenops/"
            "team-tokens returned HTTP 200 with a body that is JSON nested deeper") in \
        run["deep"]["msg"]
    assert "Traceback" not in run.output and "RecursionError" not in run.output


# -- values HTTP cannot carry -----------------------------------------------------------------

def test_a_credential_with_a_zero_width_space_is_refused_naming_api_token(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    pasted = pulumi.admin_token[:10] + "\u200b" + pulumi.admin_token[10:]
    run = run_playbook(tmp_path, [module_task(
        "pulumi_token_info", "pasted", {"api_url": pulumi.url, "api_token": pasted},
        ignore_errors=True)])
    assert run["pasted"]["failed"]
    assert run["pasted"]["msg"].startswith("api_token: holds a character outside ASCII "
                                           "(U+200B ZERO WIDTH SPACE) at position 11")
    assert "latin-1" not in run.output
    assert sandbox.log.select("pulumi") == [], "a request was sent"
    assert leaked(sandbox, run.output, extra=[pasted, pulumi.admin_token[:10]]) == []


@pytest.mark.parametrize("platform", ["pulumi", "cloudflare"])
def test_a_new_secret_ending_in_a_line_break_is_delivered_trimmed_and_never_printed(
        sandbox, tmp_path, platform):
    """The platform answers the create with the secret and a trailing ``\\n``: requests would
    raise ``ValueError("Invalid header value b'Bearer <secret>\\n'")`` on the check of the new
    secret, and ansible-core would print it. HTTP drops white space around a header value, so
    the trimmed secret is the one any consumer presents: it is checked and delivered."""
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    item, sink = role_item(sandbox, platform, sinks)
    sandbox[platform].secret_suffix = "\n"
    run = rotate(tmp_path, [item], verbosity=3)
    assert run.rc == 0, run.output
    assert run.rows()[platform]["action"] == "rotated"
    delivered = sink.read_text()
    assert not delivered.endswith("\n") and sandbox.secrets.is_live(delivered)
    assert leaked(sandbox, run.output, run.written) == []


# -- the role against a trickling platform ---------------------------------------------------

def trickling_role(sandbox, tmp_path):
    """One item per platform; Pulumi's listing trickles (one byte every 2 s) with
    ``timeout: 5``."""
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    items, consumers = [], {}
    for platform in LISTINGS:
        item, consumers[platform] = role_item(sandbox, platform, sinks)
        if platform == "pulumi":
            item["params"].update(timeout=5, max_retry_wait=10)
        items.append(item)
    fault = sandbox.faults.add("trickle", platform="pulumi", method="GET",
                               path=LISTINGS["pulumi"][1], where="headers", interval=2.0,
                               times=None)
    return items, consumers, fault


def test_a_trickling_platform_ends_its_tokens_within_the_bound_and_the_others_rotate(
        sandbox, tmp_path):
    """docs/rotation.md: each request ends within timeout + max_retry_wait; a trickled read is
    asked twice, so Pulumi's one listing costs about 2 x 5 s, not the hours a byte every 2 s
    would take."""
    items, consumers, fault = trickling_role(sandbox, tmp_path)
    started = time.monotonic()
    run = rotate(tmp_path, items)
    elapsed = time.monotonic() - started
    rows = run.rows()
    assert rows["pulumi"]["action"] == "failed"
    assert "timed out: no complete answer within 5s" in rows["pulumi"]["error"]
    assert {label: row["action"] for label, row in rows.items() if label != "pulumi"} == {
        platform: "rotated" for platform in LISTINGS if platform != "pulumi"}
    assert fault.hits == 2
    assert elapsed < 60, elapsed
    assert sandbox.secrets.is_live(consumers["pulumi"].read_text())
    assert leaked(sandbox, run.output) == []


def test_a_run_cancelled_while_a_server_trickles_leaves_nothing_that_holds_the_lock(
        sandbox, tmp_path):
    """An AWX cancel kills the run's process group; the engine's worker lives on in its own
    session (docs/rotation.md, One run at a time) but its request ends within its deadline, so
    the next run gets the lock and rotates."""
    import os
    import signal
    items, consumers, fault = trickling_role(sandbox, tmp_path)
    proc = rotate(tmp_path, items, name="cancelled", popen=True)
    try:
        deadline = time.monotonic() + 120
        while fault.hits == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert fault.hits >= 1, "the run never reached the trickling listing"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    started = time.monotonic()
    sandbox.faults.clear()
    run = rotate(tmp_path, items, name="next")
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.output
    # the cancelled run's worker may have finished some rotations before it ended
    assert {row["action"] for row in run.rows().values()} <= {"rotated", "not due"}
    assert elapsed < 120, elapsed
    for platform, sink in consumers.items():
        assert sandbox.secrets.is_live(sink.read_text()), platform


# -- a new secret no header can carry, on every platform ---------------------------------------

MODULES = {platform: module for platform, (module, _listing) in LISTINGS.items()}

#: ``case: (platform, extra module options, how the platform issues: "new" token or "in place")``
UNCARRIABLE = {
    "pulumi": ("pulumi", {}, "new"),
    "tfe-described": ("tfe", {}, "new"),
    "tfe-legacy": ("tfe", {"description": None}, "in place"),
    "cloudflare-replace": ("cloudflare", {"rotation": "replace"}, "new"),
    "cloudflare-roll": ("cloudflare", {"rotation": "roll"}, "in place"),
    "pactflow": ("pactflow", {}, "in place"),
    "cloudtruth-window": ("cloudtruth", {"keep_previous_for": "1h"}, "window"),
    "cloudtruth-at-once": ("cloudtruth", {"keep_previous_for": "0"}, "in place"),
}


def uncarriable_case(sandbox, case):
    """``(module args, the previous secret, how the platform issues)`` for ``case``; every
    secret the platform issues from now on ends in an ESC sequence."""
    platform, extra, issues = UNCARRIABLE[case]
    args, secret = existing_token(sandbox, platform)
    if case == "tfe-legacy":
        team = sandbox["tfe"].add_team("legacy")
        _token_id, secret = sandbox["tfe"].add_token(team, None, created_at=days_ago(120))
        args.update(team="legacy")
    if case == "cloudflare-roll":        # a token of its own beside cloudflare-replace's
        _token_id, secret = sandbox["cloudflare"].add_token("wire-roll", issued_on=days_ago(120))
        args.update(name="wire-roll")
    for option, value in extra.items():
        if value is None:
            args.pop(option)
        else:
            args[option] = value
    sandbox[platform].secret_suffix = "\x1b[2J"
    return args, secret, issues


def live_ids(sandbox, platform):
    """The secrets of ``platform`` that still work (the oracle: every secret it issued)."""
    return sorted(secret.value for secret in sandbox.secrets.live(platform))


def fate_words(issues, platform_title):
    if issues == "new":
        return "was deleted; the previous token "
    if issues == "window":
        return "works until "
    if platform_title == "CloudTruth":      # its words: the previous key, by its public prefix
        return ") stopped working. Rotate again"
    return ("The previous secret stopped working when %s issued the new one: it replaces this "
            "token's secret in place and offers no other way to rotate it" % platform_title)


TITLES = {"pulumi": "Pulumi Cloud", "tfe": "HCP Terraform / Terraform Enterprise",
          "cloudflare": "Cloudflare", "pactflow": "PactFlow", "cloudtruth": "CloudTruth"}


@pytest.mark.parametrize("case", list(UNCARRIABLE))
def test_a_new_secret_no_header_can_carry_leaves_no_unusable_token_through_a_module(
        sandbox, tmp_path, case):
    """The platform answers a rotation with a secret holding an ESC sequence: it is refused and
    never printed. Where the collection created a new token for it (a replacement, a
    generation), that token is deleted at once and the previous one kept; where the platform
    replaced the secret in place, the message says plainly what became of the previous one
    (stopped; or, in CloudTruth's window, works until its end). Before, the unusable new token
    was left on the platform, with only "created" said of it."""
    platform = UNCARRIABLE[case][0]
    args, previous, issues = uncarriable_case(sandbox, case)
    before = live_ids(sandbox, platform)
    run = run_playbook(tmp_path, [module_task(MODULES[platform], "rotated",
                                              dict(args, rotate="always"), ignore_errors=True)])
    result = run["rotated"]
    assert result["failed"] and "secret" not in result, result
    assert "holds a control character (U+001B)" in result["msg"], result["msg"]
    assert fate_words(issues, TITLES[platform]) in result["msg"], result["msg"]
    if issues == "in place":
        assert not sandbox.secrets.is_live(previous)
        assert "was deleted" not in result["msg"]
    else:
        assert sandbox.secrets.is_live(previous), "the previous secret was ended"
    if issues == "new":
        assert live_ids(sandbox, platform) == before, "the unusable new token was left"
    assert "\x1b" not in run.output
    assert leaked(sandbox, run.output) == []


@pytest.mark.parametrize("platform", ["pulumi", "cloudflare", "tfe", "cloudtruth"])
def test_a_first_token_no_header_can_carry_is_deleted_again(sandbox, tmp_path, platform):
    """A first create (no predecessor) whose secret no header can carry leaves nothing behind
    (a token, or a CloudTruth service account, whose only secret nobody can use)."""
    service = sandbox[platform]
    args = {"api_url": service.url, "api_token": service.admin_token}
    args.update({"pulumi": {"description": "first"},
                 "cloudflare": {"name": "first", "policies": [
                     {"permission_groups": ["Zone Read"],
                      "resources": {"com.cloudflare.api.account.zone.*": "*"}}]},
                 "tfe": {"organization": getattr(service, "organization", None),
                         "team": "owners", "description": "first"},
                 "cloudtruth": {"name": "first"}}[platform])
    before = live_ids(sandbox, platform)
    service.secret_suffix = "\x1b[2J"
    run = run_playbook(tmp_path, [module_task(MODULES[platform], "created", args,
                                              ignore_errors=True)])
    assert run["created"]["failed"], run["created"]
    assert "was deleted; nothing is left on the platform" in run["created"]["msg"], \
        run["created"]["msg"]
    assert live_ids(sandbox, platform) == before
    assert "\x1b" not in run.output
    assert leaked(sandbox, run.output) == []


def test_a_new_secret_no_header_can_carry_through_the_role(sandbox, tmp_path):
    """The role, one item per case: every consumer keeps a secret that works where the previous
    one survives (the new token deleted), and each row says what became of the previous secret
    in the words of its strategy (CloudTruth's window: it works until its end, not "may
    already have ended")."""
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    items, expected = [], {}
    for case in ("pulumi", "tfe-described", "cloudflare-replace", "cloudflare-roll",
                 "pactflow", "cloudtruth-window"):
        args, previous, issues = uncarriable_case(sandbox, case)
        sink = sinks / case
        sink.write_text(previous)
        sink.chmod(0o600)
        items.append({"provider": UNCARRIABLE[case][0], "id": case, "params": args,
                      "max_age": "1d", "deliver": [{"type": "file", "path": str(sink)}]})
        expected[case] = (previous, issues, sink)
    before = {platform: live_ids(sandbox, platform) for platform in TITLES}
    run = rotate(tmp_path, items)
    rows = run.rows()
    assert sorted(rows) == sorted(expected), run.output
    for case, (previous, issues, sink) in expected.items():
        platform = UNCARRIABLE[case][0]
        row = rows[case]
        assert row["action"] == "failed", row
        assert "holds a control character (U+001B)" in row["error"], row["error"]
        assert fate_words(issues, TITLES[platform]) in row["error"], (case, row["error"])
        assert "may already have ended" not in row["error"], row["error"]
        assert sink.read_text() == previous, case
        if issues != "in place":
            assert sandbox.secrets.is_live(previous), case
    for platform in ("pulumi", "tfe"):
        assert live_ids(sandbox, platform) == before[platform], platform
    assert "\x1b" not in run.output
    assert leaked(sandbox, run.output) == []

    # The platforms mend their ways: the next run rotates every item and each consumer works.
    for platform in TITLES:
        sandbox[platform].secret_suffix = ""
    again = rotate(tmp_path, items, name="again")
    assert {label: row["action"] for label, row in again.rows().items()} == {
        case: "rotated" for case in expected}, again.output
    for case, (_previous, _issues, sink) in expected.items():
        assert sandbox.secrets.is_live(sink.read_text()), case
