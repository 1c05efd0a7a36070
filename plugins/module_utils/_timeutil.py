# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Durations, timestamps and the rotation decision, as pure functions."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re

UTC = datetime.timezone.utc

_UNIT_SECONDS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800, 'y': 365 * 86400}
_DURATION_PART = re.compile(r'(\d+)\s*([smhdwy])')
_DURATION = re.compile(r'^\s*(?:\d+\s*[smhdwy]\s*)+$')
_TIMESTAMP = re.compile(
    r'^(\d{4})-(\d{2})-(\d{2})'
    r'(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?'
    r'\s*(Z|z|[+-]\d{2}:?\d{2})?$'
)
#: a timestamp the way ISO 8601 writes one, with any number of year digits (year 99999 too)
_DATE_LIKE = re.compile(_TIMESTAMP.pattern.replace(r'^(\d{4})', r'^[+-]?(\d{4,})'))
_NUMBER = re.compile(r'^[+-]?\d+(\.\d+)?$')
#: seconds of clock skew between the controller and a platform that comparisons tolerate
CLOCK_SKEW = 300
#: token fields that record a moment already past (one dated ahead of now cannot be right)
PAST_FIELDS = ('created_at', 'modified_at', 'last_used_at', 'key_created_at')


class InputError(ValueError):
    """A user-supplied value is wrong. The message names the option."""


def parse_duration(value, option):
    """Seconds in ``value``: ``90d``, ``12h``, ``30m``, ``2w``, ``1y``, ``1d12h`` or plain seconds.

    ``option`` is the option's name, used in the error message.
    """
    if isinstance(value, bool):
        raise InputError('%s: expected a duration such as 90d, 12h, 30m, 2w or seconds, got %r'
                         % (option, value))
    if isinstance(value, (int, float)):
        seconds = value
    else:
        text = str(value).strip().lower()
        if re.match(r'^-?\d+(\.\d+)?$', text):
            seconds = float(text)
        elif _DURATION.match(text):
            seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
        else:
            raise InputError('%s: %r is not a duration; use a number followed by s, m, h, d, w or y '
                             '(for example 90d, 12h, 30m, 2w) or plain seconds' % (option, value))
    if seconds < 0:
        raise InputError('%s: a duration cannot be negative, got %r' % (option, value))
    return int(seconds)


