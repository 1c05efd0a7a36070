"""Zero-downtime rotation through the role (issue 15): at delivery time the previous secret
still works next to the new one; after the run only the new one works, one token of the identity
remains, and a re-run changes nothing. The sandbox is the oracle for which secrets work."""
import pathlib
from datetime import datetime, timedelta, timezone

from tests.functional.harness import leaked, module_task, run_playbook
from tests.functional.test_rotate_role import assert_no_leak, rotate
from tests.sandbox.cloudflare import ACCOUNT_SCOPE, policy
from tests.sandbox.core import days_ago

from ansible_collections.tokenops.tokens.plugins.module_utils._cloudflare_power import (
    normal_policies, policies_equal,
)

#: the user's task file: both secrets answer 200 on the platform while the consumer is updated
BOTH_WORK = """\
- name: The previous secret still works while the new one is delivered
  ansible.builtin.uri:
    url: "{url}"
    headers:
      Authorization: "{scheme} {{{{ lookup('ansible.builtin.file', '{old_file}') }}}}"
    status_code: 200
- name: The new secret works too
  ansible.builtin.uri:
    url: "{url}"
    headers:
      Authorization: "{scheme} {{{{ rotate_secret }}}}"
    status_code: 200
- name: Deliver to the consumer
  ansible.builtin.copy:
    content: "{{{{ rotate_secret }}}}"
    dest: "{consumer}"
    mode: "0600"
"""


def overlap_item(tmp_path, label, provider, params, old_secret, url, scheme="Bearer"):
    """A role item whose task-file sink checks both secrets; ``(item, consumer file)``."""
    old_file, consumer = tmp_path / ("%s.old" % label), tmp_path / ("%s.consumer" % label)
    old_file.write_text(old_secret)
    old_file.chmod(0o600)
    tasks = tmp_path / ("%s-deliver.yml" % label)
    tasks.write_text(BOTH_WORK.format(url=url, scheme=scheme, old_file=old_file,
                                      consumer=consumer))
    item = {"provider": provider, "id": label, "params": params, "max_age": "90d",
            "deliver": [{"type": "tasks", "file": str(tasks)}]}
    return item, consumer


def rotate_with_overlap(sandbox, tmp_path, item, consumer, old_secret):
    """Run, check the overlap held and only the new secret works after, re-run unchanged."""
    run = rotate(tmp_path, [item], name="apply")
    assert run.rc == 0, run.output
    row = run.rows()[item["id"]]
    assert row["action"] == "rotated" and not row["in_place"], row
    assert not any("replaced in place" in note for note in row["notes"]), row
    new = pathlib.Path(consumer).read_text()
    assert new != old_secret and sandbox.secrets.is_live(new)
    assert_no_leak(sandbox, run)
    sandbox.log.clear()
    rerun = rotate(tmp_path, [item], name="rerun")
    assert rerun.rc == 0, rerun.output
    assert set(sandbox.log.methods()) == {"GET"}, sandbox.log.writes()
    assert rerun.rows()[item["id"]]["action"] == "not due"
    return row, new


def test_tfe_described_token_overlaps_its_delivery(sandbox, tmp_path):
    tfe = sandbox["tfe"]
    team = tfe.add_team("overlap")
    old_id, old_secret = tfe.add_token(team, "ci", created_at=days_ago(120))
    item, consumer = overlap_item(
        tmp_path, "tfe-described", "tfe",
        {"api_url": tfe.url, "api_token": tfe.admin_token, "organization": tfe.organization,
         "team": "overlap", "description": "ci"},
        old_secret, tfe.url + "/api/v2/account/details")
    row, new = rotate_with_overlap(sandbox, tmp_path, item, consumer, old_secret)
    assert row["overlaps"] and row["previous_id"] == old_id
    assert not sandbox.secrets.is_live(old_secret) and tfe.token_by_id(old_id) is None
    live = {t["attributes"]["description"]: t["id"] for t in tfe.tokens(team)}
    assert live == {"ci--2": row["token_id"]}, "one live token of that identity remains"
    assert tfe.secret_of(row["token_id"]) == new


def test_cloudflare_user_and_account_tokens_are_replaced_with_overlap(sandbox, tmp_path):
    cloudflare = sandbox["cloudflare"]
    account = cloudflare.account_id
    resources = {f"{ACCOUNT_SCOPE}.{account}": "*"}
    user_id, user_secret = cloudflare.add_token(
        "ci-user", policies=[policy("Zone Read")], issued_on=days_ago(120),
        expires_on=days_ago(-200),
        condition={"request_ip": {"in": ["127.0.0.0/8"], "not_in": ["192.0.2.0/24"]}})
    account_id, account_secret = cloudflare.add_token(
        "ci-account", account_id=account, issued_on=days_ago(120),
        policies=[policy("Account API Tokens Write", resources=resources)])
    before = {user_id: cloudflare.token(user_id), account_id: cloudflare.token(account_id)}
    for label, name, old_id, old_secret, scope in (
            ("cf-user", "ci-user", user_id, user_secret, {}),
            ("cf-account", "ci-account", account_id, account_secret, {"account_id": account})):
        verify = cloudflare.url + ("/accounts/%s/tokens/verify" % account if scope
                                   else "/user/tokens/verify")
        (tmp_path / label).mkdir()
        item, consumer = overlap_item(
            tmp_path / label, label, "cloudflare",
            {"api_url": cloudflare.url, "api_token": cloudflare.admin_token, "name": name,
             **scope}, old_secret, verify)
        row, new = rotate_with_overlap(sandbox, tmp_path / label, item, consumer, old_secret)
        assert row["overlaps"] and row["previous_id"] == old_id and row["token_id"] != old_id
        assert not sandbox.secrets.is_live(old_secret) and cloudflare.token(old_id) is None
        same_name = [t for t in cloudflare.tokens(scope.get("account_id")) if t["name"] == name]
        assert [t["id"] for t in same_name] == [row["token_id"]], "one live token remains"
        successor = cloudflare.token(row["token_id"])
        assert successor["value"] == new
        for key in ("name", "status", "condition", "expires_on", "not_before"):
            assert successor.get(key) == before[old_id].get(key), key
        assert policies_equal(normal_policies(successor["policies"]),
                              normal_policies(before[old_id]["policies"]))


