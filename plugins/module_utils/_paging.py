# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Pagination for the four styles the platforms use, as generators of items.

Each generator asks for the largest page the platform allows and follows the platform's own
paging data (next page, totals, cursors, links) to the end; the length of a page decides
nothing, since a server may serve fewer items than asked.

A listing that changes while it is read (a token created or deleted by another job between two
pages) can shift items from one page to the next: read naively, one item comes twice and
another never, and a missed token is a token the caller creates again. So every item is
yielded once (by id), and a read whose pages disagree (totals that change, an item on two
pages, fewer items than the stated total) is read again from the start, yielding only what
was not yet yielded, up to ``MAX_READS`` times; then :class:`ListingChangedError`, never a
partial listing.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported
    from urlparse import urlsplit  # type: ignore

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    ApiError, UnreadableAnswerError,
)

#: reads of one listing before giving up on it changing under us
MAX_READS = 3
#: pages of one read before giving up (a server that ignores the page asked for)
MAX_PAGES = 10000


class ListingChangedError(ApiError):
    """The listing changed while it was read, ``MAX_READS`` times in a row."""


def _with(params, **extra):
    merged = dict(params or {})
    merged.update(extra)
    return merged


def _identity(item):
    if isinstance(item, dict) and item.get('id') is not None:
        return 'id', str(item['id'])
    return 'item', json.dumps(item, sort_keys=True, default=str)


class _Read:
    """One read of a listing, page by page: what it saw, and whether its pages agreed."""

    def __init__(self):
        self.ids = set()
        self.count = 0
        self.totals = set()
        self.duplicates = False

    def page(self, items, total=None):
        """The items of one page not yet seen in this read; False-y when the page held only
        items seen before (a server repeating itself)."""
        fresh = []
        for item in items:
            key = _identity(item)
            if key in self.ids:
                self.duplicates = True
                continue
            self.ids.add(key)
            fresh.append(item)
        self.count += len(items)
        if total is not None:
            self.totals.add(total)
        return fresh

    @property
    def consistent(self):
        if self.duplicates or len(self.totals) > 1:
            return False
        return not self.totals or len(self.ids) == next(iter(self.totals))


def _listing(client, path, read):
    """Items of ``read(state)`` (a generator of pages' fresh items), each yielded once, read
    again while the pages disagree."""
    yielded = set()
    for dummy in range(MAX_READS):
        state = _Read()
        for item in read(state):
            key = _identity(item)
            if key not in yielded:
                yielded.add(key)
                yield item
        if state.consistent:
            return
    shown = _shown(client, path)
    raise ListingChangedError(client.named(
        'the listing GET %s changed while it was read, %d times in a row (its pages disagreed '
        'on the total, or an item appeared on two pages); nothing was decided from it, so '
        'nothing was created. Run again when the platform is quieter' % (shown, MAX_READS)),
        method='GET', path=shown, platform=client.platform)


def _shown(client, path):
    """The path of a listing as the platform saw it (api_url's path included)."""
    return urlsplit(client.url_for(path)).path


def _items(client, path, body, key):
    """The list of objects ``body[key]`` of one page (``null``: none).

    A page without that list (a gateway's or proxy's own JSON, an API that changed) is an
    error, never an empty page: a token missing from a listing is a token the caller would
    create again.
    """
    items = body.get(key, ()) if isinstance(body, dict) else ()
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        shown = _shown(client, path)
        raise UnreadableAnswerError(client.named(
            'GET %s answered without its list of objects (%s); nothing was decided from it, so '
            'nothing was created' % (shown, key)), method='GET', path=shown,
            platform=client.platform)
    return items


def _object(body, key):
    """``body[key]`` when it is an object, else an empty one."""
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, dict) else {}


def _number(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def iter_jsonapi(client, path, params=None, page_size=100):
    """JSON:API page numbers (TFE): ``page[number]``/``page[size]``; ``meta.pagination``'s
    ``next-page`` leads, ``total-count`` checks."""
    def read(state):
        page = 1
        for dummy in range(MAX_PAGES):
            query = _with(params, **{'page[number]': page, 'page[size]': page_size})
            body = client.get(path, params=query)
            items = _items(client, path, body, 'data')
            pagination = _object(_object(body, 'meta'), 'pagination')
            fresh = state.page(items, _number(pagination.get('total-count')))
            yield from fresh
            next_page = _number(pagination.get('next-page'))
            if not next_page or next_page <= page or (items and not fresh):
                return
            page = next_page
    return _listing(client, path, read)


def iter_result_info(client, path, params=None, per_page=50):
    """Cloudflare's ``page``/``per_page`` with ``result_info``.

    Stops once ``total_count`` items were seen (no extra empty page), else after
    ``total_pages``, else on an empty page, as the vendor's SDK does; never on a short page.
    """
    def read(state):
        page = 1
        for dummy in range(MAX_PAGES):
            body = client.get(path, params=_with(params, page=page, per_page=per_page))
            items = _items(client, path, body, 'result')
            info = _object(body, 'result_info')
            total = _number(info.get('total_count'))
            fresh = state.page(items, total)
            yield from fresh
            total_pages = _number(info.get('total_pages'))
            if not items or not fresh:
                return
            if total is not None and state.count >= total:
                return
            if total is None and total_pages is not None and page >= total_pages:
                return
            page += 1
    return _listing(client, path, read)


def iter_continuation(client, path, params=None, key='tokens', max_results=1000):
    """Pulumi's opaque ``continuationToken``."""
    def read(state):
        token = None
        for dummy in range(MAX_PAGES):
            query = _with(params, maxResults=max_results)
            if token:
                query['continuationToken'] = token
            body = client.get(path, params=query)
            items = _items(client, path, body, key)
            fresh = state.page(items)
            yield from fresh
            next_token = body.get('continuationToken')
            if not isinstance(next_token, str):
                next_token = None
            if not next_token or next_token == token or (items and not fresh):
                return
            token = next_token
    return _listing(client, path, read)


def iter_next_links(client, path, params=None, page_size=100):
    """Django REST framework's ``results`` with absolute ``next`` links and ``count`` (CloudTruth).

    A link is followed by its path and query on api_url's origin (``ApiClient.link_url``): a
    proxy that rewrote its scheme, host or port changes nothing, and the credential stays home.
    """
    def read(state):
        body = client.get(path, params=_with(params, page_size=page_size))
        for dummy in range(MAX_PAGES):
            items = _items(client, path, body, 'results')
            fresh = state.page(items, _number(body.get('count')))
            yield from fresh
            next_url = body.get('next')
            if not isinstance(next_url, str):
                next_url = None
            if not next_url or (items and not fresh):
                return
            body = client.get(client.link_url(next_url))
    return _listing(client, path, read)
