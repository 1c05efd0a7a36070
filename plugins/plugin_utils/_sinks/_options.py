# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Option checks shared by the sinks that talk to a secret store: environment fallbacks,
types, and the redaction of credentials from a store's error messages."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.base import SinkError

TRUE = ('1', 'true', 'yes', 'on', 'y', 't')
FALSE = ('0', 'false', 'no', 'off', 'n', 'f')


def from_env(raw, name, variables):
    """``raw[name]``, else the first of the environment ``variables`` that is set, else None."""
    value = raw.get(name)
    if value not in (None, ''):
        return value
    for variable in variables:
        if os.environ.get(variable):
            return os.environ[variable]
    return None


def text(value, option, required=False):
    """A non-empty string without control characters, or None; raise naming ``option``."""
    if value in (None, ''):
        if required:
            raise SinkError('%s: required' % option)
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise SinkError('%s: expected a string' % option)
    value = str(value)
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise SinkError('%s: must not hold control characters' % option)
    return value


def boolean(value, option, default):
    if value is None or value == '':
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in TRUE:
        return True
    if str(value).lower() in FALSE:
        return False
    raise SinkError('%s: expected true or false, got %r' % (option, value))


def seconds(value, option, default):
    if value is None or value == '':
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or not 0 < number <= 3600:
        raise SinkError('%s: expected a number of seconds between 0 and 3600, got %r'
                        % (option, value))
    return number


def retry_wait(value, option, default=120.0):
    """Seconds a request may spend waiting between its retries in all (0: never wait)."""
    if value is None or value == '':
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or not 0 <= number <= 3600:
        raise SinkError('%s: expected a number of seconds between 0 and 3600, got %r'
                        % (option, value))
    return number


def retry_policy(max_retry_wait):
    """The HTTP client's retry policy for ``max_retry_wait`` (as the modules build it)."""
    from ansible_collections.tokenops.tokens.plugins.module_utils._client import RetryPolicy
    return RetryPolicy(max_total_wait=max_retry_wait, max_wait=min(60.0, max_retry_wait))


def url(value, option):
    """An http(s) URL without credentials in it, without a trailing slash."""
    value = text(value, option, required=True)
    scheme, sep, rest = value.partition('://')
    if scheme.lower() not in ('http', 'https') or not sep or not rest.strip('/'):
        raise SinkError('%s: expected an http:// or https:// URL' % option)
    if '@' in rest.split('/', 1)[0]:
        raise SinkError('%s: must not hold credentials; give them in their own options'
                        % option)
    return value.rstrip('/')


def same_place(value):
    """``value`` (a URL) as two spellings of one place compare: scheme and host in lower case,
    the scheme's default port and trailing slashes left out. For :attr:`Sink.target` only."""
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(str(value).strip())
        port = parts.port
    except ValueError:
        return str(value).strip().rstrip('/')
    scheme = (parts.scheme or '').lower()
    host = (parts.hostname or '').lower()
    if port and (scheme, port) not in (('http', 80), ('https', 443)):
        host = '%s:%d' % (host, port)
    return '%s://%s%s' % (scheme, host, parts.path.rstrip('/'))


def redact(message, secrets):
    """``message`` with every one of ``secrets`` (credentials, the new secret) masked."""
    message = str(message)
    for secret in secrets:
        if secret and len(str(secret)) >= 4:
            message = message.replace(str(secret), '********')
    return message


def first_line(message, limit=300):
    message = str(message).strip().splitlines()[0] if str(message).strip() else ''
    return message if len(message) <= limit else message[:limit] + '...'
