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
        moment -= sign * offset
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


def _unreadable_time(field, value):
    """A ``*_at`` field whose text is not a timestamp the module reads."""
    if not field.endswith('_at') or not isinstance(value, str):
        return False
    return parse_optional_timestamp(value) is None


def forget_unreadable_times(token, warn=None):
    """``token`` with every ``*_at`` field that holds a time the module could not read set to
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
            elif _unreadable_time(field, value):
                cleaned[field] = None
                if warn is not None:
                    warn('%s: %s is %r, a timestamp in a shape the module does not read, so it is '
                         'taken as unknown (an age or expiry measured from it is unknown, and '
                         'rotate: due does not count it)' % (where, field, value))
        return cleaned

    return readable(token, 'token %s' % (token.get('id') or token.get('name') or '?'))


def from_epoch(seconds):
    """A datetime from Unix seconds; 0 and None (the platforms' "never") give None."""
    if not seconds:
        return None
    return datetime.datetime.fromtimestamp(int(seconds), tz=UTC)


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

    def decide(self, issued_at, expires_at, now):
        """(due, reason) for a secret issued at ``issued_at`` that expires at ``expires_at``."""
        if self.rotate == 'never':
            return False, 'rotate is never'
        if self.rotate == 'always':
            return True, 'rotate is always'
        return is_due(issued_at, expires_at, now, self.max_age, self.renew_before)


def is_due(issued_at, expires_at, now, max_age=None, renew_before=None):
    """(due, reason) under a max age and a renewal window; either may be None."""
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
    return False, 'not due'


def age_seconds(issued_at, now):
    return None if issued_at is None else int((now - issued_at).total_seconds())
