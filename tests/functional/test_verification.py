"""What a check of a secret learned, transient answers, quotas, dead namesakes, honest words
(issue 22, items 3-7). The sandbox is the oracle: it knows every secret it issued and, for a
location-restricted Cloudflare token, whether it works from an address the tests cannot call
from.

Most cases run the rotation role's engine in-process (the code the role runs, over real HTTP to
the sandbox); the module cases run real ansible-playbook.
"""
import re
from datetime import datetime, timezone

import pytest
import requests

from tests.functional.harness import clean_playbook, leaked, module_task, run_playbook
from tests.functional.test_fault_matrix import pactflow_seed, pulumi_seed, rotation
from tests.sandbox.cloudflare import USER_SCOPE, policy
from tests.sandbox.core import credential_digest, days_ago

#: the address an IP-restricted token's consumer calls from (TEST-NET-1); the sandbox and the
#: controller are on 127.0.0.1, which the condition excludes
ALLOWED = "192.0.2.10"
CONDITION = {"request_ip": {"in": ["192.0.2.0/24"]}}
QUICK = {"max_verify_wait": 0.5, "max_retry_wait": 0.5, "timeout": 5}


def rows_of(result):
    return {row["label"]: row for row in result["rows"]}


def file_sink(path, secret=None):
    if secret is not None:
        path.write_text(secret)
        path.chmod(0o600)
    return {"type": "file", "path": str(path)}


def cloudflare_item(sandbox, sink, name, **params):
    cloudflare = sandbox["cloudflare"]
    return {"provider": "cloudflare", "id": name, "max_age": "90d",
            "params": {"api_url": cloudflare.url, "api_token": cloudflare.admin_token,
                       "name": name, **QUICK, **params},
            "deliver": [sink]}


def named(cloudflare, name):
    return [t for t in cloudflare.tokens() if t["name"] == name]


# -- item 3: unusable from here by design is neither "works" nor "refused" --------------------

@pytest.mark.parametrize("strategy", ["replace", "roll"])
def test_an_ip_restricted_cloudflare_token_rotates_and_its_consumer_keeps_a_working_secret(
        sandbox, tmp_path, strategy):
    """The token's IP condition excludes the controller, so its new secret cannot be verified
    from here (403 code 9109). Either strategy delivers it and says so; the consumer ends with a
    secret that works from its allowed location, and the next run does not rotate again."""
    cloudflare = sandbox["cloudflare"]
    token_id, secret = cloudflare.add_token("edge-dns", issued_on=days_ago(120),
                                            condition=CONDITION)
    assert cloudflare.works_from(secret, ALLOWED) and not cloudflare.works_from(secret,
                                                                                "127.0.0.1")
    sink = tmp_path / "consumer"
    item = cloudflare_item(sandbox, file_sink(sink, secret), "edge-dns", rotation=strategy)

    first = rows_of(rotation([item], tmp_path))["edge-dns"]
    assert first["action"] == "rotated", first
    notes = " ".join(first["notes"])
    assert "delivered, not verified" in notes and "IP condition" in notes, notes
    held = sink.read_text().strip()
    assert held != secret and cloudflare.works_from(held, ALLOWED)
    assert not sandbox.secrets.is_live(secret), "the previous secret was retired"
    [token] = named(cloudflare, "edge-dns")
    assert token["value"] == held and token["condition"] == CONDITION
    assert (token["id"] == token_id) is (strategy == "roll")

    sandbox.log.clear()
    second = rows_of(rotation([item], tmp_path))["edge-dns"]
    assert second["action"] == "not due", second
    assert sandbox.log.writes() == [], "the second run rotated again"
    assert sink.read_text().strip() == held and cloudflare.works_from(held, ALLOWED)
    assert len(named(cloudflare, "edge-dns")) == 1


@pytest.mark.parametrize("case,strategy", [("disabled", "roll"), ("not_before", "replace")])
def test_a_token_that_cannot_authenticate_yet_is_delivered_not_verified(
        sandbox, tmp_path, case, strategy):
    """A disabled token, or one whose not_before is ahead, cannot verify anywhere: delivered,
    not verified, with the reason; not rolled back, not failed."""
    cloudflare = sandbox["cloudflare"]
    options = ({"status": "disabled"} if case == "disabled"
               else {"not_before": days_ago(-3)})
    _token_id, secret = cloudflare.add_token("later", issued_on=days_ago(120), **options)
    sink = tmp_path / "consumer"
    item = cloudflare_item(sandbox, file_sink(sink, secret), "later", rotation=strategy)
    row = rows_of(rotation([item], tmp_path))["later"]
    assert row["action"] == "rotated", row
    notes = " ".join(row["notes"])
    assert "delivered, not verified" in notes and case.replace("_", "") in notes.replace(
        "_", ""), notes
    [token] = named(cloudflare, "later")
    assert sink.read_text().strip() == token["value"] != secret
    assert sandbox.secrets.is_live(token["value"]) and not sandbox.secrets.is_live(secret)


