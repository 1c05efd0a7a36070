"""cloudtruth_service_account and cloudtruth_service_account_info through real ansible-playbook
against the sandbox (issue 7), and the CloudTruth adapter as the rotation role drives it."""
from datetime import datetime, timedelta, timezone

import pytest

from tests.functional.harness import clean_playbook, leaked, run_playbook
from tests.sandbox import Sandbox
from tests.sandbox.core import days_ago

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._cloudtruth import (
    ACCOUNTS, CloudTruthServiceAccountAdapter, argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._module import make_client
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API

MODULE = "tokenops.tokens.cloudtruth_service_account"
INFO = "tokenops.tokens.cloudtruth_service_account_info"


@pytest.fixture(scope="module")
def running_sandbox():
    """One sandbox for the file (starting one costs about a second); each test resets CloudTruth."""
    with Sandbox() as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox):
    running_sandbox["cloudtruth"].reset()
    running_sandbox.faults.clear()
    running_sandbox.log.clear()
    return running_sandbox


def connection(sandbox, api_token=None):
    ct = sandbox["cloudtruth"]
    return {"api_url": ct.url, "api_token": api_token or ct.admin_token}


def task(sandbox, register, module=MODULE, check_mode=None, api_token=None, ignore_errors=None,
         **args):
    entry = {"name": register, module: {**connection(sandbox, api_token), **args},
             "register": register}
    if check_mode is not None:
        entry["check_mode"] = check_mode
    if ignore_errors:
        entry["ignore_errors"] = True
    return entry


def ct_requests(sandbox):
    return [(e.method, e.path) for e in sandbox.log.select("cloudtruth")]


def writes(sandbox):
    return [(e.method, e.path) for e in sandbox.log.writes("cloudtruth")]


# ------------------------------------------------------------------------------------------------
def test_create_update_in_place_with_diff_and_delete(sandbox, tmp_path):
    ct = sandbox["cloudtruth"]
    wanted = {"name": "ci-deployer", "description": "Deploy pipeline", "role": "contrib"}
    changed = {"name": "ci-deployer", "description": "Deploy pipeline v2",
               "owner": ct.admin_user_id, "role": "admin"}

    run = clean_playbook(sandbox, tmp_path / "check", [
        task(sandbox, "predicted", check_mode=True, **wanted),
    ], diff=True)
    predicted = run["predicted"]
    assert predicted["changed"] and predicted["rotated"] and "secret" not in predicted
    assert predicted["token"]["role"] == "contrib" and predicted["token"]["id"] is None
    assert set(sandbox.log.methods("cloudtruth")) == {"GET"}
    assert ct.account_by_name("ci-deployer") is None

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "apply", [
        task(sandbox, "created", **wanted),
        task(sandbox, "again", **wanted),
        task(sandbox, "change_predicted", check_mode=True, **changed),
        task(sandbox, "changed", **changed),
        task(sandbox, "changed_again", **changed),
    ], diff=True)
    created = run["created"]
    assert created["changed"] and created["rotated"]
    assert sandbox.secrets.is_live(created["secret"])
    account = ct.account_by_name("ci-deployer")
    assert created["token"]["id"] == account.id and "|" in account.id
    assert created["token"]["role"] == "contrib"
    assert created["token"]["description"] == "Deploy pipeline"
    assert created["token"]["key_created_at"] and created["token"]["expires_at"] is None

    assert not run["again"]["changed"] and "secret" not in run["again"]
    assert not run["again"]["rotated"]

    assert run["change_predicted"]["changed"] and not run["change_predicted"]["rotated"]
    result = run["changed"]
    assert result["changed"] and not result["rotated"] and "secret" not in result
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert (before["description"], before["role"], before["owner"]) == (
        "Deploy pipeline", "contrib", None)
    assert (after["description"], after["role"], after["owner"]) == (
        "Deploy pipeline v2", "admin", ct.admin_user_id)
    assert after["id"] == before["id"] == account.id
    assert ct.role_of(account.id) == "ADMIN" and account.owner_id == ct.admin_user_id
    assert account.description == "Deploy pipeline v2"
    assert sandbox.secrets.is_live(created["secret"]), "an in-place change must keep the key"
    assert not run["changed_again"]["changed"]

    # One listing per task; writes only where something changed: no rekey, no PUT. The new key
    # is asked once whether it works (no other run replaced it: the rotation doc fragment).
    path = "/api/v1/serviceaccounts/%s/" % account.id
    membership = "/api/v1/memberships/%s/" % account.user.membership_id
    assert ct_requests(sandbox) == [
        ("GET", "/api/v1/serviceaccounts/"), ("POST", "/api/v1/serviceaccounts/"),
        ("GET", "/api/v1/users/current/"),
        ("GET", "/api/v1/serviceaccounts/"),
        ("GET", "/api/v1/serviceaccounts/"),
        ("GET", "/api/v1/serviceaccounts/"), ("PATCH", path), ("PATCH", membership),
        ("GET", "/api/v1/serviceaccounts/"),
    ]

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "absent", [
        task(sandbox, "absent_predicted", check_mode=True, name="ci-deployer", state="absent"),
        task(sandbox, "removed", name="ci-deployer", state="absent"),
        task(sandbox, "removed_again", name="ci-deployer", state="absent"),
    ])
    assert run["absent_predicted"]["changed"]
    assert run["removed"]["changed"] and run["removed"]["token"] is None
    assert not run["removed_again"]["changed"]
    assert ct.account_by_name("ci-deployer") is None
    assert not sandbox.secrets.is_live(created["secret"])
    assert writes(sandbox) == [("DELETE", path)]


