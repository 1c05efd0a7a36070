# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The ``github_secret`` sink: a GitHub Actions secret of a repository, of an environment of a
repository, or of an organization (GitHub's REST API, docs.github.com/rest/actions/secrets).

The value is sealed with the target's public key (a libsodium sealed box, PyNaCl, as GitHub
documents and community.general's ``github_secrets`` does) and written with the key's
``key_id``: ``PUT .../secrets/KEY`` creates or replaces it, so a write replayed after a crash
writes the same value again and nothing more. GitHub never returns a secret's value, so the
write is confirmed by the secret's ``updated_at``; the sink can be neither read back nor rolled
back. The preflight reads the public key, so a wrong token, a missing repository, environment or
organization, or a token without the permission fails before anything is issued.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import os
import re
from datetime import datetime, timedelta, timezone

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, ApiClient, ApiError, AuthenticationError, TokenOpsError,
    decode_json_error,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import _options as opt
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.base import Sink, SinkError

DEFAULT_API_URL = 'https://api.github.com'
TOKEN_ENV = ('GITHUB_TOKEN', 'GH_TOKEN')
VISIBILITIES = ('all', 'private', 'selected')
_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_PART = re.compile(r'^(?!\.\.?$)[A-Za-z0-9_.-]+$')      # a name, never . or ..
_ENVIRONMENT = re.compile(r'^(?!\.\.?$)[^/\x00-\x1f]+$')
API_VERSION = '2022-11-28'
#: how far GitHub's clock may be behind the controller's when a write is confirmed by time
CLOCK_SKEW = timedelta(minutes=5)


def _github_error(body):
    """``{"message", "documentation_url", "status"}``."""
    return body.get('message'), None


def _check_url(value, option):
    try:
        from urllib.parse import urlsplit
        parts = urlsplit(value.strip())
        # reading the port raises ValueError on a bad one
        parts.port  # pylint: disable=pointless-statement
    except (ValueError, AttributeError):
        raise SinkError('%s: not a valid URL' % option)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise SinkError('%s: must be an https:// URL (or http:// for a local test server)'
                        % option)
    if parts.username is not None or parts.password is not None or parts.query \
            or parts.fragment:
        raise SinkError('%s: must not contain a user name, password, query or fragment'
                        % option)
    return value.strip().rstrip('/')


def connection_options(raw, where):
    """``validate_certs``, ``timeout`` and ``max_retry_wait``, checked and defaulted as the
    platform modules do."""
    return dict(validate_certs=opt.boolean(raw.get('validate_certs'), where + '.validate_certs',
                                           True),
                timeout=opt.seconds(raw.get('timeout'), where + '.timeout', 30),
                max_retry_wait=opt.retry_wait(raw.get('max_retry_wait'),
                                              where + '.max_retry_wait'))


def _repository_name(name):
    """``name`` or ``owner/name``, each part a GitHub name (never ``.`` or ``..``)."""
    parts = name.split('/') if isinstance(name, str) else []
    return 1 <= len(parts) <= 2 and all(_PART.match(part) for part in parts)


def _sealed_box_class():
    try:
        from nacl.public import PublicKey, SealedBox
    except ImportError:
        return None
    return PublicKey, SealedBox


def _timestamp(value):
    try:
        return datetime.strptime(value, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None


class GitHubSecretSink(Sink):
    """A GitHub Actions secret, sealed to its repository's, environment's or organization's
    public key."""

    type = 'github_secret'
    OPTIONS = ('type', 'key', 'repository', 'environment', 'organization', 'visibility',
               'selected_repositories', 'api_url', 'token', 'validate_certs', 'timeout',
               'max_retry_wait')

    @classmethod
    def check_options(cls, raw, where, default_variable):
        key = raw.get('key')
        if not isinstance(key, str) or not _NAME.match(key) or key.upper().startswith('GITHUB_'):
            raise SinkError('%s.key: required, a secret name of letters, digits and _ that does '
                            'not start with a digit or GITHUB_' % where)
        repository, organization = raw.get('repository'), raw.get('organization')
        environment = raw.get('environment')
        if (repository is None) == (organization is None):
            raise SinkError('%s: give either repository (owner/name) or organization' % where)
        checked = dict(type=cls.type, key=key.upper(), repository=None, environment=None,
                       organization=None, visibility=None, selected_repositories=[])
        if repository is not None:
            parts = repository.split('/') if isinstance(repository, str) else []
            if len(parts) != 2 or not all(_PART.match(p) for p in parts):
                raise SinkError('%s.repository: must be owner/name, got %r' % (where, repository))
            checked['repository'] = repository
            for option in ('visibility', 'selected_repositories'):
                if raw.get(option) is not None:
                    raise SinkError('%s.%s: applies to organization secrets only'
                                    % (where, option))
            if environment is not None:
                if not isinstance(environment, str) or not _ENVIRONMENT.match(environment):
                    raise SinkError('%s.environment: must be an environment name' % where)
                checked['environment'] = environment
        else:
            if environment is not None:
                raise SinkError('%s.environment: applies to repository secrets only' % where)
            if not isinstance(organization, str) or not _PART.match(organization):
                raise SinkError('%s.organization: must be an organization name' % where)
            checked['organization'] = organization
            visibility = raw.get('visibility') or 'private'
            if visibility not in VISIBILITIES:
                raise SinkError('%s.visibility: must be one of %s, got %r'
                                % (where, ', '.join(VISIBILITIES), visibility))
            checked['visibility'] = visibility
            selected = raw.get('selected_repositories')
            if selected is not None and visibility != 'selected':
                raise SinkError('%s.selected_repositories: needs visibility: selected' % where)
            if visibility == 'selected':
                if not isinstance(selected, list) or not selected or not all(
                        _repository_name(n) for n in selected):
                    raise SinkError('%s.selected_repositories: a list of repository names (name '
                                    'or owner/name) is required with visibility: selected'
                                    % where)
                checked['selected_repositories'] = [
                    n if '/' in n else '%s/%s' % (organization, n) for n in selected]
        checked['api_url'] = _check_url(raw.get('api_url') or DEFAULT_API_URL, where + '.api_url')
        token = raw.get('token') or next((os.environ[v] for v in TOKEN_ENV if os.environ.get(v)),
                                         None)
        if not token:
            raise SinkError('%s.token: no credential given; set token or the %s environment '
                            'variable' % (where, ' or '.join(TOKEN_ENV)))
        if any(c.isspace() for c in token):
            raise SinkError('%s.token: must not contain white space' % where)
        checked['token'] = token
        checked.update(connection_options(raw, where))
        if _sealed_box_class() is None:
            raise SinkError('%s: the github_secret sink needs the PyNaCl Python library on the '
                            'controller (pip install PyNaCl) to seal the secret' % where)
        return checked

    def __init__(self, options, where, label, provider):
        super(GitHubSecretSink, self).__init__(options, where, label, provider)
        self._client = None
        self._public_key = None
        self._repository_ids = None
        #: ``updated_at`` of the secret when the preflight read it (None: absent or unread)
        self._previous_update = None

    # -- what it is ------------------------------------------------------------------------
    @property
    def _scope(self):
        """The API path of the target: ``/repos/o/r``, ``…/environments/e`` or ``/orgs/o``."""
        options = self.options
        if options['organization']:
            return '/orgs/%s/actions' % options['organization']
        if options['environment']:
            return '/repos/%s/environments/%s' % (options['repository'],
                                                  _quote(options['environment']))
        return '/repos/%s/actions' % options['repository']

    @property
    def target(self):
        """The secret: GitHub's names of owners, repositories, organizations and environments
        are case-insensitive, as the secret's own name is (kept upper-case)."""
        return '%s:%s%s/secrets/%s' % (self.type, opt.same_place(self.options['api_url']),
                                       self._scope.lower(), self.options['key'])

    def describe(self):
        options = self.options
        if options['organization']:
            where = 'organization %s' % options['organization']
        elif options['environment']:
            where = '%s environment %s' % (options['repository'], options['environment'])
        else:
            where = options['repository']
        host = '' if options['api_url'] == DEFAULT_API_URL else ' on %s' % options['api_url']
        return '%s:%s %s%s' % (self.type, where, options['key'], host)

    # -- requests --------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            options = self.options
            self._client = ApiClient(options['api_url'], 'Bearer %s' % options['token'],
                                     decode_json_error(_github_error),
                                     timeout=options['timeout'],
                                     validate_certs=options['validate_certs'],
                                     retry=opt.retry_policy(options['max_retry_wait']),
                                     accept='application/vnd.github+json',
                                     platform='GitHub', credential_option='%s.token' % self.where)
            self._client.session.headers['X-GitHub-Api-Version'] = API_VERSION
        return self._client

    def _failure(self, exc, what):
        """A :class:`SinkError` that names this sink and the option to look at."""
        where = self.where
        if isinstance(exc, AuthenticationError):
            return SinkError('%s.token: GitHub did not accept the credential (%s)'
                             % (where, exc.platform_message or 'HTTP 401'))
        status = getattr(exc, 'status', None)
        said = getattr(exc, 'platform_message', None) or str(exc)
        if status == 404:
            option = 'organization' if self.options['organization'] else (
                'environment' if self.options['environment'] else 'repository')
            return SinkError('%s.%s: %s not found, or not visible to the token (GitHub answers '
                             '404 to a caller without access)'
                             % (where, option, self._target_words()))
        if status == 403:
            need = ('an organization admin\'s token with admin:org (classic) or the "Secrets" '
                    'organization permission (fine-grained)' if self.options['organization']
                    else 'a token of a collaborator with write access, with the repo scope '
                         '(classic) or the "%s" repository permission (fine-grained)'
                    % ('Environments' if self.options['environment'] else 'Secrets'))
            return SinkError('%s.token: GitHub refused %s: %s; it needs %s'
                             % (where, what, said, need))
        return SinkError('%s: %s failed: %s' % (self.describe(), what, said))

    def _read_public_key(self):
        try:
            body = self.client.get(self._scope + '/secrets/public-key')
        except TokenOpsError as exc:
            raise self._failure(exc, 'reading the public key of %s' % self._target_words())
        key_id, key = body.get('key_id'), body.get('key')
        try:
            if not key_id or len(base64.b64decode(key or '')) != 32:
                raise ValueError
        except (TypeError, ValueError):
            raise SinkError('%s: GitHub answered without a usable public key' % self.describe())
        self._public_key = (str(key_id), key)
        return self._public_key

    def _target_words(self):
        options = self.options
        if options['organization']:
            return 'organization %s' % options['organization']
        if options['environment']:
            return 'environment %s of %s' % (options['environment'], options['repository'])
        return 'repository %s' % options['repository']

    def _selected_ids(self):
        if self._repository_ids is None:
            ids = []
            for name in self.options['selected_repositories']:
                try:
                    body = self.client.get('/repos/%s' % name, allow_not_found=True)
                except TokenOpsError as exc:
                    raise self._failure(exc, 'reading repository %s' % name)
                if not body or not body.get('id'):
                    raise SinkError('%s.selected_repositories: repository %s not found, or not '
                                    'visible to the token' % (self.where, name))
                owner = str((body.get('owner') or {}).get('login') or name.split('/')[0])
                if owner.lower() != self.options['organization'].lower():
                    # An organization secret is for the organization's own repositories.
                    raise SinkError('%s.selected_repositories: %s is not a repository of the '
                                    'organization %s' % (self.where, name,
                                                         self.options['organization']))
                ids.append(int(body['id']))
            self._repository_ids = ids
        return self._repository_ids

    def _metadata(self):
        try:
            return self.client.get('%s/secrets/%s' % (self._scope, self.options['key']),
                                   allow_not_found=True)
        except TokenOpsError as exc:
            raise self._failure(exc, 'reading secret %s' % self.options['key'])

    # -- the interface ---------------------------------------------------------------------
    def preflight(self):
        """The public key (authorised, target present), the selected repositories' ids and the
        secret's metadata (whether it exists, when it was last written)."""
        self._read_public_key()
        if self.options['visibility'] == 'selected':
            self._selected_ids()
        metadata = self._metadata()
        self._previous_update = _timestamp((metadata or {}).get('updated_at'))
        return metadata

    def _body(self, secret, public_key):
        public_key_class, sealed_box_class = _sealed_box_class()
        key_id, key = public_key
        sealed = sealed_box_class(public_key_class(base64.b64decode(key))).encrypt(
            secret.encode('utf-8'))
        body = dict(encrypted_value=base64.b64encode(sealed).decode('ascii'), key_id=key_id)
        if self.options['organization']:
            body['visibility'] = self.options['visibility']
            if self.options['visibility'] == 'selected':
                body['selected_repository_ids'] = self._selected_ids()
        return body

    def write(self, secret, token, record):
        """``PUT`` the sealed secret (replaying it writes the same value again), then confirm
        by ``updated_at`` that GitHub holds a write of this moment: later than the one the
        preflight saw, or (GitHub keeps whole seconds) of this run's time, give or take the
        clocks' skew. A ``PUT`` without a clear answer is settled the same way."""
        self.client.remember_secret(secret)
        started = datetime.now(timezone.utc) - CLOCK_SKEW
        path = '%s/secrets/%s' % (self._scope, self.options['key'])
        public_key = self._public_key or self._read_public_key()
        what = 'writing secret %s' % self.options['key']
        try:
            try:
                self.client.put(path, self._body(secret, public_key), idempotent=True)
            except ApiError as exc:
                if exc.status != 422:
                    raise
                # The key may have been replaced since the preflight read it: read it again,
                # once, and seal to the new one.
                self.client.put(path, self._body(secret, self._read_public_key()),
                                idempotent=True)
        except TokenOpsError as exc:
            if write_refused(exc):
                raise self._failure(exc, what)
            # No clear answer (no answer, a 5xx, an unreadable one): GitHub may have acted.
            if self._landed(started, exc, what):
                return
            raise self._failure(exc, what)
        if not self._landed(started):
            raise SinkError('%s: GitHub did not confirm the write (the secret\'s updated_at is '
                            'older than this run\'s write)' % self.describe(), maybe_written=True)

    def _landed(self, started, exc=None, what=None):
        """Whether the secret's ``updated_at`` shows a write of this run: True, False, or (after
        a failed ``exc``) a ``SinkError`` with ``maybe_written`` when it cannot be told."""
        try:
            written = _timestamp((self._metadata() or {}).get('updated_at'))
        except SinkError:
            if exc is None:
                raise SinkError('%s: GitHub did not confirm the write (its metadata cannot be '
                                'read)' % self.describe(), maybe_written=True)
            raise SinkError('%s: %s failed (%s) and whether GitHub took it cannot be read back'
                            % (self.describe(), what, _said(exc)), maybe_written=True)
        previous = self._previous_update
        if written is None:
            return False
        if previous is None or written > previous:
            return True
        if exc is not None and written >= started:
            # Written within the clocks' skew of this run, but not after what the preflight
            # saw (GitHub keeps whole seconds): this run's write or not, no one can tell.
            raise SinkError('%s: %s failed (%s) and whether GitHub took it cannot be told'
                            % (self.describe(), what, _said(exc)), maybe_written=True)
        return exc is None and written >= started


def write_refused(exc):
    """Whether a failed write was refused by the server (a 4xx answer: nothing was changed),
    rather than left without a clear answer (none, a 5xx, an unreadable one)."""
    status = getattr(exc, 'status', None)
    return isinstance(exc, ApiError) and not isinstance(exc, AmbiguousWriteError) \
        and status is not None and 400 <= status < 500


def _said(exc):
    return getattr(exc, 'platform_message', None) or str(exc)


def _quote(value):
    from urllib.parse import quote
    return quote(value, safe='')
