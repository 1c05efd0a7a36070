# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The one HTTP/JSON client every module uses.

Layers: a ``requests.Session`` per module run (keep-alive across pages, timeouts, TLS) and a
retry policy that only ever repeats a request when repeating it cannot create anything twice.
Platform adapters supply the auth header and how to read the platform's error body; they never
see ``requests`` themselves. Errors are typed (:class:`ApiError` and friends) and turned into
``fail_json`` in exactly one place (``_module.run``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email.utils
import json
import random
import threading
import time

try:
    from urllib.parse import quote, urljoin, urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported, but keep imports parseable
    from urllib import quote  # type: ignore
    from urlparse import urljoin, urlsplit  # type: ignore

try:
    import requests
    from requests.auth import AuthBase
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised through missing_required_lib
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc
    AuthBase = object

USER_AGENT = 'tokenops.tokens (Ansible collection)'
REDACTED = '********'
SAFE_METHODS = frozenset(('GET', 'HEAD', 'DELETE'))
#: what a confirmed write did, in words
WRITE_WORDS = {'POST': 'created or issued', 'PUT': 'changed', 'PATCH': 'changed',
               'DELETE': 'deleted'}


#: redirects followed within the api_url's origin before giving up
MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class TokenOpsError(Exception):
    """Base of every error a module turns into ``fail_json``."""

    def __init__(self, message, **details):
        super(TokenOpsError, self).__init__(message)
        self.details = details


class ApiError(TokenOpsError):
    """The platform answered with an error status.

    ``status`` is the HTTP status, ``platform_message`` the platform's own error text and
    ``request_id`` its request id when it sends one. Never holds a header or a secret.
    """

    def __init__(self, message, status=None, method=None, path=None, platform_message=None,
                 request_id=None):
        super(ApiError, self).__init__(message, status=status, method=method, path=path,
                                       request_id=request_id)
        self.status = status
        self.method = method
        self.path = path
        self.platform_message = platform_message
        self.request_id = request_id


class AuthenticationError(ApiError):
    """401: the credential in ``api_token`` was not accepted."""


class TransportError(ApiError):
    """No HTTP answer at all: connection refused, reset, timed out, TLS failure."""


class AmbiguousWriteError(ApiError):
    """A request that may create or replace something failed without a clear answer.

    The platform may or may not have acted (a 5xx, a timeout, a dropped connection, an
    unreadable body). Callers must look before they try again; the client never repeats it.
    """


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


class RetryPolicy:
    """When and how long to wait before repeating a request that is safe to repeat.

    Waits honour ``Retry-After`` (seconds or an HTTP date) and ``X-RateLimit-Reset`` (seconds,
    or a Unix time); otherwise exponential backoff with jitter. No single wait may exceed
    ``max_wait`` and all waits of one request together may not exceed ``max_total_wait``:
    past either, the error is raised instead of waiting.
    """

    RETRY_STATUSES = frozenset((429, 502, 503, 504))

    def __init__(self, max_attempts=8, backoff=0.5, max_wait=60.0, max_total_wait=120.0):
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.max_total_wait = max_total_wait

    def wait_before(self, attempt, headers, now):
        """Seconds to wait before attempt ``attempt + 1`` given the last response's headers."""
        hinted = hinted_wait(headers or {}, now)
        if hinted is not None:
            return hinted
        # Full jitter keeps parallel runs (an AWX schedule with forks) from retrying in step.
        return random.uniform(0.5, 1.0) * min(self.max_wait, self.backoff * (2 ** (attempt - 1)))


def hinted_wait(headers, now):
    """The wait a platform asked for in ``Retry-After`` or ``X-RateLimit-Reset``, or None."""
    lowered = dict((k.lower(), v) for k, v in headers.items())
    retry_after = lowered.get('retry-after')
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            parsed = email.utils.parsedate_tz(retry_after)
            if parsed:
                return max(0.0, email.utils.mktime_tz(parsed) - now)
    reset = lowered.get('x-ratelimit-reset')
    if reset:
        try:
            value = float(reset)
        except ValueError:
            return None
        # Large values are a Unix time (GitHub style); small ones are seconds (TFE style).
        return max(0.0, value - now if value > 1e9 else value)
    return None


class RequestBudget:
    """At most ``requests`` requests in any ``seconds``: the clients of one credential share one.

    A platform counts a request when it arrives, which is somewhere between our send and its
    answer; so a request holds its place in the budget from its send until ``seconds`` after its
    answer, and no window of the platform's, fixed or sliding, sees more than ``requests`` of
    ours however late the server reads them. A run shorter than the budget is never slowed.
    Thread-safe; waits outside the lock.
    """

    def __init__(self, requests, seconds, clock=time.monotonic, sleep=time.sleep):
        self.requests = int(requests)
        self.seconds = float(seconds)
        self._clock = clock
        self._sleep = sleep
        self._places = []           # [answered at, or None while in flight]
        self._lock = threading.Lock()
        #: seconds spent waiting for the budget, for the benchmark
        self.waited = 0.0

    def take(self):
        """Wait until one more request fits in the budget; return its place (for ``release``)."""
        while True:
            with self._lock:
                now = self._clock()
                self._places = [p for p in self._places
                                if p[0] is None or now - p[0] < self.seconds]
                if len(self._places) < self.requests:
                    place = [None]
                    self._places.append(place)
                    return place
                answered = [p[0] for p in self._places if p[0] is not None]
                wait = self.seconds - (now - min(answered)) if answered else 0.005
                self.waited += wait
            self._sleep(wait)

    def release(self, place):
        """The request of ``place`` was answered (or failed): its place frees ``seconds`` later."""
        with self._lock:
            place[0] = self._clock()


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


class ApiClient:
    """JSON over HTTP for one platform and one module run.

    ``auth_header`` is the full Authorization value (``Bearer x``, ``token x``, ``Api-Key x``).
    ``decode_error(status, body_text)`` returns ``(message, request_id)`` for an error response.
    ``content_type_on`` names the methods sent with ``Content-Type`` even when bodiless.
    """

    def __init__(self, base_url, auth_header, decode_error, timeout=30, validate_certs=True,
                 retry=None, accept='application/json', content_type='application/json',
                 trailing_slash=False, secrets=(), sleep=time.sleep, clock=time.time,
                 session=None, content_type_on=(), budget=None):
        self.base_url = base_url.rstrip('/')
        self.decode_error = decode_error
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.trailing_slash = trailing_slash
        self._sleep = sleep
        self._clock = clock
        self._redact_values = set(s for s in secrets if s)
        self._auth_scheme = auth_header.split(' ', 1)[0] if auth_header else None
        #: the secret requests are sent with (``use_credential`` replaces it)
        self.credential = auth_header.split(' ', 1)[-1] if auth_header else None
        if auth_header:
            self._redact_values.add(auth_header.split(' ', 1)[-1])
        self.session = session or requests.Session()
        self.session.auth = _HeaderAuth(auth_header) if auth_header else None
        self.session.verify = validate_certs
        self.session.headers.update({'User-Agent': USER_AGENT, 'Accept': accept})
        self.content_type = content_type
        #: methods that carry Content-Type even without a body (the vendor's clients send it,
        #: and TFE answers 415 to a bodiless DELETE without it); a body always carries it
        self.content_type_on = frozenset(content_type_on)
        self.requests_sent = 0
        #: the :class:`RequestBudget` of this client's credential (None: no client-side limit)
        self.budget = budget
        #: the writes the platform confirmed, in words (``changed`` and failure messages say
        #: what was changed even when a later step failed)
        self.changes = []
        #: answers that stay true for this client's run, shared by every adapter using it (the
        #: rotation role builds one adapter per token): the caller's identity, resolved teams
        self.memo = {}

    # ---------------------------------------------------------------------------------------
    def remember_secret(self, value):
        """Make sure ``value`` never appears in an error message from this client."""
        if value:
            self._redact_values.add(value)

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

    def _check_same_origin(self, url):
        """A pagination link may only point at the platform the module was given."""
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        if (ours.scheme, ours.netloc) != (theirs.scheme, theirs.netloc):
            raise ApiError('the platform pointed to %s://%s (a link or a redirect), which is not '
                           'the api_url host; refusing to send the credential there'
                           % (theirs.scheme, theirs.netloc))

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
        self.remember_secret(secret)
        self.credential = secret
        self.session.auth = _HeaderAuth('%s %s' % (self._auth_scheme, secret))

    def credential_works(self, path, secret):
        """True when ``secret`` (not the client's own credential) may GET ``path``.

        The check a rotation makes before delivering a new secret: 401 and 403 mean no; any
        other failure raises, because it says nothing about the secret.
        """
        self.remember_secret(secret)
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
        auth = _HeaderAuth('%s %s' % (self._auth_scheme, credential)) if credential else None
        if body is not None:
            data = json.dumps(body)
        if body is not None or method in self.content_type_on:
            headers['Content-Type'] = self.content_type
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            response, failure = self._send(method, url, params, data, headers, auth)
            if failure is not None:
                retryable = not isinstance(failure, requests.exceptions.SSLError)
                if retryable and (self._provably_unsent(failure) or idempotent):
                    wait = self.retry.wait_before(attempt, {}, self._clock())
                    if self._may_wait(attempt, waited, wait):
                        self._sleep(wait)
                        waited += wait
                        continue
                raise self._transport_error(method, shown_path, failure, idempotent)
            status = response.status_code
            # A 429 means the platform refused before acting, so even a create may repeat it.
            if status in RetryPolicy.RETRY_STATUSES and (idempotent or status == 429):
                wait = self.retry.wait_before(attempt, response.headers, self._clock())
                if self._may_wait(attempt, waited, wait):
                    self._sleep(wait)
                    waited += wait
                    continue
                return self._handle(method, shown_path, response, idempotent, allow_not_found,
                                    gave_up_after=waited)
            return self._handle(method, shown_path, response, idempotent, allow_not_found)

    def _may_wait(self, attempt, waited, wait):
        return all((attempt < self.retry.max_attempts, wait <= self.retry.max_wait,
                    waited + wait <= self.retry.max_total_wait))

    def _send(self, method, url, params, data, headers, auth=None):
        """One request; redirects are followed only on the api_url's own scheme, host and port,
        so neither the credential nor trust in an answer ever moves to another host."""
        for hop in range(MAX_REDIRECTS + 1):
            self.requests_sent += 1
            # A check of a new secret (``auth``) spends that secret's budget, not ours.
            place = self.budget.take() if self.budget is not None and auth is None else None
            try:
                # verify is passed on every request: a session's False alone loses to
                # REQUESTS_CA_BUNDLE in the environment (requests issue 3829).
                response = self.session.request(method, url, params=params, data=data,
                                                headers=headers, auth=auth, timeout=self.timeout,
                                                verify=self.session.verify,
                                                allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                return None, exc
            finally:
                if place is not None:
                    self.budget.release(place)
            location = response.headers.get('Location')
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response, None
            if response.status_code not in (307, 308) and method not in ('GET', 'HEAD'):
                return response, None     # would turn the write into a GET: report it instead
            url = urljoin(url, location)
            self._check_same_origin(url)
            params = None                 # the Location carries its own query
        return response, None

    @staticmethod
    def _provably_unsent(failure):
        """True when the request cannot have reached the server (no connection was made)."""
        if isinstance(failure, requests.exceptions.ConnectTimeout):
            return True
        if isinstance(failure, requests.exceptions.ConnectionError):
            reason = failure.args[0] if failure.args else None
            reason = getattr(reason, 'reason', reason)
            return type(reason).__name__ in ('NewConnectionError', 'NameResolutionError')
        return False

    def _transport_error(self, method, path, failure, idempotent):
        if isinstance(failure, requests.exceptions.SSLError):
            # Nothing was sent: TLS failed before the request.
            return TransportError(
                '%s %s failed: the TLS certificate of the platform could not be verified (%s). '
                'Add its CA to the trust store (REQUESTS_CA_BUNDLE), or set validate_certs: false '
                'only if you accept that anyone on the network path can read the credential'
                % (method, path, self.redact(_ssl_reason(failure))), method=method, path=path)
        kind = 'timed out' if isinstance(failure, requests.exceptions.Timeout) else 'failed'
        message = '%s %s %s without an HTTP answer: %s' % (
            method, path, kind, self.redact(type(failure).__name__))
        if not idempotent and not self._provably_unsent(failure):
            return AmbiguousWriteError(message + '; the platform may or may not have acted',
                                       method=method, path=path)
        return TransportError(message, method=method, path=path)

    def _handle(self, method, path, response, idempotent, allow_not_found, gave_up_after=None):
        status = response.status_code
        if 200 <= status < 300:
            return self._decode(method, path, response, idempotent)
        if status == 404 and allow_not_found:
            return None
        # Everything the platform says is masked for every credential and secret this client
        # knows before anything else reads it: an error body is shortened after this, and a
        # request id header may echo what it was sent.
        message, request_id = self.decode_error(status, self.redact(response.text or ''))
        request_id = self.redact(request_id or _request_id(response.headers) or '') or None
        message = self.redact(message or '') or None
        text = _error_text(status, method, path, message, request_id)
        if gave_up_after is not None:
            text += '; gave up after waiting %.1fs in total' % gave_up_after
        details = dict(status=status, method=method, path=path, platform_message=message,
                       request_id=request_id)
        if status == 401:
            raise AuthenticationError(
                text + '. Check api_token: the platform did not accept it', **details)
        if status >= 500 and not idempotent:
            raise AmbiguousWriteError(
                text + '; the platform may or may not have acted', **details)
        raise ApiError(text, **details)

    def _decode(self, method, path, response, idempotent):
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            message = '%s %s returned HTTP %s with a body that is not JSON' % (
                method, path, response.status_code)
            if not idempotent:
                raise AmbiguousWriteError(message + '; the platform may or may not have acted',
                                          status=response.status_code, method=method, path=path)
            raise ApiError(message, status=response.status_code, method=method, path=path)


def decode_json_error(extract):
    """An error decoder from ``extract(body) -> (message, request_id)`` for JSON bodies.

    Bodies that are not JSON (a proxy's HTML page, a router's plain text) are shown as text,
    shortened.
    """
    def decode(status, text):
        try:
            body = json.loads(text) if text else None
        except ValueError:
            return ' '.join(text.split())[:200] or None, None
        try:
            return extract(body)
        except (AttributeError, KeyError, IndexError, TypeError):
            return ' '.join(text.split())[:200], None
    return decode
