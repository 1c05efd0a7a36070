"""The finish step revokes only what this run recorded; a journal entry that the platform does not
bear out is reported and not acted on (issue 23, item 1).

The engine runs in-process (the code the role runs) against the sandbox.
"""
import json

from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import utcnow
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_engine import (
    finish_step, issue_step,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_plan import (
    validate_items,
)

from tests.sandbox.core import days_ago


def pulumi_item(pulumi, description, deliver):
    return {"provider": "pulumi", "id": description,
            "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                       "description": description}, "max_age": "90d", "deliver": deliver}


def test_finish_revokes_only_what_the_issue_step_recorded(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("handed", created=days_ago(120))
    victim_id, victim_secret = pulumi.add_personal_token("victim", created=days_ago(1))
    tasks = tmp_path / "deliver.yml"
    tasks.write_text("- ansible.builtin.debug: {msg: delivered}\n")
    tokens = [pulumi_item(pulumi, "handed", [{"type": "file", "path": str(tmp_path / "sink")},
                                             {"type": "tasks", "file": str(tasks)}])]
    state, report = str(tmp_path / "state"), str(tmp_path / "report")
    issued = issue_step(tokens, state, fail_fast=False)
    assert [o["previous"]["id"] for o in issued["outcomes"]] == [old_id]
    # What reaches finish names another token as the one to revoke.
    outcomes = [dict(issued["outcomes"][0], previous={"id": victim_id})]
    finished = finish_step(tokens, state, report, issued["rows"], outcomes, [])
    row = finished["rows"][0]
    assert row["action"] == "failed"
    assert "does not match what this run recorded in the journal" in row["error"]
    assert "it names previous token %s, the journal %s" % (victim_id, old_id) in row["error"]
    assert pulumi.token_by_id(victim_id) and sandbox.secrets.is_live(victim_secret)
    assert sandbox.secrets.is_live(old_secret), "the recorded predecessor went without a finish"

    # The next run finishes the rotation from the journal alone: one token, a working sink.
    issued = issue_step([dict(tokens[0], deliver=tokens[0]["deliver"][:1])], state,
                        fail_fast=False)
    finish_step(tokens, state, report, issued["rows"], issued["outcomes"], [])
    live = [t for t in pulumi.tokens("personal") if t["description"] == "handed"]
    assert len(live) == 1 and sandbox.secrets.is_live((tmp_path / "sink").read_text())
    assert pulumi.token_by_id(victim_id) and sandbox.secrets.is_live(victim_secret)


def test_a_journal_entry_whose_successor_the_platform_does_not_list_is_not_acted_on(
        sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    current_id, current_secret = pulumi.add_personal_token("entry", created=days_ago(10))
    tokens = [pulumi_item(pulumi, "entry", [{"type": "file", "path": str(tmp_path / "sink")}])]
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    key = validate_items(tokens, utcnow())[0].journal_key
    # An entry that says a rotation delivered new token "gone" and only the previous (the
    # working token) is left to revoke; the platform lists no token "gone".
    (state / "journal.json").write_text(json.dumps({"version": 1, "rotated": {}, "entries": {
        key: {"label": "entry", "provider": "pulumi", "step": "delivered", "token_id": "gone",
              "previous_id": current_id, "delivered": ["file:%s" % (tmp_path / "sink")]}}}))
    issued = issue_step(tokens, str(state), fail_fast=False)
    finished = finish_step(tokens, str(state), str(tmp_path / "report"), issued["rows"],
                           issued["outcomes"], [])
    row = finished["rows"][0]
    assert row["action"] == "not due", row
    assert row["token_id"] == current_id
    assert any("the entry was not acted on" in note for note in row["notes"]), row["notes"]
    assert pulumi.token_by_id(current_id) and sandbox.secrets.is_live(current_secret)
    assert sandbox.log.writes() == []
    assert json.loads((state / "journal.json").read_text())["entries"] == {}
