# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Pagination for the four styles the platforms use, as generators of items.

Each generator asks for the largest page the platform allows, asks for every page exactly once
and stops as soon as the platform's own paging data says there is nothing more.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def _with(params, **extra):
    merged = dict(params or {})
    merged.update(extra)
    return merged


def iter_jsonapi(client, path, params=None, page_size=100):
    """JSON:API page numbers (TFE): ``page[number]``/``page[size]``, ``meta.pagination``."""
    page = 1
    while True:
        query = _with(params, **{'page[number]': page, 'page[size]': page_size})
        body = client.get(path, params=query)
        items = body.get('data') or []
        yield from items
        pagination = (body.get('meta') or {}).get('pagination') or {}
        next_page = pagination.get('next-page')
        if not items or not next_page or next_page <= page:
            return
        page = next_page


def iter_result_info(client, path, params=None, per_page=50):
    """Cloudflare's ``page``/``per_page`` with ``result_info``.

    Stops on an empty or short page, or once ``total_count`` items were seen, so no extra
    empty page is requested when the platform says how many there are.
    """
    page, seen = 1, 0
    while True:
        body = client.get(path, params=_with(params, page=page, per_page=per_page))
        items = body.get('result') or []
        yield from items
        seen += len(items)
        info = body.get('result_info') or {}
        total = info.get('total_count')
        if not items or len(items) < per_page or (total is not None and seen >= total):
            return
        page += 1


def iter_continuation(client, path, params=None, key='tokens', max_results=1000):
    """Pulumi's opaque ``continuationToken``."""
    token = None
    while True:
        query = _with(params, maxResults=max_results)
        if token:
            query['continuationToken'] = token
        body = client.get(path, params=query)
        yield from body.get(key) or []
        next_token = body.get('continuationToken')
        if not next_token or next_token == token:
            return
        token = next_token


def iter_next_links(client, path, params=None, page_size=100):
    """Django REST framework's ``results`` with absolute ``next`` links (CloudTruth).

    The client refuses a ``next`` link to another host, so the credential stays at home.
    """
    body = client.get(path, params=_with(params, page_size=page_size))
    while True:
        yield from body.get('results') or []
        next_url = body.get('next')
        if not next_url:
            return
        body = client.get(next_url)
