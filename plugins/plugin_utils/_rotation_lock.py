# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The rotation lock: one run at a time over one state directory.

Two POSIX record locks on one file, ``rotate_lock_path``:

- the **run lock** (byte 0) keeps a second run out for the whole play. Each task runs in a
  short-lived worker process, so the lock step starts a small holder process that takes it and
  keeps it until the unlock step ends it, or until the ``ansible-playbook`` process it belongs
  to is gone and, on Linux, no worker process of that run still runs something (a worker of a
  killed run may still be running a task of a task-file sink); the kernel drops a lock with its
  holder, so killed runs never leave a stale lock;
- the **step lock** (byte 1) is held by the worker process itself for as long as an engine step
  runs (plan, issue, finish). ansible-core 2.21 starts each worker in its own session, so a
  worker can outlive a killed run; whatever it is still doing (issuing, delivering, revoking),
  the next run's steps wait for it, then plan from the journal it left.

The file is opened without following symbolic links, relative to a descriptor of its directory,
and must be a regular file of the run's user; the directory must belong to the run's user (or
root) and be writable by no one else, sticky or not (``module_utils/_safe_path.py``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import errno
import fcntl
import os
import select
import signal
import stat
import subprocess
import sys
import threading
import time

from ansible_collections.tokenops.tokens.plugins.module_utils import _safe_path as safe_path

RUN_BYTE, STEP_BYTE = 0, 1
POLL = 0.1
#: how often a step checks whether the run that started it is still there
CANCEL_POLL = 0.5
#: the exit status of a worker that ended itself after its run was cancelled
CANCELLED_EXIT = 75

HOLDER = r'''
import fcntl, os, sys, time
fd, owner, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + timeout
while True:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
        break
    except OSError:
        if time.monotonic() >= deadline:
            sys.stdout.write("busy\n")
            sys.stdout.flush()
            sys.exit(1)
        time.sleep(0.1)
os.ftruncate(fd, 0)
os.pwrite(fd, ("%d\n" % owner).encode(), 0)
sys.stdout.write("locked\n")
sys.stdout.flush()
os.close(1)


def processes():
    """{pid: (parent pid, start time)} of every process, read from /proc (Linux; else empty)."""
    found = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as handle:
                    data = handle.read()
            except OSError:
                continue
            fields = data[data.rindex(")") + 2:].split()
            found[int(name)] = (int(fields[1]), fields[19])
    return found


seen = set()
while True:
    try:
        os.kill(owner, 0)
    except OSError:
        break
    seen |= set((pid, started) for pid, (parent, started) in processes().items()
                if parent == owner)
    time.sleep(0.2)
# The run is gone. A worker of it may live on (each runs in its own session) and still be running
# a task of a task-file sink, which delivers a secret: keep the next run out while such a worker
# runs something (a module, a connection: a child process). A worker with nothing left to run
# may never exit (it can block on the dead run's result queue), so it is not waited for.
while True:
    table = processes()
    parents = set(parent for pid, (parent, started) in table.items() if pid != os.getpid())
    if not any(table.get(pid, (None, None))[1] == started and pid in parents
               for pid, started in seen):
        break
    time.sleep(0.2)
'''


class LockError(Exception):
    pass


_user = safe_path.user_name


def open_lock_file(path):
    """A descriptor of the lock file, checked: its directory belongs to the run's user (or root)
    and no one else can write it, the file is no symbolic link and a regular file of this user."""
    directory, name = os.path.split(os.path.abspath(path))
    dir_fd = safe_path.private_directory(directory, 'rotate_lock_path')
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     0o600, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LockError('rotate_lock_path: %s is a symbolic link; the lock is never taken '
                            'through a link (another user may have planted it): remove it, or '
                            'point rotate_lock_path at a directory only this user can write'
                            % path)
        raise OSError(exc.errno, exc.strerror, path)
    finally:
        os.close(dir_fd)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        os.close(fd)
        raise LockError('rotate_lock_path: %s is not a regular file of user %s (it belongs to %s)'
                        '; remove it or choose another rotate_lock_path'
                        % (path, _user(os.geteuid()), _user(info.st_uid)))
    return fd


def _held_by(fd):
    """Who holds the lock, as far as the file tells: "process N (user U)"."""
    try:
        pid = int(os.pread(fd, 32, 0).decode().strip() or 0)
    except (OSError, ValueError):
        return 'another process'
    if pid <= 0:
        return 'another process'
    try:
        uid = os.stat('/proc/%d' % pid).st_uid
    except OSError:
        return 'process %d' % pid
    return 'process %d of user %s' % (pid, _user(uid))


def acquire(path, owner_pid, timeout):
    """Start the holder; return its pid once it holds the run lock on ``path``.

    ``owner_pid`` is the ``ansible-playbook`` process: the lock ends with it at the latest.
    """
    fd = open_lock_file(path)
    try:
        holder = subprocess.Popen([sys.executable, '-c', HOLDER, str(fd), str(owner_pid),
                                   str(timeout)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, pass_fds=(fd,),
                                  start_new_session=True)
        ready, dummy, dummy2 = select.select([holder.stdout], [], [], timeout + 10)
        answer = holder.stdout.readline().decode().strip() if ready else ''
        holder.stdout.close()
        if answer != 'locked':
            if holder.poll() is None:
                holder.kill()
            holder.wait()
            raise LockError('rotate_lock_path: %s is held by %s, another rotation run, for more '
                            'than %ss; try again later (or raise rotate_lock_timeout)'
                            % (path, _held_by(fd), timeout))
    finally:
        os.close(fd)
    return holder.pid


def release(holder_pid):
    """End the holder started by :func:`acquire`; True when it was still running.

    The kernel drops the lock as the holder exits, which SIGTERM makes it do at once.
    """
    try:
        os.kill(holder_pid, signal.SIGTERM)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def step_lock(path, timeout):
    """Hold the step lock on ``path`` in this process while the block runs."""
    fd = open_lock_file(path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, STEP_BYTE)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise LockError('rotate_lock_path: a process of an earlier rotation run is '
                                    'still issuing, delivering or revoking (it holds %s) after '
                                    '%ss; try again later' % (path, timeout))
                time.sleep(POLL)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def cancel_watch(grace, on_cancel):
    """While the block runs, watch the run that started this process (its parent).

    ansible-core 2.21 runs each worker in its own session, so cancelling a run as AWX does
    (SIGKILL to the run's process group) leaves the worker of an engine step running, holding
    the step lock. When the parent is gone, ``on_cancel()`` is called (the engine then starts no
    further token, and finishes the ones under way); if the block has not ended ``grace``
    seconds later (a request that hangs), this process ends: the kernel drops the step lock
    with it, and the journal, written before every act, lets the next run finish what was left.
    """
    parent = os.getppid()
    done = threading.Event()

    def watch():
        while not done.wait(CANCEL_POLL):
            if os.getppid() != parent:
                on_cancel()
                if not done.wait(grace):
                    os._exit(CANCELLED_EXIT)
                return

    watcher = threading.Thread(target=watch, name='tokenops-cancel-watch')
    watcher.daemon = True
    watcher.start()
    try:
        yield
    finally:
        done.set()
