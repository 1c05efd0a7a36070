"""Hostile input: every case fails before any request, with a message that starts with the
name of the option at fault (issues 2 and 9). One playbook per module keeps it fast; the
sandbox's request log must stay empty for all of them."""
import re

import pytest

from tests.functional.harness import leaked, run_playbook

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core

LONG = "x" * 5000

# module -> [(option named first in the message, arguments)]; connection options are added.
CASES = {
    "pulumi_token": [
        ("max_age", {"description": "x", "rotate": "due", "max_age": "ninety days"}),
        ("renew_before", {"description": "x", "rotate": "due", "renew_before": "-5d"}),
        ("expires_in", {"description": "x", "expires_in": "12 parsecs"}),
        ("expires_in", {"description": "x", "expires_in": "3y"}),
        ("expires_at", {"description": "x", "expires_at": "2026-13-45T99:00:00Z"}),
        ("expires_at", {"description": "x", "expires_at": "2001-01-01T00:00:00Z"}),
        ("api_url", {"description": "x", "api_url": "ftp://127.0.0.1/"}),
        ("api_url", {"description": "x", "api_url": "file:///etc/passwd"}),
        ("api_url", {"description": "x", "api_url": "http://alice:hunter2@127.0.0.1:1/"}),
        ("api_url", {"description": "x", "api_url": "http://127.0.0.1:1/?token=abc"}),
        ("api_url", {"description": "x", "api_url": "javascript:alert(1)"}),
        ("api_token", {"description": "x", "api_token": "two words"}),
        ("api_token", {"description": "x", "api_token": "line\nbreak"}),
        ("timeout", {"description": "x", "timeout": 0}),
        ("timeout", {"description": "x", "timeout": -3}),
        ("max_retry_wait", {"description": "x", "max_retry_wait": -1}),
        ("max_body_mib", {"description": "x", "max_body_mib": 0}),
        ("api_token", {"description": "x", "api_token": "zero\u200bwidth"}),
        ("api_token", {"description": "x", "api_token": "bell\u0007"}),
        ("rotate", {"description": "x", "rotate": "sometimes"}),
        ("state", {"description": "x", "state": "gone"}),
        ("kind", {"description": "x", "kind": "robot"}),
        ("name", {"kind": "organization", "organization": "tokenops", "name": "bad name!"}),
        ("name", {"kind": "organization", "organization": "tokenops", "name": LONG}),
        ("name", {"kind": "team", "organization": "tokenops", "team": "t", "name": "ci--2"}),
        ("organization", {"kind": "organization", "name": "ci"}),
        ("team", {"kind": "team", "organization": "tokenops", "name": "ci"}),
        ("admin", {"kind": "team", "organization": "tokenops", "team": "t", "name": "ci",
                   "admin": True}),
        ("description", {}),
        ("rotate", {"description": "x", "rotate": "due"}),
    ],
    "pactflow_token": [
        ("type", {"type": "admin"}),
        ("state", {"type": "read-only", "state": "absent"}),
        ("rotate", {"type": "read-only", "rotate": "due", "max_age": "30d"}),
        ("api_url", {"type": "read-only", "api_url": "gopher://127.0.0.1/"}),
        ("allow_self_rotation", {"type": "read-only", "allow_self_rotation": "perhaps"}),
    ],
    "tfe_team_token": [
        ("team", {"organization": "tokenops", "description": "x"}),
        ("description", {"organization": "tokenops", "team": "t", "description": "x",
                         "token_id": "at-123"}),
        ("expires_at", {"organization": "tokenops", "team": "t", "description": "x",
                        "expires_at": "yesterday"}),
        ("expires_in", {"organization": "tokenops", "team": "t", "description": "x",
                        "expires_in": "0"}),
        ("max_age", {"organization": "tokenops", "team": "t", "description": "x",
                     "rotate": "due", "max_age": "1 fortnight"}),
    ],
    "cloudtruth_service_account": [
        ("role", {"name": "bot", "role": "emperor"}),
        ("keep_previous_for", {"name": "bot", "rotate": "always", "keep_previous_for": "-1h"}),
        ("keep_previous_for", {"name": "bot", "rotate": "always", "keep_previous_for": "10s"}),
        ("name", {"role": "viewer"}),
        ("max_age", {"name": "bot", "rotate": "due", "max_age": "soon"}),
    ],
    "cloudflare_token": [
        ("condition", {"name": "t", "condition": {"request_ip": {"in": ["300.1.2.3/8"]}}}),
        ("condition", {"name": "t", "condition": {"request_ip": {"in": [], "not_in": []}}}),
        ("expires_at", {"name": "t", "not_before": "2030-01-02T00:00:00Z",
                        "expires_at": "2030-01-01T00:00:00Z"}),
        ("status", {"name": "t", "status": "paused"}),
        ("policies", {"name": "t", "policies": [{"effect": "maybe", "permission_groups": ["x"],
                                                 "resources": {}}]}),
    ],
}


