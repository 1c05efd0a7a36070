# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""``secret_dest``: a managing module hands the secret it issued to a file on the target.

The file is written the way the rotation role's file sink writes one: a temporary file beside
the target, created 0600, written and flushed to disk, given its owner, group and final mode
while still private, then renamed over the target in one step. ``AnsibleModule.atomic_move`` is
not used for the rename: when it creates a file it widens the mode to 0666 minus the umask after
the rename, which would expose the secret for a moment.

The directory is resolved once, before any request (``_safe_path``: no symbolic link of another
user on the way), and the file is written relative to that descriptor. In a directory that
other users can write (group or world writable, sticky or not, or another user's own), a file
that another user owns is not inherited: whoever created it could read what it is given. The
module then refuses unless ``secret_owner`` says whose the file is; it never keeps such a file's
owner, group or mode on its own. This is stricter than ``ansible.builtin.copy``, which keeps a
replaced file's owner, because the content is a secret.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import grp
import os
import pwd
import stat

from ansible_collections.tokenops.tokens.plugins.module_utils import _safe_path as safe_path
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import InputError


def secret_file_argument_spec():
    """``secret_dest``, ``secret_mode``, ``secret_owner``, ``secret_group`` and
    ``allow_secret_loss``: every managing module."""
    return dict(
        secret_dest=dict(type='path'),
        secret_mode=dict(type='raw', default='0600', no_log=False),   # a file mode
        secret_owner=dict(type='str', no_log=False),     # a user's name
        secret_group=dict(type='str', no_log=False),     # a group's name
        allow_secret_loss=dict(type='bool', default=False),
    )


#: the mode of a new secret file when nobody asked for one
DEFAULT_MODE = 0o600


def file_mode(value):
    """A file mode as a number, or None when ``value`` is not one.

    As for ``ansible.builtin.copy``: a string is octal (``'0640'``); a number is the mode itself,
    which is what YAML makes of an unquoted ``0640``. Reading that number's decimal digits as
    octal would turn 0640 (416) into 0416, a file every local user can write.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        mode = value
    else:
        text = str(value).strip()
        if not (text.isdigit() and set(text) <= set('01234567')):
            return None
        mode = int(text, 8)
    return mode if 0 <= mode <= 0o777 else None


def checked_mode(value):
    """``secret_mode`` as a number (see :func:`file_mode`); raises ``InputError``."""
    mode = file_mode(value)
    if mode is None:
        raise InputError('secret_mode: %r is not a file mode such as \'0600\' (quote it, or give '
                         'a number)' % (value,))
    if not mode & 0o400:
        raise InputError('secret_mode: %04o would leave the owner unable to read the secret'
                         % mode)
    return mode


def _account(option, value, lookup):
    """A user or group (name or number) as a number, or None."""
    if value in (None, ''):
        return None
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        return lookup(text)[2]
    except KeyError:
        raise InputError('%s: %r does not exist on this host' % (option, text))


class SecretDest:
    """The ``secret_dest`` file: its directory held open from the check to the write."""

    def __init__(self, path, mode, owner, group, dir_fd, shared):
        self.path = path
        self.name = os.path.basename(path)
        self.mode = mode
        self.owner = owner
        self.group = group
        self.dir_fd = dir_fd
        #: whether users other than root and the run's user can change the directory
        self.shared = shared

    def close(self):
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None

    __del__ = close

    def check(self):
        """Raise ``InputError`` when the file cannot take a new secret: a directory in its place,
        a file of another user in a directory others can write with no ``secret_owner``, an
        owner or group this run cannot give."""
        info = safe_path.file_info(self.dir_fd, self.name)
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise InputError('secret_dest: %s is a directory' % self.path)
        foreign = info is not None and info.st_uid != os.geteuid()
        if foreign and self.shared and self.owner is None:
            raise InputError(
                'secret_dest: %s belongs to %s, in a directory that other users can write; the '
                'module does not hand a secret to a file another user created (whoever did could '
                'read it). Remove the file, or write to a directory only this user can write, or '
                'set secret_owner (and secret_group) to say whose the file is'
                % (self.path, safe_path.user_name(info.st_uid)))
        uid, gid = self._owner_and_group(info)
        if os.geteuid() != 0 and (uid != os.geteuid() or (
                gid != os.getegid() and gid not in os.getgroups())):
            raise InputError('secret_dest: this run (uid %d) cannot give %s to uid %d, gid %d; '
                             'run as root or leave secret_owner and secret_group unset'
                             % (os.geteuid(), self.path, uid, gid))
        return info

    def _owner_and_group(self, info):
        """What the file gets: what is asked, else the replaced file's (never in a directory
        others can write, and never a link's), else the run's user and group."""
        kept = None
        if info is not None and stat.S_ISREG(info.st_mode) and not self.shared:
            kept = (info.st_uid, info.st_gid)
        uid = self.owner if self.owner is not None else (kept or (os.geteuid(),))[0]
        gid = self.group if self.group is not None else (
            kept[1] if kept and self.owner is None else os.getegid())
        return uid, gid

    def read(self):
        """The secret the file holds (its first line), or None; never through a link."""
        try:
            data = safe_path.read_file(self.dir_fd, self.name, self.path, owner_only=False)
        except (safe_path.UnsafePath, OSError):
            return None
        if not data:
            return None
        text = data.decode('utf-8', 'replace').splitlines()
        return text[0] if text else None

    def write(self, secret):
        """Write ``secret`` (and a final newline) atomically; True when the file changed."""
        info = self.check()
        uid, gid = self._owner_and_group(info)
        data = secret.encode('utf-8') + b'\n'
        as_wanted = (info is not None and stat.S_ISREG(info.st_mode) and (
            stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (self.mode, uid, gid))
        if as_wanted and safe_path.read_file(self.dir_fd, self.name, self.path,
                                             owner_only=False) == data:
            return False
        safe_path.stage(self.dir_fd, self.name, data, self.path, self.mode, uid, gid).commit()
        return True


def preflight(params):
    """Check ``secret_dest`` before any request, so that a secret is never issued into a file
    that cannot be written. Returns a :class:`SecretDest` (its directory resolved and held
    open), or None without ``secret_dest``."""
    path = params.get('secret_dest')
    if not path:
        return None
    mode = checked_mode(params.get('secret_mode', '0600'))
    if not os.path.isabs(path):
        raise InputError('secret_dest: must be an absolute path, got %s' % path)
    path = os.path.normpath(path)
    owner = _account('secret_owner', params.get('secret_owner'), pwd.getpwnam)
    group = _account('secret_group', params.get('secret_group'), grp.getgrnam)
    directory = os.path.dirname(path)
    try:
        dir_fd = safe_path.open_directory(directory)
    except safe_path.UnsafePath as exc:
        raise InputError('secret_dest: %s' % exc)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise InputError('secret_dest: the directory %s does not exist' % directory)
        raise InputError('secret_dest: the directory %s cannot be used (%s: %s)'
                         % (directory, exc.filename, exc.strerror))
    dest = SecretDest(path, mode, owner, group, dir_fd,
                      safe_path.others_may_write(os.fstat(dir_fd)))
    try:
        if not os.access('.', os.W_OK | os.X_OK, dir_fd=dir_fd):
            raise InputError('secret_dest: the directory %s is not writable' % directory)
        dest.check()
    except BaseException:
        dest.close()
        raise
    return dest
