# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""What every module shares: the connection options, their checks, the client, and the one
place where typed errors become ``fail_json``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.common.parameters import AnsibleFallbackNotFound

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    HAS_REQUESTS, REQUESTS_IMPORT_ERROR, ApiClient, ApiError, RetryPolicy, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import PLATFORMS
from ansible_collections.tokenops.tokens.plugins.module_utils._seal import seal_result
from ansible_collections.tokenops.tokens.plugins.module_utils._text import printable
from ansible_collections.tokenops.tokens.plugins.module_utils._transport import (
    MAX_BODY_BYTES, unsendable_character,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import InputError
from ansible_collections.tokenops.tokens.plugins.module_utils._verification import (
    DEFAULT_VERIFY_WAIT,
)

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # type: ignore


class EnvironmentValue(str):
    """A string taken from an environment variable, which messages name instead of the option."""

    variable = None


def _names_another_kind_of_url(value):
    """True for a URL of a scheme other than http(s), such as ``s3://bucket``.

    A value with no scheme at all (``tfe.example.com``) is not ignored: used as ``api_url``, it
    fails with a message naming the variable, rather than sending the credential meant for that
    host to the vendor's public endpoint.
    """
    scheme, sep, dummy = value.strip().partition('://')
    return bool(sep) and scheme.lower() not in ('http', 'https')


def url_env_fallback(variable):
    """The ``api_url`` fallback: the vendor's URL variable, unless it names a URL of another scheme.

    Vendors' tools give some of these variables other meanings too (``PULUMI_BACKEND_URL`` may
    name a self-managed backend such as ``s3://bucket`` or ``file://~``), so such a value is not
    an API URL: it is ignored (``build_module`` warns), and the public endpoint is used.
    """
    value = os.environ.get(variable)
    if not value or _names_another_kind_of_url(value):
        raise AnsibleFallbackNotFound
    tagged = EnvironmentValue(value)
    tagged.variable = variable
    return tagged


def ignored_url_variable(platform):
    """The name of the platform's URL variable when it is set but ignored, else None."""
    variable = PLATFORMS[platform].url_env
    value = os.environ.get(variable)
    return variable if value and _names_another_kind_of_url(value) else None


def connection_argument_spec(platform):
    """``api_token``, ``api_url``, ``validate_certs``, ``timeout``, ``max_retry_wait``,
    ``max_verify_wait``, ``max_body_mib``."""
    info = PLATFORMS[platform]
    return dict(
        api_token=dict(type='str', no_log=True, fallback=(env_fallback, [info.token_env])),
        api_url=dict(type='str', fallback=(url_env_fallback, [info.url_env])),
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='float', default=30),
        max_retry_wait=dict(type='float', default=120),
        max_verify_wait=dict(type='float', default=DEFAULT_VERIFY_WAIT),
        max_body_mib=dict(type='int', default=MAX_BODY_BYTES // (1024 * 1024)),
    )


def management_argument_spec(expiry=True):
    """``state``, ``rotate``, ``max_age``, ``renew_before`` and, where the platform has expiry,
    ``expires_in`` / ``expires_at``."""
    spec = dict(
        state=dict(type='str', default='present', choices=['present', 'absent']),
        rotate=dict(type='str', default='never', choices=['never', 'always', 'due']),
        max_age=dict(type='str'),
        renew_before=dict(type='str'),
    )
    if expiry:
        spec.update(expires_in=dict(type='str'), expires_at=dict(type='str'))
    return spec


def _environment_fallbacks(spec):
    """``spec`` without ``required`` on the options that may come from an environment variable,
    and ``{option: [variables]}`` for those options.

    ansible-core's own message for them ("missing required arguments: organization") would not
    name the variable, so ``build_module`` checks them itself; their documentation says "one of
    the two is required" instead of ``required: true``.
    """
    checked, variables = {}, {}
    for name, option in spec.items():
        fallback = option.get('fallback') or ()
        if option.get('required') and fallback and fallback[0] is env_fallback:
            option = dict((key, value) for key, value in option.items() if key != 'required')
            variables[name] = list(fallback[1])
        checked[name] = option
    return checked, variables


def missing_from_environment(params, variables):
    """The message for the options of ``variables`` that are neither given nor set in the
    environment, or None."""
    missing = sorted(name for name in variables if params.get(name) in (None, ''))
    if not missing:
        return None
    return '; '.join('%s: required; set %s or the %s environment variable'
                     % (name, name, ' or '.join(variables[name])) for name in missing)


def build_module(platform, argument_spec, mutually_exclusive=None, **kwargs):
    """An ``AnsibleModule`` with the connection options of ``platform`` added, and
    ``seal_key``, the one-time key of the action plugin (see ``_seal.py``)."""
    spec = connection_argument_spec(platform)
    spec.update(argument_spec)
    spec.update(seal_key=dict(type='str', no_log=True))
    spec, from_environment = _environment_fallbacks(spec)
    exclusive = list(mutually_exclusive or [])
    if 'expires_in' in spec:
        exclusive.append(['expires_in', 'expires_at'])
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           mutually_exclusive=exclusive, **kwargs)
    # A warning may quote what a platform sent (a token's name, a date): text only.
    module.warn = lambda text: AnsibleModule.warn(module, printable(text))
    missing = missing_from_environment(module.params, from_environment)
    if missing:
        module.fail_json(msg=missing)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'),
                         exception=''.join(traceback.format_exception_only(
                             type(REQUESTS_IMPORT_ERROR), REQUESTS_IMPORT_ERROR)))
    ignored = ignored_url_variable(platform) if module.params.get('api_url') is None else None
    if ignored:
        module.warn('%s names a URL that is not http(s), so it is not used for api_url (%s '
                    'uses it for other things too); calling %s' % (
                        ignored, PLATFORMS[platform].title,
                        PLATFORMS[platform].default_url or 'no default endpoint'))
    return module


