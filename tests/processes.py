"""Processes a test started and may have left behind (issue 23, item 10).

A run killed the way AWX cancels a job (SIGKILL to its process group) leaves its workers alive:
ansible-core 2.21 starts each in its own session, and a worker waiting for an answer from the
dead run (a ``pause`` task's prompt, say) waits for ever. Tests find such processes by what ties
them to the test: its directory in their command line or as their working directory.
"""
import os
import re
import signal
import time


def _ancestors():
    found, pid = set(), os.getpid()
    while pid > 1:
        found.add(pid)
        try:
            with open("/proc/%d/stat" % pid) as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def processes_under(path):
    """Pids of the processes (not this one nor its ancestors) whose command line or working
    directory holds ``path``. Linux only; elsewhere, none."""
    path = str(path).rstrip("/")
    named = re.compile(re.escape(path) + "(?=/|\x00|\\s|$)")
    mine, found = _ancestors(), []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) in mine:
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                command = handle.read().decode(errors="replace")
            cwd = os.readlink("/proc/%s/cwd" % entry)
        except OSError:
            continue
        if named.search(command) or cwd == path or cwd.startswith(path + "/"):
            found.append(int(entry))
    return found


def reap(path, wait=0.0):
    """Wait up to ``wait`` seconds for the processes under ``path`` to end, then kill the rest;
    return the pids that had to be killed."""
    deadline = time.monotonic() + wait
    while processes_under(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    killed = processes_under(path)
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while processes_under(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return killed