def test_cloudflare_replace_in_the_module_and_no_self_deletion(sandbox, tmp_path):
    cloudflare = sandbox["cloudflare"]
    old_id, old_secret = cloudflare.add_token("replace-me", policies=[policy("Zone Read")])
    sandbox.log.clear()
    run = run_playbook(tmp_path, [
        module_task("cloudflare_token", "replaced", {
            "api_url": cloudflare.url, "api_token": cloudflare.admin_token, "name": "replace-me",
            "rotation": "replace", "rotate": "always"}),
        module_task("cloudflare_token", "again", {
            "api_url": cloudflare.url, "api_token": cloudflare.admin_token, "name": "replace-me",
            "rotation": "replace"}),
        module_task("cloudflare_token", "self_delete", {
            "api_url": cloudflare.url, "api_token": cloudflare.admin_token,
            "name": "Sandbox admin", "state": "absent"}, ignore_errors=True),
    ])
    replaced = run["replaced"]
    assert replaced["changed"] and replaced["rotated"] and replaced["previous_id"] == old_id
    assert replaced["token"]["id"] != old_id and sandbox.secrets.is_live(replaced["secret"])
    assert not sandbox.secrets.is_live(old_secret) and cloudflare.token(old_id) is None
    assert not run["again"]["changed"] and run["again"]["token"]["id"] == replaced["token"]["id"]
    # Created first, deleted after: the previous secret worked until the successor existed.
    assert [e.method for e in sandbox.log.writes("cloudflare")] == ["POST", "DELETE"]
    assert run["self_delete"]["failed"] and run["self_delete"]["msg"].startswith("state:")
    assert "allow_self_rotation" in run["self_delete"]["msg"]
    assert sandbox.secrets.is_live(cloudflare.admin_token)
    assert leaked(sandbox, run.output) == []


def test_a_failure_after_a_write_says_changed_and_what_was_changed(sandbox, tmp_path):
    """Honest results: the expiry PUT happened, then the roll was refused: changed is true
    and the message names the write."""
    cloudflare = sandbox["cloudflare"]
    token_id, secret = cloudflare.add_token("half-done", policies=[policy("Zone Read")],
                                            expires_on=days_ago(-10))
    sandbox.faults.add("status", platform="cloudflare", method="PUT", status=400,
                       path=r"/user/tokens/%s/value$" % token_id, times=None)
    run = run_playbook(tmp_path, [module_task("cloudflare_token", "rolled", {
        "api_url": cloudflare.url, "api_token": cloudflare.admin_token, "name": "half-done",
        "rotate": "always", "expires_in": "30d"}, ignore_errors=True)])
    rolled = run["rolled"]
    assert rolled["failed"] and rolled["changed"], rolled
    assert "Changed on the platform before this failure: changed (PUT " in rolled["msg"]
    assert token_id in rolled["msg"].split("before this failure")[1]
    assert sandbox.secrets.is_live(secret)
    assert leaked(sandbox, run.output) == []


def test_cloudtruth_keeps_the_previous_key_through_delivery_then_it_ends(sandbox, tmp_path):
    cloudtruth = sandbox["cloudtruth"]
    account_id, old_secret = cloudtruth.add_service_account("overlap-ct",
                                                            created_at=days_ago(120))
    item, consumer = overlap_item(
        tmp_path, "ct-window", "cloudtruth",
        {"api_url": cloudtruth.url, "api_token": cloudtruth.admin_token, "name": "overlap-ct",
         "keep_previous_for": "5m"},
        old_secret, cloudtruth.url + "/api/v1/users/current/", scheme="Api-Key")
    row, new = rotate_with_overlap(sandbox, tmp_path, item, consumer, old_secret)
    assert "works until" in " ".join(row["notes"]), row
    ends = sandbox.secrets.get(old_secret).revoked_at
    assert ends is not None and ends - datetime.now(timezone.utc) <= timedelta(minutes=5)
    # After the window (the sandbox's clock moved past it), only the new key works.
    later = ends + timedelta(seconds=1)
    assert not sandbox.secrets.get(old_secret).is_live(now=later)
    assert sandbox.secrets.get(new).is_live(now=later)
