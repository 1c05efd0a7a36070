# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The ``aws_secretsmanager`` sink: an AWS Secrets Manager secret (its whole string, or one
field of a JSON object beside the others), written with boto3 (an optional requirement on the
controller). Options as community.aws's ``secretsmanager_secret`` names them; credentials come
from the options or boto3's usual chain (environment, profile, instance role).

- **preflight**: the secret is described (and its value read when ``key`` sets a field: a value
  that is not a JSON object fails here). An absent secret is created without a value (a secret
  with no version, which consumers cannot read yet), because Secrets Manager offers no other way
  to learn before issuing whether this identity may create it; check mode only says it would;
- **write**, as AWS's own rotation functions do: staged as ``PutSecretValue`` of a version
  labelled ``AWSPENDING`` only, with the ``ClientRequestToken`` from the journal record (a write
  replayed with it creates no second version), then committed by moving ``AWSCURRENT`` to it
  (``UpdateSecretVersionStage``, ``AWSPREVIOUS`` following to the version before). The move names
  the version the preflight saw as current, so AWS refuses it when another writer came between;
- **read back**: the ``AWSCURRENT`` version's value (or field);
- **rollback**: ``AWSCURRENT`` moved back to the version it labelled before the run
  (``UpdateSecretVersionStage``), if it still labels the version this run wrote.

