"""Lost answers in a row never leave duplicates (issue 16).

A server that creates the token and then loses the answer, again and again: whatever the number
of lost answers in a row, the next successful run of the module, or of the role, leaves one live
token of that identity, and its secret works.
"""
import pytest

from tests.functional.harness import leaked, module_task, run_playbook
from tests.functional.test_rotate_role import assert_no_leak, file_sink, rotate
from tests.sandbox.core import days_ago

CREATE = r"^/api/user/tokens$"


def rotate_task(sandbox, register, description):
    pulumi = sandbox["pulumi"]
    return module_task("pulumi_token", register,
                       {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                        "description": description, "rotate": "always"},
                       ignore_errors=True)


def described(pulumi, description):
    return [t for t in pulumi.tokens("personal") if t["description"] == description]


@pytest.mark.parametrize("lost", [2, 3])
def test_the_module_after_lost_creates_in_a_row_leaves_one_token(sandbox, tmp_path, lost):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("lossy", created=days_ago(10))
    fault = sandbox.faults.add("lost_response", platform="pulumi", method="POST", path=CREATE,
                               times=lost)
    # Run after run, until a create's answer arrives; each failed run leaves only the
    # previous token, whose secret still works.
    failed_runs = 0
    while True:
        run = run_playbook(tmp_path / ("run%d" % failed_runs),
                           [rotate_task(sandbox, "rotated", "lossy")])
        assert leaked(sandbox, run.output) == []
        if not run["rotated"].get("failed"):
            break
        failed_runs += 1
        assert failed_runs <= lost, run.output
        assert [t["id"] for t in described(pulumi, "lossy")] == [old_id], run.output
        assert sandbox.secrets.is_live(old_secret)
    assert fault.hits == lost
    live = described(pulumi, "lossy")
    assert len(live) == 1, "%d tokens have the description" % len(live)
    assert live[0]["id"] == run["rotated"]["token"]["id"]
    assert sandbox.secrets.is_live(run["rotated"]["secret"])
    assert not sandbox.secrets.is_live(old_secret)
    # And the run after that finds one token, not two.
    again = run_playbook(tmp_path / "again", [rotate_task(sandbox, "again", "lossy")])
    assert not again["again"].get("failed"), again.output
    assert len(described(pulumi, "lossy")) == 1


def test_the_role_after_three_lost_creates_in_a_row_leaves_one_token(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("lossy-role", created=days_ago(120))
    sink = tmp_path / "sink"
    sink.write_text(old_secret)
    tokens = [{"provider": "pulumi", "id": "lossy-role",
               "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                          "description": "lossy-role"},
               "max_age": "90d", "deliver": [file_sink(sink)]}]
    sandbox.faults.add("lost_response", platform="pulumi", method="POST", path=CREATE, times=3)
    first = rotate(tmp_path, tokens, name="lost")
    assert first.rc != 0
    assert sink.read_text() == old_secret and sandbox.secrets.is_live(old_secret)
    runs = [first]
    while True:
        run = rotate(tmp_path, tokens, name="run%d" % len(runs))
        runs.append(run)
        if run.rc == 0:
            break
        assert len(runs) <= 3, run.output
    live = described(pulumi, "lossy-role")
    assert len(live) == 1, "%d tokens have the description" % len(live)
    assert sink.read_text() == pulumi.secret_of(live[0]["id"])
    assert sandbox.secrets.is_live(sink.read_text()) and not sandbox.secrets.is_live(old_secret)
    later = rotate(tmp_path, tokens, name="later")
    assert later.rc == 0 and later.rows()["lossy-role"]["action"] == "not due"
    assert later.journal["entries"] == {}
    for run in runs + [later]:
        assert_no_leak(sandbox, run)
