# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""``secret_dest``: a managing module hands the secret it issued to a file on the target.

The file is written the way the rotation role's file sink writes one: a temporary file beside
the target, created 0600, written and flushed to disk, given its final mode (and the owner and
group of the file it replaces) while still private, then renamed over the target in one step.
``AnsibleModule.atomic_move`` is not used for the rename: when it creates a file it widens the
mode to 0666 minus the umask after the rename, which would expose the secret for a moment.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import tempfile

from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import InputError


def secret_file_argument_spec():
    """``secret_dest``, ``secret_mode`` and ``allow_secret_loss``: every managing module."""
    return dict(
        secret_dest=dict(type='path'),
        secret_mode=dict(type='raw', default='0600', no_log=False),   # a file mode
        allow_secret_loss=dict(type='bool', default=False),
    )


def checked_mode(value):
    """``secret_mode`` as a number; raises ``InputError``.

    As for ``ansible.builtin.copy``: a string is octal (``'0640'``); a number is the mode itself,
    which is what YAML makes of an unquoted ``0640``. Reading that number's decimal digits as
    octal would turn 0640 (416) into 0416, a file every local user can write.
    """
    if isinstance(value, bool):
        mode = -1
    elif isinstance(value, int):
        mode = value
    else:
        text = str(value).strip()
        mode = int(text, 8) if text.isdigit() and set(text) <= set('01234567') else -1
    if not 0 <= mode <= 0o777:
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
    """Write ``secret`` (and a final newline) to ``path`` atomically; True when it changed."""
    data = secret.encode('utf-8') + b'\n'
    try:
        current = os.stat(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
        current = None
    if current is not None and _same_content(path, data) and (current.st_mode & 0o7777) == mode:
        return False
    directory, name = os.path.split(path)
    fd, temp = tempfile.mkstemp(prefix='.%s.' % name, suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            if current is not None and (current.st_uid, current.st_gid) != (os.geteuid(),
                                                                            os.getegid()):
                os.fchown(handle.fileno(), current.st_uid, current.st_gid)
            os.fchmod(handle.fileno(), mode)
        os.rename(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return True