botocore's ``connect_timeout`` and ``read_timeout`` bound each socket read, not the request: an
endpoint that sends a byte a second would hold the run for ever. Every HTTP attempt is sent
through a :class:`DeadlineSession` instead (botocore's documented ``before-send`` event: a
handler that returns an ``AWSResponse`` replaces botocore's own send), so it ends within
``timeout`` and reads a bounded answer; botocore still signs, retries and parses.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re
import uuid

from ansible_collections.tokenops.tokens.plugins.module_utils._transport import (
    BodyTooLargeError, DeadlineSession, DeadlineTimeout, describe_size,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import _options as opt
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.base import Sink, SinkError

try:
    import boto3
    import botocore.awsrequest
    import botocore.config
    import botocore.exceptions
    import botocore.session
    import requests
    _BotoCoreError = botocore.exceptions.BotoCoreError
except ImportError:
    boto3 = None
    _BotoCoreError = Exception

#: environment variables per option beside boto3's own chain (amazon.aws's names)
ENV = {
    'region': ('AWS_REGION', 'AWS_DEFAULT_REGION', 'EC2_REGION'),
    'endpoint_url': ('AWS_URL', 'EC2_URL'),
}
CURRENT, PENDING = 'AWSCURRENT', 'AWSPENDING'
DENIED = ('AccessDeniedException', 'AccessDenied')
#: seconds one HTTP attempt may take, wall clock (connect, headers and body)
DEFAULT_TIMEOUT = 30
#: attempts of one call (botocore's standard retries; a write repeats its ClientRequestToken)
MAX_ATTEMPTS = 3
DESCRIPTION = 'API token %s (%s), delivered by the tokenops.tokens rotate role'
#: a secret's ARN: AWS appends a hyphen and six random characters to the name
ARN = re.compile(r'^arn:aws[a-z-]*:secretsmanager:(?P<region>[a-z0-9-]+):[0-9]*:secret:'
                 r'(?P<name>.*?(?P<suffix>-[A-Za-z0-9]{6})?)$')


class Previous:
    """What the secret held before the run (the preflight state; ``value`` may hold secrets and
    never leaves the process: :meth:`AwsSecretsManagerSink.export_state` carries ids only)."""

    __slots__ = ('exists', 'arn', 'version_id', 'value', 'written', 'created')

    def __init__(self, exists=False, arn=None, version_id=None, value=None):
        self.exists = exists
        self.arn = arn
        #: the version AWSCURRENT labelled at the preflight (None: no version yet)
        self.version_id = version_id
        #: the current value: a string, or a dict when ``key`` sets a field
        self.value = value
        #: the version this run wrote
        self.written = None
        #: this run created the (empty) secret in the preflight
        self.created = False

    def __repr__(self):
        return '<Previous version=%r>' % self.version_id


def _code(exc):
    return (getattr(exc, 'response', None) or {}).get('Error', {}).get('Code') or ''


def _denied(exc):
    """An AccessDenied answer (some stand-ins give only the status, 403)."""
    status = ((getattr(exc, 'response', None) or {}).get('ResponseMetadata') or {}).get(
        'HTTPStatusCode')
    return _code(exc) in DENIED or status == 403


class AwsSecretsManagerSink(Sink):
    """An AWS Secrets Manager secret, or a field of its JSON value."""

    type = 'aws_secretsmanager'
    OPTIONS = ('type', 'name', 'key', 'region', 'profile', 'endpoint_url', 'access_key',
               'secret_key', 'session_token', 'timeout')
    can_read_back = True
    can_roll_back = True
    confirms_each_run = True

    def __init__(self, options, where, label, provider):
        super(AwsSecretsManagerSink, self).__init__(options, where, label, provider)
        self._aws = None
        self._previous = None

    @classmethod
    def check_options(cls, raw, where, default_variable):
        def named(option):
            return '%s.%s' % (where, option)

        checked = dict(type=cls.type)
        checked['name'] = opt.text(raw.get('name'), named('name'), required=True)
        if len(checked['name']) > 2048:
            raise SinkError('%s: a secret name or ARN is at most 2048 characters' % named('name'))
        checked['key'] = opt.text(raw.get('key'), named('key'))
        checked['region'] = opt.text(opt.from_env(raw, 'region', ENV['region']), named('region'))
        checked['profile'] = opt.text(raw.get('profile'), named('profile'))
        endpoint = opt.from_env(raw, 'endpoint_url', ENV['endpoint_url'])
        checked['endpoint_url'] = opt.url(endpoint, named('endpoint_url')) if endpoint else None
        for option in ('access_key', 'secret_key', 'session_token'):
            checked[option] = opt.text(raw.get(option), named(option))
        if bool(checked['access_key']) != bool(checked['secret_key']):
            raise SinkError('%s: access_key and secret_key go together' % where)
        if checked['profile'] and checked['access_key']:
            raise SinkError('%s: profile and access_key are mutually exclusive' % where)
        checked['timeout'] = opt.seconds(raw.get('timeout'), named('timeout'), DEFAULT_TIMEOUT)
        return checked

    # -- names ----------------------------------------------------------------------------------
    @property
    def target(self):
        """The secret, whatever its fields, by region (or endpoint) and name: an ARN names its
        region and its secret's name (``arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-xxxxxx``,
        AWS's six characters after the name left out), so one secret named by name in one item
        and by ARN in another is found. (The account is left out, since a name does not say it:
        two accounts' secrets of one name and region are refused too.)"""
        name, region = self.options['name'], self.options.get('region')
        arn = ARN.match(name)
        if arn:
            region, name = arn.group('region'), arn.group('name')
            if arn.group('suffix') is not None:
                name = name[:-len(arn.group('suffix'))]
        endpoint = self.options.get('endpoint_url')
        place = opt.same_place(endpoint) if endpoint else (region or '').lower()
        return 'aws_secretsmanager:%s:%s' % (place, name)

    def describe(self):
        key = self.options.get('key')
        return 'aws_secretsmanager:%s%s' % (self.options['name'], '#' + key if key else '')

    def _fail(self, message, secret=None, maybe_written=False):
        text = opt.redact(message, [self.options.get('secret_key'),
                                    self.options.get('session_token'), secret])
        return SinkError('%s: %s' % (self.describe(), text), maybe_written=maybe_written)

    # -- the client -----------------------------------------------------------------------------
    def _client(self):
        if self._aws is not None:
            return self._aws
        if boto3 is None:
            from ansible.module_utils.basic import missing_required_lib
            raise self._fail(missing_required_lib('boto3'))
        options = self.options
        timeout = options.get('timeout') or DEFAULT_TIMEOUT
        try:
            core = botocore.session.Session(profile=options.get('profile'))
            session = boto3.session.Session(
                aws_access_key_id=options.get('access_key'),
                aws_secret_access_key=options.get('secret_key'),
                aws_session_token=options.get('session_token'),
                region_name=options.get('region'), botocore_session=core)
            # Botocore's standard retries repeat a request with the same ClientRequestToken:
            # a repeated write creates no second version.
            config = botocore.config.Config(connect_timeout=timeout, read_timeout=timeout,
                                            retries=dict(mode='standard',
                                                         max_attempts=MAX_ATTEMPTS))
            client = session.client('secretsmanager', endpoint_url=options.get('endpoint_url'),
                                    config=config)
            sender = BoundedSend(timeout, core.get_config_variable('ca_bundle'))
            client.meta.events.register('before-send.secrets-manager', sender)
            self._aws = client
        except botocore.exceptions.ProfileNotFound:
            raise self._fail('profile: no AWS profile named %s' % options['profile'])
        except botocore.exceptions.NoRegionError:
            raise self._fail('region: required (or AWS_REGION, or the profile\'s region)')
        return self._aws

    def _call(self, doing, method, secret=None, **kwargs):
        """``client.method(**kwargs)``; what boto3 raises becomes a SinkError saying what was
        being done and naming the option to look at (AccessDenied names the IAM action)."""
        client = self._client()
        try:
            return getattr(client, method)(**kwargs)
        except botocore.exceptions.NoCredentialsError:
            raise self._fail('access_key: no AWS credentials found (access_key and secret_key, '
                             'profile, or the environment)')
        except botocore.exceptions.ParamValidationError as exc:
            raise self._fail('%s: AWS refused the parameters (%s)' % (doing, opt.first_line(exc)),
                             secret)
        except (botocore.exceptions.EndpointConnectionError,
                botocore.exceptions.ConnectTimeoutError) as exc:
            raise self._fail('endpoint_url: the Secrets Manager endpoint cannot be reached '
                             '(%s)' % type(exc).__name__, secret)
        except botocore.exceptions.ReadTimeoutError:
            raise self._fail('endpoint_url: %s failed: the Secrets Manager endpoint gave no '
                             'complete answer within timeout (%ss), %d times'
                             % (doing, self.options.get('timeout') or DEFAULT_TIMEOUT,
                                MAX_ATTEMPTS), secret)
        except AnswerTooLarge as exc:
            raise self._fail('%s failed: %s' % (doing, exc), secret)
        except botocore.exceptions.ClientError as exc:
            code = _code(exc)
            if code in ('UnrecognizedClientException', 'InvalidClientTokenId',
                        'InvalidSignatureException', 'SignatureDoesNotMatch',
                        'ExpiredTokenException'):
                raise self._fail('access_key: AWS refused the credentials (%s)' % code)
            if _denied(exc):
                raise self._fail('%s: this identity may not do it (secretsmanager:%s)'
                                 % (doing, method_action(method)), secret)
            raise
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail('%s failed: %s' % (doing, type(exc).__name__), secret)

    # -- preflight ------------------------------------------------------------------------------
    def preflight(self):
        """The secret is described (created empty when absent, outside check mode) and, with
        ``key``, its value is a JSON object; returns its :class:`Previous` state."""
        name = self.options['name']
        self._client()          # the library first: without boto3, say so and nothing else
        try:
            about = self._call('describing the secret', 'describe_secret', SecretId=name)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) != 'ResourceNotFoundException':
                raise self._fail('describing the secret failed: %s' % _code(exc))
            previous = self._create_empty()
        else:
            if about.get('DeletedDate'):
                raise self._fail('name: the secret is scheduled for deletion; restore it '
                                 '(RestoreSecret) or give another name')
            previous = self._current(about)
        self._previous = previous
        return previous

    def _create_empty(self):
        previous = Previous(value={} if self.options.get('key') else None)
        if self.check_mode:
            self.notes.append('%s: the secret does not exist; a real run creates it, empty, '
                              'before issuing (this identity needs secretsmanager:CreateSecret)'
                              % self.describe())
            return previous
        try:
            answer = self._call('name: the secret does not exist, and creating it',
                                'create_secret', Name=self.options['name'],
                                Description=DESCRIPTION % (self.label, self.provider),
                                Tags=[dict(Key='tokenops:platform', Value=str(self.provider)),
                                      dict(Key='tokenops:label', Value=str(self.label)[:256])])
        except botocore.exceptions.ClientError as exc:
            raise self._fail('name: the secret does not exist and creating it failed: %s'
                             % _code(exc))
        previous.exists, previous.arn, previous.created = True, answer.get('ARN'), True
        return previous

    def _current(self, about):
        stages = about.get('VersionIdsToStages') or {}
        version = next((v for v, labels in stages.items() if CURRENT in labels), None)
        previous = Previous(True, about.get('ARN'), version)
        key = self.options.get('key')
        if version is None:
            previous.value = {} if key else None
            return previous
        try:
            answer = self._call('reading the secret\'s value', 'get_secret_value',
                                SecretId=previous.arn or self.options['name'],
                                VersionId=version)
        except botocore.exceptions.ClientError as exc:
            raise self._fail('reading the secret\'s value failed: %s' % _code(exc))
        value = answer.get('SecretString')
        if value is None and answer.get('SecretBinary') is not None:
            raise self._fail('name: the secret holds a binary value (SecretBinary), which a '
                             'token (a SecretString) would replace under its consumers; give '
                             'a secret of its own')
        if key:
            try:
                # An empty value holds no field: the token's field is its first.
                parsed = json.loads(value) if (value or '').strip() else {}
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise self._fail('key: the secret\'s current value is not a JSON object, so the '
                                 'field %s cannot be set beside other fields (omit key to '
                                 'replace the whole value)' % key)
            value = parsed
        previous.value = value
        return previous

    # -- write ----------------------------------------------------------------------------------
    def journal_record(self, token):
        """The ``ClientRequestToken`` of the write (it becomes the new version's id) and the
        version ``AWSCURRENT`` labelled before it."""
        previous = self._previous or Previous()
        return dict(client_request_token=str(uuid.uuid4()),
                    previous_version_id=previous.version_id)

    def render(self, secret):
        key = self.options.get('key')
        if not key:
            return secret
        value = dict(self._previous.value or {})
        value[key] = secret
        return json.dumps(value)

    def stage(self, secret, token, record):
        """The new version, labelled ``AWSPENDING`` only (consumers read ``AWSCURRENT``); the
        commit moves ``AWSCURRENT`` to it, as AWS's own rotation functions do."""
        previous = self._previous
        if previous is None or not previous.exists:
            raise self._fail('written before its preflight (a bug)')
        self._client()
        request = (record or {}).get('client_request_token') or str(uuid.uuid4())
        about = self._call('describing the secret', 'describe_secret', SecretId=previous.arn)
        stages = about.get('VersionIdsToStages') or {}
        current = next((v for v, labels in stages.items() if CURRENT in labels), None)
        if current == request:
            return _Written(self, request)          # replayed: written already
        if current != previous.version_id:
            raise self._fail('AWSCURRENT moved after the check before issuing (from version %s '
                             'to %s): another writer; nothing was written'
                             % (previous.version_id, current))
        if previous.version_id is None:
            # AWS labels a secret's first version AWSCURRENT whatever it is asked: it cannot be
            # staged, so it is written at commit.
            return _FirstVersion(self, request, secret)
        self._put(request, secret, [PENDING])
        return _Staged(self, request, secret)

    def _put(self, request, secret, stages=None):
        previous = self._previous
        put = dict(SecretId=previous.arn, SecretString=self.render(secret),
                   ClientRequestToken=request)
        if stages:
            put['VersionStages'] = stages
        client = self._client()
        try:
            client.put_secret_value(**put)
        except botocore.exceptions.ClientError as exc:
            if _denied(exc):
                raise self._fail('this identity may not write the secret '
                                 '(secretsmanager:PutSecretValue); nothing was written', secret)
            raise self._fail('the write failed: %s; nothing was written' % _code(exc), secret)
        except botocore.exceptions.BotoCoreError as exc:
            # Unanswered: consumers read AWSCURRENT, which has not moved; the version (if it was
            # made) is only pending, and a replay with the same ClientRequestToken makes no other.
            if not stages:
                previous.written = self._settle(request, exc, secret)
                return
            raise self._fail('the write failed: %s; AWSCURRENT did not move' % type(exc).__name__,
                             secret)
        if not stages:
            previous.written = request

    def write(self, secret, token, record):
        self.stage(secret, token, record).commit()

    def _move_current(self, request, secret):
        """``AWSCURRENT`` (and so ``AWSPREVIOUS``) moved to the staged version. AWS refuses the
        move when ``AWSCURRENT`` no longer labels the version the preflight saw: another writer
        is never overwritten."""
        previous = self._previous
        move = dict(SecretId=previous.arn, VersionStage=CURRENT, MoveToVersionId=request)
        if previous.version_id:
            move['RemoveFromVersionId'] = previous.version_id
        client = self._client()
        try:
            client.update_secret_version_stage(**move)
        except botocore.exceptions.ClientError as exc:
            status = (exc.response.get('ResponseMetadata') or {}).get('HTTPStatusCode') or 0
            if status < 500:
                raise self._fail('moving AWSCURRENT to the new version failed: %s%s; consumers '
                                 'still read the previous one' % (_code(exc), (
                                     ' (secretsmanager:UpdateSecretVersionStage)'
                                     if _denied(exc) else '')), secret)
            previous.written = self._settle(request, exc, secret)
        except botocore.exceptions.BotoCoreError as exc:
            previous.written = self._settle(request, exc, secret)
        else:
            previous.written = request
        try:
            client.update_secret_version_stage(SecretId=previous.arn, VersionStage=PENDING,
                                               RemoveFromVersionId=request)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
            pass        # a leftover AWSPENDING label: harmless, consumers read AWSCURRENT

    def _drop_pending(self, request):
        try:
            self._client().update_secret_version_stage(SecretId=self._previous.arn,
                                                       VersionStage=PENDING,
                                                       RemoveFromVersionId=request)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
            pass

    def _settle(self, request, exc, secret):
        """After a label move without an answer: whether AWSCURRENT labels the new version."""
        try:
            about = self._call('describing the secret', 'describe_secret',
                               SecretId=self._previous.arn)
        except (botocore.exceptions.ClientError, SinkError):
            raise self._fail('moving AWSCURRENT failed (%s) and whether AWS did it cannot be '
                             'read back' % type(exc).__name__, secret, maybe_written=True)
        if CURRENT in ((about.get('VersionIdsToStages') or {}).get(request) or []):
            return request
        raise self._fail('moving AWSCURRENT failed (%s); consumers still read the previous '
                         'version' % type(exc).__name__, secret)

    # -- read back, roll back -------------------------------------------------------------------
    def read_back(self):
        self._client()
        try:
            answer = self._call('reading the secret', 'get_secret_value',
                                SecretId=self.options['name'], VersionStage=CURRENT)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) == 'ResourceNotFoundException':
                return None
            raise self._fail('reading the secret failed: %s' % _code(exc))
        value = answer.get('SecretString')
        key = self.options.get('key')
        if key:
            try:
                value = (json.loads(value) or {}).get(key)
            except (ValueError, TypeError, AttributeError):
                return None
        return str(value) if value not in (None, '') else None

    def export_state(self, state):
        if not isinstance(state, Previous):
            return None
        return dict(exists=state.exists, arn=state.arn, version_id=state.version_id,
                    written=state.written, created=state.created)

    def import_state(self, data):
        if not data:
            return None
        state = Previous(bool(data.get('exists')), data.get('arn'), data.get('version_id'))
        state.written, state.created = data.get('written'), bool(data.get('created'))
        return state

    def rollback(self, state):
        """``AWSCURRENT`` moved back to the version it labelled before the run."""
        if state is None or not state.written:
            raise self._fail('what this run wrote is not known, so it cannot be put back')
        if not state.version_id:
            raise self._fail('the secret had no value before this run, so there is no version '
                             'to move AWSCURRENT back to')
        self._client()
        try:
            about = self._call('describing the secret', 'describe_secret',
                               SecretId=state.arn or self.options['name'])
            stages = about.get('VersionIdsToStages') or {}
            if CURRENT not in (stages.get(state.written) or []):
                raise self._fail('AWSCURRENT no longer labels the version this run wrote: not '
                                 'moved back over another writer')
            self._call('moving AWSCURRENT back', 'update_secret_version_stage',
                       SecretId=state.arn or self.options['name'], VersionStage=CURRENT,
                       MoveToVersionId=state.version_id, RemoveFromVersionId=state.written)
        except botocore.exceptions.ClientError as exc:
            raise self._fail('moving AWSCURRENT back failed: %s' % _code(exc))


