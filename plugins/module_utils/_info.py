# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""What the read-only ``_info`` modules share: the age/due options and filters."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible_collections.tokenops.tokens.plugins.module_utils._lifetime import due_under_cap
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    age_seconds, forget_unreadable_times, is_due, issued_at, parse_duration,
    parse_optional_timestamp, unknown_age,
)


def info_argument_spec():
    """``max_age``/``renew_before`` (to report due status) and the ``expired``/``expiring_within``
    filters."""
    return dict(
        max_age=dict(type='str'),
        renew_before=dict(type='str'),
        expired=dict(type='bool'),
        expiring_within=dict(type='str'),
    )


class Listing:
    """Checks the options once, then annotates and filters tokens."""

    def __init__(self, params, now, warn=None):
        self.now = now
        #: where a time the module could not read is reported (the module's ``warn``)
        self.warn = warn
        self.max_age = _optional_duration(params, 'max_age')
        self.renew_before = _optional_duration(params, 'renew_before')
        self.expiring_within = _optional_duration(params, 'expiring_within')
        self.expired = params.get('expired')
        #: the scope's ``LifetimeCap`` where the platform has one: a token beyond it is due
        self.cap = None

    def result(self, tokens):
        """The ``_info`` result: ``tokens``, and ``token_policy`` where a cap was read (an
        unreadable one is warned about too)."""
        result = dict(changed=False, tokens=tokens)
        if self.cap is not None:
            result['token_policy'] = self.cap.result()
            if self.cap.unreadable and self.warn is not None:
                self.warn(self.cap.unreadable_warning())
        return result

    def annotate(self, token, issued_fields=('created_at',), expires_at=None):
        """``token`` plus ``age_seconds``, ``expired``, ``due`` and ``due_reason``.

        The age is counted from the first of ``issued_fields`` that is set; ``expires_at``
        defaults to the token's own. A time that cannot be right (out of range, or a past
        moment in the future) makes the age unknown, with a warning.
        """
        unknown = unknown_age(token, issued_fields, self.now)
        token = forget_unreadable_times(token, self.warn, self.now)
        issued = issued_at(token, issued_fields)
        expires = expires_at or parse_optional_timestamp(token.get('expires_at'))
        due, reason = is_due(issued, expires, self.now, self.max_age, self.renew_before,
                             unknown)
        due, reason = due_under_cap(self.cap, parse_optional_timestamp(token.get('created_at')),
                                    expires, due, reason)
        annotated = dict(token)
        annotated.update(age_seconds=age_seconds(issued, self.now),
                         expired=expires is not None and expires <= self.now,
                         due=due, due_reason=reason)
        return annotated

    def keep(self, annotated):
        """Whether an annotated token passes the ``expired`` and ``expiring_within`` filters."""
        if self.expired is not None and annotated['expired'] != self.expired:
            return False
        if self.expiring_within is not None:
            expires = parse_optional_timestamp(annotated.get('expires_at'))
            limit = self.now + datetime.timedelta(seconds=self.expiring_within)
            if expires is None or expires > limit:
                return False
        return True


def _optional_duration(params, option):
    value = params.get(option)
    return None if value is None else parse_duration(value, option)