# -- item 4: transient answers are asked again ----------------------------------------------

def self_admin(cloudflare):
    """A user token that may manage user tokens: the module's credential and its target."""
    return cloudflare.add_token("self-admin", policies=[policy(
        "API Tokens Write", resources={f"{USER_SCOPE}.{cloudflare.user_id}": "*"})])


def test_one_transient_403_on_verify_does_not_let_the_module_roll_its_own_credential(
        sandbox, tmp_path):
    """Cloudflare answers a working credential "Authentication error" (403 code 10000) for a
    moment. Once was enough to take the caller for "no token of this kind" and roll it."""
    cloudflare = sandbox["cloudflare"]
    token_id, secret = self_admin(cloudflare)
    cloudflare.transient_verify_errors = 1
    sandbox.log.clear()
    run = run_playbook(tmp_path, [module_task("cloudflare_token", "self_roll", {
        "api_url": cloudflare.url, "api_token": secret, "name": "self-admin",
        "rotate": "always"}, ignore_errors=True)])
    result = run["self_roll"]
    assert result["failed"] and result["msg"].startswith("rotate: refusing"), result
    assert token_id in result["msg"] and "allow_self_rotation" in result["msg"]
    assert sandbox.secrets.is_live(secret), "the credential was rolled"
    assert sandbox.log.writes() == []
    verifies = [e.status for e in sandbox.log.select("cloudflare") if e.path.endswith("/verify")]
    assert verifies == [403, 200], verifies
    assert leaked(sandbox, run.output) == []


def test_an_identity_that_stays_unknown_refuses_the_self_affecting_change(sandbox, tmp_path):
    """The answer stays "Authentication error" for the whole max_verify_wait: the rotation of
    what may be the caller's own token is refused (fail closed), nothing is remembered, nothing
    written."""
    cloudflare = sandbox["cloudflare"]
    token_id, secret = self_admin(cloudflare)
    cloudflare.add_token("self-admin-peer", issued_on=days_ago(120))
    cloudflare.transient_verify_errors = 1000
    sink = tmp_path / "consumer"
    item = cloudflare_item(sandbox, file_sink(sink, secret), "self-admin", api_token=secret,
                           rotation="roll")
    item["force"] = True
    sandbox.log.clear()
    row = rows_of(rotation([item], tmp_path))["self-admin"]
    assert row["action"] == "failed", row
    assert "could not be told" in row["error"] and "refusing to rotate" in row["error"], row
    assert sandbox.secrets.is_live(secret) and sink.read_text() == secret
    assert sandbox.log.writes() == []
    verifies = [e for e in sandbox.log.select("cloudflare") if e.path.endswith("/verify")]
    assert len(verifies) > 2, "asked only once"


def tfe_legacy_seed(sandbox):
    tfe = sandbox["tfe"]
    team_id = tfe.add_team("lagging")
    tfe.add_token(team_id, created_at=days_ago(120))
    return {"provider": "tfe", "id": "tfe", "max_age": "90d",
            "params": {"api_url": tfe.url, "api_token": tfe.admin_token,
                       "organization": tfe.organization, "team": "lagging", **QUICK}}


def current_secret(sandbox, platform):
    if platform == "tfe":
        tfe = sandbox["tfe"]
        return tfe.secret_of(tfe.tokens(tfe.team_by_name("lagging"))[0]["id"])
    if platform == "pactflow":
        return sandbox["pactflow"].token_by_type("read-only")["value"]
    pulumi = sandbox["pulumi"]
    return [pulumi.secret_of(t["id"]) for t in pulumi.tokens("personal")
            if t["description"] == "matrix"][-1]


VERIFY_PATHS = {"tfe": r"/account/details$", "pactflow": r"^/settings/tokens$",
                "pulumi": r"^/api/user$"}
SEEDS = {"tfe": tfe_legacy_seed, "pactflow": pactflow_seed, "pulumi": pulumi_seed}


