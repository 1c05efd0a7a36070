"""cloudflare_token and cloudflare_token_info through real ansible-playbook against the sandbox
(issue 4), and the adapter the rotation role drives, used directly."""
from datetime import datetime
from urllib.parse import parse_qs

import requests

from tests.functional.harness import clean_playbook, leaked, module_task, run_playbook
from tests.sandbox.cloudflare import ACCOUNT_SCOPE, ZONE_SCOPE, group_id, policy
from tests.sandbox.core import days_ago

from ansible_collections.tokenops.tokens.plugins.module_utils._cloudflare import (
    CloudflareTokenAdapter, argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._cloudflare_power import (
    normal_condition, normal_policies, policies_equal,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    connection_argument_spec, make_client,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API

ZONES = {"com.cloudflare.api.account.zone.*": "*"}
ACCESS_WRITE = "Access: Apps and Policies Write"    # published at account and at zone scope


def connection(sandbox):
    cloudflare = sandbox["cloudflare"]
    return {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}


def token_task(sandbox, register, check_mode=None, ignore_errors=False, **args):
    return module_task("cloudflare_token", register, {**connection(sandbox), **args},
                       check_mode, ignore_errors)


def info_task(sandbox, register, **args):
    return {"name": register,
            "tokenops.tokens.cloudflare_token_info": {**connection(sandbox), **args},
            "register": register}


def verify_status(cloudflare, secret, account_id=None):
    """What the sandbox's verify answers ``secret`` (200 works, 401 rejected)."""
    path = f"/accounts/{account_id}/tokens/verify" if account_id else "/user/tokens/verify"
    return requests.get(cloudflare.url + path, timeout=10,
                        headers={"Authorization": "Bearer " + secret}).status_code


def timestamp(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def writes(sandbox):
    return [(e.method, e.path.split("/tokens", 1)[-1]) for e in sandbox.log.writes("cloudflare")]


def by_name(cloudflare, name, account_id=None):
    return [t for t in cloudflare.tokens(account_id) if t["name"] == name]


def group_ids(policy_item):
    return sorted(g["id"] for g in policy_item["permission_groups"])


def test_create_change_disable_roll_and_delete(sandbox, tmp_path):
    cloudflare = sandbox["cloudflare"]
    assert cloudflare.reorder_policies        # reads come back reversed, with fresh policy ids
    cloudflare.normalise_cidrs = True         # and the server rewrites CIDRs canonically
    policies = [
        {"permission_groups": ["Zone Read", "DNS Write"], "resources": ZONES},
        {"effect": "deny", "permission_groups": [group_id("Cache Purge")], "resources": ZONES},
    ]
    condition = {"request_ip": {"in": ["127.0.0.1", "192.0.2.9/24"], "not_in": ["10.0.0.0/8"]}}
    wanted = dict(name="ci-dns", policies=policies, condition=condition, expires_in="30d")

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "check", [
        token_task(sandbox, "predicted", check_mode=True, **wanted)], diff=True)
    predicted = run["predicted"]
    assert predicted["changed"] and predicted["rotated"] and "secret" not in predicted
    assert predicted["token"]["policies"][0]["permission_groups"][0]["name"] is not None
    assert set(sandbox.log.methods("cloudflare")) == {"GET"}
    assert by_name(cloudflare, "ci-dns") == []

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "create", [
        token_task(sandbox, "created", **wanted),
        token_task(sandbox, "again", **wanted),
        token_task(sandbox, "again_check", check_mode=True, **wanted),
    ])
    created = run["created"]
    assert created["changed"] and created["rotated"]
    assert verify_status(cloudflare, created["secret"]) == 200
    stored = cloudflare.token(created["token"]["id"])
    assert stored["value"] == created["secret"]
    assert sorted(group_ids(p) for p in stored["policies"]) == sorted(
        [sorted([group_id("Zone Read"), group_id("DNS Write")]), [group_id("Cache Purge")]])
    assert stored["condition"] == {"request_ip": {"in": ["127.0.0.1/32", "192.0.2.0/24"],
                                                  "not_in": ["10.0.0.0/8"]}}
    assert created["token"]["expires_at"] is not None
    for step in ("again", "again_check"):
        assert not run[step]["changed"], "reordered policies or rewritten CIDRs read as a change"
        assert "secret" not in run[step] and run[step]["token"]["id"] == created["token"]["id"]
    assert writes(sandbox) == [("POST", "")], "exactly one create, nothing else written"
    token_id = created["token"]["id"]

    changed_policies = [dict(policies[0], permission_groups=["Zone Read", "DNS Read"]),
                        policies[1]]
    changed = {**wanted, "policies": changed_policies}
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "change", [
        token_task(sandbox, "change_check", check_mode=True, **changed),
    ], diff=True)
    assert run["change_check"]["changed"] and not run["change_check"]["rotated"]
    assert set(sandbox.log.methods("cloudflare")) == {"GET"}

    new_expiry = (days_ago(-60).replace(microsecond=0)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "apply", [
        token_task(sandbox, "changed", **changed),
        token_task(sandbox, "disabled", name="ci-dns", status="disabled"),
        token_task(sandbox, "disabled_again", name="ci-dns", status="disabled"),
        token_task(sandbox, "enabled", token_id=token_id, status="active"),
        token_task(sandbox, "rolled", name="ci-dns", rotate="always"),
        token_task(sandbox, "after_roll", rotate="due", max_age="1d", **changed),
        token_task(sandbox, "unrestricted", name="ci-dns", condition={}, expires_at=new_expiry),
    ], diff=True)
    result = run["changed"]
    assert result["changed"] and not result["rotated"] and "secret" not in result
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before["policies"] != after["policies"]
    assert {k: v for k, v in before.items() if k not in ("policies", "modified_at")} == \
        {k: v for k, v in after.items() if k not in ("policies", "modified_at")}
    assert "DNS Read" in run.stdout and "DNS Write" in run.stdout    # --diff shows the change
    assert run["disabled"]["changed"] and run["disabled"]["token"]["status"] == "disabled"
    assert not run["disabled_again"]["changed"]
    assert run["enabled"]["changed"] and run["enabled"]["token"]["status"] == "active"
    rolled = run["rolled"]
    assert rolled["changed"] and rolled["rotated"] and rolled["previous_id"] == token_id
    assert rolled["token"]["id"] == token_id
    assert verify_status(cloudflare, created["secret"]) == 401, "the rolled secret still works"
    assert verify_status(cloudflare, rolled["secret"]) == 200
    assert not run["after_roll"]["changed"], "a roll must count as a fresh secret"
    assert "secret" not in run["after_roll"]
    unrestricted = run["unrestricted"]
    assert unrestricted["changed"] and unrestricted["token"]["condition"] is None
    assert unrestricted["token"]["expires_at"] == new_expiry
    assert writes(sandbox) == ([("PUT", "/" + token_id)] * 3 + [("PUT", f"/{token_id}/value")]
                               + [("PUT", "/" + token_id)])
    stored = cloudflare.token(token_id)
    assert stored["status"] == "active" and stored["value"] == rolled["secret"]
    assert "condition" not in stored and stored["expires_on"] == new_expiry
    assert sorted(group_ids(p) for p in stored["policies"])[-1] == sorted(
        [group_id("Zone Read"), group_id("DNS Read")])

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "absent", [
        token_task(sandbox, "absent_check", check_mode=True, name="ci-dns", state="absent"),
        token_task(sandbox, "removed", name="ci-dns", state="absent"),
        token_task(sandbox, "removed_again", name="ci-dns", state="absent"),
    ])
    assert run["absent_check"]["changed"]
    assert run["removed"]["changed"] and run["removed"]["token"] is None
    assert not run["removed_again"]["changed"]
    assert cloudflare.token(token_id) is None
    assert verify_status(cloudflare, rolled["secret"]) == 401
    assert writes(sandbox) == [("DELETE", "/" + token_id)]


