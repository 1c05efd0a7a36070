"""The sinks as their users and attackers would try them (issues 24 and 25, after they landed).

Most cases call the rotation engine in-process (the code the role runs, as the fault matrix
does), against the sandbox and the session's OpenBao and moto servers, so that each takes about
a second; the cases that need the role's own tasks (check mode, check_tasks) run
``ansible-playbook``.
"""
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils._client import TransportError
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import SinkError
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.github_secret import (
    GitHubSecretSink,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.tfe_variable import (
    TfeVariableSink,
)

from tests.functional.harness import leaked
from tests.functional.test_fault_matrix import rotation
from tests.sandbox.core import days_ago
from tests.stores import unique

FAST = {"timeout": 0.5, "max_retry_wait": 0.5}
REPOSITORY, WORKSPACE, KEY = "tokenops/app", "app", "APP_TOKEN"


def pulumi_item(sandbox, label, deliver, **more):
    pulumi = sandbox["pulumi"]
    return {"provider": "pulumi", "id": label, "max_age": "90d", "deliver": deliver,
            "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                       "description": label, **FAST}, **more}


def github_sink(sandbox, **more):
    github = sandbox["github"]
    return dict({"type": "github_secret", "repository": REPOSITORY, "key": KEY,
                 "api_url": github.url, "token": github.admin_token, **FAST}, **more)


def tfe_sink(sandbox, **more):
    tfe = sandbox["tfe"]
    return dict({"type": "tfe_variable", "organization": tfe.organization, "workspace": WORKSPACE,
                 "key": KEY, "api_url": tfe.url, "api_token": tfe.admin_token, **FAST}, **more)


def ci_held(sandbox, kind):
    if kind == "github":
        return sandbox["github"].secret_value(KEY, repository=REPOSITORY)
    found = sandbox["tfe"].variable(KEY, workspace=WORKSPACE)
    return found["value"] if found else None


@pytest.fixture
def ci(sandbox):
    sandbox["github"].add_repo(REPOSITORY)
    sandbox["tfe"].add_workspace(WORKSPACE)
    return sandbox


# -- a write whose outcome no one can tell ------------------------------------------------------

@pytest.mark.parametrize("kind", ["github", "tfe"])
def test_a_ci_write_whose_outcome_cannot_be_told_keeps_the_new_token_alive(
        ci, tmp_path, monkeypatch, kind):
    """Every write acts and loses its answer, and the read that would tell is refused too: the
    sink may hold the new secret, so the new token must stay alive beside the previous one (its
    consumers may hold it), the message says "may hold", and the next run converges."""
    sandbox = ci
    old_id, old = sandbox["pulumi"].add_personal_token("unknown", created=days_ago(120))
    consumer = tmp_path / "consumer"
    consumer.write_text(old)
    sink = github_sink(sandbox) if kind == "github" else tfe_sink(sandbox)
    item = pulumi_item(sandbox, "unknown", [{"type": "file", "path": str(consumer)}, sink])
    writes = ("PUT",) if kind == "github" else ("POST", "PATCH")
    for method in writes:
        sandbox.faults.add("lost_response", platform=kind, method=method, times=None)
    cls, read = ((GitHubSecretSink, "_metadata") if kind == "github"
                 else (TfeVariableSink, "_variables"))
    original = getattr(cls, read)
    calls = []

    def unreadable_after_the_write(self, *args):
        if sandbox.log.select(kind, writes[0]) or sandbox.log.select(kind, writes[-1]):
            calls.append(read)
            # what each read raises when its request gets no answer
            if kind == "github":
                raise SinkError("%s: reading secret %s failed: no answer" % (self.describe(),
                                                                             KEY))
            raise TransportError("GET %s failed without an HTTP answer" % self._vars_path)
        return original(self, *args)

    monkeypatch.setattr(cls, read, unreadable_after_the_write)
    row = rotation([item], tmp_path)["rows"][0]
    assert calls, "the read after the write never happened: the case proves nothing"
    new = ci_held(sandbox, kind)
    assert new and new != old, "the write did not act: the case proves nothing"
    assert row["action"] == "failed", row
    assert "may hold it (whether the write happened is unknown)" in row["error"], row["error"]
    assert "no sink was written" not in row["error"] and "every sink holds it" not in row["error"]
    assert sandbox.secrets.is_live(new), "revoked while a sink may hold it"
    assert sandbox.secrets.is_live(old) and consumer.read_text() == old
    assert leaked(sandbox, json.dumps(row)) == []

    monkeypatch.setattr(cls, read, original)
    sandbox.faults.clear()
    again = rotation([item], tmp_path)["rows"][0]
    assert again["action"] == "rotated", again
    newest = consumer.read_text().strip()
    assert ci_held(sandbox, kind) == newest and sandbox.secrets.is_live(newest)
    assert not sandbox.secrets.is_live(new) and not sandbox.secrets.is_live(old)
    live = [t["id"] for t in sandbox["pulumi"].tokens("personal")
            if t["description"] == "unknown"]
    assert len(live) == 1
