"""A rotation run that dies between issuing and delivering is finished by the next run (issue
8), and two runs at once never mint two replacements for one token (issue 9)."""
import os
import signal
import time

from tests.functional.harness import leaked
from tests.functional.test_rotate_role import assert_no_leak, collect, file_sink, rotate
from tests.sandbox.core import days_ago

HANG = """\
- name: Tell the test that delivery has started
  ansible.builtin.file:
    path: {marker}
    state: touch
    mode: "0600"
- name: Hang until the test kills the run
  ansible.builtin.pause:
    seconds: 120
"""

DELIVER = """\
- name: Deliver to the consumer
  ansible.builtin.copy:
    content: "{{{{ rotate_secret }}}}"
    dest: {directory}/{{{{ rotate_item.id }}}}
    mode: "0600"
"""


def wait_for(path, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the run never reached delivery"
        time.sleep(0.1)


def test_a_run_killed_between_issue_and_delivery_is_finished_by_the_next(sandbox, tmp_path):
    pulumi, pactflow = sandbox["pulumi"], sandbox["pactflow"]
    old_id, old_secret = pulumi.add_personal_token("orphan-me", created=days_ago(120))
    pactflow_old = pactflow.token_by_type("read-only")
    consumers = tmp_path / "consumers"
    consumers.mkdir()
    tasks_file = tmp_path / "deliver.yml"
    marker = tmp_path / "delivery-started"
    tasks_file.write_text(HANG.format(marker=marker))
    tokens = [
        {"provider": "pulumi", "id": "pulumi-overlap",
         "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                    "description": "orphan-me"},
         "max_age": "90d", "deliver": [{"type": "tasks", "file": str(tasks_file)}]},
        {"provider": "pactflow", "id": "pactflow-in-place",
         "params": {"api_url": pactflow.url, "api_token": pactflow.admin_token,
                    "type": "read-only"},
         "max_age": "30d", "deliver": [{"type": "tasks", "file": str(tasks_file)}]},
    ]

    # Run 1 issues both new secrets (the answer to the first pulumi create is lost after the
    # platform acted), then is killed (SIGKILL, no cleanup) while delivering.
    lost = sandbox.faults.add("lost_response", platform="pulumi", method="POST", times=1)
    proc = rotate(tmp_path, tokens, name="killed", popen=True)
    try:
        wait_for(marker, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
    output = proc.communicate()[0]
    killed = collect(tmp_path, tmp_path / "killed", proc.returncode, output, "")
    assert lost.hits == 1
    entries = {e["label"]: e for e in killed.journal["entries"].values()}
    assert set(entries) == {"pulumi-overlap", "pactflow-in-place"}
    assert {e["step"] for e in entries.values()} == {"issued"}
    orphan_id = entries["pulumi-overlap"]["token_id"]
    assert orphan_id != old_id and pulumi.token_by_id(orphan_id) is not None
    orphan_secret = pulumi.secret_of(orphan_id)
    # Overlap: the consumer still holds a working secret. In place: it holds a dead one.
    assert sandbox.secrets.is_live(old_secret)
    assert not sandbox.secrets.is_live(pactflow_old["value"])
    assert_no_leak(sandbox, killed)

    # Run 2 finds the journal: the orphan is deleted and the pulumi token rotated again (then
    # the previous revoked); the in-place token is rotated again and delivered.
    tasks_file.write_text(DELIVER.format(directory=consumers))
    run = rotate(tmp_path, tokens, name="recovery", verbosity=4)
    assert run.rc == 0, run.output
    rows = run.rows()
    assert rows["pulumi-overlap"]["action"] == "rotated"
    assert "never delivered" in " ".join(rows["pulumi-overlap"]["notes"])
    assert rows["pactflow-in-place"]["action"] == "rotated"
    assert "rotating again" in rows["pactflow-in-place"]["reason"]
    assert run.journal["entries"] == {}
    assert pulumi.token_by_id(orphan_id) is None and not sandbox.secrets.is_live(orphan_secret)
    described = [t for t in pulumi.tokens("personal") if t["description"] == "orphan-me"]
    assert len(described) == 1, described
    delivered = (consumers / "pulumi-overlap").read_text()
    assert delivered == pulumi.secret_of(described[0]["id"]) and sandbox.secrets.is_live(delivered)
    assert not sandbox.secrets.is_live(old_secret)
    pactflow_now = (consumers / "pactflow-in-place").read_text()
    assert pactflow_now == pactflow.token_by_type("read-only")["value"]
    assert sandbox.secrets.is_live(pactflow_now)
    assert_no_leak(sandbox, run, consumers / "unused")

    # Run 3 converges: nothing due, nothing written.
    sandbox.log.clear()
    run = rotate(tmp_path, tokens, name="converged")
    assert run.rc == 0, run.output
    assert set(sandbox.log.methods()) == {"GET"}
    assert {row["action"] for row in run.rows().values()} == {"not due"}


def test_two_runs_at_once_mint_one_replacement(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("contended", created=days_ago(120))
    sink = tmp_path / "sink"
    tokens = [{"provider": "pulumi", "id": "contended",
               "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                          "description": "contended"},
               "max_age": "90d", "deliver": [file_sink(sink)]}]
    first = rotate(tmp_path, tokens, name="first", popen=True)
    second = rotate(tmp_path, tokens, name="second", popen=True)
    outputs = [first.communicate(timeout=120)[0], second.communicate(timeout=120)[0]]
    assert first.returncode == 0 and second.returncode == 0, outputs
    posts = sandbox.log.select("pulumi", "POST")
    assert len(posts) == 1, "two replacements were minted"
    assert sandbox.secrets.is_live(sink.read_text())
    assert not sandbox.secrets.is_live(old_secret)
    assert sum("| contended |" in out and "| rotated |" in out for out in outputs) == 1
    assert leaked(sandbox, *outputs) == []
