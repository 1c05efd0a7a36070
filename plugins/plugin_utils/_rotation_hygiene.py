# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Hygiene of the scopes a rotation run listed anyway, at no extra request: per scope, the
tokens no item covers, those that never expire, are unused for ``rotate_unused_for``, expire
within ``rotate_expiring_within`` or have expired, and the earlier generations (``name--N`` older
than the newest) left behind. Nothing is deleted; the report says what it found.

It reads the listings the plan read (``Planned.listing``), as they were before this run's
rotations: the tokens of items this run rotated are left out (they were just renewed, and their
earlier generations revoked).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.tokenops.tokens.plugins.module_utils import _estate as estate
from ansible_collections.tokenops.tokens.plugins.module_utils._generations import base_of
from ansible_collections.tokenops.tokens.plugins.module_utils._text import markdown as md_text
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import describe_seconds

#: the report's lists, in its order, with the Markdown section titles
SECTIONS = (
    ('unmanaged', 'Not covered by any item'),
    ('expired', 'Expired'),
    ('expiring', 'Expiring within %(expiring_within)s'),
    ('never_expires', 'Never expire'),
    ('unused', 'Unused for %(unused_for)s'),
    ('earlier_generations', 'Earlier generations left (name--N older than the newest)'),
)
#: entries shown per section in report.md (all of them are in report.json)
SHOWN = 10
ROTATED = ('rotated',)


def listing_scope(item):
    """The scope a listing covers, as text: the platform's listing of one item's connection."""
    platform, params = item.provider.name, item.params
    if platform == 'tfe':
        return params.get('organization') or ''
    if platform == 'cloudflare':
        return 'account/%s' % params['account_id'] if params.get('account_id') else 'user'
    return estate.scope_of(platform, params, {})


class ScopeHygiene:
    """What one listed scope holds, token by token."""

    def __init__(self, item, base_url):
        self.platform = item.provider.name
        self.params = item.params
        self.api_url = base_url
        self.scope = listing_scope(item)
        self.raws = {}
        self.listings = set()
        #: the metadata the plan already read of a listed token (an item's current token)
        self.known = {}
        #: listed token id -> the label of the item whose identity it belongs to
        self.covered = {}
        #: token ids of items this run rotated (and their earlier generations)
        self.renewed = set()
        self.earlier = {}

    def add_listing(self, listing):
        """The raw tokens of one listing of the scope (once per listing; two credentials may
        list one scope, and see different tokens)."""
        if id(listing) in self.listings:
            return
        self.listings.add(id(listing))
        for raw in listing.raws:
            self.raws.setdefault(raw.get('id') or raw.get('uuid'), raw)

    def cover(self, planned, rotated):
        adapter, current = planned.adapter, planned.current
        ids = set(getattr(adapter, 'matched_ids', None) or ())
        if current is not None and current.get('id'):
            ids.add(current['id'])
            self.known[current['id']] = current
        for token_id in ids:
            self.covered.setdefault(token_id, planned.label)
        older = set(getattr(adapter, 'leftovers', None) or ()) & ids
        if rotated:
            self.renewed |= ids
        else:
            for token_id in older:
                self.earlier[token_id] = planned.label

    def assess(self, now, expiring_within, unused_for):
        found = dict((name, []) for name, title in SECTIONS)
        records = []
        for token_id, raw in self.raws.items():
            if token_id in self.renewed:
                continue
            # a time in a shape the collection does not read counts as unknown (assess)
            token = self.known.get(token_id) or estate.metadata_of(self.platform, raw,
                                                                   self.params)
            rec = estate.record(self.platform, self.params, token, self.api_url)
            derived, flags = estate.assess(rec, now, expiring_within, unused_for)
            entry = _entry(rec, derived, self.covered.get(token_id))
            records.append((rec, entry))
            if token_id not in self.covered:
                found['unmanaged'].append(entry)
            for flag in ('expired', 'expiring', 'never_expires', 'unused'):
                if flag in flags:
                    found[flag].append(entry)
        found['earlier_generations'] = self._earlier_generations(records)
        return dict(platform=self.platform, api_url=self.api_url, scope=self.scope,
                    listed=len(self.raws), **found)

    def _earlier_generations(self, records):
        """The covered items' leftovers, and in the identities no item covers, every generation
        older than the newest (only where a ``name--N`` exists: the collection made it)."""
        newest = {}
        for rec, entry in records:
            if rec['id'] not in self.covered and rec['name']:
                key = (rec['scope'], base_of(rec['name']))
                newest[key] = max(newest.get(key, 1), rec['generation'])
        earlier = []
        for rec, entry in records:
            if rec['id'] in self.earlier:
                earlier.append(entry)
            elif rec['id'] not in self.covered and rec['name']:
                top = newest[(rec['scope'], base_of(rec['name']))]
                if top > 1 and rec['generation'] < top:
                    earlier.append(entry)
        return earlier


