"""Zero-downtime rotation through the role (issue 15): at delivery time the previous secret
still works next to the new one; after the run only the new one works, one token of the identity
remains, and a re-run changes nothing. The sandbox is the oracle for which secrets work."""
import pathlib

from tests.functional.test_rotate_role import assert_no_leak, rotate
from tests.sandbox.core import days_ago

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
    assert row["action"] == "rotated" and row["overlaps"] and not row["in_place"], row
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
    assert row["previous_id"] == old_id
    assert not sandbox.secrets.is_live(old_secret) and tfe.token_by_id(old_id) is None
    live = {t["attributes"]["description"]: t["id"] for t in tfe.tokens(team)}
    assert live == {"ci--2": row["token_id"]}, "one live token of that identity remains"
    assert tfe.secret_of(row["token_id"]) == new
