# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The ``vault_kv`` sink: one field of a secret in a HashiCorp Vault or OpenBao KV version 2
engine, written with hvac (the client community.hashi_vault uses; an optional requirement on
the controller). The options and their environment variables are community.hashi_vault's.

- **preflight**: log in (token or AppRole), check the token (``lookup-self``), that a KV
  version 2 engine is mounted at ``engine_mount_point``, that the token may read and write the
  secret and its metadata (``sys/capabilities-self``), and read the secret's current version
  and data;
- **write**: the data read in the preflight with ``key`` set to the new secret, written with
  check-and-set against the version read then, so that a concurrent writer makes the sink fail
  (before anything is revoked) instead of being overwritten; then ``custom_metadata`` records the
  platform, label, token id, expiry and rotation time (never the secret), other keys kept;
- **read back**: the latest version's ``key``;
- **rollback**: the preflight version's data written back with check-and-set against the
  version this run wrote (a secret that did not exist is deleted again: its latest version is
  soft-deleted, so consumers read nothing, as before).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import isoformat, utcnow
from ansible_collections.tokenops.tokens.plugins.module_utils._transport import DeadlineSession
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import _options as opt
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.base import Sink, SinkError

try:
    import hvac
    from hvac import exceptions as vault_errors
    import requests
except ImportError:
    hvac = None

#: environment variables per option, first found wins (community.hashi_vault's, then Vault's)
ENV = {
    'url': ('ANSIBLE_HASHI_VAULT_ADDR', 'VAULT_ADDR'),
    'auth_method': ('ANSIBLE_HASHI_VAULT_AUTH_METHOD',),
    'token': ('ANSIBLE_HASHI_VAULT_TOKEN', 'VAULT_TOKEN'),
    'role_id': ('ANSIBLE_HASHI_VAULT_ROLE_ID', 'VAULT_ROLE_ID'),
    'secret_id': ('ANSIBLE_HASHI_VAULT_SECRET_ID', 'VAULT_SECRET_ID'),
    'namespace': ('ANSIBLE_HASHI_VAULT_NAMESPACE', 'VAULT_NAMESPACE'),
    'ca_cert': ('ANSIBLE_HASHI_VAULT_CA_CERT', 'VAULT_CACERT'),
    'timeout': ('ANSIBLE_HASHI_VAULT_TIMEOUT',),
}
AUTH_METHODS = ('token', 'approle')
DEFAULT_TIMEOUT = 30
#: custom_metadata keys this sink owns (Vault: at most 64 keys, values up to 512 bytes)
METADATA_PREFIX = 'tokenops_'
_SEGMENT = re.compile(r'^[^\x00-\x1f\x7f]+$')


def _vault_path(value, option):
    """A path inside the engine: segments separated by ``/``, no ``..``, no control chars."""
    value = opt.text(value, option, required=True).strip('/')
    segments = value.split('/')
    if not value or any(s in ('', '.', '..') or not _SEGMENT.match(s) for s in segments):
        raise SinkError('%s: expected a path such as ci/pulumi (segments without "..", no '
                        'empty segment), got %r' % (option, value))
    return value


class Previous:
    """What the secret held before the run (the preflight state; ``data`` holds secrets and
    never leaves the process: :meth:`VaultKvSink.export_state` carries the version only)."""

    __slots__ = ('version', 'exists', 'data', 'custom_metadata', 'written')

    def __init__(self, version=0, exists=False, data=None, custom_metadata=None):
        self.version = version
        self.exists = exists
        self.data = {} if data is None else data
        self.custom_metadata = custom_metadata or {}
        #: the version this run wrote (set by the write)
        self.written = None

    def __repr__(self):
        return '<Previous version=%r>' % self.version