def _entry(rec, derived, label):
    """One token in the report: enough to find it, never a secret."""
    return dict(id=rec['id'], name=rec['name'] or rec['description'], scope=rec['scope'],
                kind=rec['kind'], label=label, generation=rec['generation'],
                created_at=rec['created_at'], expires_at=rec['expires_at'],
                last_used_at=rec['last_used_at'], age_days=derived['age_days'])


def hygiene(plans, rows, now, expiring_within, unused_for):
    """The hygiene section of the report (data): ``plans`` are ``[(client, [Planned])]``,
    ``rows`` this run's report rows, the durations in seconds."""
    rotated = set(row['label'] for row in rows if row.get('action') in ROTATED)
    scopes = {}
    for client, group in plans:
        for planned in group:
            listing = planned.listing
            if listing is None:
                continue
            item = planned.item
            base_url = item.connection[1]
            key = (item.provider.name, base_url, listing_scope(item))
            if key not in scopes:
                scopes[key] = ScopeHygiene(item, base_url)
            scopes[key].add_listing(listing)
            scopes[key].cover(planned, planned.label in rotated)
    listed = [scopes[key].assess(now, expiring_within, unused_for) for key in sorted(scopes)]
    return dict(expiring_within=describe_seconds(expiring_within),
                unused_for=describe_seconds(unused_for), scopes=listed)


def markdown(section):
    """Short report.md sections: counts, and the first few tokens of each list. Every value a
    platform or a user chose (names, ids, scopes, labels, times) is literal text
    (``_text.markdown``: no control character, no markup)."""
    if not section:
        return []
    scopes = section['scopes']
    words = dict(expiring_within=section['expiring_within'], unused_for=section['unused_for'])
    lines = ['', '## Hygiene', '',
             'Of the %d scope(s) this run listed (%d tokens, before its rotations); nothing was '
             'deleted.' % (len(scopes), sum(s['listed'] for s in scopes))]
    for name, title in SECTIONS:
        entries = [(scope, entry) for scope in scopes for entry in scope[name]]
        if not entries:
            continue
        lines += ['', '### %s: %d' % (title % words, len(entries)), '']
        for scope, entry in entries[:SHOWN]:
            lines.append('- %s %s: %s, id %s%s' % (
                md_text(scope['platform']), md_text(entry['scope']),
                md_text(entry['name'] or entry['kind']), md_text(entry['id']),
                _facts(scope['platform'], entry)))
        if len(entries) > SHOWN:
            lines.append('- ... and %d more (report.json, hygiene)' % (len(entries) - SHOWN))
    return lines


def _facts(platform, entry):
    facts = []
    if entry['label']:
        facts.append('item %s' % md_text(entry['label']))
    if entry['generation'] > 1:
        facts.append('generation %d' % entry['generation'])
    if entry['expires_at']:
        facts.append('expires %s' % md_text(entry['expires_at']))
    if platform not in estate.TIMELESS:
        facts.append('last used %s' % md_text(entry['last_used_at'] or 'never'))
    return ' (%s)' % ', '.join(facts) if facts else ''
