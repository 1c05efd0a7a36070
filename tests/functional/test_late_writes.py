"""A server that acts on a write after the client gave up waiting for its answer (issue 22).

The fault matrix's pulumi / issue / timeout cell failed now and then under load with two live
tokens after its clean run. Its "timeout" fault holds a create for longer than the client
waits and then makes it: the client gives up, the adapter lists at once, sees nothing yet,
issues again, and the first create lands afterwards: a second token that nobody holds the
secret of. Idle, the late token landed after the cell had counted; under load, before.

Here the same server is made deterministic: the create (or regenerate, or rekey) is held for
1.5 times the client's timeout and then made, and every request the server is still working
on is waited for (``Sandbox.wait_idle``) before anything is counted. Every platform that
issues is run: one live token of the identity must be left, and the consumer must hold its
working secret, after the run or, where the run said the write's outcome was unknown, after the
next one, which the rotation role's journal has finish it.
"""
import pytest

from tests.functional.harness import leaked, module_task, run_playbook
from tests.functional.test_fault_matrix import TARGETS, rotation
from tests.sandbox import Sandbox

#: the client waits this long for an answer; the server makes the write half as long again later
TIMEOUT = 1.0
LATE = dict(action="delay", delay=1.5 * TIMEOUT, times=1)
CONNECTION = {"timeout": TIMEOUT, "max_retry_wait": 0.5, "max_verify_wait": 2}


@pytest.mark.parametrize("target", TARGETS, ids=[t.platform for t in TARGETS])
def test_a_write_made_after_the_client_gave_up_leaves_one_working_token(tmp_path, target):
    with Sandbox() as sandbox:
        item = target.seed(sandbox)
        item = dict(item, params=dict(item["params"], **CONNECTION, **target.caller_params))
        sink = tmp_path / "consumer"
        sink.write_text(target.identity(sandbox)[0][1])
        sink.chmod(0o600)
        method, path = target.requests["issue"]
        late = sandbox.faults.add(platform=target.platform, method=method, path=path, **LATE)
        tokens = [dict(item, deliver=[{"type": "file", "path": str(sink)}])]
        run = rotation(tokens, tmp_path)
        assert late.hits == 1, "the write was never held: the test proves nothing"
        assert sandbox.wait_idle(), "the server is still at work"
        row = run["rows"][0]
        if row["action"] == "failed":
            # Honest about the lost answer (in place, the new secret was lost with it): the
            # journal kept the rotation open and the next run finishes it.
            row = rotation(tokens, tmp_path)["rows"][0]
            assert sandbox.wait_idle(), "the server is still at work"
        held = sink.read_text().strip()
        existing = target.identity(sandbox)
        assert len(existing) == 1, "%d tokens of this identity exist: %s (%s)" % (
            len(existing), [i for i, s in existing], row)
        assert sandbox.secrets.is_live(held), "the consumer holds a dead secret: %s" % row
        assert existing[0][1] == held, "the consumer does not hold the token's secret"


def test_the_module_after_a_create_made_late_leaves_one_token(sandbox, tmp_path):
    """pulumi_token creating a personal token whose create the server makes late: the module
    looks only once the server is done, finds the token it made, and says so (its secret is
    lost); no second token."""
    pulumi = sandbox["pulumi"]
    sandbox.faults.add(platform="pulumi", method="POST", path=r"^/api/user/tokens$", **LATE)
    run = run_playbook(tmp_path, [module_task(
        "pulumi_token", "created", {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                                    "description": "late", **CONNECTION},
        ignore_errors=True)])
    assert sandbox.wait_idle()
    described = [t for t in pulumi.tokens("personal") if t["description"] == "late"]
    assert len(described) == 1, "%d tokens have the description" % len(described)
    result = run["created"]
    assert result.get("failed") and described[0]["id"] in result["msg"], result
    assert leaked(sandbox, run.output) == []
