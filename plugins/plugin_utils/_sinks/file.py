# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The ``file`` sink: the secret in a file on the controller, raw, as ``VARIABLE=secret`` or as
JSON, written by the one atomic private write (``module_utils/_secret_file.py``).

The replaced file's owner, group and mode are kept unless the sink sets ``owner``, ``group`` or
``mode`` (as ``ansible.builtin.copy`` does); a new file is 0600 and the run user's. The
preflight state is the file's previous content and attributes, kept in memory for the length
of the run (carried to the finish step in the ``ansible-playbook`` process's memory, a ``no_log``
result, when the token has a consumer check), so that :meth:`FileSink.rollback` can put it back.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import grp
import json
import os
import pwd
import re
import stat

from ansible_collections.tokenops.tokens.plugins.module_utils._secret_file import (
    attributes, file_mode, stage,
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

    def __init__(self, path=None):
        self.exists, self.data = False, None
        self.mode = self.uid = self.gid = None
        if path is None:
            return
        try:
            info = os.lstat(path)
        except OSError:
            return
        self.exists = True
        self.mode, self.uid, self.gid = info.st_mode & 0o777, info.st_uid, info.st_gid
        if not stat.S_ISREG(info.st_mode):
            return      # a link or a special file is not read (nor put back)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return      # unreadable here: it cannot be put back, but the write may still work
        try:
            with os.fdopen(fd, 'rb') as handle:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    self.data = handle.read()
        except (IOError, OSError):
            self.data = None

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

    @property
    def path(self):
        return self.options['path']

    @property
    def target(self):
        return self.path

    def describe(self):
        return '%s:%s' % (self.type, self.path)

    # -- preflight ------------------------------------------------------------------------------
    def preflight(self):
        """The directory exists and the run may create files in it, and the file can be given
        its owner and group; returns the file's :class:`Previous` content."""
        try:
            self._check_writable()
        except SinkError as exc:
            raise SinkError('%s: %s' % (self.describe(), exc))
        return Previous(self.path)

    def _check_writable(self):
        path = self.path
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            raise SinkError('%s is not a directory' % directory if os.path.lexists(directory)
                            else 'the directory %s does not exist' % directory)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise SinkError('this run (uid %d) may not create files in %s'
                            % (os.geteuid(), directory))
        if os.path.isdir(path):
            raise SinkError('%s is a directory' % path)
        dummy, uid, gid = attributes(path, self.options.get('mode'), self.options.get('owner'),
                                     self.options.get('group'))
        if not _may_own(uid, gid):
            raise SinkError('this run (uid %d) cannot give the file to uid %d, gid %d; run as '
                            'root or set owner and group to the run\'s own'
                            % (os.geteuid(), uid, gid))

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
            if os.path.isdir(self.path):
                raise SinkError('%s is a directory' % self.path)
            return stage(self.path, data, self.options.get('mode'), self.options.get('owner'),
                         self.options.get('group'))
        except (IOError, OSError) as exc:
            raise SinkError('%s cannot be written: %s' % (
                self.describe(), exc.strerror or type(exc).__name__))
        except SinkError as exc:
            raise SinkError('%s: %s' % (self.describe(), exc))

    def write(self, secret, token, record):
        """Replace the file whole (the same content written again is the same file)."""
        self.stage(secret, token, record).commit()

    # -- read back, roll back -------------------------------------------------------------------
    def read_back(self):
        """The secret the file holds (as :meth:`render` wrote it), or None."""
        from ansible.errors import AnsibleError
        try:
            with open(self.path, 'rb') as handle:
                data = handle.read()
            text = self.decode(data).decode('utf-8')
            fmt = self.options.get('format') or 'raw'
            if fmt == 'json':
                return json.loads(text).get('secret')
            if fmt == 'env':
                prefix = '%s=' % self.options['variable']
                return next((line[len(prefix):] for line in text.splitlines()
                             if line.startswith(prefix)), None)
            return text.strip() or None
        except (AnsibleError, AttributeError, OSError, SinkError, ValueError):
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
                os.unlink(self.path)
                return
            stage(self.path, state.data, state.mode, state.uid, state.gid).commit()
        except FileNotFoundError:
            pass
        except (IOError, OSError) as exc:
            raise SinkError('%s cannot be put back: %s' % (
                self.describe(), exc.strerror or type(exc).__name__))