def test_rotate_due_counts_from_the_last_roll_and_moves_the_expiry(sandbox, tmp_path):
    cloudflare = sandbox["cloudflare"]
    old_id, old_secret = cloudflare.add_token("nightly", issued_on=days_ago(120))
    short_id, short_secret = cloudflare.add_token("short-lived", issued_on=days_ago(20),
                                                  expires_on=days_ago(-5))
    stale_id, stale_secret = cloudflare.add_token("stale", issued_on=days_ago(20),
                                                  expires_on=days_ago(-5))
    due = dict(name="nightly", rotate="due", max_age="90d")
    renew = dict(name="short-lived", rotate="due", renew_before="14d", expires_in="90d")

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "check", [
        token_task(sandbox, "due_check", check_mode=True, **due),
        token_task(sandbox, "renew_check", check_mode=True, **renew),
    ])
    assert run["due_check"]["rotated"] and run["renew_check"]["rotated"]
    assert "max_age" in run["due_check"]["rotation_reason"]
    assert set(sandbox.log.methods("cloudflare")) == {"GET"}
    assert sandbox.secrets.is_live(old_secret) and sandbox.secrets.is_live(short_secret)

    new_expiry = (days_ago(-60).replace(microsecond=0)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "apply", [
        token_task(sandbox, "rolled", **due),
        token_task(sandbox, "not_again", **due),
        token_task(sandbox, "renewed", **renew),
        token_task(sandbox, "renewed_not_again", **renew),
        # Due by expiry, but nothing moves the expiry: rolling would repeat on every run.
        token_task(sandbox, "futile", ignore_errors=True, name="stale", rotate="due",
                   renew_before="14d"),
    ])
    assert run["rolled"]["rotated"] and run["rolled"]["token"]["id"] == old_id
    assert not sandbox.secrets.is_live(old_secret) and sandbox.secrets.is_live(
        run["rolled"]["secret"])
    assert cloudflare.token(old_id)["issued_on"] == run["rolled"]["token"]["created_at"]
    assert not run["not_again"]["changed"] and run["not_again"]["rotation_reason"] == "not due"
    renewed = run["renewed"]
    assert renewed["rotated"] and timestamp(renewed["token"]["expires_at"]) > days_ago(-80)
    assert cloudflare.token(short_id)["expires_on"] == renewed["token"]["expires_at"]
    assert verify_status(cloudflare, renewed["secret"]) == 200
    assert not run["renewed_not_again"]["changed"]
    assert run["futile"]["failed"] and run["futile"]["msg"].startswith("expires_in:")
    assert sandbox.secrets.is_live(stale_secret)
    assert writes(sandbox) == [("PUT", f"/{old_id}/value"), ("PUT", f"/{short_id}"),
                               ("PUT", f"/{short_id}/value")]