def test_rekey_with_and_without_overlap_and_rotate_due_measures_the_newest_key(sandbox, tmp_path):
    ct = sandbox["cloudtruth"]
    overlap_id, overlap_key = ct.add_service_account("overlap")
    abrupt_id, abrupt_key = ct.add_service_account("abrupt")
    default_id, default_key = ct.add_service_account("default-window")
    stale_id, stale_key = ct.add_service_account("stale", created_at=days_ago(200),
                                                 key_created=days_ago(100))
    # An old account with a young key is not due: the age is the newest key's.
    rekeyed_id, rekeyed_key = ct.add_service_account("rekeyed", created_at=days_ago(200),
                                                     key_created=days_ago(10))
    due = {"rotate": "due", "max_age": "90d"}

    run = clean_playbook(sandbox, tmp_path / "check", [
        task(sandbox, "overlap_predicted", check_mode=True, name="overlap", rotate="always",
             keep_previous_for="1h"),
        task(sandbox, "stale_predicted", check_mode=True, name="stale", **due),
        task(sandbox, "rekeyed_predicted", check_mode=True, name="rekeyed", **due),
    ], diff=True)
    predicted = run["overlap_predicted"]
    assert predicted["changed"] and predicted["rotated"] and "secret" not in predicted
    assert predicted["token"]["live_keys"] == 2
    assert run["stale_predicted"]["rotated"] and not run["rekeyed_predicted"]["changed"]
    assert set(sandbox.log.methods("cloudtruth")) == {"GET"}
    assert all(sandbox.secrets.is_live(k) for k in (overlap_key, abrupt_key, stale_key))

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "apply", [
        task(sandbox, "overlap", name="overlap", rotate="always", keep_previous_for="1h"),
        task(sandbox, "abrupt", name="abrupt", rotate="always", keep_previous_for="0"),
        task(sandbox, "default_window", name="default-window", rotate="always"),
        task(sandbox, "stale", name="stale", **due),
        task(sandbox, "rekeyed", name="rekeyed", **due),
        task(sandbox, "stale_again", name="stale", **due),
    ])
    overlap = run["overlap"]
    assert overlap["changed"] and overlap["rotated"] and overlap["previous_id"] == overlap_id
    assert sandbox.secrets.is_live(overlap["secret"]) and sandbox.secrets.is_live(overlap_key), \
        "with keep_previous_for both keys must work"
    assert overlap["token"]["live_keys"] == 2
    old, new = overlap["token"]["api_keys"]
    assert old["expires_at"] is not None and new["expires_at"] is None
    assert overlap["token"]["key_created_at"] == new["created_at"]
    assert overlap["token"]["expires_at"] is None, "the newest key, not the retiring one"
    assert overlap["token"]["id"] == overlap_id

    abrupt = run["abrupt"]
    assert abrupt["rotated"] and sandbox.secrets.is_live(abrupt["secret"])
    assert not sandbox.secrets.is_live(abrupt_key), "keep_previous_for: 0 stops the old key"
    assert abrupt["token"]["live_keys"] == 1
    assert "stops its previous API key at once" in run.output.replace("\n", " ")
    # Unset, the previous key keeps working for an hour: the rekey sends an explicit expire_at.
    default_window = run["default_window"]
    assert sandbox.secrets.is_live(default_key) and default_window["token"]["live_keys"] == 2
    window_end = timestamp(default_window["token"]["api_keys"][0]["expires_at"])
    assert timedelta(minutes=59) < window_end - datetime.now(timezone.utc) <= timedelta(hours=1)

    assert run["stale"]["rotated"] and sandbox.secrets.is_live(stale_key)
    assert "max_age" in run["stale"]["rotation_reason"]
    assert not run["rekeyed"]["changed"] and not run["rekeyed"]["rotated"]
    assert sandbox.secrets.is_live(rekeyed_key)
    assert not run["stale_again"]["changed"], "a fresh key must not be due again"
    assert writes(sandbox) == [
        ("POST", "/api/v1/serviceaccounts/%s/rekey/" % account_id)
        for account_id in (overlap_id, abrupt_id, default_id, stale_id)]
    assert rekeyed_id not in str(writes(sandbox))


