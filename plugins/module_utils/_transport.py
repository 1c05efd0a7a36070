# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The bounds of one HTTP exchange: a wall-clock deadline, a body size limit, header values.

``requests``' own ``timeout`` bounds each socket read, not the request: a server that sends a
byte a second holds it for ever. Here every attempt gets a :class:`Deadline`; a watchdog timer
shuts the attempt's socket down when it passes, whatever phase the exchange is in (connect,
TLS, headers, body), and the body is read in chunks with the deadline and the size limit
checked between them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket
import threading
import time
import unicodedata

try:
    from requests.adapters import HTTPAdapter
    import urllib3
    from urllib3 import connection as _connection, connectionpool as _connectionpool
    HAS_URLLIB3 = True
except ImportError:  # pragma: no cover - requests is checked where modules start
    HAS_URLLIB3 = False
    HTTPAdapter = object

#: the largest response body read (after decompression); a larger one is an error, not a
#: memory problem for the run (and, in the rotation role, for every platform's tokens)
MAX_BODY_BYTES = 16 * 1024 * 1024
#: bytes read at a time; the deadline and the limit are checked between chunks
CHUNK_BYTES = 64 * 1024

_current = threading.local()


class Deadline:
    """The wall-clock end of one attempt; past it, the attempt's socket is shut down.

    Use as a context manager around the whole attempt (send, headers, body). The connection
    the attempt uses registers itself (``watch``) from the connection classes below; a socket
    is only ever shut down while this attempt owns it, never after ``__exit__``, so a
    keep-alive connection back in the pool is never touched.
    """

    def __init__(self, seconds, clock=time.monotonic):
        self._clock = clock
        self.seconds = seconds
        if seconds is None:             # no deadline: only requests' own per-read timeout
            seconds = float('inf')
        self._at = clock() + seconds
        self._lock = threading.Lock()
        self._connection = None
        self._socket = None
        self._over = False
        self.passed = False
        self._timer = None
        if seconds != float('inf'):
            self._timer = threading.Timer(max(0.0, seconds), self._fire)
            self._timer.daemon = True

    def __enter__(self):
        _current.deadline = self
        if self._timer is not None:
            self._timer.start()
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._over = True
        if self._timer is not None:
            self._timer.cancel()
        if getattr(_current, 'deadline', None) is self:
            _current.deadline = None

    def remaining(self):
        """Seconds left (None without a deadline)."""
        if self.seconds is None:
            return None
        return max(0.0, self._at - self._clock())

    def expired(self):
        return self.passed or self._clock() >= self._at

    def watch(self, connection):
        """``connection`` carries this attempt from now on."""
        with self._lock:
            self._connection = connection
            # http.client drops its reference (sock = None) when an answer ends with the
            # connection, while the answer still reads from that socket: keep our own
            self._socket = getattr(connection, 'sock', None) or self._socket
            if self.passed:
                self._shut()

    def _fire(self):
        with self._lock:
            if self._over:
                return
            self.passed = True
            self._shut()

    def _shut(self):
        sock = getattr(self._connection, 'sock', None) or self._socket
        if sock is None:
            return
        try:
            # socket.socket's own shutdown, also for a TLS socket: ssl.SSLSocket.shutdown would
            # drop its SSL object under the reading thread's feet; this only wakes that thread.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except (OSError, TypeError, ValueError, AttributeError):
            pass


def _watch(connection):
    deadline = getattr(_current, 'deadline', None)
    if deadline is not None:
        deadline.watch(connection)


if HAS_URLLIB3:
    class _Watched(object):
        """Registers the connection with the running attempt's deadline when it connects and
        when it sends (a keep-alive connection is connected once, used many times)."""

        def connect(self, *args, **kwargs):
            _watch(self)
            try:
                return super(_Watched, self).connect(*args, **kwargs)
            finally:
                _watch(self)

        def request(self, *args, **kwargs):
            _watch(self)
            return super(_Watched, self).request(*args, **kwargs)

        def getresponse(self, *args, **kwargs):
            _watch(self)
            return super(_Watched, self).getresponse(*args, **kwargs)

    class _WatchedHTTPConnection(_Watched, _connection.HTTPConnection):
        pass

    class _WatchedHTTPSConnection(_Watched, _connection.HTTPSConnection):
        pass

    class _WatchedHTTPPool(_connectionpool.HTTPConnectionPool):
        ConnectionCls = _WatchedHTTPConnection

    class _WatchedHTTPSPool(_connectionpool.HTTPSConnectionPool):
        ConnectionCls = _WatchedHTTPSConnection

    _WATCHED_POOLS = {'http': _WatchedHTTPPool, 'https': _WatchedHTTPSPool}
    _PLAIN_MANAGERS = (urllib3.PoolManager, urllib3.ProxyManager)


class DeadlineAdapter(HTTPAdapter):
    """``requests``' adapter with connections a :class:`Deadline` can cut.

    Plain and HTTP-proxied pools only; a pool manager of another kind (SOCKS) keeps its own
    classes and relies on the per-read timeout and the checks between body chunks.
    """

    def init_poolmanager(self, *args, **kwargs):
        super(DeadlineAdapter, self).init_poolmanager(*args, **kwargs)
        _use_watched_pools(self.poolmanager)

    def proxy_manager_for(self, *args, **kwargs):
        manager = super(DeadlineAdapter, self).proxy_manager_for(*args, **kwargs)
        _use_watched_pools(manager)
        return manager