def test_paging_duplicates_names_account_tokens_and_info(sandbox, tmp_path):
    cloudflare = sandbox["cloudflare"]
    cloudflare.add_tokens(120, prefix="bulk")          # + the admin token: 121, three pages
    twin_ids = sorted([cloudflare.add_token("twin")[0], cloudflare.add_token("twin")[0]])
    expired_id, _expired_secret = cloudflare.add_token("old-exporter", issued_on=days_ago(200),
                                                       expires_on=days_ago(10))
    account = cloudflare.account_id
    account_key = {f"{ACCOUNT_SCOPE}.{account}": "*"}
    workers = dict(account_id=account, name="workers-ci", policies=[
        {"permission_groups": ["Workers Scripts Write", ACCESS_WRITE], "resources": account_key},
        {"permission_groups": [ACCESS_WRITE], "resources": ZONES},
    ])

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "first", name="bulk-000"),
        token_task(sandbox, "last", name="bulk-119"),
        token_task(sandbox, "twins", ignore_errors=True, name="twin",
                   policies=[{"permission_groups": ["Zone Read"], "resources": ZONES}]),
        token_task(sandbox, "expired", name="old-exporter",
                   policies=[{"permission_groups": ["Zone Read"], "resources": ZONES}]),
        token_task(sandbox, "account_created", **workers),
        token_task(sandbox, "account_again", **workers),
        token_task(sandbox, "account_rolled", rotate="always", **workers),
        info_task(sandbox, "listed_account", account_id=account, max_age="30d"),
        info_task(sandbox, "listed_bulk", name="bulk-119", max_age="30d",
                  verify_credential=True),
        info_task(sandbox, "listed_expired", expired=True),
        info_task(sandbox, "listed_expiring", expiring_within="1d"),
    ])
    assert run["first"]["token"]["name"] == "bulk-000" and not run["first"]["changed"]
    assert run["last"]["token"]["name"] == "bulk-119" and not run["last"]["changed"]
    twins = run["twins"]
    assert twins["failed"] and twins["msg"].startswith("name:")
    assert all(token_id in twins["msg"] for token_id in twin_ids)
    assert len(by_name(cloudflare, "twin")) == 2, "a duplicate name must never be guessed at"
    assert not run["expired"]["changed"] and run["expired"]["token"]["id"] == expired_id
    assert "expired at" in run.output                   # the warning says what to do
    assert len(by_name(cloudflare, "old-exporter")) == 1

    created = run["account_created"]
    assert created["changed"] and created["token"]["account_id"] == account
    stored = cloudflare.token(created["token"]["id"])
    assert stored["account_id"] == account
    assert {tuple(group_ids(p)) for p in stored["policies"]} == {
        tuple(sorted([group_id("Workers Scripts Write"), group_id(ACCESS_WRITE, ACCOUNT_SCOPE)])),
        (group_id(ACCESS_WRITE, ZONE_SCOPE),)}, "names were not resolved by resource scope"
    assert not run["account_again"]["changed"]
    rolled = run["account_rolled"]
    assert verify_status(cloudflare, created["secret"], account) == 401
    assert verify_status(cloudflare, rolled["secret"], account) == 200
    assert by_name(cloudflare, "workers-ci") == [], "an account token landed among user tokens"

    listed = run["listed_account"]["tokens"]
    assert [t["name"] for t in listed] == ["workers-ci"]
    assert listed[0]["age_seconds"] < 600 and listed[0]["due"] is False
    bulk = run["listed_bulk"]
    assert [t["name"] for t in bulk["tokens"]] == ["bulk-119"]
    assert bulk["credential"]["id"] == cloudflare.admin_token_id
    assert bulk["credential"]["status"] == "active"
    assert [t["id"] for t in run["listed_expired"]["tokens"]] == [expired_id]
    assert run["listed_expired"]["tokens"][0]["due"] is True
    assert [t["id"] for t in run["listed_expiring"]["tokens"]] == [expired_id]
    for step in ("listed_account", "listed_bulk", "listed_expired"):
        assert all("secret" not in t and "value" not in t for t in run[step]["tokens"])

    # Every name lookup and every user listing reads the three pages once, at the largest size.
    user_lists = [parse_qs(e.query) for e in sandbox.log.select("cloudflare", "GET")
                  if e.path.endswith("/user/tokens")]
    assert {q["per_page"][0] for q in user_lists} == {"50"}
    assert all(q["include_expired"] == ["true"] for q in user_lists)
    pages = [q["page"][0] for q in user_lists]
    assert pages == ["1", "2", "3"] * 7, "a lookup missed a page, repeated one, or did not stop"
    assert [m for m, path in writes(sandbox)] == ["POST", "PUT"]


