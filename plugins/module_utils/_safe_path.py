# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Files on a shared host: reach a directory without trusting what another local user can change.

A path is walked from ``/`` one component at a time, each opened relative to the descriptor of
its parent and never through a symbolic link. A link on the way is followed only when it belongs
to root or to the run's user: a link of another user may point anywhere, and be swapped between
a check and a write. The directory reached is then used through its descriptor: files in it are
created, read, renamed and removed relative to it, so swapping a component of the path
afterwards changes nothing that this process does.

:func:`private_directory` is for what the collection keeps for itself (the rotation role's
state, report and lock directories): the directory must belong to the run's user or root and be
writable by no one else, sticky or not.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import pwd
import stat
from binascii import hexlify

#: walking: a directory the run may search but not list can still be walked (Linux's O_PATH)
_WALK = getattr(os, 'O_PATH', os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_CLOEXEC = getattr(os, 'O_CLOEXEC', 0)
#: as the kernel's own limit on links followed in one lookup
MAX_LINKS = 40
PRIVATE_MODE = 0o700


class UnsafePath(Exception):
    """A path the run must not use; the message names the path, its owner and mode."""


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return 'uid %d' % uid


def trusted(uid):
    """Root and the run's own user: the only owners whose files and links the run relies on."""
    return uid in (0, os.geteuid())


def others_may_write(info):
    """Whether a user other than root and the run's user may create, rename or remove entries in
    the directory that ``info`` describes: its owner, or anyone through group or other write
    permission (sticky or not: the sticky bit still lets them create names)."""
    return not trusted(info.st_uid) or bool(info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def describe(info):
    """``owned by USER, mode 0755``."""
    return 'owned by %s, mode %04o' % (user_name(info.st_uid), stat.S_IMODE(info.st_mode))


def _parts(path):
    return [part for part in path.split('/') if part not in ('', '.')]


def _close(fds):
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def open_directory(path, create=False):
    """A descriptor (read-only) of the directory ``path``, reached as the module says.

    With ``create``, missing directories are made with mode 0700 whatever the umask. Raises
    ``UnsafePath`` at a symbolic link of another user, and ``OSError`` (naming the path walked
    so far) when a component is missing or is not a directory.
    """
    path = os.path.abspath(path)
    pending = _parts(path)
    above = []              # descriptors of the directories above the current one, for ".."
    current = os.open('/', _WALK | _CLOEXEC)
    walked = '/'
    links = 0
    try:
        while pending:
            name = pending.pop(0)
            if name == '..':
                if above:
                    os.close(current)
                    current = above.pop()
                    walked = os.path.dirname(walked)
                continue
            here = os.path.join(walked, name)
            made = False
            try:
                info = os.stat(name, dir_fd=current, follow_symlinks=False)
            except FileNotFoundError:
                if not create:
                    raise FileNotFoundError(errno.ENOENT, 'No such directory', here)
                try:
                    os.mkdir(name, PRIVATE_MODE, dir_fd=current)
                    made = True
                except FileExistsError:
                    pass
                info = os.stat(name, dir_fd=current, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                if not trusted(info.st_uid):
                    raise UnsafePath('%s is a symbolic link of user %s; a link another user owns '
                                     'is never followed (it may point anywhere, and change at any '
                                     'time): give the real path' % (here, user_name(info.st_uid)))
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                target = os.readlink(name, dir_fd=current)
                if target.startswith('/'):
                    _close(above + [current])
                    above, current, walked = [], os.open('/', _WALK | _CLOEXEC), '/'
                pending = _parts(target) + pending
                continue
            try:
                child = os.open(name, _WALK | _CLOEXEC, dir_fd=current)
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, here)
            above.append(current)
            current, walked = child, here
            if made:
                _make_private(current, here)
        directory = os.open('.', _DIRECTORY | _CLOEXEC, dir_fd=current)
    except BaseException:
        _close(above + [current])
        raise
    _close(above + [current])
    return directory


def _make_private(fd, where):
    """0700 for a directory this run just made (mkdir's mode is cut by the umask)."""
    info = os.fstat(fd)
    if info.st_uid != os.geteuid():
        return          # swapped for another's directory: the caller's checks refuse it
    opened = os.open('.', _DIRECTORY | _CLOEXEC, dir_fd=fd)
    try:
        os.fchmod(opened, PRIVATE_MODE)
    finally:
        os.close(opened)


def private_directory(path, option, create=True):
    """A descriptor of ``path`` after checking that only root and the run's user can change it.

    Raises ``UnsafePath`` naming ``option``, the path, its owner and its mode otherwise.
    """
    try:
        fd = open_directory(path, create=create)
    except UnsafePath as exc:
        raise UnsafePath('%s: %s' % (option, exc))
    info = os.fstat(fd)
    if others_may_write(info):
        os.close(fd)
        raise UnsafePath(
            '%s: %s is %s: another user could plant, swap or read what this run keeps there. '
            'Use a directory that belongs to %s (or root) and that no one else can write, sticky '
            'or not (for example: install -d -m 0700 DIR)'
            % (option, path, describe(info), user_name(os.geteuid())))
    return fd


def read_file(dir_fd, name, where, owner_only=True):
    """The content of the regular file ``name`` in ``dir_fd``, or None when there is none.

    Never through a symbolic link; with ``owner_only``, only a file of the run's user is read.
    Raises ``UnsafePath`` naming ``where`` (the file's path) otherwise.
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath('%s is a symbolic link; it is not followed' % where)
        raise OSError(exc.errno, exc.strerror, where)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePath('%s is not a regular file' % where)
        if owner_only and info.st_uid != os.geteuid():
            raise UnsafePath('%s belongs to %s, not to %s, the user of this run; it is not read'
                             % (where, user_name(info.st_uid), user_name(os.geteuid())))
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b''.join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def file_info(dir_fd, name):
    """``lstat`` of ``name`` in ``dir_fd``, or None when there is none."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def remove_file(dir_fd, name):
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


class Staged:
    """A written temporary file beside its target in one directory, ready to be renamed over it.

    Holds its own descriptor of the directory, so the rename happens where the file was written.
    """

    def __init__(self, dir_fd, temp, name, where):
        self.dir_fd = os.dup(dir_fd)
        self.temp = temp
        self.name = name
        self.where = where

    def commit(self):
        try:
            os.replace(self.temp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
            try:
                os.fsync(self.dir_fd)
            except OSError:
                pass
        except OSError as exc:
            self.abort()
            raise OSError(exc.errno, exc.strerror, self.where)
        self._close()

    def abort(self):
        if self.dir_fd is None:
            return
        remove_file(self.dir_fd, self.temp)
        self._close()

    def _close(self):
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None


def stage(dir_fd, name, data, where, mode=0o600, uid=None, gid=None):
    """Write ``data`` to a new temporary file beside ``name`` (created 0600, never through a
    link), flush it to disk, give it ``uid``/``gid`` and ``mode`` while still private; return a
    :class:`Staged`. An ``OSError`` (a full disk: ``ENOSPC``) names ``where``, the target."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    temp = '.%s.%s.tmp' % (name, hexlify(os.urandom(6)).decode('ascii'))
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC,
                     0o600, dir_fd=dir_fd)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, where)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            info = os.fstat(fd)
            wanted = (info.st_uid if uid is None else uid, info.st_gid if gid is None else gid)
            if (info.st_uid, info.st_gid) != wanted:
                os.fchown(fd, *wanted)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
    except BaseException as exc:
        remove_file(dir_fd, temp)
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror, where)
        raise
    return Staged(dir_fd, temp, name, where)


def write_file(dir_fd, name, data, where, mode=0o600):
    """Replace ``name`` in ``dir_fd`` whole with ``data``: the run's user's file, ``mode``."""
    stage(dir_fd, name, data, where, mode, os.geteuid(), os.getegid()).commit()
