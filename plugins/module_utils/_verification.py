# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""What a check of a secret learned, and asking again while an answer may still change.

A check of a newly issued secret can learn four different things, and a rotation acts on each
differently (``Verification``): the secret works; the platform refuses it (invalid, revoked,
expired); it cannot be used from the controller by design (an IP condition, a disabled status, a
``not_before`` still ahead); or the answer says nothing (a 5xx, a timeout, a body that cannot be
read).

Platforms take a moment to accept a secret they have just issued (Cloudflare answers 403 code
10000 for a while; others 401), and they answer a working credential wrongly for a moment too
(mrrfv/cloudflare-gateway-pihole-scripts#43, octodns/octodns-cloudflare#108). So a refusal of a
new secret, and an identity lookup that decides whether a change would lock the caller out, are
asked again (:func:`ask_again`) with growing pauses for at most ``max_verify_wait`` seconds before
they count.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    ApiError, TokenOpsError,
)

WORKS = 'works'
REFUSED = 'refused'
UNUSABLE_HERE = 'unusable here'
INCONCLUSIVE = 'inconclusive'

#: seconds a refused new secret or an inconclusive identity answer is asked again for
#: (``max_verify_wait``); new secrets usually work within a second or two (xataio/client-ts#769
#: waits 10 s; FusionAuth documents "usually less than one second")
DEFAULT_VERIFY_WAIT = 10.0
FIRST_PAUSE = 0.25


class Verification:
    """The outcome of a check of a secret: ``outcome`` (one of the four above) and ``why``."""

    def __init__(self, outcome, why=None):
        self.outcome = outcome
        self.why = why

    @property
    def ok(self):
        return self.outcome == WORKS

    @property
    def refused(self):
        """The platform refused the secret: it does not work (after asking again)."""
        return self.outcome == REFUSED

    @property
    def unusable_here(self):
        """The secret cannot be used from the controller by design; it may work elsewhere."""
        return self.outcome == UNUSABLE_HERE

    def __repr__(self):
        return 'Verification(%r, %r)' % (self.outcome, self.why)


class IdentityUnknown(TokenOpsError):
    """Who the credential in ``api_token`` is could not be told (an answer that stayed
    inconclusive): a change that may affect the caller itself must not be made."""


def pauses(window, first=FIRST_PAUSE):
    """The pauses between attempts: ``first``, doubling, together at most ``window`` seconds
    (the last one cut to what is left). ``window`` 0 or None: none."""
    result, left, pause = [], float(window or 0), first
    while left > 1e-9:
        result.append(min(pause, left))
        left -= result[-1]
        pause *= 2
    return result


def ask_again(ask, window, transient, sleep=time.sleep):
    """``ask()``; when it raises an ``ApiError`` that ``transient(exc)`` calls transient, ask again
    after each of :func:`pauses` of ``window``. The last transient error is raised when the
    window is spent; any other error at once."""
    waits = pauses(window)
    while True:
        try:
            return ask()
        except ApiError as exc:
            if not waits or not transient(exc):
                raise
        sleep(waits.pop(0))


def refused_now(exc):
    """401 and 403: a new secret the platform may not know yet."""
    return exc.status in (401, 403)


def status_words(exc):
    """``HTTP 401 (message)`` of an ``ApiError``, without the client's advice about api_token."""
    message = getattr(exc, 'platform_message', None)
    return 'HTTP %s%s' % (exc.status, ' (%s)' % message if message else '')


def waited_words(window):
    return ' after asking again for %ss' % ('%g' % window) if window else ''