def test_bad_input_rate_limit_lost_create_and_self_rotation(sandbox, tmp_path):
    cloudflare = sandbox["cloudflare"]
    zone_read = [{"permission_groups": ["Zone Read"], "resources": ZONES}]
    sandbox.log.clear()
    run = run_playbook(tmp_path / "bad", [
        token_task(sandbox, "unknown_group", ignore_errors=True, name="x", policies=[
            {"permission_groups": ["DNS Writ"], "resources": ZONES}]),
        token_task(sandbox, "ambiguous_group", ignore_errors=True, name="x", policies=[
            {"permission_groups": [ACCESS_WRITE], "resources": {"com.cloudflare.api.user.x": "*"}}]),
        token_task(sandbox, "dates", ignore_errors=True, name="x", policies=zone_read,
                   not_before=days_ago(-60).isoformat(), expires_at=days_ago(-30).isoformat()),
        token_task(sandbox, "cidr", ignore_errors=True, name="x", policies=zone_read,
                   condition={"request_ip": {"in": ["192.0.2.0/33"]}}),
        token_task(sandbox, "empty_condition", ignore_errors=True, name="x", policies=zone_read,
                   condition={"request_ip": {"in": [], "not_in": []}}),
        token_task(sandbox, "no_policies", ignore_errors=True, name="brand-new"),
        token_task(sandbox, "self_roll", ignore_errors=True, name="Sandbox admin",
                   rotate="always"),
    ])
    assert leaked(sandbox, run.output) == []
    steps = ("unknown_group", "ambiguous_group", "dates", "cidr", "empty_condition",
             "no_policies", "self_roll")
    messages = {step: run[step]["msg"] for step in steps}
    assert all(run[step]["failed"] for step in messages)
    assert messages["unknown_group"].startswith("policies[0].permission_groups:")
    assert "'DNS Writ'" in messages["unknown_group"]
    assert messages["ambiguous_group"].startswith("policies[0].permission_groups:")
    assert group_id(ACCESS_WRITE, ZONE_SCOPE) in messages["ambiguous_group"]
    assert messages["dates"].startswith("expires_at:") and "not_before" in messages["dates"]
    assert messages["cidr"].startswith("condition.request_ip.in:") and "/33" in messages["cidr"]
    assert messages["empty_condition"].startswith("condition:")
    assert messages["no_policies"].startswith("policies:")
    assert messages["self_roll"].startswith("rotate:") and "allow_self_rotation" in \
        messages["self_roll"]
    assert writes(sandbox) == [], "bad input must not write anything"
    touched = {e.path for e in sandbox.log.select("cloudflare")}
    assert touched <= {"/client/v4/user/tokens", "/client/v4/user/tokens/permission_groups",
                       "/client/v4/user/tokens/verify"}
    assert verify_status(cloudflare, cloudflare.admin_token) == 200

    # A 429 (code 971, retry-after) on a GET is waited out; a create whose answer was lost is
    # found again and rolled, so there is one token and a secret that works.
    sandbox.log.clear()
    sandbox.faults.add("status", platform="cloudflare", method="GET", status=429,
                       headers={"Retry-After": "1"},
                       message="Please wait and consider throttling your request speed")
    sandbox.faults.add("lost_response", platform="cloudflare", method="POST",
                       path=r"/user/tokens$")
    run = clean_playbook(sandbox, tmp_path / "faults", [
        token_task(sandbox, "after_429", name="lost-answer", policies=zone_read),
        token_task(sandbox, "found_again", name="lost-answer", policies=zone_read),
    ])
    statuses = [e.status for e in sandbox.log.select("cloudflare")]
    assert statuses[:2] == [429, 200]
    assert sandbox.log.select("cloudflare")[1].path == sandbox.log.select("cloudflare")[0].path
    created = run["after_429"]
    assert created["changed"] and verify_status(cloudflare, created["secret"]) == 200
    assert len(by_name(cloudflare, "lost-answer")) == 1, "the lost create was repeated blindly"
    assert not run["found_again"]["changed"]
    assert [m for m, path in writes(sandbox)] == ["POST", "PUT"]


