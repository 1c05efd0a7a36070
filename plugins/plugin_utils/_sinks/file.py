# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The ``file`` sink: the secret in a file on the controller, raw, as ``VARIABLE=secret`` or as
JSON, written by the one atomic private write (``module_utils/_safe_path.py``).

The directory is resolved once, at the preflight (a symbolic link on the way that belongs to
another user than root and the run's user is refused: it may point anywhere), and every read,
write and rollback happens relative to that descriptor, never through a link.

The replaced file's owner, group and mode are kept unless the sink sets ``owner``, ``group`` or
``mode`` (as ``ansible.builtin.copy`` does); a new file is 0600 and the run user's. In a
directory other users can write (group or world writable, sticky or not, or another user's
own), a file that another user owns is not inherited: whoever created it could read the secret.
The sink refuses it unless ``owner`` says whose the file is, and there the new file's owner,
group and mode are never taken from what was there (0600 unless ``mode`` says otherwise). This is
stricter than ``ansible.builtin.copy`` because the content is a secret.

The preflight state is the file's previous content and attributes, kept in memory for the length
of the run (carried to the finish step in the ``ansible-playbook`` process's memory, a ``no_log``
result, when the token has a consumer check), so that :meth:`FileSink.rollback` can put it back.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import errno
import grp
import json
import os
import pwd
import re
import stat

from ansible_collections.tokenops.tokens.plugins.module_utils import _safe_path as safe_path
from ansible_collections.tokenops.tokens.plugins.module_utils._secret_file import (
    DEFAULT_MODE, file_mode,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.base import Sink, SinkError

FORMATS = ('raw', 'env', 'json')
_ENV_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
MAX_PATH = 4096


def check_path(value, option):
    """An absolute, normalised path without ``..`` or NUL; raise ``SinkError`` naming ``option``."""
    if not isinstance(value, str) or not value:
        raise SinkError('%s: required, an absolute path' % option)
    if '\x00' in value or len(value) > MAX_PATH:
        raise SinkError('%s: not a usable path' % option)
    if not os.path.isabs(value):
        raise SinkError('%s: must be an absolute path, got %r' % (option, value))
    if '..' in value.split('/'):
        raise SinkError('%s: must not contain ".." segments' % option)
    if value.endswith('/'):
        raise SinkError('%s: names a directory; give a file path' % option)
    return os.path.normpath(value)


def parse_mode(value, option):
    mode = file_mode(value)
    if mode is None:
        raise SinkError('%s: expected an octal mode such as 0600, got %r' % (option, value))
    if not mode & 0o400:
        raise SinkError('%s: the owner must be able to read the file' % option)
    return mode


def check_account(value, option, lookup):
    """A user or group (name or number) as a number, or None; raise ``SinkError`` naming
    ``option`` when it does not exist here."""
    if value is None or value == '':
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SinkError('%s: expected a name or a number' % option)
    if isinstance(value, int) or value.isdigit():
        return int(value)
    try:
        entry = lookup(value)
    except KeyError:
        raise SinkError('%s: %r does not exist on the controller' % (option, value))
    return entry[2]


def _may_own(uid, gid):
    """Whether this run can give a file to ``uid``:``gid`` (root can; others keep their own)."""
    if os.geteuid() == 0:
        return True
    return uid == os.geteuid() and (gid == os.getegid() or gid in os.getgroups())


class Previous:
    """What a file sink held before the run (its preflight state): never printed."""

    __slots__ = ('exists', 'data', 'mode', 'uid', 'gid')

    def __init__(self, dir_fd=None, name=None, where=None):
        self.exists, self.data = False, None
        self.mode = self.uid = self.gid = None
        if dir_fd is None:
            return
        info = safe_path.file_info(dir_fd, name)
        if info is None:
            return
        self.exists = True
        self.mode, self.uid, self.gid = info.st_mode & 0o777, info.st_uid, info.st_gid
        if not stat.S_ISREG(info.st_mode):
            return      # a link or a special file is not read (nor put back)
        try:
            self.data = safe_path.read_file(dir_fd, name, where, owner_only=False)
        except (safe_path.UnsafePath, IOError, OSError):
            self.data = None    # unreadable: it cannot be put back, but the write may work

    def __repr__(self):
        return '<Previous exists=%r>' % self.exists

    def export(self):
        """As JSON-able data (the content base64-encoded): for the role's ``no_log`` result."""
        return dict(exists=self.exists, mode=self.mode, uid=self.uid, gid=self.gid,
                    data=None if self.data is None else base64.b64encode(self.data).decode())

    @classmethod
    def load(cls, data):
        previous = cls()
        data = data or {}
        previous.exists = bool(data.get('exists'))
        previous.mode, previous.uid, previous.gid = data.get('mode'), data.get('uid'), \
            data.get('gid')
        if data.get('data') is not None:
            previous.data = base64.b64decode(data['data'])
        return previous


class FileSink(Sink):
    """A file on the controller."""

    type = 'file'
    OPTIONS = ('type', 'path', 'mode', 'owner', 'group', 'format', 'variable')
    can_read_back = True
    can_roll_back = True

    @classmethod
    def check_options(cls, raw, where, default_variable):
        checked = dict(type=cls.type)
        checked['path'] = check_path(raw.get('path'), where + '.path')
        # None: keep the replaced file's mode (0600 for a new file); likewise owner and group.
        checked['mode'] = None if raw.get('mode') is None else parse_mode(raw['mode'],
                                                                          where + '.mode')
        checked['owner'] = check_account(raw.get('owner'), where + '.owner', pwd.getpwnam)
        checked['group'] = check_account(raw.get('group'), where + '.group', grp.getgrnam)
        checked['format'] = raw.get('format') or 'raw'
        if checked['format'] not in FORMATS:
            raise SinkError('%s.format: must be one of %s, got %r'
                            % (where, ', '.join(FORMATS), checked['format']))
        checked['variable'] = raw.get('variable') or default_variable
        if not _ENV_NAME.match(str(checked['variable'])):
            raise SinkError('%s.variable: must be an environment variable name' % where)
        return checked

    _dir_fd = None
    #: whether users other than root and the run's user can change the directory (see _directory)
    shared = False

    @property
    def path(self):
        return self.options['path']

    @property
    def name(self):
        return os.path.basename(self.path)

    def _directory(self):
        """The descriptor of the file's directory, resolved once (``_safe_path``)."""
        if self._dir_fd is None:
            directory = os.path.dirname(self.path)
            try:
                self._dir_fd = safe_path.open_directory(directory)
            except safe_path.UnsafePath as exc:
                raise SinkError(str(exc))
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    raise SinkError('the directory %s does not exist' % directory)
                if exc.errno == errno.ENOTDIR:
                    raise SinkError('%s is not a directory' % exc.filename)
                raise SinkError('the directory %s cannot be used: %s'
                                % (directory, exc.strerror))
            self.shared = safe_path.others_may_write(os.fstat(self._dir_fd))
        return self._dir_fd

    def close(self):
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None

    __del__ = close

    @property
    def target(self):
        return self.path

    def describe(self):
        return '%s:%s' % (self.type, self.path)

    # -- preflight ------------------------------------------------------------------------------
    def preflight(self):
        """The directory exists (resolved once) and the run may create files in it, and the file
        can be given its owner and group; returns the file's :class:`Previous` content."""
        try:
            self._check_writable()
            return Previous(self._directory(), self.name, self.path)
        except SinkError as exc:
            raise SinkError('%s: %s' % (self.describe(), exc))

    def _check_writable(self):
        dir_fd = self._directory()
        if not os.access('.', os.W_OK | os.X_OK, dir_fd=dir_fd):
            raise SinkError('this run (uid %d) may not create files in %s'
                            % (os.geteuid(), os.path.dirname(self.path)))
        mode, uid, gid = self.attributes()
        if not _may_own(uid, gid):
            raise SinkError('this run (uid %d) cannot give the file to uid %d, gid %d; run as '
                            'root or set owner and group to the run\'s own'
                            % (os.geteuid(), uid, gid))

    def attributes(self):
        """``(mode, uid, gid)`` the new file gets: what the sink asks, else what the replaced
        file had (not in a directory others can write), else 0600 and the run's user and group.
        Raises ``SinkError`` for a directory in the file's place, and for another user's file in
        a directory others can write when the sink does not name the owner."""
        info = safe_path.file_info(self._directory(), self.name)
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise SinkError('%s is a directory' % self.path)
        asked = (self.options.get('mode'), self.options.get('owner'), self.options.get('group'))
        if info is not None and self.shared and info.st_uid != os.geteuid():
            if asked[1] is None:
                raise SinkError(
                    '%s belongs to %s, in a directory that other users can write: the sink does '
                    'not hand a secret to a file another user created (whoever did could read it). '
                    'Remove the file, or set owner (and mode, group) to say whose the new file is'
                    % (self.path, safe_path.user_name(info.st_uid)))
        kept = (DEFAULT_MODE, os.geteuid(), os.getegid())
        if info is not None and stat.S_ISREG(info.st_mode) and not self.shared:
            kept = (info.st_mode & 0o777, info.st_uid, info.st_gid)
        return tuple(kept[n] if asked[n] is None else asked[n] for n in range(3))

    # -- write ----------------------------------------------------------------------------------
    def render(self, secret, token):
        """The file's text: the secret in the sink's ``format``."""
        fmt = self.options.get('format') or 'raw'
        if fmt == 'raw':
            return secret
        if fmt == 'env':
            return '%s=%s\n' % (self.options['variable'], secret)
        return json.dumps(dict(label=self.label, provider=self.provider,
                               token_id=token.get('id'), expires_at=token.get('expires_at'),
                               secret=secret), indent=2) + '\n'

    def encode(self, text):
        """The bytes on disk for ``text`` (a vault file encrypts them)."""
        return text

    def decode(self, data):
        """The text of the bytes on disk (a vault file decrypts them)."""
        return data

    def stage(self, secret, token, record):
        """A temporary file beside the target holding the new content; ``commit()`` renames it
        over the target. Raises ``SinkError`` naming the sink."""
        try:
            data = self.encode(self.render(secret, token))
            mode, uid, gid = self.attributes()
            return safe_path.stage(self._directory(), self.name, data, self.path, mode, uid, gid)
        except (IOError, OSError) as exc:
            raise SinkError('%s cannot be written: %s%s' % (
                self.describe(), exc.strerror or type(exc).__name__,
                ' (%s)' % exc.filename if exc.filename else ''))
        except SinkError as exc:
            raise SinkError('%s cannot be written: %s' % (self.describe(), exc))

    def write(self, secret, token, record):
        """Replace the file whole (the same content written again is the same file)."""
        self.stage(secret, token, record).commit()

    # -- read back, roll back -------------------------------------------------------------------
    def read_back(self):
        """The secret the file holds (as :meth:`render` wrote it), or None."""
        from ansible.errors import AnsibleError
        try:
            data = safe_path.read_file(self._directory(), self.name, self.path, owner_only=False)
            if data is None:
                return None
            text = self.decode(data).decode('utf-8')
            fmt = self.options.get('format') or 'raw'
            if fmt == 'json':
                return json.loads(text).get('secret')
            if fmt == 'env':
                prefix = '%s=' % self.options['variable']
                return next((line[len(prefix):] for line in text.splitlines()
                             if line.startswith(prefix)), None)
            return text.strip() or None
        except (AnsibleError, AttributeError, OSError, SinkError, ValueError,
                safe_path.UnsafePath):
            return None

    def export_state(self, state):
        return state.export() if isinstance(state, Previous) else None

    def import_state(self, data):
        return Previous.load(data) if data is not None else None

    def rollback(self, state):
        """Put back the content, owner, group and mode the file had before the run (or remove
        it when there was none)."""
        if state is None or (state.exists and state.data is None):
            raise SinkError('%s: its previous content could not be read, so it cannot be put '
                            'back' % self.describe())
        try:
            if not state.exists:
                safe_path.remove_file(self._directory(), self.name)
                return
            safe_path.stage(self._directory(), self.name, state.data, self.path, state.mode,
                            state.uid, state.gid).commit()
        except FileNotFoundError:
            pass
        except (IOError, OSError) as exc:
            raise SinkError('%s cannot be put back: %s' % (
                self.describe(), exc.strerror or type(exc).__name__))
