# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Every file that may hold a secret is written here, one way.

:func:`stage` writes a temporary file beside the target, created 0600, flushed to disk and given
its final owner, group and mode while still private; :meth:`Staged.commit` renames it over the
target in one step and flushes the directory. A reader sees the old content or the new, never a
part, and the file never has wider permissions than asked. ``AnsibleModule.atomic_move`` is not
used for the rename: when it creates a file it widens the mode to 0666 minus the umask after the
rename, which would expose the secret for a moment.

Users: ``secret_dest`` of the managing modules (:func:`write_secret`), and on the controller the
rotation role's file sinks, journal, report and hand-off (``plugin_utils``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import tempfile

from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import InputError

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


def secret_file_argument_spec():
    """``secret_dest``, ``secret_mode`` and ``allow_secret_loss``: every managing module."""
    return dict(
        secret_dest=dict(type='path'),
        secret_mode=dict(type='raw', default='0600', no_log=False),   # a file mode
        allow_secret_loss=dict(type='bool', default=False),
    )


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


def preflight(params):
    """Check ``secret_dest`` before any request, so that a secret is never issued into a file
    that cannot be written. Returns ``(path, mode)`` or ``(None, None)``."""
    path = params.get('secret_dest')
    if not path:
        return None, None
    mode = checked_mode(params.get('secret_mode', '0600'))
    if not os.path.isabs(path):
        raise InputError('secret_dest: must be an absolute path, got %s' % path)
    directory = os.path.dirname(path)
    if os.path.isdir(path):
        raise InputError('secret_dest: %s is a directory' % path)
    if not os.path.isdir(directory):
        raise InputError('secret_dest: the directory %s does not exist' % directory)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InputError('secret_dest: the directory %s is not writable' % directory)
    return path, mode


def _same_content(path, data):
    try:
        with open(path, 'rb') as handle:
            return handle.read() == data
    except (IOError, OSError):
        return False


def write_secret(path, secret, mode):
    """Write ``secret`` (and a final newline) to ``path`` atomically, keeping the replaced
    file's owner and group; True when it changed."""
    data = secret.encode('utf-8') + b'\n'
    try:
        current = os.stat(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
        current = None
    if current is not None and _same_content(path, data) and (current.st_mode & 0o7777) == mode:
        return False
    stage(path, data, mode).commit()
    return True


# -- the one atomic private write ------------------------------------------------------------

class Staged:
    """A temporary file next to its target, ready to be renamed over it."""

    def __init__(self, target, temp):
        self.target = target
        self.temp = temp

    def commit(self):
        os.replace(self.temp, self.target)
        _fsync_directory(os.path.dirname(self.target))

    def abort(self):
        try:
            os.unlink(self.temp)
        except OSError:
            pass


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def stat_mode(info):
    return info.st_mode & 0o777


def attributes(path, mode=None, owner=None, group=None):
    """``(mode, uid, gid)`` the file at ``path`` gets: what is asked, else what the replaced file
    had, else 0600 and the run's user and group."""
    try:
        info = os.stat(path)
        kept = (stat_mode(info), info.st_uid, info.st_gid)
    except OSError:
        kept = (DEFAULT_MODE, os.geteuid(), os.getegid())
    return (kept[0] if mode is None else mode, kept[1] if owner is None else owner,
            kept[2] if group is None else group)


def stage(path, data, mode=None, owner=None, group=None):
    """Write ``data`` to a new 0600 temporary file beside ``path``, give it its owner, group and
    mode (see :func:`attributes`); return a :class:`Staged`. Raises ``IsADirectoryError`` when
    ``path`` is a directory."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    directory, name = os.path.split(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, '%s is a directory' % path, path)
    mode, uid, gid = attributes(path, mode, owner, group)
    fd, temp = tempfile.mkstemp(prefix='.%s.' % name, suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            info = os.fstat(handle.fileno())
            if (info.st_uid, info.st_gid) != (uid, gid):
                os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return Staged(path, temp)


def atomic_write(path, data, mode=0o600):
    """Replace ``path`` whole with ``data``; the file is the run user's, with ``mode``."""
    stage(path, data, mode, os.geteuid(), os.getegid()).commit()


def make_private_dir(path):
    """Create ``path`` and each missing parent 0700, whatever the umask; leave existing ones."""
    path = os.path.abspath(path)
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            if not os.path.isdir(directory):
                raise
            continue
        os.chmod(directory, 0o700)
