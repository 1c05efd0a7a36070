# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Where a new secret goes: files and ansible-vault files, written atomically, all or none.

A file is written as a temporary file created with mode 0600 in the target's own directory,
flushed to disk, given the requested mode, then renamed over the target: a reader sees the old
content or the new, never a part, and the file never has wider permissions than asked. The
replaced file's owner, group and mode are kept unless the sink sets ``owner``, ``group`` or
``mode`` (as ``ansible.builtin.copy`` does). All file sinks of a token are staged first and renamed
only when every one was staged, so a sink that cannot be written leaves every sink with its
previous content.

:func:`preflight` checks a sink before anything is issued: a sink that cannot take the new
secret fails its token while the previous secret still works.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import grp
import json
import os
import pwd
import re
import tempfile

SINK_TYPES = ('file', 'vault_file', 'tasks')
FORMATS = ('raw', 'env', 'json')
_MODE = re.compile(r'^0?[0-7]{3}$')
_ENV_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
MAX_PATH = 4096
DEFAULT_MODE = 0o600


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
    allowed = {'file': ('type', 'path', 'mode', 'owner', 'group', 'format', 'variable'),
               'vault_file': ('type', 'path', 'mode', 'owner', 'group', 'format', 'variable',
                              'vault_password_file', 'vault_id'),
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
    # None: keep the replaced file's mode (0600 for a new file); likewise owner and group.
    checked['mode'] = None if sink.get('mode') is None else parse_mode(sink['mode'],
                                                                       option + '.mode')
    checked['owner'] = check_account(sink.get('owner'), option + '.owner', pwd.getpwnam)
    checked['group'] = check_account(sink.get('group'), option + '.group', grp.getgrnam)
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


def _vault(sink):
    """``(VaultLib, VaultSecret)`` of a vault sink's password file.

    Read as ansible-vault reads ``--vault-password-file``: a plain file holds the password, an
    executable is run and prints it (a client script gets the vault id).
    """
    from ansible.errors import AnsibleError
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultLib, get_file_vault_secret
    try:
        secret = get_file_vault_secret(filename=sink['vault_password_file'],
                                       vault_id=sink['vault_id'], loader=DataLoader())
        secret.load()
    except (AnsibleError, IOError, OSError) as exc:
        raise SinkError('vault_password_file %s cannot be read: %s'
                        % (sink['vault_password_file'], _first_line(exc)))
    if not secret.bytes:
        raise SinkError('vault_password_file %s is empty' % sink['vault_password_file'])
    return VaultLib([(sink['vault_id'], secret)]), secret


def _first_line(exc):
    text = str(getattr(exc, 'message', None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_task_file(path):
    """The task file parses as a list of tasks, so that a typo is found before issuing rather
    than by ansible-core aborting the play after the secret was issued."""
    from ansible.errors import AnsibleError
    from ansible.parsing.dataloader import DataLoader
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise SinkError('the task file does not exist or cannot be read')
    try:
        tasks = DataLoader().load_from_file(path)
    except AnsibleError as exc:
        raise SinkError('the task file is not valid YAML: %s' % _first_line(exc))
    if tasks is not None and not isinstance(tasks, list):
        raise SinkError('the task file must hold a list of tasks')


def _check_vault(sink):
    """The password file works, and opens the file it replaces when that is a vault."""
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import is_encrypted
    vault = _vault(sink)[0]
    try:
        with open(sink['path'], 'rb') as handle:
            existing = handle.read()
    except (IOError, OSError):
        return
    if is_encrypted(existing):
        try:
            vault.decrypt(existing)
        except AnsibleError:
            raise SinkError('the password in vault_password_file %s does not open the existing '
                            'vault file' % sink['vault_password_file'])


def _vault_encrypt(sink, text):
    vault, secret = _vault(sink)
    vault_id = sink['vault_id'] if sink['vault_id'] != 'default' else None
    return vault.encrypt(text, secret, vault_id=vault_id)


def read_secret(sink):
    """The secret a file or vault sink holds (as :func:`render` wrote it), or None."""
    from ansible.errors import AnsibleError
    try:
        with open(sink['path'], 'rb') as handle:
            data = handle.read()
        if sink['type'] == 'vault_file':
            data = _vault(sink)[0].decrypt(data)
        text = data.decode('utf-8')
        fmt = sink.get('format') or 'raw'
        if fmt == 'json':
            return json.loads(text).get('secret')
        if fmt == 'env':
            prefix = '%s=' % sink['variable']
            return next((line[len(prefix):] for line in text.splitlines()
                         if line.startswith(prefix)), None)
        return text.strip() or None
    except (AnsibleError, AttributeError, OSError, SinkError, ValueError):
        return None


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


def stat_mode(info):
    return info.st_mode & 0o777


def stage(path, data, mode=None, owner=None, group=None):
    """Write ``data`` to a new 0600 temporary file beside ``path``, give it its owner, group and
    mode (see :func:`attributes`); return a :class:`Staged`."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    directory, name = os.path.split(path)
    if os.path.isdir(path):
        raise SinkError('%s is a directory' % path)
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


def atomic_write(path, data, mode=0o600):
    """Replace ``path`` whole with ``data``; the file is the run user's, with ``mode``."""
    stage(path, data, mode, os.geteuid(), os.getegid()).commit()


def _may_own(uid, gid):
    """Whether this run can give a file to ``uid``:``gid`` (root can; others keep their own)."""
    if os.geteuid() == 0:
        return True
    return uid == os.geteuid() and (gid == os.getegid() or gid in os.getgroups())


def preflight(sink):
    """Raise ``SinkError`` (naming the sink and why) when ``sink`` could not take a new secret.

    Runs before anything is issued: the directory exists and the run may create files in it,
    the file can be given its owner and group, a vault password file works, a task file exists.
    """
    try:
        _preflight(sink)
    except SinkError as exc:
        raise SinkError('%s: %s' % (describe(sink), exc))


def _preflight(sink):
    if sink['type'] == 'tasks':
        _check_task_file(sink['file'])
        return
    path = sink['path']
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise SinkError('%s is not a directory' % directory if os.path.lexists(directory)
                        else 'the directory %s does not exist' % directory)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SinkError('this run (uid %d) may not create files in %s'
                        % (os.geteuid(), directory))
    if os.path.isdir(path):
        raise SinkError('%s is a directory' % path)
    dummy, uid, gid = attributes(path, sink.get('mode'), sink.get('owner'), sink.get('group'))
    if not _may_own(uid, gid):
        raise SinkError('this run (uid %d) cannot give the file to uid %d, gid %d; run as root '
                        'or set owner and group to the run\'s own' % (os.geteuid(), uid, gid))
    if sink['type'] == 'vault_file':
        _check_vault(sink)


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
                staged.append(stage(sink['path'], data, sink.get('mode'), sink.get('owner'),
                                    sink.get('group')))
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
