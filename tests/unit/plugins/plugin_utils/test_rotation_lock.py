"""The rotation lock (issue 16): what another run, or another local user, can do to it."""
import os
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.tokenops.tokens.plugins.plugin_utils import _rotation_lock as lock


def test_a_busy_lock_names_the_run_that_holds_it(tmp_path):
    path = str(tmp_path / "state" / "rotate.lock")
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        holder = lock.acquire(path, owner.pid, 5)
        with pytest.raises(lock.LockError, match=r"held by process %d of user root" % owner.pid):
            lock.acquire(path, os.getpid(), 0.3)
        assert lock.release(holder)
    finally:
        owner.kill()
        owner.wait()
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700


def test_the_run_lock_ends_with_the_playbook_process(tmp_path):
    path = str(tmp_path / "rotate.lock")
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    lock.acquire(path, owner.pid, 5)
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            holder = lock.acquire(path, os.getpid(), 0.2)
            break
        except lock.LockError:
            assert time.monotonic() < deadline, "the lock outlived its run"
    lock.release(holder)


def test_the_step_lock_waits_for_a_surviving_worker(tmp_path):
    path = str(tmp_path / "rotate.lock")
    code = ("import sys, time; sys.path[:0] = %r\n"
            "from ansible_collections.tokenops.tokens.plugins.plugin_utils import "
            "_rotation_lock as lock\n"
            "with lock.step_lock(%r, 5):\n"
            "    print('held', flush=True); time.sleep(1.5)\n" % (sys.path, path))
    worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert worker.stdout.readline().strip() == "held"
    held_at = time.monotonic()
    with pytest.raises(lock.LockError, match="still issuing, delivering or revoking"):
        with lock.step_lock(path, 0.3):
            pass
    with lock.step_lock(path, 10):
        waited = time.monotonic() - held_at
    assert waited >= 1.4, "the step lock was taken while the worker held it"
    worker.wait()


WORKER = """
import os, sys, time
sys.path[:0] = %r
from ansible_collections.tokenops.tokens.plugins.plugin_utils import _rotation_lock as lock
with lock.step_lock(%r, 5):
    with lock.cancel_watch(%r, lambda: print("cancelled", flush=True)):
        print("working", flush=True)
        time.sleep(60)       # a request that hangs
"""

RUN = """
import subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=open(sys.argv[2], "w"),
                          start_new_session=True)
print(worker.pid, flush=True)
time.sleep(60)
"""


def test_a_worker_whose_run_is_cancelled_ends_and_frees_the_step_lock(tmp_path):
    """As AWX cancels: SIGKILL to the run's process group; the worker, in its own session (as
    ansible-core 2.21 starts it), notices, starts nothing more, and ends after the grace."""
    path = str(tmp_path / "rotate.lock")
    said = tmp_path / "worker.out"
    run = subprocess.Popen([sys.executable, "-c", RUN, WORKER % (sys.path, path, 1.0), str(said)],
                           stdout=subprocess.PIPE, text=True, start_new_session=True)
    worker_pid = int(run.stdout.readline())
    try:
        deadline = time.monotonic() + 10
        while (not said.exists() or "working" not in said.read_text()) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(lock.LockError):
            with lock.step_lock(path, 0.3):
                pass
        os.killpg(run.pid, 9)
        run.wait()
        cancelled_at = time.monotonic()
        with lock.step_lock(path, 15):
            freed = time.monotonic() - cancelled_at
        assert freed < 5, "the step lock stayed held %.1f s after the run was gone" % freed
        assert said.read_text().split() == ["working", "cancelled"]
        deadline = time.monotonic() + 5
        while os.path.exists("/proc/%d" % worker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists("/proc/%d" % worker_pid), "the worker lives on"
    finally:
        try:
            os.kill(worker_pid, 9)
        except OSError:
            pass