@pytest.mark.parametrize("platform", ["tfe", "pactflow", "pulumi"])
def test_a_new_secret_refused_once_while_it_propagates_is_delivered_and_verified(
        sandbox, tmp_path, platform):
    """TFE legacy and PactFlow replace in place, Pulumi overlaps: one 401 of the new secret used
    to strand the in-place consumer and fail the overlapping rotation."""
    item = SEEDS[platform](sandbox)
    item["params"].update(QUICK)
    admin = item["params"]["api_token"]
    previous = current_secret(sandbox, platform)
    sink = tmp_path / "consumer"
    item["deliver"] = [file_sink(sink, previous)]
    fault = sandbox.faults.add(action="status", status=401, message="not yet", platform=platform,
                               method="GET", path=VERIFY_PATHS[platform],
                               unless_credential=admin, times=1)
    row = rows_of(rotation([item], tmp_path))[item["id"]]
    assert row["action"] == "rotated", row
    assert not any("not verified" in note for note in row["notes"]), row
    held = sink.read_text().strip()
    assert held == current_secret(sandbox, platform) != previous
    assert sandbox.secrets.is_live(held) and not sandbox.secrets.is_live(previous)
    assert fault.hits == 1
    checks = [e.status for e in sandbox.log.select(platform, "GET")
              if re.search(VERIFY_PATHS[platform], e.path)
              and e.credential_digest != credential_digest(admin)]
    assert checks[:2] == [401, 200], checks


# -- item 6: quotas --------------------------------------------------------------------------

def test_a_replace_at_the_cloudflare_token_quota_is_refused_before_any_write(sandbox, tmp_path):
    """50 user tokens (the admin's and 49 others): rotation: replace would need a 51st."""
    cloudflare = sandbox["cloudflare"]
    _token_id, secret = cloudflare.add_token("at-quota", issued_on=days_ago(120))
    cloudflare.add_tokens(48)
    assert len(cloudflare.tokens()) == 50
    sink = tmp_path / "consumer"
    item = cloudflare_item(sandbox, file_sink(sink, secret), "at-quota")   # role: replace
    sandbox.log.clear()
    row = rows_of(rotation([item], tmp_path))["at-quota"]
    assert row["action"] == "failed", row
    for words in ("at most 50 user API tokens", "already holds 50", "Delete unused tokens",
                  "rotation: roll"):
        assert words in row["error"], row["error"]
    assert sandbox.log.writes() == [] and sink.read_text() == secret

    run = run_playbook(tmp_path / "module", [module_task("cloudflare_token", "replaced", {
        "api_url": cloudflare.url, "api_token": cloudflare.admin_token, "name": "at-quota",
        "rotation": "replace", "rotate": "always"}, ignore_errors=True)])
    assert run["replaced"]["failed"] and "at most 50 user API tokens" in run["replaced"]["msg"]
    assert sandbox.log.writes() == [] and sandbox.secrets.is_live(secret)

    # Room for one: the first of two due replacements fits, the second is refused up front.
    for bulk in [t["id"] for t in cloudflare.tokens() if t["name"].startswith("bulk-")][:2]:
        requests.delete("%s/user/tokens/%s" % (cloudflare.url, bulk), timeout=5,
                        headers={"Authorization": "Bearer " + cloudflare.admin_token})
    cloudflare.add_token("second", issued_on=days_ago(120))
    assert len(cloudflare.tokens()) == 49
    items = [item, cloudflare_item(sandbox, file_sink(tmp_path / "second"), "second")]
    rows = rows_of(rotation(items, tmp_path / "two"))
    assert rows["at-quota"]["action"] == "rotated", rows["at-quota"]
    assert rows["second"]["action"] == "failed" and "and 1 other replacement" in \
        rows["second"]["error"], rows["second"]


# -- item 5: dead namesakes ----------------------------------------------------------------

def test_dead_namesakes_never_block_the_live_cloudflare_token(sandbox, tmp_path):
    cloudflare = sandbox["cloudflare"]
    live_id, live_secret = cloudflare.add_token("ci", issued_on=days_ago(120))
    expired_id, _s = cloudflare.add_token("ci", issued_on=days_ago(200), expires_on=days_ago(3))
    exposed_id, _s = cloudflare.add_token("ci", issued_on=days_ago(150), status="revoked (exposed)")
    disabled_id, _s = cloudflare.add_token("ci", issued_on=days_ago(100), status="disabled")
    cloudflare.add_token("twins", issued_on=days_ago(10))
    cloudflare.add_token("twins", issued_on=days_ago(9))
    conn = {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}
    run = run_playbook(tmp_path, [
        module_task("cloudflare_token", "live", dict(conn, name="ci", rotate="due",
                                                     max_age="90d")),
        module_task("cloudflare_token", "twins", dict(conn, name="twins"), ignore_errors=True),
    ])
    live = run["live"]
    assert not live.get("failed") and live["rotated"] and live["token"]["id"] == live_id, live
    assert not sandbox.secrets.is_live(live_secret) and sandbox.secrets.is_live(live["secret"])
    for dead in (expired_id, exposed_id, disabled_id):
        assert dead in run.output, "the warning names the dead namesakes"
    assert run["twins"]["failed"] and "name: 2 live tokens have the name 'twins'" in run["twins"]["msg"]
    assert leaked(sandbox, run.output) == []

    # The role finds the live one too.
    sink = tmp_path / "consumer"
    item = cloudflare_item(sandbox, file_sink(sink, live["secret"]), "ci")
    item["force"] = True
    row = rows_of(rotation([item], tmp_path / "role"))["ci"]
    assert row["action"] == "rotated" and sandbox.secrets.is_live(sink.read_text()), row


