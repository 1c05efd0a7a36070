"""pactflow_token and pactflow_token_info through real ansible-playbook against the sandbox (issue 5),
and the PactFlow adapter as the rotation role drives it."""
import pytest
import requests

from tests.functional.harness import clean_playbook, leaked, module_task, run_playbook
from tests.sandbox import Sandbox

from ansible_collections.tokenops.tokens.plugins.module_utils._client import TokenOpsError
from ansible_collections.tokenops.tokens.plugins.module_utils._module import make_client
from ansible_collections.tokenops.tokens.plugins.module_utils._pactflow import (
    PactFlowTokenAdapter, select, token_type,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import InputError

RO, RW = "read-only", "read-write"


@pytest.fixture(scope="module")
def running_sandbox():
    """One sandbox for the file (starting one costs about a second); each test resets PactFlow."""
    with Sandbox() as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox):
    running_sandbox["pactflow"].reset()
    running_sandbox.faults.clear()
    running_sandbox.log.clear()
    return running_sandbox


def connection(sandbox, api_token=None):
    pf = sandbox["pactflow"]
    return {"api_url": pf.url, "api_token": api_token or pf.admin_token}


def token_task(sandbox, register, check_mode=None, api_token=None, ignore_errors=None, **args):
    return module_task("pactflow_token", register, {**connection(sandbox, api_token), **args},
                       check_mode, ignore_errors)


def info_task(sandbox, register, api_token=None, ignore_errors=None, **args):
    task = {"name": register,
            "tokenops.tokens.pactflow_token_info": {**connection(sandbox, api_token), **args},
            "register": register}
    if ignore_errors:
        task["ignore_errors"] = True
    return task


def value(pf, kind, principal=None):
    return pf.token_by_type(kind, principal)["value"]


def accepted(pf, secret):
    """The HTTP status PactFlow gives ``secret`` on the token list."""
    return requests.get(pf.url + "/settings/tokens", timeout=10,
                        headers={"Authorization": "Bearer " + secret}).status_code


def pactflow_requests(sandbox):
    return [(e.method, e.path) for e in sandbox.log.select("pactflow")]


# ------------------------------------------------------------------------------------------------
def test_import_both_tokens_hidden_at_vvvv_and_rerun_unchanged(sandbox, tmp_path):
    pf = sandbox["pactflow"]
    ro_before, rw_before = pf.token_by_type(RO), pf.token_by_type(RW)

    run = clean_playbook(sandbox, tmp_path / "check", [
        token_task(sandbox, "ro_check", check_mode=True, type=RO),
        token_task(sandbox, "rw_check", check_mode=True, type=RW),
    ], verbosity=4, diff=True)
    for name, token in (("ro_check", ro_before), ("rw_check", rw_before)):
        assert not run[name]["changed"] and not run[name]["rotated"]
        assert run[name]["token"]["id"] == token["uuid"]
    assert set(sandbox.log.methods("pactflow")) == {"GET"}

    sandbox.log.clear()
    ro_credential = ro_before["value"]
    run = clean_playbook(sandbox, tmp_path / "apply", [
        token_task(sandbox, "ro", type=RO),
        token_task(sandbox, "rw", api_token=ro_credential, type=RW),
        token_task(sandbox, "ro_again", type=RO),
        token_task(sandbox, "rw_again", api_token=ro_credential, type=RW),
        token_task(sandbox, "rw_itself", type=RW),
        info_task(sandbox, "listed"),
        info_task(sandbox, "with_values", include_values=True),
        info_task(sandbox, "only_rw", api_token=ro_credential, type=RW, include_values=True),
    ], verbosity=4, diff=True)
    # Hidden at -vvvv (checked by playbook()), yet register receives the values.
    for kind, token in ((RO, ro_before), (RW, rw_before)):
        short = "ro" if kind == RO else "rw"
        for name in (short, short + "_again"):
            result = run[name]
            assert not result["changed"] and not result["rotated"], name
            assert result["secret"] == token["value"], name
            assert result["token"] == {"id": token["uuid"], "type": kind,
                                       "description": token["description"],
                                       "created_at": None, "expires_at": None}
    # The credential's own value would come back masked by Ansible: it is not returned at all.
    assert not run["rw_itself"]["changed"] and "secret" not in run["rw_itself"]
    assert "censored" in run.stdout
    assert [(t["type"], t["id"]) for t in run["listed"]["tokens"]] == [
        (RO, ro_before["uuid"]), (RW, rw_before["uuid"])]
    assert all("secret" not in t for t in run["listed"]["tokens"])
    assert [t.get("secret") for t in run["with_values"]["tokens"]] == [ro_before["value"], None]
    assert [(t["type"], t["secret"]) for t in run["only_rw"]["tokens"]] == [
        (RW, rw_before["value"])]
    # One GET per module run: nothing else, nothing written.
    assert pactflow_requests(sandbox) == [("GET", "/settings/tokens")] * 8
    assert pf.token_by_type(RO)["value"] == ro_before["value"]
    assert pf.token_by_type(RW)["value"] == rw_before["value"]