def test_paging_userless_entries_ids_with_a_pipe_and_the_info_module(sandbox, tmp_path):
    ct = sandbox["cloudtruth"]
    ct.max_page_size = 50          # a server that caps pages below what the module asks for
    ct.add_userless_service_account("orphaned entry")
    bulk = ct.add_service_accounts(120)
    last_id, last_key = bulk[-1]
    expired_id, expired_key = ct.add_service_account(
        "expired", role="ADMIN", created_at=days_ago(50), key_expires_at=days_ago(1))

    run = clean_playbook(sandbox, tmp_path, [
        task(sandbox, "last", name="bulk-sa-119", role="viewer"),
        task(sandbox, "last_rekeyed", name="bulk-sa-119", rotate="always",
             keep_previous_for="2h"),
        task(sandbox, "listed", module=INFO, max_age="30d"),
        task(sandbox, "one", module=INFO, name="expired", max_age="30d"),
        task(sandbox, "only_expired", module=INFO, expired=True),
    ])
    assert not run["last"]["changed"] and run["last"]["token"]["id"] == last_id
    assert "|" in last_id and run["last_rekeyed"]["token"]["id"] == last_id
    assert sandbox.secrets.is_live(last_key) and sandbox.secrets.is_live(
        run["last_rekeyed"]["secret"])

    listed = run["listed"]["service_accounts"]
    assert len(listed) == 122
    assert [a["name"] for a in listed if a["description"] == "orphaned entry"] == [None]
    assert all("secret" not in a and "apikey" not in a for a in listed)
    one = run["one"]["service_accounts"]
    assert [a["id"] for a in one] == [expired_id]
    assert one[0]["role"] == "admin" and one[0]["due"] and one[0]["expired"]
    assert one[0]["due_reason"].startswith("expired at")
    assert 49 * 86400 < one[0]["api_keys"][0]["age_seconds"] < 51 * 86400
    assert [a["id"] for a in run["only_expired"]["service_accounts"]] == [expired_id]
    assert expired_key not in str(run["listed"]) and last_key not in str(run["listed"])

    lists = [e for e in sandbox.log.select("cloudtruth") if e.path == "/api/v1/serviceaccounts/"]
    assert len(lists) == 5 * 3, "each of the five tasks reads exactly the three pages"
    assert all("page_size=1000" in e.query for e in lists)
    assert [("page=" in e.query) for e in lists[:3]] == [False, True, True]
    assert writes(sandbox) == [("POST", "/api/v1/serviceaccounts/%s/rekey/" % last_id)]


