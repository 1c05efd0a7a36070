"""Two AWX jobs, one after the other, through ansible-runner (issue 16).

Each job gets its own private data directory (AWX starts every job in a fresh one), and both
share the state directory that docs/awx.md tells users to put on persistent storage. The first
job is cancelled the way AWX cancels one (SIGKILL to the job's process group) after it issued the
new secrets and before it delivered them; the second job finishes those rotations.
"""
import json
import pathlib
import shutil
import time

import pytest

import ansible_runner

from tests.functional.harness import ROOT, ansible_env, leaked
from tests.processes import processes_under, reap
from tests.sandbox.core import days_ago

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core

HANG = """\
- name: Tell the test that delivery has started
  ansible.builtin.file:
    path: {marker}
    state: touch
    mode: "0600"
- name: Hang until AWX cancels the job
  ansible.builtin.pause:
    seconds: 20
"""

DELIVER = """\
- name: Deliver to the consumer
  ansible.builtin.copy:
    content: "{{{{ rotate_secret }}}}"
    dest: {directory}/{{{{ rotate_item.id }}}}
    mode: "0600"
"""


def job(tmp_path, name, sandbox, extravars, cancel=None):
    """One AWX job: a fresh private data directory, credentials injected as environment."""
    private = tmp_path / name
    shutil.copytree(ROOT / "playbooks", private / "project")
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    pulumi, pactflow = sandbox["pulumi"], sandbox["pactflow"]
    envvars = {k: v for k, v in ansible_env(private).items() if k.startswith("ANSIBLE_")}
    envvars.update(PULUMI_ACCESS_TOKEN=pulumi.admin_token, PULUMI_BACKEND_URL=pulumi.url,
                   PACT_BROKER_TOKEN=pactflow.admin_token, PACT_BROKER_BASE_URL=pactflow.url)
    result = ansible_runner.run(private_data_dir=str(private), playbook="rotate.yml",
                                envvars=envvars, extravars=extravars, quiet=True,
                                cancel_callback=cancel)
    produced = "\n".join(p.read_text(errors="replace") for p in private.rglob("*")
                         if p.is_file() and "env" not in p.relative_to(private).parts
                         and p.name != "command")
    return result, produced


def test_a_second_awx_job_finishes_what_a_cancelled_job_began(sandbox, tmp_path, monkeypatch):
    try:
        second_job_after_a_cancelled_one(sandbox, tmp_path, monkeypatch)
    finally:
        # The cancelled job's worker of the task-file sink lives on in its own session, waiting
        # for ever for the dead run to answer its pause: the test reaps what it caused.
        reap(tmp_path / "job1")
    assert processes_under(tmp_path) == []


def second_job_after_a_cancelled_one(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", ansible_env(tmp_path)["PATH"])  # runner finds ansible-playbook
    pulumi, pactflow = sandbox["pulumi"], sandbox["pactflow"]
    old_id, old_secret = pulumi.add_personal_token("awx-killed", created=days_ago(120))
    pactflow_old = pactflow.token_by_type("read-only")["value"]
    # The persistent volume of docs/awx.md, the same for every job.
    state = tmp_path / "persistent" / "tokenops-rotate"
    consumers = tmp_path / "consumers"
    consumers.mkdir()
    tasks_file = tmp_path / "deliver.yml"
    marker = tmp_path / "delivery-started"
    tasks_file.write_text(HANG.format(marker=marker))
    extravars = {
        "rotate_state_dir": str(state), "rotate_report_dir": str(state / "report"),
        "rotate_tokens": [
            {"provider": "pulumi", "id": "awx-killed", "params": {"description": "awx-killed"},
             "max_age": "90d", "deliver": [{"type": "tasks", "file": str(tasks_file)}]},
            {"provider": "pactflow", "id": "awx-pactflow", "params": {"type": "read-only"},
             "max_age": "30d", "deliver": [{"type": "tasks", "file": str(tasks_file)}]},
        ]}

    first, first_output = job(tmp_path, "job1", sandbox, extravars,
                              cancel=marker.exists)
    assert first.status == "canceled", first_output
    assert "holds no journal" in first_output
    journal = json.loads((state / "journal.json").read_text())
    assert {e["step"] for e in journal["entries"].values()} == {"issued"}
    orphan_id = [e for e in journal["entries"].values()
                 if e["label"] == "awx-killed"][0]["token_id"]
    assert sandbox.secrets.is_live(old_secret)

    tasks_file.write_text(DELIVER.format(directory=consumers))
    time.sleep(0.5)
    second, second_output = job(tmp_path, "job2", sandbox, extravars)
    assert second.status == "successful", second_output
    assert "holds no journal" not in second_output
    report = json.loads((state / "report" / "report.json").read_text())
    rows = {row["label"]: row for row in report["tokens"]}
    assert rows["awx-killed"]["action"] == "rotated"
    assert rows["awx-pactflow"]["action"] == "rotated"
    assert json.loads((state / "journal.json").read_text())["entries"] == {}
    live = [t for t in pulumi.tokens("personal") if t["description"] == "awx-killed"]
    assert len(live) == 1 and live[0]["id"] != orphan_id
    delivered = (consumers / "awx-killed").read_text()
    assert delivered == pulumi.secret_of(live[0]["id"]) and sandbox.secrets.is_live(delivered)
    assert not sandbox.secrets.is_live(old_secret)
    pactflow_now = (consumers / "awx-pactflow").read_text()
    assert pactflow_now == pactflow.token_by_type("read-only")["value"] != pactflow_old
    assert sandbox.secrets.is_live(pactflow_now)
    written = "\n".join(p.read_text(errors="replace") for p in state.rglob("*") if p.is_file())
    assert leaked(sandbox, first_output, second_output, written) == []
    assert not list(pathlib.Path(state).glob(".*.tmp"))