def test_rotate_read_only_with_read_write_credential(sandbox, tmp_path):
    pf = sandbox["pactflow"]
    ro_token = pf.token_by_type(RO)
    old = ro_token["value"]

    run = clean_playbook(sandbox, tmp_path / "check", [
        token_task(sandbox, "predicted", check_mode=True, type=RO, rotate="always"),
    ], diff=True)
    predicted = run["predicted"]
    assert predicted["changed"] and predicted["rotated"] and "secret" not in predicted
    assert sandbox.log.writes("pactflow") == [], "check mode regenerated something"
    assert pf.token_by_type(RO)["value"] == old and accepted(pf, old) == 200

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "apply", [
        token_task(sandbox, "rotated", type=RO, rotate="always"),
        token_task(sandbox, "after", type=RO),
    ], diff=True)
    rotated = run["rotated"]
    assert rotated["changed"] and rotated["rotated"]
    assert rotated["previous_id"] == rotated["token"]["id"] == ro_token["uuid"]
    assert rotated["rotation_reason"] == "rotate is always"
    new = rotated["secret"]
    assert new != old and new == pf.token_by_type(RO)["value"]
    assert accepted(pf, old) == 401, "the old read-only value still works"
    assert accepted(pf, new) == 200, "the new read-only value is rejected"
    assert accepted(pf, pf.admin_token) == 200, "the read-write credential was touched"
    assert not run["after"]["changed"] and run["after"]["secret"] == new
    assert [e.method for e in sandbox.log.writes("pactflow")] == ["POST"]


def test_self_rotation_refused_unless_allowed_then_later_task_uses_new_secret(sandbox, tmp_path):
    pf = sandbox["pactflow"]
    credential = pf.admin_token
    rw_id = pf.token_by_type(RW)["uuid"]

    run = clean_playbook(sandbox, tmp_path / "check", [
        token_task(sandbox, "refused_check", check_mode=True, type=RW, rotate="always",
                   ignore_errors=True),
        token_task(sandbox, "allowed_check", check_mode=True, type=RW, rotate="always",
                   allow_self_rotation=True),
    ])
    assert run["refused_check"]["failed"]
    assert run["allowed_check"]["changed"] and run["allowed_check"]["rotated"]
    assert sandbox.log.writes("pactflow") == [] and accepted(pf, credential) == 200

    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path / "apply", [
        token_task(sandbox, "refused", type=RW, rotate="always", ignore_errors=True),
        token_task(sandbox, "self_rotated", type=RW, rotate="always", allow_self_rotation=True),
        info_task(sandbox, "with_new_secret", api_token="{{ self_rotated.secret }}",
                  include_values=True),
        token_task(sandbox, "ro_with_new_secret", api_token="{{ self_rotated.secret }}",
                   type=RO, rotate="always"),
        info_task(sandbox, "with_old_credential", ignore_errors=True),
    ])
    refused = run["refused"]
    assert refused["failed"] and refused["msg"].startswith("rotate:")
    assert "allow_self_rotation" in refused["msg"] and rw_id in refused["msg"]
    rotated = run["self_rotated"]
    assert rotated["changed"] and rotated["rotated"] and rotated["token"]["id"] == rw_id
    new = rotated["secret"]
    assert "stop working" in run.output, "no warning that the credential no longer works"
    # A later task of the same play authenticates with the returned secret.
    assert [t["type"] for t in run["with_new_secret"]["tokens"]] == [RO, RW]
    assert run["ro_with_new_secret"]["rotated"]
    assert run["with_old_credential"]["failed"] and run["with_old_credential"]["status"] == 401
    assert accepted(pf, credential) == 401 and accepted(pf, new) == 200
    writes = [e.path for e in sandbox.log.writes("pactflow")]
    assert writes == ["/settings/tokens/%s/regenerate" % rw_id,
                      "/settings/tokens/%s/regenerate" % pf.token_by_type(RO)["uuid"]]


