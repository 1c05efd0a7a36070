# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""What a platform says about its rate limit, and the request budget that follows it.

Every header style the five platforms and their gateways send is read into one
:class:`RateLimitHints`:

- ``Retry-After``: seconds or an HTTP date (RFC 9110 section 10.2.3);
- ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset``: the reset is seconds from now (TFE, as
  go-tfe reads it), a Unix time (GitHub style) or a Unix time in milliseconds, told apart by
  magnitude;
- the IETF fields of draft-ietf-httpapi-ratelimit-headers in each of its published forms:
  ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (drafts 00-06), ``RateLimit: limit=,
  remaining=, reset=`` (draft 07), ``RateLimit: "name";r=;t=`` with ``RateLimit-Policy:
  "name";q=;w=`` (draft 08 on; Cloudflare's form).

Values no platform would mean (negative, not a number, a date in the year 99999) are ignored;
a wait longer than a day is read as "longer than any client waits". Nothing here raises.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import calendar
import email.utils
import math
import threading
import time

#: the longest wait a header may ask for and still be taken at its word (a day); longer is
#: read as infinite, so the client gives up instead of sleeping
LONGEST_HINT = 86400.0
#: the longest rate-limit window followed; a longer one (a daily quota) does not pace a run
LONGEST_WINDOW = 3600.0
#: X-RateLimit-Reset values above these are Unix times in seconds, or in milliseconds
_UNIX_SECONDS, _UNIX_MILLISECONDS = 1e9, 1e11


def _number(text):
    """A finite, non-negative float from header text, else None."""
    try:
        value = float(str(text).strip())
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _bounded(seconds):
    """A wait in seconds: None stays None, past a day is infinite."""
    if seconds is None:
        return None
    return float('inf') if seconds > LONGEST_HINT else max(0.0, seconds)


def _http_date(text, now):
    """Seconds from ``now`` until an HTTP date, or None when it is not one."""
    try:
        parsed = email.utils.parsedate_tz(text)
        if not parsed:
            return None
        seconds = calendar.timegm(parsed[:6]) - (parsed[9] or 0)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return max(0.0, seconds - now)


def _reset(text, now):
    """X-RateLimit-Reset: seconds from now, or a Unix time (seconds or milliseconds)."""
    value = _number(text)
    if value is None:
        return None
    if value >= _UNIX_MILLISECONDS:
        return max(0.0, value / 1000.0 - now)
    if value >= _UNIX_SECONDS:
        return max(0.0, value - now)
    return value


def _members(text):
    """Members of a structured-field list or dictionary: ``[(item, {param: value})]``.

    Enough of RFC 8941 for rate-limit fields: commas and semicolons inside quoted strings are
    kept, and a ``key=value`` member (a dictionary's) comes back as ``(key, {'': value})``.
    """
    members, current, quoted = [], [''], False
    for char in str(text):
        if char == '"':
            quoted = not quoted
        if not quoted and char == ',':
            members.append(current)
            current = ['']
        elif not quoted and char == ';':
            current.append('')
        else:
            current[-1] += char
    members.append(current)
    parsed = []
    for parts in members:
        item = parts[0].strip()
        params = {}
        if '=' in item and not item.startswith('"'):
            key, dummy, value = item.partition('=')
            item, params[''] = key.strip().lower(), value.strip()
        for part in parts[1:]:
            key, dummy, value = part.partition('=')
            params[key.strip().lower()] = value.strip().strip('"')
        if item or params:
            parsed.append((item.strip('"'), params))
    return parsed


class RateLimitHints:
    """What one answer said about the rate limit; every field may be None.

    ``retry_after`` and ``reset`` are seconds from now (infinite when absurdly far),
    ``limit`` requests per ``window`` seconds (``window`` None: the platform did not say),
    ``remaining`` the requests left until ``reset``.
    """

    def __init__(self, retry_after=None, reset=None, limit=None, window=None, remaining=None):
        self.retry_after = retry_after
        self.reset = reset
        self.limit = limit
        self.window = window
        self.remaining = remaining

    @property
    def wait(self):
        """The wait the platform asked for before the next request, or None."""
        if self.retry_after is not None:
            return self.retry_after
        if self.reset is not None and (self.remaining is None or self.remaining == 0):
            return self.reset
        return None

    def __repr__(self):
        return 'RateLimitHints(%r)' % self.__dict__


def read_hints(headers, now):
    """Every rate-limit header of ``headers`` (any case) as one :class:`RateLimitHints`.

    Where several policies are stated, the most restrictive one wins.
    """
    fields = dict((str(k).lower(), v) for k, v in (headers or {}).items())
    hints = RateLimitHints()
    if fields.get('retry-after'):
        text = str(fields['retry-after'])
        seconds = _number(text)
        hints.retry_after = _bounded(seconds if seconds is not None else _http_date(text, now))
    limits, remainders = [], []       # (limit, window), (remaining, reset)
    for prefix in ('x-ratelimit-', 'ratelimit-'):
        limit = _number(fields.get(prefix + 'limit'))
        if limit:
            limits.append((limit, None))
        remaining = _number(fields.get(prefix + 'remaining'))
        reset = _reset(fields.get(prefix + 'reset'), now) if fields.get(prefix + 'reset') \
            else None
        if remaining is not None or reset is not None:
            remainders.append((remaining, reset))
    if fields.get('ratelimit'):
        members = _members(fields['ratelimit'])
        as_dict = dict((item, params.get('')) for item, params in members if '' in params)
        if as_dict:                                       # draft 07: limit=, remaining=, reset=
            limit = _number(as_dict.get('limit'))
            if limit:
                limits.append((limit, None))
            remainders.append((_number(as_dict.get('remaining')), _number(as_dict.get('reset'))))
        for item, params in members:                      # draft 08 on: "name";r=;t=
            if 'r' in params or 't' in params:
                remainders.append((_number(params.get('r')), _number(params.get('t'))))
    for item, params in _members(fields.get('ratelimit-policy') or ''):
        quota = _number(params.get('q')) if 'q' in params else _number(item)
        window = _number(params.get('w'))
        if quota:
            limits.append((quota, window if window else None))
    # A run lasts minutes: a daily quota does not pace it, the policy of the shortest windows
    # does. Of the policies within an hour (a limit without a window counts per second), the
    # lowest rate wins.
    limits = [lw for lw in limits if (lw[1] or 1.0) <= LONGEST_WINDOW]
    if limits:
        hints.limit, hints.window = min(limits, key=lambda lw: lw[0] / (lw[1] or 1.0))
        hints.limit = max(1, int(hints.limit))
    known = [r for r in remainders if r[0] is not None]
    if known:
        hints.remaining, reset = min(known, key=lambda r: r[0])
        hints.remaining = int(hints.remaining)
        hints.reset = _bounded(reset)
    elif remainders:
        resets = [r[1] for r in remainders if r[1] is not None]
        hints.reset = _bounded(max(resets)) if resets else None
    return hints


def hinted_wait(headers, now):
    """The wait a platform asked for in its rate-limit headers, or None."""
    return read_hints(headers, now).wait


class RequestBudget:
    """At most ``requests`` requests in any ``seconds``: the clients of one credential share one.

    A platform counts a request when it arrives, which is somewhere between our send and its
    answer; so a request holds its place in the budget from its send until ``seconds`` after its
    answer, and no window of the platform's, fixed or sliding, sees more than ``requests`` of
    ours however late the server reads them. A run shorter than the budget is never slowed.
    ``requests`` None: no count of our own, only what the platform says (below).

    The platform's answers tighten it (``learn``): a stated limit below ours replaces ours (as
    go-tfe's limiter follows ``X-RateLimit-Limit``), a stated remainder is spent before its
    reset and then waited out, and a 429 stops every thread of the credential (``pause``), not
    only the one that met it. No wait here is longer than ``longest_wait``. Thread-safe; waits
    outside the lock.
    """

    def __init__(self, requests, seconds, clock=time.monotonic, sleep=time.sleep,
                 longest_wait=60.0):
        self.requests = int(requests) if requests else None
        self.seconds = float(seconds)
        self.longest_wait = float(longest_wait)
        self._clock = clock
        self._sleep = sleep
        self._places = []           # [answered at, or None while in flight]
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._quota = None          # [requests left, until] as the platform last said
        self._shrunk_at = None
        #: seconds spent waiting for the budget, for the benchmark
        self.waited = 0.0

    def take(self):
        """Wait until one more request fits in the budget; return its place (for ``release``)."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait(now)
                if wait <= 0 or waited >= self.longest_wait:
                    if self._quota is not None and now < self._quota[1]:
                        self._quota[0] -= 1
                    place = [None]
                    self._places.append(place)
                    return place
                wait = min(wait, self.longest_wait - waited)
                self.waited += wait
            self._sleep(wait)
            waited += wait

    def _wait(self, now):
        """Seconds until one more request may go (0: now)."""
        self._places = [p for p in self._places if p[0] is None or now - p[0] < self.seconds]
        waits = [self._paused_until - now]
        if self._quota is not None:
            if now >= self._quota[1]:
                self._quota = None
            elif self._quota[0] <= 0:
                waits.append(self._quota[1] - now)
        if self.requests is not None and len(self._places) >= self.requests:
            answered = [p[0] for p in self._places if p[0] is not None]
            waits.append(self.seconds - (now - min(answered)) if answered else 0.005)
        return max(waits)

    def release(self, place):
        """The request of ``place`` was answered (or failed): its place frees ``seconds`` later."""
        with self._lock:
            place[0] = self._clock()

    def learn(self, hints):
        """Follow what an answer said (a :class:`RateLimitHints`)."""
        with self._lock:
            now = self._clock()
            if hints.limit:
                window = hints.window or self.seconds
                if self.requests is None or hints.limit / window < self.requests / self.seconds:
                    self.requests, self.seconds = hints.limit, window
            if hints.remaining is not None:
                in_flight = sum(1 for p in self._places if p[0] is None)
                reset = hints.reset if hints.reset is not None else self.seconds
                # the answered request is still counted in flight: it spent its own
                self._quota = [hints.remaining - max(0, in_flight - 1),
                               now + min(reset, self.longest_wait)]

    def pause(self, seconds, limit_stated=False):
        """A 429: nobody sends for ``seconds``; without a stated limit, halve ours (once per
        window), since the platform allows less than we assumed."""
        with self._lock:
            now = self._clock()
            self._paused_until = max(self._paused_until, now + min(seconds, self.longest_wait))
            shrunk_lately = self._shrunk_at is not None and now - self._shrunk_at < self.seconds
            if limit_stated or shrunk_lately:
                return
            in_window = len(self._places)
            if not in_window:
                return
            self._shrunk_at = now
            current = self.requests if self.requests is not None else in_window
            self.requests = max(1, min(current, in_window) // 2)