def adapter_params(sandbox, **options):
    params = dict((name, spec.get("default")) for name, spec in
                  list(connection_argument_spec("cloudflare").items())
                  + list(argument_spec().items()))
    params.update(connection(sandbox), **options)
    return params


def test_adapter_interface_for_the_rotation_role(sandbox):
    cloudflare = sandbox["cloudflare"]
    cloudflare.verify_propagation_failures = 1    # a new secret is refused once, code 10000
    first_id, first_secret = cloudflare.add_token("first", policies=[policy("Zone Read")])
    second_id, second_secret = cloudflare.add_token("second", policies=[policy("DNS Read")])
    cloudflare.add_tokens(60, prefix="filler")
    client = make_client(API["cloudflare"], adapter_params(sandbox))
    adapters = [CloudflareTokenAdapter(client, adapter_params(sandbox, name=name))
                for name in ("first", "second")]
    for adapter in adapters:
        adapter.validate()
        adapter.sleep = lambda seconds: None
    assert not adapters[0].overlaps          # the module rolls unless rotation: replace
    assert adapters[0].scope_key() == adapters[1].scope_key()
    account = CloudflareTokenAdapter(client, adapter_params(
        sandbox, name="first", account_id=cloudflare.account_id))
    assert account.scope_key() != adapters[0].scope_key()

    sandbox.log.clear()
    listing = adapters[0].list_scope()
    found = [adapter.find_in(listing) for adapter in adapters]
    assert [token["id"] for token in found] == [first_id, second_id]
    assert len(sandbox.log.select("cloudflare")) == 2, "one listing (two pages) serves both"

    for adapter, current, old_secret in zip(adapters, found, (first_secret, second_secret)):
        token, secret = adapter.issue_replacement(current)
        assert sandbox.secrets.is_live(old_secret) is adapter.overlaps
        assert token["id"] == current["id"] and sandbox.secrets.is_live(secret)
        assert adapter.check_secret(secret, token).ok  # after one "still propagating" answer
        adapter.retire(current)                        # in place: nothing left to revoke
        assert adapter.verify(old_secret) is False
        assert cloudflare.token(current["id"])["value"] == secret
    assert adapters[0].find()["id"] == first_id