class VaultKvSink(Sink):
    """A field of a KV version 2 secret in Vault or OpenBao."""

    type = 'vault_kv'
    OPTIONS = ('type', 'url', 'auth_method', 'mount_point', 'token', 'role_id', 'secret_id',
               'namespace', 'engine_mount_point', 'path', 'key', 'validate_certs', 'ca_cert',
               'timeout')
    can_read_back = True
    can_roll_back = True
    confirms_each_run = True

    def __init__(self, options, where, label, provider):
        super(VaultKvSink, self).__init__(options, where, label, provider)
        self._vault = None
        self._previous = None

    @classmethod
    def check_options(cls, raw, where, default_variable):
        def named(option):
            return '%s.%s' % (where, option)

        checked = dict(type=cls.type)
        checked['url'] = opt.url(opt.from_env(raw, 'url', ENV['url']),
                                 '%s (or VAULT_ADDR)' % named('url'))
        method = opt.from_env(raw, 'auth_method', ENV['auth_method']) or 'token'
        if method not in AUTH_METHODS:
            raise SinkError('%s: must be one of %s, got %r'
                            % (named('auth_method'), ', '.join(AUTH_METHODS), method))
        checked['auth_method'] = method
        checked['mount_point'] = opt.text(raw.get('mount_point'), named('mount_point'))
        if method == 'token':
            checked['token'] = opt.text(opt.from_env(raw, 'token', ENV['token']),
                                        named('token'))
            if not checked['token']:
                raise SinkError('%s: required with auth_method token (or VAULT_TOKEN)'
                                % named('token'))
        else:
            checked['role_id'] = opt.text(opt.from_env(raw, 'role_id', ENV['role_id']),
                                          named('role_id'))
            if not checked['role_id']:
                raise SinkError('%s: required with auth_method approle (or '
                                'ANSIBLE_HASHI_VAULT_ROLE_ID)' % named('role_id'))
            checked['secret_id'] = opt.text(opt.from_env(raw, 'secret_id', ENV['secret_id']),
                                            named('secret_id'))
        checked['namespace'] = opt.text(opt.from_env(raw, 'namespace', ENV['namespace']),
                                        named('namespace'))
        if checked['namespace']:
            checked['namespace'] = checked['namespace'].strip('/')
        checked['engine_mount_point'] = _vault_path(raw.get('engine_mount_point') or 'secret',
                                                    named('engine_mount_point'))
        checked['path'] = _vault_path(raw.get('path'), named('path'))
        checked['key'] = opt.text(raw.get('key') or 'token', named('key'))
        skip = opt.boolean(os.environ.get('VAULT_SKIP_VERIFY'),
                           'VAULT_SKIP_VERIFY', False)
        checked['validate_certs'] = opt.boolean(raw.get('validate_certs'),
                                                named('validate_certs'), not skip)
        checked['ca_cert'] = opt.text(opt.from_env(raw, 'ca_cert', ENV['ca_cert']),
                                      named('ca_cert'))
        checked['timeout'] = opt.seconds(opt.from_env(raw, 'timeout', ENV['timeout']),
                                         named('timeout'), DEFAULT_TIMEOUT)
        return checked

    # -- names ----------------------------------------------------------------------------------
    @property
    def secret_path(self):
        """``namespace/mount/path``: where the secret is, as Vault's UI shows it."""
        parts = [self.options.get('namespace'), self.options['engine_mount_point'],
                 self.options['path']]
        return '/'.join(p for p in parts if p)

    @property
    def target(self):
        """The secret, wherever its fields: two tokens at one path would each make the other's
        check-and-set fail. A namespace is a path prefix to Vault (``ns1`` with the mount
        ``secret`` is the mount ``ns1/secret``), so ``secret_path`` compares as Vault sees it."""
        return 'vault_kv:%s/%s' % (opt.same_place(self.options['url']), self.secret_path)

    def describe(self):
        return 'vault_kv:%s/%s#%s' % (self.options['url'], self.secret_path, self.options['key'])

    def _credentials(self):
        return [self.options.get('token'), self.options.get('secret_id'),
                self.options.get('role_id')]

    def _fail(self, message, secret=None, maybe_written=False):
        """A SinkError naming this sink, with every credential (and ``secret``) masked."""
        text = opt.redact(message, self._credentials() + [secret])
        return SinkError('%s: %s' % (self.describe(), text), maybe_written=maybe_written)

    # -- the client -----------------------------------------------------------------------------
    def _client(self):
        """A logged-in hvac client (built once per sink); raises SinkError naming the option."""
        if self._vault is not None:
            return self._vault
        if hvac is None:
            from ansible.module_utils.basic import missing_required_lib
            raise self._fail(missing_required_lib('hvac'))
        options = self.options
        verify = options['ca_cert'] if options['validate_certs'] and options['ca_cert'] \
            else options['validate_certs']
        # hvac's own session bounds each read, not the request: a server that answers a byte a
        # second would hold the run for ever. Ours ends each request within the timeout.
        client = hvac.Client(url=options['url'], token=options.get('token'),
                             namespace=options.get('namespace') or None, verify=verify,
                             timeout=options['timeout'],
                             session=DeadlineSession(options['timeout']))
        if options['auth_method'] == 'approle':
            with self._errors('the AppRole login', 'role_id and secret_id'):
                client.auth.approle.login(role_id=options['role_id'],
                                          secret_id=options.get('secret_id'),
                                          mount_point=options.get('mount_point') or 'approle')
        else:
            with self._errors('the token lookup (lookup-self)', 'token'):
                client.auth.token.lookup_self()
        self._vault = client
        return client

    def _errors(self, doing, option=None, secret=None):
        return _Errors(self, doing, option, secret)

    # -- preflight ------------------------------------------------------------------------------
    def preflight(self):
        """Logged in, a KV version 2 engine at ``engine_mount_point``, the token may read and
        write the secret and its metadata; returns the secret's :class:`Previous` state.

        What the token may do is asked first (``sys/capabilities-self`` answers for any path,
        mounted or not): a token whose policies grant nothing there is told apart from a mount
        that does not exist, which Vault answers alike to such a token."""
        client = self._client()
        capabilities = self._capabilities(client)
        mount = self.options['engine_mount_point']
        with self._errors('reading the mount %s' % mount, 'engine_mount_point'):
            try:
                found = client.adapter.get('/v1/sys/internal/ui/mounts/%s' % mount)
            except (vault_errors.Forbidden, vault_errors.InvalidPath, vault_errors.InvalidRequest):
                raise self._fail('engine_mount_point: no secrets engine is mounted at %s'
                                 % mount)
        data = (found or {}).get('data') or {}
        version = str(((data.get('options') or {}).get('version')) or '1')
        if data.get('type') not in ('kv', 'generic') or version != '2':
            raise self._fail('engine_mount_point: %s is a %s engine (version %s); the vault_kv '
                             'sink needs KV version 2' % (mount, data.get('type'), version))
        previous = self._read_previous(client)
        self._check_capabilities(capabilities, previous.exists)
        self._previous = previous
        return previous

    def _read_previous(self, client):
        mount, path = self.options['engine_mount_point'], self.options['path']
        with self._errors('reading the metadata of %s' % self.secret_path, 'path'):
            try:
                meta = client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount)
            except vault_errors.InvalidPath:
                return Previous()
        meta = (meta or {}).get('data') or {}
        version = int(meta.get('current_version') or 0)
        custom = meta.get('custom_metadata') or {}
        about = (meta.get('versions') or {}).get(str(version)) or {}
        if not version or about.get('deletion_time') or about.get('destroyed'):
            return Previous(version, exists=bool(version), data={}, custom_metadata=custom)
        with self._errors('reading %s' % self.secret_path, 'path'):
            answer = client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=mount, version=version, raise_on_deleted_version=True)
        data = ((answer or {}).get('data') or {}).get('data') or {}
        return Previous(version, exists=True, data=dict(data), custom_metadata=custom)

    @property
    def _paths(self):
        """The API paths of the secret's data and metadata (inside a namespace: relative)."""
        mount, path = self.options['engine_mount_point'], self.options['path']
        return '%s/data/%s' % (mount, path), '%s/metadata/%s' % (mount, path)

    def _capabilities(self, client):
        """What the token's policies grant on the data and metadata paths; fails naming
        ``path`` when they grant nothing at all there."""
        data_path, meta_path = self._paths
        with self._errors('checking what this token may do (sys/capabilities-self)', 'path'):
            answer = client.sys.get_capabilities(paths=[data_path, meta_path])
        found = (answer or {}).get('data') or answer or {}
        granted = dict((where, set(found.get(where) or [])) for where in (data_path, meta_path))
        if not granted[data_path] - set(['deny']):
            raise self._fail('path: this token\'s policies grant nothing on %s (a token with '
                             'only the default policy, or a deny); it needs read and create or '
                             'update there, read and update on %s' % (data_path, meta_path))
        return granted

    def _check_capabilities(self, granted, exists):
        data_path, meta_path = self._paths
        # Writing the data of a secret that does not exist needs create, of one that does update;
        # its metadata exists by the time custom_metadata is written: update.
        needs = {data_path: ('read', 'update' if exists else 'create'),
                 meta_path: ('read', 'update')}
        missing = []
        for where, wanted in sorted(needs.items()):
            have = granted[where]
            if 'root' in have:
                continue
            lacking = [cap for cap in wanted if cap not in have or 'deny' in have]
            if lacking:
                missing.append('%s on %s' % ('/'.join(lacking), where))
        if missing:
            raise self._fail('path: this token may not write the secret: its policies lack %s'
                             % '; '.join(missing))

    # -- write ----------------------------------------------------------------------------------
    def journal_record(self, token):
        """The check-and-set version: the version read in the preflight."""
        previous = self._previous or Previous()
        return dict(cas=previous.version)

    def write(self, secret, token, record):
        client = self._client()
        previous = self._previous
        if previous is None:
            raise self._fail('written before its preflight (a bug)')
        cas = (record or {}).get('cas', previous.version)
        key = self.options['key']
        if previous.data.get(key) == secret:
            return          # replayed: the secret is there already
        data = dict(previous.data)
        data[key] = secret
        mount, path = self.options['engine_mount_point'], self.options['path']
        try:
            answer = client.secrets.kv.v2.create_or_update_secret(
                path=path, secret=data, cas=cas, mount_point=mount)
        except vault_errors.InvalidRequest as exc:
            if 'check-and-set' in str(exc):
                raise self._fail('the secret changed after the check before issuing (version '
                                 '%d is no longer the current one): another writer; nothing was '
                                 'written' % cas, secret)
            raise self._fail('Vault refused the write: %s' % opt.first_line(exc.args[0]), secret)
        except (vault_errors.VaultError, requests.exceptions.RequestException) as exc:
            previous.written = self._settle(client, cas, secret, exc)
        else:
            previous.written = int(((answer or {}).get('data') or {}).get('version') or cas + 1)
        self._record_metadata(client, token)

    def _settle(self, client, cas, secret, exc):
        """After a write that failed without a clear answer: read back whether it happened;
        the version written, or raise (``maybe_written`` when it cannot be told)."""
        try:
            current = self._read_previous(client)
        except SinkError:
            raise self._fail('the write failed (%s) and whether Vault took it cannot be read '
                             'back' % _reason(exc), secret, maybe_written=True)
        if current.version > cas and current.data.get(self.options['key']) == secret:
            return current.version
        raise self._fail('the write failed: %s; nothing was written' % _reason(exc), secret)

    def _record_metadata(self, client, token):
        """``custom_metadata``: the platform, label, token id, expiry and rotation time, beside
        the keys others keep there. Posted without hvac's ``update_metadata``, which would reset
        the secret's ``delete_version_after`` to its default."""
        previous = self._previous
        custom = dict(previous.custom_metadata)
        custom.update({
            METADATA_PREFIX + 'platform': str(self.provider),
            METADATA_PREFIX + 'label': str(self.label)[:512],
            METADATA_PREFIX + 'token_id': str(token.get('id') or '')[:512] or 'unknown',
            METADATA_PREFIX + 'expires_at': str(token.get('expires_at') or 'never'),
            METADATA_PREFIX + 'rotated_at': isoformat(utcnow()),
        })
        mount, path = self.options['engine_mount_point'], self.options['path']
        try:
            client.adapter.post('/v1/%s/metadata/%s' % (mount, path),
                                json=dict(custom_metadata=custom))
        except (vault_errors.VaultError, requests.exceptions.RequestException) as exc:
            self.notes.append('%s: the secret was written, but its custom_metadata could not '
                              'be updated (%s)' % (self.describe(), _reason(exc)))

    # -- read back, roll back -------------------------------------------------------------------
    def read_back(self):
        previous = self._read_previous(self._client())
        value = (previous.data or {}).get(self.options['key'])
        return str(value) if value not in (None, '') else None

    def export_state(self, state):
        if not isinstance(state, Previous):
            return None
        return dict(version=state.version, exists=state.exists, written=state.written,
                    custom_metadata=state.custom_metadata)

    def import_state(self, data):
        if not data:
            return None
        state = Previous(data.get('version') or 0, bool(data.get('exists')), None,
                         data.get('custom_metadata'))
        state.data = None           # not carried: read from Vault's version history if needed
        state.written = data.get('written')
        return state

    def rollback(self, state):
        """The preflight version's data written back (check-and-set against the version this
        run wrote), or the secret deleted again when it did not exist."""
        if state is None or not state.written:
            raise self._fail('what this run wrote is not known, so it cannot be put back')
        client = self._client()
        mount, path = self.options['engine_mount_point'], self.options['path']
        current = self._read_previous(client)
        if current.version != state.written:
            raise self._fail('the secret changed after this run wrote version %d (now version '
                             '%d): not put back over another writer'
                             % (state.written, current.version))
        with self._errors('putting back version %d' % state.version, 'path'):
            if not state.exists or not state.version:
                client.secrets.kv.v2.delete_latest_version_of_secret(path=path,
                                                                     mount_point=mount)
            else:
                data = state.data
                if data is None:
                    data = client.secrets.kv.v2.read_secret_version(
                        path=path, mount_point=mount, version=state.version,
                        raise_on_deleted_version=True)['data']['data']
                client.secrets.kv.v2.create_or_update_secret(
                    path=path, secret=data, cas=state.written, mount_point=mount)
            client.adapter.post('/v1/%s/metadata/%s' % (mount, path),
                                json=dict(custom_metadata=state.custom_metadata or {}))