def connection(sandbox, module):
    platform = sandbox[module.split("_", 1)[0]]
    return {"api_url": platform.url, "api_token": platform.admin_token}


def names_the_option(message, option):
    """``option: ...`` from the collection, or Ansible's own argument-spec message for it."""
    return (message.startswith(option + ":") or re.match(r"%s[.\[]" % re.escape(option), message)
            or message.startswith("value of %s must be" % option)
            or (message.startswith("value of ") and message.endswith("found in %s" % option))
            or message.startswith("argument '%s' is of type" % option)
            or message == "missing required arguments: %s" % option
            or (message.startswith("parameters are mutually exclusive:")
                and option in message.split(":", 1)[1].strip().split("|")))


@pytest.mark.parametrize("module", sorted(CASES))
def test_bad_input_names_the_option_and_sends_nothing(sandbox, tmp_path, module, capsys):
    tasks = [{"name": "case %d" % number,
              "tokenops.tokens." + module: {**connection(sandbox, module), **args},
              "register": "case%d" % number, "ignore_errors": True}
             for number, (_option, args) in enumerate(CASES[module])]
    sandbox.log.clear()
    run = run_playbook(tmp_path, tasks)
    assert run.rc == 0, run.output
    wrong = []
    for number, (option, _args) in enumerate(CASES[module]):
        result = run["case%d" % number]
        if not result.get("failed") or not names_the_option(result["msg"], option):
            wrong.append((number, option, result.get("msg")))
    assert wrong == []
    assert sandbox.log.select() == [], "a request was sent before the input was checked"
    assert "hunter2" not in run.output
    assert leaked(sandbox, run.output) == []
    with capsys.disabled():
        print("\nhostile input [%s]: %d cases refused before any request, each naming its option"
              % (module, len(CASES[module])))


def test_a_missing_organization_names_the_option_and_its_environment_variable(sandbox, tmp_path):
    """ansible-core's own "missing required arguments: organization" does not say that
    TFE_ORGANIZATION would do (issue 26)."""
    sandbox.log.clear()
    run = run_playbook(tmp_path, [{
        "name": "no organization", "register": "listed", "ignore_errors": True,
        "tokenops.tokens.tfe_team_token_info": connection(sandbox, "tfe_team_token_info")}])
    assert run.rc == 0, run.output
    assert run["listed"]["failed"]
    assert run["listed"]["msg"] == ("organization: required; set organization or the "
                                    "TFE_ORGANIZATION environment variable")
    assert sandbox.log.select() == []
    listed = run_playbook(tmp_path / "from-env", [{
        "name": "organization from the environment", "register": "listed",
        "tokenops.tokens.tfe_team_token_info": connection(sandbox, "tfe_team_token_info")}],
        env={"TFE_ORGANIZATION": sandbox["tfe"].organization})
    assert listed.rc == 0, listed.output
    assert listed["listed"]["tokens"] == []