def test_legacy_condition_key_and_policy_normalisation():
    """What the sandbox cannot send: the legacy ``request.ip`` key, policies in any shape."""
    legacy = {"request.ip": {"in": ["2001:db8::1", "192.0.2.9/24", "192.0.2.0/24"], "not_in": []}}
    assert normal_condition(legacy) == normal_condition(
        {"request_ip": {"in": ["192.0.2.0/24", "2001:db8::1/128"]}}) == {
        "request_ip": {"in": ["192.0.2.0/24", "2001:db8::1/128"]}}
    assert normal_condition({"request_ip": {"in": [], "not_in": []}}) is None
    served = [{"id": "p2", "effect": "deny", "resources": ZONES,
               "permission_groups": [{"id": "b", "name": "B"}]},
              {"id": "p1", "effect": "allow", "resources": ZONES,
               "permission_groups": [{"id": "c", "name": "C"}, {"id": "a", "name": "A"}]}]
    asked = [{"effect": "allow", "resources": ZONES, "permission_groups": [{"id": "a"}, {"id": "c"}]},
             {"effect": "deny", "resources": ZONES, "permission_groups": [{"id": "b"}]}]
    assert policies_equal(normal_policies(asked), normal_policies(served))
    assert not policies_equal(normal_policies(asked[:1]), normal_policies(served))
    flipped = [dict(asked[0], effect="deny"), asked[1]]
    assert not policies_equal(normal_policies(flipped), normal_policies(served))


# -- issue 13: an account-owned credential, as the real service answers it ------------------

def test_an_account_token_is_managed_with_an_account_owned_credential(sandbox, tmp_path):
    """/user/tokens/verify answers 401 code 1000 to a cfat_ credential; the module asks the
    account's verify path before calling the credential bad."""
    cloudflare = sandbox["cloudflare"]
    assert cloudflare.account_token_user_verify_status == 401     # the real answer is default
    account = cloudflare.account_id
    resources = {f"{ACCOUNT_SCOPE}.{account}": "*"}
    credential_id, credential = cloudflare.add_token(
        "automation", account_id=account,
        policies=[policy("Account API Tokens Write", resources=resources)])
    assert credential.startswith("cfat_")
    connection_args = {"api_url": cloudflare.url, "api_token": credential, "account_id": account}
    workers = [{"permission_groups": ["Workers Scripts Write"], "resources": resources}]

    def task(register, **args):
        return module_task("cloudflare_token", register, {**connection_args, **args})

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        task("created", name="workers-ci", policies=workers),
        task("rolled", name="workers-ci", policies=workers, rotate="always"),
        task("updated", name="workers-ci", policies=workers, status="disabled"),
        {"name": "info", "register": "info",
         "tokenops.tokens.cloudflare_token_info": {**connection_args,
                                                   "verify_credential": True}},
        task("deleted", name="workers-ci", state="absent"),
    ])
    created, rolled = run["created"], run["rolled"]
    assert created["changed"] and rolled["rotated"]
    assert rolled["token"]["id"] == created["token"]["id"]
    assert verify_status(cloudflare, created["secret"], account) == 401
    assert run["updated"]["changed"] and run["updated"]["token"]["status"] == "disabled"
    assert run["info"]["credential"]["id"] == credential_id
    assert run["info"]["credential"]["status"] == "active"
    assert run["deleted"]["changed"] and by_name(cloudflare, "workers-ci", account) == []
    assert not sandbox.secrets.is_live(rolled["secret"])
    assert verify_status(cloudflare, credential, account) == 200      # never touched
    user_verifies = [e.status for e in sandbox.log.select("cloudflare", "GET")
                     if e.path.endswith("/user/tokens/verify")]
    assert user_verifies and set(user_verifies) == {401}


