# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Generations: one identity held by a succession of tokens, so that two can live at once.

Where a platform keeps a token's name (Pulumi organization and team tokens) or description (TFE
described team tokens) unique, a rotation cannot create the successor under the same one. The
n-th generation of an identity ``ci`` is therefore called ``ci--n`` (the first is plain ``ci``),
lookups match the identity and every generation of it, the newest generation is the token and
older ones are leftovers of an interrupted rotation. :class:`GenerationRotation` is the
strategy for a :class:`TokenAdapter`: create the next generation, verify and deliver it (the
rotation role), then retire the previous one. The adapter supplies only its wire details:
``_matches(listing=None)`` (raw tokens of this identity), ``create(previous)`` and
``_delete(token_id)``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.tokenops.tokens.plugins.module_utils._client import AmbiguousWriteError
from ansible_collections.tokenops.tokens.plugins.module_utils._lost_writes import settle
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import InputError

SEPARATOR = '--'
_GENERATION = re.compile(r'^(?P<base>.+)--(?P<n>\d+)$')


def generation_of(value, base):
    """1 for ``base``, n for ``base--n``, None for anything else."""
    if value == base:
        return 1
    match = _GENERATION.match(value or '')
    if match and match.group('base') == base:
        return int(match.group('n'))
    return None


def base_of(value):
    """The identity a generation's name belongs to (``ci`` for ``ci--3`` and ``ci``)."""
    match = _GENERATION.match(value or '')
    return match.group('base') if match else value


def generation_keys(value):
    """Every identity ``value`` may be a generation of: itself and, for ``ci--3``, ``ci``
    (index keys for ``TokenAdapter.listing_index``)."""
    return (value, base_of(value))


def generation_name(base, generation):
    return base if generation == 1 else '%s%s%d' % (base, SEPARATOR, generation)


def check_base(option, value):
    """``InputError`` when a user's name could be mistaken for a generation of another."""
    if _GENERATION.match(value or ''):
        raise InputError('%s: must not end in "--" and digits; rotated generations are named '
                         '%s--2, %s--3, ...' % (option, value, value))


def newest(matches, base, name_of):
    """``(newest, older)`` of the raw tokens of one identity (by generation number)."""
    ranked = sorted(matches, key=lambda raw: generation_of(name_of(raw), base) or 0)
    return ranked[-1], ranked[:-1]


class GenerationRotation:
    """Mixin for a ``TokenAdapter``: a rotation creates the next generation next to the previous
    one (``overlaps``), ``retire`` deletes the previous one and any leftovers."""

    overlaps = True
    #: ids of the tokens of this identity that ``find``/``find_in`` saw
    matched_ids = frozenset()
    #: older generations ``find``/``find_in`` saw next to the newest
    leftovers = ()

    def issue_replacement(self, current):
        try:
            return self.create(previous=current)
        except AmbiguousWriteError as exc:
            # The new token may exist without anyone holding its secret: remove what appeared
            # (once the server is done with the lost create, ``_lost_writes``), then issue
            # again. The previous secret has not been touched.
            self._remove_unanswered(exc)
        try:
            return self.create(previous=current)
        except AmbiguousWriteError as exc:
            # Lost again: remove this one too, so that however many answers are lost in a row,
            # only the previous token (whose secret still works) is left for the next run.
            self._remove_unanswered(exc)
            raise

    def _remove_unanswered(self, exc):
        """Delete the tokens of this identity that appeared since ``find``: this run created
        them (``matched_ids`` are the ones it found), and nobody holds their secrets. Looked for
        once the server is done with the lost create of ``exc`` (``_lost_writes.settle``)."""
        settle(self.client, exc)
        for orphan in self._matches():
            if orphan['id'] not in self.matched_ids:
                self._delete(orphan['id'])

    def retire(self, previous):
        self.delete(previous)

    def remove_successor(self, token):
        """Delete one new generation that failed its comparison (``_power``), nothing else."""
        self._delete(token['id'])

    def delete(self, current):
        for token_id in [current['id']] + [t for t in self.leftovers if t != current['id']]:
            self._delete(token_id)
