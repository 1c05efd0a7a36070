# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The one HTTP/JSON client every module uses.

Layers: a ``requests.Session`` per module run (keep-alive across pages, TLS), the bounds of each
exchange (``_transport``: a wall-clock deadline, a body size limit), the platform's rate limit
(``_rate_limits``), and a retry policy that only ever repeats a request when repeating it cannot
create anything twice. Platform adapters supply the auth header and how to read the platform's
error body; they never see ``requests`` themselves. Every failure of the HTTP stack becomes a
typed error (:class:`ApiError` and friends) whose text holds no header and no secret, and is
turned into ``fail_json`` in exactly one place (``_module.run``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import random
import time

try:
    from urllib.parse import quote, urljoin, urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2 is not supported, but keep imports parseable
    from urllib import quote  # type: ignore
    from urlparse import urljoin, urlsplit, urlunsplit  # type: ignore

try:
    import requests
    from requests.auth import AuthBase
    from requests.utils import guess_json_utf
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised through missing_required_lib
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc
    AuthBase = object

from ansible_collections.tokenops.tokens.plugins.module_utils._rate_limits import (  # noqa: F401 (re-exported)
    RequestBudget, hinted_wait, read_hints,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._transport import (
    MAX_BODY_BYTES, BodyTooLarge, Deadline, DeadlineAdapter, DeadlinePassed, describe_size,
    normalised_secret, read_body, unsendable_character,
)

USER_AGENT = 'tokenops.tokens (Ansible collection)'
REDACTED = '********'
SAFE_METHODS = frozenset(('GET', 'HEAD', 'DELETE'))
#: what a confirmed write did, in words
WRITE_WORDS = {'POST': 'created or issued', 'PUT': 'changed', 'PATCH': 'changed',
               'DELETE': 'deleted'}
#: answers that mean the platform refused before acting, so any request may be sent again:
#: 429 Too Many Requests, 425 Too Early (RFC 8470: "unwilling to risk processing a request that
#: might be replayed")
REFUSED_UNACTED = frozenset((425, 429))
#: the deepest JSON nesting read; the platforms' answers are a few levels deep, and a deeper
#: one (or one deep enough to exhaust Python's recursion) is refused as unreadable
MAX_JSON_DEPTH = 64


CREDENTIAL_ADVICE = ('Credentials are visible ASCII: look for a pasted line break, space or '
                     'invisible character')
SECRET_ADVICE = ('No consumer could send it either; it was not delivered. Report it to the '
                 'platform')

#: redirects followed within the api_url's origin before giving up
MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class TokenOpsError(Exception):
    """Base of every error a module turns into ``fail_json``."""

    def __init__(self, message, **details):
        super(TokenOpsError, self).__init__(message)
        self.details = details


class ApiError(TokenOpsError):
    """The platform answered with an error status, or no usable answer.

    ``status`` is the HTTP status, ``platform_message`` the platform's own error text and
    ``request_id`` its request id when it sends one. Never holds a header or a secret.
    """

    def __init__(self, message, status=None, method=None, path=None, platform_message=None,
                 request_id=None, platform=None):
        super(ApiError, self).__init__(message, status=status, method=method, path=path,
                                       request_id=request_id)
        self.status = status
        self.method = method
        self.path = path
        self.platform_message = platform_message
        self.request_id = request_id
        self.platform = platform


class AuthenticationError(ApiError):
    """401: the credential in ``api_token`` was not accepted."""


class TransportError(ApiError):
    """No HTTP answer at all: connection refused, reset, timed out, TLS failure."""


class UnreadableAnswerError(ApiError):
    """An answer the client does not read: larger than the body limit, not JSON, or nested
    deeper than any platform's JSON is."""


class AmbiguousWriteError(ApiError):
    """A request that may create or replace something failed without a clear answer.

    The platform may or may not have acted (a 5xx, a timeout, a dropped connection, an
    unreadable body). Callers must look before they try again; the client never repeats it.
    """


class UnsendableValueError(TokenOpsError):
    """A credential or secret that an HTTP header cannot carry; the message names the option
    or the platform it came from, never the value. ``details['created']``: the metadata of the
    token the request that returned such a secret created (a new token, not a secret replaced
    in place), which ``_power.discard_unusable`` deletes."""


def _request_id(headers):
    for name in ('X-Request-Id', 'Request-Id', 'CF-Ray', 'X-Pulumi-Request-Id'):
        if headers.get(name):
            return headers[name]
    return None


def _error_text(status, method, path, platform_message, request_id):
    text = '%s %s failed with HTTP %s' % (method, path, status)
    if platform_message:
        text += ': %s' % platform_message
    if request_id:
        text += ' (request id %s)' % request_id
    return text


def _too_deep(value, limit=MAX_JSON_DEPTH):
    """True when ``value`` nests lists and objects deeper than ``limit`` (iteratively)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def decode_json(text):
    """``json.loads`` that never raises anything but ``ValueError`` (deep nesting included)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError('nested deeper than Python can read')
    if _too_deep(value):
        raise ValueError('nested deeper than %d levels' % MAX_JSON_DEPTH)
    return value


def _json_kind(value):
    """``an array``, ``a string``: what a decoded JSON value is, in JSON's words."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, (int, float)):
        return 'a number'
    return 'a string' if isinstance(value, str) else 'an array'


class RetryPolicy:
    """When and how long to wait before repeating a request that is safe to repeat.

    Waits honour the platform's rate-limit headers (``_rate_limits.read_hints``); otherwise
    exponential backoff with jitter. No single wait may exceed ``max_wait``, and one request
    with all its repeats and waits ends within its ``timeout`` plus ``max_total_wait`` (the
    module's ``max_retry_wait``): past either, the error is raised instead of waiting. A
    request that timed out is repeated once at most: a platform that did not answer within
    ``timeout`` twice is not asked a third time.
    """

    def __init__(self, max_attempts=8, backoff=0.5, max_wait=60.0, max_total_wait=120.0,
                 max_timeouts=2):
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.max_total_wait = max_total_wait
        self.max_timeouts = max_timeouts

    def wait_before(self, attempt, headers, now):
        """Seconds to wait before attempt ``attempt + 1`` given the last response's headers."""
        hinted = hinted_wait(headers or {}, now)
        if hinted is not None:
            return hinted
        return self.backoff_wait(attempt)

    def backoff_wait(self, attempt):
        # Full jitter keeps parallel runs (an AWX schedule with forks) from retrying in step.
        return random.uniform(0.5, 1.0) * min(self.max_wait, self.backoff * (2 ** (attempt - 1)))


class _HeaderAuth(AuthBase):
    """Sets the Authorization header; as an ``AuthBase`` it keeps ``~/.netrc`` from overriding it
    and ``requests`` drops it on a redirect to another host."""

    def __init__(self, value):
        self._value = value

    def __call__(self, request):
        request.headers['Authorization'] = self._value
        return request


def join_path(segments, trailing_slash=False):
    """``/a/b%7Cc/`` from ``('a', 'b|c')``: every segment percent-encoded, slashes included."""
    path = '/' + '/'.join(quote(str(segment), safe='') for segment in segments)
    return path + '/' if trailing_slash else path


def _ssl_reason(failure):
    """The short reason of a TLS failure, such as ``CERTIFICATE_VERIFY_FAILED``."""
    text = str(failure)
    for reason in ('CERTIFICATE_VERIFY_FAILED', 'WRONG_VERSION_NUMBER', 'HOSTNAME_MISMATCH'):
        if reason in text:
            return reason
    return type(failure).__name__


class _Failure:
    """What went wrong in one attempt without an HTTP answer.

    ``kind``: ``unsent`` (provably never reached the platform), ``tls`` (the certificate),
    ``timeout`` (no complete answer within ``timeout``), ``dropped`` (the connection broke),
    ``too_large`` (the body is over the limit), ``error`` (anything else the HTTP stack raised).
    ``name`` is the exception's type name, the only part of it ever shown: the text of an
    exception from below ``requests`` may quote a header value.
    """

    def __init__(self, kind, exc, size=None):
        self.kind = kind
        self.name = type(exc).__name__
        self.exc = exc
        self.size = size


def _classify(exc, deadline):
    if isinstance(exc, BodyTooLarge):
        return _Failure('too_large', exc, size=exc.declared)
    if deadline is not None and (deadline.passed or isinstance(exc, DeadlinePassed)):
        return _Failure('timeout', exc)
    if not HAS_REQUESTS:  # pragma: no cover
        return _Failure('error', exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return _Failure('tls', exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _Failure('unsent', exc)
    if isinstance(exc, requests.exceptions.Timeout):
        return _Failure('timeout', exc)
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, 'reason', reason)
        if type(reason).__name__ in ('NewConnectionError', 'NameResolutionError'):
            return _Failure('unsent', exc)
        return _Failure('dropped', exc)
    if isinstance(exc, requests.exceptions.RequestException):
        return _Failure('dropped', exc)
    return _Failure('error', exc)


class ApiClient:
    """JSON over HTTP for one platform and one module run.

    ``auth_header`` is the full Authorization value (``Bearer x``, ``token x``, ``Api-Key x``).
    ``decode_error(status, body_text)`` returns ``(message, request_id)`` for an error response.
    ``content_type_on`` names the methods sent with ``Content-Type`` even when bodiless.
    ``platform`` is the platform's name for messages; ``max_body`` the largest body read;
    ``credential_option`` the option a refused credential is named by.
    """

    def __init__(self, base_url, auth_header, decode_error, timeout=30, validate_certs=True,
                 retry=None, accept='application/json', content_type='application/json',
                 trailing_slash=False, secrets=(), sleep=time.sleep, clock=time.time,
                 session=None, content_type_on=(), budget=None, platform=None,
                 max_body=MAX_BODY_BYTES, credential_option='api_token'):
        self.base_url = base_url.rstrip('/')
        self.decode_error = decode_error
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.trailing_slash = trailing_slash
        self.platform = platform
        self.max_body = max_body
        self._sleep = sleep
        self._clock = clock
        self._redact_values = set(s for s in secrets if s)
        self._auth_scheme = auth_header.split(' ', 1)[0] if auth_header else None
        #: the secret requests are sent with (``use_credential`` replaces it)
        self.credential = auth_header.split(' ', 1)[-1] if auth_header else None
        if auth_header:
            self._redact_values.add(auth_header.split(' ', 1)[-1])
            self._check_sendable(self.credential, credential_option)
        if session is None:
            session = requests.Session()
            adapter = DeadlineAdapter()
            session.mount('https://', adapter)
            session.mount('http://', adapter)
        self.session = session
        self.session.auth = _HeaderAuth(auth_header) if auth_header else None
        self.session.verify = validate_certs
        self.session.headers.update({'User-Agent': USER_AGENT, 'Accept': accept})
        self.content_type = content_type
        #: methods that carry Content-Type even without a body (the vendor's clients send it,
        #: and TFE answers 415 to a bodiless DELETE without it); a body always carries it
        self.content_type_on = frozenset(content_type_on)
        self.requests_sent = 0
        #: the :class:`RequestBudget` of this client's credential: the rotation role shares one
        #: between the clients of a credential; a module's own counts nothing itself and only
        #: follows what the platform says (a 429 pauses it, a stated limit or remainder paces it)
        self.budget = budget if budget is not None else RequestBudget(
            None, 1.0, sleep=sleep, longest_wait=self.retry.max_wait)
        self._shared_budget = budget is not None
        #: the writes the platform confirmed, in words (``changed`` and failure messages say
        #: what was changed even when a later step failed)
        self.changes = []
        #: answers that stay true for this client's run, shared by every adapter using it (the
        #: rotation role builds one adapter per token): the caller's identity, resolved teams
        self.memo = {}

    # ---------------------------------------------------------------------------------------
    def named(self, text):
        """``text`` with the platform's name in front, when the client knows it."""
        return '%s: %s' % (self.platform, text) if self.platform else text

    def _check_sendable(self, value, source, advice=CREDENTIAL_ADVICE, **details):
        problem = unsendable_character(value)
        if problem:
            raise UnsendableValueError('%s: holds %s, which an HTTP header cannot carry; the '
                                       'value is not shown. %s' % (source, problem, advice),
                                       **details)

    def remember_secret(self, value, created=None):
        """Make sure ``value`` never appears in an error message from this client; return it as
        it can be sent and delivered.

        A secret the platform returned with white space or line breaks around it comes back
        without them: HTTP drops white space around every header value (RFC 9110 section
        5.5) and cannot carry a line break, so the trimmed value is the only one a consumer can
        ever present. A secret with anything else a header cannot carry is refused, naming the
        platform, never the value; ``created`` (the metadata of the new token the request that
        returned ``value`` created) goes with the error, so that the caller can delete it.
        """
        if not value:
            return value
        self._redact_values.add(value)
        secret, dummy = normalised_secret(value)
        if secret:
            self._redact_values.add(secret)
        self._check_sendable(secret, 'the new secret %s returned' % (self.platform or 'the platform'),
                             SECRET_ADVICE, created=created)
        return secret

    def redact(self, text):
        for value in self._redact_values:
            text = text.replace(value, REDACTED)
        return text

    def url_for(self, path):
        if isinstance(path, (tuple, list)):
            path = join_path(path, self.trailing_slash)
        if path.startswith('http://') or path.startswith('https://'):
            self._check_same_origin(path)
            return path
        return self.base_url + path

    def link_url(self, link):
        """The URL a platform's pagination ``link`` names, on api_url's own origin.

        A proxy or load balancer in front of the platform may rewrite the links it builds with
        its own scheme, host or port (Django REST framework builds them from the request it
        sees); only the link's path and query are used, so the credential never goes anywhere
        but api_url. A path outside api_url's is refused.
        """
        ours, theirs = urlsplit(self.base_url), urlsplit(link)
        base_path = ours.path.rstrip('/')
        if theirs.path != base_path and not theirs.path.startswith(base_path + '/'):
            raise ApiError(self.named(
                'a pagination link points outside api_url (to the path %s); refusing to follow '
                'it' % theirs.path))
        return urlunsplit((ours.scheme, ours.netloc, theirs.path, theirs.query, ''))

    def _check_same_origin(self, url):
        """A redirect may only point at the platform the module was given."""
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        if (ours.scheme, ours.netloc) != (theirs.scheme, theirs.netloc):
            raise ApiError(self.named(
                'the platform pointed to %s://%s (a link or a redirect), which is not the '
                'api_url host; refusing to send the credential there'
                % (theirs.scheme, theirs.netloc)))

    # ---------------------------------------------------------------------------------------
    def get(self, path, params=None, allow_not_found=False):
        return self.request('GET', path, params=params, allow_not_found=allow_not_found)

    def post(self, path, body=None, params=None, idempotent=False):
        return self.request('POST', path, params=params, body=body, idempotent=idempotent)

    def put(self, path, body=None, idempotent=False):
        return self.request('PUT', path, body=body, idempotent=idempotent)

    def patch(self, path, body=None, idempotent=True):
        return self.request('PATCH', path, body=body, idempotent=idempotent)

    def delete(self, path, allow_not_found=True):
        """DELETE; a 404 (already gone, perhaps by our own retried request) gives False."""
        result = self.request('DELETE', path, allow_not_found=allow_not_found)
        return result is not None

    def use_credential(self, secret):
        """Send every later request with ``secret`` (after the caller's own was replaced)."""
        secret = self.remember_secret(secret)
        self.credential = secret
        self.session.auth = _HeaderAuth('%s %s' % (self._auth_scheme, secret))

    def credential_works(self, path, secret):
        """True when ``secret`` (not the client's own credential) may GET ``path``.

        The check a rotation makes before delivering a new secret: 401 and 403 mean no; any
        other failure raises, because it says nothing about the secret.
        """
        secret = self.remember_secret(secret)
        try:
            self.request('GET', path, credential=secret)
        except ApiError as exc:
            if exc.status in (401, 403):
                return False
            raise
        return True

    def request(self, method, path, params=None, body=None, idempotent=None,
                allow_not_found=False, credential=None):
        """Send one request (repeating it only when that is safe); return the decoded body.

        ``idempotent`` defaults to True for GET, HEAD and DELETE. A 404 gives None when
        ``allow_not_found``; an empty 2xx body gives ``{}``. A confirmed write is recorded in
        ``changes``.
        """
        result = self._request(method, path, params, body, idempotent, allow_not_found,
                               credential)
        if method in WRITE_WORDS and result is not None:
            self.changes.append('%s (%s %s)' % (WRITE_WORDS[method], method,
                                                urlsplit(self.url_for(path)).path))
        return result

    def _request(self, method, path, params, body, idempotent, allow_not_found, credential):
        if idempotent is None:
            idempotent = method in SAFE_METHODS
        url = self.url_for(path)
        shown_path = urlsplit(url).path
        data = None
        headers = {}
        # A per-request AuthBase replaces the session's, so only this request carries it.
        # A request made with the client's own credential spends its budget like any other.
        if credential == self.credential:
            credential = None
        if credential:
            self._check_sendable(credential, 'the secret checked')
        auth = _HeaderAuth('%s %s' % (self._auth_scheme, credential)) if credential else None
        if body is not None:
            data = json.dumps(body)
        if body is not None or method in self.content_type_on:
            headers['Content-Type'] = self.content_type
        started = time.monotonic()
        waited = 0.0
        attempt = timeouts = 0
        while True:
            attempt += 1
            response, failure = self._send(method, url, params, data, headers, auth)
            if failure is not None:
                timeouts += failure.kind == 'timeout'
                if self._repeatable(failure, idempotent, timeouts):
                    wait = self.retry.backoff_wait(attempt)
                    if self._may_wait(attempt, started, waited, wait):
                        self._sleep(wait)
                        waited += wait
                        continue
                raise self._transport_error(method, shown_path, failure, idempotent)
            status = response.status_code
            if status in REFUSED_UNACTED or (status >= 500 and idempotent):
                hints = read_hints(response.headers, self._clock())
                hinted = hints.wait
                wait = hinted if hinted is not None else self.retry.backoff_wait(attempt)
                if status == 429 and auth is None and self._shared_budget:
                    # the other threads of this credential stop too (this one waits below)
                    self.budget.pause(wait, limit_stated=bool(hints.limit))
                if self._may_wait(attempt, started, waited, wait):
                    self._sleep(wait)
                    waited += wait
                    continue
                return self._handle(method, shown_path, response, idempotent, allow_not_found,
                                    gave_up_after=waited, asked=hinted)
            return self._handle(method, shown_path, response, idempotent, allow_not_found)

    def _repeatable(self, failure, idempotent, timeouts):
        if failure.kind == 'unsent':
            return True
        if not idempotent or failure.kind in ('tls', 'too_large', 'error'):
            return False
        return failure.kind != 'timeout' or timeouts < self.retry.max_timeouts

    def _may_wait(self, attempt, started, waited, wait):
        """Whether one more attempt fits: the attempts, the wait before this one, and no wait
        longer than ``max_wait``; all of it within ``max_total_wait`` of the first send."""
        spent = max(time.monotonic() - started, waited)
        return all((attempt < self.retry.max_attempts, wait <= self.retry.max_wait,
                    spent + wait <= self.retry.max_total_wait))

    def _send(self, method, url, params, data, headers, auth=None):
        """One attempt: ``(response with its body read, None)`` or ``(None, _Failure)``.

        Redirects are followed only on the api_url's own scheme, host and port, so neither the
        credential nor trust in an answer ever moves to another host. The attempt, redirects
        included, ends within ``timeout`` seconds (a :class:`Deadline`), and no body larger
        than ``max_body`` is read.
        """
        # A check of a new secret (``auth``) spends that secret's budget, not ours.
        place = self.budget.take() if auth is None else None
        deadline = Deadline(self.timeout)
        try:
            with deadline:
                for hop in range(MAX_REDIRECTS + 1):
                    self.requests_sent += 1
                    # verify is passed on every request: a session's False alone loses to
                    # REQUESTS_CA_BUNDLE in the environment (requests issue 3829).
                    response = self.session.request(
                        method, url, params=params, data=data, headers=headers, auth=auth,
                        timeout=self._timeouts(deadline),
                        verify=self.session.verify, allow_redirects=False, stream=True)
                    if auth is None:
                        self.budget.learn(read_hints(response.headers, self._clock()))
                    read_body(response, deadline, self.max_body)
                    location = response.headers.get('Location')
                    if response.status_code not in REDIRECT_STATUSES or not location:
                        return response, None
                    if response.status_code not in (307, 308) and method not in ('GET', 'HEAD'):
                        return response, None   # would turn the write into a GET: report it
                    url = urljoin(url, location)
                    self._check_same_origin(url)
                    params = None                # the Location carries its own query
                return response, None
        except ApiError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            # Anything the HTTP stack raises (requests, urllib3, http.client, ssl, socket,
            # codecs) is classified here; only its type name is ever shown.
            return None, _classify(exc, deadline)
        finally:
            if place is not None:
                self.budget.release(place)

    def _timeouts(self, deadline):
        """``requests``' (connect, read) timeouts: the connect within what is left of the
        deadline, each read within ``timeout`` (the deadline bounds their sum)."""
        left = deadline.remaining()
        return (None if left is None else max(left, 0.001), self.timeout)

    def _transport_error(self, method, path, failure, idempotent):
        details = dict(method=method, path=path, platform=self.platform)
        if failure.kind == 'tls':
            # Nothing was sent: TLS failed before the request.
            return TransportError(self.named(
                '%s %s failed: the TLS certificate of the platform could not be verified (%s). '
                'Add its CA to the trust store (REQUESTS_CA_BUNDLE), or set validate_certs: false '
                'only if you accept that anyone on the network path can read the credential'
                % (method, path, self.redact(_ssl_reason(failure.exc)))), **details)
        if failure.kind == 'too_large':
            size = ' (it declared %s)' % describe_size(failure.size) if failure.size else ''
            message = self.named(
                '%s %s: the answer\'s body is larger than %s%s, the most this client reads '
                '(max_body_mib); it was not read' % (method, path, describe_size(self.max_body),
                                                     size))
            if not idempotent:
                return AmbiguousWriteError(message + '; the platform may or may not have acted',
                                           **details)
            return UnreadableAnswerError(message, **details)
        if failure.kind == 'timeout':
            message = self.named(
                '%s %s timed out: no complete answer within %ss (timeout bounds each request: '
                'connecting, the headers and the body)' % (method, path, self._seconds()))
        else:
            message = self.named('%s %s failed without an HTTP answer: %s' % (
                method, path, failure.name))
        if not idempotent and failure.kind != 'unsent':
            error = AmbiguousWriteError(message + '; the platform may or may not have acted',
                                        **details)
            # Whether the platform may still be acting on it (``_lost_writes``): the client
            # gave up waiting, rather than the connection ending.
            error.timed_out = failure.kind == 'timeout'
            return error
        return TransportError(message, **details)

    def _seconds(self):
        return ('%g' % self.timeout) if isinstance(self.timeout, (int, float)) else self.timeout

    def _handle(self, method, path, response, idempotent, allow_not_found, gave_up_after=None,
                asked=None):
        status = response.status_code
        if 200 <= status < 300:
            return self._decode(method, path, response, idempotent)
        if status == 404 and allow_not_found:
            return None
        # Everything the platform says is masked for every credential and secret this client
        # knows before anything else reads it: an error body is shortened after this, and a
        # request id header may echo what it was sent.
        message, request_id = self.decode_error(status, self.redact(self._text(response)))
        request_id = self.redact(request_id or _request_id(response.headers) or '') or None
        message = self.redact(message or '') or None
        text = self.named(_error_text(status, method, path, message, request_id))
        if gave_up_after is not None:
            text += '; gave up after waiting %.1fs in total' % gave_up_after
            if asked is not None and asked > self.retry.max_wait:
                text += (' (the platform asked to wait %s, longer than the client waits)'
                         % ('%.0fs' % asked if asked != float('inf') else 'more than a day'))
        details = dict(status=status, method=method, path=path, platform_message=message,
                       request_id=request_id, platform=self.platform)
        if status == 401:
            raise AuthenticationError(
                text + '. Check api_token: the platform did not accept it', **details)
        if status >= 500 and not idempotent:
            raise AmbiguousWriteError(
                text + '; the platform may or may not have acted', **details)
        raise ApiError(text, **details)

    @staticmethod
    def _text(response):
        """An error body as text, whatever its charset says."""
        try:
            return response.text or ''
        except (LookupError, ValueError, TypeError):   # an unknown or broken charset
            return response.content.decode('utf-8', 'replace')

    def _decode(self, method, path, response, idempotent):
        if not response.content:
            return {}
        try:
            # as requests' Response.json() reads it: the declared charset, else UTF-8/16/32
            encoding = response.encoding or guess_json_utf(response.content) or 'utf-8'
            value = decode_json(response.content.decode(encoding))
            # Every answer of the five platforms (and the sinks' services) is a JSON object;
            # anything else (a gateway's ``null``, a list, a string) would be read as one by
            # every caller and fail as a Python error naming nothing.
            if isinstance(value, dict):
                return value
            if method == 'DELETE':
                return {}       # the deletion's status decides; its body is not read
            raise ValueError('JSON but not an object (%s)' % _json_kind(value))
        except (ValueError, LookupError) as exc:
            why = 'JSON %s' % exc if 'nested' in str(exc) else 'not JSON'
            if 'not an object' in str(exc):
                why = str(exc)
            message = self.named('%s %s returned HTTP %s with a body that is %s' % (
                method, path, response.status_code, why))
            details = dict(status=response.status_code, method=method, path=path,
                           platform=self.platform)
            if not idempotent:
                raise AmbiguousWriteError(message + '; the platform may or may not have acted',
                                          **details)
            raise UnreadableAnswerError(message, **details)


def decode_json_error(extract):
    """An error decoder from ``extract(body) -> (message, request_id)`` for JSON bodies.

    Bodies that are not JSON (a proxy's HTML page, a router's plain text), or JSON nested too
    deep to read, are shown as text, shortened.
    """
    def decode(status, text):
        try:
            body = decode_json(text) if text else None
        except ValueError:
            return ' '.join(text.split())[:200] or None, None
        try:
            return extract(body)
        except (AttributeError, KeyError, IndexError, TypeError):
            return ' '.join(text.split())[:200], None
    return decode