# -- item 7: honest words ------------------------------------------------------------------

README_TASK = {"description": "ci-deploy", "expires_in": "90d", "rotate": "due",
               "max_age": "60d"}


def test_the_readme_first_playbook_runs_three_times_without_a_warning(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    task = module_task("pulumi_token", "ci_token", dict(
        README_TASK, api_url=pulumi.url, api_token=pulumi.admin_token))
    for number in range(3):
        run = clean_playbook(sandbox, tmp_path / str(number), [task])
        assert "WARNING" not in run.output, run.output
        assert run["ci_token"]["changed"] is (number == 0)
    assert len([t for t in pulumi.tokens("personal") if t["description"] == "ci-deploy"]) == 1


FUTURE = datetime(2099, 1, 1, tzinfo=timezone.utc)


def test_a_token_issued_in_2099_has_an_unknown_age_and_is_due(sandbox, tmp_path):
    """Its age is not negative (never due for ever): unknown, with a warning; with max_age it
    is due, so that a rotation starts a known age. The _info module says the same."""
    cloudflare = sandbox["cloudflare"]
    token_id, secret = cloudflare.add_token("from-the-future", issued_on=FUTURE)
    conn = {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}
    run = clean_playbook(sandbox, tmp_path, [
        module_task("cloudflare_token_info", "listed", dict(conn, name="from-the-future",
                                                            max_age="90d")),
        module_task("cloudflare_token", "due", dict(conn, name="from-the-future", rotate="due",
                                                    max_age="90d")),
        module_task("cloudflare_token", "again", dict(conn, name="from-the-future",
                                                      rotate="due", max_age="90d")),
    ])
    [listed] = run["listed"]["tokens"]
    assert listed["age_seconds"] is None and listed["due"] is True, listed
    assert listed["due_reason"].startswith("age unknown"), listed
    text = " ".join(run.output.split())
    assert "created_at is '2099-01-01T00:00:00Z', in the future" in text, text
    assert run["due"]["rotated"] and run["due"]["rotation_reason"].startswith("age unknown")
    assert not sandbox.secrets.is_live(secret) and sandbox.secrets.is_live(run["due"]["secret"])
    assert not run["again"]["rotated"], "the new secret has a known age"
    assert token_id == run["due"]["token"]["id"]


def test_timestamps_out_of_range_make_the_age_unknown_without_a_crash(sandbox, tmp_path):
    """Pulumi's epoch seconds beyond any date (year 318857): the modules, info included, warn
    and carry on; the role plans and reports."""
    pulumi = sandbox["pulumi"]
    token_id, secret = pulumi.add_personal_token("far-out", created=days_ago(10))
    stored = pulumi._tokens[token_id]
    stored.last_used = stored.expires = 10 ** 13
    conn = {"api_url": pulumi.url, "api_token": pulumi.admin_token}
    run = clean_playbook(sandbox, tmp_path, [
        module_task("pulumi_token_info", "listed", dict(conn, max_age="90d")),
        module_task("pulumi_token", "kept", dict(conn, description="far-out", rotate="due",
                                                 max_age="90d")),
    ])
    [listed] = [t for t in run["listed"]["tokens"] if t["id"] == token_id]
    assert listed["expires_at"] is None and listed["last_used_at"] is None, listed
    assert listed["age_seconds"] is not None and listed["due"] is False
    text = " ".join(run.output.split())
    assert "expires_at is '10000000000000'" in text and "no moment a date can hold" in text
    assert not run["kept"]["rotated"] and sandbox.secrets.is_live(secret)

    sink = tmp_path / "consumer"
    item = {"provider": "pulumi", "id": "far-out", "max_age": "90d",
            "params": dict(conn, description="far-out", **QUICK),
            "deliver": [file_sink(sink, secret)]}
    row = rows_of(rotation([item], tmp_path / "role"))["far-out"]
    assert row["action"] == "not due", row
    assert any("no moment a date can hold" in note for note in row["notes"]), row