def _use_watched_pools(manager):
    if HAS_URLLIB3 and type(manager) in _PLAIN_MANAGERS:
        manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)


class BodyTooLarge(Exception):
    """The body is longer than the limit (``declared``: its Content-Length, when it said)."""

    def __init__(self, limit, declared=None):
        super(BodyTooLarge, self).__init__(limit, declared)
        self.limit, self.declared = limit, declared


class DeadlinePassed(Exception):
    """The attempt's deadline passed while its body was being read."""


def read_body(response, deadline, limit=MAX_BODY_BYTES):
    """Read a streamed ``response``'s body (decoded) into ``response.content``, within
    ``deadline`` and ``limit`` bytes; the connection is closed when either is exceeded."""
    declared = response.headers.get('Content-Length')
    try:
        declared = int(declared) if declared is not None else None
    except ValueError:
        declared = None
    try:
        if declared is not None and declared > limit:
            raise BodyTooLarge(limit, declared)
        body = bytearray()
        for chunk in response.iter_content(CHUNK_BYTES):
            body.extend(chunk)
            if len(body) > limit:
                raise BodyTooLarge(limit)
            if deadline is not None and deadline.expired():
                raise DeadlinePassed()
    except BaseException:
        response.close()
        raise
    response._content = bytes(body)
    response._content_consumed = True
    return response


if HAS_URLLIB3:
    import requests as _requests

    class DeadlineSession(_requests.Session):
        """A ``requests.Session`` whose every request (redirects included) ends within
        ``seconds`` and reads at most ``max_body`` bytes of body: for the libraries that take a
        session of ours (hvac) and the requests made outside :class:`ApiClient` (the Pushgateway
        push). A passed deadline is a ``requests`` ``Timeout``, a body over the limit a
        ``requests`` ``RequestException``, so a caller that handles ``requests``' errors
        handles these too."""

        def __init__(self, seconds, max_body=MAX_BODY_BYTES):
            super(DeadlineSession, self).__init__()
            self.seconds = seconds
            self.max_body = max_body
            adapter = DeadlineAdapter()
            self.mount('https://', adapter)
            self.mount('http://', adapter)

        def request(self, method, url, *args, **kwargs):
            kwargs['stream'] = True
            deadline = Deadline(self.seconds)
            try:
                with deadline:
                    response = super(DeadlineSession, self).request(method, url, *args, **kwargs)
                    read_body(response, deadline, self.max_body)
            except BodyTooLarge as exc:
                raise BodyTooLargeError(exc.limit, exc.declared)
            except Exception:
                if deadline.passed:
                    raise DeadlineTimeout('no complete answer within %ss' % self.seconds)
                raise
            return response

    class DeadlineTimeout(_requests.exceptions.Timeout):
        """The deadline of a :class:`DeadlineSession` request passed."""

    class BodyTooLargeError(_requests.exceptions.RequestException):
        """A :class:`DeadlineSession` answer's body is over the limit; it was not read."""

        def __init__(self, limit, declared=None):
            super(BodyTooLargeError, self).__init__('an answer larger than %s, which was not '
                                                    'read' % describe_size(limit))
            self.limit, self.declared = limit, declared
else:  # pragma: no cover - requests is checked where modules and sinks start
    DeadlineSession = DeadlineTimeout = BodyTooLargeError = None


def describe_size(size):
    """``16 MiB``, ``200.0 MB``: a byte count for a message."""
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return '%d MiB' % (size // (1024 * 1024))
    return '%d bytes' % size


# -- header values ---------------------------------------------------------------------------

#: what HTTP treats as white space around a field value (RFC 9110 section 5.5 excludes it from
#: the value), and the line breaks that can never be part of one
_SURROUNDING = ' \t\r\n'


def unsendable_character(value):
    """Why ``value`` cannot be sent as a credential in an HTTP header, or None when it can.

    Credentials are visible ASCII: anything else (white space, a control character, a byte
    HTTP forbids, a character outside ASCII such as a zero-width space) is named by kind and
    position; the value itself never is.
    """
    for position, char in enumerate(value, 1):
        if '!' <= char <= '~':
            continue
        if char in '\r\n':
            kind = 'a line break'
        elif char in ' \t':
            kind = 'white space'
        elif ord(char) < 32 or ord(char) == 127:
            kind = 'a control character (U+%04X)' % ord(char)
        else:
            name = unicodedata.name(char, '')
            kind = 'a character outside ASCII (U+%04X%s)' % (ord(char),
                                                             ' %s' % name if name else '')
        return '%s at position %d of %d' % (kind, position, len(value))
    return None


def normalised_secret(value):
    """``(secret, stripped)``: a secret a platform returned, without the white space and line
    breaks around it, which HTTP excludes from every header value (RFC 9110 section 5.5), so a
    consumer could only ever present the trimmed value; ``stripped`` says whether any was."""
    trimmed = value.strip(_SURROUNDING)
    return trimmed, trimmed != value