def parse_timestamp(value, option):
    """An aware UTC datetime from ISO 8601 text (``Z``, an offset, or none meaning UTC)."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    match = _TIMESTAMP.match(str(value).strip())
    if not match:
        raise InputError('%s: %r is not an ISO 8601 timestamp such as 2027-01-31T00:00:00Z'
                         % (option, value))
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or '0')[:6].ljust(6, '0'))
    try:
        moment = datetime.datetime(int(year), int(month), int(day), int(hour or 0),
                                   int(minute or 0), int(second or 0), micro, tzinfo=UTC)
    except ValueError as exc:
        raise InputError('%s: %r is not a valid date: %s' % (option, value, exc))
    if zone and zone.upper() != 'Z':
        sign = 1 if zone[0] == '+' else -1
        digits = zone[1:].replace(':', '')
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        try:
            moment -= sign * offset
        except OverflowError:
            raise InputError('%s: %r is not a valid date: out of range' % (option, value))
    return moment


def parse_optional_timestamp(value):
    """Like :func:`parse_timestamp` for values the platform sent; None and '' stay None, and so
    does a value in a shape the module does not read (such as Go's ``2026-01-02 15:04:05.123
    +0000 UTC``): its time is unknown, never a failed run (see
    :func:`forget_unreadable_times`, which warns)."""
    if value in (None, ''):
        return None
    try:
        return parse_timestamp(value, 'response')
    except InputError:
        return None


def platform_time(value):
    """The ISO 8601 text of a timestamp the platform sent; None for none; the platform's own text
    when its shape is not one the module reads (:func:`forget_unreadable_times` then turns it into
    None with a warning naming the field)."""
    moment = parse_optional_timestamp(value)
    if moment is not None:
        return isoformat(moment)
    return None if value in (None, '') else str(value)


def time_problem(value, now=None, past=False):
    """Why a time a platform sent cannot be used, or None: ``'unreadable'`` (a shape the module
    does not read, such as Go's ``2026-01-02 15:04:05.123 +0000 UTC``), ``'out of range'`` (a
    date or a number that is no moment a datetime holds, such as year 99999), or, with ``past``
    (a field that records a moment already past) and ``now``, ``'in the future'`` (more than
    ``CLOCK_SKEW`` ahead)."""
    if value in (None, ''):
        return None
    moment = parse_optional_timestamp(value)
    if moment is None:
        text = str(value).strip()
        return 'out of range' if _DATE_LIKE.match(text) or _NUMBER.match(text) else 'unreadable'
    if past and now is not None and moment > now + datetime.timedelta(seconds=CLOCK_SKEW):
        return 'in the future'
    return None


_PROBLEM_WORDS = {
    'unreadable': 'a timestamp in a shape the module does not read, so it is taken as unknown '
                  '(an age or expiry measured from it is unknown, and rotate: due does not '
                  'count it)',
    'out of range': 'no moment a date can hold, so it is taken as unknown (an age or expiry '
                    'measured from it is unknown; with max_age the token counts as due, so that '
                    'a rotation starts a known age)',
    'in the future': 'in the future, which a moment already past cannot be, so it is taken as '
                     'unknown (the age measured from it is unknown; with max_age the token '
                     'counts as due, so that a rotation starts a known age)',
}


def forget_unreadable_times(token, warn=None, now=None):
    """``token`` with every ``*_at`` field that holds a time the module cannot use (see
    :func:`time_problem`; a past moment dated in the future only when ``now`` is given) set to
    None (unknown), each reported through ``warn`` naming the token and the field. Lists of
    dicts (CloudTruth's ``api_keys``) are looked into once."""
    if not token:
        return token

    def readable(entry, where):
        cleaned = dict(entry)
        for field, value in entry.items():
            if isinstance(value, list):
                cleaned[field] = [readable(item, '%s %s' % (where, field))
                                  if isinstance(item, dict) else item for item in value]
                continue
            if not field.endswith('_at') or not isinstance(value, str):
                continue
            problem = time_problem(value, now, field in PAST_FIELDS)
            if problem:
                cleaned[field] = None
                if warn is not None:
                    warn('%s: %s is %r, %s' % (where, field, value, _PROBLEM_WORDS[problem]))
        return cleaned

    return readable(token, 'token %s' % (token.get('id') or token.get('name') or '?'))


def unknown_age(token, fields, now):
    """Why the age of ``token`` (as the platform sent it) is unknown because the platform's time
    of issue cannot be right (out of range, or in the future), or None. ``fields``: where the
    time of issue is read, first one set first. A time in a shape the module does not read is not
    counted here (issue 13: the module does not rotate for that)."""
    for field in fields:
        value = (token or {}).get(field)
        if value in (None, ''):
            continue
        problem = time_problem(value, now, past=True)
        if problem in ('out of range', 'in the future'):
            return '%s %r is %s' % (field, value, problem)
        return None
    return None


def issued_at(token, fields):
    """When the secret of ``token`` (metadata) was issued: the first of ``fields`` that is set,
    parsed (None when it is in a shape the module does not read)."""
    for field in fields:
        if (token or {}).get(field):
            return parse_optional_timestamp(token[field])
    return None


def from_epoch(seconds):
    """A datetime from Unix seconds; 0 and None (the platforms' "never") give None, and so does
    a value that is no moment a datetime holds (see :func:`epoch_time`)."""
    if not seconds or isinstance(seconds, bool):
        return None
    try:
        return datetime.datetime.fromtimestamp(int(seconds), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def epoch_time(seconds):
    """The ISO 8601 text of Unix seconds a platform sent; None for none (0); the platform's own
    value as text when it is no moment a datetime holds, so that
    :func:`forget_unreadable_times` reports it."""
    moment = from_epoch(seconds)
    if moment is not None:
        return isoformat(moment)
    return None if not seconds else str(seconds)


def isoformat(moment):
    """``2027-01-31T00:00:00Z`` for a datetime, None for None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def utcnow():
    return datetime.datetime.now(UTC)


def requested_expiry(params, now, max_ahead=None):
    """The expiry the user asked for with ``expires_in`` / ``expires_at``, or None.

    Fails when it is not in the future or is further than ``max_ahead`` seconds ahead.
    """
    if params.get('expires_at') is not None:
        option, moment = 'expires_at', parse_timestamp(params['expires_at'], 'expires_at')
    elif params.get('expires_in') is not None:
        seconds = parse_duration(params['expires_in'], 'expires_in')
        if seconds == 0:
            raise InputError('expires_in: must be longer than zero')
        option, moment = 'expires_in', now + datetime.timedelta(seconds=seconds)
    else:
        return None
    if moment <= now:
        raise InputError('%s: %s is in the past; a token must expire in the future'
                         % (option, isoformat(moment)))
    if max_ahead is not None and moment > now + datetime.timedelta(seconds=max_ahead):
        raise InputError('%s: %s is too far ahead; the platform allows at most %s'
                         % (option, isoformat(moment), describe_seconds(max_ahead)))
    return moment


def describe_seconds(seconds):
    """``2y``-style human text for a number of seconds (used in messages and reports)."""
    for unit, size in (('y', 365 * 86400), ('w', 604800), ('d', 86400), ('h', 3600), ('m', 60)):
        if seconds >= size and seconds % size == 0:
            return '%d%s' % (seconds // size, unit)
    return '%ds' % seconds


class RotationPolicy:
    """What ``rotate``, ``max_age`` and ``renew_before`` ask for, checked once up front."""

    def __init__(self, rotate='never', max_age=None, renew_before=None):
        if rotate not in ('never', 'always', 'due'):
            raise InputError('rotate: must be one of never, always, due; got %r' % (rotate,))
        self.rotate = rotate
        self.max_age = None if max_age is None else parse_duration(max_age, 'max_age')
        self.renew_before = (None if renew_before is None
                             else parse_duration(renew_before, 'renew_before'))
        if rotate == 'due' and self.max_age is None and self.renew_before is None:
            raise InputError('rotate: "due" needs max_age or renew_before (or both) to decide '
                             'when a token is due')

    @classmethod
    def from_params(cls, params):
        return cls(params.get('rotate') or 'never', params.get('max_age'),
                   params.get('renew_before'))

    def decide(self, issued_at, expires_at, now, age_unknown=None):
        """(due, reason) for a secret issued at ``issued_at`` that expires at ``expires_at``;
        ``age_unknown``: why the platform's time of issue cannot be right (:func:`unknown_age`)."""
        if self.rotate == 'never':
            return False, 'rotate is never'
        if self.rotate == 'always':
            return True, 'rotate is always'
        return is_due(issued_at, expires_at, now, self.max_age, self.renew_before, age_unknown)


def is_due(issued_at, expires_at, now, max_age=None, renew_before=None, age_unknown=None):
    """(due, reason) under a max age and a renewal window; either may be None. An issue time in
    the future (beyond ``CLOCK_SKEW``), or ``age_unknown`` (why the platform's time of issue
    cannot be right), makes the age unknown: with ``max_age`` that is due, as only a rotation
    starts a known age, never "not due" for ever."""
    if issued_at is not None and issued_at > now + datetime.timedelta(seconds=CLOCK_SKEW):
        age_unknown = age_unknown or 'issued at %s, in the future' % isoformat(issued_at)
        issued_at = None
    if expires_at is not None and expires_at <= now:
        return True, 'expired at %s' % isoformat(expires_at)
    window = None if renew_before is None else datetime.timedelta(seconds=renew_before)
    if window is not None and expires_at is not None and expires_at - now <= window:
        return True, 'expires at %s, within renew_before (%s)' % (
            isoformat(expires_at), describe_seconds(renew_before))
    if max_age is not None and issued_at is not None:
        age = now - issued_at
        if age >= datetime.timedelta(seconds=max_age):
            return True, 'issued %d days ago, at least max_age (%s)' % (
                age.days, describe_seconds(max_age))
    if max_age is not None and age_unknown:
        return True, 'age unknown: %s; rotating now starts a known age' % age_unknown
    if age_unknown:
        return False, 'not due by expiry; age unknown: %s' % age_unknown
    return False, 'not due'


def age_seconds(issued_at, now):
    """Seconds since ``issued_at``; None when unknown or in the future beyond ``CLOCK_SKEW``
    (such an age cannot be right)."""
    if issued_at is None or issued_at > now + datetime.timedelta(seconds=CLOCK_SKEW):
        return None
    return max(0, int((now - issued_at).total_seconds()))


def same_expiry(existing, wanted, tolerance=CLOCK_SKEW):
    """True when ``existing`` (a datetime or None) is ``wanted`` within ``tolerance`` seconds."""
    if existing is None or wanted is None:
        return existing is wanted
    return abs((existing - wanted).total_seconds()) <= tolerance


def expiry_as_asked(params, created_at, expires_at, now):
    """True when a token that was issued at ``created_at`` and expires at ``expires_at`` already
    expires where ``expires_in``/``expires_at`` ask, within ``CLOCK_SKEW``: ``expires_at`` is a
    moment; ``expires_in`` a lifetime, measured from the token's creation (or, when that is
    unknown, from now). None of the two asked: True."""
    if params.get('expires_at') is not None:
        return same_expiry(expires_at, parse_timestamp(params['expires_at'], 'expires_at'))
    if params.get('expires_in') is None:
        return True
    if expires_at is None:
        return False
    lifetime = datetime.timedelta(seconds=parse_duration(params['expires_in'], 'expires_in'))
    start = created_at if created_at is not None else now
    return same_expiry(expires_at, start + lifetime)
