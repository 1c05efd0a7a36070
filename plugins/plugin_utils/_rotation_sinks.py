# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Where a new secret goes: files and ansible-vault files, written atomically, all or none.

A file is written as a temporary file created with mode 0600 in the target's own directory,
flushed to disk, given the requested mode, then renamed over the target: a reader sees the old
content or the new, never a part, and the file never has wider permissions than asked. All file
sinks of a token are staged first and renamed only when every one was staged, so a sink that
cannot be written leaves every sink with its previous content.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import tempfile

SINK_TYPES = ('file', 'vault_file', 'tasks')
FORMATS = ('raw', 'env', 'json')
_MODE = re.compile(r'^0?[0-7]{3}$')
_ENV_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
MAX_PATH = 4096


class SinkError(Exception):
    pass


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
    if isinstance(value, bool):
        raise SinkError('%s: expected an octal mode such as 0600' % option)
    if isinstance(value, int):
        mode = value
    elif isinstance(value, str) and _MODE.match(value.strip()):
        mode = int(value.strip(), 8)
    else:
        raise SinkError('%s: expected an octal mode such as 0600, got %r' % (option, value))
    if mode < 0 or mode > 0o777:
        raise SinkError('%s: must be between 0000 and 0777' % option)
    if not mode & 0o400:
        raise SinkError('%s: the owner must be able to read the file' % option)
    return mode


def check_sink(sink, option, default_variable):
    """The sink with defaults filled in, after checks that need no request."""
    if not isinstance(sink, dict):
        raise SinkError('%s: must be a dictionary with a type' % option)
    kind = sink.get('type')
    if kind not in SINK_TYPES:
        raise SinkError('%s.type: must be one of %s, got %r' % (option, ', '.join(SINK_TYPES), kind))
    allowed = {'file': ('type', 'path', 'mode', 'format', 'variable'),
               'vault_file': ('type', 'path', 'mode', 'format', 'variable', 'vault_password_file',
                              'vault_id'),
               'tasks': ('type', 'file')}[kind]
    unknown = sorted(set(sink) - set(allowed))
    if unknown:
        raise SinkError('%s: unsupported option(s) %s for a %s sink; supported: %s'
                        % (option, ', '.join(unknown), kind, ', '.join(allowed)))
    checked = dict(type=kind)
    if kind == 'tasks':
        checked['file'] = check_path(sink.get('file'), option + '.file')
        return checked
    checked['path'] = check_path(sink.get('path'), option + '.path')
    checked['mode'] = parse_mode(sink.get('mode', '0600'), option + '.mode')
    checked['format'] = sink.get('format') or 'raw'
    if checked['format'] not in FORMATS:
        raise SinkError('%s.format: must be one of %s, got %r'
                        % (option, ', '.join(FORMATS), checked['format']))
    checked['variable'] = sink.get('variable') or default_variable
    if not _ENV_NAME.match(str(checked['variable'])):
        raise SinkError('%s.variable: must be an environment variable name' % option)
    if kind == 'vault_file':
        checked['vault_password_file'] = check_path(sink.get('vault_password_file'),
                                                    option + '.vault_password_file')
        checked['vault_id'] = sink.get('vault_id') or 'default'
    return checked


def describe(sink):
    return '%s:%s' % (sink['type'], sink.get('path') or sink.get('file'))


def render(sink, secret, token, label, provider):
    fmt = sink.get('format') or 'raw'
    if fmt == 'raw':
        return secret
    if fmt == 'env':
        return '%s=%s\n' % (sink['variable'], secret)
    return json.dumps(dict(label=label, provider=provider, token_id=token.get('id'),
                           expires_at=token.get('expires_at'), secret=secret), indent=2) + '\n'


def _vault_encrypt(sink, text):
    from ansible.parsing.vault import VaultLib, VaultSecret
    try:
        with open(sink['vault_password_file'], 'rb') as handle:
            password = handle.read().strip()
    except (IOError, OSError) as exc:
        raise SinkError('vault_password_file %s cannot be read: %s'
                        % (sink['vault_password_file'], exc.strerror or exc))
    if not password:
        raise SinkError('vault_password_file %s is empty' % sink['vault_password_file'])
    secret = VaultSecret(password)
    vault = VaultLib([(sink['vault_id'], secret)])
    vault_id = sink['vault_id'] if sink['vault_id'] != 'default' else None
    return vault.encrypt(text, secret, vault_id=vault_id)


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


def stage(path, data, mode):
    """Write ``data`` to a new 0600 temporary file beside ``path``; return a :class:`Staged`."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    directory, name = os.path.split(path)
    if os.path.isdir(path):
        raise SinkError('%s is a directory' % path)
    fd, temp = tempfile.mkstemp(prefix='.%s.' % name, suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return Staged(path, temp)


def atomic_write(path, data, mode=0o600):
    stage(path, data, mode).commit()


def deliver_files(sinks, secret, token, label, provider):
    """Write the file and vault sinks of one token, all or none; return their descriptions.

    Raises ``SinkError`` naming the sink that failed; then no sink was changed.
    """
    staged = []
    try:
        for sink in sinks:
            try:
                data = render(sink, secret, token, label, provider)
                if sink['type'] == 'vault_file':
                    data = _vault_encrypt(sink, data)
                staged.append(stage(sink['path'], data, sink['mode']))
            except (IOError, OSError) as exc:
                raise SinkError('%s cannot be written: %s' % (
                    describe(sink), exc.strerror or type(exc).__name__))
            except SinkError as exc:
                raise SinkError('%s: %s' % (describe(sink), exc))
    except BaseException:
        for item in staged:
            item.abort()
        raise
    for item in staged:
        item.commit()
    return [describe(sink) for sink in sinks]