def test_wrong_credential_and_bad_input(sandbox, tmp_path):
    pf = sandbox["pactflow"]
    revoked = value(pf, RO)
    pf.regenerate(pf.token_by_type(RO)["uuid"])          # a credential that used to work
    sandbox.log.clear()
    run = run_playbook(tmp_path / "wrong", [
        token_task(sandbox, "revoked", api_token=revoked, type=RO, ignore_errors=True),
        token_task(sandbox, "garbage", api_token="not-a-pactflow-token", type=RW,
                   ignore_errors=True),
        info_task(sandbox, "info_revoked", api_token=revoked, ignore_errors=True),
    ], verbosity=4)
    assert leaked(sandbox, run.output, extra=["not-a-pactflow-token"]) == []
    for name in ("revoked", "garbage", "info_revoked"):
        result = run[name]
        assert result["failed"] and result["status"] == 401, name
        assert "HTTP 401" in result["msg"] and "api_token" in result["msg"], name
        assert revoked not in result["msg"] and "not-a-pactflow-token" not in result["msg"]
    assert sandbox.log.writes("pactflow") == []

    sandbox.log.clear()
    no_url = {"tokenops.tokens.pactflow_token": {"api_token": pf.admin_token, "type": RO},
              "name": "no_url", "register": "no_url", "ignore_errors": True}
    run = run_playbook(tmp_path / "bad-input", [
        no_url,
        token_task(sandbox, "due", type=RO, rotate="due", ignore_errors=True),
        token_task(sandbox, "due_max_age", type=RO, rotate="due", max_age="30d",
                   ignore_errors=True),
        token_task(sandbox, "absent", type=RO, state="absent", ignore_errors=True),
        token_task(sandbox, "no_type", ignore_errors=True),
    ])
    assert leaked(sandbox, run.output) == []
    assert run["no_url"]["msg"].startswith("api_url:")
    for name in ("due", "due_max_age"):
        assert run[name]["msg"].startswith('rotate: "due" is not possible on PactFlow'), name
        assert "creation date" in run[name]["msg"]
    assert run["absent"]["msg"].startswith("state: absent is not possible")
    assert "cannot delete" in run["absent"]["msg"]
    assert "type" in run["no_type"]["msg"]
    assert sandbox.log.select("pactflow") == [], "bad input must fail before any request"