def test_bad_input_duplicates_missing_key_and_self_rekey(sandbox, tmp_path):
    ct = sandbox["cloudtruth"]
    run = run_playbook(tmp_path / "bad-input", [
        task(sandbox, "bad_role", ignore_errors=True, name="x", role="boss"),
        task(sandbox, "negative_window", ignore_errors=True, name="x", rotate="always",
             keep_previous_for="-1h"),
        task(sandbox, "negative_age", ignore_errors=True, name="x", rotate="due",
             max_age="-3600"),
        task(sandbox, "short_window", ignore_errors=True, name="x", keep_previous_for="10s"),
        task(sandbox, "long_name", ignore_errors=True, name="n" * 129),
        task(sandbox, "bad_owner", ignore_errors=True, name="x",
             owner="https://api.cloudtruth.io/api/v1/projects/1/"),
        task(sandbox, "negative_info", module=INFO, ignore_errors=True, max_age="-1d"),
    ])
    assert run.rc == 0, run.output
    assert "value of role must be one of" in run["bad_role"]["msg"]
    assert "boss" in run["bad_role"]["msg"]
    assert run["negative_window"]["msg"].startswith("keep_previous_for: a duration cannot be "
                                                    "negative")
    assert run["negative_age"]["msg"].startswith("max_age: a duration cannot be negative")
    assert run["short_window"]["msg"].startswith("keep_previous_for: at least 1m")
    assert run["long_name"]["msg"].startswith("name: at most 128")
    assert run["bad_owner"]["msg"].startswith("owner:")
    assert run["negative_info"]["msg"].startswith("max_age:")
    assert sandbox.log.select("cloudtruth") == [], "bad input must fail before any request"
    assert leaked(sandbox, run.output) == []

    first, first_key = ct.add_service_account("twin")
    second, second_key = ct.add_service_account("twin")
    deployer_id, deployer_key = ct.add_service_account("deployer", role="ADMIN")
    sandbox.faults.add("status", platform="cloudtruth", method="POST", path="/rekey/$",
                       status=200, message="rekeyed")
    run = run_playbook(tmp_path / "refusals", [
        task(sandbox, "twins", ignore_errors=True, name="twin", state="absent"),
        task(sandbox, "no_key", ignore_errors=True, name="deployer", rotate="always"),
        task(sandbox, "self_refused", ignore_errors=True, api_token=deployer_key,
             name="deployer", rotate="always", keep_previous_for="0"),
        task(sandbox, "self_with_window", api_token=deployer_key, name="deployer",
             rotate="always", keep_previous_for="30m"),
    ])
    assert run.rc == 0, run.output
    assert leaked(sandbox, run.output) == []
    assert run["twins"]["failed"]
    assert "2 service accounts are called 'twin'" in run["twins"]["msg"]
    assert first in run["twins"]["msg"] and second in run["twins"]["msg"]
    assert ct.account(first) and ct.account(second)

    assert run["no_key"]["failed"] and "secret" not in run["no_key"]
    assert "the server did not return the new key" in run["no_key"]["msg"]

    assert run["self_refused"]["failed"]
    assert run["self_refused"]["msg"].startswith("keep_previous_for: must not be 0")
    self_rekeyed = run["self_with_window"]
    assert self_rekeyed["rotated"] and sandbox.secrets.is_live(self_rekeyed["secret"])
    assert sandbox.secrets.is_live(deployer_key), "the caller's key keeps working for the window"
    rekeys = [w for w in writes(sandbox) if w[1].endswith("/rekey/")]
    assert len(rekeys) == 2, "the refused self-rekey must not be sent"


