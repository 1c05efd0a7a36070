# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""A successor with the power of its predecessor.

Every attribute that decides what a token may do (its *power*: Pulumi's ``admin``, role and
description, Cloudflare's policies, condition, status and dates, a TFE token's team, a CloudTruth
account's role) is copied to the successor by the adapter, read back from the platform after
the successor was issued, and compared here, once for every platform. When they differ, the
previous token is kept: the successor is removed where the collection created it (an
overlapping strategy), and the run fails saying what differed. In place, the previous secret
is already gone: the new one is handed on, with a warning saying what differed.

An adapter declares ``power_of(token)`` (the attributes, normalised so that equal power compares
equal), ``successor_power(current)`` (what the successor is asked to have), ``read_back(token)``
(the successor as the platform shows it now; None where the platform replaced the secret of the
same token in place and nothing can differ) and ``remove_successor(token)``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, TokenOpsError, UnsendableValueError,
)


class PowerMismatch(TokenOpsError):
    """The successor does not carry the power it was asked for; it was removed."""


class UnusableSecretDiscarded(UnsendableValueError):
    """A new token whose secret no HTTP header can carry was deleted; its predecessor, if any,
    was kept (``details['previous_kept']``)."""


#: what an in-place rotation that returned an unusable secret left, where the platform does not
#: say more (CloudTruth's rekey does: ``adapter.previous_fate``)
IN_PLACE_FATE = ('the previous secret stopped working when %s issued the new one: it replaces '
                 'this token\'s secret in place and offers no other way to rotate it')


def discard_unusable(adapter, exc, current=None):
    """The error to raise for ``exc``, an ``UnsendableValueError`` met while a new secret was
    issued for ``current`` (None: a first create).

    A new token the collection created (a replacement, a generation, a first create) is deleted
    at once, so nothing is left that no consumer could use, and the predecessor is kept. Where
    the platform replaced the secret in place, nothing can be undone: the error says what
    became of the previous secret."""
    created = exc.details.get('created')
    if created:
        kept = ('the previous token %s was kept, and its secret still works'
                % current.get('id') if current else 'nothing is left on the platform')
        try:
            adapter.remove_successor(created)
        except TokenOpsError as err:
            # The rotation role's journal keeps the rotation open, so that the next run removes
            # the new token before it issues again.
            return AmbiguousWriteError(
                '%s. Deleting the new token %s failed (%s): delete it (state: absent with its '
                'token_id). %s' % (exc, created.get('id'), err, kept[0].upper() + kept[1:]))
        return UnusableSecretDiscarded('%s. The new token %s was deleted; %s'
                                       % (exc, created.get('id'), kept), previous_kept=True)
    if current is None:
        return exc
    fate = adapter.previous_fate or IN_PLACE_FATE % (adapter.client.platform or 'the platform')
    return UnsendableValueError('%s. %s%s. Rotate again to issue a secret that can be used'
                                % (exc, fate[0].upper(), fate[1:]), fate_told=True)


def issue_first(adapter):
    """``adapter.create()``; a new token with an unusable secret is deleted again."""
    try:
        return adapter.create()
    except UnsendableValueError as exc:
        raise discard_unusable(adapter, exc)


def differences(expected, actual):
    """``["admin: true asked, false read back", ...]`` for every attribute that differs."""
    found = []
    for field in sorted(set(expected) | set(actual)):
        if expected.get(field) != actual.get(field):
            found.append('%s: %s asked, %s read back' % (field, _shown(expected.get(field)),
                                                         _shown(actual.get(field))))
    return found


def _shown(value):
    if value is None:
        return 'none'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return repr(value) if isinstance(value, str) else str(value)


def issue_successor(adapter, current):
    """``(token, secret)`` of a successor of ``current`` that carries its power (the adapter's
    ``issue_replacement``, then the read-back and the comparison)."""
    expected = adapter.successor_power(current)
    try:
        token, secret = adapter.issue_replacement(current)
    except UnsendableValueError as exc:
        raise discard_unusable(adapter, exc, current)
    adapter.client.remember_secret(secret)
    if expected is None:
        return token, secret
    successor = adapter.read_back(token)
    if successor is None:
        return token, secret
    if not successor:
        found = ['the new token %s is not there when read back' % token.get('id')]
    else:
        found = differences(expected, adapter.power_of(successor))
    if not found:
        return dict(token, **successor), secret
    what = '; '.join(found)
    if not adapter.overlaps:
        adapter.notes.append(
            'the new secret of token %s was issued in place (the previous secret no longer '
            'works), but the token read back does not carry the power asked for: %s. Check the '
            'token on the platform' % (token.get('id'), what))
        return dict(token, **successor), secret
    try:
        adapter.remove_successor(token)
    except TokenOpsError as exc:
        # The journal of the rotation role keeps the rotation open, so that the next run
        # removes the new token before it issues again.
        raise AmbiguousWriteError(
            'the new token %s does not carry the power of token %s (%s), and removing it failed '
            '(%s): delete it (state: absent with its token_id). The previous token was kept and '
            'its secret still works' % (token.get('id'), current.get('id'), what, exc))
    raise PowerMismatch(
        'the new token %s does not carry the power of token %s (%s): it was deleted, and the '
        'previous token was kept, so its secret still works'
        % (token.get('id'), current.get('id'), what))
