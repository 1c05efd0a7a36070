# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""What every module shares: the connection options, their checks, the client, and the one
place where typed errors become ``fail_json``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    HAS_REQUESTS, REQUESTS_IMPORT_ERROR, ApiClient, ApiError, RetryPolicy, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import PLATFORMS
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import InputError

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # type: ignore


def connection_argument_spec(platform):
    """``api_token``, ``api_url``, ``validate_certs``, ``timeout``, ``max_retry_wait``."""
    info = PLATFORMS[platform]
    return dict(
        api_token=dict(type='str', no_log=True, fallback=(env_fallback, [info.token_env])),
        api_url=dict(type='str', fallback=(env_fallback, [info.url_env])),
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='float', default=30),
        max_retry_wait=dict(type='float', default=120),
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


def build_module(platform, argument_spec, mutually_exclusive=None, **kwargs):
    """An ``AnsibleModule`` with the connection options of ``platform`` added."""
    spec = connection_argument_spec(platform)
    spec.update(argument_spec)
    exclusive = list(mutually_exclusive or [])
    if 'expires_in' in spec:
        exclusive.append(['expires_in', 'expires_at'])
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           mutually_exclusive=exclusive, **kwargs)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'),
                         exception=''.join(traceback.format_exception_only(
                             type(REQUESTS_IMPORT_ERROR), REQUESTS_IMPORT_ERROR)))
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
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InputError('api_url: not a valid URL')
    if parts.scheme not in ('http', 'https'):
        raise InputError('api_url: must start with https:// (or http:// for a local test '
                         'server); got the scheme %r' % (parts.scheme or '',))
    if parts.username is not None or parts.password is not None:
        raise InputError('api_url: must not contain a user name or password; pass the '
                         'credential in api_token instead')
    if not parts.hostname:
        raise InputError('api_url: has no host name')
    if parts.query or parts.fragment:
        raise InputError('api_url: must not contain a query string or fragment')
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
    if any(c.isspace() for c in token):
        raise InputError('api_token: must not contain white space')
    if params.get('timeout') is not None and params['timeout'] <= 0:
        raise InputError('timeout: must be a positive number of seconds')
    if params.get('max_retry_wait') is not None and params['max_retry_wait'] < 0:
        raise InputError('max_retry_wait: cannot be negative')
    return base_url, token


def make_client(api, params, secrets=()):
    """The client for one platform's ``api`` description (see ``_platforms.ApiSpec``)."""
    base_url, token = checked_connection(api.platform, params)
    retry = RetryPolicy(max_total_wait=params.get('max_retry_wait', 120),
                        max_wait=min(60.0, params.get('max_retry_wait', 120) or 0))
    return ApiClient(base_url + api.path_prefix, '%s %s' % (api.auth_scheme, token),
                     api.decode_error, timeout=params.get('timeout') or 30,
                     validate_certs=params.get('validate_certs', True), retry=retry,
                     accept=api.accept, content_type=api.content_type,
                     trailing_slash=api.trailing_slash, secrets=secrets,
                     content_type_on=api.content_type_on)


def run(module, work):
    """Run ``work()`` and exit with its result; every typed error becomes ``fail_json`` here."""
    try:
        result = work()
    except InputError as exc:
        module.fail_json(msg=str(exc))
    except ApiError as exc:
        module.fail_json(msg=str(exc), status=exc.status, request_id=exc.request_id)
    except TokenOpsError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    module.exit_json(**result)
