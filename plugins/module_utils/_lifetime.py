# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""A platform's cap on token lifetime, and what it means for due-ness and requested expiries.

Pulumi Cloud (an organization's ``maxAccessTokenExpiryDays``) and HCP Terraform / TFE (an
organization's token-TTL policy per token type) refuse a token whose lifetime, from creation to
expiry, is longer than the cap, and a token that never expires: Pulumi answers 403 to every
request against the organization, TFE 401. An adapter reads its scope's cap once per client
(``TokenAdapter.lifetime_cap``); everything else about a cap is decided here, once.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible_collections.tokenops.tokens.plugins.module_utils._client import ApiError
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, describe_seconds, isoformat,
)

#: a lifetime this much over the cap still counts as within it (clocks and rounding differ)
TOLERANCE = 300
#: an expiry the module computes from a cap stays this far inside it, so that a server whose
#: clock is a little behind does not find it over the cap
MARGIN = 300


def days(seconds):
    """``90d``-style text for a lifetime (days where it is a whole number of them)."""
    return describe_seconds(int(seconds))


class LifetimeCap:
    """The cap of one scope: ``max_seconds`` (None: no cap), where it comes from, and, when the
    policy could not be read, why (``unreadable``): then nothing is known, never "no cap"."""

    def __init__(self, source, max_seconds=None, unreadable=None):
        self.source = source
        self.max_seconds = max_seconds
        self.unreadable = unreadable

    @property
    def limit(self):
        return datetime.timedelta(seconds=self.max_seconds) if self.max_seconds else None

    def result(self):
        """The ``token_policy`` result of the modules and the rotation report."""
        return dict(source=self.source, max_lifetime_seconds=self.max_seconds,
                    max_lifetime=days(self.max_seconds) if self.max_seconds else None,
                    readable=self.unreadable is None, unreadable_reason=self.unreadable)

    def unreadable_warning(self):
        if self.unreadable is None:
            return None
        return ('%s could not be read (%s): whether tokens are within it is unknown, and new '
                'tokens are requested without regard to it' % (self.source, self.unreadable))

    def breach(self, created_at, expires_at):
        """Why a token created at ``created_at`` and expiring at ``expires_at`` is beyond the cap,
        or None (within it, no cap, or unknown)."""
        if self.limit is None:
            return None
        if expires_at is None:
            return ('never expires, and %s caps token lifetime at %s: the platform refuses it'
                    % (self.source, days(self.max_seconds)))
        if created_at is None:
            return None
        lifetime = expires_at - created_at
        if lifetime > self.limit + datetime.timedelta(seconds=TOLERANCE):
            return ('its lifetime (%d days, until %s) is beyond the cap of %s set by %s: the '
                    'platform refuses it' % (lifetime.days, isoformat(expires_at),
                                             days(self.max_seconds), self.source))
        return None

    def _latest(self, now):
        return now + self.limit - datetime.timedelta(seconds=MARGIN)

    def requested(self, now, expiry, option):
        """An expiry the user asked for: as asked when within the cap (pulled a few minutes in
        when it is right at the cap); ``InputError`` naming ``option`` when beyond it."""
        if self.limit is None or expiry is None:
            return expiry
        if expiry > now + self.limit + datetime.timedelta(seconds=TOLERANCE):
            raise InputError('%s: %s is beyond the cap of %s set by %s (at most %s); ask for '
                             'less' % (option, isoformat(expiry), days(self.max_seconds),
                                       self.source, isoformat(now + self.limit)))
        return min(expiry, self._latest(now))

    def computed(self, now, expiry, what):
        """An expiry the module chose itself (a copied lifetime, the platform's default, or
        none): cut to the cap. Returns ``(expiry, warning or None)``."""
        if self.limit is None:
            return expiry, None
        latest = self._latest(now)
        if expiry is not None and expiry <= latest:
            return expiry, None
        return latest, ('%s (%s) is beyond the cap of %s set by %s: the new token expires at '
                        '%s instead' % (what, 'never expires' if expiry is None
                                        else 'until %s' % isoformat(expiry),
                                        days(self.max_seconds), self.source, isoformat(latest)))


def read_cap(client, key, source, read):
    """The cap of one scope, read once per client (the rotation role's threads share its memo):
    ``read()`` returns the cap in seconds, or None for none. A policy the credential may not read
    (401, 403, or 404, which TFE answers for both "no such endpoint" and "not allowed") is
    unreadable, and says so; other failures are the run's."""
    memo = client.memo.setdefault('lifetime_caps', {})
    if key not in memo:
        try:
            memo[key] = LifetimeCap(source, read())
        except ApiError as exc:
            if exc.status not in (401, 403, 404):
                raise
            memo[key] = LifetimeCap(source, unreadable=str(exc))
    return memo[key]


def due_under_cap(cap, created_at, expires_at, due, reason):
    """``(due, reason)`` after the cap: a token beyond it is due, whatever else says."""
    breach = cap.breach(created_at, expires_at) if cap is not None else None
    if breach and not due:
        return True, breach
    return due, reason