class AnswerTooLarge(_BotoCoreError):
    """An answer over the body limit; it was not read (not retried: it would be as large)."""

    fmt = 'the Secrets Manager endpoint sent an answer larger than {limit}, which was not read'


class BoundedSend:
    """botocore's ``before-send`` handler: the signed request sent through a
    :class:`DeadlineSession`, so that each attempt ends within ``timeout`` seconds (connect,
    headers and body) and reads at most the body limit; botocore's own send is skipped.

    A passed deadline is botocore's ``ReadTimeoutError`` and a connection that fails its
    ``EndpointConnectionError``, which botocore's retries treat as they treat its own.
    """

    def __init__(self, timeout, ca_bundle=None):
        self.timeout = timeout
        self.session = DeadlineSession(timeout)
        # botocore's CA bundle (AWS_CA_BUNDLE, the profile's ca_bundle), else requests' own
        self.verify = ca_bundle or True

    def __call__(self, request, **kwargs):
        headers = dict(request.headers.items())
        # botocore reads the body as sent; requests would ask for (and undo) a compression
        headers.setdefault('Accept-Encoding', 'identity')
        try:
            answer = self.session.request(request.method, request.url, headers=headers,
                                          data=request.body, allow_redirects=False,
                                          verify=self.verify, timeout=self.timeout)
        except DeadlineTimeout:
            raise botocore.exceptions.ReadTimeoutError(endpoint_url=request.url)
        except BodyTooLargeError as exc:
            raise AnswerTooLarge(limit=describe_size(exc.limit))
        except requests.exceptions.Timeout:
            raise botocore.exceptions.ConnectTimeoutError(endpoint_url=request.url)
        except requests.exceptions.RequestException as exc:
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=request.url,
                                                              error=type(exc).__name__)
        return botocore.awsrequest.AWSResponse(request.url, answer.status_code,
                                               dict(answer.headers), _Raw(answer.content))


