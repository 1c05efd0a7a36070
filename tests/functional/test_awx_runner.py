"""The rotation playbook through ansible-runner, the way AWX runs a job (issue 8).

AWX copies the project into a private data directory, injects each credential as environment
variables (docs/awx.md), passes the job template's variables as extra vars and stores the job
events and artifacts; none of them may hold a secret.
"""
import json
import os
import pathlib
import shutil
import stat

import pytest

import ansible_runner

from tests.functional.harness import ROOT, ansible_env, leaked
from tests.sandbox.core import days_ago

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core


def test_rotation_playbook_under_ansible_runner(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", ansible_env(tmp_path)["PATH"])  # runner finds ansible-playbook
    pulumi, pactflow = sandbox["pulumi"], sandbox["pactflow"]
    old_id, old_secret = pulumi.add_personal_token("awx-deploy", created=days_ago(120))
    fresh_id, fresh_secret = pulumi.add_personal_token("awx-fresh", created=days_ago(1))
    pactflow_old = pactflow.token_by_type("read-only")["value"]

    private = tmp_path / "runner"
    shutil.copytree(ROOT / "playbooks", private / "project")
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    sinks, state = tmp_path / "sinks", tmp_path / "state"
    sinks.mkdir()
    password = tmp_path / "vault-password"
    password.write_text("awx vault password\n")
    extravars = {
        "rotate_state_dir": str(state), "rotate_report_dir": str(state / "report"),
        "rotate_tokens": [
            {"provider": "pulumi", "id": "awx-deploy", "params": {"description": "awx-deploy"},
             "max_age": "90d", "deliver": [{"type": "vault_file", "path": str(sinks / "deploy"),
                                            "vault_password_file": str(password)}]},
            {"provider": "pulumi", "id": "awx-fresh", "params": {"description": "awx-fresh"},
             "max_age": "90d", "deliver": [{"type": "file", "path": str(sinks / "fresh")}]},
            {"provider": "pactflow", "id": "awx-pactflow", "params": {"type": "read-only"},
             "max_age": "90d", "deliver": [{"type": "file", "path": str(sinks / "pactflow"),
                                            "format": "json"}]},
        ]}
    # The credentials, injected by AWX custom credential types as environment variables.
    envvars = {k: v for k, v in ansible_env(tmp_path).items() if k.startswith("ANSIBLE_")}
    envvars.update(PULUMI_ACCESS_TOKEN=pulumi.admin_token, PULUMI_BACKEND_URL=pulumi.url,
                   PACT_BROKER_TOKEN=pactflow.admin_token, PACT_BROKER_BASE_URL=pactflow.url)
    result = ansible_runner.run(private_data_dir=str(private), playbook="rotate.yml",
                                envvars=envvars, extravars=extravars, verbosity=3, quiet=True)
    assert result.status == "successful", result.stdout.read()

    report = json.loads((state / "report" / "report.json").read_text())
    rows = {row["label"]: row for row in report["tokens"]}
    assert rows["awx-deploy"]["action"] == "rotated"
    assert rows["awx-fresh"]["action"] == "not due"
    assert rows["awx-pactflow"]["action"] == "rotated"
    assert not sinks.joinpath("fresh").exists()
    assert stat.S_IMODE(os.stat(sinks / "deploy").st_mode) == 0o600
    assert sinks.joinpath("deploy").read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    pactflow_new = json.loads((sinks / "pactflow").read_text())["secret"]
    assert sandbox.secrets.is_live(pactflow_new) and pactflow_new != pactflow_old
    assert not sandbox.secrets.is_live(old_secret) and sandbox.secrets.is_live(fresh_secret)

    events = list(result.events)
    assert any(e.get("event") == "runner_on_ok" for e in events)
    assert any("rotation_engine" in json.dumps(e.get("event_data", {}).get("resolved_action", ""))
               or "Issue, verify and deliver" in json.dumps(e) for e in events)
    # Inputs are left out: project/, inventory/, env/ (where AWX writes the injected credentials)
    # and artifacts/*/command (runner's copy of that environment). Everything the job produced
    # is searched: job_events, stdout, status, rc, fact cache.
    produced = [p for p in pathlib.Path(private).rglob("*") if p.is_file()
                and not {"project", "inventory", "env"} & set(p.relative_to(private).parts)
                and p.name != "command"]
    assert any("job_events" in p.parts for p in produced), "ansible-runner wrote no job events"
    artifacts = "\n".join(p.read_text(errors="replace") for p in produced)
    written = "\n".join(p.read_text(errors="replace") for p in state.rglob("*") if p.is_file())
    # Every secret the sandbox issued, the admin credentials included, is absent from the job
    # events, the artifacts, the report and the journal.
    assert leaked(sandbox, json.dumps(events), artifacts, written) == []