def _reason(exc):
    if hvac is not None and isinstance(exc, requests.exceptions.RequestException):
        return type(exc).__name__
    return opt.first_line(exc.args[0] if getattr(exc, 'args', None) else exc)


class _Errors:
    """Turns what hvac and requests raise into a SinkError naming the sink and ``option``."""

    def __init__(self, sink, doing, option, secret):
        self.sink, self.doing, self.option, self.secret = sink, doing, option, secret

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, SinkError):
            return False
        sink, options = self.sink, self.sink.options
        if hvac is None:
            return False
        if isinstance(exc, requests.exceptions.SSLError):
            raise sink._fail('url: the TLS certificate of %s cannot be verified (validate_certs, '
                             'ca_cert)' % options['url'], self.secret)
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            raise sink._fail('url: %s cannot be reached (%s)' % (options['url'],
                                                                 type(exc).__name__),
                             self.secret)
        if isinstance(exc, requests.exceptions.RequestException):
            raise sink._fail('%s failed: %s' % (self.doing, type(exc).__name__), self.secret)
        if isinstance(exc, (vault_errors.Unauthorized, vault_errors.Forbidden,
                            vault_errors.InvalidRequest)) \
                and self.option in ('token', 'role_id and secret_id'):
            raise sink._fail('%s: Vault refused %s (%s)' % (
                self.option, 'the token' if self.option == 'token' else 'the AppRole login',
                _reason(exc)), self.secret)
        if isinstance(exc, (vault_errors.Forbidden, vault_errors.Unauthorized)):
            raise sink._fail('%s: permission denied while %s (%s)'
                             % (self.option or 'token', self.doing, _reason(exc)), self.secret)
        if isinstance(exc, vault_errors.InvalidPath) and self.option == 'role_id and secret_id':
            raise sink._fail('mount_point: no AppRole auth method is mounted at %s'
                             % (options.get('mount_point') or 'approle'), self.secret)
        if isinstance(exc, vault_errors.VaultError):
            raise sink._fail('%s failed: %s' % (self.doing, _reason(exc)), self.secret)
        return False
