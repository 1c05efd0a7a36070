"""A run against a trickling server, cancelled as AWX cancels, then a new run (issue 23, item 3).

The server answers every create one byte at a time. The run is cancelled (SIGKILL to its process
group) while it waits; its engine worker lives on in its own session (ansible-core 2.21) with the
step lock. It must start no further token and end within its grace, so that the next run
proceeds, finishes what the cancelled one began, and leaves every consumer a working secret.
"""
import os
import signal
import time

import pytest

from tests.functional.test_rotate_role import assert_no_leak, file_sink, rotate
from tests.functional.test_rotate_role_safety import wait_for_step
from tests.processes import processes_under, reap
from tests.sandbox.core import days_ago

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core

TIMEOUT = 5


def test_a_cancelled_run_against_a_trickling_server_leaves_no_lock_behind(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    labels = ["trickled-%d" % n for n in range(4)]
    old = {label: pulumi.add_personal_token(label, created=days_ago(120)) for label in labels}
    tokens = [{"provider": "pulumi", "id": label,
               "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                          "description": label, "timeout": TIMEOUT, "max_retry_wait": 0},
               "max_age": "90d", "limits": {"concurrency": 1},
               "deliver": [file_sink(tmp_path / label)]} for label in labels]
    sandbox.faults.add("trickle", platform="pulumi", method="POST", where="headers",
                       interval=2, times=None)
    extra = {"rotate_lock_timeout": 45}
    try:
        first = rotate(tmp_path, tokens, name="cancelled", popen=True, extra=extra)
        wait_for_step(tmp_path / "state" / "journal.json", "issuing", first)
        os.killpg(first.pid, signal.SIGKILL)      # as AWX cancels a job
        first.communicate()
        cancelled_at = time.monotonic()
        sandbox.faults.clear()
        second = rotate(tmp_path, tokens, name="next", extra=extra)
        waited = time.monotonic() - cancelled_at
        assert second.rc == 0, second.output
        # The worker ends within its grace (2 x timeout + 5 s), not after every token trickled.
        assert processes_under(tmp_path / "cancelled") == [] or \
            reap(tmp_path / "cancelled", wait=2 * TIMEOUT + 5) == [], "the worker lived on"
        assert waited < 2 * TIMEOUT + 5 + 40, "the next run waited %.0f s" % waited
    finally:
        reap(tmp_path / "cancelled")
    for label in labels:
        live = [t for t in pulumi.tokens("personal") if t["description"] == label]
        assert len(live) == 1, (label, live)
        assert sandbox.secrets.is_live((tmp_path / label).read_text()), label
        assert not sandbox.secrets.is_live(old[label][1]), label
    assert_no_leak(sandbox, second)