def test_refusals_read_only_credential_and_unrecognised_lists(sandbox, tmp_path):
    pf = sandbox["pactflow"]
    viewer = pf.add_user("Victor Viewer", role="viewer")
    pf.extra_item = True              # every list also holds an unrecognised third token
    ro_credential = value(pf, RO)
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "rw_by_ro", api_token=ro_credential, type=RW, rotate="always",
                   ignore_errors=True),
        token_task(sandbox, "viewer_rw", api_token=value(pf, RO, viewer), type=RW,
                   ignore_errors=True),
        token_task(sandbox, "ro_self", api_token=ro_credential, type=RO, rotate="always",
                   ignore_errors=True),
        token_task(sandbox, "ro_self_allowed", api_token=ro_credential, type=RO,
                   rotate="always", allow_self_rotation=True, ignore_errors=True),
        token_task(sandbox, "rw_with_extra", type=RW),
        info_task(sandbox, "listed"),
    ])
    assert run["rw_by_ro"]["msg"].startswith("api_token: is the read-only token")
    viewer_rw = run["viewer_rw"]
    assert viewer_rw["failed"] and viewer_rw["msg"].startswith("type:")
    assert "Named token (release pipeline)" in viewer_rw["msg"], "should show what was listed"
    assert "Read/write token (CI)" in viewer_rw["msg"]
    # a read-only token regenerates nothing, not even itself (every non-GET call is refused)
    for step in ("ro_self", "ro_self_allowed"):
        assert run[step]["msg"].startswith("api_token: is the read-only token")
        assert "not even itself" in run[step]["msg"]
    assert sandbox.secrets.is_live(ro_credential)
    assert run["rw_with_extra"]["token"]["id"] == pf.token_by_type(RW)["uuid"]
    assert not run["rw_with_extra"]["changed"]
    assert "recognise" in run.output, "no warning about the unrecognised token"
    assert sorted(str(t["type"]) for t in run["listed"]["tokens"]) == ["None", RO, RW]
    assert sandbox.log.writes("pactflow") == []


def test_robust_recognition_and_lists_without_values(sandbox, tmp_path):
    pf = sandbox["pactflow"]
    pf.token_id_style = "short"           # 22-character opaque ids instead of uuids
    user = pf.add_user("Sam Short")
    credential = value(pf, RW, user)
    pf.reverse_items, pf.extra_fields, pf.include_values = True, True, False
    ro_before = pf.token_by_type(RO, user)
    sandbox.log.clear()
    run = clean_playbook(sandbox, tmp_path, [
        token_task(sandbox, "ro", api_token=credential, type=RO),
        token_task(sandbox, "rotate_refused", api_token=credential, type=RO, rotate="always",
                   ignore_errors=True),
        token_task(sandbox, "rotated", api_token=credential, type=RO, rotate="always",
                   allow_self_rotation=True),
        info_task(sandbox, "listed", api_token=credential, include_values=True),
    ])
    assert run["ro"]["token"]["id"] == ro_before["uuid"] and not run["ro"]["changed"]
    assert "secret" not in run["ro"], "no value was listed, so none can be returned"
    assert "did not return the value" in run.output
    assert "cannot tell" in run["rotate_refused"]["msg"]
    rotated = run["rotated"]
    assert rotated["rotated"] and rotated["secret"] == value(pf, RO, user)
    assert not pf.secrets.is_live(ro_before["value"])
    assert accepted(pf, credential) == 200, "the read-write token was touched"
    assert [t["type"] for t in run["listed"]["tokens"]] == [RW, RO]
    assert all("secret" not in t and "createdAt" not in t for t in run["listed"]["tokens"])
    assert [e.method for e in sandbox.log.writes("pactflow")] == ["POST"]


def test_regenerate_without_a_clear_answer_looks_before_trying_again(sandbox, tmp_path):
    pf = sandbox["pactflow"]
    sandbox.faults.add("lost_response", platform="pactflow", method="POST")
    run = clean_playbook(sandbox, tmp_path / "lost", [
        token_task(sandbox, "recovered", type=RO, rotate="always"),
    ])
    assert run["recovered"]["rotated"] and run["recovered"]["secret"] == value(pf, RO)
    assert len(sandbox.log.writes("pactflow")) == 1, "the regenerate that happened was repeated"

    sandbox.log.clear()
    sandbox.faults.add("status", platform="pactflow", method="POST", status=502)
    before = value(pf, RO)
    run = clean_playbook(sandbox, tmp_path / "failed", [
        token_task(sandbox, "retried", type=RO, rotate="always"),
    ])
    assert run["retried"]["secret"] == value(pf, RO) != before
    assert pf.secrets.is_live(run["retried"]["secret"])
    methods = sandbox.log.methods("pactflow")
    # look first, then regenerate once more; the new secret is asked once whether it works
    assert methods == ["GET", "POST", "GET", "POST", "GET"], "look first, then regenerate once more"