def timestamp(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ------------------------------------------------------------------------------------------------
def adapter_params(ct, **extra):
    params = {name: spec.get("default") for name, spec in argument_spec().items()}
    params.update({"api_url": ct.url, "api_token": ct.admin_token, "validate_certs": True,
                   "timeout": 10, "max_retry_wait": 0, "rotate": "always"})
    params.update(extra)
    return params


def adapter(client, ct, **extra):
    built = CloudTruthServiceAccountAdapter(client, adapter_params(ct, **extra))
    built.validate()
    return built


def test_adapter_interface_for_the_rotation_role(sandbox):
    ct = sandbox["cloudtruth"]
    first_id, first_key = ct.add_service_account("first")
    second_id, second_key = ct.add_service_account("second", created_at=days_ago(3))
    client = make_client(API["cloudtruth"], adapter_params(ct))
    first = adapter(client, ct, name="first")
    second = adapter(client, ct, name="second", keep_previous_for="0")
    assert first.scope_key() == second.scope_key()
    listing = first.list_scope()
    assert first.find_in(listing)["id"] == first_id
    current = second.find_in(listing)
    assert current["id"] == second_id
    assert len(sandbox.log.select("cloudtruth")) == 1, "one listing serves both accounts"
    assert client.url_for(ACCOUNTS + (second_id,)).endswith(
        "/api/v1/serviceaccounts/%s/" % second_id.replace("|", "%7C"))

    token, new_key = second.issue_replacement(current)
    assert token["id"] == second_id and sandbox.secrets.is_live(new_key)
    assert second.overlaps is False, "a rekey replaces the key in place"
    assert sandbox.secrets.is_live(second_key) == second.overlaps
    second.retire(current)
    assert ct.account(second_id) is not None, "retire must never delete the account"
    assert second.verify(new_key) is True
    assert second.verify(second_key) is False

    # With a window the previous key outlives the rekey; retire() cannot end it early.
    windowed = adapter(client, ct, name="first", keep_previous_for="1h")
    token, first_new = windowed.issue_replacement(windowed.find())
    assert windowed.verify(first_new) and windowed.verify(first_key)


def test_a_rekey_without_a_clear_answer_is_repeated_only_after_looking(sandbox):
    ct = sandbox["cloudtruth"]
    account_id, old_key = ct.add_service_account("flaky")
    client = make_client(API["cloudtruth"], adapter_params(ct))
    flaky = adapter(client, ct, name="flaky", keep_previous_for="0")

    sandbox.faults.add("drop", platform="cloudtruth", method="POST", path="/rekey/$")
    token, new_key = flaky.issue_replacement(flaky.find())
    assert sandbox.secrets.is_live(new_key) and not sandbox.secrets.is_live(old_key)
    assert [m for m, p in ct_requests(sandbox)] == ["GET", "POST", "GET", "POST", "GET"]
    assert len(ct.account(account_id).keys) == 2, "exactly one rekey happened"

    sandbox.faults.add("lost_response", platform="cloudtruth", method="POST", path="/rekey/$")
    sandbox.log.clear()
    # Still ambiguous: a key was issued that nobody holds, so the rotation role's journal keeps
    # the rotation open and its next run rekeys again (see test_fault_matrix).
    with pytest.raises(AmbiguousWriteError, match="The rekey did happen") as raised:
        flaky.issue_replacement(flaky.find())
    assert "stopped working" in str(raised.value)
    assert [m for m, p in ct_requests(sandbox)] == ["GET", "POST", "GET"]
    assert not sandbox.secrets.is_live(new_key)


# -- issue 13: as the real service may answer --------------------------------------------------

def test_a_rekey_answer_without_the_key_fails_clearly_and_the_previous_key_keeps_working(
        sandbox, tmp_path):
    """The only public schema of the rekey's answer has no key. The module fails naming what
    became of the previous key (read back from the account), which keeps working; the next run
    neither rekeys with null nor shortens the window."""
    ct = sandbox["cloudtruth"]
    ct.rekey_returns_key = False
    account_id, consumer_key = ct.add_service_account("ci", created_at=days_ago(120))
    sandbox.log.clear()
    run = run_playbook(tmp_path / "first", [
        task(sandbox, "rekeyed", name="ci", rotate="due", max_age="90d", ignore_errors=True),
    ])
    assert run.rc == 0, run.output
    failed = run["rekeyed"]
    assert failed["failed"] and "secret" not in failed
    assert "the server did not return the new key" in failed["msg"]
    prefix = consumer_key.split(".")[0]
    assert f"the previous key (public prefix {prefix}) works until " in failed["msg"]
    assert sandbox.secrets.is_live(consumer_key)
    window_end = sandbox.secrets.get(consumer_key).revoked_at
    assert window_end is not None and window_end > datetime.now(timezone.utc)
    rekeys = sandbox.log.writes("cloudtruth")
    assert len(rekeys) == 1 and rekeys[0].path.endswith("/rekey/")
    assert ("GET", f"/api/v1/serviceaccounts/{account_id}/") in [
        (e.method, e.path.replace("%7C", "|")) for e in sandbox.log.select("cloudtruth")]
    assert leaked(sandbox, run.output) == []

    # The next run: the newest key is fresh, so nothing is due; it warns about the window.
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "next", [
        task(sandbox, "next", name="ci", rotate="due", max_age="90d"),
    ])
    assert not run["next"]["changed"] and sandbox.log.writes("cloudtruth") == []
    assert "older ones stop at" in run.output.replace("\n", " ")
    assert sandbox.secrets.is_live(consumer_key)
    assert sandbox.secrets.get(consumer_key).revoked_at == window_end


def test_an_immediate_cut_over_on_a_server_that_reads_null_as_never_warns(sandbox, tmp_path):
    ct = sandbox["cloudtruth"]
    ct.null_expire_at_means_never = True
    _account_id, old_key = ct.add_service_account("cut-over")
    run = clean_playbook(sandbox, tmp_path, [
        task(sandbox, "cut", name="cut-over", rotate="always", keep_previous_for="0"),
    ])
    assert run["cut"]["rotated"] and sandbox.secrets.is_live(run["cut"]["secret"])
    assert sandbox.secrets.is_live(old_key)          # what the server did: never expires
    text = " ".join(run.output.split())
    assert "still works and does not expire" in text and 'expire_at: null as "never"' in text


def test_a_2021_server_without_role_or_membership_is_not_written_to(sandbox, tmp_path):
    ct = sandbox["cloudtruth"]
    ct.bodies_2021 = True
    ct.add_service_account("old-server", role="ADMIN")
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        task(sandbox, "same", name="old-server", role="viewer"),
    ])
    assert not run["same"]["changed"] and run["same"]["token"]["role"] is None
    assert sandbox.log.writes("cloudtruth") == []
    assert "did not report the role" in " ".join(run.output.split())