def checked_base_url(platform, params):
    """``api_url`` (or the platform's public endpoint) after checking it is a plain http(s) URL.

    The message never repeats the URL: it may hold a password.
    """
    info = PLATFORMS[platform]
    url = params.get('api_url') or info.default_url
    if not url:
        raise InputError('api_url: %s has no public endpoint; give your account\'s URL in '
                         'api_url or the %s environment variable' % (info.title, info.url_env))
    variable = getattr(url, 'variable', None)
    name = ('the %s environment variable (used for api_url)' % variable) if variable else 'api_url'
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InputError('%s: not a valid URL' % name)
    if parts.scheme not in ('http', 'https'):
        raise InputError('%s: must start with https:// (or http:// for a local test '
                         'server); got the scheme %r' % (name, parts.scheme or ''))
    if parts.username is not None or parts.password is not None:
        raise InputError('%s: must not contain a user name or password; pass the '
                         'credential in api_token instead' % name)
    if not parts.hostname:
        raise InputError('%s: has no host name' % name)
    if parts.query or parts.fragment:
        raise InputError('%s: must not contain a query string or fragment' % name)
    netloc = parts.hostname if port is None else '%s:%d' % (parts.hostname, port)
    if ':' in parts.hostname:
        netloc = '[%s]' % parts.hostname + ('' if port is None else ':%d' % port)
    return '%s://%s%s' % (parts.scheme, netloc, parts.path.rstrip('/'))


def checked_connection(platform, params):
    """(base_url, api_token) after the checks every module makes before any request."""
    info = PLATFORMS[platform]
    base_url = checked_base_url(platform, params)
    token = params.get('api_token')
    if not token:
        raise InputError('api_token: no credential given; set api_token or the %s environment '
                         'variable' % info.token_env)
    problem = unsendable_character(token)
    if problem:
        # Named by kind and position, never shown: an HTTP header cannot carry it, and the
        # HTTP stack's own error would quote the whole header, credential included.
        raise InputError('api_token: holds %s, which an HTTP header cannot carry (the value is '
                         'not shown); credentials are visible ASCII: look for a pasted line '
                         'break, space or invisible character' % problem)
    if params.get('timeout') is not None and params['timeout'] <= 0:
        raise InputError('timeout: must be a positive number of seconds')
    if params.get('max_retry_wait') is not None and params['max_retry_wait'] < 0:
        raise InputError('max_retry_wait: cannot be negative')
    if params.get('max_verify_wait') is not None and params['max_verify_wait'] < 0:
        raise InputError('max_verify_wait: cannot be negative')
    if params.get('max_body_mib') is not None and params['max_body_mib'] < 1:
        raise InputError('max_body_mib: must be at least 1 (MiB)')
    return base_url, token


def retry_policy(params):
    """How long the connection ``params`` let a client wait: ``max_retry_wait`` in all, no single
    wait longer than a minute or than ``max_retry_wait`` itself."""
    total = params.get('max_retry_wait', 120)
    return RetryPolicy(max_total_wait=total, max_wait=min(60.0, total or 0))


def make_client(api, params, secrets=(), budget=None):
    """The client for one platform's ``api`` description (see ``_platforms.ApiSpec``);
    ``budget``: the credential's shared ``RequestBudget`` (the rotation role's), or None."""
    base_url, token = checked_connection(api.platform, params)
    retry = retry_policy(params)
    return ApiClient(base_url + api.path_prefix, '%s %s' % (api.auth_scheme, token),
                     api.decode_error, timeout=params.get('timeout') or 30,
                     platform=PLATFORMS[api.platform].title,
                     validate_certs=params.get('validate_certs', True), retry=retry,
                     accept=api.accept, content_type=api.content_type,
                     trailing_slash=api.trailing_slash, secrets=secrets,
                     content_type_on=api.content_type_on, budget=budget,
                     max_body=(params.get('max_body_mib') or MAX_BODY_BYTES >> 20) << 20)


def failure(exc, **details):
    """``fail_json`` arguments for ``exc``: ``changed`` and the message tell what was changed on
    the platform before the failure (``exc.platform_changes``, set by the caller)."""
    done = getattr(exc, 'platform_changes', None)
    message = str(exc)
    if done:
        details['changed'] = True
        message = '%s. Changed on the platform before this failure: %s' % (
            message.rstrip('.'), '; '.join(done))
    # The message may quote what a platform sent (an error body): text only.
    return dict(details, msg=printable(message))


def run(module, work):
    """Run ``work()`` and exit with its result; every typed error becomes ``fail_json`` here.

    Every secret in the result leaves the module sealed with ``seal_key`` (see ``_seal.py``).
    """
    try:
        result = work()
    except InputError as exc:
        module.fail_json(**failure(exc))
    except ApiError as exc:
        module.fail_json(**failure(exc, status=exc.status, request_id=exc.request_id))
    except TokenOpsError as exc:
        module.fail_json(**failure(exc, **exc.details))
    module.exit_json(**seal_result(result, module.params.get('seal_key')))