# ------------------------------------------------------------------------------------------------
def adapter_params(pf, token_type_, **extra):
    params = {"api_url": pf.url, "api_token": pf.admin_token, "validate_certs": True,
              "timeout": 10, "max_retry_wait": 0, "type": token_type_, "state": "present",
              "rotate": "always", "max_age": None, "renew_before": None,
              "allow_self_rotation": False}
    params.update(extra)
    return params


def test_adapter_interface_for_the_rotation_role(sandbox):
    pf = sandbox["pactflow"]
    client = make_client(API["pactflow"], adapter_params(pf, RO))
    read_only = PactFlowTokenAdapter(client, adapter_params(pf, RO))
    read_write = PactFlowTokenAdapter(client, adapter_params(pf, RW))
    assert read_only.scope_key() == read_write.scope_key()
    listing = read_only.list_scope()
    assert read_only.find_in(listing)["id"] == pf.token_by_type(RO)["uuid"]
    current_rw = read_write.find_in(listing)
    assert current_rw["id"] == pf.token_by_type(RW)["uuid"]
    assert len(sandbox.log.select("pactflow")) == 1, "one listing serves both tokens"

    current = read_only.find_in(listing)
    old = value(pf, RO)
    token, new = read_only.issue_replacement(current)
    assert token["id"] == current["id"] and new == value(pf, RO)
    assert read_only.overlaps is False, "PactFlow regenerates in place"
    assert sandbox.secrets.is_live(old) == read_only.overlaps
    read_only.retire(current)
    assert read_only.verify(new) is True
    assert read_only.verify(old) is False

    writes = len(sandbox.log.writes("pactflow"))
    with pytest.raises(InputError, match="allow_self_rotation"):
        read_write.issue_replacement(current_rw)
    assert len(sandbox.log.writes("pactflow")) == writes, "the guard must act before sending"

    self_rotating = PactFlowTokenAdapter(client, adapter_params(pf, RW, allow_self_rotation=True))
    old_rw = pf.admin_token
    rw_token, new_rw = self_rotating.issue_replacement(self_rotating.find_in(listing))
    assert rw_token["id"] == current_rw["id"] and not sandbox.secrets.is_live(old_rw)
    # The client carries on with the new credential, as the rotation of the other token needs.
    assert read_only.find_in(read_only.list_scope())["id"] == current["id"]
    assert self_rotating.verify(new_rw) and not self_rotating.verify(old_rw)

    with pytest.raises(InputError, match="rotate: \"due\""):
        PactFlowTokenAdapter(client, adapter_params(pf, RO, rotate="due", max_age="1d"))


def test_type_recognition_never_guesses():
    assert token_type({"description": "Read only token (developer)"}) == RO
    assert token_type({"description": "Read/write token (CI)"}) == RW
    assert token_type({"description": "  READ-ONLY token"}) == RO
    assert token_type({"description": "read and write token"}) == RW
    for unknown in ("Named token (release pipeline)", "Write only", "", None, 3):
        assert token_type({"description": unknown}) is None
    assert token_type({}) is None and token_type("Read only") is None

    twins = [{"uuid": "a", "description": "Read only token (developer)"},
             {"uuid": "b", "description": "Read-only token"}]
    with pytest.raises(TokenOpsError, match=r"2 tokens .*\(ids a, b\)"):
        select(twins, RO)
    strangers = [{"uuid": "c", "description": "Deploy token"}]
    with pytest.raises(TokenOpsError, match="'Deploy token' \\(id c\\)"):
        select(strangers, RW)
    with pytest.raises(TokenOpsError, match="no tokens"):
        select([], RO)