def test_a_self_rotation_guard_recognises_an_account_owned_credential(sandbox, tmp_path):
    cloudflare = sandbox["cloudflare"]
    account = cloudflare.account_id
    resources = {f"{ACCOUNT_SCOPE}.{account}": "*"}
    _id, credential = cloudflare.add_token(
        "automation", account_id=account,
        policies=[policy("Account API Tokens Write", resources=resources)])
    run = run_playbook(tmp_path, [module_task("cloudflare_token", "self_roll", {
        "api_url": cloudflare.url, "api_token": credential, "account_id": account,
        "name": "automation", "rotate": "always"}, ignore_errors=True)])
    assert run["self_roll"]["failed"]
    assert "allow_self_rotation" in run["self_roll"]["msg"], run["self_roll"]["msg"]
    assert sandbox.secrets.is_live(credential)


def test_a_long_expired_token_is_not_listed_and_absent_by_name_says_to_use_token_id(
        sandbox, tmp_path):
    """include_expired lists only recently expired tokens: a lookup by name cannot see one that
    expired long ago; the module says so, and token_id reaches it."""
    cloudflare = sandbox["cloudflare"]
    old_id, _secret = cloudflare.add_token("ancient", issued_on=days_ago(400),
                                           expires_on=days_ago(300))
    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "by_name", name="ancient", state="absent"),
        token_task(sandbox, "by_id", token_id=old_id, state="absent"),
    ])
    assert not run["by_name"]["changed"] and cloudflare.token(old_id) is None
    assert run["by_id"]["changed"]
    assert "give its token_id" in " ".join(run.output.split())


def test_an_account_owned_credential_without_account_id_is_told_to_give_it(sandbox, tmp_path):
    """The user's token listing refuses a cfat_ credential: the managing and the info module say
    what to do instead of passing on a bare 403, and nothing is written."""
    cloudflare = sandbox["cloudflare"]
    resources = {f"{ACCOUNT_SCOPE}.{cloudflare.account_id}": "*"}
    _credential_id, credential = cloudflare.add_token(
        "automation", account_id=cloudflare.account_id,
        policies=[policy("Account API Tokens Write", resources=resources)])
    without_account = {"api_url": cloudflare.url, "api_token": credential}
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        module_task("cloudflare_token", "managed", dict(without_account, name="workers-ci"),
                    ignore_errors=True),
        module_task("cloudflare_token_info", "listed", without_account, ignore_errors=True),
    ])
    for name in ("managed", "listed"):
        assert run[name]["failed"]
        assert "account-owned token (cfat_...)" in run[name]["msg"], run[name]["msg"]
        assert "give account_id" in run[name]["msg"]
    assert {e.method for e in sandbox.log.select("cloudflare")} == {"GET"}


def test_info_verify_credential_asks_a_transient_10000_again(sandbox, tmp_path):
    """Cloudflare answers a working credential 403 "Authentication error (10000)" for a moment
    (mrrfv/cloudflare-gateway-pihole-scripts#43): verify_credential asks again and reports the
    credential as it is, instead of failing the task or calling a working credential refused."""
    cloudflare = sandbox["cloudflare"]
    cloudflare.transient_verify_errors = 1
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        info_task(sandbox, "info", verify_credential=True, max_verify_wait=5)])
    credential = run["info"]["credential"]
    assert (credential["id"], credential["status"]) == (cloudflare.admin_token_id, "active")
    answers = [e.status for e in sandbox.log.select("cloudflare", "GET")
               if e.path.endswith("/user/tokens/verify")]
    assert answers == [403, 200], "the transient answer was not asked again: %s" % answers
    assert cloudflare.transient_verify_errors == 0


def test_a_disabled_token_rolled_sends_no_check_its_new_secret_cannot_pass(sandbox, tmp_path):
    """After issuing, the module asks once whether its secret works (another run may have
    replaced it); a disabled token's new secret cannot pass, so it is not asked, and no refusal
    costs a listing more (the requests of a roll stay at their minimum: docs/benchmarks.md)."""
    cloudflare = sandbox["cloudflare"]
    token_id, _secret = cloudflare.add_token("parked", issued_on=days_ago(10), status="disabled")
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "rolled", name="parked", status="disabled", rotate="always")])
    assert run["rolled"]["rotated"] and run["rolled"]["token"]["id"] == token_id
    assert cloudflare.token(token_id)["value"] == run["rolled"]["secret"]
    paths = [(e.method, e.path.split("/client/v4")[-1]) for e in sandbox.log.select("cloudflare")]
    assert paths == [("GET", "/user/tokens"), ("GET", "/user/tokens/verify"),
                     ("PUT", "/user/tokens/%s/value" % token_id)]