class _Raw:
    """The body already read, as botocore's ``AWSResponse.raw`` hands it on."""

    def __init__(self, content):
        self.content = content

    def stream(self, **kwargs):
        yield self.content

    def read(self, *args, **kwargs):
        content, self.content = self.content, b''
        return content


def method_action(method):
    """The IAM action of a boto3 method name (``put_secret_value`` → ``PutSecretValue``)."""
    return ''.join(part.capitalize() for part in method.split('_'))


class _Staged:
    """A version written as ``AWSPENDING``: committed by moving ``AWSCURRENT`` to it, abandoned
    by taking its label away (an unlabelled version is never read)."""

    def __init__(self, sink, request, secret):
        self.sink, self.request, self.secret = sink, request, secret

    def commit(self):
        self.sink._move_current(self.request, self.secret)

    def abort(self):
        self.sink._drop_pending(self.request)


class _Written:
    """A replayed write that AWS already holds as ``AWSCURRENT``."""

    def __init__(self, sink, request):
        self.sink, self.request = sink, request

    def commit(self):
        self.sink._previous.written = self.request

    def abort(self):
        pass


class _FirstVersion:
    """The first version of a secret (created empty by the preflight): written at commit."""

    def __init__(self, sink, request, secret):
        self.sink, self.request, self.secret = sink, request, secret

    def commit(self):
        self.sink._put(self.request, self.secret)

    def abort(self):
        pass
