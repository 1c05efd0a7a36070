"""The role in a play of several hosts runs the engine once (issue 23, item 7).

docs/rotation.md's example plays ``hosts: rotation_controller``; with two controllers in that
group, each host ran the role: the second host's lock step waited for the first host's lock, held
by the same run, and failed after rotate_lock_timeout, on every run.
"""
import json
import subprocess
import sys

import yaml

import pytest

from tests.functional.harness import BIN, ansible_env, leaked
from tests.functional.test_rotate_role import file_sink
from tests.sandbox.core import days_ago

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core

DELIVER = """\
- name: Count the deliveries
  ansible.builtin.shell: 'echo "{{ inventory_hostname }}" >> %s'
"""


def test_a_play_of_two_controllers_rotates_once(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("two-hosts", created=days_ago(120))
    state = tmp_path / "state"
    counted = tmp_path / "deliveries"
    tasks_file = tmp_path / "deliver.yml"
    tasks_file.write_text(DELIVER % counted)
    variables = {"rotate_state_dir": str(state), "rotate_lock_timeout": 20, "rotate_tokens": [
        {"provider": "pulumi", "id": "two-hosts",
         "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                    "description": "two-hosts"},
         "max_age": "90d",
         "deliver": [file_sink(tmp_path / "sink"), {"type": "tasks", "file": str(tasks_file)}]}]}
    vars_file = tmp_path / "vars.yml"
    vars_file.write_text(yaml.safe_dump(variables))
    vars_file.chmod(0o600)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[rotation_controller]\n" + "".join(
        "%s ansible_connection=local ansible_python_interpreter=%s\n" % (name, sys.executable)
        for name in ("controller-a", "controller-b")))
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "rotation_controller", "gather_facts": False, "vars_files": [str(vars_file)],
        "tasks": [{"name": "Rotate the tokens that are due",
                   "ansible.builtin.include_role": {"name": "tokenops.tokens.rotate"}}]}]))
    runs = []
    for name in ("first", "second"):
        work = tmp_path / name
        work.mkdir()
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory),
                               str(playbook)], capture_output=True, text=True, timeout=300,
                              env=ansible_env(work), cwd=work, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "rotate_lock_path" not in proc.stdout
        runs.append(proc.stdout + proc.stderr)
        report = json.loads((state / "report" / "report.json").read_text())
        assert [row["action"] for row in report["tokens"]] == (
            ["rotated"] if name == "first" else ["not due"])
    live = [t for t in pulumi.tokens("personal") if t["description"] == "two-hosts"]
    assert len(live) == 1 and live[0]["id"] != old_id
    assert (tmp_path / "sink").read_text() == pulumi.secret_of(live[0]["id"])
    assert not sandbox.secrets.is_live(old_secret)
    assert counted.read_text().splitlines() == ["controller-a"], "the task file ran per host"
    assert leaked(sandbox, *runs) == []
