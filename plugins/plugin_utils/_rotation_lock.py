# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The rotation lock: one run at a time over one state directory.

Each task of a play runs in a short-lived worker process, so an ``fcntl.flock`` taken by the
task would end with it. The lock step therefore starts a small holder process that takes the
lock and keeps it until the unlock step ends it, or until the ``ansible-playbook`` process it
belongs to is gone (killed runs never leave a stale lock: the kernel drops a flock with its
holder).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import select
import signal
import subprocess
import sys

HOLDER = r'''
import fcntl, os, sys, time
path, owner, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
deadline = time.monotonic() + timeout
while True:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        break
    except OSError:
        if time.monotonic() >= deadline:
            sys.stdout.write("busy\n")
            sys.stdout.flush()
            sys.exit(1)
        time.sleep(0.1)
os.ftruncate(fd, 0)
os.write(fd, ("%d\n" % owner).encode())
sys.stdout.write("locked\n")
sys.stdout.flush()
os.close(1)
while True:
    try:
        os.kill(owner, 0)
    except OSError:
        sys.exit(0)
    time.sleep(0.2)
'''


class LockError(Exception):
    pass


def acquire(path, owner_pid, timeout):
    """Start the holder; return its pid once it holds the lock on ``path``.

    ``owner_pid`` is the ``ansible-playbook`` process: the lock ends with it at the latest.
    """
    directory = os.path.dirname(path) or '.'
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, path, str(owner_pid), str(timeout)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
    ready, dummy, dummy2 = select.select([holder.stdout], [], [], timeout + 10)
    answer = holder.stdout.readline().decode().strip() if ready else ''
    holder.stdout.close()
    if answer != 'locked':
        if holder.poll() is None:
            holder.kill()
        holder.wait()
        raise LockError('rotate_lock_path: another rotation run has held %s for more than %ss; '
                        'try again later (or raise rotate_lock_timeout)' % (path, timeout))
    return holder.pid


def release(holder_pid):
    """End the holder started by :func:`acquire`; True when it was still running.

    The kernel drops the flock as the holder exits, which SIGTERM makes it do at once.
    """
    try:
        os.kill(holder_pid, signal.SIGTERM)
    except OSError:
        return False
    return True
