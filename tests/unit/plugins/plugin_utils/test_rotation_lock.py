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
